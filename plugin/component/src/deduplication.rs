//! The `deduplication` export: flagging duplicate contacts and leads.
//!
//! Lists every record of every module page by page, lets the engine group them and choose
//! primaries (`privacy_guard_core::deduplication`), and carries the plan out: for each
//! duplicate the CRM status, the lock, the person status and its event; for each primary,
//! ownership of `person/<address>`. Enabling consents runs the same [`deduplicate`].

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::deduplication::{
    Candidate, DuplicateGroup, Merge, Plan, carry_answers, flag_duplicate, plan, reinstate_primary,
};
use privacy_guard_core::event::StatusSource;
use privacy_guard_core::lifecycle::reevaluate;
use privacy_guard_core::person::PersonStatus;
use privacy_guard_core::record::{Fields, RecordRef};
use privacy_guard_core::storage::{Location, person_key, place};

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::deduplication as wit;
use crate::bindings::privacy_guard::consent::{clock, crm};
use crate::convert::{fields, record_ref, wit_record_ref};
use crate::logging::{info, warn};
use crate::records::mark_duplicate_in_crm;
use crate::state::{consent_history, delete, load_configuration, load_or_start, load_snapshot};

/// Records asked of the CRM per page.
const PAGE: u32 = 500;

impl wit::Guest for Plugin {
    fn preview() -> wit::Plan {
        let plan = plan(list_candidates());
        wit::Plan {
            groups: plan.groups.iter().map(wit_group).collect(),
            records: count(plan.records),
            duplicates: count(plan.duplicates()),
        }
    }

    fn apply() -> wit::Report {
        deduplicate(&load_configuration(), clock::now())
    }
}

/// Flags every duplicate of contacts and leads, and gives each address to its primary.
pub(crate) fn deduplicate(configuration: &Configuration, now: i64) -> wit::Report {
    let plan: Plan = plan(list_candidates());
    let mut report = wit::Report {
        groups: count(plan.groups.len()),
        newly_flagged: 0,
        already_flagged: 0,
        owners_changed: 0,
    };
    for group in &plan.groups {
        settle(group, configuration, now, &mut report);
    }
    info(
        "duplicates flagged",
        &[
            ("groups", &report.groups),
            ("newly-flagged", &report.newly_flagged),
            ("already-flagged", &report.already_flagged),
            ("owners-changed", &report.owners_changed),
        ],
    );
    report
}

/// Every record of every module as a de-duplication candidate. A module the CRM refuses to
/// list is skipped with a warning.
fn list_candidates() -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for module in load_configuration().person_modules() {
        let mut cursor: Option<String> = None;
        loop {
            let page = match crm::list_records(module.as_str(), cursor.as_deref(), PAGE) {
                Ok(page) => page,
                Err(error) => {
                    let reason = match error {
                        crm::CrmError::NotFound(_) => "not found".to_owned(),
                        crm::CrmError::Invalid(reason) => reason,
                    };
                    warn(
                        "the CRM refused to list a module; not de-duplicating it",
                        &[("module", &module), ("reason", &reason)],
                    );
                    break;
                }
            };
            for record in page.records {
                let Some(reference) = record_ref(&record.ref_) else {
                    continue;
                };
                let email = record
                    .fields
                    .iter()
                    .find(|field| field.name.eq_ignore_ascii_case("email"))
                    .map_or("", |field| field.value.as_str());
                candidates.push(Candidate::new(
                    reference,
                    email,
                    &record.status,
                    record.modified_at,
                ));
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    candidates
}

/// A group's record as the CRM holds it now.
struct Current {
    fields: Fields,
    status: String,
    locked: bool,
}

fn current(record: &RecordRef) -> Option<Current> {
    match crm::get_record(&wit_record_ref(record)) {
        Ok(found) => Some(Current {
            fields: fields(found.fields),
            status: found.status,
            locked: found.locked,
        }),
        Err(_) => {
            warn(
                "a record listed for de-duplication is gone; leaving it",
                &[("record", record)],
            );
            None
        }
    }
}

/// Carries out one group: duplicates first (a duplicate that owned the address releases
/// it), then the primary takes the address and the answers of every record flagged now
/// (`privacy_guard_core::deduplication::carry_answers`): a refusal always wins over a
/// grant, and when the primary was itself a duplicate until now, the answers of the record
/// that held the address replace its own (that record had taken them when it was flagged).
fn settle(
    group: &DuplicateGroup,
    configuration: &Configuration,
    now: i64,
    report: &mut wit::Report,
) {
    let address = &group.address;
    let holder_before = load_snapshot(address).map(|snapshot| snapshot.record);
    let mut joining = Vec::new();
    for duplicate in &group.duplicates {
        let Some(current) = current(duplicate) else {
            continue;
        };
        let mut person = load_or_start(
            duplicate,
            current.fields.person_name(),
            Some(address.clone()),
        );
        let events = reevaluate(&mut person.snapshot, configuration, &current.fields, now);
        let flagged = flag_duplicate(
            &mut person.snapshot,
            &group.primary,
            StatusSource::Deduplication,
            now,
        );
        let placement = place(
            duplicate,
            Some(address.clone()),
            Some(&person.location),
            Some(&group.primary),
        );
        if let Some(released) = &placement.released {
            delete(&person_key(released.as_str()));
        }
        person.location = placement.location;
        person.append(&events, configuration);
        if let Some(flagged) = &flagged {
            person.append_status(flagged);
        }
        person.save();
        if flagged.is_some() {
            joining.push(person.snapshot.clone());
        }
        let crm_changed = mark_duplicate_in_crm(duplicate, &current.status, current.locked);
        if flagged.is_some() || crm_changed {
            report.newly_flagged = report.newly_flagged.saturating_add(1);
        } else {
            report.already_flagged = report.already_flagged.saturating_add(1);
        }
    }

    let Some(current) = current(&group.primary) else {
        return;
    };
    let mut primary = load_or_start(
        &group.primary,
        current.fields.person_name(),
        Some(address.clone()),
    );
    let was_duplicate = matches!(primary.snapshot.status, PersonStatus::Duplicate { .. });
    let reinstated = reinstate_primary(&mut primary.snapshot, now);
    let mut events = reevaluate(&mut primary.snapshot, configuration, &current.fields, now);
    // The record that held the address goes first: its answers replace a returning
    // primary's, and the others' then meet them.
    joining.sort_by_key(|snapshot| Some(&snapshot.record) != holder_before.as_ref());
    for joiner in &joining {
        let merge = if was_duplicate && Some(&joiner.record) == holder_before.as_ref() {
            Merge::Replace
        } else {
            Merge::RefusalWins
        };
        let history = consent_history(&joiner.record);
        let carried = carry_answers(
            &mut primary.snapshot,
            configuration,
            joiner,
            &history,
            merge,
            now,
        );
        if !carried.is_empty() {
            info(
                "answers carried over to the primary",
                &[
                    ("record", &joiner.record),
                    ("primary", &group.primary),
                    ("answers", &carried.len()),
                ],
            );
        }
        events.extend(carried);
    }
    let placement = place(
        &group.primary,
        Some(address.clone()),
        Some(&primary.location),
        None,
    );
    if let Some(released) = &placement.released {
        delete(&person_key(released.as_str()));
    }
    if !owns(&primary.location, address) {
        report.owners_changed = report.owners_changed.saturating_add(1);
    }
    primary.location = placement.location;
    if let Some(reinstated) = &reinstated {
        primary.append_status(reinstated);
    }
    primary.append(&events, configuration);
    primary.save();
    if primary.snapshot.status != PersonStatus::Active {
        info(
            "the primary of a group is not active; mail to its address follows its status",
            &[("record", &group.primary)],
        );
    }
}

fn owns(location: &Location, address: &Address) -> bool {
    matches!(location, Location::Person(owned) if owned == address)
}

fn wit_group(group: &DuplicateGroup) -> wit::DuplicateGroup {
    wit::DuplicateGroup {
        address: group.address.as_str().to_owned(),
        primary: wit_record_ref(&group.primary),
        duplicates: group.duplicates.iter().map(wit_record_ref).collect(),
    }
}

fn count(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
