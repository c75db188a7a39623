//! The person snapshot: a cache of one record's consent events, and the fold that rebuilds it.
//!
//! Every change goes through [`PersonSnapshot::apply`] (or its unchecked twin used by the
//! transitions, which build events from the current state), so folding a record's events
//! over a fresh snapshot gives exactly the stored snapshot.

use crate::vocabulary::{Language, PersonStatus};
use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::configuration::Configuration;
use crate::configuration::LanguageFact;
use crate::configuration::regimes::RegimeFacts;
use crate::consent::{ConsentDefault, ConsentValue};
use crate::definition::{ConsentId, StoredDefinition};
use crate::event::{
    Cause, ConsentEvent, RequestRepeatedEvent, StatusEvent, StatusEvidence, StreamEvent,
    same_status,
};
use crate::record::{Fields, RecordRef};

/// The current value of one consent for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentState {
    pub consent: ConsentId,
    pub value: ConsentValue,
    /// When the value last changed; for an answer carried over from another record, when
    /// it was given there.
    pub since: i64,
    /// The purpose-text version the value refers to.
    pub purpose_version: u32,
    /// The consent's default when the value last changed.
    pub default: ConsentDefault,
}

/// Everything the plugin holds about one record's consents.
///
/// Field order matters: the hot path reads `status`, `record` and `consents` in place
/// without decoding the rest (see [`crate::storage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSnapshot {
    pub status: PersonStatus,
    pub record: RecordRef,
    /// One entry per consent that ever had a value other than Not Applicable, sorted by id.
    pub consents: Vec<ConsentState>,
    /// The period of the last daily run that sent this person a request.
    pub last_request: Option<Date>,
    /// The person's name as the CRM holds it (may be empty).
    pub name: String,
    /// What the regime rules read of the record when it was last seen.
    pub regime_facts: RegimeFacts,
    /// Where the person's request stands: its reminders, its lapse, a new request asked for.
    pub requests: RequestState,
    /// The language the record names, when the language rules read one.
    pub language: Option<LanguageFact>,
}

/// Where a person's request stands (see [`crate::lifecycle::daily_step`]). Everything but
/// `ask_again` is a fold of the person's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestState {
    /// The period of the request that started the schedule: the last request, or the last
    /// request staff asked for.
    pub asked_on: Option<Date>,
    /// Reminders sent since.
    pub reminders: u8,
    /// The period the last request lapsed unanswered; none once asked again.
    pub lapsed_on: Option<Date>,
    /// Staff asked for a new request at the next daily run.
    pub ask_again: bool,
}

/// An event does not follow from the state before it: the stream is not a valid history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("event for consent {consent} changes it from {claimed}, but it was {actual}")]
    Consent {
        consent: ConsentId,
        claimed: ConsentValue,
        actual: ConsentValue,
    },
    #[error("status event changes the status from {claimed:?}, but it was {actual:?}")]
    Status {
        claimed: PersonStatus,
        actual: PersonStatus,
    },
}

impl PersonSnapshot {
    /// A person without any consent value yet.
    pub fn new(record: RecordRef, name: String) -> PersonSnapshot {
        PersonSnapshot {
            status: PersonStatus::Active,
            record,
            consents: Vec::new(),
            last_request: None,
            name,
            regime_facts: RegimeFacts::default(),
            requests: RequestState::default(),
            language: None,
        }
    }

    /// Takes what the snapshot keeps of the record's fields: the name, and what the regime
    /// and language rules read (nothing of an erased person).
    pub fn read_fields(&mut self, fields: &Fields, configuration: &Configuration) {
        self.name = fields.person_name();
        (self.regime_facts, self.language) = match (self.status, configuration.settings()) {
            (PersonStatus::Erased { .. }, _) | (_, None) => (RegimeFacts::default(), None),
            (_, Some(settings)) => (
                RegimeFacts::read(settings.regimes(), |name| Some(fields.get(name))),
                settings.languages().read(|name| Some(fields.get(name))),
            ),
        };
    }

    /// The language the person is written to in.
    pub fn language(&self, configuration: &Configuration) -> Language {
        configuration
            .settings()
            .map_or(Language::English, |settings| {
                settings.languages().language_of(self.language.as_ref())
            })
    }

    /// The state of `consent`, if it ever had a value.
    pub fn state_of(&self, consent: &str) -> Option<&ConsentState> {
        self.position(consent)
            .ok()
            .and_then(|index| self.consents.get(index))
    }

    /// The value of `consent`; Not Applicable when it never had one.
    pub fn value_of(&self, consent: &str) -> ConsentValue {
        self.state_of(consent)
            .map_or(ConsentValue::NotApplicable, |state| state.value)
    }

    pub fn is_active(&self) -> bool {
        self.status == PersonStatus::Active
    }

    /// Applies one event, checking that it starts from the current value.
    pub fn apply(&mut self, event: &ConsentEvent) -> Result<(), FoldError> {
        let actual = self.value_of(event.consent.as_str());
        if actual != event.from {
            return Err(FoldError::Consent {
                consent: event.consent.clone(),
                claimed: event.from,
                actual,
            });
        }
        self.commit(event);
        Ok(())
    }

    /// Applies one event built from the current state (the transitions' path).
    pub(crate) fn commit(&mut self, event: &ConsentEvent) {
        let state = ConsentState {
            consent: event.consent.clone(),
            value: event.to,
            // An answer carried over from another record counts from when it was given
            // (what a grant's maximum age counts from), not from the carrying.
            since: match &event.cause {
                Cause::CarriedOver { answered_at, .. } => *answered_at,
                _ => event.at,
            },
            purpose_version: event.purpose.version,
            default: event.default,
        };
        match self.position(event.consent.as_str()) {
            Ok(index) => self.consents[index] = state,
            Err(index) => self.consents.insert(index, state),
        }
        match &event.cause {
            Cause::Request { period, .. } => {
                self.last_request = Some(*period);
                self.requests = RequestState {
                    asked_on: Some(*period),
                    ..RequestState::default()
                };
            }
            Cause::Lapsed { period } => {
                self.requests = RequestState {
                    lapsed_on: Some(*period),
                    ..RequestState::default()
                };
            }
            _ => {}
        }
    }

    /// Applies a request mailed again: a reminder counts, a new request staff asked for
    /// starts the schedule again.
    pub fn repeat_request(&mut self, event: &RequestRepeatedEvent) {
        self.last_request = Some(event.period);
        if event.reminder {
            self.requests.reminders = self.requests.reminders.saturating_add(1);
        } else {
            self.requests = RequestState {
                asked_on: Some(event.period),
                ..RequestState::default()
            };
        }
    }

    /// Applies one status event, checking that it starts from the current status.
    pub fn apply_status(&mut self, event: &StatusEvent) -> Result<(), FoldError> {
        if !same_status(self.status, event.from) {
            return Err(FoldError::Status {
                claimed: event.from,
                actual: self.status,
            });
        }
        self.status = event.to;
        Ok(())
    }

    /// Changes the status to `to` at `at`, returning the event that proves it; none when
    /// the person already has that status (whatever its time).
    pub fn change_status(
        &mut self,
        to: PersonStatus,
        source: crate::event::StatusSource,
        primary: Option<RecordRef>,
        at: i64,
    ) -> Option<StatusEvent> {
        self.change_status_with(to, source, primary, StatusEvidence::default(), at)
    }

    /// [`PersonSnapshot::change_status`] with the evidence the event records.
    pub fn change_status_with(
        &mut self,
        to: PersonStatus,
        source: crate::event::StatusSource,
        primary: Option<RecordRef>,
        evidence: StatusEvidence,
        at: i64,
    ) -> Option<StatusEvent> {
        if same_status(self.status, to) {
            return None;
        }
        let event = StatusEvent {
            at,
            from: self.status,
            to,
            source,
            primary,
            evidence,
        };
        self.status = to;
        Some(event)
    }

    /// The consents that concern the person, in configuration order: every consent of
    /// their module, then consents of other modules they hold a value for (an answer given
    /// on another record of theirs that carried over when the records were merged, see
    /// [`crate::deduplication::carry_answers`]).
    pub fn held_consents<'c>(&self, configuration: &'c Configuration) -> Vec<&'c StoredDefinition> {
        let module = &self.record.module;
        let own = configuration.consents_of(module);
        let carried = configuration.consents().iter().filter(|stored| {
            stored.definition.module != *module
                && self.value_of(stored.id().as_str()) != ConsentValue::NotApplicable
        });
        own.chain(carried).collect()
    }

    fn position(&self, consent: &str) -> Result<usize, usize> {
        self.consents
            .binary_search_by(|state| state.consent.as_str().cmp(consent))
    }
}

/// Rebuilds a record's snapshot from its identity (from the CRM) and its events, oldest
/// first.
pub fn fold(
    record: RecordRef,
    name: String,
    events: &[ConsentEvent],
) -> Result<PersonSnapshot, FoldError> {
    let mut snapshot = PersonSnapshot::new(record, name);
    for event in events {
        snapshot.apply(event)?;
    }
    Ok(snapshot)
}

/// Rebuilds a record's snapshot from its whole stream (consent and status events), oldest
/// first.
pub fn fold_stream(
    record: RecordRef,
    name: String,
    events: &[StreamEvent],
) -> Result<PersonSnapshot, FoldError> {
    let mut snapshot = PersonSnapshot::new(record, name);
    for event in events {
        match event {
            StreamEvent::Consent(event) => snapshot.apply(event)?,
            StreamEvent::Status(event) => snapshot.apply_status(event)?,
            StreamEvent::LegalGround(_)
            | StreamEvent::RequestWithheld(_)
            | StreamEvent::LinkMailed(_)
            | StreamEvent::DeliveryFeedback(_) => {}
            StreamEvent::RequestRepeated(event) => snapshot.repeat_request(event),
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::PurposeVersion;
    use crate::record::Module;

    fn change(consent: &str, from: ConsentValue, to: ConsentValue, at: i64) -> ConsentEvent {
        ConsentEvent {
            at,
            consent: ConsentId::parse(consent).unwrap(),
            from,
            to,
            purpose: PurposeVersion::first(consent),
            default: ConsentDefault::Yes,
            cause: Cause::RecordChange,
        }
    }

    #[test]
    fn folding_keeps_consents_sorted_and_takes_the_latest_value() {
        use ConsentValue::*;
        let events = [
            change("tracking", NotApplicable, Applicable, 1),
            change("newsletter", NotApplicable, Applicable, 2),
            change("newsletter", Applicable, NotApplicable, 3),
        ];
        let snapshot = fold(
            RecordRef::new(Module::Contacts, "1"),
            "Ada".to_owned(),
            &events,
        )
        .unwrap();
        let ids: Vec<_> = snapshot
            .consents
            .iter()
            .map(|state| state.consent.as_str())
            .collect();
        assert_eq!(ids, ["newsletter", "tracking"]);
        assert_eq!(snapshot.value_of("newsletter"), NotApplicable);
        assert_eq!(snapshot.state_of("newsletter").unwrap().since, 3);
        assert_eq!(snapshot.value_of("tracking"), Applicable);
        assert_eq!(snapshot.value_of("never-seen"), NotApplicable);
    }

    #[test]
    fn folding_refuses_an_event_that_does_not_start_from_the_current_value() {
        use ConsentValue::*;
        let cases = [
            vec![change("newsletter", Applicable, Waiting, 1)],
            vec![
                change("newsletter", NotApplicable, Applicable, 1),
                change("newsletter", Waiting, Granted, 2),
            ],
        ];
        for events in cases {
            let folded = fold(RecordRef::new(Module::Leads, "1"), String::new(), &events);
            assert!(folded.is_err(), "{events:?}");
        }
    }
}
