//! The five values a consent takes for one person, and the default a request is made under.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The value of one consent for one person (the Vtiger consent table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentValue {
    /// The consent's condition does not hold for this person.
    NotApplicable,
    /// The consent applies and has not been requested yet.
    Applicable,
    /// A request was sent and the person has not answered yet.
    Waiting,
    /// The person granted the consent.
    Granted,
    /// The person refused or withdrew the consent.
    NotGranted,
}

impl ConsentValue {
    /// Whether the person can grant or withdraw the consent on the preferences page (or an
    /// administrator record a decision): everything but Not Applicable.
    pub fn is_changeable(self) -> bool {
        !matches!(self, ConsentValue::NotApplicable)
    }

    /// The value's name in events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentValue::NotApplicable => "not-applicable",
            ConsentValue::Applicable => "applicable",
            ConsentValue::Waiting => "waiting",
            ConsentValue::Granted => "granted",
            ConsentValue::NotGranted => "not-granted",
        }
    }

    /// The value a person's answer leads to.
    pub fn answer(grant: bool) -> ConsentValue {
        if grant {
            ConsentValue::Granted
        } else {
            ConsentValue::NotGranted
        }
    }
}

impl fmt::Display for ConsentValue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The value a consent has while a request waits for an answer: `Yes` keeps the data
/// usable while waiting, `No` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentDefault {
    Yes,
    No,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_but_not_applicable_is_changeable() {
        let cases = [
            (ConsentValue::NotApplicable, false),
            (ConsentValue::Applicable, true),
            (ConsentValue::Waiting, true),
            (ConsentValue::Granted, true),
            (ConsentValue::NotGranted, true),
        ];
        for (value, expected) in cases {
            assert_eq!(value.is_changeable(), expected, "{value}");
        }
    }

    #[test]
    fn values_are_named_in_kebab_case_in_json() {
        let cases = [
            (ConsentValue::NotApplicable, "\"not-applicable\""),
            (ConsentValue::Applicable, "\"applicable\""),
            (ConsentValue::Waiting, "\"waiting\""),
            (ConsentValue::Granted, "\"granted\""),
            (ConsentValue::NotGranted, "\"not-granted\""),
        ];
        for (value, json) in cases {
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(format!("\"{value}\""), json);
        }
    }
}
