//! De-duplication of contacts and leads: records grouped by address, one primary per group.
//!
//! Vtiger's rule: records of the same person (the same email address) must not each get a
//! consent request, so every record but the last modified one is flagged `Duplicate`.
//!
//! - Records are grouped by their normalised address (trimmed, lower case); a record
//!   without a usable address is never grouped. Contacts and leads share groups.
//! - In a group of two or more, the primary is the record modified last (`modified-at`).
//!   Records the CRM already shows as duplicates (status `Duplicate`) are passed over while
//!   any other record remains, because flagging a record modifies it: without this, the
//!   second run would pick a freshly flagged duplicate as primary.
//! - Ties on `modified-at` go to a contact over a lead (a lead converts into a contact,
//!   not the other way round), then to the smaller id (numeric ids compare as numbers,
//!   longer ids after shorter ones): the record that existed first.
//! - Every other record of the group is a duplicate.
//!
//! The functions are pure: the adapter lists the records, passes them in, and carries out
//! the plan (CRM status and lock, person status, ownership of `person/<address>`).

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;

use crate::address::Address;
use crate::event::{StatusEvent, StatusSource};
use crate::person::{PersonSnapshot, PersonStatus};
use crate::record::RecordRef;

/// The CRM status of a duplicate record, as Vtiger names it.
pub const DUPLICATE_STATUS: &str = "Duplicate";

/// Whether a CRM status marks the record as a duplicate (trimmed, ignoring case).
pub fn is_duplicate_status(status: &str) -> bool {
    status.trim().eq_ignore_ascii_case(DUPLICATE_STATUS)
}

/// What de-duplication needs to know about one CRM record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub record: RecordRef,
    /// The record's normalised address; none when its email is empty or unusable.
    pub address: Option<Address>,
    /// When the record was last modified in the CRM (unix ms).
    pub modified_at: i64,
    /// The CRM already shows the record as a duplicate.
    pub flagged: bool,
}

impl Candidate {
    /// The candidate of a record with the raw `email` and CRM `status` it has in the CRM.
    pub fn new(record: RecordRef, email: &str, status: &str, modified_at: i64) -> Candidate {
        Candidate {
            record,
            address: Address::parse(email).ok(),
            modified_at,
            flagged: is_duplicate_status(status),
        }
    }
}

/// Records sharing one address: the one kept, and the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    pub address: Address,
    pub primary: RecordRef,
    /// Sorted: contacts before leads, then by id.
    pub duplicates: Vec<RecordRef>,
}

/// What de-duplication finds among a set of records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Sorted by address.
    pub groups: Vec<DuplicateGroup>,
    /// Records looked at (each record once).
    pub records: usize,
}

impl Plan {
    /// Duplicates across every group.
    pub fn duplicates(&self) -> usize {
        self.groups.iter().map(|group| group.duplicates.len()).sum()
    }
}

/// Ids in natural order: shorter first, then by text, so `9` < `10` for numeric ids.
fn id_order(left: &str, right: &str) -> Ordering {
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}

/// Records in the order of their refs: contacts before leads, then ids in natural order.
fn record_order(left: &RecordRef, right: &RecordRef) -> Ordering {
    left.module
        .cmp(&right.module)
        .then_with(|| id_order(&left.id, &right.id))
}

/// The order in which candidates are preferred as primary: the greatest wins.
fn primary_order(left: &Candidate, right: &Candidate) -> Ordering {
    let key = |candidate: &Candidate| (Reverse(candidate.flagged), candidate.modified_at);
    key(left)
        .cmp(&key(right))
        // On a tie, the earlier record in record order wins: it must compare greater.
        .then_with(|| record_order(&right.record, &left.record))
}

/// The primary of a group: see the module documentation. None for an empty group.
pub fn choose_primary(members: &[Candidate]) -> Option<&Candidate> {
    members
        .iter()
        .max_by(|left, right| primary_order(left, right))
}

/// Groups `candidates` by address and chooses each group's primary. A record listed more
/// than once counts once (its last listing).
pub fn plan(candidates: impl IntoIterator<Item = Candidate>) -> Plan {
    let mut by_record: BTreeMap<RecordRef, Candidate> = BTreeMap::new();
    for candidate in candidates {
        by_record.insert(candidate.record.clone(), candidate);
    }
    let records = by_record.len();
    let mut by_address: BTreeMap<Address, Vec<Candidate>> = BTreeMap::new();
    for candidate in by_record.into_values() {
        if let Some(address) = candidate.address.clone() {
            by_address.entry(address).or_default().push(candidate);
        }
    }
    let groups = by_address
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .filter_map(|(address, members)| {
            let primary = choose_primary(&members)?.record.clone();
            let mut duplicates: Vec<RecordRef> = members
                .into_iter()
                .map(|member| member.record)
                .filter(|record| *record != primary)
                .collect();
            duplicates.sort_by(record_order);
            Some(DuplicateGroup {
                address,
                primary,
                duplicates,
            })
        })
        .collect();
    Plan { groups, records }
}

/// Flags a person as a duplicate of `primary` at `now`: an active person becomes a
/// duplicate. A restricted or erased person keeps that status (it is stricter, and must not
/// be lost), and a duplicate stays one; neither gives an event.
pub fn flag_duplicate(
    snapshot: &mut PersonSnapshot,
    primary: &RecordRef,
    source: StatusSource,
    now: i64,
) -> Option<StatusEvent> {
    if snapshot.status != PersonStatus::Active {
        return None;
    }
    snapshot.change_status(
        PersonStatus::Duplicate { since: now },
        source,
        Some(primary.clone()),
        now,
    )
}

/// A record chosen as primary that was flagged as a duplicate earlier (the CRM no longer
/// shows it as one) becomes active again.
pub fn reinstate_primary(snapshot: &mut PersonSnapshot, now: i64) -> Option<StatusEvent> {
    match snapshot.status {
        PersonStatus::Duplicate { .. } => {
            snapshot.change_status(PersonStatus::Active, StatusSource::Deduplication, None, now)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Module;

    fn contact(id: &str) -> RecordRef {
        RecordRef::new(Module::Contacts, id)
    }

    fn lead(id: &str) -> RecordRef {
        RecordRef::new(Module::Leads, id)
    }

    /// (record, email, CRM status, modified at)
    type Row<'a> = (RecordRef, &'a str, &'a str, i64);

    fn candidates(rows: &[Row<'_>]) -> Vec<Candidate> {
        rows.iter()
            .map(|(record, email, status, at)| Candidate::new(record.clone(), email, status, *at))
            .collect()
    }

    /// (address, primary, duplicates)
    fn groups(plan: &Plan) -> Vec<(&str, RecordRef, Vec<RecordRef>)> {
        plan.groups
            .iter()
            .map(|group| {
                (
                    group.address.as_str(),
                    group.primary.clone(),
                    group.duplicates.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn records_are_grouped_by_normalised_address_and_the_last_modified_is_primary() {
        type Case<'a> = (
            &'a str,
            Vec<Row<'a>>,
            Vec<(&'a str, RecordRef, Vec<RecordRef>)>,
        );
        let cases: Vec<Case<'_>> = vec![
            ("nothing to group", vec![], vec![]),
            (
                "one record per address",
                vec![
                    (contact("1"), "ada@example.org", "Active", 1),
                    (contact("2"), "grace@example.org", "Active", 2),
                ],
                vec![],
            ),
            (
                "case and whitespace variants are one address",
                vec![
                    (contact("1"), "ada@example.org", "Active", 1),
                    (contact("2"), "  ADA@Example.org ", "Active", 3),
                    (contact("3"), "Ada@example.ORG", "Customer", 2),
                ],
                vec![(
                    "ada@example.org",
                    contact("2"),
                    vec![contact("1"), contact("3")],
                )],
            ),
            (
                "contacts and leads share groups",
                vec![
                    (contact("1"), "ada@example.org", "Active", 5),
                    (lead("1"), "ada@example.org", "Active", 9),
                    (lead("2"), "grace@example.org", "Active", 1),
                    (contact("2"), "grace@example.org", "Active", 2),
                ],
                vec![
                    ("ada@example.org", lead("1"), vec![contact("1")]),
                    ("grace@example.org", contact("2"), vec![lead("2")]),
                ],
            ),
            (
                "records without a usable address are never grouped",
                vec![
                    (contact("1"), "", "Active", 1),
                    (contact("2"), "   ", "Active", 2),
                    (contact("3"), "not an address", "Active", 3),
                    (lead("1"), "not an address", "Active", 4),
                    (lead("2"), "", "Active", 5),
                ],
                vec![],
            ),
            (
                "a tie goes to a contact over a lead",
                vec![
                    (lead("1"), "ada@example.org", "Active", 7),
                    (contact("9"), "ada@example.org", "Active", 7),
                ],
                vec![("ada@example.org", contact("9"), vec![lead("1")])],
            ),
            (
                "a tie within a module goes to the smaller id, numerically",
                vec![
                    (contact("10"), "ada@example.org", "Active", 7),
                    (contact("9"), "ada@example.org", "Active", 7),
                    (contact("11"), "ada@example.org", "Active", 6),
                ],
                vec![(
                    "ada@example.org",
                    contact("9"),
                    vec![contact("10"), contact("11")],
                )],
            ),
            (
                "records already flagged are passed over although modified later",
                vec![
                    (contact("1"), "ada@example.org", "Active", 1),
                    (contact("2"), "ada@example.org", "Duplicate", 50),
                    (lead("3"), "ada@example.org", " duplicate ", 60),
                ],
                vec![(
                    "ada@example.org",
                    contact("1"),
                    vec![contact("2"), lead("3")],
                )],
            ),
            (
                "when every record is flagged the last modified is primary",
                vec![
                    (contact("1"), "ada@example.org", "Duplicate", 1),
                    (contact("2"), "ada@example.org", "Duplicate", 2),
                ],
                vec![("ada@example.org", contact("2"), vec![contact("1")])],
            ),
        ];
        for (name, rows, expected) in cases {
            let plan = plan(candidates(&rows));
            assert_eq!(groups(&plan), expected, "{name}");
            assert_eq!(plan.records, rows.len(), "{name}");
        }
    }

    #[test]
    fn the_plan_counts_records_once_and_duplicates_across_groups() {
        let rows = [
            (contact("1"), "ada@example.org", "Active", 1),
            (contact("1"), "ada@example.org", "Active", 1),
            (contact("2"), "ada@example.org", "Active", 2),
            (lead("1"), "grace@example.org", "Active", 1),
            (lead("2"), "grace@example.org", "Active", 2),
            (lead("3"), "grace@example.org", "Active", 3),
        ];
        let plan = plan(candidates(&rows));
        assert_eq!(plan.records, 5);
        assert_eq!(plan.groups.len(), 2);
        assert_eq!(plan.duplicates(), 3);
    }

    #[test]
    fn planning_again_after_flagging_keeps_the_same_primaries() {
        // Flagging a duplicate marks it `Duplicate` in the CRM and modifies it (later than
        // the primary): the plan made afterwards must be the same.
        let before = [
            (contact("1"), "ada@example.org", "Customer", 1),
            (lead("4"), "ada@example.org", "Active", 3),
            (contact("2"), "ADA@example.org", "Active", 2),
        ];
        let first = plan(candidates(&before));
        let flagged: Vec<Row<'_>> = before
            .iter()
            .map(|(record, email, status, at)| {
                if first.groups[0].duplicates.contains(record) {
                    (record.clone(), *email, DUPLICATE_STATUS, 100)
                } else {
                    (record.clone(), *email, *status, *at)
                }
            })
            .collect();
        let second = plan(candidates(&flagged));
        assert_eq!(first, second);
        assert_eq!(first.groups[0].primary, lead("4"));
    }

    #[test]
    fn only_active_people_become_duplicates_and_only_duplicates_are_reinstated() {
        use PersonStatus::*;
        let primary = lead("7");
        // (status before, flagged to, event expected, reinstated to, event expected)
        let cases = [
            (Active, Duplicate { since: 5 }, true, Active, false),
            (
                Duplicate { since: 1 },
                Duplicate { since: 1 },
                false,
                Active,
                true,
            ),
            (
                Restricted { since: 1 },
                Restricted { since: 1 },
                false,
                Restricted { since: 1 },
                false,
            ),
            (
                Erased { since: 1 },
                Erased { since: 1 },
                false,
                Erased { since: 1 },
                false,
            ),
        ];
        for (before, flagged, flag_event, reinstated, reinstate_event) in cases {
            let mut snapshot = PersonSnapshot::new(contact("1"), String::new());
            snapshot.status = before;
            let event = flag_duplicate(&mut snapshot, &primary, StatusSource::Deduplication, 5);
            assert_eq!(snapshot.status, flagged, "{before:?}");
            assert_eq!(event.is_some(), flag_event, "{before:?}");
            if let Some(event) = event {
                assert_eq!(event.primary.as_ref(), Some(&primary));
                assert_eq!((event.from, event.to, event.at), (before, flagged, 5));
            }
            let mut snapshot = PersonSnapshot::new(contact("1"), String::new());
            snapshot.status = before;
            let event = reinstate_primary(&mut snapshot, 6);
            assert_eq!(snapshot.status, reinstated, "{before:?}");
            assert_eq!(event.is_some(), reinstate_event, "{before:?}");
        }
    }

    #[test]
    fn only_the_duplicate_status_counts_as_flagged() {
        let cases = [
            ("Duplicate", true),
            (" duplicate ", true),
            ("DUPLICATE", true),
            ("Active", false),
            ("", false),
            ("Duplicated", false),
        ];
        for (status, flagged) in cases {
            assert_eq!(is_duplicate_status(status), flagged, "{status}");
        }
    }
}
