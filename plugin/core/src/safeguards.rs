//! The safeguard settings: the limits that keep the consent process from becoming unwanted
//! mail itself (how many soft bounces suppress an address, how often an address may be sent
//! a consent request or its link again, what a web-form record must prove) and the mailbox
//! unsubscribe mails go to. Stored apart from the configuration under [`SAFEGUARDS_KEY`], so
//! that a plugin without them reads every older configuration unchanged, and a tenant that
//! never set them runs on [`SafeguardSettings::default`].

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::configuration::Problem;
use crate::storage::StorageError;

/// The key of the safeguard settings.
pub const SAFEGUARDS_KEY: &str = "safeguards";
/// Format version of the `safeguards` value.
pub const SAFEGUARDS_FORMAT: u8 = 1;

/// The soft bounces in a row that suppress an address, when not set: a mailbox that is full
/// or a server that is down for five deliveries (days, for a daily sender) is gone in
/// practice, and fewer would suppress people after one bad night of their provider.
pub const DEFAULT_SOFT_BOUNCE_LIMIT: u32 = 5;
/// At most one consent request to an address in this many hours, when not set: a bot that
/// submits an address a hundred times a day sends its owner one mail, not a hundred.
pub const DEFAULT_REQUEST_INTERVAL_HOURS: u32 = 24;
/// At most one "send me my link again" mail to an address in this many minutes, when not
/// set: long enough that the page cannot be used to flood a mailbox, short enough that a
/// person whose mail was slow can ask again within the hour.
pub const DEFAULT_LINK_MAIL_INTERVAL_MINUTES: u32 = 15;

const SOFT_BOUNCE_LIMITS: std::ops::RangeInclusive<u32> = 1..=50;
const REQUEST_INTERVALS_HOURS: std::ops::RangeInclusive<u32> = 0..=720;
const LINK_MAIL_INTERVALS_MINUTES: std::ops::RangeInclusive<u32> = 1..=1440;

/// The limits in force for a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeguardSettings {
    pub soft_bounce_limit: u32,
    /// 0: no limit.
    pub request_interval_hours: u32,
    pub web_forms: WebFormProof,
    pub link_mail_interval_minutes: u32,
    /// Empty: `List-Unsubscribe` carries the https link only.
    pub unsubscribe_mailbox: String,
}

impl Default for SafeguardSettings {
    fn default() -> SafeguardSettings {
        SafeguardSettings {
            soft_bounce_limit: DEFAULT_SOFT_BOUNCE_LIMIT,
            request_interval_hours: DEFAULT_REQUEST_INTERVAL_HOURS,
            web_forms: WebFormProof::default(),
            link_mail_interval_minutes: DEFAULT_LINK_MAIL_INTERVAL_MINUTES,
            unsubscribe_mailbox: String::new(),
        }
    }
}

/// What a record made by a web form must carry before it is sent a request. Every field
/// empty (the default): no record is a web-form record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebFormProof {
    /// The record field that marks a web-form record, and the value it holds then.
    pub source_field: String,
    pub source_value: String,
    /// A field the form hides from people; a value in it is a bot's.
    pub honeypot_field: String,
    /// The field carrying the form token the form was served with.
    pub token_field: String,
}

impl WebFormProof {
    /// Whether a record with these fields was made by a web form (the source field holds
    /// the source value, trimmed, ignoring case). `field` reads a record's field by name.
    pub fn is_web_form_record<'a>(&self, field: impl Fn(&str) -> Option<&'a str>) -> bool {
        !self.source_field.is_empty()
            && field(&self.source_field)
                .is_some_and(|value| value.trim().eq_ignore_ascii_case(self.source_value.trim()))
    }
}

impl SafeguardSettings {
    /// The settings as given, trimmed, or every problem with them at once.
    pub fn validated(mut self) -> Result<SafeguardSettings, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut out_of = |at: &str, value: u32, range: &std::ops::RangeInclusive<u32>| {
            if !range.contains(&value) {
                problems.push(Problem::new(
                    at,
                    format!("{value} is outside {}..={}", range.start(), range.end()),
                ));
            }
        };
        out_of(
            "soft-bounce-limit",
            self.soft_bounce_limit,
            &SOFT_BOUNCE_LIMITS,
        );
        out_of(
            "request-interval-hours",
            self.request_interval_hours,
            &REQUEST_INTERVALS_HOURS,
        );
        out_of(
            "link-mail-interval-minutes",
            self.link_mail_interval_minutes,
            &LINK_MAIL_INTERVALS_MINUTES,
        );
        let forms = &mut self.web_forms;
        for (at, field) in [
            ("web-forms.source-field", &mut forms.source_field),
            ("web-forms.source-value", &mut forms.source_value),
            ("web-forms.honeypot-field", &mut forms.honeypot_field),
            ("web-forms.token-field", &mut forms.token_field),
        ] {
            *field = field.trim().to_owned();
            if field.chars().any(char::is_control) {
                problems.push(Problem::new(at, "contains a control character"));
            }
        }
        let forms = &self.web_forms;
        if forms.source_field.is_empty() {
            for (at, field) in [
                ("web-forms.source-value", &forms.source_value),
                ("web-forms.honeypot-field", &forms.honeypot_field),
                ("web-forms.token-field", &forms.token_field),
            ] {
                if !field.is_empty() {
                    problems.push(Problem::new(
                        at,
                        "needs web-forms.source-field: which records are web-form records",
                    ));
                }
            }
        } else if forms.source_value.is_empty() {
            problems.push(Problem::new(
                "web-forms.source-value",
                "is empty: give the value the source field holds on web-form records",
            ));
        }
        for (at, field) in [
            ("web-forms.honeypot-field", &forms.honeypot_field),
            ("web-forms.token-field", &forms.token_field),
        ] {
            if !field.is_empty() && field.eq_ignore_ascii_case(&forms.source_field) {
                problems.push(Problem::new(at, "is the source field itself"));
            }
        }
        self.unsubscribe_mailbox = self.unsubscribe_mailbox.trim().to_owned();
        if !self.unsubscribe_mailbox.is_empty() {
            match Address::parse(&self.unsubscribe_mailbox) {
                Ok(address) => self.unsubscribe_mailbox = address.as_str().to_owned(),
                Err(error) => problems.push(Problem::new(
                    "unsubscribe-mailbox",
                    format!("is not an email address: {error}"),
                )),
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }

    /// The stored bytes: the format byte, then the settings (postcard).
    pub fn encode(&self) -> Result<Vec<u8>, StorageError> {
        postcard::to_extend(self, vec![SAFEGUARDS_FORMAT]).map_err(|source| StorageError::Encode {
            what: "safeguard settings",
            source,
        })
    }

    /// The settings stored under [`SAFEGUARDS_KEY`]; the defaults when nothing is stored.
    pub fn decode(bytes: Option<&[u8]>) -> Result<SafeguardSettings, StorageError> {
        const WHAT: &str = "safeguard settings";
        let Some(bytes) = bytes else {
            return Ok(SafeguardSettings::default());
        };
        match bytes.split_first() {
            None => Err(StorageError::Empty { what: WHAT }),
            Some((&SAFEGUARDS_FORMAT, rest)) => postcard::from_bytes(rest)
                .map_err(|source| StorageError::Decode { what: WHAT, source }),
            Some((&version, _)) => Err(StorageError::UnknownFormat {
                what: WHAT,
                version,
                oldest: SAFEGUARDS_FORMAT,
                newest: SAFEGUARDS_FORMAT,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web_form(source_field: &str, honeypot_field: &str) -> SafeguardSettings {
        SafeguardSettings {
            web_forms: WebFormProof {
                source_field: source_field.to_owned(),
                source_value: "Web Site".to_owned(),
                honeypot_field: honeypot_field.to_owned(),
                token_field: String::new(),
            },
            ..SafeguardSettings::default()
        }
    }

    #[test]
    fn nothing_stored_reads_as_the_defaults_and_stored_settings_read_back() {
        assert_eq!(
            SafeguardSettings::decode(None).unwrap(),
            SafeguardSettings::default()
        );
        let settings = web_form("leadsource", "website_url").validated().unwrap();
        let bytes = settings.encode().unwrap();
        assert_eq!(bytes[0], SAFEGUARDS_FORMAT);
        assert_eq!(SafeguardSettings::decode(Some(&bytes)).unwrap(), settings);
    }

    #[test]
    fn an_unknown_format_or_damaged_bytes_are_errors_never_the_defaults() {
        assert!(matches!(
            SafeguardSettings::decode(Some(&[9, 1, 2])),
            Err(StorageError::UnknownFormat { version: 9, .. })
        ));
        assert!(SafeguardSettings::decode(Some(&[])).is_err());
        assert!(SafeguardSettings::decode(Some(&[SAFEGUARDS_FORMAT, 0xff])).is_err());
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let settings = SafeguardSettings {
            soft_bounce_limit: 0,
            request_interval_hours: 721,
            link_mail_interval_minutes: 0,
            unsubscribe_mailbox: "not an address".to_owned(),
            web_forms: WebFormProof {
                honeypot_field: "website".to_owned(),
                ..WebFormProof::default()
            },
        };
        let problems = settings.validated().unwrap_err();
        let at: Vec<&str> = problems.iter().map(|problem| problem.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "soft-bounce-limit",
                "request-interval-hours",
                "link-mail-interval-minutes",
                "web-forms.honeypot-field",
                "unsubscribe-mailbox",
            ]
        );
    }

    #[test]
    fn values_are_trimmed_and_the_mailbox_normalised() {
        let settings = SafeguardSettings {
            unsubscribe_mailbox: "  Unsubscribe@Example.COM ".to_owned(),
            ..web_form(" leadsource ", "")
        }
        .validated()
        .unwrap();
        assert_eq!(settings.web_forms.source_field, "leadsource");
        assert_eq!(settings.unsubscribe_mailbox, "unsubscribe@example.com");
        assert!(web_form("leadsource", "leadsource").validated().is_err());
    }

    #[test]
    fn a_web_form_record_is_recognised_by_its_source_field_ignoring_case() {
        let proof = web_form("leadsource", "").web_forms;
        let fields = [("leadsource", " web site ")];
        let read = |name: &str| {
            fields
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, value)| *value)
        };
        assert!(proof.is_web_form_record(read));
        assert!(!proof.is_web_form_record(|_| Some("Trade Show")));
        assert!(!proof.is_web_form_record(|_| None));
        assert!(!WebFormProof::default().is_web_form_record(|_| Some("")));
    }
}
