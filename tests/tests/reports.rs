//! The data-protection officer's reports, lists and bulk actions on a generated population
//! whose counts the test knows from how it made it: contacts imported on one day, decisions
//! recorded, refused, restricted and erased over the following days, all through the real
//! component in the real host, then read back from the event log by the report (per day),
//! the paged list and the bulk actions (each person their own event, naming the actor), in
//! the library and over the API. On SQLite, and on PostgreSQL when
//! `PRIVACY_GUARD_TEST_POSTGRES_URL` names a server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use privacy_guard_host::contract::subjects::{StaffActor, StaffChannel};
use privacy_guard_host::guard::{BulkAction, BulkOutcome, Guard};
use privacy_guard_host::reports::{PeopleFilter, PeopleSelection, Period, ReportWindow};
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Tenants};
use privacy_guard_tests::scenario::{contact, history_of, import_csv};
use privacy_guard_tests::{TestHost, WebServer, configure, http_call, operator};
use serde_json::{Value, json};

/// Contacts generated.
const PEOPLE: usize = 60;
const CONSENT: &str = "email-marketing";

/// What the test did to contact `n` (1-based), and so what the log must say of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Imported only: the consent applies, not requested.
    Untouched,
    /// Granted on day 2.
    Granted,
    /// Refused on day 3.
    Refused,
    /// Granted on day 2, withdrawn on day 3.
    Withdrawn,
    /// Restricted on day 3.
    Restricted,
    /// Erased on day 4.
    Erased,
}

fn fate(n: usize) -> Fate {
    match n % 10 {
        0..=2 => Fate::Granted,
        3..=4 => Fate::Refused,
        5 => Fate::Withdrawn,
        6 => Fate::Restricted,
        7 => Fate::Erased,
        _ => Fate::Untouched,
    }
}

fn count(wanted: &[Fate]) -> u64 {
    (1..=PEOPLE).filter(|n| wanted.contains(&fate(*n))).count() as u64
}

fn select(filter: &PeopleFilter, after: Option<(String, String)>, limit: usize) -> PeopleSelection {
    PeopleSelection {
        filter: filter.clone(),
        after,
        limit,
    }
}

fn staff(name: &str) -> StaffActor {
    StaffActor {
        channel: StaffChannel::Admin,
        name: name.into(),
    }
}

/// A configured host with the population made over 1-4 December 2026.
fn population() -> (TestHost, Arc<Guard>, WebServer) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let tenants = Tenants::single(
        guard.clone(),
        vec![
            ApiKey::parse(&format!(
                "dpo:staff={}",
                KeyDigest::of_key("pgk_dpo").to_text()
            ))
            .expect("key"),
        ],
    );
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    configure(&guard, &server.preferences_url());
    let mut csv = String::from("first_name,last_name,email\n");
    for n in 1..=PEOPLE {
        csv.push_str(&format!("Person,Number{n},person{n}@example.com\n"));
    }
    import_csv(&guard, "contacts", &csv);
    let actor = operator();
    let decide = |n: usize, grant: bool, evidence: &str| {
        guard
            .record_decision(&contact(&n.to_string()), CONSENT, grant, &actor, evidence)
            .expect("call")
            .unwrap_or_else(|refusal| panic!("contacts/{n}: {refusal:?}"));
    };
    host.set_now("2026-12-02T10:00:00Z");
    for n in 1..=PEOPLE {
        if matches!(fate(n), Fate::Granted | Fate::Withdrawn) {
            decide(n, true, "Signed form at the fair");
        }
    }
    host.set_now("2026-12-03T10:00:00Z");
    for n in 1..=PEOPLE {
        match fate(n) {
            Fate::Refused | Fate::Withdrawn => decide(n, false, "Phone call"),
            Fate::Restricted => {
                guard
                    .restrict(&contact(&n.to_string()), &actor, "Disputes accuracy")
                    .expect("call")
                    .expect("restricted");
            }
            _ => {}
        }
    }
    host.set_now("2026-12-04T10:00:00Z");
    for n in 1..=PEOPLE {
        if fate(n) == Fate::Erased {
            guard
                .erase(
                    &contact(&n.to_string()),
                    &actor,
                    "Erasure request by letter",
                )
                .expect("call")
                .expect("erased");
        }
    }
    (host, guard, server)
}

#[test]
fn the_report_counts_the_population_as_it_was_made_now_and_at_the_end_of_each_day() {
    let (_host, guard, _server) = population();
    let report = guard
        .consent_report(&ReportWindow::default())
        .expect("report");
    let totals = &report.totals;
    assert_eq!(totals.people, PEOPLE as u64, "{totals:?}");
    let statuses = &totals.statuses;
    assert_eq!(
        statuses.get("restricted"),
        Some(&count(&[Fate::Restricted]))
    );
    assert_eq!(statuses.get("erased"), Some(&count(&[Fate::Erased])));
    assert_eq!(
        statuses.get("active"),
        Some(&count(&[
            Fate::Untouched,
            Fate::Granted,
            Fate::Refused,
            Fate::Withdrawn
        ]))
    );
    let values = &totals.consents[CONSENT];
    assert_eq!(
        values.get("granted"),
        Some(&count(&[Fate::Granted])),
        "{values:?}"
    );
    // Refusals and withdrawals are `not_granted`; so is the consent of an erased person:
    // an erasure empties the email address the data consent covers, refusing it.
    assert_eq!(
        values.get("not_granted"),
        Some(&count(&[Fate::Refused, Fate::Withdrawn, Fate::Erased])),
        "{values:?}"
    );
    assert_eq!(
        values.get("applicable"),
        Some(&count(&[Fate::Untouched, Fate::Restricted])),
        "{values:?}"
    );
    assert_eq!(values.values().sum::<u64>(), PEOPLE as u64, "{values:?}");

    // Per day: the import, the grants, the refusals and restrictions, the erasures.
    let days: Vec<&str> = report
        .periods
        .iter()
        .map(|period| period.period.as_str())
        .collect();
    assert_eq!(
        days,
        ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
    );
    let day = |index: usize| &report.periods[index];
    assert_eq!(day(0).at_end.people, PEOPLE as u64);
    assert_eq!(
        day(1).changes["consent_granted"][CONSENT],
        count(&[Fate::Granted, Fate::Withdrawn])
    );
    assert_eq!(
        day(1).at_end.consents[CONSENT]["granted"],
        count(&[Fate::Granted, Fate::Withdrawn])
    );
    assert_eq!(
        day(2).changes["consent_withdrawn"][CONSENT],
        count(&[Fate::Withdrawn])
    );
    assert_eq!(
        day(2).changes["consent_refused"][CONSENT],
        count(&[Fate::Refused])
    );
    assert_eq!(
        day(2).changes["processing_restricted"][""],
        count(&[Fate::Restricted])
    );
    assert_eq!(day(2).at_end.statuses.get("erased"), None);
    assert_eq!(day(3).changes["erased"][""], count(&[Fate::Erased]));

    // A window: only the 3rd listed, the counts at its end (before the erasures).
    let window = ReportWindow {
        from: chrono::NaiveDate::from_ymd_opt(2026, 12, 3),
        to: chrono::NaiveDate::from_ymd_opt(2026, 12, 3),
        period: Period::Day,
    };
    let windowed = guard.consent_report(&window).expect("report");
    assert_eq!(windowed.periods.len(), 1);
    assert_eq!(windowed.totals, day(2).at_end);
    let monthly = guard
        .consent_report(&ReportWindow {
            period: Period::Month,
            ..ReportWindow::default()
        })
        .expect("report");
    assert_eq!(monthly.periods.len(), 1);
    assert_eq!(monthly.periods[0].period, "2026-12");
    assert_eq!(monthly.periods[0].at_end, report.totals);
}

#[test]
fn the_list_pages_through_exactly_the_people_of_a_filter() {
    let (_host, guard, _server) = population();
    let granted = PeopleFilter::new(
        Some(CONSENT),
        Some("granted"),
        Some("active"),
        Some("contacts"),
    )
    .expect("filter");
    let mut seen = BTreeSet::new();
    let mut after = None;
    loop {
        let page = guard
            .people_page(&granted, after.as_ref(), 7)
            .expect("page");
        assert_eq!(page.matching, count(&[Fate::Granted]));
        assert!(page.people.len() <= 7);
        for person in &page.people {
            assert_eq!(person.consents[CONSENT], "granted");
            assert!(seen.insert(person.id.clone()), "{} twice", person.id);
        }
        match page.next {
            Some(next) => {
                after =
                    Some(privacy_guard_host::reports::parse_person_cursor(&next).expect("cursor"));
            }
            None => break,
        }
    }
    let expected: BTreeSet<String> = (1..=PEOPLE)
        .filter(|n| fate(*n) == Fate::Granted)
        .map(|n| n.to_string())
        .collect();
    assert_eq!(seen, expected);
    let restricted = PeopleFilter::new(None, None, Some("restricted"), None).expect("filter");
    let page = guard.people_page(&restricted, None, 1000).expect("page");
    let ids: BTreeSet<String> = page.people.iter().map(|person| person.id.clone()).collect();
    let expected: BTreeSet<String> = (1..=PEOPLE)
        .filter(|n| fate(*n) == Fate::Restricted)
        .map(|n| n.to_string())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(page.next, None);
    for (consent, value, status) in [
        (None, Some("granted"), None),
        (Some(CONSENT), Some("maybe"), None),
        (None, None, Some("sleeping")),
    ] {
        assert!(PeopleFilter::new(consent, value, status, None).is_err());
    }
}

#[test]
fn a_bulk_action_gives_each_person_their_own_event_and_a_dry_run_changes_nothing() {
    let (host, guard, _server) = population();
    host.set_now("2026-12-05T10:00:00Z");
    let refused = PeopleFilter::new(Some(CONSENT), Some("not-granted"), Some("active"), None)
        .expect("filter");
    let expected: BTreeSet<String> = (1..=PEOPLE)
        .filter(|n| matches!(fate(*n), Fate::Refused | Fate::Withdrawn))
        .map(|n| n.to_string())
        .collect();
    let restrict = BulkAction::Restrict {
        reason: "Objected to all processing at the shareholders' meeting".into(),
    };
    let histories_before: BTreeMap<String, usize> = expected
        .iter()
        .map(|id| (id.clone(), history_of(&guard, &contact(id)).len()))
        .collect();
    let dry = guard
        .bulk_action(
            &restrict,
            &select(&refused, None, 1000),
            &staff("dpo-anna"),
            true,
            &|_, _| {},
        )
        .expect("dry run");
    let listed: BTreeSet<String> = dry.people.iter().map(|item| item.id.clone()).collect();
    assert_eq!(listed, expected);
    assert!(
        dry.people
            .iter()
            .all(|item| item.outcome == BulkOutcome::WouldAct)
    );
    for (id, before) in &histories_before {
        assert_eq!(
            history_of(&guard, &contact(id)).len(),
            *before,
            "a dry run wrote"
        );
    }

    // In pages of 4, with progress heard person by person.
    let heard = std::sync::Mutex::new(0_u64);
    let mut done = BTreeSet::new();
    let mut after = None;
    loop {
        let page = guard
            .bulk_action(
                &restrict,
                &select(&refused, after.clone(), 4),
                &staff("dpo-anna"),
                false,
                &|count, _| {
                    *heard.lock().expect("lock") += u64::from(count > 0);
                },
            )
            .expect("bulk");
        assert_eq!(page.stopped, None);
        for item in &page.people {
            assert_eq!(item.outcome, BulkOutcome::Done, "{item:?}");
            done.insert(item.id.clone());
        }
        match page.next {
            Some(next) => {
                after =
                    Some(privacy_guard_host::reports::parse_person_cursor(&next).expect("cursor"));
            }
            None => break,
        }
    }
    assert_eq!(done, expected);
    assert_eq!(*heard.lock().expect("lock"), expected.len() as u64);
    for id in &expected {
        let history = history_of(&guard, &contact(id));
        assert_eq!(
            history.len(),
            histories_before[id] + 1,
            "contacts/{id}: {history:?}"
        );
        let restriction = history.last().expect("the restriction");
        assert_eq!(restriction["to"], "restricted", "{restriction}");
        assert_eq!(restriction["actor"], "dpo-anna", "{restriction}");
        assert_eq!(
            restriction["statement"],
            "Objected to all processing at the shareholders' meeting"
        );
    }
    let report = guard
        .consent_report(&ReportWindow::default())
        .expect("report");
    assert_eq!(
        report.totals.statuses.get("restricted"),
        Some(&count(&[Fate::Restricted, Fate::Refused, Fate::Withdrawn]))
    );

    // A decision for people the plugin refuses it for is refused person by person; the
    // others are done.
    let everyone_not_granted =
        PeopleFilter::new(Some(CONSENT), Some("applicable"), None, None).expect("filter");
    let decided = guard
        .bulk_action(
            &BulkAction::RecordDecision {
                consent_id: CONSENT.into(),
                grant: true,
                evidence: "Signed list of the 5 December workshop".into(),
            },
            &select(&everyone_not_granted, None, 1000),
            &staff("dpo-anna"),
            false,
            &|_, _| {},
        )
        .expect("bulk");
    let restricted_ids: BTreeSet<String> = (1..=PEOPLE)
        .filter(|n| fate(*n) == Fate::Restricted)
        .map(|n| n.to_string())
        .collect();
    for item in &decided.people {
        if restricted_ids.contains(&item.id) {
            assert_eq!(item.outcome, BulkOutcome::Refused, "{item:?}");
            assert!(item.detail.is_some());
        } else {
            assert_eq!(item.outcome, BulkOutcome::Done, "{item:?}");
        }
    }
    assert_eq!(decided.done, count(&[Fate::Untouched]));
    assert_eq!(decided.refused, count(&[Fate::Restricted]));
    // The host keeps its reading of the log and reads on from it: the day of the bulk
    // actions is one period with both, as a reading from the start says.
    let kept = guard
        .consent_report(&ReportWindow::default())
        .expect("report");
    let days: Vec<&str> = kept
        .periods
        .iter()
        .map(|period| period.period.as_str())
        .collect();
    assert_eq!(
        days,
        [
            "2026-12-01",
            "2026-12-02",
            "2026-12-03",
            "2026-12-04",
            "2026-12-05"
        ]
    );
    let fifth = &kept.periods[4];
    assert_eq!(
        fifth.changes["processing_restricted"][""],
        expected.len() as u64
    );
    assert_eq!(
        fifth.changes["consent_granted"][CONSENT],
        count(&[Fate::Untouched])
    );
    let from_the_start = guard
        .consent_report(&ReportWindow {
            to: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
            ..ReportWindow::default()
        })
        .expect("report");
    assert_eq!(from_the_start.periods, kept.periods);
    assert_eq!(from_the_start.totals, kept.totals);
    let empty_evidence = guard.bulk_action(
        &BulkAction::Restrict { reason: " ".into() },
        &select(&refused, None, 10),
        &staff("dpo-anna"),
        false,
        &|_, _| {},
    );
    assert!(
        empty_evidence.is_err(),
        "an empty reason is refused before anyone is acted on"
    );
}

fn api(server: &WebServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let bytes = body.map(|body| body.to_string().into_bytes());
    let response = http_call(
        method,
        &format!("http://{}{path}", server.address),
        &[("Authorization", "Bearer pgk_dpo")],
        bytes.as_deref().map(|bytes| ("application/json", bytes)),
    )
    .expect("the API answers");
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

#[test]
fn the_api_reports_lists_and_acts_in_bulk_as_the_library_does() {
    let (_host, guard, server) = population();
    let (status, report) = api(&server, "GET", "/api/v1/reports/consents?period=day", None);
    assert_eq!(status, 200, "{report}");
    let library = guard
        .consent_report(&ReportWindow::default())
        .expect("report");
    assert_eq!(report, serde_json::to_value(&library).expect("JSON"));
    let (status, refused) = api(
        &server,
        "GET",
        "/api/v1/reports/consents?period=fortnight",
        None,
    );
    assert_eq!(status, 422, "{refused}");

    let mut ids = Vec::new();
    let mut path = format!("/api/v1/people?consent={CONSENT}&value=granted&limit=5");
    loop {
        let (status, page) = api(&server, "GET", &path, None);
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["matching"], count(&[Fate::Granted]));
        for person in page["people"].as_array().expect("people") {
            ids.push(person["id"].as_str().expect("id").to_owned());
        }
        match page["next"].as_str() {
            Some(next) => {
                path =
                    format!("/api/v1/people?consent={CONSENT}&value=granted&limit=5&after={next}")
            }
            None => break,
        }
    }
    assert_eq!(ids.len() as u64, count(&[Fate::Granted]));
    let (status, refused) = api(&server, "GET", "/api/v1/people?value=granted", None);
    assert_eq!(status, 422, "{refused}");

    let (status, dry) = api(
        &server,
        "POST",
        "/api/v1/bulk/ask-again",
        Some(
            json!({"filter": {"consent": CONSENT, "value": "applicable", "status": "active"}, "dry_run": true}),
        ),
    );
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        dry["people"].as_array().map(Vec::len),
        Some(count(&[Fate::Untouched]) as usize)
    );
    let (status, decided) = api(
        &server,
        "POST",
        "/api/v1/bulk/decisions",
        Some(json!({
            "filter": {"consent": CONSENT, "value": "applicable", "status": "active"},
            "consent_id": CONSENT, "grant": false, "evidence": "Returned the opt-out card"
        })),
    );
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["done"], count(&[Fate::Untouched]));
    let first = decided["people"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let last_event = history_of(&guard, &contact(&first))
        .pop()
        .expect("an event");
    assert_eq!(last_event["actor"], "dpo", "{last_event}");
    assert_eq!(last_event["source"], "api", "{last_event}");
    let (status, refused) = api(
        &server,
        "POST",
        "/api/v1/bulk/restrict",
        Some(json!({"filter": {}, "reason": "x", "grant": true})),
    );
    assert_eq!(
        status, 422,
        "a field of another bulk action is refused: {refused}"
    );
}
