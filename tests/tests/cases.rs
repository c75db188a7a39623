//! Rights requests as cases on the legal clock, through the real component in the real
//! host: the identity code read from the delivered `.eml`, every kind of request carried
//! out, wrong and expired codes, every clock with time travel, extensions, and the overdue
//! and due-soon lists. SQLite, or PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL` names
//! a server.

use chrono::NaiveDate;
use privacy_guard_host::cases::{Case, CaseKind, CaseStatus, Closing, Regime};
use privacy_guard_host::contract::subjects::{PersonStatus, StaffActor, StaffChannel};
use privacy_guard_host::contract::types::{ConsentValue, RecordRef};
use privacy_guard_host::guard::{CaseListFilter, CaseRefusal, CaseRequest, Completion, Guard};
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::scenario::{contact, import_csv};
use privacy_guard_tests::{Mail, TestHost, configure, operator};
use serde_json::Value;

/// The officer handling the cases.
fn officer() -> StaffActor {
    StaffActor {
        channel: StaffChannel::Admin,
        name: "dpo-jane".into(),
    }
}

/// A configured host with Ada (contacts/1) and Grace (contacts/2), at `now`.
fn desk(now: &str) -> (TestHost, Guard) {
    let host = TestHost::new(now);
    let guard = host.open().expect("open");
    configure(&guard, "https://example.com/preferences");
    import_csv(
        &guard,
        "contacts",
        "id,name,email,phone\n1,Ada Lovelace,ada@example.com,+44 1\n2,Grace Hopper,grace@example.com,+1 2\n",
    );
    (host, guard)
}

fn open(
    guard: &Guard,
    person: &RecordRef,
    kind: CaseKind,
    regime: Regime,
    received: Option<&str>,
) -> Case {
    let request = CaseRequest {
        kind,
        person: person.clone(),
        regime,
        received_on: received.map(date),
    };
    guard
        .open_case(&request, &officer())
        .expect("call")
        .unwrap_or_else(|refusal| panic!("case not opened: {refusal}"))
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
}

/// The identity codes mailed to `address` so far, oldest first, as the person reads them.
fn codes_mailed_to(host: &TestHost, address: &str) -> Vec<String> {
    host.mails()
        .iter()
        .filter(|mail| mail.to == [address] && mail.subject.contains("confirmation code"))
        .map(|mail: &Mail| {
            mail.text
                .lines()
                .map(str::trim)
                .find(|line| line.len() == 9 && line.as_bytes()[4] == b'-')
                .unwrap_or_else(|| panic!("no code in {}", mail.text))
                .to_owned()
        })
        .collect()
}

fn verified(host: &TestHost, guard: &Guard, case: &Case, address: &str) -> Case {
    let code = codes_mailed_to(host, address)
        .pop()
        .expect("a code was mailed");
    guard
        .verify_case(&case.id, &code, &officer())
        .expect("call")
        .unwrap_or_else(|refusal| panic!("code refused: {refusal}"))
}

fn events(guard: &Guard, case: &Case) -> Vec<Value> {
    guard
        .case_events(case)
        .expect("events")
        .iter()
        .map(|event| serde_json::from_str(&event.payload).expect("JSON"))
        .collect()
}

fn kinds_of(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["kind"].as_str().unwrap_or_default())
        .collect()
}

fn consent_value(guard: &Guard, person: &RecordRef) -> ConsentValue {
    guard
        .subject(person)
        .expect("call")
        .expect("known")
        .consents
        .iter()
        .find(|state| state.consent_id == "email-marketing")
        .expect("consent")
        .value
}

#[test]
fn every_kind_of_request_is_verified_by_the_mailed_code_and_carried_out_through_the_plugin() {
    for kind in CaseKind::ALL {
        let (host, guard) = desk("2026-12-01T09:00:00Z");
        let ada = contact("1");
        if kind == CaseKind::Objection {
            guard
                .record_decision(&ada, "email-marketing", true, &operator(), "signed form")
                .expect("call")
                .expect("granted");
            assert_eq!(consent_value(&guard, &ada), ConsentValue::Granted);
        }
        let case = open(&guard, &ada, kind, Regime::Gdpr, None);
        assert_eq!(case.status, CaseStatus::IdentityPending, "{kind:?}");
        assert_eq!(case.due_on, date("2027-01-01"), "{kind:?}");
        let early = guard
            .complete_case(&case.id, &Completion::default(), &officer())
            .expect("call");
        assert!(
            matches!(early, Err(CaseRefusal::Transition(_))),
            "{kind:?}: completed before the identity check"
        );
        host.set_now("2026-12-03T11:00:00Z");
        let case = verified(&host, &guard, &case, "ada@example.com");
        assert_eq!(case.status, CaseStatus::IdentityVerified);
        let completion = Completion {
            note: "done as asked".into(),
            corrections: if kind == CaseKind::Rectification {
                vec![("phone".into(), "+44 99".into())]
            } else {
                Vec::new()
            },
        };
        let completed = guard
            .complete_case(&case.id, &completion, &officer())
            .expect("call")
            .unwrap_or_else(|refusal| panic!("{kind:?} not completed: {refusal}"));
        assert_eq!(completed.case.status, CaseStatus::Completed);
        let log = events(&guard, &completed.case);
        assert_eq!(
            kinds_of(&log),
            ["case-opened", "case-identity-verified", "case-completed"],
            "{kind:?}"
        );
        assert!(
            log.iter().all(|event| event["actor"]["name"] == "dpo-jane"),
            "{log:?}"
        );
        let completion_event = &log[2];
        match kind {
            CaseKind::Access | CaseKind::Portability => {
                let export = completed.export.expect("an export");
                assert_eq!(completion_event["export-sha256"], export.digest());
                assert_eq!(export.document["record"]["fields"]["phone"], "+44 1");
            }
            CaseKind::Erasure => {
                let subject = guard.subject(&ada).expect("call").expect("known");
                assert_eq!(subject.status, PersonStatus::Erased);
                assert_eq!(
                    completed.case.address, None,
                    "the case keeps no copy of the address"
                );
                let stored = guard.case(&case.id).expect("read").expect("case");
                assert_eq!(stored.address, None);
                assert!(
                    !host
                        .mails()
                        .iter()
                        .any(|mail| mail.to.contains(&"ada@example.com".to_owned())),
                    "the code's mail to the erased address is destroyed"
                );
            }
            CaseKind::Restriction => {
                let subject = guard.subject(&ada).expect("call").expect("known");
                assert_eq!(subject.status, PersonStatus::Restricted);
            }
            CaseKind::Objection => {
                assert_eq!(consent_value(&guard, &ada), ConsentValue::NotGranted);
                assert_eq!(
                    completion_event["effect"]["refused-consents"][0],
                    "email-marketing"
                );
                let history = guard.history(&ada).expect("history");
                assert!(
                    history
                        .last()
                        .is_some_and(|event| event.contains("dpo-jane")),
                    "the plugin's withdrawal names the case's actor: {history:?}"
                );
            }
            CaseKind::Rectification => {
                let record = guard
                    .record("contacts", "1")
                    .expect("read")
                    .expect("record");
                assert_eq!(record.field("phone"), "+44 99");
            }
        }
        assert!(matches!(
            guard.verify_ledger().expect("check"),
            LedgerCheck::Intact { .. }
        ));
        let closed_again = guard
            .close_case(&case.id, Closing::Refused, "too late", &officer())
            .expect("call");
        assert!(
            matches!(closed_again, Err(CaseRefusal::Transition(_))),
            "{kind:?}"
        );
    }
}

#[test]
fn wrong_codes_are_counted_five_void_the_code_and_a_new_code_works_until_it_expires() {
    let (host, guard) = desk("2026-12-01T09:00:00Z");
    let case = open(&guard, &contact("1"), CaseKind::Access, Regime::Gdpr, None);
    let first = codes_mailed_to(&host, "ada@example.com")
        .pop()
        .expect("code");
    for wrong in 1..=5 {
        let outcome = guard
            .verify_case(&case.id, "AAAA-AAAA", &officer())
            .expect("call");
        assert!(
            matches!(outcome, Err(CaseRefusal::Transition(_))),
            "{outcome:?}"
        );
        let stored = guard.case(&case.id).expect("read").expect("case");
        assert_eq!(
            stored.identity.wrong_codes, wrong,
            "each wrong code is counted"
        );
    }
    let void = guard
        .verify_case(&case.id, &first, &officer())
        .expect("call");
    assert!(
        void.as_ref()
            .is_err_and(|refusal| refusal.to_string().contains("void")),
        "{void:?}"
    );
    guard
        .resend_case_code(&case.id, &officer())
        .expect("call")
        .expect("resent");
    let codes = codes_mailed_to(&host, "ada@example.com");
    assert_eq!(codes.len(), 2, "a second mail with a second id");
    let log = events(&guard, &case);
    assert_eq!(
        kinds_of(&log)
            .iter()
            .filter(|kind| **kind == "case-code-rejected")
            .count(),
        6
    );
    // The new code expires after seven days.
    host.set_now("2026-12-08T09:00:01Z");
    let expired = guard
        .verify_case(&case.id, &codes[1], &officer())
        .expect("call");
    assert!(
        expired
            .as_ref()
            .is_err_and(|refusal| refusal.to_string().contains("expired")),
        "{expired:?}"
    );
    guard
        .resend_case_code(&case.id, &officer())
        .expect("call")
        .expect("resent");
    let third = codes_mailed_to(&host, "ada@example.com")
        .pop()
        .expect("code");
    let verified = guard
        .verify_case(&case.id, &third.to_lowercase(), &officer())
        .expect("call");
    assert_eq!(
        verified.expect("verified").status,
        CaseStatus::IdentityVerified
    );
}

#[test]
fn each_clock_runs_from_receipt_and_the_lists_follow_the_hosts_clock() {
    let (host, guard) = desk("2027-01-31T09:00:00Z");
    let ada = contact("1");
    let gdpr = open(&guard, &ada, CaseKind::Access, Regime::Gdpr, None);
    assert_eq!(
        (gdpr.due_on, gdpr.acknowledge_by),
        (date("2027-02-28"), None)
    );
    // Friday 29 January: ten business days later is Friday 12 February.
    let ccpa = open(
        &guard,
        &ada,
        CaseKind::Erasure,
        Regime::Ccpa,
        Some("2027-01-29"),
    );
    assert_eq!(ccpa.acknowledge_by, Some(date("2027-02-12")));
    assert!(
        ccpa.acknowledged_at.is_some(),
        "the code's mail acknowledges receipt"
    );
    assert_eq!(ccpa.due_on, date("2027-03-15"));
    let lgpd = open(
        &guard,
        &contact("2"),
        CaseKind::Objection,
        Regime::Lgpd,
        None,
    );
    assert_eq!(lgpd.due_on, date("2027-02-15"));

    let ids = |filter: CaseListFilter| -> Vec<String> {
        guard
            .cases(&filter)
            .expect("list")
            .into_iter()
            .map(|case| case.id)
            .collect()
    };
    let overdue = || CaseListFilter {
        overdue: true,
        ..CaseListFilter::default()
    };
    let due_within = |days| CaseListFilter {
        due_within_days: Some(days),
        ..CaseListFilter::default()
    };
    assert_eq!(ids(overdue()), Vec::<String>::new());
    assert_eq!(ids(due_within(7)), Vec::<String>::new());
    assert_eq!(ids(due_within(16)), std::slice::from_ref(&lgpd.id));
    host.set_now("2027-02-15T23:59:59Z");
    assert_eq!(
        ids(overdue()),
        Vec::<String>::new(),
        "due today is not overdue"
    );
    assert_eq!(ids(due_within(7)), std::slice::from_ref(&lgpd.id));
    host.set_now("2027-02-16T00:00:00Z");
    assert_eq!(ids(overdue()), std::slice::from_ref(&lgpd.id));
    assert_eq!(ids(due_within(13)), std::slice::from_ref(&gdpr.id));
    host.set_now("2027-03-16T00:00:00Z");
    assert_eq!(
        ids(overdue()),
        [lgpd.id.clone(), gdpr.id.clone(), ccpa.id.clone()]
    );
    guard
        .close_case(
            &lgpd.id,
            Closing::Withdrawn,
            "the person called back",
            &officer(),
        )
        .expect("call")
        .expect("withdrawn");
    assert_eq!(
        ids(overdue()),
        [gdpr.id.clone(), ccpa.id.clone()],
        "closed cases are off the clock"
    );
    let everything = ids(CaseListFilter::default());
    assert_eq!(everything.len(), 3);
    let withdrawn = ids(CaseListFilter {
        status: Some(CaseStatus::Withdrawn),
        ..CaseListFilter::default()
    });
    assert_eq!(withdrawn, [lgpd.id]);
}

#[test]
fn an_extension_is_allowed_once_within_the_first_period_with_a_notice_and_never_under_lgpd() {
    let (host, guard) = desk("2026-12-01T09:00:00Z");
    let ada = contact("1");
    let gdpr = open(&guard, &ada, CaseKind::Access, Regime::Gdpr, None);
    let late = open(&guard, &ada, CaseKind::Portability, Regime::Gdpr, None);
    let ccpa = open(&guard, &ada, CaseKind::Access, Regime::Ccpa, None);
    let lgpd = open(&guard, &ada, CaseKind::Access, Regime::Lgpd, None);
    host.set_now("2027-01-01T20:00:00Z");
    let missing_reason = guard.extend_case(&gdpr.id, " ", &officer()).expect("call");
    assert!(matches!(missing_reason, Err(CaseRefusal::Transition(_))));
    let extended = guard
        .extend_case(&gdpr.id, "the archive must be searched by hand", &officer())
        .expect("call")
        .expect("extended on the last day of the first month");
    assert_eq!(extended.due_on, date("2027-03-01"));
    let notice = host
        .mails()
        .into_iter()
        .find(|mail| mail.subject.contains("more time"))
        .expect("the person is told");
    assert_eq!(notice.to, ["ada@example.com"]);
    assert!(notice.text.contains("the archive must be searched by hand"));
    assert!(notice.text.contains("2027-03-01"));
    let twice = guard
        .extend_case(&gdpr.id, "again", &officer())
        .expect("call");
    assert!(twice.is_err_and(|refusal| refusal.to_string().contains("one extension")));
    let ccpa_extended = guard
        .extend_case(&ccpa.id, "we need the vendor's records", &officer())
        .expect("call")
        .expect("within 45 days");
    assert_eq!(ccpa_extended.due_on, date("2027-03-01"));
    let lgpd_refused = guard
        .extend_case(&lgpd.id, "busy", &officer())
        .expect("call");
    assert!(lgpd_refused.is_err_and(|refusal| refusal.to_string().contains("no extension")));
    host.set_now("2027-01-02T00:00:01Z");
    let too_late = guard
        .extend_case(&late.id, "busy", &officer())
        .expect("call");
    assert!(too_late.is_err_and(|refusal| refusal.to_string().contains("first period")));
    assert_eq!(
        kinds_of(&events(&guard, &gdpr)),
        ["case-opened", "case-extended"],
        "refused extensions leave no event"
    );
}

#[test]
fn a_case_needs_a_known_person_with_an_address_and_a_day_of_receipt_not_in_the_future() {
    let (_host, guard) = desk("2026-12-01T09:00:00Z");
    import_csv(&guard, "contacts", "id,name,email\n3,No Mail,\n");
    let refusal = |person: RecordRef, received: Option<&str>| {
        guard
            .open_case(
                &CaseRequest {
                    kind: CaseKind::Access,
                    person,
                    regime: Regime::Gdpr,
                    received_on: received.map(date),
                },
                &officer(),
            )
            .expect("call")
            .expect_err("refused")
    };
    assert!(matches!(
        refusal(contact("99"), None),
        CaseRefusal::UnknownPerson(_)
    ));
    assert!(matches!(
        refusal(contact("3"), None),
        CaseRefusal::NoAddress(_)
    ));
    assert!(matches!(
        refusal(contact("1"), Some("2026-12-02")),
        CaseRefusal::ReceivedInTheFuture { .. }
    ));
    assert!(
        guard
            .cases(&CaseListFilter::default())
            .expect("list")
            .is_empty()
    );
    let unknown = guard
        .verify_case("20261201-9999", "AAAA-AAAA", &officer())
        .expect("call");
    assert!(matches!(unknown, Err(CaseRefusal::UnknownCase(_))));
}

#[test]
fn case_events_are_chained_in_the_log_but_not_in_the_change_feed() {
    let (host, guard) = desk("2026-12-01T09:00:00Z");
    let before = guard
        .changes(0, 1000)
        .expect("feed")
        .expect("page")
        .changes
        .len();
    let case = open(
        &guard,
        &contact("2"),
        CaseKind::Restriction,
        Regime::Gdpr,
        None,
    );
    verified(&host, &guard, &case, "grace@example.com");
    let page = guard.changes(0, 1000).expect("feed").expect("page");
    assert_eq!(
        page.changes.len(),
        before,
        "case events are no consent changes"
    );
    assert!(matches!(
        guard.verify_ledger().expect("check"),
        LedgerCheck::Intact { .. }
    ));
    let log = events(&guard, &case);
    assert_eq!(log[0]["person"], "contacts/2");
    assert!(
        !log.iter()
            .any(|event| event.to_string().contains("grace@example.com")),
        "case events never hold the address: {log:?}"
    );
}

#[test]
fn a_completion_the_plugin_refuses_changes_nothing_and_leaves_the_case_open() {
    let (host, guard) = desk("2026-12-01T09:00:00Z");
    let ada = contact("1");
    let case = open(&guard, &ada, CaseKind::Erasure, Regime::Gdpr, None);
    let case = verified(&host, &guard, &case, "ada@example.com");
    // Erased meanwhile through another way (the page, another member of staff).
    guard
        .erase(&ada, &operator(), "letter of 1 December")
        .expect("call")
        .expect("erased");
    let history = guard.history(&ada).expect("history");
    let refused = guard
        .complete_case(&case.id, &Completion::default(), &officer())
        .expect("call");
    assert!(
        matches!(&refused, Err(CaseRefusal::ConsentAction(why)) if why.contains("erased")),
        "{refused:?}"
    );
    let stored = guard.case(&case.id).expect("read").expect("case");
    assert_eq!(stored.status, CaseStatus::IdentityVerified, "still open");
    assert_eq!(
        stored.address, None,
        "the erasure forgot the case's copy of the address"
    );
    assert_eq!(
        kinds_of(&events(&guard, &case)),
        ["case-opened", "case-identity-verified"]
    );
    assert_eq!(
        guard.history(&ada).expect("history"),
        history,
        "no consent event written"
    );
    guard
        .close_case(
            &case.id,
            Closing::Refused,
            "erased already on 1 December",
            &officer(),
        )
        .expect("call")
        .expect("closed with the reason");
}
