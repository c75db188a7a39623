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
use privacy_guard_core::deduplication::{
    DUPLICATE_STATUS, Merge, carry_answers, flag_duplicate, is_duplicate_status,
};
use privacy_guard_core::editing::{EditRefusal, check_edit};
use privacy_guard_core::event::StatusSource;
use privacy_guard_core::lifecycle::reevaluate;
use privacy_guard_core::person::{PersonSnapshot, PersonStatus};
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::restriction::{suppress, suppression_key};
use privacy_guard_core::storage::{Location, person_key, place, record_key};

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::records as wit;
use crate::bindings::privacy_guard::consent::types::{self, Field, PersonRecord};
use crate::bindings::privacy_guard::consent::{clock, crm, mail};
use crate::convert::{fields, record_ref, wit_record_ref};
use crate::logging::{info, warn};
use crate::state::{
    StoredPerson, consent_history, delete, end_read_ahead, get, is_known, load_configuration,
    load_or_start, load_snapshot, read_ahead, rebuild,
};

/// The keys observing `records` reads: each record's entry and the person entry of its
/// address, so one `get-many` serves the whole batch.
fn keys_to_read(records: &[PersonRecord]) -> Vec<String> {
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
        let configuration = load_configuration();
        let now = clock::now();
        let mut summary = wit::ChangeSummary {
            records: 0,
            consents_changed: 0,
        };
        let flag_new_duplicates = configuration
            .settings()
            .is_some_and(|settings| settings.flag_new_duplicates());
        read_ahead(keys_to_read(&records));
        for record in records {
            let duplicates = if flag_new_duplicates {
                NewDuplicates::Flag
            } else {
                NewDuplicates::KeepApart
            };
            if let Some(observed) = observe(record, &configuration, now, duplicates) {
                summary.records = summary.records.saturating_add(1);
                summary.consents_changed = summary
                    .consents_changed
                    .saturating_add(u32::try_from(observed.changes).unwrap_or(u32::MAX));
            }
        }
        end_read_ahead();
        info(
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
        let configuration = load_configuration();
        let person = StoredPerson::load(&record).or_else(|| {
            // A record the plugin knows without a snapshot of its own (e.g. erased).
            is_known(&record).then(|| load_or_start(&record, String::new(), None))
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

/// A record after it was observed: its stored person and how many values changed.
pub(crate) struct Observed {
    pub(crate) person: StoredPerson,
    pub(crate) changes: usize,
}

/// What observing does with a record whose address another record owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewDuplicates {
    /// Keep its snapshot apart (detached), unflagged, until de-duplication.
    KeepApart,
    /// Flag it as a duplicate of the owner when the owner is active.
    Flag,
}

/// Brings a record's stored person up to date with the record as the CRM holds it: places
/// its snapshot by its current address, refreshes the name, re-evaluates which consents
/// apply, appends the events and saves. None when the record's module has no consents.
pub(crate) fn observe(
    record: PersonRecord,
    configuration: &Configuration,
    now: i64,
    duplicates: NewDuplicates,
) -> Option<Observed> {
    let reference = record_ref(&record.ref_)?;
    configuration.consents_of(&reference.module).next()?;
    let crm_status = record.status;
    let crm_locked = record.locked;
    let fields = fields(record.fields);
    let name = fields.person_name();
    let address = fields.address().ok();

    let previous = StoredPerson::load(&reference);
    let previous_location = previous.as_ref().map(|person| person.location.clone());
    let mut snapshot = match previous {
        Some(person) => person.snapshot,
        None if is_known(&reference) => rebuild(&reference, name.clone()),
        None => PersonSnapshot::new(reference.clone(), name.clone()),
    };
    snapshot.name = name;

    // Who owns the address now decides where the snapshot goes. A record that already owns
    // its address was just read from there: no second read.
    let owner = match (&address, &previous_location) {
        (Some(address), Some(Location::Person(owned))) if owned == address => {
            Some((reference.clone(), snapshot.status))
        }
        (Some(address), _) => {
            load_snapshot(address).map(|snapshot| (snapshot.record, snapshot.status))
        }
        (None, _) => None,
    };
    let owner_status = owner.as_ref().map(|(_, status)| *status);
    let owner = owner.map(|(record, _)| record);
    let placement = place(
        &reference,
        address.clone(),
        previous_location.as_ref(),
        owner.as_ref(),
    );
    if let Some(released) = &placement.released {
        delete(&person_key(released.as_str()));
        info("address released", &[("record", &reference)]);
    }
    // A record leaving an erased address behind: the CRM no longer holds it here, so its
    // copies go from the host's files too (`mail.forget` also purges them).
    if let (Some(before), Some(salt)) = (
        previous_location.as_ref().and_then(Location::address),
        configuration.suppression_salt(),
    ) && address.as_ref() != Some(before)
        && get(&suppression_key(salt, before)).is_some()
    {
        mail::forget(before.as_str());
    }

    // An erased person stays as the erasure left them; a record bringing back an erased
    // address is suppressed (every consent refused, status erased).
    let mut events = if matches!(snapshot.status, PersonStatus::Erased { .. }) {
        Vec::new()
    } else {
        reevaluate(&mut snapshot, configuration, &fields, now)
    };
    let suppressed = match (&address, configuration.suppression_salt()) {
        (Some(address), Some(salt)) if get(&suppression_key(salt, address)).is_some() => {
            suppress(&mut snapshot, configuration, now)
        }
        _ => None,
    };
    if let Some((refused, _)) = &suppressed {
        events.extend(refused.iter().cloned());
    }
    let flagged = match (&owner, &placement.location) {
        (Some(owner), Location::Record { address: Some(_) })
            if duplicates == NewDuplicates::Flag
                && *owner != reference
                && owner_status == Some(PersonStatus::Active) =>
        {
            flag_duplicate(&mut snapshot, owner, StatusSource::RecordChange, now)
        }
        _ => None,
    };
    let person = StoredPerson {
        location: placement.location,
        snapshot,
    };
    person.append(&events, configuration);
    if let Some(flagged) = &flagged {
        person.append_status(flagged);
        mark_duplicate_in_crm(&reference, &crm_status, crm_locked);
        info("new duplicate flagged", &[("record", &reference)]);
    }
    if let Some((_, status)) = &suppressed {
        person.append_status(status);
        if !crm_locked && crm::set_locked(&wit_record_ref(&reference), true).is_err() {
            warn(
                "the CRM refused to lock a suppressed record",
                &[("record", &reference)],
            );
        }
        info("erased address suppressed", &[("record", &reference)]);
    }
    person.save();
    if flagged.is_some()
        && let Some(owner) = &owner
    {
        carry_to_owner(&person, owner, configuration, now);
    }
    Some(Observed {
        person,
        changes: events.len(),
    })
}

/// A record just flagged a duplicate of the record holding its address: its answers (given
/// before, e.g. recorded by staff while it was kept apart) carry over to the holder, a
/// refusal always winning over a grant.
fn carry_to_owner(
    joining: &StoredPerson,
    owner: &RecordRef,
    configuration: &Configuration,
    now: i64,
) {
    let Some(mut holder) = StoredPerson::load(owner) else {
        return;
    };
    let history = consent_history(&joining.snapshot.record);
    let carried = carry_answers(
        &mut holder.snapshot,
        configuration,
        &joining.snapshot,
        &history,
        Merge::RefusalWins,
        now,
    );
    if carried.is_empty() {
        return;
    }
    holder.append(&carried, configuration);
    holder.save();
    info(
        "answers carried over to the primary",
        &[
            ("record", &joining.snapshot.record),
            ("primary", owner),
            ("answers", &carried.len()),
        ],
    );
}

/// Shows a duplicate as such in the CRM: status `Duplicate` (overwriting the status it had)
/// and locked; what is already so is left alone. Whether anything changed.
pub(crate) fn mark_duplicate_in_crm(record: &RecordRef, status: &str, locked: bool) -> bool {
    let wit_record = wit_record_ref(record);
    let mut changed = false;
    if !is_duplicate_status(status) {
        changed = true;
        if crm::set_status(&wit_record, DUPLICATE_STATUS).is_err() {
            warn(
                "the CRM refused to set a duplicate's status",
                &[("record", record)],
            );
        }
    }
    if !locked {
        changed = true;
        if crm::set_locked(&wit_record, true).is_err() {
            warn("the CRM refused to lock a duplicate", &[("record", record)]);
        }
    }
    changed
}
