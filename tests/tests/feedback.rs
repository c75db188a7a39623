//! Bounces and complaints (issue 14, part 1): what comes back after a mail left, read by
//! the host and reported to the plugin's `safeguards` export (contract 0.3.3).

use std::path::PathBuf;

use privacy_guard_host::guard::{ComponentSource, GuardError};
use privacy_guard_tests::TestHost;

const FROZEN: &str = env!("PRIVACY_GUARD_FROZEN_0_3_0_COMPONENT");

#[test]
fn the_embedded_component_offers_the_safeguards_with_their_defaults() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    assert!(guard.offers_safeguards());
    let settings = guard.safeguard_settings().expect("the settings");
    assert_eq!(settings.soft_bounce_limit, 5);
    assert_eq!(settings.request_interval_hours, 24);
    assert_eq!(settings.link_mail_interval_minutes, 15);
    assert_eq!(settings.unsubscribe_mailbox, "");
}

#[test]
fn a_component_without_safeguards_is_told_apart_with_a_clear_error() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host
        .open_with(|options| options.component = ComponentSource::File(PathBuf::from(FROZEN)))
        .expect("the host loads the 0.3.0 guest");
    assert!(!guard.offers_safeguards());
    match guard.safeguard_settings() {
        Err(GuardError::NotOffered(message)) => assert_eq!(
            message,
            "this component (contract privacy-guard:consent@0.3.0) does not offer safeguards; install one of 0.3.3 or later"
        ),
        other => panic!("not offered, not {other:?}"),
    }
}

use privacy_guard_host::contract::safeguards::{DeliveryReport, FeedbackError, FeedbackKind};
use privacy_guard_host::contract::sending::{MessageClass, RecipientRole, RefusalReason};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::Guard;
use privacy_guard_tests::scenario::{decide_for, history_of, import_csv, refusal_of};
use privacy_guard_tests::{configure, instant, operator};

fn contact(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

/// A host with Ada (granted marketing), Ben (granted) and Cy (granted).
fn host_with_people() -> (TestHost, Guard) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, "http://127.0.0.1:9/preferences/");
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nBen,ben@example.com\nCy,cy@example.com\n",
    );
    for id in ["1", "2", "3"] {
        guard
            .record_decision(
                &contact(id),
                "email-marketing",
                true,
                &operator(),
                "signed form",
            )
            .expect("call")
            .expect("recorded");
    }
    (host, guard)
}

fn report(kind: FeedbackKind, address: &str, message_id: Option<&str>) -> DeliveryReport {
    DeliveryReport {
        kind,
        address: address.into(),
        source: "dsn".into(),
        evidence: "Status: 5.1.1; Diagnostic-Code: smtp; 550 5.1.1 user unknown".into(),
        message_id: message_id.map(str::to_owned),
        occurred_at: instant("2026-12-01T08:59:00Z").timestamp_millis(),
        token: None,
    }
}

fn marketing(guard: &Guard, address: &str) -> Option<RefusalReason> {
    refusal_of(&decide_for(
        guard,
        MessageClass::Marketing,
        Some("email-marketing"),
        address,
        RecipientRole::To,
    ))
}

fn feedback_events(guard: &Guard, person: &RecordRef) -> Vec<serde_json::Value> {
    history_of(guard, person)
        .into_iter()
        .filter(|event| event["kind"] == "delivery-feedback")
        .collect()
}

#[test]
fn a_hard_bounce_suppresses_marketing_at_once_with_the_evidence_on_the_stream() {
    let (_host, guard) = host_with_people();
    assert_eq!(marketing(&guard, "ada@example.com"), None);
    let outcome = guard
        .report_delivery(&report(
            FeedbackKind::HardBounce,
            "Ada@Example.com",
            Some("<m1@example.org>"),
        ))
        .expect("call")
        .expect("accepted");
    assert_eq!(outcome.suppressed, vec![contact("1")]);
    assert!(outcome.address_suppressed);
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    assert_eq!(
        refusal_of(&decide_for(
            &guard,
            MessageClass::Workflow,
            None,
            "ada@example.com",
            RecipientRole::To
        )),
        Some(RefusalReason::InvalidAddress)
    );
    // Transactional mail still goes; nobody else is touched.
    assert_eq!(
        refusal_of(&decide_for(
            &guard,
            MessageClass::Transactional,
            None,
            "ada@example.com",
            RecipientRole::To
        )),
        None
    );
    assert_eq!(marketing(&guard, "ben@example.com"), None);
    // A batch large enough for the packed check decides the same.
    let request = privacy_guard_host::contract::sending::SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    let recipients: Vec<_> = (0..20)
        .map(|index| privacy_guard_host::contract::sending::Recipient {
            address: if index % 2 == 0 {
                "ada@example.com"
            } else {
                "ben@example.com"
            }
            .into(),
            role: RecipientRole::To,
            person: None,
        })
        .collect();
    let decisions = guard.check_send(&request, &recipients);
    for (index, decision) in decisions.iter().enumerate() {
        let expected = (index % 2 == 0).then_some(RefusalReason::InvalidAddress);
        assert_eq!(refusal_of(decision), expected, "recipient {index}");
    }
    let events = feedback_events(&guard, &contact("1"));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["feedback"], "hard-bounce");
    assert_eq!(events[0]["source"], "dsn");
    assert_eq!(events[0]["message-id"], "<m1@example.org>");
    assert_eq!(
        events[0]["evidence"],
        "Status: 5.1.1; Diagnostic-Code: smtp; 550 5.1.1 user unknown"
    );
    // The same report again changes nothing.
    let again = guard
        .report_delivery(&report(
            FeedbackKind::HardBounce,
            "ada@example.com",
            Some("<m1@example.org>"),
        ))
        .expect("call")
        .expect("accepted");
    assert!(again.suppressed.is_empty());
    assert!(again.address_suppressed);
    assert_eq!(feedback_events(&guard, &contact("1")).len(), 1);
}

#[test]
fn soft_bounces_suppress_only_at_the_limit_and_staff_lift_a_bounce() {
    let (_host, guard) = host_with_people();
    for n in 1..=4 {
        let id = format!("<soft-{n}@example.org>");
        let outcome = guard
            .report_delivery(&report(
                FeedbackKind::SoftBounce,
                "ben@example.com",
                Some(&id),
            ))
            .expect("call")
            .expect("accepted");
        assert_eq!(outcome.soft_bounces, n);
        assert!(!outcome.address_suppressed);
        assert!(outcome.suppressed.is_empty());
        // Repeated: not counted twice.
        let repeated = guard
            .report_delivery(&report(
                FeedbackKind::SoftBounce,
                "ben@example.com",
                Some(&id),
            ))
            .expect("call")
            .expect("accepted");
        assert_eq!(repeated.soft_bounces, n);
        assert_eq!(marketing(&guard, "ben@example.com"), None);
    }
    let fifth = guard
        .report_delivery(&report(
            FeedbackKind::SoftBounce,
            "ben@example.com",
            Some("<soft-5@example.org>"),
        ))
        .expect("call")
        .expect("accepted");
    assert_eq!(fifth.suppressed, vec![contact("2")]);
    assert_eq!(
        marketing(&guard, "ben@example.com"),
        Some(RefusalReason::InvalidAddress)
    );

    assert_eq!(
        guard
            .lift_bounce("ben@example.com", &operator(), " ")
            .expect("call"),
        Err(FeedbackError::EvidenceRequired)
    );
    assert_eq!(
        guard
            .lift_bounce(
                "ben@example.com",
                &operator(),
                "mailbox working again (phone call)"
            )
            .expect("call"),
        Ok(true)
    );
    assert_eq!(marketing(&guard, "ben@example.com"), None);
    assert_eq!(
        guard
            .lift_bounce("ben@example.com", &operator(), "again")
            .expect("call"),
        Ok(false)
    );
    let words: Vec<_> = feedback_events(&guard, &contact("2"))
        .iter()
        .map(|event| event["feedback"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(words, ["soft-bounce", "bounce-lifted"]);
}

#[test]
fn a_complaint_refuses_as_a_withdrawal_and_is_not_lifted_by_staff() {
    let (_host, guard) = host_with_people();
    let mut complaint = report(
        FeedbackKind::Complaint,
        "cy@example.com",
        Some("<news-1@example.org>"),
    );
    complaint.source = "arf".into();
    complaint.evidence = "Feedback-Type: abuse; User-Agent: Yahoo!-Mail-Feedback/2.0".into();
    let outcome = guard
        .report_delivery(&complaint)
        .expect("call")
        .expect("accepted");
    assert_eq!(outcome.suppressed, vec![contact("3")]);
    assert_eq!(
        marketing(&guard, "cy@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
    assert_eq!(
        guard
            .lift_bounce("cy@example.com", &operator(), "asked by phone")
            .expect("call"),
        Ok(false)
    );
    assert_eq!(
        marketing(&guard, "cy@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
}

#[test]
fn bad_reports_are_refused_and_change_nothing() {
    let (_host, guard) = host_with_people();
    let mut empty = report(FeedbackKind::HardBounce, "ada@example.com", None);
    empty.evidence = "  ".into();
    assert_eq!(
        guard.report_delivery(&empty).expect("call"),
        Err(FeedbackError::EvidenceRequired)
    );
    assert!(matches!(
        guard
            .report_delivery(&report(FeedbackKind::HardBounce, "not an address", None))
            .expect("call"),
        Err(FeedbackError::InvalidAddress(_))
    ));
    let mut token = report(FeedbackKind::Unsubscribe, "ada@example.com", None);
    token.token = Some("forged".into());
    assert_eq!(
        guard.report_delivery(&token).expect("call"),
        Err(FeedbackError::InvalidToken)
    );
    assert_eq!(marketing(&guard, "ada@example.com"), None);
}

#[test]
fn an_erased_address_stays_erased_and_an_unknown_one_is_suppressed_for_later() {
    let (_host, guard) = host_with_people();
    guard
        .erase(&contact("1"), &operator(), "Letter of 1 December 2026")
        .expect("call")
        .expect("erased");
    let outcome = guard
        .report_delivery(&report(FeedbackKind::HardBounce, "ada@example.com", None))
        .expect("call")
        .expect("accepted");
    assert!(outcome.suppressed.is_empty());
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Some(RefusalReason::Erased)
    );
    // Nobody holds dan@: suppressed all the same, for the record that may bring it later.
    let outcome = guard
        .report_delivery(&report(FeedbackKind::HardBounce, "dan@example.com", None))
        .expect("call")
        .expect("accepted");
    assert!(outcome.suppressed.is_empty() && outcome.address_suppressed);
    import_csv(&guard, "contacts", "name,email\nDan,dan@example.com\n");
    guard
        .record_decision(
            &contact("4"),
            "email-marketing",
            true,
            &operator(),
            "signed form",
        )
        .expect("call")
        .expect("recorded");
    assert_eq!(
        marketing(&guard, "dan@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
}

/// The feedback changes of the feed: (kind, record id, source).
fn feedback_changes(guard: &Guard) -> Vec<(String, String, String)> {
    use privacy_guard_host::changes::{CHANGE_KINDS, ChangeKind};
    let page = guard.changes(0, 10_000).expect("call").expect("cursor");
    page.changes
        .iter()
        .filter(|change| {
            matches!(
                change.kind,
                ChangeKind::Bounced
                    | ChangeKind::Complained
                    | ChangeKind::Unsubscribed
                    | ChangeKind::BounceLifted
            )
        })
        .map(|change| {
            let text = CHANGE_KINDS
                .iter()
                .find(|(kind, _, _)| *kind == change.kind)
                .map(|(_, text, _)| text.to_string())
                .unwrap_or_default();
            (
                text,
                change
                    .person
                    .as_ref()
                    .map(|p| p.id.clone())
                    .unwrap_or_default(),
                change.source.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn the_change_feed_tells_the_crm_and_the_daily_run_asks_a_suppressed_address_nothing() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, "http://127.0.0.1:9/preferences/");
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nBen,ben@example.com\nCy,cy@example.com\n",
    );
    let mut complaint = report(FeedbackKind::Complaint, "ben@example.com", None);
    complaint.source = "arf".into();
    for done in [
        report(FeedbackKind::HardBounce, "ada@example.com", None),
        complaint,
    ] {
        guard
            .report_delivery(&done)
            .expect("call")
            .expect("accepted");
    }
    assert_eq!(
        guard
            .lift_bounce("ada@example.com", &operator(), "new mailbox")
            .expect("call"),
        Ok(true)
    );
    guard
        .report_delivery(&report(
            FeedbackKind::HardBounce,
            "ada@example.com",
            Some("<2@x>"),
        ))
        .expect("call")
        .expect("accepted");
    assert_eq!(
        feedback_changes(&guard),
        [
            ("bounced".into(), "1".into(), "dsn".into()),
            ("complained".into(), "2".into(), "arf".into()),
            ("bounce_lifted".into(), "1".into(), "admin".into()),
            ("bounced".into(), "1".into(), "dsn".into()),
        ]
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let mailed: Vec<String> = host
        .mails()
        .iter()
        .flat_map(|mail| mail.to.clone())
        .collect();
    assert_eq!(mailed, ["cy@example.com"], "only Cy is asked");
}
