//! The administrator's configuration: settings, consent definitions, and enabling consents.
//!
//! Raw input (`SettingsInput`, `DefinitionInput`) is validated into `Settings` and
//! `ConsentDefinition`, returning every problem at once, each naming the field it is about
//! (`sender-address`, `consent[newsletter].purpose`, ...).

pub mod languages;
pub mod regimes;
pub mod requests;
mod settings;
mod upgrade;

use serde::{Deserialize, Serialize};

use crate::classification::{FieldClass, MAX_ENCRYPTED_FIELDS};
use crate::consent::ConsentDefault;
use crate::definition::{
    Clause, Condition, ConsentDefinition, ConsentId, ConsentKind, PurposeChange, StoredDefinition,
};
use crate::record::Module;

pub use self::languages::{LanguageFact, LanguageRules, LanguageRulesInput};
pub use self::regimes::{RegimeRules, RegimeRulesInput};
pub use self::requests::RequestPolicy;
pub use self::settings::{LINK_VALID_DAYS, Settings, SettingsInput};
pub(crate) use self::upgrade::{
    ConfigurationV4, ConfigurationV5, ConfigurationV6, ConfigurationV7,
};

/// Most data consents per module (Vtiger's limit).
pub const MAX_DATA_CONSENTS: usize = 10;
/// Most custom consents per module (Vtiger's limit).
pub const MAX_CUSTOM_CONSENTS: usize = 10;

/// What is wrong with a configuration change: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The offending field, e.g. `sender-address` or `consent[newsletter].purpose`.
    pub at: String,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(at: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            at: at.into(),
            message: message.into(),
        }
    }
}

/// A consent definition as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionInput {
    pub id: String,
    pub module: String,
    pub kind: ConsentKind,
    pub title: String,
    pub purpose: String,
    pub default: ConsentDefault,
    pub applies_when: Vec<Clause>,
    /// Title and purpose per language (a tag).
    pub translations: Vec<TranslationInput>,
    /// Months a grant counts (0: until withdrawn).
    pub max_age_months: u32,
}

/// The shortest and longest maximum age of a grant, in months, when one is set: long
/// enough for the renewal request before it, short enough to mean something.
pub const MAX_AGE_MONTHS: std::ops::RangeInclusive<u32> = 2..=120;

/// A consent's title and purpose in one language, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslationInput {
    pub language: String,
    pub title: String,
    pub purpose: String,
}

/// A prerequisite for enabling consents that is not met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prerequisite {
    DeduplicationNotConfirmed,
    SenderNotConfigured,
    NoConsentDefined,
}

/// Whether consents are enabled. The administrator's confirmation of de-duplication is
/// kept only by a successful enabling: a refused attempt keeps nothing, so the
/// confirmation must be given again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Enablement {
    #[default]
    Disabled,
    Enabled {
        since: i64,
        deduplication_confirmed_at: i64,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Configuration {
    settings: Option<Settings>,
    /// In the order they were first defined; a replaced definition keeps its place.
    consents: Vec<StoredDefinition>,
    enablement: Enablement,
    /// The salt of suppression markers (see [`crate::restriction::suppression_key`]),
    /// generated once, at the first erasure.
    suppression_salt: Option<Vec<u8>>,
    /// The fields' personal-data classes, per module, in the order first classified.
    field_classes: Vec<(Module, FieldClass)>,
    /// Deleted consents, last version of each: a consent defined again under the same id
    /// continues its purpose versions, so one version never names two texts.
    deleted: Vec<StoredDefinition>,
}

impl Configuration {
    pub fn settings(&self) -> Option<&Settings> {
        self.settings.as_ref()
    }

    pub fn consents(&self) -> &[StoredDefinition] {
        &self.consents
    }

    pub fn enablement(&self) -> Enablement {
        self.enablement
    }

    pub fn is_enabled(&self) -> bool {
        matches!(self.enablement, Enablement::Enabled { .. })
    }

    /// When consents were enabled.
    pub fn enabled_at(&self) -> Option<i64> {
        match self.enablement {
            Enablement::Disabled => None,
            Enablement::Enabled { since, .. } => Some(since),
        }
    }

    /// The definition with id `id`.
    pub fn consent(&self, id: &str) -> Option<&StoredDefinition> {
        self.consents
            .iter()
            .find(|stored| stored.id().as_str() == id)
    }

    /// The definitions of `module`, in configuration order.
    pub fn consents_of(
        &self,
        module: &Module,
    ) -> impl Iterator<Item = &StoredDefinition> + use<'_> {
        let module = module.clone();
        self.consents
            .iter()
            .filter(move |stored| stored.definition.module == module)
    }

    /// The deleted definitions of `module` (the last version of each).
    pub fn deleted_consents_of(
        &self,
        module: &Module,
    ) -> impl Iterator<Item = &StoredDefinition> + use<'_> {
        let module = module.clone();
        self.deleted
            .iter()
            .filter(move |stored| stored.definition.module == module)
    }

    /// The CRM modules that hold people (setting `person-modules`; contacts and leads
    /// until settings say otherwise), in the order configured.
    pub fn person_modules(&self) -> Vec<Module> {
        match &self.settings {
            Some(settings) => settings.person_modules().to_vec(),
            None => Module::defaults(),
        }
    }

    /// Whether `module` holds people.
    pub fn is_person_module(&self, module: &Module) -> bool {
        match &self.settings {
            Some(settings) => settings.person_modules().contains(module),
            None => Module::defaults().contains(module),
        }
    }

    /// A problem naming `module` and the person modules, when it is not one of them.
    pub fn person_module_problem(&self, at: &str, module: &str) -> Option<Problem> {
        let known = Module::parse(module)
            .ok()
            .filter(|module| self.is_person_module(module));
        known.is_none().then(|| {
            let modules: Vec<String> = self
                .person_modules()
                .iter()
                .map(|module| module.as_str().to_owned())
                .collect();
            Problem::new(
                at,
                format!(
                    "`{module}` is not a module that holds people; they are: {} (setting person-modules)",
                    modules.join(", ")
                ),
            )
        })
    }

    /// The modules with at least one consent, in the order jobs visit them.
    pub fn modules_with_consents(&self) -> Vec<Module> {
        let mut modules: Vec<Module> = self
            .consents
            .iter()
            .map(|stored| stored.definition.module.clone())
            .collect();
        modules.sort();
        modules.dedup();
        modules
    }

    /// The salt of suppression markers, once one was generated.
    pub fn suppression_salt(&self) -> Option<&[u8]> {
        self.suppression_salt.as_deref()
    }

    /// Keeps `salt` as the salt of suppression markers, unless one is kept already (a salt
    /// never changes: markers made with it must keep matching). Whether it was kept.
    pub fn set_suppression_salt(&mut self, salt: Vec<u8>) -> bool {
        if self.suppression_salt.is_some() || salt.is_empty() {
            return false;
        }
        self.suppression_salt = Some(salt);
        true
    }

    /// The classes of `module`'s fields, in the order first classified.
    pub fn field_classes(&self, module: &Module) -> impl Iterator<Item = &FieldClass> + use<'_> {
        let module = module.clone();
        self.field_classes
            .iter()
            .filter(move |(of, _)| *of == module)
            .map(|(_, class)| class)
    }

    /// The sensitive, non-essential personal fields of `module` that no data consent
    /// covers yet: what the administrator should ask consent for.
    pub fn suggested_data_consents(&self, module: &Module) -> Vec<String> {
        self.field_classes(module)
            .filter(|class| class.wants_data_consent())
            .filter(|class| {
                !self.consents_of(module).any(|stored| {
                    matches!(&stored.definition.kind, ConsentKind::Data { field }
                        if field.trim().eq_ignore_ascii_case(&class.field))
                })
            })
            .map(|class| class.field.clone())
            .collect()
    }

    /// Classifies a field of `module` (given as entered), replacing its earlier class, or
    /// lists every problem.
    pub fn classify_field(
        &mut self,
        module: &str,
        class: FieldClass,
    ) -> Result<&FieldClass, Vec<Problem>> {
        let field = class.field.trim().to_owned();
        let at = |part: &str| format!("field[{field}].{part}");
        let mut problems = Vec::new();
        let module = match self.person_module_problem(&at("module"), module) {
            Some(problem) => {
                problems.push(problem);
                None
            }
            None => Module::parse(module).ok(),
        };
        if field.is_empty()
            || field
                .chars()
                .any(|character| character.is_whitespace() || character.is_control())
        {
            problems.push(Problem::new(
                at("field"),
                "field names are single words without blanks",
            ));
        }
        if !class.personal {
            for (flag, set) in [
                ("essential", class.essential),
                ("sensitive", class.sensitive),
                ("encrypted", class.encrypted),
            ] {
                if set {
                    problems.push(Problem::new(
                        at(flag),
                        format!("only a personal field can be {flag}: mark it personal too"),
                    ));
                }
            }
        }
        if class.encrypted && field.eq_ignore_ascii_case("email") {
            problems.push(Problem::new(
                at("encrypted"),
                "the email address cannot be encrypted: the host finds people by it",
            ));
        }
        // The limit is named only for a change that is otherwise valid.
        if let Some(module) = &module
            && class.encrypted
            && problems.is_empty()
        {
            let encrypted_others = self
                .field_classes(module)
                .filter(|other| other.encrypted && !other.field.eq_ignore_ascii_case(&field))
                .count();
            if encrypted_others >= MAX_ENCRYPTED_FIELDS {
                problems.push(Problem::new(
                    at("encrypted"),
                    format!(
                        "{module} already has {MAX_ENCRYPTED_FIELDS} encrypted fields, the limit per module"
                    ),
                ));
            }
        }
        let Some(module) = module.filter(|_| problems.is_empty()) else {
            return Err(problems);
        };
        let class = FieldClass { field, ..class };
        let existing = self.field_classes.iter().position(|(of, known)| {
            *of == module && known.field.eq_ignore_ascii_case(&class.field)
        });
        let index = match existing {
            Some(index) => {
                self.field_classes[index].1 = class;
                index
            }
            None => {
                self.field_classes.push((module, class));
                self.field_classes.len() - 1
            }
        };
        Ok(&self.field_classes[index].1)
    }

    /// Replaces the settings. A module that carries consents cannot stop holding people:
    /// delete its consents first.
    pub fn set_settings(&mut self, input: SettingsInput) -> Result<&Settings, Vec<Problem>> {
        let settings = Settings::validate(input)?;
        let orphaned: Vec<String> = self
            .modules_with_consents()
            .into_iter()
            .filter(|module| !settings.person_modules().contains(module))
            .map(|module| module.as_str().to_owned())
            .collect();
        let mut problems = Vec::new();
        if !orphaned.is_empty() {
            problems.push(Problem::new(
                "person-modules",
                format!(
                    "consents are defined for {}: keep the module, or delete its consents first",
                    orphaned.join(", ")
                ),
            ));
        }
        for id in &settings.regimes().soft_opt_in {
            if self.consent(id).is_none() {
                problems.push(Problem::new(
                    "regimes.soft-opt-in",
                    format!("no consent `{id}` is defined"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(self.settings.insert(settings))
    }

    /// Adds a consent, or replaces the one with the same id; a changed purpose text gets
    /// the next version.
    pub fn put_consent(
        &mut self,
        input: DefinitionInput,
        change: Option<PurposeChange>,
    ) -> Result<StoredDefinition, Vec<Problem>> {
        let definition = self.validate_definition(input)?;
        let existing = self
            .consents
            .iter()
            .position(|stored| stored.definition.id == definition.id);
        let stored = match existing {
            Some(index) => {
                let current = &self.consents[index];
                let text_changed = current.purpose.next(&definition) != current.purpose;
                let change = match (text_changed, change) {
                    (false, _) => PurposeChange::Correction,
                    (true, Some(change)) => change,
                    (true, None) => {
                        return Err(vec![Problem::new(
                            format!("consent[{}].purpose", definition.id),
                            "the purpose text changed: say whether it is a correction (grants still count) or a material change (people are asked again)",
                        )]);
                    }
                };
                let stored = current.changed(definition, change);
                self.consents[index] = stored.clone();
                stored
            }
            None => {
                let deleted = self
                    .deleted
                    .iter()
                    .position(|stored| stored.definition.id == definition.id)
                    .map(|index| self.deleted.remove(index));
                let stored = StoredDefinition::new(definition, deleted.as_ref());
                self.consents.push(stored.clone());
                stored
            }
        };
        Ok(stored)
    }

    /// Deletes the consent `id`: its values stop being collected (no request, no check, no
    /// page lists it); the events that recorded them stay. Returns the deleted definition.
    pub fn delete_consent(&mut self, id: &str) -> Result<StoredDefinition, Problem> {
        let index = self
            .consents
            .iter()
            .position(|stored| stored.id().as_str() == id.trim())
            .ok_or_else(|| {
                Problem::new(
                    format!("consent[{}]", id.trim()),
                    "no consent with this id is defined",
                )
            })?;
        let stored = self.consents.remove(index);
        self.deleted.push(stored.clone());
        Ok(stored)
    }

    /// Enables consents at `now`, or lists every unmet prerequisite. Enabling again keeps
    /// the first enabling time.
    pub fn enable(
        &mut self,
        deduplication_confirmed: bool,
        now: i64,
    ) -> Result<Enablement, Vec<Prerequisite>> {
        let mut unmet = Vec::new();
        if !deduplication_confirmed && !self.is_enabled() {
            unmet.push(Prerequisite::DeduplicationNotConfirmed);
        }
        if self.settings.is_none() {
            unmet.push(Prerequisite::SenderNotConfigured);
        }
        if self.consents.is_empty() {
            unmet.push(Prerequisite::NoConsentDefined);
        }
        if !unmet.is_empty() {
            return Err(unmet);
        }
        if !self.is_enabled() {
            self.enablement = Enablement::Enabled {
                since: now,
                deduplication_confirmed_at: now,
            };
        }
        Ok(self.enablement)
    }

    fn validate_definition(
        &self,
        input: DefinitionInput,
    ) -> Result<ConsentDefinition, Vec<Problem>> {
        let at = |field: &str| format!("consent[{}].{field}", input.id);
        let mut problems = Vec::new();
        let id = ConsentId::parse(&input.id)
            .map_err(|error| problems.push(Problem::new(at("id"), error.to_string())))
            .ok();
        let module = match self.person_module_problem(&at("module"), &input.module) {
            Some(problem) => {
                problems.push(problem);
                None
            }
            None => Module::parse(&input.module).ok(),
        };
        let title = input.title.trim();
        if title.is_empty() {
            problems.push(Problem::new(at("title"), "is required"));
        } else if title.chars().any(char::is_control) {
            problems.push(Problem::new(at("title"), "must be a single line"));
        }
        if input.purpose.trim().is_empty() {
            problems.push(Problem::new(
                at("purpose"),
                "is required: it is what the person agrees to",
            ));
        }
        if let ConsentKind::Data { field } = &input.kind
            && field.trim().is_empty()
        {
            problems.push(Problem::new(
                at("kind"),
                "a data consent must name the field it covers",
            ));
        }
        for (index, clause) in input.applies_when.iter().enumerate() {
            let clause_at = |part: &str| at(&format!("applies-when[{index}].{part}"));
            if clause.field.trim().is_empty() {
                problems.push(Problem::new(clause_at("field"), "must name a field"));
            }
            if let Condition::OneOf(values) | Condition::NoneOf(values) = &clause.condition
                && values.iter().all(|value| value.trim().is_empty())
            {
                problems.push(Problem::new(
                    clause_at("values"),
                    "one-of and none-of need at least one value",
                ));
            }
        }
        if let (Some(id), Some(module)) = (&id, &module) {
            problems.extend(self.module_problems(id, module, &input.kind, &at));
        }
        let translations = languages::translations(input.translations, &at, &mut problems);
        if input.max_age_months != 0 && !MAX_AGE_MONTHS.contains(&input.max_age_months) {
            problems.push(Problem::new(
                at("max-age-months"),
                format!(
                    "0 (grants count until withdrawn) or {} to {} months",
                    MAX_AGE_MONTHS.start(),
                    MAX_AGE_MONTHS.end()
                ),
            ));
        }
        match (id, module) {
            (Some(id), Some(module)) if problems.is_empty() => Ok(ConsentDefinition {
                id,
                module,
                kind: input.kind,
                title: title.to_owned(),
                purpose: input.purpose,
                default: input.default,
                applies_when: input.applies_when,
                translations,
                max_age_months: input.max_age_months,
            }),
            _ => Err(problems),
        }
    }

    /// Problems of adding a consent `id` of `kind` to `module`: moving modules, the
    /// per-module limits, and a field covered twice.
    fn module_problems(
        &self,
        id: &ConsentId,
        module: &Module,
        kind: &ConsentKind,
        at: &dyn Fn(&str) -> String,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(existing) = self.consent(id.as_str())
            && existing.definition.module != *module
        {
            problems.push(Problem::new(
                at("module"),
                format!(
                    "the consent belongs to {}; define a new consent for {module}",
                    existing.definition.module
                ),
            ));
        }
        let others: Vec<&ConsentDefinition> = self
            .consents_of(module)
            .map(|stored| &stored.definition)
            .filter(|other| other.id != *id)
            .collect();
        let count = |wanted: fn(&ConsentKind) -> bool| {
            others.iter().filter(|other| wanted(&other.kind)).count()
        };
        match kind {
            ConsentKind::Data { field } => {
                if count(|kind| matches!(kind, ConsentKind::Data { .. })) >= MAX_DATA_CONSENTS {
                    problems.push(Problem::new(
                        at("kind"),
                        format!(
                            "{module} already has {MAX_DATA_CONSENTS} data consents, the limit per module"
                        ),
                    ));
                }
                let covered = others.iter().find(|other| {
                    matches!(&other.kind, ConsentKind::Data { field: other_field }
                        if other_field.trim().eq_ignore_ascii_case(field.trim()))
                });
                if let Some(other) = covered {
                    problems.push(Problem::new(
                        at("kind"),
                        format!(
                            "the field {} is already covered by consent {}",
                            field.trim(),
                            other.id
                        ),
                    ));
                }
            }
            ConsentKind::Custom => {
                if count(|kind| matches!(kind, ConsentKind::Custom)) >= MAX_CUSTOM_CONSENTS {
                    problems.push(Problem::new(
                        at("kind"),
                        format!(
                            "{module} already has {MAX_CUSTOM_CONSENTS} custom consents, the limit per module"
                        ),
                    ));
                }
            }
            ConsentKind::EmailTracking | ConsentKind::DocumentTracking => {
                let same = |other: &&&ConsentDefinition| {
                    std::mem::discriminant(&other.kind) == std::mem::discriminant(kind)
                };
                if let Some(other) = others.iter().find(same) {
                    let name = match kind {
                        ConsentKind::EmailTracking => "email-tracking",
                        _ => "document-tracking",
                    };
                    problems.push(Problem::new(
                        at("kind"),
                        format!(
                            "{module} already has the {name} consent {}; the limit is one per module",
                            other.id
                        ),
                    ));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::DAY_MS;
    use crate::vocabulary::{ConfirmationPolicy, IpPolicy};

    pub(crate) fn settings_input() -> SettingsInput {
        SettingsInput {
            sender_address: "privacy@example.org".to_owned(),
            sender_name: "Privacy Team".to_owned(),
            organisation: "Example Ltd".to_owned(),
            postal_address: "1 Example Street\nExampleton".to_owned(),
            preferences_url: "https://crm.example.org/preferences/".to_owned(),
            link_valid_days: 30,
            flag_new_duplicates: false,
            retained_fields: vec!["name".to_owned(), "street".to_owned()],
            confirm_changes: ConfirmationPolicy::OwnChanges,
            ip_evidence: IpPolicy::Truncate,
            person_modules: Vec::new(),
            regimes: RegimeRulesInput::default(),
            requests: RequestPolicy::default(),
            languages: LanguageRulesInput::default(),
        }
    }

    pub(crate) fn definition_input(id: &str, module: &str, kind: ConsentKind) -> DefinitionInput {
        DefinitionInput {
            id: id.to_owned(),
            module: module.to_owned(),
            kind,
            title: format!("Title of {id}"),
            purpose: format!("Purpose of {id}."),
            default: ConsentDefault::No,
            applies_when: Vec::new(),
            translations: Vec::new(),
            max_age_months: 0,
        }
    }

    fn problem_fields(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|problem| problem.at.as_str()).collect()
    }

    #[test]
    fn settings_report_every_problem_at_once() {
        type Edit = fn(&mut SettingsInput);
        let cases: &[(&str, Edit, &[&str])] = &[
            ("valid settings", |_| {}, &[]),
            (
                "bad sender address",
                |s| s.sender_address = "privacy".into(),
                &["sender-address"],
            ),
            (
                "empty names",
                |s| {
                    s.sender_name = " ".into();
                    s.organisation = String::new();
                },
                &["sender-name", "organisation"],
            ),
            (
                "header injection in the name",
                |s| s.sender_name = "Team\r\nBcc: x".into(),
                &["sender-name"],
            ),
            (
                "no postal address",
                |s| s.postal_address = "\n".into(),
                &["postal-address"],
            ),
            (
                "ftp url",
                |s| s.preferences_url = "ftp://example.org/p".into(),
                &["preferences-url"],
            ),
            (
                "url without host",
                |s| s.preferences_url = "https:///p".into(),
                &["preferences-url"],
            ),
            (
                "url with a blank",
                |s| s.preferences_url = "https://example.org/a b".into(),
                &["preferences-url"],
            ),
            (
                "upper-case scheme",
                |s| s.preferences_url = "HTTP://example.org".into(),
                &[],
            ),
            ("zero days", |s| s.link_valid_days = 0, &["link-valid-days"]),
            (
                "ninety-one days",
                |s| s.link_valid_days = 91,
                &["link-valid-days"],
            ),
            ("ninety days", |s| s.link_valid_days = 90, &[]),
            (
                "everything wrong",
                |s| {
                    s.sender_address = String::new();
                    s.sender_name = String::new();
                    s.organisation = String::new();
                    s.postal_address = String::new();
                    s.preferences_url = String::new();
                    s.link_valid_days = 0;
                },
                &[
                    "sender-address",
                    "sender-name",
                    "organisation",
                    "postal-address",
                    "preferences-url",
                    "link-valid-days",
                ],
            ),
        ];
        for (name, edit, expected) in cases {
            let mut input = settings_input();
            edit(&mut input);
            let found = match Settings::validate(input) {
                Ok(_) => Vec::new(),
                Err(problems) => problem_fields(&problems)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            };
            assert_eq!(found, *expected, "{name}");
        }
    }

    #[test]
    fn settings_are_stored_trimmed_with_a_normalised_sender() {
        let mut input = settings_input();
        input.sender_address = " Privacy@Example.ORG ".into();
        input.organisation = " Example Ltd ".into();
        let settings = Settings::validate(input).unwrap();
        assert_eq!(settings.sender_address().as_str(), "privacy@example.org");
        assert_eq!(settings.organisation(), "Example Ltd");
        assert_eq!(settings.link_lifetime_ms(), 30 * DAY_MS);
    }

    #[test]
    fn consent_definitions_report_every_problem_at_once() {
        type Edit = fn(&mut DefinitionInput);
        let cases: &[(&str, Edit, &[&str])] = &[
            ("valid", |_| {}, &[]),
            (
                "bad id",
                |d| d.id = "News Letter".into(),
                &["consent[News Letter].id"],
            ),
            (
                "long id",
                |d| d.id = "a".repeat(41),
                &["consent[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa].id"],
            ),
            (
                "bad module",
                |d| d.module = "accounts".into(),
                &["consent[newsletter].module"],
            ),
            (
                "no title, no purpose",
                |d| {
                    d.title = " ".into();
                    d.purpose = "\n".into();
                },
                &["consent[newsletter].title", "consent[newsletter].purpose"],
            ),
            (
                "data without field",
                |d| d.kind = ConsentKind::Data { field: " ".into() },
                &["consent[newsletter].kind"],
            ),
            (
                "clause without field or values",
                |d| {
                    d.applies_when = vec![
                        Clause {
                            field: "country".into(),
                            condition: Condition::Present,
                        },
                        Clause {
                            field: String::new(),
                            condition: Condition::OneOf(vec![" ".into()]),
                        },
                    ]
                },
                &[
                    "consent[newsletter].applies-when[1].field",
                    "consent[newsletter].applies-when[1].values",
                ],
            ),
        ];
        for (name, edit, expected) in cases {
            let mut input = definition_input("newsletter", "contacts", ConsentKind::Custom);
            edit(&mut input);
            let found = match Configuration::default().put_consent(input, None) {
                Ok(_) => Vec::new(),
                Err(problems) => problem_fields(&problems)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            };
            assert_eq!(found, *expected, "{name}");
        }
    }

    #[test]
    fn per_module_limits_are_enforced_and_named() {
        let mut configuration = Configuration::default();
        for index in 0..MAX_DATA_CONSENTS {
            let kind = ConsentKind::Data {
                field: format!("field{index}"),
            };
            configuration
                .put_consent(
                    definition_input(&format!("data-{index}"), "contacts", kind),
                    None,
                )
                .unwrap();
        }
        for index in 0..MAX_CUSTOM_CONSENTS {
            configuration
                .put_consent(
                    definition_input(&format!("custom-{index}"), "contacts", ConsentKind::Custom),
                    None,
                )
                .unwrap();
        }
        configuration
            .put_consent(
                definition_input("tracking", "contacts", ConsentKind::EmailTracking),
                None,
            )
            .unwrap();
        configuration
            .put_consent(
                definition_input("documents", "contacts", ConsentKind::DocumentTracking),
                None,
            )
            .unwrap();
        let cases: &[(DefinitionInput, Option<&str>)] = &[
            (
                definition_input(
                    "data-x",
                    "contacts",
                    ConsentKind::Data {
                        field: "other".into(),
                    },
                ),
                Some("10 data consents"),
            ),
            (
                definition_input("custom-x", "contacts", ConsentKind::Custom),
                Some("10 custom consents"),
            ),
            (
                definition_input("tracking-2", "contacts", ConsentKind::EmailTracking),
                Some("the email-tracking consent tracking"),
            ),
            (
                definition_input("documents-2", "contacts", ConsentKind::DocumentTracking),
                Some("the document-tracking consent documents"),
            ),
            (
                definition_input(
                    "data-x",
                    "leads",
                    ConsentKind::Data {
                        field: "other".into(),
                    },
                ),
                None,
            ),
            (
                definition_input("tracking-2", "leads", ConsentKind::EmailTracking),
                None,
            ),
            (
                definition_input("custom-3", "contacts", ConsentKind::Custom),
                None,
            ),
            (
                definition_input("tracking", "contacts", ConsentKind::EmailTracking),
                None,
            ),
            (
                definition_input(
                    "data-1",
                    "contacts",
                    ConsentKind::Data {
                        field: "field2".into(),
                    },
                ),
                Some("field2 is already covered by consent data-2"),
            ),
            (
                definition_input("custom-4", "leads", ConsentKind::Custom),
                Some("belongs to contacts"),
            ),
        ];
        for (input, expected) in cases {
            let outcome = configuration.clone().put_consent(input.clone(), None);
            match (outcome, expected) {
                (Ok(_), None) => {}
                (Err(problems), Some(message)) => {
                    assert_eq!(problems.len(), 1, "{problems:?}");
                    assert!(problems[0].message.contains(message), "{problems:?}");
                }
                (outcome, expected) => panic!(
                    "{} in {}: {outcome:?}, expected {expected:?}",
                    input.id, input.module
                ),
            }
        }
    }

    #[test]
    fn replacing_a_consent_keeps_its_place_and_versions_its_purpose() {
        let mut configuration = Configuration::default();
        let first = configuration
            .put_consent(
                definition_input("newsletter", "contacts", ConsentKind::Custom),
                None,
            )
            .unwrap();
        configuration
            .put_consent(
                definition_input("partners", "contacts", ConsentKind::Custom),
                None,
            )
            .unwrap();
        assert_eq!(first.purpose.version, 1);
        let mut retitled = definition_input("newsletter", "contacts", ConsentKind::Custom);
        retitled.title = "Monthly news".into();
        assert_eq!(
            configuration
                .put_consent(retitled.clone(), None)
                .unwrap()
                .purpose,
            first.purpose
        );
        retitled.purpose = "We send news every month.".into();
        // A changed text must say what kind of change it is.
        let problems = configuration
            .put_consent(retitled.clone(), None)
            .unwrap_err();
        assert_eq!(problems[0].at, "consent[newsletter].purpose");
        let second = configuration
            .put_consent(retitled.clone(), Some(PurposeChange::Correction))
            .unwrap();
        assert_eq!(second.purpose.version, 2);
        assert_eq!(second.counts_from, 1, "a correction: earlier grants count");
        assert_eq!(
            second.purpose.hash,
            crate::definition::purpose_hash("We send news every month.")
        );
        retitled.purpose = "We send news and partners' offers every month.".into();
        let third = configuration
            .put_consent(retitled, Some(PurposeChange::Material))
            .unwrap();
        assert_eq!(third.purpose.version, 3);
        assert_eq!(third.counts_from, 3, "a material change: asked again");
        assert!(!third.grant_counts(2) && third.grant_counts(3));
        let english = crate::vocabulary::Language::English;
        assert_eq!(third.text_of(2, english), Some("We send news every month."));
        assert_eq!(
            third.text_of(1, english),
            Some(first.definition.purpose.as_str())
        );
        let ids: Vec<_> = configuration
            .consents()
            .iter()
            .map(|stored| stored.id().as_str())
            .collect();
        assert_eq!(ids, ["newsletter", "partners"]);
    }

    #[test]
    fn enabling_lists_every_unmet_prerequisite() {
        use Prerequisite::*;
        let with_settings = |mut configuration: Configuration| {
            configuration.set_settings(settings_input()).unwrap();
            configuration
        };
        let with_consent = |mut configuration: Configuration| {
            configuration
                .put_consent(
                    definition_input("newsletter", "contacts", ConsentKind::Custom),
                    None,
                )
                .unwrap();
            configuration
        };
        type Row = (
            &'static str,
            Configuration,
            bool,
            Result<(), Vec<Prerequisite>>,
        );
        let cases: Vec<Row> = vec![
            (
                "nothing configured",
                Configuration::default(),
                false,
                Err(vec![
                    DeduplicationNotConfirmed,
                    SenderNotConfigured,
                    NoConsentDefined,
                ]),
            ),
            (
                "confirmed only",
                Configuration::default(),
                true,
                Err(vec![SenderNotConfigured, NoConsentDefined]),
            ),
            (
                "no consent",
                with_settings(Configuration::default()),
                true,
                Err(vec![NoConsentDefined]),
            ),
            (
                "not confirmed",
                with_consent(with_settings(Configuration::default())),
                false,
                Err(vec![DeduplicationNotConfirmed]),
            ),
            (
                "all met",
                with_consent(with_settings(Configuration::default())),
                true,
                Ok(()),
            ),
        ];
        for (name, mut configuration, confirmed, expected) in cases {
            let before = configuration.clone();
            let outcome = configuration.enable(confirmed, 1_000).map(|_| ());
            assert_eq!(outcome, expected, "{name}");
            if outcome.is_err() {
                assert_eq!(configuration, before, "{name}: a refusal changes nothing");
            } else {
                assert_eq!(configuration.enabled_at(), Some(1_000), "{name}");
            }
        }
    }

    #[test]
    fn a_refused_attempt_keeps_no_confirmation_and_enabling_again_keeps_the_first_time() {
        let mut configuration = Configuration::default();
        assert!(configuration.enable(true, 1).is_err());
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(
                definition_input("newsletter", "contacts", ConsentKind::Custom),
                None,
            )
            .unwrap();
        assert_eq!(
            configuration.enable(false, 2),
            Err(vec![Prerequisite::DeduplicationNotConfirmed])
        );
        assert!(configuration.enable(true, 3).is_ok());
        assert!(configuration.enable(false, 4).is_ok());
        assert_eq!(configuration.enabled_at(), Some(3));
    }

    fn class(field: &str, flags: &str) -> FieldClass {
        FieldClass {
            field: field.to_owned(),
            personal: flags.contains('p'),
            essential: flags.contains('e'),
            sensitive: flags.contains('s'),
            encrypted: flags.contains('x'),
        }
    }

    #[test]
    fn field_classification_enforces_its_rules_and_limits() {
        let mut configuration = Configuration::default();
        for index in 0..MAX_ENCRYPTED_FIELDS {
            configuration
                .classify_field("contacts", class(&format!("secret{index}"), "px"))
                .unwrap();
        }
        let cases: &[(&str, FieldClass, Option<&str>)] = &[
            ("contacts", class("phone", "ps"), None),
            (
                "contacts",
                class("phone", "px"),
                Some("5 encrypted fields, the limit"),
            ),
            ("contacts", class("secret0", "psx"), None),
            ("leads", class("phone", "px"), None),
            (
                "contacts",
                class("phone", "x"),
                Some("only a personal field can be encrypted"),
            ),
            (
                "contacts",
                class("phone", "s"),
                Some("only a personal field can be sensitive"),
            ),
            (
                "contacts",
                class("phone", "e"),
                Some("only a personal field can be essential"),
            ),
            ("contacts", class("notes", ""), None),
            (
                "contacts",
                class("email", "px"),
                Some("email address cannot be encrypted"),
            ),
            ("contacts", class("two words", "p"), Some("single words")),
            (
                "accounts",
                class("phone", "p"),
                Some("`accounts` is not a module that holds people; they are: contacts, leads"),
            ),
        ];
        for (module, input, expected) in cases {
            let outcome = configuration
                .clone()
                .classify_field(module, input.clone())
                .cloned();
            match (outcome, expected) {
                (Ok(stored), None) => assert_eq!(stored, *input),
                (Err(problems), Some(message)) => {
                    assert_eq!(problems.len(), 1, "{problems:?}");
                    assert!(problems[0].message.contains(message), "{problems:?}");
                }
                (outcome, expected) => {
                    panic!("{module} {input:?}: {outcome:?}, expected {expected:?}")
                }
            }
        }
    }

    #[test]
    fn suggestions_are_sensitive_marketing_fields_without_a_data_consent() {
        let mut configuration = Configuration::default();
        for (field, flags) in [
            ("phone", "ps"),
            ("birthday", "ps"),
            ("iban", "pes"),
            ("city", "p"),
            ("Mobile", "ps"),
        ] {
            configuration
                .classify_field("contacts", class(field, flags))
                .unwrap();
        }
        configuration
            .put_consent(
                definition_input(
                    "birthday",
                    "contacts",
                    ConsentKind::Data {
                        field: "birthday".into(),
                    },
                ),
                None,
            )
            .unwrap();
        assert_eq!(
            configuration.suggested_data_consents(&Module::Contacts),
            ["phone", "Mobile"]
        );
        assert!(
            configuration
                .suggested_data_consents(&Module::Leads)
                .is_empty()
        );
        configuration
            .classify_field("contacts", class("phone", "pe"))
            .unwrap();
        assert_eq!(
            configuration.suggested_data_consents(&Module::Contacts),
            ["Mobile"]
        );
    }
}
