//! Retention schedules on a generated population whose fates the test knows from how it
//! made them: contacts imported and asked on one day, answering, refusing, withdrawing,
//! lapsing, restricted and erased over the following months, all through the real
//! component in the real host, moved through time with the host's clock. At each step the
//! dry run lists exactly the people whose retention ran out (and changes nothing), the run
//! erases exactly them through the plugin (fields empty, events naming the schedule, the
//! address suppressed), a second run erases nobody, and the report's counts stay right.
//! A bounded property check compares dry runs under many settings and times with a small
//! model of the rules. On SQLite, and on PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL`
//! names a server.

use std::collections::BTreeSet;
use std::sync::Arc;

use privacy_guard_host::contract::configuration::{FieldClass, RequestPolicy};
use privacy_guard_host::contract::safeguards::DeliveryReport;
use privacy_guard_host::contract::subjects::PersonStatus;
use privacy_guard_host::guard::{
    FeedbackKind, Guard, RetentionOutcome, RetentionRequest, RetentionSummary,
};
use privacy_guard_host::reports::ReportWindow;
use privacy_guard_host::retention::{Class, Keep, RetentionSettings};
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Tenants};
use privacy_guard_tests::scenario::{contact, history_of, import_csv};
use privacy_guard_tests::{
    TestHost, WebServer, email_marketing_consent, http_call, instant, operator, settings,
};
use serde_json::{Value, json};

/// Contacts generated: every fate four times.
const PEOPLE: usize = 44;
const CONSENT: &str = "email-marketing";
/// Day 0 of the population; every step is a number of days (and hours) after it.
const DAY_0: &str = "2026-01-05T09:00:00Z";

/// What the test does to contact `n` (1-based). Everyone is asked by the daily run of day 0
/// (10:00); requests lapse after 14 days, at the daily run of day 15 (10:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Grants on day 1: kept.
    Granted,
    /// Refuses on day 1: withdrawn since day 1.
    Refused,
    /// Grants on day 1, withdraws on day 20: withdrawn since day 20.
    Withdrawn,
    /// Never answers: lapsed on day 15, unanswered since then.
    Silent,
    /// Never answers, restricted on day 2: never erased by a schedule.
    Restricted,
    /// Lapses on day 15, grants on day 100: kept.
    LateAnswer,
    /// Erased by staff on day 3.
    ErasedByStaff,
    /// Refuses on day 1, grants on day 25: kept.
    ChangedMind,
    /// Grants on day 1, their address bounces (a hard bounce) on day 5: bounced since then.
    Bounced,
    /// Grants on day 1, bounces on day 5, the bounce lifted by staff on day 6: kept.
    BounceLifted,
    /// Grants on day 1, reports a mail as spam on day 7 (an ARF complaint): withdrawn in
    /// all but name since then, though the grant stays.
    Complained,
}

fn fate(n: usize) -> Fate {
    [
        Fate::Granted,
        Fate::Refused,
        Fate::Withdrawn,
        Fate::Silent,
        Fate::Restricted,
        Fate::LateAnswer,
        Fate::ErasedByStaff,
        Fate::ChangedMind,
        Fate::Bounced,
        Fate::BounceLifted,
        Fate::Complained,
    ][n % 11]
}

/// The instant `days` days and `hours` hours after [`DAY_0`].
fn at(days: i64, hours: i64) -> String {
    (instant(DAY_0) + chrono::Duration::days(days) + chrono::Duration::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn millis(days: i64, hours: i64) -> i64 {
    instant(&at(days, hours)).timestamp_millis()
}

/// A configured host with the population made up to day 100, served with an admin key
/// (`pgk_admin`) and a read key (`pgk_read`).
fn population() -> (TestHost, Arc<Guard>, WebServer) {
    let host = TestHost::new(DAY_0);
    let guard = Arc::new(host.open().expect("host"));
    let digest = |key: &str| KeyDigest::of_key(key).to_text();
    let keys = vec![
        ApiKey::parse(&format!("dpo-admin:admin={}", digest("pgk_admin"))).expect("key"),
        ApiKey::parse(&format!("auditor:read={}", digest("pgk_read"))).expect("key"),
    ];
    let tenants = Tenants::single(guard.clone(), keys);
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    let mut settings = settings(&server.preferences_url());
    settings.requests = RequestPolicy {
        remind_after_days: 0,
        reminders: 0,
        lapse_after_days: 14,
        ask_again_after_days: 0,
    };
    guard
        .set_settings(&settings)
        .expect("call")
        .expect("settings");
    guard
        .put_consent(&email_marketing_consent(), None)
        .expect("call")
        .expect("consent");
    guard
        .classify_field(
            "contacts",
            &FieldClass {
                field: "last_name".into(),
                personal: true,
                essential: false,
                sensitive: false,
                encrypted: false,
            },
        )
        .expect("call")
        .expect("classified");
    guard.enable(true).expect("call").expect("enabled");
    let mut csv = String::from("first_name,last_name,email\n");
    for n in 1..=PEOPLE {
        csv.push_str(&format!("Person,Surname{n},person{n}@example.com\n"));
    }
    import_csv(&guard, "contacts", &csv);
    let actor = operator();
    let each = |wanted: &[Fate], act: &dyn Fn(usize)| {
        for n in (1..=PEOPLE).filter(|n| wanted.contains(&fate(*n))) {
            act(n);
        }
    };
    let decide = |n: usize, grant: bool| {
        guard
            .record_decision(
                &contact(&n.to_string()),
                CONSENT,
                grant,
                &actor,
                "Phone call",
            )
            .expect("call")
            .unwrap_or_else(|refusal| panic!("contacts/{n}: {refusal:?}"));
    };
    host.set_now(&at(0, 1));
    let asked = guard.run_daily("2026-01-05", &|_| {}).expect("daily run");
    assert_eq!(asked.requests, PEOPLE as u64, "{asked:?}");
    host.set_now(&at(1, 1));
    each(
        &[
            Fate::Granted,
            Fate::Withdrawn,
            Fate::Bounced,
            Fate::BounceLifted,
            Fate::Complained,
        ],
        &|n| decide(n, true),
    );
    each(&[Fate::Refused, Fate::ChangedMind], &|n| decide(n, false));
    host.set_now(&at(2, 1));
    each(&[Fate::Restricted], &|n| {
        guard
            .restrict(&contact(&n.to_string()), &actor, "Disputes accuracy")
            .expect("call")
            .expect("restricted");
    });
    host.set_now(&at(3, 1));
    each(&[Fate::ErasedByStaff], &|n| {
        guard
            .erase(&contact(&n.to_string()), &actor, "Letter")
            .expect("call")
            .expect("erased");
    });
    host.set_now(&at(5, 1));
    each(&[Fate::Bounced, Fate::BounceLifted], &|n| {
        let outcome = guard
            .report_delivery(&DeliveryReport {
                kind: FeedbackKind::HardBounce,
                address: format!("person{n}@example.com"),
                source: "dsn".into(),
                evidence: "Status: 5.1.1; Diagnostic-Code: smtp; 550 5.1.1 user unknown".into(),
                message_id: None,
                occurred_at: millis(5, 0),
                token: None,
            })
            .expect("call")
            .expect("recorded");
        assert!(outcome.address_suppressed, "contacts/{n}: {outcome:?}");
    });
    host.set_now(&at(6, 1));
    each(&[Fate::BounceLifted], &|n| {
        let lifted = guard
            .lift_bounce(
                &format!("person{n}@example.com"),
                &actor,
                "The mailbox is back",
            )
            .expect("call")
            .expect("lifted");
        assert!(lifted, "contacts/{n}");
    });
    host.set_now(&at(7, 1));
    each(&[Fate::Complained], &|n| {
        let outcome = guard
            .report_delivery(&DeliveryReport {
                kind: FeedbackKind::Complaint,
                address: format!("person{n}@example.com"),
                source: "arf".into(),
                evidence: "Feedback-Type: abuse; User-Agent: ExampleFBL/1.0".into(),
                message_id: None,
                occurred_at: millis(7, 0),
                token: None,
            })
            .expect("call")
            .expect("recorded");
        assert!(outcome.address_suppressed, "contacts/{n}: {outcome:?}");
    });
    host.set_now(&at(15, 1));
    guard.run_daily("2026-01-20", &|_| {}).expect("daily run");
    host.set_now(&at(20, 1));
    each(&[Fate::Withdrawn], &|n| decide(n, false));
    host.set_now(&at(25, 1));
    each(&[Fate::ChangedMind], &|n| decide(n, true));
    (host, guard, server)
}

/// What the rules say of a fate at `now` (after day 100), with `settings`: the class and
/// since when, if it ran out. The model of the rules, written from the fates alone.
fn expected(fate: Fate, settings: &RetentionSettings, now: i64) -> Option<(Class, i64)> {
    // (class, since) in the order classes are tried.
    let applies: Vec<(Class, i64)> = match fate {
        Fate::Restricted | Fate::ErasedByStaff => return None,
        Fate::Granted => vec![(Class::Inactive, millis(1, 1))],
        Fate::Refused => vec![
            (Class::Withdrawn, millis(1, 1)),
            (Class::Inactive, millis(1, 1)),
        ],
        Fate::Withdrawn => vec![
            (Class::Withdrawn, millis(20, 1)),
            (Class::Inactive, millis(20, 1)),
        ],
        // A lapse is no activity: inactive counts from the request.
        Fate::Silent => vec![
            (Class::Unanswered, millis(15, 1)),
            (Class::Inactive, millis(0, 1)),
        ],
        Fate::LateAnswer => vec![(Class::Inactive, millis(100, 1))],
        Fate::Bounced => vec![
            (Class::Bounced, millis(5, 1)),
            (Class::Inactive, millis(1, 1)),
        ],
        Fate::BounceLifted => vec![(Class::Inactive, millis(1, 1))],
        Fate::Complained => vec![
            (Class::Withdrawn, millis(7, 1)),
            (Class::Inactive, millis(1, 1)),
        ],
        Fate::ChangedMind => vec![(Class::Inactive, millis(25, 1))],
    };
    applies.into_iter().find(|(class, since)| {
        settings
            .keep(*class)
            .due_at(*since)
            .is_some_and(|due| due <= now)
    })
}

fn run(
    guard: &Guard,
    settings: &RetentionSettings,
    dry_run: bool,
) -> (Vec<(String, Class, String)>, RetentionSummary) {
    let mut people = Vec::new();
    let request = RetentionRequest {
        dry_run,
        run_by: "the test".into(),
        ..RetentionRequest::default()
    };
    let summary = guard
        .run_retention(
            settings,
            &request,
            &mut |item| {
                let wanted = if dry_run {
                    RetentionOutcome::WouldErase
                } else {
                    RetentionOutcome::Erased
                };
                assert_eq!(item.outcome, wanted, "{item:?}");
                people.push((
                    format!("{}/{}", item.module, item.id),
                    item.class,
                    item.since.clone(),
                ));
            },
            &|_, _| {},
        )
        .expect("retention run");
    assert_eq!(summary.stopped, None, "{summary:?}");
    (people, summary)
}

fn who(people: &[(String, Class, String)]) -> BTreeSet<String> {
    people.iter().map(|(person, _, _)| person.clone()).collect()
}

fn of_fates(wanted: &[Fate]) -> BTreeSet<String> {
    (1..=PEOPLE)
        .filter(|n| wanted.contains(&fate(*n)))
        .map(|n| format!("contacts/{n}"))
        .collect()
}

fn log_head(guard: &Guard) -> (u64, [u8; 32]) {
    let head = privacy_guard_tests::scenario::block_on(guard.database().log_head()).expect("head");
    (head.size, head.hash)
}

/// Checks that the people of `fates` are erased by the schedule's `class`: fields empty,
/// events naming `retention:<class>` and the rule, and their address suppressed when a
/// record brings it back.
fn assert_erased_by_schedule(guard: &Guard, people: &BTreeSet<String>, class: Class) {
    for person in people {
        let id = person.trim_start_matches("contacts/");
        let record = guard.record("contacts", id).expect("read").expect("record");
        assert_eq!(record.field("email"), "", "{person}");
        assert_eq!(record.field("last_name"), "", "{person}");
        assert!(record.locked, "{person}");
        let history = history_of(guard, &contact(id));
        let erasure = history
            .iter()
            .find(|event| event["to"] == "erased")
            .unwrap_or_else(|| panic!("{person} has no erasure: {history:?}"));
        assert_eq!(erasure["actor"], class.actor_name(), "{erasure}");
        assert_eq!(erasure["source"], "admin", "{erasure}");
        let statement = erasure["statement"]
            .as_str()
            .unwrap_or_else(|| panic!("{erasure}"));
        assert!(
            statement.contains(&format!("retention schedule `{class}`"))
                && statement.contains(class.rule())
                && statement.contains("run by the test"),
            "{statement}"
        );
        let text = serde_json::to_string(&history).expect("json");
        assert!(!text.contains(&format!("person{id}@")), "{text}");
    }
}

#[test]
fn exactly_the_people_whose_retention_ran_out_are_erased_and_nobody_else() {
    let (host, guard, server) = population();
    let settings = RetentionSettings::default();
    let before = guard
        .consent_report(&ReportWindow::default())
        .expect("report");
    assert_eq!(before.totals.people, PEOPLE as u64);

    // Day 40: the refusals of day 1, the bounces of day 5 and the complaints of day 7 ran
    // out (30 days), nothing else did. The dry run lists them with their class and since when, and changes nothing.
    host.set_now(&at(40, 0));
    let head = log_head(&guard);
    let (listed, summary) = run(&guard, &settings, true);
    let first = of_fates(&[Fate::Refused, Fate::Bounced, Fate::Complained]);
    assert_eq!(who(&listed), first, "{listed:?}");
    for (person, class, since) in &listed {
        let wanted = if of_fates(&[Fate::Bounced]).contains(person) {
            (Class::Bounced, at(5, 1))
        } else if of_fates(&[Fate::Complained]).contains(person) {
            (Class::Withdrawn, at(7, 1))
        } else {
            (Class::Withdrawn, at(1, 1))
        };
        assert_eq!((*class, since), (wanted.0, &wanted.1), "{person}");
    }
    assert_eq!(summary.people, PEOPLE as u64);
    assert_eq!(summary.erased, 0);
    assert_eq!(log_head(&guard), head, "a dry run wrote to the log");
    for person in &first {
        let id = person.trim_start_matches("contacts/");
        let record = guard.record("contacts", id).expect("read").expect("record");
        assert_ne!(record.field("email"), "", "a dry run erased {person}");
    }
    let (erased, summary) = run(&guard, &settings, false);
    assert_eq!(who(&erased), first);
    assert_eq!(summary.erased, first.len() as u64);
    assert_eq!(summary.due.get("bounced"), Some(&4));
    assert_erased_by_schedule(&guard, &of_fates(&[Fate::Refused]), Class::Withdrawn);
    assert_erased_by_schedule(&guard, &of_fates(&[Fate::Bounced]), Class::Bounced);
    assert_erased_by_schedule(&guard, &of_fates(&[Fate::Complained]), Class::Withdrawn);

    // Day 100: the late answers come in, just before their request's 90 days ran out.
    host.set_now(&at(100, 1));
    for n in (1..=PEOPLE).filter(|n| fate(*n) == Fate::LateAnswer) {
        guard
            .record_decision(
                &contact(&n.to_string()),
                CONSENT,
                true,
                &operator(),
                "Late reply",
            )
            .expect("call")
            .expect("granted");
    }

    // Day 106: the withdrawals of day 20 and the lapses of day 15 ran out.
    host.set_now(&at(106, 0));
    let mut due_now = of_fates(&[Fate::Withdrawn, Fate::Silent]);
    let (listed, _) = run(&guard, &settings, true);
    assert_eq!(who(&listed), due_now, "{listed:?}");
    for (person, class, since) in &listed {
        let n: usize = person.trim_start_matches("contacts/").parse().expect("id");
        let (wanted_class, wanted_since) =
            expected(fate(n), &settings, millis(106, 0)).expect("due");
        let wanted_since = chrono::DateTime::from_timestamp_millis(wanted_since)
            .expect("time")
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!((*class, since), (wanted_class, &wanted_since), "{person}");
    }
    // The run erases them, each under their class.
    let (erased, summary) = run(&guard, &settings, false);
    assert_eq!(who(&erased), due_now);
    assert_eq!(summary.erased, due_now.len() as u64);
    assert_eq!(summary.due.get("withdrawn"), Some(&4));
    assert_eq!(summary.due.get("unanswered"), Some(&4));
    assert_erased_by_schedule(&guard, &of_fates(&[Fate::Withdrawn]), Class::Withdrawn);
    due_now.extend(first);
    assert_erased_by_schedule(&guard, &of_fates(&[Fate::Silent]), Class::Unanswered);
    // Nobody else: everyone else keeps their address.
    for n in (1..=PEOPLE).filter(|n| !due_now.contains(&format!("contacts/{n}"))) {
        let record = guard
            .record("contacts", &n.to_string())
            .expect("read")
            .expect("record");
        let kept = fate(n) != Fate::ErasedByStaff;
        assert_eq!(!record.field("email").is_empty(), kept, "contacts/{n}");
        assert_eq!(
            record.field("last_name"),
            if kept {
                format!("Surname{n}")
            } else {
                String::new()
            },
            "contacts/{n}"
        );
    }

    // A second run erases nobody new, and writes nothing.
    let head = log_head(&guard);
    let (again, summary) = run(&guard, &settings, false);
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(summary.erased, 0);
    assert_eq!(log_head(&guard), head);

    // The counts still add up: nobody left the report, the erased moved to `erased`.
    let after = guard
        .consent_report(&ReportWindow::default())
        .expect("report");
    let count = |wanted: &[Fate]| of_fates(wanted).len() as u64;
    assert_eq!(after.totals.people, PEOPLE as u64);
    let statuses = &after.totals.statuses;
    assert_eq!(
        statuses.get("erased").copied(),
        Some(count(&[
            Fate::Refused,
            Fate::Withdrawn,
            Fate::Silent,
            Fate::ErasedByStaff,
            Fate::Bounced,
            Fate::Complained,
        ]))
    );
    assert_eq!(
        statuses.get("restricted").copied(),
        Some(count(&[Fate::Restricted]))
    );
    assert_eq!(
        statuses.get("active").copied(),
        Some(count(&[
            Fate::Granted,
            Fate::LateAnswer,
            Fate::ChangedMind,
            Fate::BounceLifted
        ]))
    );
    let values = &after.totals.consents[CONSENT];
    assert_eq!(
        values.get("granted").copied(),
        Some(count(&[
            Fate::Granted,
            Fate::LateAnswer,
            Fate::ChangedMind,
            Fate::BounceLifted
        ]))
    );
    assert_eq!(
        values.get("not_granted").copied(),
        Some(count(&[
            Fate::Refused,
            Fate::Withdrawn,
            Fate::Silent,
            Fate::ErasedByStaff,
            Fate::Bounced,
            Fate::Complained,
        ]))
    );
    assert_eq!(
        values.get("waiting").copied(),
        Some(count(&[Fate::Restricted]))
    );
    assert_eq!(values.values().sum::<u64>(), PEOPLE as u64);

    // The suppression marker stays: a record bringing an erased address back is suppressed.
    let silent = (1..=PEOPLE)
        .find(|n| fate(*n) == Fate::Silent)
        .expect("a silent one");
    import_csv(
        &guard,
        "contacts",
        &format!("first_name,last_name,email\nBack,Again,PERSON{silent}@example.com\n"),
    );
    let back = contact(&(PEOPLE + 1).to_string());
    let subject = guard.subject(&back).expect("call").expect("known");
    assert!(
        matches!(subject.status, PersonStatus::Erased),
        "{:?}",
        subject.status
    );
    due_now.insert(format!("contacts/{}", PEOPLE + 1));

    // Over the API: the admin key's run pages, the read key may only look.
    let call = |key: &str, method: &str, path: &str, body: Option<Value>| {
        let bytes = body.map(|body| body.to_string().into_bytes());
        let response = http_call(
            method,
            &format!("http://{}{path}", server.address),
            &[("Authorization", &format!("Bearer {key}"))],
            bytes.as_deref().map(|bytes| ("application/json", bytes)),
        )
        .expect("the API answers");
        (
            response.status,
            serde_json::from_str::<Value>(&response.body).unwrap_or(Value::Null),
        )
    };
    let (status, answer) = call("pgk_read", "GET", "/api/v1/retention", None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["people"], json!([]), "{answer}");
    assert_eq!(answer["classes"][0]["class"], "bounced");
    let (status, answer) = call("pgk_read", "POST", "/api/v1/retention/run", Some(json!({})));
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = call(
        "pgk_admin",
        "POST",
        "/api/v1/retention/run",
        Some(json!({"limit": 0})),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["problems"][0]["at"], "limit", "{answer}");

    // Day 200: the inactive class, switched on, takes the rest but the restricted.
    host.set_now(&at(200, 0));
    let inactive = RetentionSettings {
        inactive: Keep::Days(90),
        ..settings
    };
    let (listed, _) = run(&guard, &inactive, true);
    assert_eq!(
        who(&listed),
        of_fates(&[
            Fate::Granted,
            Fate::LateAnswer,
            Fate::ChangedMind,
            Fate::BounceLifted
        ])
    );
    guard.set_retention(inactive).expect("set once");
    let (status, answer) = call("pgk_read", "GET", "/api/v1/retention?limit=2", None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["people"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    assert_eq!(answer["people"][0]["outcome"], "would_erase", "{answer}");
    let next = answer["summary"]["next"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let mut erased_over_api = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let body = match &after {
            Some(after) => json!({"limit": 5, "after": after}),
            None => json!({"limit": 5}),
        };
        let (status, answer) = call("pgk_admin", "POST", "/api/v1/retention/run", Some(body));
        assert_eq!(status, 200, "{answer}");
        for person in answer["people"].as_array().expect("people") {
            assert_eq!(person["outcome"], "erased", "{person}");
            assert_eq!(person["class"], "inactive", "{person}");
            erased_over_api.insert(format!(
                "{}/{}",
                person["module"].as_str().unwrap(),
                person["id"].as_str().unwrap()
            ));
        }
        match answer["summary"]["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(!next.is_empty());
    assert_eq!(
        erased_over_api,
        of_fates(&[
            Fate::Granted,
            Fate::LateAnswer,
            Fate::ChangedMind,
            Fate::BounceLifted
        ])
    );
    let granted = (1..=PEOPLE)
        .find(|n| fate(*n) == Fate::Granted)
        .expect("a granted one");
    let history = history_of(&guard, &contact(&granted.to_string()));
    let erasure = history
        .iter()
        .find(|event| event["to"] == "erased")
        .expect("erased");
    assert!(
        erasure["statement"]
            .as_str()
            .unwrap()
            .contains("run by API key dpo-admin"),
        "{erasure}"
    );
}

/// Dry runs under many settings and times against [`expected`]: bounded cases from a
/// fixed seed, so a failure names its case and repeats.
#[test]
fn dry_runs_under_many_settings_list_exactly_whom_the_model_says() {
    let (host, guard, _server) = population();
    host.set_now(&at(100, 1));
    for n in (1..=PEOPLE).filter(|n| fate(*n) == Fate::LateAnswer) {
        guard
            .record_decision(
                &contact(&n.to_string()),
                CONSENT,
                true,
                &operator(),
                "Late reply",
            )
            .expect("call")
            .expect("granted");
    }
    let head = log_head(&guard);
    let mut seed: u64 = 0x5eed_2026;
    let mut next = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let mut cases = 0;
    for days_after in [101_i64, 130, 200, 400] {
        host.set_now(&at(days_after, 0));
        let now = millis(days_after, 0);
        for _ in 0..12 {
            let mut keep = || match next(5) {
                0 => Keep::Off,
                _ => Keep::Days(1 + next(250) as u32),
            };
            let settings = RetentionSettings {
                unanswered: keep(),
                withdrawn: keep(),
                bounced: keep(),
                inactive: keep(),
            };
            let (listed, summary) = run(&guard, &settings, true);
            let wanted: Vec<(String, Class)> = (1..=PEOPLE)
                .filter_map(|n| {
                    expected(fate(n), &settings, now)
                        .map(|(class, _)| (format!("contacts/{n}"), class))
                })
                .collect();
            let mut got: Vec<(String, Class)> = listed
                .iter()
                .map(|(person, class, _)| (person.clone(), *class))
                .collect();
            let mut wanted = wanted;
            got.sort();
            wanted.sort();
            assert_eq!(got, wanted, "day {days_after}, {settings:?}");
            assert_eq!(summary.due.values().sum::<u64>(), wanted.len() as u64);
            cases += 1;
        }
    }
    assert_eq!(log_head(&guard), head, "a dry run wrote to the log");
    assert_eq!(cases, 48);
}

/// `serve`'s scheduler runs the schedules after the day's consent run, as the daily
/// schedule: the refusal of day 1 is erased on day 40 once the run of that day is done,
/// and the people still waiting for their request's 90 days are not.
#[test]
fn the_scheduler_runs_the_schedules_after_the_daily_run() {
    let host = TestHost::new(DAY_0);
    let guard = Arc::new(host.open().expect("host"));
    privacy_guard_tests::configure(&guard, "http://127.0.0.1:9/preferences/");
    import_csv(
        &guard,
        "contacts",
        "first_name,last_name,email\nAda,L,ada@example.com\nGrace,H,grace@example.com\n",
    );
    host.set_now(&at(0, 1));
    guard.run_daily("2026-01-05", &|_| {}).expect("daily run");
    host.set_now(&at(1, 1));
    guard
        .record_decision(&contact("1"), CONSENT, false, &operator(), "Phone call")
        .expect("call")
        .expect("refused");
    guard
        .set_retention(RetentionSettings::default())
        .expect("set once");
    // Day 40, 10:30: the run of 10:00 is due.
    host.set_now("2026-02-14T10:30:00Z");
    let runtime = privacy_guard_host::guard::io::runtime().expect("runtime");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tenants = Arc::new(Tenants::single(guard.clone(), Vec::new()));
    let scheduler = runtime.spawn(privacy_guard_host::worker::run_schedules(
        tenants,
        stopped,
        |_, _| {},
    ));
    let erasure = (0..600)
        .find_map(|_| {
            let found = history_of(&guard, &contact("1"))
                .into_iter()
                .find(|event| event["to"] == "erased");
            if found.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            found
        })
        .expect("the scheduler erased contacts/1 within a minute");
    stop.send(true).expect("the scheduler listens");
    runtime.block_on(scheduler).expect("the scheduler stopped");
    assert_eq!(erasure["actor"], "retention:withdrawn", "{erasure}");
    let statement = erasure["statement"].as_str().expect("a statement");
    assert!(
        statement.contains("run by the daily schedule of 2026-02-14"),
        "{statement}"
    );
    // The run of the day came first, and the one still waiting is kept.
    let daily = privacy_guard_tests::scenario::block_on(guard.database().job_run(
        privacy_guard_host::schedule::DAILY_CONSENT_RUN,
        "2026-02-14",
    ))
    .expect("read");
    assert!(
        daily.is_some_and(|run| run.finished),
        "the daily run of day 40 ran"
    );
    let grace = guard
        .record("contacts", "2")
        .expect("read")
        .expect("record");
    assert_eq!(grace.field("email"), "grace@example.com");
}

/// The run reads the log on before each erasure: a person who answers while it works (here
/// between the first erasure and theirs) is kept.
#[test]
fn an_answer_given_while_the_run_works_keeps_the_person() {
    let host = TestHost::new(DAY_0);
    let guard = Arc::new(host.open().expect("host"));
    privacy_guard_tests::configure(&guard, "http://127.0.0.1:9/preferences/");
    import_csv(
        &guard,
        "contacts",
        "first_name,last_name,email\nA,A,a@example.com\nB,B,b@example.com\nC,C,c@example.com\n",
    );
    host.set_now(&at(1, 1));
    for id in ["1", "2", "3"] {
        guard
            .record_decision(&contact(id), CONSENT, false, &operator(), "Phone call")
            .expect("call")
            .expect("refused");
    }
    host.set_now(&at(40, 0));
    let request = RetentionRequest {
        run_by: "the test".into(),
        ..RetentionRequest::default()
    };
    let mut erased = Vec::new();
    let summary = guard
        .run_retention(
            &RetentionSettings::default(),
            &request,
            &mut |item| {
                erased.push(item.id.clone());
                if item.id == "1" {
                    guard
                        .record_decision(&contact("2"), CONSENT, true, &operator(), "Called back")
                        .expect("call")
                        .expect("granted");
                }
            },
            &|_, _| {},
        )
        .expect("run");
    assert_eq!(erased, ["1", "3"]);
    assert_eq!((summary.erased, summary.stopped), (2, None));
    let kept = guard
        .record("contacts", "2")
        .expect("read")
        .expect("record");
    assert_eq!(kept.field("email"), "b@example.com");
}
