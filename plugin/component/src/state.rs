//! The plugin's state in the host's store: the configuration, people, and their events.
//!
//! The layout (keys and bytes) is defined and documented in `privacy_guard_core::storage`;
//! this module only moves those bytes through the `store` import. Values that cannot be
//! decoded are faults: the call traps rather than decide on facts it cannot read.

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::event::ConsentEvent;
use privacy_guard_core::person::{PersonSnapshot, PersonStatus, fold};
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::storage::{
    CONFIG_KEY, Location, RecordEntry, decode_configuration, decode_person, decode_record_entry,
    encode_configuration, encode_person, encode_record_entry, person_key, record_key,
};

use crate::bindings::privacy_guard::consent::store;
use crate::logging::fault;

/// Events read per `read-events` call.
const EVENTS_PER_READ: u32 = 500;

pub(crate) fn load_configuration() -> Configuration {
    let bytes = store::get(CONFIG_KEY);
    decode_configuration(bytes.as_deref())
        .unwrap_or_else(|error| fault("reading the configuration", &error))
}

pub(crate) fn save_configuration(configuration: &Configuration) {
    let bytes = encode_configuration(configuration)
        .unwrap_or_else(|error| fault("writing the configuration", &error));
    store::put(CONFIG_KEY, &bytes);
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
        let bytes = store::get(&record_key(record))?;
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
            store::put(&person_key(address.as_str()), &bytes);
        }
        let entry = RecordEntry::new(&self.location, &self.snapshot);
        let bytes = encode_record_entry(&entry)
            .unwrap_or_else(|error| fault("writing a record entry", &error));
        store::put(&record_key(&self.snapshot.record), &bytes);
    }

    /// Appends events to the record's stream.
    pub(crate) fn append(&self, events: &[ConsentEvent]) {
        let stream = self.snapshot.record.stream();
        for event in events {
            let payload = event
                .to_json()
                .unwrap_or_else(|error| fault("writing an event", &error));
            store::append_event(&stream, &payload);
        }
    }
}

/// The snapshot stored under `person/<address>`, if any.
pub(crate) fn load_snapshot(address: &Address) -> Option<PersonSnapshot> {
    let bytes = store::get(&person_key(address.as_str()))?;
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

/// Rebuilds a record's snapshot from its events (the snapshot is a cache of them).
pub(crate) fn rebuild(record: &RecordRef, name: String) -> PersonSnapshot {
    let events: Vec<ConsentEvent> = read_stream(&record.stream())
        .iter()
        .map(|payload| {
            ConsentEvent::from_json(payload)
                .unwrap_or_else(|error| fault("reading an event", &error))
        })
        .collect();
    fold(record.clone(), name, &events).unwrap_or_else(|error| fault("folding events", &error))
}
