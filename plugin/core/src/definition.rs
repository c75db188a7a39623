//! Consent definitions: what the business asks for, of whom, and the versioned purpose text.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::consent::ConsentDefault;
use crate::digest::sha256_hex;
use crate::record::{Fields, Module};

/// Longest consent id accepted.
pub const MAX_CONSENT_ID_LEN: usize = 40;

/// A consent's stable identifier: lower-case letters, digits and `-`, 1 to 40 of them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsentId(String);

/// The text is not a consent id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a consent id is 1 to 40 lower-case letters, digits and '-'")]
pub struct InvalidConsentId;

impl ConsentId {
    pub fn parse(raw: &str) -> Result<ConsentId, InvalidConsentId> {
        let plausible = !raw.is_empty()
            && raw.len() <= MAX_CONSENT_ID_LEN
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if plausible {
            Ok(ConsentId(raw.to_owned()))
        } else {
            Err(InvalidConsentId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConsentId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for ConsentId {
    type Error = InvalidConsentId;

    fn try_from(raw: String) -> Result<ConsentId, InvalidConsentId> {
        ConsentId::parse(&raw)
    }
}

impl From<ConsentId> for String {
    fn from(id: ConsentId) -> String {
        id.0
    }
}

/// What a consent covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentKind {
    /// Keeping and using one personal field (named here) of the module.
    Data { field: String },
    /// A purpose described only by the purpose text.
    Custom,
    /// Tracking pixels and tracked links in mails.
    EmailTracking,
    /// Tracking of shared documents.
    DocumentTracking,
}

/// How one clause tests a record's field. Only the comparisons carry values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// The field equals one of the values (trimmed, case-insensitive).
    OneOf(Vec<String>),
    /// The field equals none of the values (trimmed, case-insensitive).
    NoneOf(Vec<String>),
    /// The field is not empty (after trimming).
    Present,
    /// The field is empty (after trimming).
    Absent,
}

/// One clause of a consent's condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clause {
    pub field: String,
    pub condition: Condition,
}

impl Clause {
    /// Whether the clause holds for a record with `fields`.
    pub fn holds(&self, fields: &Fields) -> bool {
        let value = fields.get(&self.field).trim();
        match &self.condition {
            Condition::OneOf(values) => values.iter().any(|wanted| same_text(value, wanted)),
            Condition::NoneOf(values) => !values.iter().any(|wanted| same_text(value, wanted)),
            Condition::Present => !value.is_empty(),
            Condition::Absent => value.is_empty(),
        }
    }
}

/// Whether `a` and `b` are equal after trimming, ignoring case.
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// A consent the business asks for, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentDefinition {
    pub id: ConsentId,
    pub module: Module,
    pub kind: ConsentKind,
    /// A short title shown to the person.
    pub title: String,
    /// The exact purpose text shown to the person.
    pub purpose: String,
    pub default: ConsentDefault,
    /// Every clause must hold; none: the consent applies to every record of the module.
    pub applies_when: Vec<Clause>,
}

impl ConsentDefinition {
    /// Whether the consent applies to a record with `fields`.
    pub fn applies_to(&self, fields: &Fields) -> bool {
        self.applies_when.iter().all(|clause| clause.holds(fields))
    }
}

/// The version of a purpose text a consent value refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeVersion {
    /// Starts at 1; goes up each time the purpose text changes.
    pub version: u32,
    /// Lower-case hex SHA-256 of the purpose text.
    pub hash: String,
}

impl PurposeVersion {
    /// The first version of `purpose`.
    pub fn first(purpose: &str) -> PurposeVersion {
        PurposeVersion {
            version: 1,
            hash: purpose_hash(purpose),
        }
    }

    /// The version of `purpose` that follows `self`: the same when the text is unchanged.
    pub fn next(&self, purpose: &str) -> PurposeVersion {
        let hash = purpose_hash(purpose);
        if hash == self.hash {
            self.clone()
        } else {
            PurposeVersion {
                version: self.version.saturating_add(1),
                hash,
            }
        }
    }
}

/// Lower-case hex SHA-256 of a purpose text, exactly as given.
pub fn purpose_hash(purpose: &str) -> String {
    sha256_hex(&[purpose.as_bytes()])
}

/// A configured consent as stored, with the version of its purpose text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDefinition {
    pub definition: ConsentDefinition,
    pub purpose: PurposeVersion,
    /// The first purpose version whose grants count: the version of the last material
    /// change of the text (1 until one). A grant of an earlier text asks again.
    pub counts_from: u32,
    /// The earlier purpose texts, by version, oldest first: what people agreed to before.
    pub earlier_texts: Vec<(u32, String)>,
}

/// How a changed purpose text changes what people agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PurposeChange {
    /// A correction (a typo, a clearer word): grants of earlier versions still count, and
    /// nobody is asked again. The new version is recorded.
    Correction,
    /// A material change (a new use, a new recipient): grants of earlier versions stop
    /// counting, and people are asked again about the new text.
    Material,
}

impl StoredDefinition {
    /// A consent defined for the first time (or again after a deletion, following the
    /// versions of `earlier`).
    pub fn new(
        definition: ConsentDefinition,
        earlier: Option<&StoredDefinition>,
    ) -> StoredDefinition {
        match earlier {
            Some(earlier) => earlier.changed(definition, PurposeChange::Material),
            None => StoredDefinition {
                purpose: PurposeVersion::first(&definition.purpose),
                definition,
                counts_from: 1,
                earlier_texts: Vec::new(),
            },
        }
    }

    /// This consent defined anew as `definition`; a changed purpose text is the next
    /// version, `change` saying whether earlier grants still count.
    pub fn changed(
        &self,
        definition: ConsentDefinition,
        change: PurposeChange,
    ) -> StoredDefinition {
        let purpose = self.purpose.next(&definition.purpose);
        if purpose == self.purpose {
            return StoredDefinition {
                definition,
                ..self.clone()
            };
        }
        let mut earlier_texts = self.earlier_texts.clone();
        earlier_texts.push((self.purpose.version, self.definition.purpose.clone()));
        StoredDefinition {
            counts_from: match change {
                PurposeChange::Correction => self.counts_from,
                PurposeChange::Material => purpose.version,
            },
            purpose,
            definition,
            earlier_texts,
        }
    }

    pub fn id(&self) -> &ConsentId {
        &self.definition.id
    }

    /// Whether a grant of purpose version `version` counts for this consent now.
    pub fn grant_counts(&self, version: u32) -> bool {
        version >= self.counts_from
    }

    /// The text of purpose version `version`, if this consent had it.
    pub fn text_of(&self, version: u32) -> Option<&str> {
        if version == self.purpose.version {
            return Some(&self.definition.purpose);
        }
        self.earlier_texts
            .iter()
            .find(|(known, _)| *known == version)
            .map(|(_, text)| text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::fields;

    #[test]
    fn consent_ids_are_short_lower_case_words() {
        let cases: &[(&str, bool)] = &[
            ("newsletter", true),
            ("email-tracking-2", true),
            (&"a".repeat(40), true),
            (&"a".repeat(41), false),
            ("", false),
            ("Newsletter", false),
            ("news letter", false),
            ("news_letter", false),
            ("newsletter/1", false),
        ];
        for (raw, expected) in cases {
            assert_eq!(ConsentId::parse(raw).is_ok(), *expected, "{raw}");
        }
    }

    #[test]
    fn clauses_compare_trimmed_ignoring_case_and_test_emptiness() {
        let one_of =
            |values: &[&str]| Condition::OneOf(values.iter().map(|v| (*v).to_owned()).collect());
        let none_of =
            |values: &[&str]| Condition::NoneOf(values.iter().map(|v| (*v).to_owned()).collect());
        let cases: Vec<(Condition, &str, bool)> = vec![
            (one_of(&["DE", "FR"]), "de", true),
            (one_of(&["DE", "FR"]), "  fr ", true),
            (one_of(&[" Österreich "]), "ÖSTERREICH", true),
            (one_of(&["DE", "FR"]), "US", false),
            (one_of(&["DE", "FR"]), "", false),
            (none_of(&["US"]), "de", true),
            (none_of(&["US"]), " us ", false),
            (none_of(&["US"]), "", true),
            (Condition::Present, "x", true),
            (Condition::Present, "   ", false),
            (Condition::Absent, "", true),
            (Condition::Absent, " x ", false),
        ];
        for (condition, value, expected) in cases {
            let clause = Clause {
                field: "country".to_owned(),
                condition: condition.clone(),
            };
            let record = fields(&[("Country", value)]);
            assert_eq!(
                clause.holds(&record),
                expected,
                "{condition:?} on {value:?}"
            );
        }
    }

    #[test]
    fn a_definition_applies_when_every_clause_holds() {
        let definition = |applies_when: Vec<Clause>| ConsentDefinition {
            id: ConsentId::parse("newsletter").unwrap(),
            module: Module::Contacts,
            kind: ConsentKind::Custom,
            title: "Newsletter".to_owned(),
            purpose: "We send news.".to_owned(),
            default: ConsentDefault::No,
            applies_when,
        };
        let in_eu = Clause {
            field: "country".to_owned(),
            condition: Condition::OneOf(vec!["DE".to_owned()]),
        };
        let has_phone = Clause {
            field: "phone".to_owned(),
            condition: Condition::Present,
        };
        let record = fields(&[("country", "DE"), ("phone", "")]);
        let cases = [
            (vec![], true),
            (vec![in_eu.clone()], true),
            (vec![has_phone.clone()], false),
            (vec![in_eu, has_phone], false),
        ];
        for (clauses, expected) in cases {
            assert_eq!(
                definition(clauses.clone()).applies_to(&record),
                expected,
                "{clauses:?}"
            );
        }
    }

    #[test]
    fn the_purpose_version_goes_up_only_when_the_text_changes() {
        let first = PurposeVersion::first("We send news.");
        assert_eq!(first.version, 1);
        assert_eq!(first.hash, purpose_hash("We send news."));
        assert_eq!(first.next("We send news."), first);
        let second = first.next("We send news monthly.");
        assert_eq!(second.version, 2);
        assert_eq!(second.hash, purpose_hash("We send news monthly."));
        assert_eq!(
            second.next("We send news."),
            PurposeVersion {
                version: 3,
                hash: first.hash
            }
        );
    }
}
