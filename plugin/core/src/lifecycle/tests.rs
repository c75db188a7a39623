use super::*;

/// The consents the daily run of `period` requests (a first request), if any.
fn to_request<'c>(
    snapshot: &PersonSnapshot,
    configuration: &'c Configuration,
    period: Date,
) -> Vec<&'c StoredDefinition> {
    let location = Location::Person(Address::parse("ada@example.org").unwrap());
    match daily_step(snapshot, &location, configuration, period) {
        DailyStep::Mail {
            consents,
            kind: MailKind::Request,
            ..
        } => consents,
        _ => Vec::new(),
    }
}
use crate::configuration::DefinitionInput;
use crate::configuration::tests::{definition_input, settings_input};
use crate::consent::ConsentDefault;
use crate::definition::{Clause, Condition, ConsentKind};
use crate::event::tests::link;
use crate::event::{IpEvidence, RecordingSource, Statement, StreamEvent};
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
        .put_consent(
            eu_only(definition_input(
                "newsletter",
                "contacts",
                ConsentKind::Custom,
            )),
            None,
        )
        .unwrap();
    let mut tracking = definition_input("tracking", "contacts", ConsentKind::EmailTracking);
    tracking.default = ConsentDefault::Yes;
    configuration.put_consent(tracking, None).unwrap();
    configuration
        .put_consent(
            definition_input("lead-news", "leads", ConsentKind::Custom),
            None,
        )
        .unwrap();
    configuration
}

#[test]
fn an_unanswered_request_is_reminded_then_lapses_and_is_asked_again_on_schedule() {
    use crate::configuration::RequestPolicy;
    use crate::person::fold_stream;
    let mut configuration = configuration();
    let mut settings = settings_input();
    settings.requests = RequestPolicy {
        remind_after_days: 7,
        reminders: 2,
        lapse_after_days: 30,
        ask_again_after_days: 60,
    };
    configuration.set_settings(settings).unwrap();
    let record = RecordRef::new(Module::Contacts, "1");
    let mut snapshot = PersonSnapshot::new(record.clone(), String::new());
    let mut stream: Vec<StreamEvent> = reevaluate(
        &mut snapshot,
        &configuration,
        &fields(&[("country", "DE")]),
        0,
    )
    .into_iter()
    .map(StreamEvent::Consent)
    .collect();
    let location = Location::Person(Address::parse("ada@example.org").unwrap());
    let mut run = |snapshot: &mut PersonSnapshot, day: &str| -> String {
        let period = Date::parse(day).unwrap();
        match daily_step(snapshot, &location, &configuration, period) {
            DailyStep::Nothing => "nothing".to_owned(),
            DailyStep::Lapse(waiting) => {
                let events = lapse(snapshot, &waiting, period, 1);
                stream.extend(events.into_iter().map(StreamEvent::Consent));
                "lapse".to_owned()
            }
            DailyStep::Mail { consents, kind, .. } => {
                let (events, repeated) = mailed(snapshot, &consents, kind, period, link(2), 1);
                stream.extend(events.into_iter().map(StreamEvent::Consent));
                stream.extend(repeated.map(StreamEvent::RequestRepeated));
                let names: Vec<&str> = consents.iter().map(|stored| stored.id().as_str()).collect();
                format!("{kind:?} {}", names.join(","))
            }
        }
    };
    let steps = [
        ("2026-12-01", "Request newsletter,tracking"),
        ("2026-12-07", "nothing"),
        (
            "2026-12-08",
            "Reminder { asked_on: Date { year: 2026, month: 12, day: 1 } } newsletter,tracking",
        ),
        ("2026-12-08", "nothing"),
        ("2026-12-14", "nothing"),
        (
            "2026-12-15",
            "Reminder { asked_on: Date { year: 2026, month: 12, day: 1 } } newsletter,tracking",
        ),
        ("2026-12-22", "nothing"),
        ("2026-12-31", "lapse"),
        ("2027-01-01", "nothing"),
        ("2027-02-28", "nothing"),
        ("2027-03-01", "Request newsletter,tracking"),
    ];
    for (day, expected) in steps {
        assert_eq!(run(&mut snapshot, day), expected, "{day}");
    }
    assert_eq!(snapshot.value_of("newsletter"), ConsentValue::Waiting);
    // Staff ask again: the next run sends a new request about what still waits, and the
    // schedule starts again from it.
    assert!(ask_again(&mut snapshot, &configuration));
    assert_eq!(
        run(&mut snapshot, "2027-03-02"),
        "AskedAgain newsletter,tracking"
    );
    assert_eq!(snapshot.requests.asked_on, Date::parse("2027-03-02").ok());
    assert_eq!(run(&mut snapshot, "2027-03-08"), "nothing");
    assert!(run(&mut snapshot, "2027-03-09").starts_with("Reminder"));
    // A lapse is never a grant: the values went back to Applicable in between.
    assert!(stream.iter().any(|event| matches!(
        event,
        StreamEvent::Consent(ConsentEvent {
            to: ConsentValue::Applicable,
            cause: Cause::Lapsed { .. },
            ..
        })
    )));
    // The schedule is a fold of the events.
    let folded = fold_stream(record, String::new(), &stream).unwrap();
    assert_eq!(folded.requests, snapshot.requests);
    assert_eq!(folded.consents, snapshot.consents);
    assert_eq!(folded.last_request, snapshot.last_request);
    // Nothing to ask of someone who answered.
    let mut answered = PersonSnapshot::new(RecordRef::new(Module::Contacts, "2"), String::new());
    assert!(!ask_again(&mut answered, &configuration));
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
        seconds_since_request: None,
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
                let asked = to_request(&snapshot, &configuration, Date::parse(period).unwrap());
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
                configuration
                    .put_consent(input, Some(crate::definition::PurposeChange::Correction))
                    .unwrap();
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
        let asked: Vec<_> = to_request(&snapshot, &configuration, period)
            .iter()
            .map(|stored| stored.id().as_str())
            .collect();
        assert_eq!(asked, expected, "{name}");
    }
}

#[test]
fn events_carry_the_purpose_version_and_default_of_the_definition() {
    let configuration = configuration();
    let mut snapshot = PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), String::new());
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

#[test]
fn a_grant_is_asked_to_be_renewed_in_its_last_month_and_lapses_at_its_age() {
    let mut configuration = configuration();
    let mut news = definition_input("news", "contacts", ConsentKind::Custom);
    news.max_age_months = 12;
    configuration.put_consent(news, None).unwrap();
    let stored = configuration.consent("news").unwrap().clone();
    let day = |text: &str| Date::parse(text).unwrap();
    let at = |text: &str| day(text).start_ms();
    let mut snapshot = PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), String::new());
    reevaluate(
        &mut snapshot,
        &configuration,
        &fields(&[]),
        at("2026-12-01"),
    );
    let cause = Cause::Recorded {
        source: RecordingSource::Admin,
        actor: None,
        statement: Statement::parse("form").unwrap(),
    };
    let grant = Choice {
        consent: "news".into(),
        grant: true,
    };
    answer(
        &mut snapshot,
        &configuration,
        std::slice::from_ref(&grant),
        &cause,
        at("2026-12-01"),
    )
    .unwrap();
    assert_eq!(renewal_due(&snapshot, &stored, day("2027-10-31")), None);
    assert_eq!(
        renewal_due(&snapshot, &stored, day("2027-11-01")),
        Some(day("2027-12-01"))
    );
    assert!(!no_longer_counts(&snapshot, &stored, day("2027-11-30")));
    assert!(no_longer_counts(&snapshot, &stored, day("2027-12-01")));
    assert_eq!(renewal_due(&snapshot, &stored, day("2027-12-01")), None);
    // Granting again before the window writes nothing; in it, a renewal.
    let early = answer(
        &mut snapshot,
        &configuration,
        std::slice::from_ref(&grant),
        &cause,
        at("2027-06-01"),
    );
    assert_eq!(early.unwrap(), []);
    let renewed = answer(
        &mut snapshot,
        &configuration,
        &[grant],
        &cause,
        at("2027-11-15"),
    )
    .unwrap();
    assert_eq!(
        renewed
            .iter()
            .map(|event| (event.from, event.to))
            .collect::<Vec<_>>(),
        [(Granted, Granted)]
    );
    assert!(!no_longer_counts(&snapshot, &stored, day("2028-11-14")));
    assert!(no_longer_counts(&snapshot, &stored, day("2028-11-15")));
}

#[test]
fn a_grant_carried_over_from_a_duplicate_keeps_its_age() {
    use crate::deduplication::{Merge, carry_answers};
    let mut configuration = configuration();
    let mut news = definition_input("news", "contacts", ConsentKind::Custom);
    news.max_age_months = 12;
    configuration.put_consent(news, None).unwrap();
    let stored = configuration.consent("news").unwrap().clone();
    let at = |text: &str| Date::parse(text).unwrap().start_ms();
    let cause = Cause::Recorded {
        source: RecordingSource::Admin,
        actor: None,
        statement: Statement::parse("form").unwrap(),
    };
    let mut joining = PersonSnapshot::new(RecordRef::new(Module::Contacts, "2"), String::new());
    let mut history = reevaluate(&mut joining, &configuration, &fields(&[]), at("2026-12-01"));
    let grant = Choice {
        consent: "news".into(),
        grant: true,
    };
    history.extend(
        answer(
            &mut joining,
            &configuration,
            &[grant],
            &cause,
            at("2026-12-01"),
        )
        .unwrap(),
    );
    let mut primary = PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), String::new());
    reevaluate(&mut primary, &configuration, &fields(&[]), at("2026-12-01"));
    let carried = carry_answers(
        &mut primary,
        &configuration,
        &joining,
        &history,
        Merge::RefusalWins,
        at("2027-06-01"),
    );
    assert_eq!(carried.len(), 1);
    assert_eq!(primary.value_of("news"), Granted);
    // A year from when it was given, not from when it was carried.
    assert!(!no_longer_counts(&primary, &stored, day_of("2027-11-30")));
    assert!(no_longer_counts(&primary, &stored, day_of("2027-12-01")));
    // Folding the carried event gives the same snapshot.
    assert_eq!(primary.state_of("news").unwrap().since, at("2026-12-01"));
}

fn day_of(text: &str) -> Date {
    Date::parse(text).unwrap()
}
