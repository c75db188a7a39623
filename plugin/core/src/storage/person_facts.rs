//! The pre-send check's reader of stored people: the facts a decision needs, read in place
//! from a `person/` value without allocating (the hot path; the formats are the parent's).

use serde::Deserialize;

use super::{
    ModuleInPlace, OLDEST_PERSON_FORMAT, PERSON_FORMAT, SendingIndex, StorageError, take, versioned,
};
use crate::consent::{ConsentDefault, ConsentValue};
use crate::vocabulary::PersonStatus;

/// A consent state as stored, its id borrowed from the stored bytes. Mirrors
/// [`crate::person::ConsentState`] field for field.
///
/// The id is read as bytes: the hot path only compares it with ids of the configuration,
/// and checking it as UTF-8 on every read cost more than the comparison.
#[derive(Deserialize)]
struct ConsentStateInPlace<'a> {
    consent: &'a [u8],
    value: ConsentValue,
    since: i64,
    purpose_version: u32,
    default: ConsentDefault,
}

/// What a send decision needs to know about a stored person, borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonFacts<'a> {
    pub status: PersonStatus,
    /// The value of the consent asked about, with its default; none if it has no value.
    pub purpose: Option<(ConsentValue, ConsentDefault)>,
    /// The consent asked about is Granted, but for a purpose text before its last material
    /// change: the grant no longer counts.
    pub purpose_outdated: bool,
    /// The first day the grant of the consent asked about no longer counts (its maximum
    /// age); none when it is not Granted or counts until withdrawn.
    pub purpose_expires: Option<crate::calendar::Date>,
    /// The value of the module's email-tracking consent; none if it has no value.
    pub email_tracking: Option<ConsentValue>,
    /// What the regime rules read of the record (none in format 1).
    pub regime: RegimeFactsInPlace<'a>,
}

/// [`RegimeFacts`] as stored, borrowed from the stored bytes (dates as their text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct RegimeFactsInPlace<'a> {
    #[serde(borrow)]
    pub fields: [Option<&'a str>; 3],
    #[serde(borrow)]
    pub region: Option<&'a str>,
    #[serde(borrow)]
    pub purchased: Option<&'a str>,
    #[serde(borrow)]
    pub enquired: Option<&'a str>,
}

/// Reads, in place and without allocating, the status, module and the values of the
/// consent `purpose` and of the email-tracking consent the index names for the person's
/// module, from a stored snapshot. A batch reads many: [`PersonReader`] looks the consents
/// up in the index once for all of them.
pub fn read_person_facts<'a>(
    bytes: &'a [u8],
    purpose: Option<&str>,
    index: &SendingIndex<'_>,
) -> Result<PersonFacts<'a>, StorageError> {
    PersonReader::new(purpose, index).read(bytes)
}

/// What reading a batch of snapshots for one purpose needs from the sending index, looked
/// up once per batch instead of once per person.
#[derive(Debug, Clone)]
pub struct PersonReader<'i> {
    purpose: Option<&'i [u8]>,
    /// The purpose consent's first counting version and maximum age (1 and 0 when the
    /// index has no such consent).
    counts_from: u32,
    max_age_months: u32,
    /// The email-tracking consent of each module that has one.
    tracking: Vec<(ModuleInPlace<'i>, &'i [u8])>,
}

impl<'i> PersonReader<'i> {
    pub fn new(purpose: Option<&'i str>, index: &SendingIndex<'i>) -> PersonReader<'i> {
        let (counts_from, max_age_months) = index
            .consents
            .iter()
            .find(|consent| Some(consent.id) == purpose)
            .map_or((1, 0), |consent| {
                (consent.counts_from, consent.max_age_months)
            });
        let mut tracking: Vec<(ModuleInPlace<'i>, &'i [u8])> = Vec::new();
        for consent in index
            .consents
            .iter()
            .filter(|consent| consent.email_tracking)
        {
            // The first of a module counts, as a search of the index would find it.
            if !tracking.iter().any(|(module, _)| *module == consent.module) {
                tracking.push((consent.module, consent.id.as_bytes()));
            }
        }
        PersonReader {
            purpose: purpose.map(str::as_bytes),
            counts_from,
            max_age_months,
            tracking,
        }
    }

    /// The facts of the snapshot stored as `bytes` (see [`read_person_facts`]).
    pub fn read<'a>(&self, bytes: &'a [u8]) -> Result<PersonFacts<'a>, StorageError> {
        const WHAT: &str = "person";
        let (format, rest) = versioned(bytes, OLDEST_PERSON_FORMAT..=PERSON_FORMAT, WHAT)?;
        let (status, rest): (PersonStatus, _) = take(rest, WHAT)?;
        let (module, rest): (ModuleInPlace<'_>, _) = take(rest, WHAT)?;
        // Skipped, so read as bytes: nothing here needs them as text.
        let (_id, rest): (&[u8], _) = take(rest, WHAT)?;
        let (count, mut rest): (u64, _) = take(rest, WHAT)?;
        let tracking = self
            .tracking
            .iter()
            .find(|(tracked, _)| *tracked == module)
            .map(|(_, id)| *id);
        let mut facts = PersonFacts {
            status,
            purpose: None,
            purpose_outdated: false,
            purpose_expires: None,
            email_tracking: None,
            regime: RegimeFactsInPlace::default(),
        };
        for _ in 0..count {
            let (state, remaining): (ConsentStateInPlace<'_>, _) = take(rest, WHAT)?;
            rest = remaining;
            if Some(state.consent) == self.purpose {
                facts.purpose = Some((state.value, state.default));
                let granted = state.value == ConsentValue::Granted;
                facts.purpose_outdated = granted && state.purpose_version < self.counts_from;
                facts.purpose_expires = granted
                    .then(|| crate::definition::grant_expires(state.since, self.max_age_months))
                    .flatten();
            }
            if Some(state.consent) == tracking {
                facts.email_tracking = Some(state.value);
            }
        }
        // Formats 2 on carry the regime facts after the last request and the name.
        if format >= 2 {
            let (_last_request, rest): (Option<&[u8]>, _) = take(rest, WHAT)?;
            let (_name, rest): (&[u8], _) = take(rest, WHAT)?;
            facts.regime = take(rest, WHAT)?.0;
        }
        Ok(facts)
    }
}
