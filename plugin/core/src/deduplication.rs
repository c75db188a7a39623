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

use crate::vocabulary::PersonStatus;
use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;

use crate::address::Address;
use crate::configuration::Configuration;
use crate::consent::ConsentValue;
use crate::event::{Cause, ConsentEvent, StatusEvent, StatusSource};
use crate::lifecycle::reevaluate;
use crate::person::PersonSnapshot;
use crate::record::{CrmEffect, Fields, RecordRef};
use crate::storage::{Location, place};

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

/// What the CRM must do to show `record` as a duplicate: status `Duplicate` (overwriting
/// the status it had) and locked; what is already so is left alone.
pub fn crm_effects_of_duplicate(
    record: &RecordRef,
    crm_status: &str,
    crm_locked: bool,
) -> Vec<CrmEffect> {
    let mut effects = Vec::new();
    if !is_duplicate_status(crm_status) {
        effects.push(CrmEffect::SetStatus {
            record: record.clone(),
            status: DUPLICATE_STATUS.to_owned(),
        });
    }
    if !crm_locked {
        effects.push(CrmEffect::SetLocked {
            record: record.clone(),
            locked: true,
        });
    }
    effects
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

/// One record of a group, as the adapter found it.
#[derive(Debug, Clone)]
pub struct Member {
    pub record: RecordRef,
    /// The record as the CRM holds it now.
    pub fields: Fields,
    pub crm_status: String,
    pub crm_locked: bool,
    /// Where its consents live and what they are (apart, and new, when the plugin never
    /// held the record).
    pub location: Location,
    pub snapshot: PersonSnapshot,
    /// Its consent events, oldest first: what carrying its answers over reads.
    pub history: Vec<ConsentEvent>,
}

/// What settling a group does to one of its records, in the order to carry it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub record: RecordRef,
    pub location: Location,
    pub snapshot: PersonSnapshot,
    /// The `person/` address the record gave up: delete that key.
    pub released: Option<Address>,
    pub consent_events: Vec<ConsentEvent>,
    pub status_events: Vec<StatusEvent>,
    pub crm: Vec<CrmEffect>,
    /// Answers carried over to this record from others (the primary only).
    pub carried: usize,
    /// This duplicate was flagged now (its status or its CRM record changed).
    pub newly_flagged: bool,
}

/// What settling a group does: the duplicates, then the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub records: Vec<Settled>,
    /// The address changed hands to the primary.
    pub owner_changed: bool,
}

/// Settles one group at `now`: each duplicate (its consents re-evaluated, flagged a
/// duplicate of the primary unless restricted or erased, kept apart, its address released,
/// shown as a duplicate in the CRM), then the primary (a duplicate flagged earlier becomes
/// active again, its consents re-evaluated, the answers of every record flagged now carried
/// over, the address held). `holder` held the address before: when the primary was itself
/// a duplicate until now, that record's answers replace the primary's own (it had taken
/// them when it was flagged, and holds every answer given since); every other record's
/// answers meet them with a refusal always winning. A member the CRM no longer returns is
/// left out by the adapter; without a primary only the duplicates are settled.
pub fn settle(
    group: &DuplicateGroup,
    duplicates: Vec<Member>,
    primary: Option<Member>,
    holder: Option<&RecordRef>,
    configuration: &Configuration,
    now: i64,
) -> Settlement {
    let address = &group.address;
    let mut records = Vec::new();
    let mut joining: Vec<(PersonSnapshot, Vec<ConsentEvent>)> = Vec::new();
    for member in duplicates {
        let Member {
            record,
            fields,
            crm_status,
            crm_locked,
            location,
            mut snapshot,
            mut history,
        } = member;
        snapshot.read_fields(&fields, configuration);
        let consent_events = reevaluate(&mut snapshot, configuration, &fields, now);
        let flagged = flag_duplicate(
            &mut snapshot,
            &group.primary,
            StatusSource::Deduplication,
            now,
        );
        let placement = place(
            &record,
            Some(address.clone()),
            Some(&location),
            Some(&group.primary),
        );
        let crm = crm_effects_of_duplicate(&record, &crm_status, crm_locked);
        let newly_flagged = flagged.is_some() || !crm.is_empty();
        if flagged.is_some() {
            history.extend(consent_events.iter().cloned());
            joining.push((snapshot.clone(), history));
        }
        records.push(Settled {
            record,
            location: placement.location,
            snapshot,
            released: placement.released,
            consent_events,
            status_events: flagged.into_iter().collect(),
            crm,
            carried: 0,
            newly_flagged,
        });
    }
    let Some(primary) = primary else {
        return Settlement {
            records,
            owner_changed: false,
        };
    };
    let Member {
        record,
        fields,
        location,
        mut snapshot,
        ..
    } = primary;
    snapshot.read_fields(&fields, configuration);
    let was_duplicate = matches!(snapshot.status, PersonStatus::Duplicate { .. });
    let reinstated = reinstate_primary(&mut snapshot, now);
    let mut consent_events = reevaluate(&mut snapshot, configuration, &fields, now);
    // The record that held the address goes first: its answers replace a returning
    // primary's, and the others' then meet them.
    joining.sort_by_key(|(joiner, _)| Some(&joiner.record) != holder);
    let mut carried = 0;
    for (joiner, history) in &joining {
        let merge = if was_duplicate && Some(&joiner.record) == holder {
            Merge::Replace
        } else {
            Merge::RefusalWins
        };
        let events = carry_answers(&mut snapshot, configuration, joiner, history, merge, now);
        carried += events.len();
        consent_events.extend(events);
    }
    let placement = place(&record, Some(address.clone()), Some(&location), None);
    let owner_changed = !matches!(&location, Location::Person(owned) if owned == address);
    records.push(Settled {
        record,
        location: placement.location,
        snapshot,
        released: placement.released,
        consent_events,
        status_events: reinstated.into_iter().collect(),
        crm: Vec::new(),
        carried,
        newly_flagged: false,
    });
    Settlement {
        records,
        owner_changed,
    }
}

/// How the answers of a record joining a group meet the primary's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Two records that each held answers of their own: a refusal always wins over a
    /// grant, and a grant counts where the primary has no answer.
    RefusalWins,
    /// The record that owned the address until now gives way to a primary that was its
    /// duplicate: it had taken that record's answers when it was flagged, and holds every
    /// answer given since, so its answers replace the returning primary's.
    Replace,
}

/// What the record's current value of `consent` rests on, when it is the person's: the
/// last event of its history, if it set the value by an answer (the page, staff) or, for
/// waiting, by a request mailed to the person (or carried over from another record).
fn event_behind<'e>(
    history: &'e [ConsentEvent],
    consent: &str,
    value: ConsentValue,
) -> Option<&'e ConsentEvent> {
    let original = |cause: &'e Cause| -> &'e Cause {
        match cause {
            Cause::CarriedOver { answer, .. } => answer,
            other => other,
        }
    };
    history
        .iter()
        .rev()
        .find(|event| event.consent.as_str() == consent)
        .filter(|event| event.to == value)
        .filter(|event| match value {
            ConsentValue::Waiting => matches!(original(&event.cause), Cause::Request { .. }),
            _ => event.cause.is_answer(),
        })
}

/// Carries the answers of `joining` (a record of the same person that was just flagged a
/// duplicate of `primary`'s record, or the owner giving way, per `merge`) over to the
/// primary, and returns the events (source `deduplication`, each naming the record and the
/// answer's own time and evidence). Answers are grants and refusals given on the page or
/// recorded by staff; what the rules did on their own (applicability, the refusals of an
/// erasure's suppression) is not carried. A request the joining record was sent and not
/// answered yet (waiting) carries over where the primary has not been asked, so the person
/// is not asked twice and their answer to it counts. A consent of the primary's own module
/// that does not apply to the primary takes nothing. Consents deleted since are skipped.
/// Both histories stay as they are: the joining record keeps its own.
pub fn carry_answers(
    primary: &mut PersonSnapshot,
    configuration: &Configuration,
    joining: &PersonSnapshot,
    joining_history: &[ConsentEvent],
    merge: Merge,
    now: i64,
) -> Vec<ConsentEvent> {
    let mut events = Vec::new();
    for state in &joining.consents {
        if !matches!(
            state.value,
            ConsentValue::Granted | ConsentValue::NotGranted | ConsentValue::Waiting
        ) {
            continue;
        }
        let Some(stored) = configuration.consent(state.consent.as_str()) else {
            continue;
        };
        let Some(answer) = event_behind(joining_history, state.consent.as_str(), state.value)
        else {
            continue;
        };
        let current = primary.value_of(state.consent.as_str());
        if stored.definition.module == primary.record.module
            && current == ConsentValue::NotApplicable
        {
            continue;
        }
        let takes = match (merge, state.value) {
            (Merge::Replace, _) => current != state.value,
            (Merge::RefusalWins, ConsentValue::NotGranted) => current != ConsentValue::NotGranted,
            (Merge::RefusalWins, ConsentValue::Granted) => {
                !matches!(current, ConsentValue::Granted | ConsentValue::NotGranted)
            }
            (Merge::RefusalWins, _) => {
                matches!(
                    current,
                    ConsentValue::NotApplicable | ConsentValue::Applicable
                )
            }
        };
        if !takes {
            continue;
        }
        // A carried answer keeps pointing at the record and time it was given.
        let cause = match &answer.cause {
            carried @ Cause::CarriedOver { .. } => carried.clone(),
            original => Cause::CarriedOver {
                from: joining.record.clone(),
                answered_at: answer.at,
                answer: Box::new(original.clone()),
            },
        };
        let event = ConsentEvent {
            at: now,
            consent: stored.id().clone(),
            from: current,
            to: state.value,
            purpose: answer.purpose.clone(),
            default: stored.definition.default,
            cause,
        };
        primary.commit(&event);
        events.push(event);
    }
    events
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

    /// Answers carried from a joining record, as a table: (joining value and how it was
    /// set, primary value, merge, primary value after, carried).
    #[test]
    fn answers_carry_over_and_a_refusal_always_wins() {
        use crate::configuration::tests::{definition_input, settings_input};
        use crate::consent::ConsentValue::*;
        use crate::definition::ConsentKind;
        use crate::event::{ActorName, LinkId, RecordingSource, Statement};
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(
                definition_input("news", "contacts", ConsentKind::Custom),
                None,
            )
            .unwrap();
        configuration
            .put_consent(
                definition_input("lead-news", "leads", ConsentKind::Custom),
                None,
            )
            .unwrap();
        let stored = configuration.consent("news").unwrap().clone();
        let page = Cause::PreferencesPage {
            link: LinkId([1; 16]),
            ip: None,
            user_agent: None,
            seconds_since_request: None,
        };
        let staff = Cause::Recorded {
            source: RecordingSource::Admin,
            actor: Some(ActorName::parse("alice").unwrap()),
            statement: Statement::parse("phone").unwrap(),
        };
        let set = |snapshot: &mut PersonSnapshot, value: ConsentValue, cause: &Cause, at: i64| {
            let event = ConsentEvent {
                at,
                consent: stored.id().clone(),
                from: snapshot.value_of("news"),
                to: value,
                purpose: stored.purpose.clone(),
                default: stored.definition.default,
                cause: cause.clone(),
            };
            snapshot.commit(&event);
            event
        };
        // (joining value, by an answer?, primary module, primary value, merge, after, carried)
        let rows = [
            (
                Granted,
                true,
                Module::Contacts,
                Applicable,
                Merge::RefusalWins,
                Granted,
                true,
            ),
            (
                Granted,
                true,
                Module::Leads,
                NotApplicable,
                Merge::RefusalWins,
                Granted,
                true,
            ),
            (
                Granted,
                true,
                Module::Contacts,
                NotGranted,
                Merge::RefusalWins,
                NotGranted,
                false,
            ),
            (
                Granted,
                true,
                Module::Contacts,
                Granted,
                Merge::RefusalWins,
                Granted,
                false,
            ),
            (
                NotGranted,
                true,
                Module::Contacts,
                Granted,
                Merge::RefusalWins,
                NotGranted,
                true,
            ),
            (
                NotGranted,
                true,
                Module::Contacts,
                Waiting,
                Merge::RefusalWins,
                NotGranted,
                true,
            ),
            (
                NotGranted,
                true,
                Module::Leads,
                NotApplicable,
                Merge::RefusalWins,
                NotGranted,
                true,
            ),
            (
                NotGranted,
                false,
                Module::Contacts,
                Granted,
                Merge::RefusalWins,
                Granted,
                false,
            ),
            (
                Granted,
                true,
                Module::Contacts,
                NotApplicable,
                Merge::RefusalWins,
                NotApplicable,
                false,
            ),
            (
                Waiting,
                false,
                Module::Contacts,
                Applicable,
                Merge::RefusalWins,
                Applicable,
                false,
            ),
            (
                Granted,
                true,
                Module::Contacts,
                NotGranted,
                Merge::Replace,
                Granted,
                true,
            ),
            (
                NotGranted,
                true,
                Module::Contacts,
                Granted,
                Merge::Replace,
                NotGranted,
                true,
            ),
        ];
        for (value, answered, module, before, merge, after, carried) in rows {
            let mut joining = PersonSnapshot::new(contact("9"), String::new());
            let mut history = vec![set(&mut joining, Applicable, &Cause::RecordChange, 1)];
            if value != Applicable {
                let cause = if answered {
                    staff.clone()
                } else {
                    Cause::RecordChange
                };
                history.push(set(&mut joining, value, &cause, 2));
            }
            let mut primary =
                PersonSnapshot::new(RecordRef::new(module.clone(), "1"), String::new());
            if before != NotApplicable {
                set(&mut primary, before, &page, 1);
            }
            let events = carry_answers(&mut primary, &configuration, &joining, &history, merge, 10);
            let row = format!("{value:?} answered={answered} {module} {before:?} {merge:?}");
            assert_eq!(primary.value_of("news"), after, "{row}");
            assert_eq!(events.len(), usize::from(carried), "{row}");
            for event in events {
                assert_eq!(
                    (event.from, event.to, event.at),
                    (before, after, 10),
                    "{row}"
                );
                match event.cause {
                    Cause::CarriedOver {
                        from,
                        answered_at,
                        answer,
                    } => {
                        assert_eq!((from, answered_at), (contact("9"), 2), "{row}");
                        assert_eq!(*answer, staff, "{row}");
                    }
                    other => panic!("{row}: {other:?}"),
                }
            }
        }
        // A carried answer carried again keeps naming where and when it was given.
        let mut first = PersonSnapshot::new(contact("9"), String::new());
        let history = vec![
            set(&mut first, Applicable, &Cause::RecordChange, 1),
            set(&mut first, Granted, &page, 2),
        ];
        let mut middle = PersonSnapshot::new(lead("5"), String::new());
        let carried = carry_answers(
            &mut middle,
            &configuration,
            &first,
            &history,
            Merge::RefusalWins,
            3,
        );
        let mut last = PersonSnapshot::new(lead("6"), String::new());
        let again = carry_answers(
            &mut last,
            &configuration,
            &middle,
            &carried,
            Merge::RefusalWins,
            4,
        );
        assert_eq!(last.value_of("news"), Granted);
        assert!(
            matches!(&again[0].cause, Cause::CarriedOver { from, answered_at: 2, .. } if *from == contact("9"))
        );
        // A request sent to the joining record and not answered yet stands for a primary
        // that was not asked (one request per person), never over an answer.
        let request = Cause::Request {
            period: crate::calendar::Date::parse("2024-05-01").unwrap(),
            link: LinkId([7; 16]),
        };
        let mut asked = PersonSnapshot::new(contact("9"), String::new());
        let history = vec![
            set(&mut asked, Applicable, &Cause::RecordChange, 1),
            set(&mut asked, Waiting, &request, 2),
        ];
        for (before, after) in [
            (Applicable, Waiting),
            (Granted, Granted),
            (NotGranted, NotGranted),
        ] {
            let mut primary = PersonSnapshot::new(contact("1"), String::new());
            set(&mut primary, Applicable, &Cause::RecordChange, 1);
            if before != Applicable {
                set(&mut primary, before, &page, 1);
            }
            carry_answers(
                &mut primary,
                &configuration,
                &asked,
                &history,
                Merge::RefusalWins,
                3,
            );
            assert_eq!(primary.value_of("news"), after, "{before:?}");
        }
    }
}
