//! The `records` export: re-evaluating consents when CRM records change.
//!
//! Applicability changes are recorded with source `record-change`, whoever reported the
//! change (a form, an import, the API): the hook does not know, and the event says what the
//! plugin did — evaluate the record's fields. The daily run observes records the same way.
//!
//! With the setting `flag-new-duplicates`, the hook (not the daily run) flags a record whose
//! address another active record owns as a duplicate: CRM status `Duplicate`, locked, and
//! a `status-changed` event with source `record-change` naming the owner as primary.

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::deduplication::{Merge, carry_answers};
use privacy_guard_core::editing::{EditRefusal, check_edit};
use privacy_guard_core::observation::{Facts, NewDuplicates, Observation, observe as decide};
use privacy_guard_core::person::PersonSnapshot;
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::safeguards::WebFormProof;
use privacy_guard_core::storage::{Location, person_key, record_key};

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::records as wit;
use crate::bindings::privacy_guard::consent::types::{self, Field, PersonRecord};
use crate::bindings::privacy_guard::consent::{clock, mail};
use crate::convert::{fields, record_ref};
use crate::logging::{debug, info};
use crate::state::{State, StoredPerson, apply_crm, consent_history, rebuild};

/// The keys observing `records` reads: each record's entry and the person entry of its
/// address, so one `get-many` serves the whole batch.
pub(crate) fn keys_to_read(records: &[PersonRecord]) -> Vec<String> {
    let mut keys = Vec::with_capacity(records.len() * 2);
    for record in records {
        let Some(reference) = record_ref(&record.ref_) else {
            continue;
        };
        keys.push(record_key(&reference));
        let email = record
            .fields
            .iter()
            .find(|field| field.name == "email")
            .map(|field| field.value.as_str());
        if let Some(address) = email.and_then(|email| Address::parse(email).ok()) {
            keys.push(person_key(address.as_str()));
        }
    }
    keys
}

impl wit::Guest for Plugin {
    fn records_changed(records: Vec<PersonRecord>) -> wit::ChangeSummary {
        let mut state = State::reading_ahead(keys_to_read(&records));
        let configuration = state.configuration();
        let now = clock::now();
        let mut summary = wit::ChangeSummary {
            records: 0,
            consents_changed: 0,
        };
        let duplicates = NewDuplicates::of_records_hook(&configuration);
        let proof = state.safeguards().web_forms;
        for record in records {
            if let Some(observed) =
                observe(&mut state, record, &configuration, &proof, now, duplicates)
            {
                summary.records = summary.records.saturating_add(1);
                summary.consents_changed = summary
                    .consents_changed
                    .saturating_add(u32::try_from(observed.changes).unwrap_or(u32::MAX));
            }
        }
        debug(
            "records changed",
            &[
                ("records", &summary.records),
                ("consents-changed", &summary.consents_changed),
            ],
        );
        summary
    }

    fn check_edit(reference: types::RecordRef, changes: Vec<Field>) -> Vec<wit::EditRefusal> {
        let Some(record) = record_ref(&reference) else {
            return Vec::new();
        };
        let state = State::new();
        let configuration = state.configuration();
        let person = state.person(&record).or_else(|| {
            // A record the plugin knows without a snapshot of its own (e.g. erased).
            state
                .is_known(&record)
                .then(|| state.person_or_new(&record, String::new(), None))
        });
        let refusals = check_edit(
            person.as_ref().map(|person| &person.snapshot),
            &configuration,
            changes
                .iter()
                .map(|change| (change.name.as_str(), change.value.as_str())),
        );
        if !refusals.is_empty() {
            info(
                "edit refused",
                &[("record", &record), ("fields", &refusals.len())],
            );
        }
        refusals
            .into_iter()
            .map(|(field, refusal)| wit::EditRefusal {
                detail: refusal.detail(&field),
                consent_id: match &refusal {
                    EditRefusal::ConsentRefuses { consent, .. } => Some(consent.to_string()),
                    _ => None,
                },
                reason: match refusal {
                    EditRefusal::ProcessingRestricted => {
                        wit::EditRefusalReason::ProcessingRestricted
                    }
                    EditRefusal::Erased => wit::EditRefusalReason::Erased,
                    EditRefusal::Duplicate => wit::EditRefusalReason::Duplicate,
                    EditRefusal::ConsentRefuses { .. } => wit::EditRefusalReason::ConsentRefuses,
                },
                field,
            })
            .collect()
    }
}

/// A record after it was observed: its stored person, how many values changed, and
/// whether it is a web-form record kept from consent requests (`crate::web_forms`).
pub(crate) struct Observed {
    pub(crate) person: StoredPerson,
    pub(crate) changes: usize,
    pub(crate) withheld: bool,
}

/// Brings a record's stored person up to date with the record as the CRM holds it: reads
/// the facts the engine needs (its stored person, who holds its address, whether that
/// address or the one it had were erased), lets the engine decide
/// (`privacy_guard_core::observation`), and carries the outcome out; a record seen for the
/// first time is checked for the web-form proof `proof` asks. None when the record's
/// module has no consents.
pub(crate) fn observe(
    state: &mut State,
    record: PersonRecord,
    configuration: &Configuration,
    proof: &WebFormProof,
    now: i64,
    duplicates: NewDuplicates,
) -> Option<Observed> {
    let reference = record_ref(&record.ref_)?;
    configuration.consents_of(&reference.module).next()?;
    let fields = fields(record.fields);
    let address = fields.address().ok();
    let previous = state.person(&reference);
    let previous_location = previous.as_ref().map(|person| person.location.clone());
    let new = previous.is_none() && !state.is_known(&reference);
    let snapshot = match previous {
        Some(person) => person.snapshot,
        None if new => PersonSnapshot::new(reference.clone(), String::new()),
        None => rebuild(&reference, String::new()),
    };
    // A record that already holds its address was just read from there: no second read.
    let holder = match (&address, &previous_location) {
        (Some(address), Some(Location::Person(held))) if held == address => {
            Some((reference.clone(), snapshot.status))
        }
        (Some(address), _) => state
            .snapshot_at(address)
            .map(|snapshot| (snapshot.record, snapshot.status)),
        (None, _) => None,
    };
    let previous_address_erased = previous_location
        .as_ref()
        .and_then(Location::address)
        .is_some_and(|before| state.is_suppressed(configuration, before));
    let address_erased = address
        .as_ref()
        .is_some_and(|address| state.is_suppressed(configuration, address));
    let facts = Facts {
        fields: &fields,
        crm_status: &record.status,
        crm_locked: record.locked,
        snapshot,
        previous: previous_location,
        holder,
        address_erased,
        previous_address_erased,
    };
    let observation = decide(&reference, facts, configuration, duplicates, now);
    let changes = observation.consent_events.len();
    let person = carry_out(state, observation, configuration, now);
    let withheld = crate::web_forms::withheld(state, proof, &person, &fields, new, now);
    Some(Observed {
        person,
        changes,
        withheld,
    })
}

/// Carries out what observing a record decided.
fn carry_out(
    state: &mut State,
    observation: Observation,
    configuration: &Configuration,
    now: i64,
) -> StoredPerson {
    let Observation {
        location,
        snapshot,
        released,
        forget,
        consent_events,
        status_events,
        crm,
        carry_to,
    } = observation;
    let record = snapshot.record.clone();
    if let Some(released) = &released {
        state.release(released);
        info("address released", &[("record", &record)]);
    }
    if let Some(forgotten) = &forget {
        mail::forget(forgotten.as_str());
    }
    let person = StoredPerson { location, snapshot };
    person.append(&consent_events, configuration);
    for event in &status_events {
        person.append_status(event);
    }
    for effect in &crm {
        apply_crm(effect);
    }
    state.save(&person);
    if let Some(holder) = &carry_to {
        info("new duplicate flagged", &[("record", &record)]);
        carry_to_holder(state, &person, holder, configuration, now);
    }
    person
}

/// A record just flagged a duplicate of the record holding its address: its answers (given
/// before, e.g. recorded by staff while it was kept apart) carry over to the holder, a
/// refusal always winning over a grant.
fn carry_to_holder(
    state: &mut State,
    joining: &StoredPerson,
    holder: &RecordRef,
    configuration: &Configuration,
    now: i64,
) {
    let Some(mut primary) = state.person(holder) else {
        return;
    };
    let history = consent_history(&joining.snapshot.record);
    let carried = carry_answers(
        &mut primary.snapshot,
        configuration,
        &joining.snapshot,
        &history,
        Merge::RefusalWins,
        now,
    );
    if carried.is_empty() {
        return;
    }
    primary.append(&carried, configuration);
    state.save(&primary);
    info(
        "answers carried over to the primary",
        &[
            ("record", &joining.snapshot.record),
            ("primary", holder),
            ("answers", &carried.len()),
        ],
    );
}
