//! `settings`, `consent`, `field`, `enable`, `dedupe`: configuring Privacy Guard.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use privacy_guard_host::contract::configuration::{
    ConditionClause, ConditionOp, ConsentDefinition, ConsentKind, FieldClass, Prerequisite,
    PurposeChange,
};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::{Guard, SettingsRefusal};
use privacy_guard_host::settings::{
    LanguagesPatch, RegimesPatch, RequestsPatch, SettingsPatch, SettingsView,
};
use privacy_guard_host::wire::{self, Wire};

use super::arguments::{ConsentArgs, SettingsArgs, SettingsCommand};
use super::output::list_problems;

pub(super) fn configure_settings(
    guard: &Guard,
    settings: SettingsArgs,
) -> anyhow::Result<ExitCode> {
    if let Some(SettingsCommand::Show { json }) = settings.show {
        return show_settings(guard, json);
    }
    let patch = SettingsPatch {
        sender_address: settings.sender_address,
        sender_name: settings.sender_name,
        organisation: settings.organisation,
        postal_address: settings.postal_address,
        preferences_url: settings.preferences_url,
        link_valid_days: settings.link_valid_days,
        flag_new_duplicates: settings.flag_new_duplicates,
        retained_fields: match (settings.retain_nothing, settings.retained_fields) {
            (true, _) => Some(Vec::new()),
            (false, fields) if fields.is_empty() => None,
            (false, fields) => Some(fields),
        },
        confirm_changes: settings.confirm_changes,
        ip_evidence: settings.ip_evidence,
        person_modules: (!settings.person_modules.is_empty()).then_some(settings.person_modules),
        regimes: RegimesPatch {
            field: settings.regime_field,
            values: match (settings.no_regime_values, settings.regime_values) {
                (true, _) => Some(Vec::new()),
                (false, values) if values.is_empty() => None,
                (false, values) => Some(values),
            },
            default_regime: settings.default_regime,
            purchase_field: settings.purchase_field,
            enquiry_field: settings.enquiry_field,
            soft_opt_in: match (settings.no_soft_opt_in, settings.soft_opt_in) {
                (true, _) => Some(Vec::new()),
                (false, ids) if ids.is_empty() => None,
                (false, ids) => Some(ids),
            },
        },
        requests: RequestsPatch {
            remind_after_days: settings.remind_after_days,
            reminders: settings.reminders,
            lapse_after_days: settings.lapse_after_days,
            ask_again_after_days: settings.ask_again_after_days,
        },
        languages: LanguagesPatch {
            field: settings.language_field,
            default_language: settings.default_language,
            templates: match (settings.no_templates, settings.templates) {
                (true, _) => Some(BTreeMap::new()),
                (false, templates) if templates.is_empty() => None,
                (false, templates) => Some(read_templates(templates)?),
            },
        },
    };
    if patch.is_empty() {
        bail!(
            "no option given: name the settings to change (see `privacy-guard settings --help`), or `settings show` to print them"
        );
    }
    match guard.change_settings(patch)? {
        Ok(_) => {
            println!("settings saved (see `privacy-guard settings show`)");
            Ok(ExitCode::SUCCESS)
        }
        Err(SettingsRefusal::Missing(missing)) => bail!("the settings were not saved: {missing}"),
        Err(SettingsRefusal::Invalid(problems)) => {
            bail!("the settings were not saved:\n{}", list_problems(&problems))
        }
    }
}

/// The templates of `LANG=FILE` options, each file read whole.
fn read_templates(files: Vec<(String, PathBuf)>) -> anyhow::Result<BTreeMap<String, String>> {
    files
        .into_iter()
        .map(|(language, file)| {
            let text = std::fs::read_to_string(&file).map_err(|error| {
                anyhow!(
                    "cannot read the {language} template {}: {error}",
                    file.display()
                )
            })?;
            Ok((language, text))
        })
        .collect()
}

/// Prints the current settings, as text or JSON.
pub(super) fn show_settings(guard: &Guard, json: bool) -> anyhow::Result<ExitCode> {
    let configuration = guard.configuration()?;
    let Some(settings) = configuration.settings else {
        if json {
            println!(
                "{}",
                serde_json::json!({ "settings": null, "person_modules": configuration.person_modules })
            );
        } else {
            println!(
                "no settings are configured yet: set them with `privacy-guard settings --sender-address ...`"
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    // What the settings say, with the person modules in effect (the default when none
    // are set).
    let view = SettingsView {
        person_modules: configuration.person_modules,
        ..SettingsView::from(settings)
    };
    if json {
        println!("{}", serde_json::to_value(&view)?);
        return Ok(ExitCode::SUCCESS);
    }
    // The command line's own spelling: option names and values in kebab-case.
    let list = |items: &[String]| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(", ")
        }
    };
    let or_none = |text: &str| {
        if text.is_empty() {
            "(none)".to_owned()
        } else {
            text.to_owned()
        }
    };
    let regimes = &view.regimes;
    let values: Vec<String> = regimes
        .values
        .iter()
        .map(|(value, regime)| format!("{value}={}", regime.0.text()))
        .collect();
    let lines = [
        ("sender-address", view.sender_address.clone()),
        ("sender-name", view.sender_name.clone()),
        ("organisation", view.organisation.clone()),
        (
            "postal-address",
            view.postal_address.replace('\n', "\n    "),
        ),
        ("preferences-url", view.preferences_url.clone()),
        ("link-valid-days", view.link_valid_days.to_string()),
        ("flag-new-duplicates", view.flag_new_duplicates.to_string()),
        ("retained-fields", list(&view.retained_fields)),
        ("confirm-changes", view.confirm_changes.0.text().to_owned()),
        ("ip-evidence", view.ip_evidence.0.text().to_owned()),
        ("person-modules", list(&view.person_modules)),
        ("regime-field", or_none(&regimes.field)),
        ("regimes", list(&values)),
        ("default-regime", regimes.default_regime.0.text().to_owned()),
        ("purchase-field", or_none(&regimes.purchase_field)),
        ("enquiry-field", or_none(&regimes.enquiry_field)),
        ("soft-opt-in", list(&regimes.soft_opt_in)),
        (
            "remind-after-days",
            view.requests.remind_after_days.to_string(),
        ),
        ("reminders", view.requests.reminders.to_string()),
        (
            "lapse-after-days",
            view.requests.lapse_after_days.to_string(),
        ),
        (
            "ask-again-after-days",
            view.requests.ask_again_after_days.to_string(),
        ),
        ("language-field", or_none(&view.languages.field)),
        (
            "default-language",
            match view.languages.default_language.as_str() {
                "" => "en".to_owned(),
                language => language.to_owned(),
            },
        ),
        (
            "templates",
            list(&view.languages.templates.keys().cloned().collect::<Vec<_>>()),
        ),
    ];
    for (name, text) in lines {
        println!("{name}: {text}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn add_consent(guard: &Guard, consent: ConsentArgs) -> anyhow::Result<ExitCode> {
    let kind = match consent.kind.split_once(':') {
        Some(("data", field)) => wire::kind_of("data", Some(field.to_owned())),
        _ => wire::kind_of(&consent.kind, None),
    };
    let kind = kind.map_err(|error| {
        anyhow!(
            "--kind `{}`: {error}; use data:FIELD, custom, email-tracking or document-tracking",
            consent.kind
        )
    })?;
    let applies_when = consent
        .when
        .iter()
        .map(|clause| parse_clause(clause))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let definition = ConsentDefinition {
        id: consent.id,
        module: consent.module,
        kind,
        title: consent.title,
        purpose: consent.purpose,
        default_value: consent.default,
        applies_when,
        translations: consent.translations,
        max_age_months: consent.max_age_months,
    };
    match guard.put_consent(&definition, consent.purpose_change)? {
        Ok(stored) => {
            println!(
                "consent `{}` saved (purpose text version {}, sha256 {})",
                stored.definition.id, stored.purpose_version, stored.purpose_hash
            );
            if stored.counts_from_version == stored.purpose_version
                && consent.purpose_change == Some(PurposeChange::Material)
            {
                println!(
                    "grants of earlier texts no longer count: the next run-daily asks the people who gave them again"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => bail!("the consent was not saved:\n{}", list_problems(&problems)),
    }
}

pub(super) fn delete_consent(guard: &Guard, id: &str) -> anyhow::Result<ExitCode> {
    match guard.delete_consent(id)? {
        Ok(deleted) => {
            print!(
                "consent `{}` deleted; its history stays",
                deleted.definition.id
            );
            match &deleted.definition.kind {
                ConsentKind::Data(field) => println!(
                    "; field `{field}` removed from the {} layout",
                    deleted.definition.module
                ),
                _ => println!(),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => bail!("not deleted: {}: {}", problem.at, problem.message),
    }
}

pub(super) fn parse_clause(clause: &str) -> anyhow::Result<ConditionClause> {
    let mut parts = clause.splitn(3, ' ');
    let (Some(field), Some(op)) = (parts.next(), parts.next()) else {
        bail!(
            "--when `{clause}` must be `FIELD one-of A,B`, `FIELD none-of A,B`, `FIELD present` or `FIELD absent`"
        );
    };
    let values: Vec<String> = parts
        .next()
        .map(|values| {
            values
                .split(',')
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let Some(op) = ConditionOp::parse(op) else {
        bail!(
            "--when `{clause}`: `{op}` is not an operator; use {}",
            ConditionOp::texts().join(", ")
        );
    };
    Ok(ConditionClause {
        field: field.to_owned(),
        op,
        values,
    })
}

pub(super) fn classify_field(
    guard: &Guard,
    module: &str,
    class: FieldClass,
) -> anyhow::Result<ExitCode> {
    match guard.classify_field(module, &class)? {
        Ok(()) => {
            println!("{module}.{}: {}", class.field, describe_class(&class));
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => bail!(
            "the field was not classified:\n{}",
            list_problems(&problems)
        ),
    }
}

pub(super) fn list_fields(guard: &Guard, module: &str) -> anyhow::Result<ExitCode> {
    let classes = guard.field_classes(module)?;
    if classes.is_empty() {
        println!("no field of {module} is classified");
    }
    for class in &classes {
        println!("{module}.{}: {}", class.field, describe_class(class));
    }
    let suggested = guard.suggested_data_consents(module)?;
    if suggested.is_empty() {
        println!("suggested data consents: none");
    } else {
        println!("suggested data consents: {}", suggested.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `personal, sensitive, encrypted` or `not personal`.
pub(super) fn describe_class(class: &FieldClass) -> String {
    if !class.personal {
        return "not personal".to_owned();
    }
    let mut words = vec!["personal"];
    words.push(if class.essential {
        "essential"
    } else {
        "non-essential"
    });
    if class.sensitive {
        words.push("sensitive");
    }
    if class.encrypted {
        words.push("encrypted");
    }
    words.join(", ")
}

pub(super) fn list_consents(guard: &Guard) -> anyhow::Result<ExitCode> {
    let snapshot = guard.configuration()?;
    println!(
        "consents are {}",
        if snapshot.enabled {
            "enabled"
        } else {
            "not enabled"
        }
    );
    for stored in &snapshot.consents {
        let definition = &stored.definition;
        let kind = match &definition.kind {
            ConsentKind::Data(field) => format!("data:{field}"),
            other => wire::kind_name(other).to_owned(),
        };
        println!(
            "{}\t{}\t{}\tv{}\t{}",
            definition.id, definition.module, kind, stored.purpose_version, definition.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn enable(guard: &Guard, confirmed: bool) -> anyhow::Result<ExitCode> {
    match guard.enable(confirmed)? {
        Ok(()) => {
            if confirmed {
                println!(
                    "contacts and leads sharing an address were de-duplicated (see `privacy-guard dedupe`)"
                );
            }
            println!(
                "consents are enabled; the daily consent run sends the first requests at its next scheduled time"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(missing) => {
            let lines: Vec<&str> = missing
                .iter()
                .map(|prerequisite| match prerequisite {
                    Prerequisite::DeduplicationNotConfirmed => {
                        "confirm de-duplication with --confirm-deduplication"
                    }
                    Prerequisite::SenderNotConfigured => {
                        "set the sender with `privacy-guard settings`"
                    }
                    Prerequisite::NoConsentDefined => {
                        "define a consent with `privacy-guard consent add`"
                    }
                })
                .collect();
            bail!(
                "consents were not enabled; first:\n  - {}\nthen run `privacy-guard enable --confirm-deduplication` again",
                lines.join("\n  - ")
            )
        }
    }
}

pub(super) fn dedupe(guard: &Guard, apply: bool) -> anyhow::Result<ExitCode> {
    if apply {
        let report = guard.deduplicate()?;
        println!(
            "{} group(s) of records sharing an address: {} duplicate(s) newly flagged, {} already flagged, {} address(es) given to their primary",
            report.groups, report.newly_flagged, report.already_flagged, report.owners_changed
        );
        return Ok(ExitCode::SUCCESS);
    }
    let plan = guard.deduplication_preview()?;
    let record = |record: &RecordRef| format!("{}/{}", record.module, record.id);
    for group in &plan.groups {
        println!("{}", group.address);
        println!("  keep   {} (modified last)", record(&group.primary));
        for duplicate in &group.duplicates {
            println!("  flag   {}", record(duplicate));
        }
    }
    println!(
        "{} record(s) looked at: {} group(s), {} duplicate(s) to flag; nothing was changed (run `privacy-guard dedupe --apply` to flag them)",
        plan.records,
        plan.groups.len(),
        plan.duplicates
    );
    Ok(ExitCode::SUCCESS)
}
