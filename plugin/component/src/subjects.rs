//! The `subjects` export: one person's consents, their history, and recorded decisions.

use privacy_guard_core::calendar::Date;
use privacy_guard_core::event::{ActorName, Staff, StaffChannel, Statement};
use privacy_guard_core::lifecycle::{Choice, ChoiceError, answer, ask_again};
use privacy_guard_core::notification::{ChangeOrigin, ConfirmedChange};
use privacy_guard_core::sending::Standing;
use privacy_guard_core::vocabulary::PersonStatus;

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::subjects as wit;
use crate::bindings::privacy_guard::consent::clock;
use crate::bindings::privacy_guard::consent::types::RecordRef;
use crate::convert::{consent_value, record_ref, wit_record_ref};
use crate::links::sign_link;
use crate::logging::info;
use crate::notification::confirm;
use crate::restriction::{erase_person, lift_person, restrict_person};
use crate::state::{State, StoredPerson, read_stream};

use privacy_guard_core::restriction::{Actor, TransitionError};

/// The staff action of `actor` with the evidence or reason `statement`: both are required.
fn staff(actor: wit::StaffActor, statement: &str) -> Result<Staff, wit::RecordError> {
    let name = ActorName::parse(&actor.name).map_err(|_| wit::RecordError::ActorRequired)?;
    let statement = Statement::parse(statement).map_err(|_| wit::RecordError::EvidenceRequired)?;
    Ok(Staff {
        channel: match actor.channel {
            wit::StaffChannel::Admin => StaffChannel::Admin,
            wit::StaffChannel::BulkImport => StaffChannel::Import,
            wit::StaffChannel::Api => StaffChannel::Api,
        },
        name,
        statement,
    })
}

impl wit::Guest for Plugin {
    fn get(person: RecordRef) -> Option<wit::SubjectView> {
        let reference = record_ref(&person)?;
        let state = State::new();
        state
            .person(&reference)
            .map(|person| subject_view(&state, &person))
    }

    fn history(person: RecordRef) -> Vec<String> {
        match record_ref(&person) {
            Some(reference) => read_stream(&reference.stream()),
            None => Vec::new(),
        }
    }

    fn record_decision(
        person: RecordRef,
        consent_id: String,
        grant: bool,
        actor: wit::StaffActor,
        evidence: String,
    ) -> Result<wit::SubjectView, wit::RecordError> {
        let staff = staff(actor, &evidence)?;
        let mut state = State::new();
        let mut stored = record_ref(&person)
            .and_then(|reference| state.person(&reference))
            .filter(StoredPerson::is_present)
            .ok_or_else(|| wit::RecordError::UnknownPerson(person.clone()))?;
        // A duplicate's answers would never count: mail to its address follows the holder.
        if let (PersonStatus::Duplicate { .. }, Some(address)) =
            (&stored.snapshot.status, stored.location.address())
        {
            let holder = state
                .snapshot_at(address)
                .map(|holder| format!(": record it on {}", holder.record))
                .unwrap_or_default();
            return Err(wit::RecordError::StatusRefused(format!(
                "the record is a duplicate{holder}"
            )));
        }
        let configuration = state.configuration();
        let cause = staff.cause();
        let choice = Choice {
            consent: consent_id,
            grant,
        };
        let now = clock::now();
        let events = answer(&mut stored.snapshot, &configuration, &[choice], &cause, now).map_err(
            |error| match error {
                ChoiceError::UnknownConsent(id) => wit::RecordError::UnknownConsent(id),
                ChoiceError::NotApplicable(id) => wit::RecordError::NotApplicable(id),
                ChoiceError::ProcessingRestricted => {
                    wit::RecordError::StatusRefused(error.to_string())
                }
            },
        )?;
        if !events.is_empty() {
            stored.append(&events, &configuration);
            state.save(&stored);
            let changes = ConfirmedChange::of_events(&configuration, &events);
            confirm(
                &stored,
                &configuration,
                ChangeOrigin::Recorded,
                &changes,
                now,
            );
        }
        info(
            "decision recorded",
            &[
                ("record", &stored.snapshot.record),
                ("changes", &events.len()),
            ],
        );
        Ok(subject_view(&state, &stored))
    }

    fn restrict(
        person: RecordRef,
        actor: wit::StaffActor,
        evidence: String,
    ) -> Result<wit::SubjectView, wit::RecordError> {
        let staff = staff(actor, &evidence)?;
        let mut state = State::new();
        let mut stored = load_person(&state, &person)?;
        restrict_person(&mut state, &mut stored, &Actor::Staff(staff), clock::now())
            .map_err(status_refused)?;
        Ok(subject_view(&state, &stored))
    }

    fn lift_restriction(
        person: RecordRef,
        actor: wit::StaffActor,
        reason: String,
    ) -> Result<wit::SubjectView, wit::RecordError> {
        let staff = staff(actor, &reason)?;
        let mut state = State::new();
        let mut stored = load_person(&state, &person)?;
        lift_person(&mut state, &mut stored, &staff, clock::now()).map_err(status_refused)?;
        Ok(subject_view(&state, &stored))
    }

    fn preferences_link(person: RecordRef) -> Result<String, wit::RecordError> {
        let state = State::new();
        let stored = load_person(&state, &person)?;
        let refused = |why: &str| Err(wit::RecordError::StatusRefused(why.to_owned()));
        match stored.snapshot.status {
            PersonStatus::Erased { .. } => return refused("the person's data were erased"),
            PersonStatus::Duplicate { .. } => {
                return refused("the record is a duplicate: use its primary record's link");
            }
            PersonStatus::Active | PersonStatus::Restricted { .. } => {}
        }
        let configuration = state.configuration();
        let Some(settings) = configuration.settings() else {
            return refused("no settings are configured: the link needs the preferences URL");
        };
        let link = sign_link(settings, stored.snapshot.record.clone(), clock::now());
        info(
            "preferences link issued",
            &[
                ("record", &stored.snapshot.record),
                ("link", &link.payload.link),
            ],
        );
        Ok(link.url)
    }

    fn ask_again(person: RecordRef, actor: wit::StaffActor) -> Result<bool, wit::RecordError> {
        let name = ActorName::parse(&actor.name).map_err(|_| wit::RecordError::ActorRequired)?;
        let mut state = State::new();
        let mut stored = load_person(&state, &person)?;
        let refused = |why: &str| Err(wit::RecordError::StatusRefused(why.to_owned()));
        match stored.snapshot.status {
            PersonStatus::Restricted { .. } => {
                return refused("processing is restricted: lift the restriction first");
            }
            PersonStatus::Erased { .. } => return refused("the person's data were erased"),
            PersonStatus::Duplicate { .. } => {
                return refused("the record is a duplicate: ask its primary record");
            }
            PersonStatus::Active => {}
        }
        let configuration = state.configuration();
        let asked = ask_again(&mut stored.snapshot, &configuration);
        if asked {
            state.save(&stored);
            info(
                "asked again at the next daily run",
                &[("record", &stored.snapshot.record), ("actor", &name)],
            );
        }
        Ok(asked)
    }

    fn erase(
        person: RecordRef,
        actor: wit::StaffActor,
        evidence: String,
    ) -> Result<wit::ErasureReport, wit::RecordError> {
        let staff = staff(actor, &evidence)?;
        let mut state = State::new();
        let mut stored = load_person(&state, &person)?;
        let erasure = erase_person(&mut state, &mut stored, &Actor::Staff(staff), clock::now())
            .map_err(status_refused)?;
        Ok(wit::ErasureReport {
            erased_fields: erasure.fields.erase,
            retained_fields: erasure.fields.retain,
        })
    }
}

/// The stored person of a record the plugin knows (erased ones included).
fn load_person(state: &State, person: &RecordRef) -> Result<StoredPerson, wit::RecordError> {
    record_ref(person)
        .and_then(|reference| state.person(&reference))
        .ok_or_else(|| wit::RecordError::UnknownPerson(person.clone()))
}

fn status_refused(error: TransitionError) -> wit::RecordError {
    wit::RecordError::StatusRefused(error.to_string())
}

fn person_status(status: PersonStatus) -> wit::PersonStatus {
    match status {
        PersonStatus::Active => wit::PersonStatus::Active,
        PersonStatus::Restricted { .. } => wit::PersonStatus::Restricted,
        PersonStatus::Erased { .. } => wit::PersonStatus::Erased,
        PersonStatus::Duplicate { .. } => wit::PersonStatus::Duplicate,
    }
}

fn subject_view(state: &State, person: &StoredPerson) -> wit::SubjectView {
    let configuration = state.configuration();
    wit::SubjectView {
        person: wit_record_ref(&person.snapshot.record),
        address: person
            .location
            .address()
            .map(ToString::to_string)
            .unwrap_or_default(),
        // A deleted consent's value is no longer shown; its events stay in the history.
        consents: person
            .snapshot
            .consents
            .iter()
            .filter(|state| configuration.consent(state.consent.as_str()).is_some())
            .map(|state| wit::ConsentState {
                consent_id: state.consent.to_string(),
                value: consent_value(state.value),
                since: state.since,
                purpose_version: state.purpose_version,
            })
            .collect(),
        status: person_status(person.snapshot.status),
        regime: crate::convert::wit_regime(
            Standing::of_snapshot(
                &configuration,
                &person.snapshot.regime_facts,
                Date::of_instant(clock::now()),
            )
            .regime,
        ),
        language: person.snapshot.language(&configuration).as_str().to_owned(),
    }
}
