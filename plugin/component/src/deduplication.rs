//! The `deduplication` export: flagging duplicate contacts and leads.
//!
//! Lists every record of every module page by page, lets the engine group them and choose
//! primaries (`privacy_guard_core::deduplication`), and carries the plan out: for each
//! duplicate the CRM status, the lock, the person status and its event; for each primary,
//! ownership of `person/<address>`. Enabling consents runs the same [`deduplicate`].

use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::deduplication::{
    Candidate, DuplicateGroup, Member, Plan, Settled, plan, settle as decide,
};
use privacy_guard_core::record::RecordRef;

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::deduplication as wit;
use crate::bindings::privacy_guard::consent::{clock, crm};
use crate::convert::{fields, record_ref, wit_record_ref};
use crate::logging::{info, warn};
use crate::state::{State, StoredPerson, apply_crm, consent_history};

/// Records asked of the CRM per page.
const PAGE: u32 = 500;

impl wit::Guest for Plugin {
    fn preview() -> wit::Plan {
        let plan = plan(list_candidates(&State::new().configuration()));
        wit::Plan {
            groups: plan.groups.iter().map(wit_group).collect(),
            records: count(plan.records),
            duplicates: count(plan.duplicates()),
        }
    }

    fn apply() -> wit::Report {
        let mut state = State::new();
        let configuration = state.configuration();
        deduplicate(&mut state, &configuration, clock::now())
    }
}

/// Flags every duplicate of contacts and leads, and gives each address to its primary.
pub(crate) fn deduplicate(
    state: &mut State,
    configuration: &Configuration,
    now: i64,
) -> wit::Report {
    let plan: Plan = plan(list_candidates(configuration));
    let mut report = wit::Report {
        groups: count(plan.groups.len()),
        newly_flagged: 0,
        already_flagged: 0,
        owners_changed: 0,
    };
    for group in &plan.groups {
        settle(state, group, configuration, now, &mut report);
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
fn list_candidates(configuration: &Configuration) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for module in configuration.person_modules() {
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

/// A group's record as the CRM holds it now, with what the plugin holds about it; none
/// (and a warning) when the CRM no longer returns it.
fn member(state: &State, record: &RecordRef, group: &DuplicateGroup) -> Option<Member> {
    let found = match crm::get_record(&wit_record_ref(record)) {
        Ok(found) => found,
        Err(_) => {
            warn(
                "a record listed for de-duplication is gone; leaving it",
                &[("record", record)],
            );
            return None;
        }
    };
    let fields = fields(found.fields);
    let person = state.person_or_new(record, fields.person_name(), Some(group.address.clone()));
    Some(Member {
        record: record.clone(),
        fields,
        crm_status: found.status,
        crm_locked: found.locked,
        location: person.location,
        snapshot: person.snapshot,
        history: consent_history(record),
    })
}

/// Settles one group: reads its records, lets the engine decide
/// (`privacy_guard_core::deduplication::settle`: flags, carried answers, who holds the
/// address), and carries the outcome out, duplicates first.
fn settle(
    state: &mut State,
    group: &DuplicateGroup,
    configuration: &Configuration,
    now: i64,
    report: &mut wit::Report,
) {
    let holder = state
        .snapshot_at(&group.address)
        .map(|snapshot| snapshot.record);
    let duplicates: Vec<Member> = group
        .duplicates
        .iter()
        .filter_map(|duplicate| member(state, duplicate, group))
        .collect();
    let primary = member(state, &group.primary, group);
    let settlement = decide(
        group,
        duplicates,
        primary,
        holder.as_ref(),
        configuration,
        now,
    );
    if settlement.owner_changed {
        report.owners_changed = report.owners_changed.saturating_add(1);
    }
    for settled in settlement.records {
        if settled.record != group.primary {
            if settled.newly_flagged {
                report.newly_flagged = report.newly_flagged.saturating_add(1);
            } else {
                report.already_flagged = report.already_flagged.saturating_add(1);
            }
        }
        carry_out(state, settled, configuration);
    }
}

/// Carries out what settling a group decided for one record.
fn carry_out(state: &mut State, settled: Settled, configuration: &Configuration) {
    let Settled {
        record,
        location,
        snapshot,
        released,
        consent_events,
        status_events,
        crm,
        carried,
        ..
    } = settled;
    if let Some(released) = &released {
        state.release(released);
    }
    let person = StoredPerson { location, snapshot };
    person.append(&consent_events, configuration);
    for event in &status_events {
        person.append_status(event);
    }
    state.save(&person);
    for effect in &crm {
        apply_crm(effect);
    }
    if carried > 0 {
        info(
            "answers carried over to the primary",
            &[("primary", &record), ("answers", &carried)],
        );
    }
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
