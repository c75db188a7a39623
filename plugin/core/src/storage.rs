//! The storage layout: every key the plugin writes, and the bytes stored under it.
//!
//! | key | value |
//! |---|---|
//! | `config` | [`CONFIG_FORMAT`] byte, then the *sending index* (postcard: enabled flag, per consent its id, module, whether it is the module's email-tracking consent and the first purpose version whose grants count; the suppression salt; the regime rules), then the whole [`Configuration`] (postcard: settings, stored definitions with purpose version and hash, enablement with enabled-at and the de-duplication confirmation, suppression salt, field classes per module, deleted consents). Formats 4 to 7 are still read, each upgraded a step at a time (`configuration/upgrade.rs`): see [`decode_configuration`] |
//! | `person/<address>` | [`PERSON_FORMAT`] byte, then the [`PersonSnapshot`] (postcard) of the record that owns the normalised address: status, record ref, consent states sorted by id (value, since, purpose version, default at the time), last request period, name |
//! | `record/<module>/<id>` | [`RECORD_FORMAT`] byte, then a [`RecordEntry`] (postcard): `Owner(address)` when the record's snapshot is `person/<address>`; `Detached { address, snapshot }` when the record has no usable address, or another record owns its address, so its snapshot lives here and it is never mailed |
//! | `suppressed/<hex>` | [`crate::restriction::SUPPRESSION_FORMAT`] byte, then a [`crate::restriction::SuppressionMarker`] (postcard: the erased record, when): the marker an erasure leaves instead of `person/<address>`; `<hex>` is SHA-256 of the configuration's salt and the normalised address ([`crate::restriction::suppression_key`]) |
//! | `safeguards` | [`crate::safeguards::SAFEGUARDS_FORMAT`] byte, then the [`crate::safeguards::SafeguardSettings`] (postcard); absent: the defaults |
//! | `feedback/<hex>` | [`crate::feedback::FEEDBACK_FORMAT`] byte, then the address's delivery feedback (postcard: suppression and its kind, soft bounces in a row, the last reports to recognise a repeat); `<hex>` a salted SHA-256 of the address, as an erased one's marker |
//! | `link-handle/<base64>` | [`crate::link::HANDLE_ENTRY_FORMAT`] byte, then the record an opaque preferences link's person handle (a MAC of the record under the link key) stands for; written with the record's first link |
//! | `request-sent/<hex>`, `link-mailed/<hex>` | [`crate::web_forms::LIMIT_FORMAT`] byte, then when the address was last sent a consent request, or its link again (ms); `<hex>` a MAC of the address |
//! | `withheld/<module>/<id>` | [`crate::web_forms::LIMIT_FORMAT`] byte, then why a web-form record is sent no request (honeypot filled, token missing, forged, too new or too old) |
//!
//! Events go to one stream per record (`contacts/42`), see [`crate::event`]. The snapshots
//! are caches of those events: when a record's snapshot is missing, the adapter rebuilds it
//! with [`crate::person::fold`] over the record's stream.
//!
//! The sending index sits first in `config` and the snapshot starts with what a send
//! decision needs (status, record, consents), so the hot path ([`crate::sending`]) reads
//! both in place, borrowing strings from the stored bytes, without decoding the rest.
//!
//! An address is owned by the first record that claims it and released when that record's
//! address changes; the next record seen with the address then claims it ([`place`]).
//! Records sharing an address keep their own (detached) snapshots until de-duplication
//! flags them ([`crate::deduplication`]): then the primary, the last modified record, owns
//! the address and the duplicates stay detached with status `Duplicate`. Between a release and the next observation of another record with that
//! address (its next change, or the next daily run), a send to the address finds nobody:
//! marketing to it is refused, the safe side.

use crate::vocabulary::{PersonStatus, Regime};
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::address::{Address, push_normalised};
use crate::calendar::Date;
use crate::configuration::regimes::{RegimeFacts, RegimeRules};
use crate::configuration::{
    Configuration, ConfigurationV4, ConfigurationV5, ConfigurationV6, ConfigurationV7,
};
use crate::definition::ConsentKind;
use crate::person::{ConsentState, PersonSnapshot, RequestState};
use crate::record::{Module, RecordRef};

/// The key of the configuration.
pub const CONFIG_KEY: &str = "config";
/// Format version of the `config` value (2: settings carry `flag_new_duplicates`; 3:
/// settings carry `retained_fields`, the configuration its suppression salt; 4: the
/// configuration carries the fields' personal-data classes; 5: deleted consents; 6: the
/// sending index carries the suppression salt, the settings the person modules; 7: the
/// settings and the sending index carry the regime rules; 8: consents carry the version
/// grants count from, earlier texts and translations, the settings the language rules).
pub const CONFIG_FORMAT: u8 = 8;
/// The oldest `config` format this engine still reads (and upgrades when it next writes).
pub const OLDEST_CONFIG_FORMAT: u8 = 4;
/// Format version of `person/` values (2: the regime facts and the request state at the
/// end; 3: the language fact after them).
pub const PERSON_FORMAT: u8 = 3;
/// The oldest `person/` format this engine still reads: 1, without regime facts (read as
/// none: the person counts under the default regime until the record is seen again).
pub const OLDEST_PERSON_FORMAT: u8 = 1;
/// Format version of `record/` values (2: a detached snapshot is of person format 2; 3: of
/// person format 3).
pub const RECORD_FORMAT: u8 = 3;
/// The oldest `record/` format this engine still reads: 1, whose detached snapshot is of
/// person format 1.
pub const OLDEST_RECORD_FORMAT: u8 = 1;

const PERSON_PREFIX: &str = "person/";

/// Stored bytes that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the stored {what} is empty")]
    Empty { what: &'static str },
    #[error(
        "the stored {what} has format version {version}; this engine reads versions {oldest} to {newest} (a newer plugin wrote it, or it is damaged)"
    )]
    UnknownFormat {
        what: &'static str,
        version: u8,
        oldest: u8,
        newest: u8,
    },
    #[error("the stored {what} cannot be decoded: {source}")]
    Decode {
        what: &'static str,
        source: postcard::Error,
    },
    #[error("the {what} cannot be encoded: {source}")]
    Encode {
        what: &'static str,
        source: postcard::Error,
    },
    #[error("{recipients} recipients but {snapshots} stored snapshots")]
    BatchMismatch { recipients: usize, snapshots: usize },
}

/// The key of the person whose address is `address` (normalised here: trimmed, lower case).
pub fn person_key(address: &str) -> String {
    let mut key = String::with_capacity(PERSON_PREFIX.len() + address.len());
    key.push_str(PERSON_PREFIX);
    push_normalised(&mut key, address);
    key
}

/// The key of a record's entry: `record/<module>/<id>`.
pub fn record_key(record: &RecordRef) -> String {
    format!("record/{}/{}", record.module.as_str(), record.id)
}

/// Where a record's snapshot lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordEntry {
    /// The record owns the address: its snapshot is `person/<address>`.
    Owner(Address),
    /// The record's snapshot is held here: it has no usable address, or another record
    /// owns it.
    Detached {
        address: Option<Address>,
        snapshot: Box<PersonSnapshot>,
    },
}

impl RecordEntry {
    /// The entry of a record whose snapshot lives at `location`.
    pub fn new(location: &Location, snapshot: &PersonSnapshot) -> RecordEntry {
        match location {
            Location::Person(address) => RecordEntry::Owner(address.clone()),
            Location::Record { address } => RecordEntry::Detached {
                address: address.clone(),
                snapshot: Box::new(snapshot.clone()),
            },
        }
    }
}

/// Where a record's snapshot lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The record owns the address: `person/<address>`, read on every send.
    Person(Address),
    /// Inside the record's own entry: no usable address, or another record owns it.
    Record { address: Option<Address> },
}

impl Location {
    /// The record's address, if it has a usable one.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Location::Person(address) => Some(address),
            Location::Record { address } => address.as_ref(),
        }
    }
}

/// Where a record's snapshot goes now that the record's address is `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub location: Location,
    /// The `person/` address the record owned and gives up: delete that key.
    pub released: Option<Address>,
}

/// Places the snapshot of `record`, whose address is now `address`, given where it was
/// (`previous`) and which record's snapshot is stored under `person/<address>` (`owner`).
/// The first record to claim an address owns it; a record sharing an address that another
/// record owns keeps its snapshot in its own entry.
pub fn place(
    record: &RecordRef,
    address: Option<Address>,
    previous: Option<&Location>,
    owner: Option<&RecordRef>,
) -> Placement {
    let location = match address {
        None => Location::Record { address: None },
        Some(address) => match owner {
            Some(owner) if owner != record => Location::Record {
                address: Some(address),
            },
            _ => Location::Person(address),
        },
    };
    let released = match previous {
        Some(Location::Person(previous)) if location != Location::Person(previous.clone()) => {
            Some(previous.clone())
        }
        _ => None,
    };
    Placement { location, released }
}

/// A module as stored, its name borrowed from the stored bytes: the same stored form as
/// [`Module`], read without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModuleInPlace<'a> {
    Contacts,
    Leads,
    Other(&'a str),
}

impl<'a> ModuleInPlace<'a> {
    fn of(module: &'a Module) -> ModuleInPlace<'a> {
        match module {
            Module::Contacts => ModuleInPlace::Contacts,
            Module::Leads => ModuleInPlace::Leads,
            Module::Other(name) => ModuleInPlace::Other(name),
        }
    }
}

/// One consent of the sending index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedConsent<'a> {
    pub id: &'a str,
    #[serde(borrow)]
    pub module: ModuleInPlace<'a>,
    pub email_tracking: bool,
    /// The first purpose version whose grants count (see
    /// [`StoredDefinition::counts_from`]).
    pub counts_from: u32,
    /// Months a grant counts (0: until withdrawn).
    pub max_age_months: u32,
}

/// One consent of the sending index of formats 4 to 6: before material changes.
#[derive(Deserialize)]
struct IndexedConsentV6<'a> {
    id: &'a str,
    #[serde(borrow)]
    module: ModuleInPlace<'a>,
    email_tracking: bool,
}

impl<'a> From<IndexedConsentV6<'a>> for IndexedConsent<'a> {
    fn from(old: IndexedConsentV6<'a>) -> IndexedConsent<'a> {
        IndexedConsent {
            id: old.id,
            module: old.module,
            email_tracking: old.email_tracking,
            counts_from: 1,
            max_age_months: 0,
        }
    }
}

/// What a send decision needs from the configuration, read in place from `config`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SendingIndex<'a> {
    pub enabled: bool,
    #[serde(borrow)]
    pub consents: Vec<IndexedConsent<'a>>,
    /// The salt of suppression markers, once an erasure made one: a recipient nobody holds
    /// is looked up by it, so mail to an erased address is refused.
    #[serde(borrow)]
    pub suppression_salt: Option<Cow<'a, [u8]>>,
    /// Which legal regime applies to whom.
    #[serde(borrow)]
    pub regimes: RegimeIndex<'a>,
}

/// The regime rules as the hot path reads them, borrowed from the stored bytes (see
/// [`crate::configuration::regimes::RegimeRules`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegimeIndex<'a> {
    #[serde(borrow)]
    pub field: Option<&'a str>,
    /// Normalised values and their regime.
    #[serde(borrow)]
    pub values: Vec<(&'a str, Regime)>,
    pub default: Regime,
    #[serde(borrow)]
    pub purchase_field: Option<&'a str>,
    #[serde(borrow)]
    pub enquiry_field: Option<&'a str>,
    #[serde(borrow)]
    pub soft_opt_in: Vec<&'a str>,
}

impl<'a> RegimeIndex<'a> {
    pub(crate) fn of(rules: &'a RegimeRules) -> RegimeIndex<'a> {
        RegimeIndex {
            field: rules.field.as_deref(),
            values: rules
                .values
                .iter()
                .map(|(value, regime)| (value.as_str(), *regime))
                .collect(),
            default: rules.default,
            purchase_field: rules.purchase_field.as_deref(),
            enquiry_field: rules.enquiry_field.as_deref(),
            soft_opt_in: rules.soft_opt_in.iter().map(String::as_str).collect(),
        }
    }
}

/// The sending index of format 7: consents without the version their grants count from.
#[derive(Deserialize)]
struct SendingIndexV7<'a> {
    enabled: bool,
    #[serde(borrow)]
    consents: Vec<IndexedConsentV6<'a>>,
    #[serde(borrow)]
    suppression_salt: Option<Cow<'a, [u8]>>,
    #[serde(borrow)]
    regimes: RegimeIndex<'a>,
}

/// The sending index of format 6: without the regime rules.
#[derive(Deserialize)]
struct SendingIndexV6<'a> {
    enabled: bool,
    #[serde(borrow)]
    consents: Vec<IndexedConsentV6<'a>>,
    #[serde(borrow)]
    suppression_salt: Option<Cow<'a, [u8]>>,
}

/// The sending index of formats 4 and 5: without the suppression salt.
#[derive(Deserialize)]
struct SendingIndexV4<'a> {
    enabled: bool,
    #[serde(borrow)]
    consents: Vec<IndexedConsentV6<'a>>,
}

impl<'a> SendingIndex<'a> {
    fn of(configuration: &'a Configuration) -> SendingIndex<'a> {
        SendingIndex {
            enabled: configuration.is_enabled(),
            consents: configuration
                .consents()
                .iter()
                .map(|stored| IndexedConsent {
                    id: stored.id().as_str(),
                    module: ModuleInPlace::of(&stored.definition.module),
                    email_tracking: stored.definition.kind == ConsentKind::EmailTracking,
                    counts_from: stored.counts_from,
                    max_age_months: stored.definition.max_age_months,
                })
                .collect(),
            suppression_salt: configuration.suppression_salt().map(Cow::Borrowed),
            regimes: configuration
                .settings()
                .map(|settings| RegimeIndex::of(settings.regimes()))
                .unwrap_or_default(),
        }
    }
}

fn encode<T: Serialize>(
    format: u8,
    value: &T,
    what: &'static str,
) -> Result<Vec<u8>, StorageError> {
    append(vec![format], value, what)
}

fn append<T: Serialize>(
    bytes: Vec<u8>,
    value: &T,
    what: &'static str,
) -> Result<Vec<u8>, StorageError> {
    postcard::to_extend(value, bytes).map_err(|source| StorageError::Encode { what, source })
}

/// The format byte and the bytes after it, if the format is one of `readable`.
fn versioned<'a>(
    bytes: &'a [u8],
    readable: std::ops::RangeInclusive<u8>,
    what: &'static str,
) -> Result<(u8, &'a [u8]), StorageError> {
    match bytes.split_first() {
        None => Err(StorageError::Empty { what }),
        Some((&version, rest)) if readable.contains(&version) => Ok((version, rest)),
        Some((&version, _)) => Err(StorageError::UnknownFormat {
            what,
            version,
            oldest: *readable.start(),
            newest: *readable.end(),
        }),
    }
}

fn take<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(T, &'a [u8]), StorageError> {
    postcard::take_from_bytes(bytes).map_err(|source| StorageError::Decode { what, source })
}

fn whole<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &'static str) -> Result<T, StorageError> {
    postcard::from_bytes(bytes).map_err(|source| StorageError::Decode { what, source })
}

/// The `config` value of `configuration`.
pub fn encode_configuration(configuration: &Configuration) -> Result<Vec<u8>, StorageError> {
    let bytes = encode(
        CONFIG_FORMAT,
        &SendingIndex::of(configuration),
        "configuration",
    )?;
    append(bytes, configuration, "configuration")
}

/// The configuration stored as `bytes`; the empty configuration when nothing is stored.
/// Formats 4 and 5 are upgraded on the way, a step at a time
/// (`configuration/upgrade.rs`); the next write stores the current format.
pub fn decode_configuration(bytes: Option<&[u8]>) -> Result<Configuration, StorageError> {
    const WHAT: &str = "configuration";
    let Some(bytes) = bytes else {
        return Ok(Configuration::default());
    };
    match versioned(bytes, OLDEST_CONFIG_FORMAT..=CONFIG_FORMAT, WHAT)? {
        (CONFIG_FORMAT, rest) => {
            let (_index, rest): (SendingIndex<'_>, _) = take(rest, WHAT)?;
            whole(rest, WHAT)
        }
        (7, rest) => {
            let (_index, rest): (SendingIndexV7<'_>, _) = take(rest, WHAT)?;
            let v7: ConfigurationV7 = whole(rest, WHAT)?;
            Ok(Configuration::from(v7))
        }
        (6, rest) => {
            let (_index, rest): (SendingIndexV6<'_>, _) = take(rest, WHAT)?;
            let v6: ConfigurationV6 = whole(rest, WHAT)?;
            Ok(Configuration::from(ConfigurationV7::from(v6)))
        }
        (5, rest) => {
            let (_index, rest): (SendingIndexV4<'_>, _) = take(rest, WHAT)?;
            let v5: ConfigurationV5 = whole(rest, WHAT)?;
            Ok(Configuration::from(ConfigurationV7::from(
                ConfigurationV6::from(v5),
            )))
        }
        (_, rest) => {
            let (_index, rest): (SendingIndexV4<'_>, _) = take(rest, WHAT)?;
            let v4: ConfigurationV4 = whole(rest, WHAT)?;
            Ok(Configuration::from(ConfigurationV7::from(
                ConfigurationV6::from(ConfigurationV5::from(v4)),
            )))
        }
    }
}

/// The sending index of the configuration stored as `bytes`, borrowing from them; consents
/// are disabled and none defined when nothing is stored. Formats 4 and 5, whose index
/// lacks the suppression salt, are read whole to find it.
pub fn decode_sending_index(bytes: Option<&[u8]>) -> Result<SendingIndex<'_>, StorageError> {
    const WHAT: &str = "configuration";
    let Some(bytes) = bytes else {
        return Ok(SendingIndex::default());
    };
    match versioned(bytes, OLDEST_CONFIG_FORMAT..=CONFIG_FORMAT, WHAT)? {
        (CONFIG_FORMAT, rest) => take(rest, WHAT).map(|(index, _)| index),
        (7, rest) => {
            let (index, _): (SendingIndexV7<'_>, _) = take(rest, WHAT)?;
            Ok(upgraded_index(
                index.enabled,
                index.consents,
                index.suppression_salt,
                index.regimes,
            ))
        }
        (6, rest) => {
            let (index, _): (SendingIndexV6<'_>, _) = take(rest, WHAT)?;
            Ok(upgraded_index(
                index.enabled,
                index.consents,
                index.suppression_salt,
                RegimeIndex::default(),
            ))
        }
        (_, rest) => {
            let (index, _): (SendingIndexV4<'_>, _) = take(rest, WHAT)?;
            let salt = decode_configuration(Some(bytes))?
                .suppression_salt()
                .map(|salt| Cow::Owned(salt.to_vec()));
            Ok(upgraded_index(
                index.enabled,
                index.consents,
                salt,
                RegimeIndex::default(),
            ))
        }
    }
}

/// The index of today's format from the parts of an older one.
fn upgraded_index<'a>(
    enabled: bool,
    consents: Vec<IndexedConsentV6<'a>>,
    suppression_salt: Option<Cow<'a, [u8]>>,
    regimes: RegimeIndex<'a>,
) -> SendingIndex<'a> {
    SendingIndex {
        enabled,
        consents: consents.into_iter().map(IndexedConsent::from).collect(),
        suppression_salt,
        regimes,
    }
}

/// The `person/` (or detached) value of `snapshot`.
pub fn encode_person(snapshot: &PersonSnapshot) -> Result<Vec<u8>, StorageError> {
    encode(PERSON_FORMAT, snapshot, "person")
}

pub fn decode_person(bytes: &[u8]) -> Result<PersonSnapshot, StorageError> {
    const WHAT: &str = "person";
    match versioned(bytes, OLDEST_PERSON_FORMAT..=PERSON_FORMAT, WHAT)? {
        (PERSON_FORMAT, rest) => whole(rest, WHAT),
        (2, rest) => whole::<PersonSnapshotV2>(rest, WHAT).map(PersonSnapshot::from),
        (_, rest) => whole::<PersonSnapshotV1>(rest, WHAT).map(PersonSnapshot::from),
    }
}

/// A `person/` value of format 2: the same but for the language fact.
#[derive(Deserialize)]
struct PersonSnapshotV2 {
    status: PersonStatus,
    record: RecordRef,
    consents: Vec<ConsentState>,
    last_request: Option<Date>,
    name: String,
    regime_facts: RegimeFacts,
    requests: RequestState,
}

impl From<PersonSnapshotV2> for PersonSnapshot {
    /// No language was read: the person gets the default until the record is seen again.
    fn from(old: PersonSnapshotV2) -> PersonSnapshot {
        PersonSnapshot {
            status: old.status,
            record: old.record,
            consents: old.consents,
            last_request: old.last_request,
            name: old.name,
            regime_facts: old.regime_facts,
            requests: old.requests,
            language: None,
        }
    }
}

/// A `person/` value of format 1: the same but for the regime facts.
#[derive(Deserialize)]
struct PersonSnapshotV1 {
    status: PersonStatus,
    record: RecordRef,
    consents: Vec<ConsentState>,
    last_request: Option<Date>,
    name: String,
}

impl From<PersonSnapshotV1> for PersonSnapshot {
    fn from(old: PersonSnapshotV1) -> PersonSnapshot {
        PersonSnapshot {
            status: old.status,
            record: old.record,
            consents: old.consents,
            last_request: old.last_request,
            name: old.name,
            regime_facts: RegimeFacts::default(),
            requests: RequestState::default(),
            language: None,
        }
    }
}

pub fn encode_record_entry(entry: &RecordEntry) -> Result<Vec<u8>, StorageError> {
    encode(RECORD_FORMAT, entry, "record entry")
}

pub fn decode_record_entry(bytes: &[u8]) -> Result<RecordEntry, StorageError> {
    const WHAT: &str = "record entry";
    match versioned(bytes, OLDEST_RECORD_FORMAT..=RECORD_FORMAT, WHAT)? {
        (RECORD_FORMAT, rest) => whole(rest, WHAT),
        (2, rest) => whole::<RecordEntryV2>(rest, WHAT).map(RecordEntry::from),
        (_, rest) => whole::<RecordEntryV1>(rest, WHAT).map(RecordEntry::from),
    }
}

/// A `record/` value of format 2: a detached snapshot of person format 2.
#[derive(Deserialize)]
enum RecordEntryV2 {
    Owner(Address),
    Detached {
        address: Option<Address>,
        // Boxed as today's entry is; postcard reads it as the snapshot itself.
        snapshot: Box<PersonSnapshotV2>,
    },
}

impl From<RecordEntryV2> for RecordEntry {
    fn from(old: RecordEntryV2) -> RecordEntry {
        match old {
            RecordEntryV2::Owner(address) => RecordEntry::Owner(address),
            RecordEntryV2::Detached { address, snapshot } => RecordEntry::Detached {
                address,
                snapshot: Box::new(PersonSnapshot::from(*snapshot)),
            },
        }
    }
}

/// A `record/` value of format 1: a detached snapshot of person format 1.
#[derive(Deserialize)]
enum RecordEntryV1 {
    Owner(Address),
    Detached {
        address: Option<Address>,
        snapshot: PersonSnapshotV1,
    },
}

impl From<RecordEntryV1> for RecordEntry {
    fn from(old: RecordEntryV1) -> RecordEntry {
        match old {
            RecordEntryV1::Owner(address) => RecordEntry::Owner(address),
            RecordEntryV1::Detached { address, snapshot } => RecordEntry::Detached {
                address,
                snapshot: Box::new(PersonSnapshot::from(snapshot)),
            },
        }
    }
}

/// Where a paged job stands: the module it is in and the CRM's cursor within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCursor {
    pub module: Module,
    pub crm: Option<String>,
}

impl RunCursor {
    /// `contacts` at the start of a module, `contacts:<crm cursor>` within it.
    pub fn encode(&self) -> String {
        match &self.crm {
            None => self.module.as_str().to_owned(),
            Some(crm) => format!("{}:{crm}", self.module.as_str()),
        }
    }

    pub fn decode(text: &str) -> Option<RunCursor> {
        let (module, crm) = match text.split_once(':') {
            Some((module, crm)) => (module, Some(crm.to_owned())),
            None => (text, None),
        };
        Module::parse(module)
            .ok()
            .map(|module| RunCursor { module, crm })
    }
}

mod person_facts;

pub use person_facts::{PersonFacts, PersonReader, RegimeFactsInPlace, read_person_facts};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Date;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::consent::{ConsentDefault, ConsentValue};
    use crate::definition::ConsentId;
    use crate::person::ConsentState;

    fn snapshot(
        status: PersonStatus,
        states: &[(&str, ConsentValue, ConsentDefault)],
    ) -> PersonSnapshot {
        let mut snapshot = PersonSnapshot::new(
            RecordRef::new(Module::Leads, "7"),
            "Ada Lovelace".to_owned(),
        );
        snapshot.status = status;
        snapshot.last_request = Some(Date::parse("2024-05-01").unwrap());
        snapshot.consents = states
            .iter()
            .map(|(id, value, default)| ConsentState {
                consent: ConsentId::parse(id).unwrap(),
                value: *value,
                since: -5,
                purpose_version: 300,
                default: *default,
            })
            .collect();
        snapshot
    }

    fn configuration() -> Configuration {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(
                definition_input("newsletter", "leads", ConsentKind::Custom),
                None,
            )
            .unwrap();
        configuration
            .put_consent(
                definition_input("tracking", "leads", ConsentKind::EmailTracking),
                None,
            )
            .unwrap();
        configuration
            .put_consent(
                definition_input("contact-tracking", "contacts", ConsentKind::EmailTracking),
                None,
            )
            .unwrap();
        configuration.enable(true, 9).unwrap();
        configuration
    }

    #[test]
    fn person_keys_are_normalised_addresses() {
        let cases = [
            (" Ada@Example.ORG ", "person/ada@example.org"),
            ("ÄDA@example.org", "person/äda@example.org"),
            ("not an address", "person/not an address"),
        ];
        for (address, key) in cases {
            assert_eq!(person_key(address), key);
        }
        assert_eq!(
            record_key(&RecordRef::new(Module::Contacts, "42")),
            "record/contacts/42"
        );
    }

    #[test]
    fn stored_values_round_trip() {
        let configuration = configuration();
        let bytes = encode_configuration(&configuration).unwrap();
        assert_eq!(decode_configuration(Some(&bytes)).unwrap(), configuration);
        assert_eq!(
            decode_configuration(None).unwrap(),
            Configuration::default()
        );

        let person = snapshot(
            PersonStatus::Duplicate { since: 3 },
            &[("newsletter", ConsentValue::Waiting, ConsentDefault::Yes)],
        );
        assert_eq!(
            decode_person(&encode_person(&person).unwrap()).unwrap(),
            person
        );

        let entries = [
            RecordEntry::new(
                &Location::Person(Address::parse("ada@example.org").unwrap()),
                &person,
            ),
            RecordEntry::Detached {
                address: None,
                snapshot: Box::new(person.clone()),
            },
            RecordEntry::Detached {
                address: Some(Address::parse("ada@example.org").unwrap()),
                snapshot: Box::new(person),
            },
        ];
        for entry in entries {
            assert_eq!(
                decode_record_entry(&encode_record_entry(&entry).unwrap()).unwrap(),
                entry
            );
        }
    }

    #[test]
    fn the_sending_index_is_read_in_place_from_the_stored_configuration() {
        let configuration = configuration();
        let bytes = encode_configuration(&configuration).unwrap();
        let index = decode_sending_index(Some(&bytes)).unwrap();
        assert!(index.enabled);
        let expected = [
            ("newsletter", ModuleInPlace::Leads, false),
            ("tracking", ModuleInPlace::Leads, true),
            ("contact-tracking", ModuleInPlace::Contacts, true),
        ];
        let found: Vec<_> = index
            .consents
            .iter()
            .map(|consent| (consent.id, consent.module, consent.email_tracking))
            .collect();
        assert_eq!(found, expected);
        assert_eq!(decode_sending_index(None).unwrap(), SendingIndex::default());
    }

    #[test]
    fn person_facts_read_in_place_agree_with_the_full_snapshot() {
        use ConsentValue::*;
        let configuration = configuration();
        let config_bytes = encode_configuration(&configuration).unwrap();
        let index = decode_sending_index(Some(&config_bytes)).unwrap();
        /// (stored person, purpose asked about, expected purpose facts, expected tracking)
        type Row = (
            PersonSnapshot,
            Option<&'static str>,
            Option<(ConsentValue, ConsentDefault)>,
            Option<ConsentValue>,
        );
        let cases: Vec<Row> = vec![
            (
                snapshot(PersonStatus::Active, &[]),
                Some("newsletter"),
                None,
                None,
            ),
            (
                snapshot(
                    PersonStatus::Active,
                    &[
                        ("newsletter", Waiting, ConsentDefault::Yes),
                        ("tracking", Granted, ConsentDefault::No),
                    ],
                ),
                Some("newsletter"),
                Some((Waiting, ConsentDefault::Yes)),
                Some(Granted),
            ),
            (
                snapshot(
                    PersonStatus::Restricted { since: 1 },
                    &[
                        ("contact-tracking", Granted, ConsentDefault::No),
                        ("newsletter", NotGranted, ConsentDefault::No),
                    ],
                ),
                None,
                None,
                None,
            ),
            (
                snapshot(
                    PersonStatus::Erased { since: i64::MAX },
                    &[
                        ("a", Applicable, ConsentDefault::No),
                        ("tracking", NotApplicable, ConsentDefault::No),
                    ],
                ),
                Some("a"),
                Some((Applicable, ConsentDefault::No)),
                Some(NotApplicable),
            ),
        ];
        for (person, purpose, expected_purpose, expected_tracking) in cases {
            let bytes = encode_person(&person).unwrap();
            let facts = read_person_facts(&bytes, purpose, &index).unwrap();
            assert_eq!(facts.status, person.status);
            assert_eq!(facts.purpose, expected_purpose, "{person:?}");
            assert_eq!(facts.email_tracking, expected_tracking, "{person:?}");
        }
    }

    fn from_hex(hex: &str) -> Vec<u8> {
        let hex = hex.trim();
        (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_configuration_of_format_4_is_read_and_upgraded_keeping_what_it_did() {
        // Written by the first release (tests/fixtures/upgrade/2026-11-29-e9a9756): settings
        // without the notification and IP policies, no deleted consents, no person modules.
        let bytes = from_hex(include_str!("../../../tests/fixtures/plugin/config-v4.hex"));
        assert_eq!(bytes[0], 4);
        let configuration = decode_configuration(Some(&bytes)).unwrap();
        assert!(configuration.is_enabled());
        let ids: Vec<&str> = configuration
            .consents()
            .iter()
            .map(|stored| stored.id().as_str())
            .collect();
        assert_eq!(ids, ["news", "phone"]);
        let settings = configuration.settings().unwrap();
        assert_eq!(settings.organisation(), "Example Ltd");
        assert_eq!(settings.retained_fields(), ["name"]);
        // That release sent no confirmation mails and truncated IP addresses.
        assert_eq!(
            settings.confirm_changes(),
            crate::vocabulary::ConfirmationPolicy::Never
        );
        assert_eq!(
            settings.ip_evidence(),
            crate::vocabulary::IpPolicy::Truncate
        );
        assert_eq!(configuration.person_modules(), Module::defaults());
        let index = decode_sending_index(Some(&bytes)).unwrap();
        assert!(index.enabled);
        assert_eq!(
            index.suppression_salt.as_deref(),
            configuration.suppression_salt()
        );
        let upgraded = encode_configuration(&configuration).unwrap();
        assert_eq!(upgraded[0], CONFIG_FORMAT);
        assert_eq!(
            decode_configuration(Some(&upgraded)).unwrap(),
            configuration
        );
    }

    #[test]
    fn a_configuration_of_format_7_is_read_and_every_grant_still_counts() {
        // Written by the engine of 1 December 2026 with regimes (commit c3be0c6): `news`
        // changed its purpose text once (version 2), `phone` deleted, the US opt-out.
        let bytes = from_hex(include_str!("../../../tests/fixtures/plugin/config-v7.hex"));
        assert_eq!(bytes[0], 7);
        let configuration = decode_configuration(Some(&bytes)).unwrap();
        let news = configuration.consent("news").unwrap();
        assert_eq!(news.purpose.version, 2);
        assert_eq!(news.counts_from, 1, "a grant of either text still counts");
        assert!(news.grant_counts(1));
        assert!(
            news.earlier_texts.is_empty(),
            "format 7 kept no earlier text"
        );
        let deleted: Vec<&str> = configuration
            .deleted_consents_of(&Module::Contacts)
            .map(|stored| stored.id().as_str())
            .collect();
        assert_eq!(deleted, ["phone"]);
        let settings = configuration.settings().unwrap();
        assert_eq!(settings.regimes().default, Regime::OptIn);
        assert_eq!(
            settings.regimes().values,
            [("us".to_owned(), Regime::OptOut)]
        );
        let index = decode_sending_index(Some(&bytes)).unwrap();
        assert!(index.enabled);
        assert_eq!(index.regimes.values, [("us", Regime::OptOut)]);
        assert_eq!(index.consents[0].counts_from, 1);
        let upgraded = encode_configuration(&configuration).unwrap();
        assert_eq!(upgraded[0], CONFIG_FORMAT);
        assert_eq!(
            decode_configuration(Some(&upgraded)).unwrap(),
            configuration
        );
        assert_eq!(decode_sending_index(Some(&upgraded)).unwrap(), index);
    }

    #[test]
    fn a_configuration_of_format_6_is_read_and_upgraded_with_everyone_opt_in() {
        // Written by the host of 1 December 2026 before regimes (tests/fixtures/upgrade/make.sh
        // run with that commit's binary): settings without regime rules.
        let bytes = from_hex(include_str!("../../../tests/fixtures/plugin/config-v6.hex"));
        assert_eq!(bytes[0], 6);
        let configuration = decode_configuration(Some(&bytes)).unwrap();
        let settings = configuration.settings().unwrap();
        assert_eq!(settings.organisation(), "Example Ltd");
        assert_eq!(settings.regimes(), &RegimeRules::default());
        assert_eq!(settings.regimes().default, Regime::OptIn);
        let index = decode_sending_index(Some(&bytes)).unwrap();
        assert_eq!(index.regimes, RegimeIndex::default());
        assert!(
            index.suppression_salt.is_some(),
            "an erasure salted the markers"
        );
        let upgraded = encode_configuration(&configuration).unwrap();
        assert_eq!(upgraded[0], CONFIG_FORMAT);
        assert_eq!(
            decode_configuration(Some(&upgraded)).unwrap(),
            configuration
        );
        assert_eq!(decode_sending_index(Some(&upgraded)).unwrap(), index);
    }

    #[test]
    fn a_configuration_of_format_5_is_read_and_upgraded() {
        // Written by the engine of configuration format 5: settings without person
        // modules, a sending index without the suppression salt (salt: 32 bytes of 7).
        let bytes = from_hex(include_str!("../../../tests/fixtures/plugin/config-v5.hex"));
        assert_eq!(bytes[0], 5);
        let configuration = decode_configuration(Some(&bytes)).unwrap();
        assert!(configuration.is_enabled());
        assert_eq!(configuration.consents().len(), 3);
        assert_eq!(configuration.suppression_salt(), Some(&[7_u8; 32][..]));
        assert_eq!(configuration.person_modules(), Module::defaults());
        let settings = configuration.settings().unwrap();
        assert_eq!(settings.sender_address().as_str(), "privacy@example.org");
        let index = decode_sending_index(Some(&bytes)).unwrap();
        assert_eq!(index.suppression_salt.as_deref(), Some(&[7_u8; 32][..]));
        assert_eq!(index.consents.len(), 3);
        // Written again, it is the current format and reads back the same.
        let upgraded = encode_configuration(&configuration).unwrap();
        assert_eq!(upgraded[0], CONFIG_FORMAT);
        assert_eq!(
            decode_configuration(Some(&upgraded)).unwrap(),
            configuration
        );
        assert_eq!(decode_sending_index(Some(&upgraded)).unwrap(), index);
    }

    #[test]
    fn a_person_of_format_2_reads_with_no_language_and_keeps_its_facts() {
        // Ada as the engine of 1 December 2026 (c3be0c6) stored her: granted `news`, a US
        // opt-out fact, asked on 30 November and reminded once.
        let bytes = from_hex(include_str!("../../../tests/fixtures/plugin/person-v2.hex"));
        assert_eq!(bytes[0], 2);
        let person = decode_person(&bytes).unwrap();
        assert_eq!(person.value_of("news"), ConsentValue::Granted);
        assert_eq!(person.regime_facts.region.as_deref(), Some("us"));
        assert_eq!(person.requests.reminders, 1);
        assert_eq!(person.language, None);
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        let index = SendingIndex::of(&configuration);
        let facts = read_person_facts(&bytes, Some("news"), &index).unwrap();
        assert_eq!(facts.regime.region, Some("us"));
        // Written again it is today's format, read in place the same way.
        let mut person = person;
        person.language = Some(crate::configuration::LanguageFact {
            field: "language".into(),
            language: crate::vocabulary::Language::French,
        });
        let upgraded = encode_person(&person).unwrap();
        assert_eq!(upgraded[0], PERSON_FORMAT);
        assert_eq!(decode_person(&upgraded).unwrap(), person);
        let facts = read_person_facts(&upgraded, Some("news"), &index).unwrap();
        assert_eq!(facts.regime.region, Some("us"));
    }

    #[test]
    fn a_person_of_format_1_reads_with_no_regime_facts() {
        // Ada, as the release of 29 November 2026 (033b898) stored her: granted `news`.
        let bytes = from_hex(include_str!("../../../tests/fixtures/plugin/person-v1.hex"));
        assert_eq!(bytes[0], 1);
        let person = decode_person(&bytes).unwrap();
        assert_eq!(person.record, RecordRef::new(Module::Contacts, "1"));
        assert_eq!(person.value_of("news"), ConsentValue::Granted);
        assert_eq!(person.regime_facts, RegimeFacts::default());
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        let index = SendingIndex::of(&configuration);
        let facts = read_person_facts(&bytes, Some("news"), &index).unwrap();
        assert_eq!(
            facts.purpose.map(|(value, _)| value),
            Some(ConsentValue::Granted)
        );
        assert_eq!(facts.regime, RegimeFactsInPlace::default());
        // Written again, it is format 2, and its facts read back in place.
        let mut person = person;
        person.regime_facts = RegimeFacts {
            fields: [Some("country".into()), Some("bought".into()), None],
            region: Some("us".into()),
            purchased: Some(Date::parse("2026-01-31").unwrap()),
            enquired: None,
        };
        let upgraded = encode_person(&person).unwrap();
        assert_eq!(upgraded[0], PERSON_FORMAT);
        assert_eq!(decode_person(&upgraded).unwrap(), person);
        let facts = read_person_facts(&upgraded, Some("news"), &index).unwrap();
        assert_eq!(
            facts.regime,
            RegimeFactsInPlace {
                fields: [Some("country"), Some("bought"), None],
                region: Some("us"),
                purchased: Some("2026-01-31"),
                enquired: None,
            }
        );
        assert_eq!(
            facts.purpose.map(|(value, _)| value),
            Some(ConsentValue::Granted)
        );
    }

    #[test]
    fn a_record_entry_of_format_1_reads_its_detached_snapshot() {
        // The lead sharing Ada's address, as the release of 29 November 2026 (033b898)
        // stored it: a duplicate, its snapshot kept in its own entry.
        let bytes = from_hex(include_str!(
            "../../../tests/fixtures/plugin/record-v1-detached.hex"
        ));
        assert_eq!(bytes[0], 1);
        let RecordEntry::Detached { address, snapshot } = decode_record_entry(&bytes).unwrap()
        else {
            panic!("the lead's snapshot is detached");
        };
        assert_eq!(
            address.map(|address| address.to_string()).as_deref(),
            Some("ada@example.com")
        );
        assert_eq!(snapshot.record, RecordRef::new(Module::Leads, "1"));
        assert!(matches!(snapshot.status, PersonStatus::Duplicate { .. }));
        assert_eq!(snapshot.regime_facts, RegimeFacts::default());
        let entry = RecordEntry::Detached {
            address: None,
            snapshot,
        };
        let upgraded = encode_record_entry(&entry).unwrap();
        assert_eq!(upgraded[0], RECORD_FORMAT);
        assert_eq!(decode_record_entry(&upgraded).unwrap(), entry);
    }

    #[test]
    fn stored_values_of_another_format_are_refused() {
        let person = snapshot(PersonStatus::Active, &[]);
        let mut bytes = encode_person(&person).unwrap();
        bytes[0] = PERSON_FORMAT + 1;
        assert!(matches!(
            decode_person(&bytes),
            Err(StorageError::UnknownFormat { version, oldest: 1, newest: PERSON_FORMAT, .. })
                if version == PERSON_FORMAT + 1
        ));
        assert!(matches!(
            decode_person(&[]),
            Err(StorageError::Empty { .. })
        ));
        let index = SendingIndex::default();
        assert!(read_person_facts(&bytes, None, &index).is_err());
        assert!(read_person_facts(&[PERSON_FORMAT, 0xff], None, &index).is_err());
        let config = encode_configuration(&configuration()).unwrap();
        assert!(decode_configuration(Some(&config[..config.len() - 1])).is_err());
    }

    #[test]
    fn a_record_owns_its_address_unless_another_record_does() {
        let ada = || Address::parse("ada@example.org").unwrap();
        let new = || Address::parse("ada@new.example.org").unwrap();
        let me = RecordRef::new(Module::Contacts, "1");
        let other = RecordRef::new(Module::Leads, "9");
        let owner = |address: Address| Location::Person(address);
        let detached = |address: Option<Address>| Location::Record { address };
        // (address now, where it was, owner of person/<address now>, placed, released)
        type Row<'a> = (
            Option<Address>,
            Option<Location>,
            Option<&'a RecordRef>,
            Location,
            Option<Address>,
        );
        let cases: Vec<Row<'_>> = vec![
            (Some(ada()), None, None, owner(ada()), None),
            (Some(ada()), None, Some(&other), detached(Some(ada())), None),
            (
                Some(ada()),
                Some(owner(ada())),
                Some(&me),
                owner(ada()),
                None,
            ),
            (
                Some(new()),
                Some(owner(ada())),
                None,
                owner(new()),
                Some(ada()),
            ),
            (
                Some(new()),
                Some(owner(ada())),
                Some(&other),
                detached(Some(new())),
                Some(ada()),
            ),
            (None, Some(owner(ada())), None, detached(None), Some(ada())),
            (None, None, None, detached(None), None),
            (
                Some(ada()),
                Some(detached(Some(ada()))),
                None,
                owner(ada()),
                None,
            ),
            (
                Some(ada()),
                Some(detached(Some(ada()))),
                Some(&other),
                detached(Some(ada())),
                None,
            ),
            (
                Some(ada()),
                Some(detached(None)),
                Some(&me),
                owner(ada()),
                None,
            ),
        ];
        for (address, previous, owner_record, location, released) in cases {
            let placement = place(&me, address.clone(), previous.as_ref(), owner_record);
            assert_eq!(
                placement,
                Placement { location, released },
                "{address:?} from {previous:?}, owner {owner_record:?}"
            );
        }
    }

    #[test]
    fn run_cursors_name_the_module_and_the_crm_cursor() {
        let cases = [
            (
                RunCursor {
                    module: Module::Contacts,
                    crm: None,
                },
                "contacts",
            ),
            (
                RunCursor {
                    module: Module::Leads,
                    crm: Some("p:2".to_owned()),
                },
                "leads:p:2",
            ),
            (
                RunCursor {
                    module: Module::Leads,
                    crm: Some(String::new()),
                },
                "leads:",
            ),
        ];
        for (cursor, text) in cases {
            assert_eq!(cursor.encode(), text);
            assert_eq!(RunCursor::decode(text), Some(cursor));
        }
        assert_eq!(
            RunCursor::decode("accounts:1"),
            Some(RunCursor {
                module: Module::Other("accounts".to_owned()),
                crm: Some("1".to_owned())
            })
        );
        assert_eq!(RunCursor::decode("Not a module:1"), None);
    }
}
