//! The plugin's state in the host's store: the configuration, people, suppression markers,
//! and their events.
//!
//! The layout (keys and bytes) is defined and documented in `privacy_guard_core::storage`;
//! this module only moves those bytes through the `store` import. Values that cannot be
//! decoded are faults: the call traps rather than decide on facts it cannot read.
//!
//! Every export makes one [`State`] and passes it along: a batch reads the keys it will need
//! ahead in one `get-many` ([`State::reading_ahead`]), so a page of records costs the host
//! one look-up instead of one per key, and writes through the `State` keep what was read
//! ahead true. Nothing is kept between calls.

use std::collections::HashMap;

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::editing::fields_to_erase;
use privacy_guard_core::event::{ConsentEvent, RequestRepeatedEvent, StatusEvent, StreamEvent};
use privacy_guard_core::person::{PersonSnapshot, fold_stream};
use privacy_guard_core::record::{CrmEffect, RecordRef};
use privacy_guard_core::restriction::{SuppressionMarker, encode_marker, suppression_key};
use privacy_guard_core::safeguards::{SAFEGUARDS_KEY, SafeguardSettings};
use privacy_guard_core::storage::{
    CONFIG_KEY, Location, RecordEntry, decode_configuration, decode_person, decode_record_entry,
    encode_configuration, encode_person, encode_record_entry, person_key, record_key,
};
use privacy_guard_core::vocabulary::PersonStatus;

use crate::bindings::privacy_guard::consent::{crm, store};
use crate::convert::wit_record_ref;
use crate::logging::{fault, info, warn};

/// Events read per `read-events` call.
const EVENTS_PER_READ: u32 = 500;

/// The plugin's key-value state as one call sees it.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Values read ahead (`None`: known to be absent), kept true by writes through `self`.
    ahead: HashMap<String, Option<Vec<u8>>>,
}

impl State {
    /// The state of a call that reads each key when it needs it.
    pub(crate) fn new() -> State {
        State::default()
    }

    /// The state of a call that reads `keys` now, in one crossing.
    pub(crate) fn reading_ahead(keys: Vec<String>) -> State {
        let packed = store::get_many(&keys);
        let values = unpack(&packed);
        State {
            ahead: keys
                .into_iter()
                .zip(values.into_iter().map(|value| value.map(<[u8]>::to_vec)))
                .collect(),
        }
    }

    /// The value under `key`: read ahead, or from the store.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.ahead.get(key) {
            Some(value) => value.clone(),
            None => store::get(key),
        }
    }

    /// Stores `value` under `key`.
    pub(crate) fn put(&mut self, key: &str, value: &[u8]) {
        self.ahead.remove(key);
        store::put(key, value);
    }

    /// Removes `key`.
    pub(crate) fn delete(&mut self, key: &str) {
        self.ahead.remove(key);
        store::delete(key);
    }

    /// Whether the plugin has seen `record` before (its record entry exists). The entry
    /// and the record's events are always written in the same unit of work, so a record
    /// without one has no events either.
    pub(crate) fn is_known(&self, record: &RecordRef) -> bool {
        self.get(&record_key(record)).is_some()
    }

    /// The safeguard settings in force: the stored ones, or the defaults while none are
    /// stored. Stored bytes that cannot be read are a fault: no limit is silently dropped.
    pub(crate) fn safeguards(&self) -> SafeguardSettings {
        SafeguardSettings::decode(self.get(SAFEGUARDS_KEY).as_deref())
            .unwrap_or_else(|error| fault("reading the safeguard settings", &error))
    }

    pub(crate) fn configuration(&self) -> Configuration {
        let bytes = self.get(CONFIG_KEY);
        decode_configuration(bytes.as_deref())
            .unwrap_or_else(|error| fault("reading the configuration", &error))
    }

    pub(crate) fn save_configuration(&mut self, configuration: &Configuration) {
        let bytes = encode_configuration(configuration)
            .unwrap_or_else(|error| fault("writing the configuration", &error));
        self.put(CONFIG_KEY, &bytes);
    }

    /// The snapshot stored under `person/<address>`, if any.
    pub(crate) fn snapshot_at(&self, address: &Address) -> Option<PersonSnapshot> {
        let bytes = self.get(&person_key(address.as_str()))?;
        Some(decode_person(&bytes).unwrap_or_else(|error| fault("reading a person", &error)))
    }

    /// The stored person of `record`, if the plugin knows the record and its snapshot.
    pub(crate) fn person(&self, record: &RecordRef) -> Option<StoredPerson> {
        let bytes = self.get(&record_key(record))?;
        let entry = decode_record_entry(&bytes)
            .unwrap_or_else(|error| fault("reading a record entry", &error));
        match entry {
            RecordEntry::Owner(address) => {
                let snapshot = self.snapshot_at(&address)?;
                (snapshot.record == *record).then_some(StoredPerson {
                    location: Location::Person(address),
                    snapshot,
                })
            }
            RecordEntry::Detached { address, snapshot } => Some(StoredPerson {
                location: Location::Record { address },
                snapshot: *snapshot,
            }),
        }
    }

    /// The stored person of `record`, or a new one kept in the record's own entry (rebuilt
    /// from its events when the plugin knew it), with the name refreshed.
    pub(crate) fn person_or_new(
        &self,
        record: &RecordRef,
        name: String,
        address: Option<Address>,
    ) -> StoredPerson {
        match self.person(record) {
            Some(mut person) => {
                person.snapshot.name = name;
                person
            }
            None => StoredPerson {
                location: Location::Record { address },
                snapshot: if self.is_known(record) {
                    rebuild(record, name)
                } else {
                    PersonSnapshot::new(record.clone(), name)
                },
            },
        }
    }

    /// Writes the person's snapshot where it lives, and the record entry that points to it.
    pub(crate) fn save(&mut self, person: &StoredPerson) {
        if let Location::Person(address) = &person.location {
            let bytes = encode_person(&person.snapshot)
                .unwrap_or_else(|error| fault("writing a person", &error));
            self.put(&person_key(address.as_str()), &bytes);
        }
        let entry = RecordEntry::new(&person.location, &person.snapshot);
        let bytes = encode_record_entry(&entry)
            .unwrap_or_else(|error| fault("writing a record entry", &error));
        self.put(&record_key(&person.snapshot.record), &bytes);
    }

    /// Deletes `person/<address>` (a record gave the address up).
    pub(crate) fn release(&mut self, address: &Address) {
        self.delete(&person_key(address.as_str()));
    }

    /// Whether `address` carries a suppression marker (it was erased).
    pub(crate) fn is_suppressed(&self, configuration: &Configuration, address: &Address) -> bool {
        configuration
            .suppression_salt()
            .is_some_and(|salt| self.get(&suppression_key(salt, address)).is_some())
    }

    /// Writes the suppression marker of `address`, erased with `record` at `since`.
    pub(crate) fn suppress_address(
        &mut self,
        configuration: &Configuration,
        address: &Address,
        record: &RecordRef,
        since: i64,
    ) {
        let salt = configuration
            .suppression_salt()
            .unwrap_or_else(|| fault("erasing a person", &"no suppression salt"));
        let marker = SuppressionMarker {
            record: record.clone(),
            since,
        };
        let bytes = encode_marker(&marker)
            .unwrap_or_else(|error| fault("writing a suppression marker", &error));
        self.put(&suppression_key(salt, address), &bytes);
    }
}

/// The values of a `get-many` answer, in key order, borrowed from its buffer. A span
/// outside the buffer is a host fault: the call traps rather than read wrong facts.
pub(crate) fn unpack(packed: &store::PackedValues) -> Vec<Option<&[u8]>> {
    packed
        .spans
        .iter()
        .map(|span| {
            span.map(|(start, len)| {
                let start = start as usize;
                packed
                    .data
                    .get(start..start + len as usize)
                    .unwrap_or_else(|| {
                        fault(
                            "reading a batch of values",
                            &"a span lies outside the buffer",
                        )
                    })
            })
        })
        .collect()
}

/// A record's snapshot and where it is stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredPerson {
    pub(crate) location: Location,
    pub(crate) snapshot: PersonSnapshot,
}

impl StoredPerson {
    /// Whether the person's data may still be shown and changed (not erased).
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self.snapshot.status, PersonStatus::Erased { .. })
    }

    /// Appends consent events to the record's stream and carries out what they require of
    /// the CRM: the data field of each consent moved to not-granted, or to waiting under
    /// default no, is erased (the "data field" column of the consent table,
    /// `privacy_guard_core::editing`).
    pub(crate) fn append(&self, events: &[ConsentEvent], configuration: &Configuration) {
        self.append_proof(events);
        let record = &self.snapshot.record;
        for field in fields_to_erase(configuration, events) {
            apply_crm(&CrmEffect::EraseField {
                record: record.clone(),
                field,
            });
        }
    }

    /// Appends events to the record's stream, nothing more (an erasure empties the fields
    /// itself, keeping those a legal obligation retains).
    pub(crate) fn append_proof(&self, events: &[ConsentEvent]) {
        let stream = self.snapshot.record.stream();
        for event in events {
            let payload = event
                .to_json()
                .unwrap_or_else(|error| fault("writing an event", &error));
            store::append_event(&stream, &payload);
        }
    }

    /// Appends a status event to the record's stream.
    pub(crate) fn append_status(&self, event: &StatusEvent) {
        let payload = event
            .to_json()
            .unwrap_or_else(|error| fault("writing an event", &error));
        store::append_event(&self.snapshot.record.stream(), &payload);
    }

    /// Appends a repeated request (a reminder, or a new request staff asked for).
    pub(crate) fn append_repeated(&self, event: &RequestRepeatedEvent) {
        let payload = event
            .to_json()
            .unwrap_or_else(|error| fault("writing an event", &error));
        store::append_event(&self.snapshot.record.stream(), &payload);
    }
}

/// Asks the CRM to make a change the engine decided; a refusal is logged, never a fault
/// (the CRM owns its records).
pub(crate) fn apply_crm(effect: &CrmEffect) {
    let (record, outcome, what) = match effect {
        CrmEffect::SetStatus { record, status } => (
            record,
            crm::set_status(&wit_record_ref(record), status),
            "set a record's status",
        ),
        CrmEffect::SetLocked { record, locked } => (
            record,
            crm::set_locked(&wit_record_ref(record), *locked),
            "change a record's lock",
        ),
        CrmEffect::EraseField { record, field } => {
            let outcome = crm::erase_field(&wit_record_ref(record), field);
            if outcome.is_ok() {
                info("field erased", &[("record", record), ("field", field)]);
            }
            (record, outcome, "erase a field")
        }
    };
    if outcome.is_err() {
        warn(&format!("the CRM refused to {what}"), &[("record", record)]);
    }
}

/// Every event payload of a stream, oldest first.
pub(crate) fn read_stream(stream: &str) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut after = None;
    loop {
        let events = store::read_events(stream, after, EVENTS_PER_READ);
        let complete = events.len() < EVENTS_PER_READ as usize;
        after = events.last().map(|event| event.sequence);
        payloads.extend(events.into_iter().map(|event| event.payload));
        if complete || after.is_none() {
            return payloads;
        }
    }
}

/// A record's consent events, oldest first (status and legal-ground events left out).
pub(crate) fn consent_history(record: &RecordRef) -> Vec<ConsentEvent> {
    read_stream(&record.stream())
        .iter()
        .filter_map(|payload| {
            match StreamEvent::from_json(payload)
                .unwrap_or_else(|error| fault("reading an event", &error))
            {
                StreamEvent::Consent(event) => Some(event),
                StreamEvent::Status(_)
                | StreamEvent::LegalGround(_)
                | StreamEvent::RequestRepeated(_)
                | StreamEvent::RequestWithheld(_)
                | StreamEvent::LinkMailed(_)
                | StreamEvent::DeliveryFeedback(_) => None,
            }
        })
        .collect()
}

/// Rebuilds a record's snapshot from its events (the snapshot is a cache of them).
pub(crate) fn rebuild(record: &RecordRef, name: String) -> PersonSnapshot {
    let events: Vec<StreamEvent> = read_stream(&record.stream())
        .iter()
        .map(|payload| {
            StreamEvent::from_json(payload)
                .unwrap_or_else(|error| fault("reading an event", &error))
        })
        .collect();
    fold_stream(record.clone(), name, &events)
        .unwrap_or_else(|error| fault("folding events", &error))
}
