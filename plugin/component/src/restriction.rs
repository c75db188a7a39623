//! Stopping processing, lifting it, and erasure, shared by `subjects` (staff) and
//! `preferences` (the person): the engine's `restriction` transitions carried out through
//! the imports (events, CRM lock and fields, the lift notice, the suppression marker).

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::event::Staff;
use privacy_guard_core::record::{CrmEffect, RecordRef};
use privacy_guard_core::restriction::{
    Actor, AddressErasure, Erasure, SALT_LEN, TransitionError, erase, erase_address, lift_notice,
    lift_restriction, restrict, suppress,
};

use crate::bindings::privacy_guard::consent::{crm, keys, mail};
use crate::convert::{record_ref, wit_record_ref};
use crate::logging::{info, warn};
use crate::state::{State, StoredPerson, apply_crm};

fn lock(person: &StoredPerson, locked: bool) {
    apply_crm(&CrmEffect::SetLocked {
        record: person.snapshot.record.clone(),
        locked,
    });
}

/// Restricts processing of `person`, locks the record, saves.
pub(crate) fn restrict_person(
    state: &mut State,
    person: &mut StoredPerson,
    actor: &Actor,
    now: i64,
) -> Result<(), TransitionError> {
    let event = restrict(&mut person.snapshot, actor, now)?;
    person.append_status(&event);
    lock(person, true);
    state.save(person);
    info(
        "processing restricted",
        &[("record", &person.snapshot.record)],
    );
    Ok(())
}

/// Lifts the restriction of `person` on the staff member's reason, unlocks, tells the
/// person by mail.
pub(crate) fn lift_person(
    state: &mut State,
    person: &mut StoredPerson,
    staff: &Staff,
    now: i64,
) -> Result<(), TransitionError> {
    let event = lift_restriction(&mut person.snapshot, staff, now)?;
    person.append_status(&event);
    lock(person, false);
    let configuration = state.configuration();
    let record = &person.snapshot.record;
    match (configuration.settings(), person.location.address()) {
        (Some(settings), Some(address)) => {
            let notice = lift_notice(
                settings,
                record,
                address,
                &person.snapshot.name,
                person.snapshot.language(&configuration),
                &staff.statement,
                now,
            );
            if crate::outgoing::queue(notice).is_err() {
                warn("restriction notice rejected", &[("record", record)]);
            }
        }
        _ => warn(
            "restriction lifted without a notice: no sender or no address",
            &[("record", record)],
        ),
    }
    state.save(person);
    info("restriction lifted", &[("record", &person.snapshot.record)]);
    Ok(())
}

/// Suppresses every other record holding the erased `address` (the engine's
/// `AddressErasure`: to the plugin they are the same person): every consent refused,
/// status erased, locked.
fn suppress_holders(
    state: &mut State,
    address: &Address,
    erased: &RecordRef,
    configuration: &Configuration,
    now: i64,
) {
    let others = match crm::find_by_email(address.as_str()) {
        Ok(others) => others,
        Err(_) => {
            warn(
                "the CRM refused to find the records of an erased address",
                &[("record", erased)],
            );
            return;
        }
    };
    for other in others.iter().filter_map(record_ref) {
        if other == *erased {
            continue;
        }
        let Some(mut holder) = state.person(&other) else {
            continue;
        };
        let Some((refused, status)) = suppress(&mut holder.snapshot, configuration, now) else {
            continue;
        };
        holder.append(&refused, configuration);
        holder.append_status(&status);
        lock(&holder, true);
        state.save(&holder);
        info(
            "record of an erased address suppressed",
            &[("record", &other)],
        );
    }
}

/// The configuration with a suppression salt, generated and saved the first time.
fn salted_configuration(state: &mut State) -> Configuration {
    let mut configuration = state.configuration();
    if configuration.suppression_salt().is_none()
        && configuration.set_suppression_salt(keys::random_bytes(SALT_LEN))
    {
        state.save_configuration(&configuration);
    }
    configuration
}

/// Erases `person`: consents refused, fields emptied in the CRM, record locked, status
/// erased; then what the engine's `AddressErasure` says of the address they had: its
/// suppression marker, its `person/` key released, its mail forgotten by the host
/// (`mail.forget`), every other record holding it suppressed.
pub(crate) fn erase_person(
    state: &mut State,
    person: &mut StoredPerson,
    actor: &Actor,
    now: i64,
) -> Result<Erasure, TransitionError> {
    let configuration = salted_configuration(state);
    let record = person.snapshot.record.clone();
    let present: Vec<String> = match crm::get_record(&wit_record_ref(&record)) {
        Ok(crm_record) => crm_record
            .fields
            .into_iter()
            .map(|field| field.name)
            .collect(),
        Err(_) => {
            warn(
                "erasing a record the CRM does not return",
                &[("record", &record)],
            );
            Vec::new()
        }
    };
    let erasure = erase(&mut person.snapshot, &configuration, &present, actor, now)?;
    person.append_proof(&erasure.consent_events);
    person.append_status(&erasure.status_event);
    for field in &erasure.fields.erase {
        apply_crm(&CrmEffect::EraseField {
            record: record.clone(),
            field: field.clone(),
        });
    }
    lock(person, true);
    let AddressErasure {
        erased,
        released,
        location,
    } = erase_address(&person.location);
    if let Some(address) = &erased {
        state.suppress_address(&configuration, address, &record, now);
        mail::forget(address.as_str());
    }
    if let Some(released) = &released {
        state.release(released);
    }
    person.location = location;
    state.save(person);
    if let Some(address) = &erased {
        suppress_holders(state, address, &record, &configuration, now);
    }
    info(
        "person erased",
        &[
            ("record", &record),
            ("fields-erased", &erasure.fields.erase.len()),
            ("fields-retained", &erasure.fields.retain.len()),
        ],
    );
    Ok(erasure)
}
