//! The organisation-wide settings: validated from what an administrator entered, every
//! problem reported at once.

use serde::{Deserialize, Serialize};

use super::Problem;
use super::languages::{LanguageRules, LanguageRulesInput};
use super::regimes::{RegimeRules, RegimeRulesInput};
use super::requests::RequestPolicy;
use crate::address::Address;
use crate::calendar::DAY_MS;
use crate::record::Module;
use crate::vocabulary::{ConfirmationPolicy, IpPolicy};

/// Shortest and longest lifetime of a preferences link, in days.
pub const LINK_VALID_DAYS: std::ops::RangeInclusive<u32> = 1..=90;

/// Organisation-wide settings as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsInput {
    pub sender_address: String,
    pub sender_name: String,
    pub organisation: String,
    pub postal_address: String,
    pub preferences_url: String,
    pub link_valid_days: u32,
    /// Flag a new record whose address another active record owns as a duplicate.
    pub flag_new_duplicates: bool,
    /// Fields an erasure keeps because a legal obligation needs them (e.g. invoices).
    pub retained_fields: Vec<String>,
    /// Which changes a person is sent a confirmation mail about.
    pub confirm_changes: ConfirmationPolicy,
    /// What the evidence of a preferences-page answer keeps of the IP address.
    pub ip_evidence: IpPolicy,
    /// The CRM modules that hold people and can carry consents (empty: the defaults,
    /// contacts and leads).
    pub person_modules: Vec<String>,
    /// Which legal regime applies to whom.
    pub regimes: RegimeRulesInput,
    /// Reminders, the lapse of unanswered requests, asking again.
    pub requests: RequestPolicy,
    /// Who is written to in which language, and the tenant's templates.
    pub languages: LanguageRulesInput,
}

/// Organisation-wide settings, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub(super) sender_address: Address,
    pub(super) sender_name: String,
    pub(super) organisation: String,
    pub(super) postal_address: String,
    pub(super) preferences_url: String,
    pub(super) link_valid_days: u32,
    pub(super) flag_new_duplicates: bool,
    pub(super) retained_fields: Vec<String>,
    pub(super) confirm_changes: ConfirmationPolicy,
    pub(super) ip_evidence: IpPolicy,
    pub(super) person_modules: Vec<Module>,
    pub(super) regimes: RegimeRules,
    pub(super) requests: RequestPolicy,
    pub(super) languages: LanguageRules,
}

impl Settings {
    /// Validates `input`, reporting every problem at once. Text is stored trimmed.
    pub fn validate(input: SettingsInput) -> Result<Settings, Vec<Problem>> {
        let mut problems = Vec::new();
        let sender_address = match Address::parse(&input.sender_address) {
            Ok(address) => Some(address),
            Err(error) => {
                problems.push(Problem::new("sender-address", error.to_string()));
                None
            }
        };
        let mut line = |at: &str, value: &str| {
            let value = value.trim();
            if value.is_empty() {
                problems.push(Problem::new(at, "is required"));
            } else if value.chars().any(char::is_control) {
                problems.push(Problem::new(
                    at,
                    "must be a single line without control characters",
                ));
            }
        };
        line("sender-name", &input.sender_name);
        line("organisation", &input.organisation);
        let postal_address = input.postal_address.trim();
        if postal_address.is_empty() {
            problems.push(Problem::new("postal-address", "is required (CAN-SPAM)"));
        } else if postal_address
            .chars()
            .any(|character| character.is_control() && !matches!(character, '\n' | '\r' | '\t'))
        {
            problems.push(Problem::new(
                "postal-address",
                "must not contain control characters",
            ));
        }
        if !is_http_url(input.preferences_url.trim()) {
            problems.push(Problem::new(
                "preferences-url",
                "must be an http:// or https:// URL with a host",
            ));
        }
        if !LINK_VALID_DAYS.contains(&input.link_valid_days) {
            problems.push(Problem::new(
                "link-valid-days",
                format!(
                    "must be between {} and {} days",
                    LINK_VALID_DAYS.start(),
                    LINK_VALID_DAYS.end()
                ),
            ));
        }
        let mut retained_fields: Vec<String> = Vec::new();
        for field in &input.retained_fields {
            let field = field.trim();
            if field.is_empty()
                || field
                    .chars()
                    .any(|character| character.is_whitespace() || character.is_control())
            {
                problems.push(Problem::new(
                    "retained-fields",
                    "field names are single words without blanks",
                ));
            } else if field.eq_ignore_ascii_case("email") {
                problems.push(Problem::new(
                    "retained-fields",
                    "the email address is always erased: it cannot be retained",
                ));
            } else if !retained_fields.iter().any(|known| known == field) {
                retained_fields.push(field.to_owned());
            }
        }
        let mut person_modules: Vec<Module> = Vec::new();
        for name in &input.person_modules {
            match Module::parse(name.trim()) {
                Ok(module) if !person_modules.contains(&module) => person_modules.push(module),
                Ok(_) => {}
                Err(error) => problems.push(Problem::new(
                    "person-modules",
                    format!("`{}`: {error}", name.trim()),
                )),
            }
        }
        if person_modules.is_empty() {
            person_modules = Module::defaults();
        }
        let regimes = RegimeRules::validate(input.regimes, input.link_valid_days, &mut problems);
        let requests = input.requests.validate(&mut problems);
        let languages = LanguageRules::validate(input.languages, &mut problems);
        match sender_address {
            Some(sender_address) if problems.is_empty() => Ok(Settings {
                sender_address,
                sender_name: input.sender_name.trim().to_owned(),
                organisation: input.organisation.trim().to_owned(),
                postal_address: postal_address.to_owned(),
                preferences_url: input.preferences_url.trim().to_owned(),
                link_valid_days: input.link_valid_days,
                flag_new_duplicates: input.flag_new_duplicates,
                retained_fields,
                confirm_changes: input.confirm_changes,
                ip_evidence: input.ip_evidence,
                person_modules,
                regimes,
                requests,
                languages,
            }),
            _ => Err(problems),
        }
    }

    pub fn sender_address(&self) -> &Address {
        &self.sender_address
    }

    pub fn sender_name(&self) -> &str {
        &self.sender_name
    }

    pub fn organisation(&self) -> &str {
        &self.organisation
    }

    pub fn postal_address(&self) -> &str {
        &self.postal_address
    }

    pub fn preferences_url(&self) -> &str {
        &self.preferences_url
    }

    pub fn link_valid_days(&self) -> u32 {
        self.link_valid_days
    }

    /// Whether the records hook flags a new record whose address another active record
    /// owns as a duplicate (instead of keeping it apart, unflagged).
    pub fn flag_new_duplicates(&self) -> bool {
        self.flag_new_duplicates
    }

    /// Fields an erasure keeps (a legal obligation needs them), as entered, without repeats.
    pub fn retained_fields(&self) -> &[String] {
        &self.retained_fields
    }

    /// Which changes a person is sent a confirmation mail about.
    pub fn confirm_changes(&self) -> ConfirmationPolicy {
        self.confirm_changes
    }

    /// What the evidence of a preferences-page answer keeps of the IP address.
    pub fn ip_evidence(&self) -> IpPolicy {
        self.ip_evidence
    }

    /// The CRM modules that hold people, in the order configured.
    pub fn person_modules(&self) -> &[Module] {
        &self.person_modules
    }

    /// Which legal regime applies to whom.
    pub fn regimes(&self) -> &RegimeRules {
        &self.regimes
    }

    /// Reminders, the lapse of unanswered requests, asking again.
    pub fn requests(&self) -> RequestPolicy {
        self.requests
    }

    /// Who is written to in which language, and the tenant's templates.
    pub fn languages(&self) -> &LanguageRules {
        &self.languages
    }

    /// How long a preferences link stays valid, in milliseconds.
    pub fn link_lifetime_ms(&self) -> i64 {
        i64::from(self.link_valid_days) * DAY_MS
    }

    /// Back to the form it was entered in.
    pub fn to_input(&self) -> SettingsInput {
        SettingsInput {
            sender_address: self.sender_address.to_string(),
            sender_name: self.sender_name.clone(),
            organisation: self.organisation.clone(),
            postal_address: self.postal_address.clone(),
            preferences_url: self.preferences_url.clone(),
            link_valid_days: self.link_valid_days,
            flag_new_duplicates: self.flag_new_duplicates,
            retained_fields: self.retained_fields.clone(),
            confirm_changes: self.confirm_changes,
            ip_evidence: self.ip_evidence,
            person_modules: self
                .person_modules
                .iter()
                .map(|module| module.as_str().to_owned())
                .collect(),
            regimes: self.regimes.to_input(),
            requests: self.requests,
            languages: LanguageRulesInput {
                field: self.languages.field.clone().unwrap_or_default(),
                default: self.languages.default.as_str().to_owned(),
                templates: self
                    .languages
                    .templates
                    .iter()
                    .map(|(language, template)| (language.as_str().to_owned(), template.clone()))
                    .collect(),
            },
        }
    }
}

/// Whether `url` is `http://host...` or `https://host...` without blanks.
fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !url
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
}
