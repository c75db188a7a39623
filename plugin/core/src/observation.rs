//! Observing a CRM record (the records hook, the daily run, an import): where its consents
//! go, what changes, and what the CRM and the host must do. Decided here from facts the
//! adapter read; carried out by the adapter.
//!
//! | fact | what observing does |
//! |---|---|
//! | the record's address is held by nobody, or by the record itself | it holds the address (`person/<address>`) |
//! | another record holds the address | its consents are kept apart; with `flag-new-duplicates`, and the holder active, it is flagged a duplicate of the holder (CRM status `Duplicate`, locked) and its answers carry over to the holder |
//! | the record held another address before | that address is released |
//! | the address it left behind was erased | the host forgets it again (`mail.forget`): the CRM no longer holds it here |
//! | the record is erased | nothing is re-evaluated: it stays as the erasure left it |
//! | otherwise | which consents apply is evaluated from its fields ([`crate::lifecycle::reevaluate`]) |
//! | its address was erased | it is suppressed: every consent refused, status erased, the record locked |

use crate::address::Address;
use crate::configuration::Configuration;
use crate::deduplication::flag_duplicate;
use crate::event::{ConsentEvent, StatusEvent, StatusSource};
use crate::lifecycle::reevaluate;
use crate::person::PersonSnapshot;
use crate::record::{CrmEffect, Fields, RecordRef};
use crate::restriction::suppress;
use crate::storage::{Location, place};
use crate::vocabulary::PersonStatus;

/// What observing does with a record whose address another record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewDuplicates {
    /// Keep its consents apart, unflagged, until de-duplication.
    KeepApart,
    /// Flag it a duplicate of the holder when the holder is active.
    Flag,
}

impl NewDuplicates {
    /// What the records hook does: flag new duplicates with the setting
    /// `flag-new-duplicates`, keep them apart otherwise. (The daily run always keeps them
    /// apart: flagging is the administrator's de-duplication's, or the setting's.)
    pub fn of_records_hook(configuration: &Configuration) -> NewDuplicates {
        if configuration
            .settings()
            .is_some_and(|settings| settings.flag_new_duplicates())
        {
            NewDuplicates::Flag
        } else {
            NewDuplicates::KeepApart
        }
    }
}

/// What the adapter read before observing a record.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The record as the CRM holds it now.
    pub fields: &'a Fields,
    pub crm_status: &'a str,
    pub crm_locked: bool,
    /// The record's consents as the plugin held them (a new snapshot for a record never
    /// seen), and where they lived (none for a record never seen).
    pub snapshot: PersonSnapshot,
    pub previous: Option<Location>,
    /// The record holding the record's address now, and its status; none when nobody does.
    pub holder: Option<(RecordRef, PersonStatus)>,
    /// The record's address carries a suppression marker (it was erased).
    pub address_erased: bool,
    /// The address the record had before carries one.
    pub previous_address_erased: bool,
}

/// What to carry out after observing a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Where the record's consents live now, and what they are.
    pub location: Location,
    pub snapshot: PersonSnapshot,
    /// The `person/` address the record gave up: delete that key.
    pub released: Option<Address>,
    /// An erased address the record left behind: the host forgets it (`mail.forget`).
    pub forget: Option<Address>,
    pub consent_events: Vec<ConsentEvent>,
    pub status_events: Vec<StatusEvent>,
    /// What the CRM must do to the record.
    pub crm: Vec<CrmEffect>,
    /// The record was just flagged a duplicate of this holder: its answers carry over to
    /// it ([`crate::deduplication::carry_answers`], a refusal always winning).
    pub carry_to: Option<RecordRef>,
}

/// Observes `record` given `facts`, at `now`.
pub fn observe(
    record: &RecordRef,
    facts: Facts<'_>,
    configuration: &Configuration,
    duplicates: NewDuplicates,
    now: i64,
) -> Observation {
    let Facts {
        fields,
        crm_status,
        crm_locked,
        mut snapshot,
        previous,
        holder,
        address_erased,
        previous_address_erased,
    } = facts;
    snapshot.read_fields(fields, configuration);
    let address = fields.address().ok();
    let holder_record = holder.as_ref().map(|(record, _)| record.clone());
    let placement = place(
        record,
        address.clone(),
        previous.as_ref(),
        holder_record.as_ref(),
    );
    let forget = previous
        .as_ref()
        .and_then(Location::address)
        .filter(|before| address.as_ref() != Some(*before) && previous_address_erased)
        .cloned();
    let mut consent_events = if matches!(snapshot.status, PersonStatus::Erased { .. }) {
        Vec::new()
    } else {
        reevaluate(&mut snapshot, configuration, fields, now)
    };
    let mut status_events = Vec::new();
    let mut crm = Vec::new();
    let mut carry_to = None;
    if let (Some((holder, PersonStatus::Active)), Location::Record { address: Some(_) }) =
        (&holder, &placement.location)
        && duplicates == NewDuplicates::Flag
        && holder != record
        && let Some(flagged) =
            flag_duplicate(&mut snapshot, holder, StatusSource::RecordChange, now)
    {
        status_events.push(flagged);
        crm.extend(crate::deduplication::crm_effects_of_duplicate(
            record, crm_status, crm_locked,
        ));
        carry_to = Some(holder.clone());
    }
    if address_erased
        && address.is_some()
        && let Some((refused, status)) = suppress(&mut snapshot, configuration, now)
    {
        consent_events.extend(refused);
        status_events.push(status);
        if !crm_locked
            && !crm
                .iter()
                .any(|effect| matches!(effect, CrmEffect::SetLocked { .. }))
        {
            crm.push(CrmEffect::SetLocked {
                record: record.clone(),
                locked: true,
            });
        }
    }
    Observation {
        location: placement.location,
        snapshot,
        released: placement.released,
        forget,
        consent_events,
        status_events,
        crm,
        carry_to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::consent::ConsentValue;
    use crate::definition::ConsentKind;
    use crate::record::Module;
    use crate::record::tests::fields;

    fn configuration() -> Configuration {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(
                definition_input("news", "contacts", ConsentKind::Custom),
                None,
            )
            .unwrap();
        configuration
    }

    fn contact(id: &str) -> RecordRef {
        RecordRef::new(Module::Contacts, id)
    }

    fn ada() -> Address {
        Address::parse("ada@example.org").unwrap()
    }

    /// Observes contact 2 with Ada's address, held by `holder`.
    fn observe_ada(
        holder: Option<(RecordRef, PersonStatus)>,
        duplicates: NewDuplicates,
        address_erased: bool,
    ) -> Observation {
        let record = contact("2");
        let fields = fields(&[("email", " Ada@Example.org "), ("name", "Ada")]);
        observe(
            &record,
            Facts {
                fields: &fields,
                crm_status: "Active",
                crm_locked: false,
                snapshot: PersonSnapshot::new(record.clone(), String::new()),
                previous: None,
                holder,
                address_erased,
                previous_address_erased: false,
            },
            &configuration(),
            duplicates,
            7,
        )
    }

    #[test]
    fn a_record_holds_a_free_address_and_is_kept_apart_from_a_held_one() {
        let free = observe_ada(None, NewDuplicates::Flag, false);
        assert_eq!(free.location, Location::Person(ada()));
        assert_eq!(free.snapshot.value_of("news"), ConsentValue::Applicable);
        assert_eq!(free.snapshot.name, "Ada");
        let apart = observe_ada(
            Some((contact("1"), PersonStatus::Active)),
            NewDuplicates::KeepApart,
            false,
        );
        assert_eq!(
            apart.location,
            Location::Record {
                address: Some(ada())
            }
        );
        assert!(apart.status_events.is_empty() && apart.crm.is_empty() && apart.carry_to.is_none());
    }

    #[test]
    fn a_new_duplicate_of_an_active_holder_is_flagged_and_its_answers_carry_over() {
        let flagged = observe_ada(
            Some((contact("1"), PersonStatus::Active)),
            NewDuplicates::Flag,
            false,
        );
        assert!(matches!(
            flagged.snapshot.status,
            PersonStatus::Duplicate { .. }
        ));
        assert_eq!(flagged.carry_to, Some(contact("1")));
        assert_eq!(
            flagged.crm,
            [
                CrmEffect::SetStatus {
                    record: contact("2"),
                    status: "Duplicate".into()
                },
                CrmEffect::SetLocked {
                    record: contact("2"),
                    locked: true
                }
            ]
        );
        // A restricted holder is not a primary to flag against.
        let restricted = observe_ada(
            Some((contact("1"), PersonStatus::Restricted { since: 1 })),
            NewDuplicates::Flag,
            false,
        );
        assert_eq!(restricted.snapshot.status, PersonStatus::Active);
    }

    #[test]
    fn a_record_bringing_back_an_erased_address_is_suppressed_and_locked() {
        let suppressed = observe_ada(None, NewDuplicates::KeepApart, true);
        assert!(matches!(
            suppressed.snapshot.status,
            PersonStatus::Erased { .. }
        ));
        assert_eq!(
            suppressed.snapshot.value_of("news"),
            ConsentValue::NotGranted
        );
        assert_eq!(
            suppressed.crm,
            [CrmEffect::SetLocked {
                record: contact("2"),
                locked: true
            }]
        );
    }

    #[test]
    fn leaving_an_erased_address_behind_forgets_it() {
        let record = contact("1");
        let fields = fields(&[("email", "")]);
        let observed = observe(
            &record,
            Facts {
                fields: &fields,
                crm_status: "Active",
                crm_locked: true,
                snapshot: PersonSnapshot::new(record.clone(), String::new()),
                previous: Some(Location::Record {
                    address: Some(ada()),
                }),
                holder: None,
                address_erased: false,
                previous_address_erased: true,
            },
            &configuration(),
            NewDuplicates::KeepApart,
            7,
        );
        assert_eq!(observed.forget, Some(ada()));
        assert_eq!(observed.location, Location::Record { address: None });
    }
}
