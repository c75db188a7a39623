//! Consent definitions: what the business asks for, of whom, and the versioned purpose text.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::consent::ConsentDefault;
use crate::digest::sha256_hex;
use crate::record::{Fields, Module};
use crate::vocabulary::Language;

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
    /// The title and purpose in other languages, at most one per language; a person whose
    /// language has none reads `title` and `purpose`.
    pub translations: Vec<Translation>,
    /// How many months a grant counts (0: until withdrawn). The daily run asks for it again
    /// [`RENEWAL_DAYS`] before it lapses.
    pub max_age_months: u32,
}

/// Days before a grant reaches its consent's maximum age that the daily run asks the
/// person to renew it.
pub const RENEWAL_DAYS: u32 = 30;

/// A consent's title and purpose text in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Translation {
    pub language: Language,
    pub title: String,
    /// The exact purpose text in this language: part of what the person agrees to, so
    /// changing it is a change of the purpose text.
    pub purpose: String,
}

impl ConsentDefinition {
    /// Whether the consent applies to a record with `fields`.
    pub fn applies_to(&self, fields: &Fields) -> bool {
        self.applies_when.iter().all(|clause| clause.holds(fields))
    }

    /// The title and purpose text a person of `language` reads.
    pub fn texts_in(&self, language: Language) -> (&str, &str) {
        self.translation(language)
            .map_or((&self.title, &self.purpose), |translation| {
                (&translation.title, &translation.purpose)
            })
    }

    /// The translation into `language`, if the consent has one.
    pub fn translation(&self, language: Language) -> Option<&Translation> {
        self.translations
            .iter()
            .find(|translation| translation.language == language)
    }

    /// SHA-256 of the purpose texts: the purpose alone, exactly as given, when it has no
    /// translation (so hashes stay as they were before translations); else the purpose
    /// and each translated purpose, in the order given, each after its language tag.
    pub fn purpose_hash(&self) -> String {
        if self.translations.is_empty() {
            return purpose_hash(&self.purpose);
        }
        let mut parts: Vec<&[u8]> = vec![self.purpose.as_bytes()];
        for translation in &self.translations {
            parts.extend([
                b"\0".as_slice(),
                translation.language.as_str().as_bytes(),
                b"\0".as_slice(),
                translation.purpose.as_bytes(),
            ]);
        }
        sha256_hex(&parts)
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

    /// The first version of the purpose texts of `definition`.
    pub fn of(definition: &ConsentDefinition) -> PurposeVersion {
        PurposeVersion {
            version: 1,
            hash: definition.purpose_hash(),
        }
    }

    /// The version of the purpose texts of `definition` that follows `self`: the same when
    /// no text changed.
    pub fn next(&self, definition: &ConsentDefinition) -> PurposeVersion {
        let hash = definition.purpose_hash();
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

/// The first day a grant given at `since` (unix ms) no longer counts under a maximum age
/// of `max_age_months` (0: none): the same day of the month, that many months later.
pub fn grant_expires(since: i64, max_age_months: u32) -> Option<crate::calendar::Date> {
    (max_age_months > 0)
        .then(|| crate::calendar::Date::of_instant(since).add_months(max_age_months))
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
    pub earlier_texts: Vec<EarlierPurpose>,
}

/// The purpose texts of an earlier version of a consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierPurpose {
    pub version: u32,
    pub purpose: String,
    /// The translated purpose texts of that version.
    pub translations: Vec<(Language, String)>,
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
                purpose: PurposeVersion::of(&definition),
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
        let purpose = self.purpose.next(&definition);
        if purpose == self.purpose {
            return StoredDefinition {
                definition,
                ..self.clone()
            };
        }
        let mut earlier_texts = self.earlier_texts.clone();
        earlier_texts.push(EarlierPurpose {
            version: self.purpose.version,
            purpose: self.definition.purpose.clone(),
            translations: self
                .definition
                .translations
                .iter()
                .map(|translation| (translation.language, translation.purpose.clone()))
                .collect(),
        });
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

    /// The first day a grant given at `since` (unix ms) no longer counts; none when grants
    /// of this consent count until withdrawn.
    pub fn grant_expires(&self, since: i64) -> Option<crate::calendar::Date> {
        grant_expires(since, self.definition.max_age_months)
    }

    /// The purpose text of version `version` a person of `language` read, if this consent
    /// had that version (the untranslated text where that version had no translation).
    pub fn text_of(&self, version: u32, language: Language) -> Option<&str> {
        if version == self.purpose.version {
            return Some(self.definition.texts_in(language).1);
        }
        let earlier = self
            .earlier_texts
            .iter()
            .find(|earlier| earlier.version == version)?;
        Some(
            earlier
                .translations
                .iter()
                .find(|(translated, _)| *translated == language)
                .map_or(earlier.purpose.as_str(), |(_, text)| text.as_str()),
        )
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
            translations: Vec::new(),
            max_age_months: 0,
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
    fn the_purpose_version_goes_up_only_when_a_text_changes() {
        let definition = |purpose: &str, translations: &[(Language, &str)]| ConsentDefinition {
            id: ConsentId::parse("newsletter").unwrap(),
            module: Module::Contacts,
            kind: ConsentKind::Custom,
            title: "Newsletter".to_owned(),
            purpose: purpose.to_owned(),
            default: ConsentDefault::No,
            applies_when: Vec::new(),
            max_age_months: 0,
            translations: translations
                .iter()
                .map(|(language, purpose)| Translation {
                    language: *language,
                    title: "Titel".to_owned(),
                    purpose: (*purpose).to_owned(),
                })
                .collect(),
        };
        let first = PurposeVersion::of(&definition("We send news.", &[]));
        assert_eq!(first, PurposeVersion::first("We send news."));
        assert_eq!(first.hash, purpose_hash("We send news."));
        assert_eq!(first.next(&definition("We send news.", &[])), first);
        let second = first.next(&definition("We send news monthly.", &[]));
        assert_eq!(second.version, 2);
        assert_eq!(second.hash, purpose_hash("We send news monthly."));
        assert_eq!(
            second.next(&definition("We send news.", &[])),
            PurposeVersion {
                version: 3,
                hash: first.hash.clone()
            }
        );
        // A translated purpose is part of what people agree to: adding or changing one is
        // a new version; a changed title is not.
        let german = definition("We send news.", &[(Language::German, "Wir senden News.")]);
        let translated = first.next(&german);
        assert_eq!(translated.version, 2);
        assert_eq!(translated.next(&german), translated);
        let reworded = definition("We send news.", &[(Language::German, "Wir schicken News.")]);
        assert_eq!(translated.next(&reworded).version, 3);
        assert_eq!(
            german.texts_in(Language::German),
            ("Titel", "Wir senden News.")
        );
        assert_eq!(
            german.texts_in(Language::French),
            ("Newsletter", "We send news.")
        );
    }
}
