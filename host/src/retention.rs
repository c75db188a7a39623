//! Retention schedules: how long a person is kept, per class, before their personal fields
//! are erased (GDPR Art. 5(1)(e), storage limitation: kept no longer than the purpose
//! needs). Who qualifies is read from the change feed's reading of the event log, never
//! from the plugin's state; the erasure itself is the plugin's (`subjects.erase`), the same
//! as a staff erasure, so the same purge runs and the suppression marker stays.
//!
//! Only `active` people qualify: a restricted person asked for their data to be kept
//! (Art. 18), an erased one is gone, a duplicate follows its primary (erasing the primary
//! suppresses every record sharing its address).
//!
//! - [`fold`]: the people of the log, small, with the times each class counts from;
//! - this file: the classes, the settings with their defaults and reasons, and their
//!   reading from the configuration file and the command line.

mod fold;

pub use self::fold::{DuePerson, RetentionFold, read_on};

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest a class may keep people: ten years, longer than any limitation period a
/// schedule would be set for.
pub const MAX_DAYS: u32 = 3650;

/// One day in milliseconds.
pub const DAY_MILLIS: i64 = 86_400_000;

/// Why people are kept no longer: each class is a rule the log can show was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Asked for consent and never answered: every request went unanswered (waiting, or
    /// lapsed), counted from the last request, reminder or lapse.
    Unanswered,
    /// Every consent refused or withdrawn (the others not applicable), nothing granted,
    /// counted from the last refusal or withdrawal.
    Withdrawn,
    /// The address bounced, counted from the bounce.
    Bounced,
    /// No grant, answer or request, counted from the last of them (or from when the person
    /// was first seen).
    Inactive,
}

/// Every class in the order a person is tested against them (the first met names the
/// erasure), with its default and the reason for it: the one list `retention show`, the
/// API and `docs/consent-rules.md` say.
pub const CLASSES: [(Class, Keep, &str); 4] = [
    (
        Class::Bounced,
        Keep::Days(30),
        "a hard bounce or the soft-bounce limit means the address no longer reaches anyone; 30 days leave time to lift a bounce that was the server's fault, after which there is no purpose left to keep the person for (Art. 5(1)(c), (e)); the suppression marker keeps the address out",
    ),
    (
        Class::Withdrawn,
        Keep::Days(30),
        "consent was the only ground and it was withdrawn or refused (Art. 17(1)(b)); the answer's proof stays in the log and the suppression marker keeps the address from being re-added, so the fields have no purpose left; 30 days cover the CRM's own sync and a person changing their mind on the page",
    ),
    (
        Class::Unanswered,
        Keep::Days(90),
        "the person was asked and never answered: silence is no consent, so nothing allows keeping them for marketing; 90 days from the last request, reminder or lapse leave a late answer possible and outlast a link's default validity (30 days)",
    ),
    (
        Class::Inactive,
        Keep::Off,
        "no grant, answer or request for a long time: whether that ends the purpose depends on the business (customers with contracts, legal retention periods), so it is off until a data-protection officer sets the period for this tenant",
    ),
];

impl Class {
    /// The class as the CLI, the API and the actor's name write it.
    pub fn name(self) -> &'static str {
        match self {
            Class::Unanswered => "unanswered",
            Class::Withdrawn => "withdrawn",
            Class::Bounced => "bounced",
            Class::Inactive => "inactive",
        }
    }

    /// The name of the staff actor an erasure under this class records:
    /// `retention:<class>`.
    pub fn actor_name(self) -> String {
        format!("retention:{}", self.name())
    }

    /// What the rule says, for the erasure's evidence.
    pub fn rule(self) -> &'static str {
        match self {
            Class::Unanswered => {
                "asked for consent and never answered (counted from the last request, reminder or lapse)"
            }
            Class::Withdrawn => {
                "every consent refused or withdrawn, nothing granted (counted from the last refusal or withdrawal)"
            }
            Class::Bounced => "the address bounced (counted from the bounce)",
            Class::Inactive => {
                "no grant, answer or request (counted from the last of them, or from when the person was first seen)"
            }
        }
    }

    fn parse(text: &str) -> Option<Class> {
        CLASSES
            .iter()
            .map(|(class, _, _)| *class)
            .find(|class| class.name() == text)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// How long a class keeps people: a number of days, or off (never erased by the schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Off,
    Days(u32),
}

impl Keep {
    /// Reads `off` or a number of days from 1 to [`MAX_DAYS`]; the error says what to write.
    pub fn parse(text: &str) -> Result<Keep, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Keep::Off);
        }
        match text.parse::<i64>() {
            Ok(days) => Keep::days(days),
            Err(_) => Err(format!(
                "`{text}` is neither a number of days nor `off`: write the days people are kept (1 to {MAX_DAYS}), or off"
            )),
        }
    }

    fn days(days: i64) -> Result<Keep, String> {
        match u32::try_from(days) {
            Ok(days) if (1..=MAX_DAYS).contains(&days) => Ok(Keep::Days(days)),
            _ => Err(format!(
                "{days} days: keep people 1 to {MAX_DAYS} days, or write off to switch the class off"
            )),
        }
    }

    /// When someone of the class since `since` (unix ms) is due, if the class is on.
    pub fn due_at(self, since: i64) -> Option<i64> {
        match self {
            Keep::Off => None,
            Keep::Days(days) => Some(since.saturating_add(i64::from(days) * DAY_MILLIS)),
        }
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Keep::Off => formatter.write_str("off"),
            Keep::Days(days) => write!(formatter, "{days} days"),
        }
    }
}

impl Serialize for Keep {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Keep::Off => serializer.serialize_str("off"),
            Keep::Days(days) => serializer.serialize_u32(*days),
        }
    }
}

impl<'de> Deserialize<'de> for Keep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Keep, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Days(i64),
            Text(String),
        }
        match Written::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(format!(
                "write the days people are kept (1 to {MAX_DAYS}), or \"off\""
            ))
        })? {
            Written::Days(days) => Keep::days(days),
            Written::Text(text) => Keep::parse(&text),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// How long each class keeps people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetentionSettings {
    pub unanswered: Keep,
    pub withdrawn: Keep,
    pub bounced: Keep,
    pub inactive: Keep,
}

impl Default for RetentionSettings {
    /// The defaults of [`CLASSES`].
    fn default() -> RetentionSettings {
        let mut settings = RetentionSettings {
            unanswered: Keep::Off,
            withdrawn: Keep::Off,
            bounced: Keep::Off,
            inactive: Keep::Off,
        };
        for (class, keep, _) in CLASSES {
            *settings.keep_mut(class) = keep;
        }
        settings
    }
}

impl RetentionSettings {
    /// How long `class` keeps people.
    pub fn keep(&self, class: Class) -> Keep {
        match class {
            Class::Unanswered => self.unanswered,
            Class::Withdrawn => self.withdrawn,
            Class::Bounced => self.bounced,
            Class::Inactive => self.inactive,
        }
    }

    fn keep_mut(&mut self, class: Class) -> &mut Keep {
        match class {
            Class::Unanswered => &mut self.unanswered,
            Class::Withdrawn => &mut self.withdrawn,
            Class::Bounced => &mut self.bounced,
            Class::Inactive => &mut self.inactive,
        }
    }

    /// These settings with what `patch` sets over them.
    pub fn with(mut self, patch: &RetentionPatch) -> RetentionSettings {
        for (class, keep) in patch.entries() {
            if let Some(keep) = keep {
                *self.keep_mut(class) = keep;
            }
        }
        self
    }

    /// Whether every class is off.
    pub fn all_off(&self) -> bool {
        CLASSES
            .iter()
            .all(|(class, _, _)| self.keep(*class) == Keep::Off)
    }
}

/// The classes a configuration sets (the tenant's `[tenants.retention]`, the host's
/// `--retention`); what it leaves out comes from below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPatch {
    pub unanswered: Option<Keep>,
    pub withdrawn: Option<Keep>,
    pub bounced: Option<Keep>,
    pub inactive: Option<Keep>,
}

impl RetentionPatch {
    fn entries(&self) -> [(Class, Option<Keep>); 4] {
        [
            (Class::Unanswered, self.unanswered),
            (Class::Withdrawn, self.withdrawn),
            (Class::Bounced, self.bounced),
            (Class::Inactive, self.inactive),
        ]
    }

    /// Reads `CLASS=DAYS|off`, separated by commas, e.g.
    /// `unanswered=60,inactive=730,bounced=off`; the error names the part at fault.
    pub fn parse(text: &str) -> Result<RetentionPatch, String> {
        let mut patch = RetentionPatch::default();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let names = || {
                CLASSES
                    .iter()
                    .map(|(class, _, _)| class.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (name, value) = part.split_once('=').ok_or_else(|| {
                format!(
                    "`{part}`: write CLASS=DAYS or CLASS=off, the class one of {}",
                    names()
                )
            })?;
            let class = Class::parse(name.trim()).ok_or_else(|| {
                format!("`{}` is no retention class: use {}", name.trim(), names())
            })?;
            let keep = Keep::parse(value).map_err(|problem| format!("{}: {problem}", class))?;
            let slot = match class {
                Class::Unanswered => &mut patch.unanswered,
                Class::Withdrawn => &mut patch.withdrawn,
                Class::Bounced => &mut patch.bounced,
                Class::Inactive => &mut patch.inactive,
            };
            if slot.replace(keep).is_some() {
                return Err(format!("{class} is given twice"));
            }
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_keep_every_class_but_inactive_for_a_documented_time() {
        let settings = RetentionSettings::default();
        assert_eq!(settings.unanswered, Keep::Days(90));
        assert_eq!(settings.withdrawn, Keep::Days(30));
        assert_eq!(settings.bounced, Keep::Days(30));
        assert_eq!(settings.inactive, Keep::Off);
        assert!(!settings.all_off());
    }

    #[test]
    fn a_patch_sets_what_it_names_and_refuses_what_it_cannot_read() {
        let patch = RetentionPatch::parse("unanswered=60, inactive=730,bounced=OFF").unwrap();
        let settings = RetentionSettings::default().with(&patch);
        assert_eq!(settings.unanswered, Keep::Days(60));
        assert_eq!(settings.inactive, Keep::Days(730));
        assert_eq!(settings.bounced, Keep::Off);
        assert_eq!(settings.withdrawn, Keep::Days(30));
        for (wrong, says) in [
            ("unanswered=0", "1 to 3650"),
            ("unanswered=3651", "1 to 3650"),
            ("unanswered=-5", "1 to 3650"),
            ("withdrawn=soon", "neither a number of days nor `off`"),
            ("forgotten=30", "no retention class: use bounced, withdrawn"),
            ("unanswered", "write CLASS=DAYS"),
            ("bounced=1,bounced=2", "given twice"),
        ] {
            let error = RetentionPatch::parse(wrong).unwrap_err();
            assert!(error.contains(says), "{wrong}: {error}");
        }
    }

    #[test]
    fn a_configuration_file_writes_days_or_off() {
        let patch: RetentionPatch = toml::from_str("unanswered = 120\ninactive = \"off\"").unwrap();
        assert_eq!(patch.unanswered, Some(Keep::Days(120)));
        assert_eq!(patch.inactive, Some(Keep::Off));
        for (wrong, says) in [
            ("unanswered = 0", "1 to 3650"),
            ("withdrawn = \"never\"", "neither a number"),
            ("withdrawn = 1.5", "write the days"),
            ("forever = 3", "unknown field"),
        ] {
            let error = toml::from_str::<RetentionPatch>(wrong)
                .unwrap_err()
                .to_string();
            assert!(error.contains(says), "{wrong}: {error}");
        }
    }

    #[test]
    fn a_class_is_due_its_days_after_it_began() {
        assert_eq!(Keep::Days(2).due_at(1_000), Some(1_000 + 2 * DAY_MILLIS));
        assert_eq!(Keep::Off.due_at(1_000), None);
    }
}
