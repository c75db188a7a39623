//! The `configuration` export: settings, consent definitions, enabling consents.
//!
//! Enabling with the administrator's confirmation de-duplicates contacts and leads in the
//! same call (the confirmation means "flag duplicates"), before consents are enabled.

use privacy_guard_core::classification::FieldClass;
use privacy_guard_core::configuration::{
    DefinitionInput, LanguageRulesInput, Prerequisite, Problem, RegimeRulesInput, RequestPolicy,
    Settings, SettingsInput, TranslationInput,
};
use privacy_guard_core::consent::ConsentDefault;
use privacy_guard_core::definition::{
    Clause, Condition, ConsentKind, PurposeChange, StoredDefinition,
};
use privacy_guard_core::event::{CONFIGURATION_STREAM, consent_deleted_json, purpose_changed_json};
use privacy_guard_core::vocabulary::{ConfirmationPolicy, IpPolicy};

use privacy_guard_core::record::Module;
use privacy_guard_core::restriction::SALT_LEN;

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::configuration as wit;
use crate::bindings::privacy_guard::consent::{clock, crm, keys, store};
use crate::deduplication::deduplicate;
use crate::logging::{fault, info, warn};
use crate::state::State;

impl wit::Guest for Plugin {
    fn set_settings(settings: wit::Settings) -> Result<(), Vec<wit::Problem>> {
        let mut state = State::new();
        let mut configuration = state.configuration();
        let hashes_ips = configuration
            .set_settings(settings_input(settings))
            .map_err(problems)?
            .ip_evidence()
            == IpPolicy::Hash;
        // Hashed IP addresses are salted with the configuration's secret salt, made once.
        if hashes_ips && configuration.suppression_salt().is_none() {
            configuration.set_suppression_salt(keys::random_bytes(SALT_LEN));
        }
        state.save_configuration(&configuration);
        info("settings replaced", &[]);
        Ok(())
    }

    fn put_consent(
        definition: wit::ConsentDefinition,
    ) -> Result<wit::StoredDefinition, Vec<wit::Problem>> {
        store_consent(definition, None)
    }

    fn revise_consent(
        definition: wit::ConsentDefinition,
        change: wit::PurposeChange,
    ) -> Result<wit::StoredDefinition, Vec<wit::Problem>> {
        let change = match change {
            wit::PurposeChange::Correction => PurposeChange::Correction,
            wit::PurposeChange::Material => PurposeChange::Material,
        };
        store_consent(definition, Some(change))
    }

    fn delete_consent(id: String) -> Result<wit::StoredDefinition, wit::Problem> {
        let mut state = State::new();
        let mut configuration = state.configuration();
        let deleted = configuration
            .delete_consent(&id)
            .map_err(|problem| wit::Problem {
                at: problem.at,
                message: problem.message,
            })?;
        state.save_configuration(&configuration);
        let event = consent_deleted_json(&deleted, clock::now())
            .unwrap_or_else(|error| fault("writing an event", &error));
        store::append_event(CONFIGURATION_STREAM, &event);
        let module = deleted.definition.module.as_str();
        if let ConsentKind::Data { field } = &deleted.definition.kind
            && crm::remove_layout_field(module, field).is_err()
        {
            warn(
                "the CRM refused to remove a deleted consent's field from its layout",
                &[("module", &module), ("field", field)],
            );
        }
        info(
            "consent deleted",
            &[("consent", &deleted.id()), ("module", &module)],
        );
        Ok(wit_stored_definition(&deleted))
    }

    fn enable(deduplication_confirmed: bool) -> Result<(), Vec<wit::Prerequisite>> {
        let mut state = State::new();
        let mut configuration = state.configuration();
        let was_enabled = configuration.is_enabled();
        let now = clock::now();
        // Decided on a copy first: de-duplication runs only when enabling will succeed, and
        // before consents are enabled.
        let mut enabled = configuration.clone();
        if let Err(unmet) = enabled.enable(deduplication_confirmed, now) {
            return Err(unmet.into_iter().map(wit_prerequisite).collect());
        }
        if deduplication_confirmed {
            deduplicate(&mut state, &configuration, now);
        }
        configuration = enabled;
        if !was_enabled {
            state.save_configuration(&configuration);
            info("consents enabled", &[]);
        }
        Ok(())
    }

    fn get() -> wit::Snapshot {
        let state = State::new();
        let configuration = state.configuration();
        wit::Snapshot {
            settings: configuration.settings().map(wit_settings),
            consents: configuration
                .consents()
                .iter()
                .map(wit_stored_definition)
                .collect(),
            enabled: configuration.is_enabled(),
            enabled_at: configuration.enabled_at(),
            person_modules: configuration
                .person_modules()
                .iter()
                .map(|module| module.as_str().to_owned())
                .collect(),
        }
    }

    fn classify_field(module: String, class: wit::FieldClass) -> Result<(), Vec<wit::Problem>> {
        let mut state = State::new();
        let mut configuration = state.configuration();
        let stored = configuration
            .classify_field(&module, field_class(class))
            .map_err(problems)?;
        let encrypted = stored.encrypted;
        let field = stored.field.clone();
        state.save_configuration(&configuration);
        // Field names are configuration, never personal data.
        info(
            "field classified",
            &[
                ("module", &module),
                ("field", &field),
                ("encrypted", &encrypted),
            ],
        );
        Ok(())
    }

    fn field_classes(module: String) -> Vec<wit::FieldClass> {
        let Ok(module) = Module::parse(&module) else {
            return Vec::new();
        };
        State::new()
            .configuration()
            .field_classes(&module)
            .map(wit_field_class)
            .collect()
    }

    fn suggested_data_consents(module: String) -> Vec<String> {
        match Module::parse(&module) {
            Ok(module) => State::new()
                .configuration()
                .suggested_data_consents(&module),
            Err(_) => Vec::new(),
        }
    }
}

fn field_class(class: wit::FieldClass) -> FieldClass {
    FieldClass {
        field: class.field,
        personal: class.personal,
        essential: class.essential,
        sensitive: class.sensitive,
        encrypted: class.encrypted,
    }
}

fn wit_field_class(class: &FieldClass) -> wit::FieldClass {
    wit::FieldClass {
        field: class.field.clone(),
        personal: class.personal,
        essential: class.essential,
        sensitive: class.sensitive,
        encrypted: class.encrypted,
    }
}

fn problems(problems: Vec<Problem>) -> Vec<wit::Problem> {
    problems
        .into_iter()
        .map(|problem| wit::Problem {
            at: problem.at,
            message: problem.message,
        })
        .collect()
}

fn settings_input(settings: wit::Settings) -> SettingsInput {
    SettingsInput {
        sender_address: settings.sender_address,
        sender_name: settings.sender_name,
        organisation: settings.organisation,
        postal_address: settings.postal_address,
        preferences_url: settings.preferences_url,
        link_valid_days: settings.link_valid_days,
        flag_new_duplicates: settings.flag_new_duplicates,
        retained_fields: settings.retained_fields,
        confirm_changes: match settings.confirm_changes {
            wit::ConfirmationPolicy::Never => ConfirmationPolicy::Never,
            wit::ConfirmationPolicy::OwnChanges => ConfirmationPolicy::OwnChanges,
            wit::ConfirmationPolicy::EveryChange => ConfirmationPolicy::EveryChange,
        },
        ip_evidence: match settings.ip_evidence {
            wit::IpPolicy::Keep => IpPolicy::Keep,
            wit::IpPolicy::Truncate => IpPolicy::Truncate,
            wit::IpPolicy::Hash => IpPolicy::Hash,
            wit::IpPolicy::Drop => IpPolicy::Drop,
        },
        person_modules: settings.person_modules,
        regimes: RegimeRulesInput {
            field: settings.regimes.field,
            values: settings
                .regimes
                .values
                .into_iter()
                .map(|(value, regime)| (value, crate::convert::regime(regime)))
                .collect(),
            default: crate::convert::regime(settings.regimes.default_regime),
            purchase_field: settings.regimes.purchase_field,
            enquiry_field: settings.regimes.enquiry_field,
            soft_opt_in: settings.regimes.soft_opt_in,
        },
        requests: RequestPolicy {
            remind_after_days: settings.requests.remind_after_days,
            reminders: settings.requests.reminders,
            lapse_after_days: settings.requests.lapse_after_days,
            ask_again_after_days: settings.requests.ask_again_after_days,
        },
        languages: LanguageRulesInput {
            field: settings.languages.field,
            default: settings.languages.default_language,
            templates: settings
                .languages
                .templates
                .into_iter()
                .map(|template| (template.language, template.ftl))
                .collect(),
        },
    }
}

fn wit_settings(settings: &Settings) -> wit::Settings {
    let input = settings.to_input();
    wit::Settings {
        sender_address: input.sender_address,
        sender_name: input.sender_name,
        organisation: input.organisation,
        postal_address: input.postal_address,
        preferences_url: input.preferences_url,
        link_valid_days: input.link_valid_days,
        flag_new_duplicates: input.flag_new_duplicates,
        retained_fields: input.retained_fields,
        confirm_changes: match input.confirm_changes {
            ConfirmationPolicy::Never => wit::ConfirmationPolicy::Never,
            ConfirmationPolicy::OwnChanges => wit::ConfirmationPolicy::OwnChanges,
            ConfirmationPolicy::EveryChange => wit::ConfirmationPolicy::EveryChange,
        },
        ip_evidence: match input.ip_evidence {
            IpPolicy::Keep => wit::IpPolicy::Keep,
            IpPolicy::Truncate => wit::IpPolicy::Truncate,
            IpPolicy::Hash => wit::IpPolicy::Hash,
            IpPolicy::Drop => wit::IpPolicy::Drop,
        },
        person_modules: input.person_modules,
        regimes: wit::RegimeRules {
            field: input.regimes.field,
            values: input
                .regimes
                .values
                .into_iter()
                .map(|(value, regime)| (value, crate::convert::wit_regime(regime)))
                .collect(),
            default_regime: crate::convert::wit_regime(input.regimes.default),
            purchase_field: input.regimes.purchase_field,
            enquiry_field: input.regimes.enquiry_field,
            soft_opt_in: input.regimes.soft_opt_in,
        },
        requests: wit::RequestPolicy {
            remind_after_days: input.requests.remind_after_days,
            reminders: input.requests.reminders,
            lapse_after_days: input.requests.lapse_after_days,
            ask_again_after_days: input.requests.ask_again_after_days,
        },
        languages: wit::LanguageRules {
            field: input.languages.field,
            default_language: input.languages.default,
            templates: input
                .languages
                .templates
                .into_iter()
                .map(|(language, ftl)| wit::Template { language, ftl })
                .collect(),
        },
    }
}

fn definition_input(definition: wit::ConsentDefinition) -> DefinitionInput {
    DefinitionInput {
        id: definition.id,
        module: definition.module,
        kind: match definition.kind {
            wit::ConsentKind::Data(field) => ConsentKind::Data { field },
            wit::ConsentKind::Custom => ConsentKind::Custom,
            wit::ConsentKind::EmailTracking => ConsentKind::EmailTracking,
            wit::ConsentKind::DocumentTracking => ConsentKind::DocumentTracking,
        },
        title: definition.title,
        purpose: definition.purpose,
        default: match definition.default_value {
            wit::ConsentDefault::Yes => ConsentDefault::Yes,
            wit::ConsentDefault::No => ConsentDefault::No,
        },
        applies_when: definition
            .applies_when
            .into_iter()
            .map(|clause| Clause {
                field: clause.field,
                // `present` and `absent` take no values; any given are ignored.
                condition: match clause.op {
                    wit::ConditionOp::OneOf => Condition::OneOf(clause.values),
                    wit::ConditionOp::NoneOf => Condition::NoneOf(clause.values),
                    wit::ConditionOp::Present => Condition::Present,
                    wit::ConditionOp::Absent => Condition::Absent,
                },
            })
            .collect(),
        translations: definition
            .translations
            .into_iter()
            .map(|translation| TranslationInput {
                language: translation.language,
                title: translation.title,
                purpose: translation.purpose,
            })
            .collect(),
        max_age_months: definition.max_age_months,
    }
}

/// Stores `definition`; a changed purpose text needs `change` (`revise-consent`), which
/// only an existing consent can take, and is recorded in the configuration stream.
fn store_consent(
    definition: wit::ConsentDefinition,
    change: Option<PurposeChange>,
) -> Result<wit::StoredDefinition, Vec<wit::Problem>> {
    let mut state = State::new();
    let mut configuration = state.configuration();
    let before = configuration.consent(definition.id.trim()).cloned();
    if change.is_some() && before.is_none() {
        return Err(vec![wit::Problem {
            at: format!("consent[{}]", definition.id.trim()),
            message: "no consent with this id is defined: define it with put-consent".into(),
        }]);
    }
    let stored = configuration
        .put_consent(definition_input(definition), change)
        .map_err(problems)?;
    state.save_configuration(&configuration);
    if let (Some(before), Some(change)) = (&before, change)
        && before.purpose != stored.purpose
    {
        let event = purpose_changed_json(before, &stored, change, clock::now())
            .unwrap_or_else(|error| fault("writing an event", &error));
        store::append_event(CONFIGURATION_STREAM, &event);
    }
    info(
        "consent stored",
        &[
            ("consent", &stored.id()),
            ("module", &stored.definition.module),
            ("purpose-version", &stored.purpose.version),
            ("counts-from-version", &stored.counts_from),
        ],
    );
    Ok(wit_stored_definition(&stored))
}

fn wit_stored_definition(stored: &StoredDefinition) -> wit::StoredDefinition {
    let definition = &stored.definition;
    wit::StoredDefinition {
        definition: wit::ConsentDefinition {
            id: definition.id.to_string(),
            module: definition.module.as_str().to_owned(),
            kind: match &definition.kind {
                ConsentKind::Data { field } => wit::ConsentKind::Data(field.clone()),
                ConsentKind::Custom => wit::ConsentKind::Custom,
                ConsentKind::EmailTracking => wit::ConsentKind::EmailTracking,
                ConsentKind::DocumentTracking => wit::ConsentKind::DocumentTracking,
            },
            title: definition.title.clone(),
            purpose: definition.purpose.clone(),
            default_value: match definition.default {
                ConsentDefault::Yes => wit::ConsentDefault::Yes,
                ConsentDefault::No => wit::ConsentDefault::No,
            },
            applies_when: definition
                .applies_when
                .iter()
                .map(|clause| {
                    let (op, values) = match &clause.condition {
                        Condition::OneOf(values) => (wit::ConditionOp::OneOf, values.clone()),
                        Condition::NoneOf(values) => (wit::ConditionOp::NoneOf, values.clone()),
                        Condition::Present => (wit::ConditionOp::Present, Vec::new()),
                        Condition::Absent => (wit::ConditionOp::Absent, Vec::new()),
                    };
                    wit::ConditionClause {
                        field: clause.field.clone(),
                        op,
                        values,
                    }
                })
                .collect(),
            translations: definition
                .translations
                .iter()
                .map(|translation| wit::Translation {
                    language: translation.language.as_str().to_owned(),
                    title: translation.title.clone(),
                    purpose: translation.purpose.clone(),
                })
                .collect(),
            max_age_months: definition.max_age_months,
        },
        purpose_version: stored.purpose.version,
        purpose_hash: stored.purpose.hash.clone(),
        counts_from_version: stored.counts_from,
    }
}

fn wit_prerequisite(prerequisite: Prerequisite) -> wit::Prerequisite {
    match prerequisite {
        Prerequisite::DeduplicationNotConfirmed => wit::Prerequisite::DeduplicationNotConfirmed,
        Prerequisite::SenderNotConfigured => wit::Prerequisite::SenderNotConfigured,
        Prerequisite::NoConsentDefined => wit::Prerequisite::NoConsentDefined,
    }
}
