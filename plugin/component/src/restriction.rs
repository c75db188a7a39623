//! Stopping processing, lifting it, and erasure, shared by `subjects` (administrators) and
//! `preferences` (the person): the engine's `restriction` transitions carried out through
//! the imports (events, CRM lock and fields, the lift notice, the suppression marker).

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::event::Staff;
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::restriction::{
    Actor, Erasure, SALT_LEN, SuppressionMarker, TransitionError, encode_marker, erase,
    lift_notice, lift_restriction, restrict, suppress, suppression_key,
};
use privacy_guard_core::storage::{Location, person_key};

use crate::bindings::privacy_guard::consent::{crm, keys, mail};
use crate::convert::{record_ref, wit_record_ref};
use crate::logging::{fault, info, warn};
use crate::state::{StoredPerson, delete, load_configuration, put, save_configuration};

fn lock(person: &StoredPerson, locked: bool) {
    let record = &person.snapshot.record;
    if crm::set_locked(&wit_record_ref(record), locked).is_err() {
        warn(
            "the CRM refused to change a record's lock",
            &[("record", record)],
        );
    }
}

/// Restricts processing of `person`, locks the record, saves.
pub(crate) fn restrict_person(
    person: &mut StoredPerson,
    actor: &Actor,
    now: i64,
) -> Result<(), TransitionError> {
    let event = restrict(&mut person.snapshot, actor, now)?;
    person.append_status(&event);
    lock(person, true);
    person.save();
    info(
        "processing restricted",
        &[("record", &person.snapshot.record)],
    );
    Ok(())
}

/// Lifts the restriction of `person` on the staff member's reason, unlocks, tells the
/// person by mail.
pub(crate) fn lift_person(
    person: &mut StoredPerson,
    staff: &Staff,
    now: i64,
) -> Result<(), TransitionError> {
    let event = lift_restriction(&mut person.snapshot, staff, now)?;
    person.append_status(&event);
    lock(person, false);
    let configuration = load_configuration();
    let record = &person.snapshot.record;
    match (configuration.settings(), person.location.address()) {
        (Some(settings), Some(address)) => {
            let notice = lift_notice(
                settings,
                record,
                address,
                &person.snapshot.name,
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
    person.save();
    info("restriction lifted", &[("record", &person.snapshot.record)]);
    Ok(())
}

/// Every other record the plugin holds with the erased `address` is the same person to
/// it (mail to the address is decided by whichever holds it): each is suppressed at once,
/// as a record bringing the address back would be (every consent refused, status erased,
/// locked), so no mail reaches the address through another record.
fn suppress_others(address: &Address, erased: &RecordRef, configuration: &Configuration, now: i64) {
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
        let Some(mut holder) = StoredPerson::load(&other) else {
            continue;
        };
        let Some((refused, status)) = suppress(&mut holder.snapshot, configuration, now) else {
            continue;
        };
        holder.append(&refused, configuration);
        holder.append_status(&status);
        lock(&holder, true);
        holder.save();
        info(
            "record of an erased address suppressed",
            &[("record", &other)],
        );
    }
}

/// The configuration with a suppression salt, generated and saved the first time.
fn salted_configuration() -> Configuration {
    let mut configuration = load_configuration();
    if configuration.suppression_salt().is_none()
        && configuration.set_suppression_salt(keys::random_bytes(SALT_LEN))
    {
        save_configuration(&configuration);
    }
    configuration
}

/// Erases `person`: consents refused, fields emptied in the CRM, record locked, status
/// erased, the address replaced by its suppression marker, and mail to the address
/// cancelled and its copies destroyed by the host (`mail.forget`).
pub(crate) fn erase_person(
    person: &mut StoredPerson,
    actor: &Actor,
    now: i64,
) -> Result<Erasure, TransitionError> {
    let configuration = salted_configuration();
    let record = person.snapshot.record.clone();
    let wit_record = wit_record_ref(&record);
    let present: Vec<String> = match crm::get_record(&wit_record) {
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
        if crm::erase_field(&wit_record, field).is_err() {
            warn(
                "the CRM refused to erase a field",
                &[("record", &record), ("field", field)],
            );
        }
    }
    lock(person, true);
    if let Some(address) = person.location.address() {
        let salt = configuration
            .suppression_salt()
            .unwrap_or_else(|| fault("erasing a person", &"no suppression salt"));
        let marker = SuppressionMarker {
            record: record.clone(),
            since: now,
        };
        let bytes = encode_marker(&marker)
            .unwrap_or_else(|error| fault("writing a suppression marker", &error));
        put(&suppression_key(salt, address), &bytes);
        if let Location::Person(owned) = &person.location {
            delete(&person_key(owned.as_str()));
        }
        mail::forget(address.as_str());
    }
    let address = person.location.address().cloned();
    person.location = Location::Record { address: None };
    person.save();
    if let Some(address) = &address {
        suppress_others(address, &record, &configuration, now);
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
