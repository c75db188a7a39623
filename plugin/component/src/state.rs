//! The plugin's state in the host's store: the configuration, people, and their events.
//!
//! The layout (keys and bytes) is defined and documented in `privacy_guard_core::storage`;
//! this module only moves those bytes through the `store` import. Values that cannot be
//! decoded are faults: the call traps rather than decide on facts it cannot read.

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::editing::fields_to_erase;
use privacy_guard_core::event::{ConsentEvent, StatusEvent, StreamEvent};
use privacy_guard_core::person::{PersonSnapshot, PersonStatus, fold_stream};
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::storage::{
    CONFIG_KEY, Location, RecordEntry, decode_configuration, decode_person, decode_record_entry,
    encode_configuration, encode_person, encode_record_entry, person_key, record_key,
};

use std::cell::RefCell;
use std::collections::HashMap;

use crate::bindings::privacy_guard::consent::{crm, store};
use crate::convert::wit_record_ref;
use crate::logging::{fault, info, warn};

/// Events read per `read-events` call.
const EVENTS_PER_READ: u32 = 500;

thread_local! {
    /// Values read ahead for a batch of records with one `get-many`, so a page of records
    /// costs the host one look-up instead of one per key. Writes through [`put`] and
    /// [`delete`] keep it true; [`end_read_ahead`] empties it when the batch is done.
    static READ_AHEAD: RefCell<HashMap<String, Option<Vec<u8>>>> = RefCell::new(HashMap::new());
}

/// Reads `keys` in one crossing and keeps their values for the following [`get`]s.
pub(crate) fn read_ahead(keys: Vec<String>) {
    let packed = store::get_many(&keys);
    let values = unpack(&packed);
    READ_AHEAD.with(|read_ahead| {
        read_ahead.borrow_mut().extend(
            keys.into_iter()
                .zip(values.into_iter().map(|value| value.map(<[u8]>::to_vec))),
        )
    });
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

/// Forgets the values read ahead.
pub(crate) fn end_read_ahead() {
    READ_AHEAD.with(|read_ahead| read_ahead.borrow_mut().clear());
}

/// The value under `key`: read ahead, or from the store.
pub(crate) fn get(key: &str) -> Option<Vec<u8>> {
    READ_AHEAD
        .with(|read_ahead| read_ahead.borrow().get(key).cloned())
        .unwrap_or_else(|| store::get(key))
}

/// Stores `value` under `key`.
pub(crate) fn put(key: &str, value: &[u8]) {
    READ_AHEAD.with(|read_ahead| read_ahead.borrow_mut().remove(key));
    store::put(key, value);
}

/// Removes `key`.
pub(crate) fn delete(key: &str) {
    READ_AHEAD.with(|read_ahead| read_ahead.borrow_mut().remove(key));
    store::delete(key);
}

/// Whether the plugin has seen `record` before (its record entry exists). The entry and
/// the record's events are always written in the same unit of work, so a record without
/// one has no events either.
pub(crate) fn is_known(record: &RecordRef) -> bool {
    get(&record_key(record)).is_some()
}

pub(crate) fn load_configuration() -> Configuration {
    let bytes = get(CONFIG_KEY);
    decode_configuration(bytes.as_deref())
        .unwrap_or_else(|error| fault("reading the configuration", &error))
}

pub(crate) fn save_configuration(configuration: &Configuration) {
    let bytes = encode_configuration(configuration)
        .unwrap_or_else(|error| fault("writing the configuration", &error));
    put(CONFIG_KEY, &bytes);
}

/// A record's snapshot and where it is stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredPerson {
    pub(crate) location: Location,
    pub(crate) snapshot: PersonSnapshot,
}

impl StoredPerson {
    /// The stored person of `record`, if the plugin knows the record and its snapshot.
    pub(crate) fn load(record: &RecordRef) -> Option<StoredPerson> {
        let bytes = get(&record_key(record))?;
        let entry = decode_record_entry(&bytes)
            .unwrap_or_else(|error| fault("reading a record entry", &error));
        match entry {
            RecordEntry::Owner(address) => {
                let snapshot = load_snapshot(&address)?;
                (snapshot.record == *record).then_some(StoredPerson {
                    location: Location::Person(address),
                    snapshot,
                })
            }
            RecordEntry::Detached { address, snapshot } => Some(StoredPerson {
                location: Location::Record { address },
                snapshot,
            }),
        }
    }

    /// Whether the person's data may still be shown and changed (not erased).
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self.snapshot.status, PersonStatus::Erased { .. })
    }

    /// Writes the snapshot where it lives, and the record entry that points to it.
    pub(crate) fn save(&self) {
        if let Location::Person(address) = &self.location {
            let bytes = encode_person(&self.snapshot)
                .unwrap_or_else(|error| fault("writing a person", &error));
            put(&person_key(address.as_str()), &bytes);
        }
        let entry = RecordEntry::new(&self.location, &self.snapshot);
        let bytes = encode_record_entry(&entry)
            .unwrap_or_else(|error| fault("writing a record entry", &error));
        put(&record_key(&self.snapshot.record), &bytes);
    }

    /// Appends consent events to the record's stream and carries out what they require of
    /// the CRM: the data field of each consent moved to not-granted, or to waiting under
    /// default no, is erased (the "data field" column of the consent table,
    /// `privacy_guard_core::editing`).
    pub(crate) fn append(&self, events: &[ConsentEvent], configuration: &Configuration) {
        self.append_proof(events);
        let record = &self.snapshot.record;
        for field in fields_to_erase(configuration, events) {
            if crm::erase_field(&wit_record_ref(record), &field).is_err() {
                warn(
                    "the CRM refused to erase a field its consent no longer allows",
                    &[("record", record), ("field", &field)],
                );
            } else {
                info(
                    "field erased by its consent value",
                    &[("record", record), ("field", &field)],
                );
            }
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
}

/// The snapshot stored under `person/<address>`, if any.
pub(crate) fn load_snapshot(address: &Address) -> Option<PersonSnapshot> {
    let bytes = get(&person_key(address.as_str()))?;
    Some(decode_person(&bytes).unwrap_or_else(|error| fault("reading a person", &error)))
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
                StreamEvent::Status(_) | StreamEvent::LegalGround(_) => None,
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

/// The stored person of `record`, or a new one kept in the record's own entry (rebuilt
/// from its events when the plugin knew it), with the name refreshed.
pub(crate) fn load_or_start(
    record: &RecordRef,
    name: String,
    address: Option<Address>,
) -> StoredPerson {
    match StoredPerson::load(record) {
        Some(mut person) => {
            person.snapshot.name = name;
            person
        }
        None => StoredPerson {
            location: Location::Record { address },
            snapshot: if is_known(record) {
                rebuild(record, name)
            } else {
                PersonSnapshot::new(record.clone(), name)
            },
        },
    }
}
