//! Transitions of one person's consents: applicability, requests and answers.
//!
//! Each transition reads the current snapshot, builds the events of what changes, applies
//! them to the snapshot and returns them for the adapter to append. Nothing else changes a
//! snapshot, so folding the events gives the snapshot back ([`crate::person::fold`]).
//!
//! | from | to | transition | cause |
//! |---|---|---|---|
//! | not-applicable (or no value) | applicable | [`reevaluate`]: the condition holds | record-change |
//! | any other value | not-applicable | [`reevaluate`]: the condition stops holding | record-change |
//! | applicable | waiting | [`mark_requested`]: the daily run sent the request | daily-run |
//! | applicable / waiting / granted / not-granted | granted / not-granted | [`answer`]: the person (page) or a recorded decision | preferences-page, admin, import, api |
//!
//! An answer that keeps both the value and the purpose version writes no event; the same
//! value under a newer purpose text is a change (the person agreed to the new text).

use crate::address::Address;
use crate::calendar::Date;
use crate::configuration::Configuration;
use crate::consent::ConsentValue;
use crate::definition::StoredDefinition;
use crate::event::{Cause, ConsentEvent};
use crate::person::PersonSnapshot;
use crate::record::Fields;
use crate::storage::Location;
use crate::vocabulary::PersonStatus;

/// One choice about one consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub consent: String,
    pub grant: bool,
}

/// Why a set of choices was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// No consent of the person's module has this id.
    #[error("no consent {0} is defined for this person")]
    UnknownConsent(String),
    /// The consent does not apply to the person, so there is nothing to decide.
    #[error("the consent {0} does not apply to this person")]
    NotApplicable(String),
    /// The person asked to stop processing (or was erased): no consent changes.
    #[error("processing of this person's data is restricted")]
    ProcessingRestricted,
}

fn change(
    snapshot: &mut PersonSnapshot,
    stored: &StoredDefinition,
    to: ConsentValue,
    cause: Cause,
    now: i64,
) -> ConsentEvent {
    let event = ConsentEvent {
        at: now,
        consent: stored.id().clone(),
        from: snapshot.value_of(stored.id().as_str()),
        to,
        purpose: stored.purpose.clone(),
        default: stored.definition.default,
        cause,
    };
    snapshot.commit(&event);
    event
}

/// Re-evaluates which of its module's consents apply to the person, from the record's
/// fields: a consent whose condition now holds and that has no value (or not-applicable)
/// becomes applicable; one whose condition no longer holds becomes not-applicable.
pub fn reevaluate(
    snapshot: &mut PersonSnapshot,
    configuration: &Configuration,
    fields: &Fields,
    now: i64,
) -> Vec<ConsentEvent> {
    let mut events = Vec::new();
    for stored in configuration.consents_of(&snapshot.record.module) {
        let applies = stored.definition.applies_to(fields);
        let current = snapshot.value_of(stored.id().as_str());
        let target = match (applies, current) {
            (true, ConsentValue::NotApplicable) => ConsentValue::Applicable,
            (false, value) if value != ConsentValue::NotApplicable => ConsentValue::NotApplicable,
            _ => continue,
        };
        events.push(change(snapshot, stored, target, Cause::RecordChange, now));
    }
    events
}

/// The consents the daily run of `period` asks the person about: every applicable one of
/// their module, in configuration order. Nothing for a person who is not active or who was
/// already asked in this period.
pub fn consents_to_request<'c>(
    snapshot: &PersonSnapshot,
    configuration: &'c Configuration,
    period: Date,
) -> Vec<&'c StoredDefinition> {
    if !snapshot.is_active() || snapshot.last_request == Some(period) {
        return Vec::new();
    }
    configuration
        .consents_of(&snapshot.record.module)
        .filter(|stored| snapshot.value_of(stored.id().as_str()) == ConsentValue::Applicable)
        .collect()
}

/// The request the daily run of `period` mails a person whose consents live at
/// `location`: to the address they hold, about [`consents_to_request`]. None when there is
/// nothing to ask, or the person does not hold an address (their consents are kept apart:
/// a record without an address, or one sharing another's, is never mailed).
pub fn request_due<'c>(
    snapshot: &PersonSnapshot,
    location: &Location,
    configuration: &'c Configuration,
    period: Date,
) -> Option<(Address, Vec<&'c StoredDefinition>)> {
    let Location::Person(address) = location else {
        return None;
    };
    let asked = consents_to_request(snapshot, configuration, period);
    (!asked.is_empty()).then(|| (address.clone(), asked))
}

/// Moves the consents a request mail asked about to waiting.
pub fn mark_requested(
    snapshot: &mut PersonSnapshot,
    asked: &[&StoredDefinition],
    cause: &Cause,
    now: i64,
) -> Vec<ConsentEvent> {
    let mut events = Vec::with_capacity(asked.len());
    for stored in asked {
        if snapshot.value_of(stored.id().as_str()) == ConsentValue::Applicable {
            events.push(change(
                snapshot,
                stored,
                ConsentValue::Waiting,
                cause.clone(),
                now,
            ));
        }
    }
    events
}

/// Applies the person's (or a recorded) choices, all or none: every choice must name a
/// consent the person holds (see [`PersonSnapshot::held_consents`]) that applies to them; then each grant becomes granted,
/// each refusal not-granted, and unchanged choices write no event.
pub fn answer(
    snapshot: &mut PersonSnapshot,
    configuration: &Configuration,
    choices: &[Choice],
    cause: &Cause,
    now: i64,
) -> Result<Vec<ConsentEvent>, ChoiceError> {
    if matches!(
        snapshot.status,
        PersonStatus::Restricted { .. } | PersonStatus::Erased { .. }
    ) {
        return Err(ChoiceError::ProcessingRestricted);
    }
    let held = snapshot.held_consents(configuration);
    let mut decided = Vec::with_capacity(choices.len());
    for choice in choices {
        let stored = held
            .iter()
            .copied()
            .find(|stored| stored.id().as_str() == choice.consent)
            .ok_or_else(|| ChoiceError::UnknownConsent(choice.consent.clone()))?;
        if !snapshot.value_of(&choice.consent).is_changeable() {
            return Err(ChoiceError::NotApplicable(choice.consent.clone()));
        }
        decided.push((stored, ConsentValue::answer(choice.grant)));
    }
    let mut events = Vec::new();
    for (stored, target) in decided {
        let unchanged = snapshot
            .state_of(stored.id().as_str())
            .is_some_and(|state| {
                state.value == target && state.purpose_version == stored.purpose.version
            });
        if !unchanged {
            events.push(change(snapshot, stored, target, cause.clone(), now));
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::DefinitionInput;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::consent::ConsentDefault;
    use crate::definition::{Clause, Condition, ConsentKind};
    use crate::event::tests::link;
    use crate::event::{IpEvidence, RecordingSource, Statement};
    use crate::person::fold;
    use crate::record::tests::fields;
    use crate::record::{Module, RecordRef};
    use crate::vocabulary::IpPolicy;
    use ConsentValue::*;

    fn eu_only(mut input: DefinitionInput) -> DefinitionInput {
        input.applies_when = vec![Clause {
            field: "country".to_owned(),
            condition: Condition::OneOf(vec!["DE".to_owned(), "FR".to_owned()]),
        }];
        input
    }

    fn configuration() -> Configuration {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(eu_only(definition_input(
                "newsletter",
                "contacts",
                ConsentKind::Custom,
            )))
            .unwrap();
        let mut tracking = definition_input("tracking", "contacts", ConsentKind::EmailTracking);
        tracking.default = ConsentDefault::Yes;
        configuration.put_consent(tracking).unwrap();
        configuration
            .put_consent(definition_input("lead-news", "leads", ConsentKind::Custom))
            .unwrap();
        configuration
    }

    fn request(period: &str) -> Cause {
        Cause::Request {
            period: Date::parse(period).unwrap(),
            link: link(1),
        }
    }

    fn page() -> Cause {
        Cause::PreferencesPage {
            link: link(1),
            ip: IpEvidence::observe("203.0.113.9", IpPolicy::Truncate, None),
            user_agent: Some("Mozilla/5.0".to_owned()),
        }
    }

    fn recorded() -> Cause {
        Cause::Recorded {
            source: RecordingSource::Admin,
            actor: None,
            statement: Statement::parse("Phone call on 2024-05-02").unwrap(),
        }
    }

    fn choice(consent: &str, grant: bool) -> Choice {
        Choice {
            consent: consent.to_owned(),
            grant,
        }
    }

    /// One step of a person's history and the values expected after it.
    enum Step {
        Record(&'static [(&'static str, &'static str)]),
        Request(&'static str),
        Answer(Vec<Choice>, Cause),
        Refused(Vec<Choice>, ChoiceError),
        Reconfigure(DefinitionInput),
    }

    #[test]
    fn every_transition_leaves_a_snapshot_equal_to_the_fold_of_its_events() {
        let mut configuration = configuration();
        let record = RecordRef::new(Module::Contacts, "42");
        let mut snapshot = PersonSnapshot::new(record.clone(), "Ada".to_owned());
        let mut history: Vec<ConsentEvent> = Vec::new();
        let mut reworded = eu_only(definition_input(
            "newsletter",
            "contacts",
            ConsentKind::Custom,
        ));
        reworded.purpose = "We send news every month.".to_owned();
        let steps: Vec<(Step, usize, [ConsentValue; 2])> = vec![
            // (step, events written, [newsletter, tracking] afterwards)
            (
                Step::Record(&[("country", "US")]),
                1,
                [NotApplicable, Applicable],
            ),
            (
                Step::Record(&[("country", "US")]),
                0,
                [NotApplicable, Applicable],
            ),
            (
                Step::Record(&[("country", " de ")]),
                1,
                [Applicable, Applicable],
            ),
            (Step::Request("2024-05-01"), 2, [Waiting, Waiting]),
            (Step::Request("2024-05-01"), 0, [Waiting, Waiting]),
            (
                Step::Answer(vec![choice("newsletter", true)], page()),
                1,
                [Granted, Waiting],
            ),
            (
                Step::Answer(
                    vec![choice("newsletter", true), choice("tracking", false)],
                    page(),
                ),
                1,
                [Granted, NotGranted],
            ),
            (
                Step::Refused(
                    vec![choice("tracking", true), choice("nope", true)],
                    ChoiceError::UnknownConsent("nope".into()),
                ),
                0,
                [Granted, NotGranted],
            ),
            (
                Step::Refused(
                    vec![choice("lead-news", true)],
                    ChoiceError::UnknownConsent("lead-news".into()),
                ),
                0,
                [Granted, NotGranted],
            ),
            (
                Step::Answer(vec![choice("newsletter", false)], recorded()),
                1,
                [NotGranted, NotGranted],
            ),
            (
                Step::Record(&[("country", "US")]),
                1,
                [NotApplicable, NotGranted],
            ),
            (
                Step::Refused(
                    vec![choice("newsletter", true)],
                    ChoiceError::NotApplicable("newsletter".into()),
                ),
                0,
                [NotApplicable, NotGranted],
            ),
            (
                Step::Record(&[("country", "FR")]),
                1,
                [Applicable, NotGranted],
            ),
            (Step::Request("2024-05-02"), 1, [Waiting, NotGranted]),
            (
                Step::Answer(vec![choice("newsletter", true)], page()),
                1,
                [Granted, NotGranted],
            ),
            (Step::Reconfigure(reworded), 0, [Granted, NotGranted]),
            (
                Step::Answer(vec![choice("newsletter", true)], page()),
                1,
                [Granted, NotGranted],
            ),
            (
                Step::Answer(vec![choice("newsletter", true)], page()),
                0,
                [Granted, NotGranted],
            ),
        ];
        for (index, (step, expected_events, expected_values)) in steps.into_iter().enumerate() {
            let events = match step {
                Step::Record(pairs) => {
                    reevaluate(&mut snapshot, &configuration, &fields(pairs), index as i64)
                }
                Step::Request(period) => {
                    let asked = consents_to_request(
                        &snapshot,
                        &configuration,
                        Date::parse(period).unwrap(),
                    );
                    mark_requested(&mut snapshot, &asked, &request(period), index as i64)
                }
                Step::Answer(choices, cause) => answer(
                    &mut snapshot,
                    &configuration,
                    &choices,
                    &cause,
                    index as i64,
                )
                .unwrap(),
                Step::Refused(choices, error) => {
                    let before = snapshot.clone();
                    assert_eq!(
                        answer(
                            &mut snapshot,
                            &configuration,
                            &choices,
                            &page(),
                            index as i64
                        ),
                        Err(error),
                        "step {index}"
                    );
                    assert_eq!(snapshot, before, "step {index}: a refusal changes nothing");
                    Vec::new()
                }
                Step::Reconfigure(input) => {
                    configuration.put_consent(input).unwrap();
                    Vec::new()
                }
            };
            assert_eq!(events.len(), expected_events, "step {index}: {events:?}");
            for event in &events {
                let json = event.to_json().unwrap();
                history.push(ConsentEvent::from_json(&json).unwrap());
            }
            let values = [
                snapshot.value_of("newsletter"),
                snapshot.value_of("tracking"),
            ];
            assert_eq!(values, expected_values, "step {index}");
            let folded = fold(record.clone(), "Ada".to_owned(), &history).unwrap();
            assert_eq!(folded, snapshot, "step {index}");
        }
        assert_eq!(snapshot.state_of("newsletter").unwrap().purpose_version, 2);
        assert_eq!(
            snapshot.last_request,
            Some(Date::parse("2024-05-02").unwrap())
        );
    }

    #[test]
    fn requests_skip_people_who_are_not_active_or_already_asked_this_period() {
        let configuration = configuration();
        let period = Date::parse("2024-05-01").unwrap();
        let fresh = || {
            let mut snapshot =
                PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), String::new());
            reevaluate(
                &mut snapshot,
                &configuration,
                &fields(&[("country", "DE")]),
                0,
            );
            snapshot
        };
        let asked_today = {
            let mut snapshot = fresh();
            snapshot.last_request = Some(period);
            snapshot
        };
        let restricted = {
            let mut snapshot = fresh();
            snapshot.status = PersonStatus::Restricted { since: 0 };
            snapshot
        };
        let cases = [
            (
                "an active person with applicable consents",
                fresh(),
                vec!["newsletter", "tracking"],
            ),
            ("a person asked today", asked_today, vec![]),
            ("a restricted person", restricted, vec![]),
        ];
        for (name, snapshot, expected) in cases {
            let asked: Vec<_> = consents_to_request(&snapshot, &configuration, period)
                .iter()
                .map(|stored| stored.id().as_str())
                .collect();
            assert_eq!(asked, expected, "{name}");
        }
    }

    #[test]
    fn events_carry_the_purpose_version_and_default_of_the_definition() {
        let configuration = configuration();
        let mut snapshot =
            PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), String::new());
        let events = reevaluate(
            &mut snapshot,
            &configuration,
            &fields(&[("country", "DE")]),
            5,
        );
        let tracking = events
            .iter()
            .find(|event| event.consent.as_str() == "tracking")
            .unwrap();
        assert_eq!(tracking.default, ConsentDefault::Yes);
        assert_eq!(
            tracking.purpose,
            configuration.consent("tracking").unwrap().purpose
        );
        assert_eq!(
            (tracking.from, tracking.to, tracking.at),
            (NotApplicable, Applicable, 5)
        );
    }
}
