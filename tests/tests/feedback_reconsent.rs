//! A complaint or an unsubscribe mail suppresses an address for good against staff, but
//! not against the person: their own grant on the preferences page (a signed link, the
//! form POSTed over TCP) lifts it in the same unit of work. A bounce stays, a refusal
//! alone or staff's decision lifts nothing, and the old report delivered again changes
//! nothing. Runs on PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL` is set.

use std::sync::Arc;

use privacy_guard_host::changes::ChangeKind;
use privacy_guard_host::contract::safeguards::{DeliveryReport, FeedbackKind};
use privacy_guard_host::contract::sending::{MessageClass, RecipientRole, RefusalReason};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::Guard;
use privacy_guard_tests::scenario::{decide_for, history_of, import_csv, refusal_of};
use privacy_guard_tests::{
    TestHost, WebServer, configure, http_post_form, instant, operator, served_host,
};

fn contact(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

/// A served host with Ada (1), Ben (2) and Cy (3), each granted marketing by staff.
fn people() -> (TestHost, Arc<Guard>, WebServer) {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
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
    (host, guard, server)
}

fn report(kind: FeedbackKind, address: &str, message_id: &str) -> DeliveryReport {
    DeliveryReport {
        kind,
        address: address.into(),
        source: match kind {
            FeedbackKind::Complaint => "arf",
            FeedbackKind::Unsubscribe => "mailto",
            _ => "dsn",
        }
        .into(),
        evidence: "Feedback-Type: abuse".into(),
        message_id: Some(message_id.into()),
        occurred_at: instant("2026-12-01T08:59:00Z").timestamp_millis(),
        token: None,
    }
}

fn deliver(guard: &Guard, report: &DeliveryReport) -> bool {
    guard
        .report_delivery(report)
        .expect("call")
        .expect("accepted")
        .address_suppressed
}

fn refusal(guard: &Guard, class: MessageClass, address: &str) -> Option<RefusalReason> {
    let purpose = (class == MessageClass::Marketing).then_some("email-marketing");
    refusal_of(&decide_for(
        guard,
        class,
        purpose,
        address,
        RecipientRole::To,
    ))
}

/// The person's `delivery-feedback` events, by their `feedback` word.
fn feedback_words(guard: &Guard, person: &RecordRef) -> Vec<String> {
    history_of(guard, person)
        .into_iter()
        .filter(|event| event["kind"] == "delivery-feedback")
        .map(|event| event["feedback"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The lifts in the change feed: (record id, source).
fn lifts(guard: &Guard) -> Vec<(String, String)> {
    let page = guard.changes(0, 10_000).expect("call").expect("cursor");
    page.changes
        .iter()
        .filter(|change| change.kind == ChangeKind::SuppressionLifted)
        .map(|change| {
            (
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

/// The person opens their link and POSTs `form` through the page over TCP.
fn answer_on_the_page(guard: &Guard, person: &RecordRef, form: &[(&str, &str)]) {
    let link = guard
        .preferences_link(person)
        .expect("call")
        .expect("a link");
    let response = http_post_form(&link, form).expect("POST");
    assert_eq!(response.status, 200, "{}", response.body);
}

#[test]
fn the_persons_own_grant_lifts_a_complaint_or_an_unsubscription_and_says_so() {
    let (_host, guard, _server) = people();
    for (kind, address, id, word) in [
        (FeedbackKind::Complaint, "ada@example.com", "1", "complaint"),
        (
            FeedbackKind::Unsubscribe,
            "ben@example.com",
            "2",
            "unsubscribe",
        ),
    ] {
        let person = contact(id);
        assert!(deliver(&guard, &report(kind, address, "<old@example.org>")));
        assert_eq!(
            refusal(&guard, MessageClass::Marketing, address),
            Some(RefusalReason::ConsentRefused)
        );
        // The grant restates the value they hold (a complaint changed none): still a lift.
        answer_on_the_page(&guard, &person, &[("email-marketing", "grant")]);
        assert_eq!(refusal(&guard, MessageClass::Marketing, address), None);
        assert_eq!(refusal(&guard, MessageClass::Workflow, address), None);
        assert_eq!(
            feedback_words(&guard, &person),
            [word, "suppression-lifted"]
        );
        let lift = history_of(&guard, &person)
            .into_iter()
            .rfind(|event| event["feedback"] == "suppression-lifted")
            .expect("the lift");
        assert_eq!(lift["source"], "preferences-page");
        assert_eq!(lift["actor"], "person");
        assert!(lift["link"].is_string(), "{lift}");
        assert_eq!(
            lift["ip"], "127.0.0.0/24",
            "the IP as the answer keeps it: {lift}"
        );

        // The old report delivered again is a repeat: nothing changes.
        assert!(!deliver(
            &guard,
            &report(kind, address, "<old@example.org>")
        ));
        assert_eq!(refusal(&guard, MessageClass::Marketing, address), None);
        assert_eq!(
            feedback_words(&guard, &person),
            [word, "suppression-lifted"]
        );
    }
    assert_eq!(
        lifts(&guard),
        [
            ("1".to_owned(), "preferences_page".to_owned()),
            ("2".to_owned(), "preferences_page".to_owned()),
        ]
    );
    // A new complaint suppresses again.
    assert!(deliver(
        &guard,
        &report(
            FeedbackKind::Complaint,
            "ada@example.com",
            "<new@example.org>"
        )
    ));
    assert_eq!(
        refusal(&guard, MessageClass::Marketing, "ada@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
}

#[test]
fn a_bounce_a_refusal_alone_and_staffs_grant_lift_nothing() {
    let (_host, guard, _server) = people();
    // Ada's mailbox bounced: her grant does not make it work.
    let mut bounce = report(
        FeedbackKind::HardBounce,
        "ada@example.com",
        "<b@example.org>",
    );
    bounce.evidence = "Status: 5.1.1".into();
    assert!(deliver(&guard, &bounce));
    answer_on_the_page(&guard, &contact("1"), &[("email-marketing", "grant")]);
    assert_eq!(
        refusal(&guard, MessageClass::Marketing, "ada@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    assert_eq!(feedback_words(&guard, &contact("1")), ["hard-bounce"]);

    // Ben complained; staff record a grant for him: it stands.
    assert!(deliver(
        &guard,
        &report(
            FeedbackKind::Complaint,
            "ben@example.com",
            "<c@example.org>"
        )
    ));
    guard
        .record_decision(
            &contact("2"),
            "email-marketing",
            true,
            &operator(),
            "he said so on the phone",
        )
        .expect("call")
        .expect("recorded");
    assert_eq!(
        refusal(&guard, MessageClass::Marketing, "ben@example.com"),
        Some(RefusalReason::ConsentRefused)
    );

    // Cy complained and refuses on the page: workflow mail stays refused too.
    assert!(deliver(
        &guard,
        &report(FeedbackKind::Complaint, "cy@example.com", "<d@example.org>")
    ));
    answer_on_the_page(&guard, &contact("3"), &[("email-marketing", "refuse")]);
    assert_eq!(
        refusal(&guard, MessageClass::Workflow, "cy@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
    assert_eq!(feedback_words(&guard, &contact("3")), ["complaint"]);
    assert_eq!(lifts(&guard), []);

    // Ben's own grant on the page does lift it (the control: the staff grant was the
    // only thing missing).
    answer_on_the_page(&guard, &contact("2"), &[("email-marketing", "grant")]);
    assert_eq!(
        refusal(&guard, MessageClass::Marketing, "ben@example.com"),
        None
    );
    assert_eq!(
        lifts(&guard),
        [("2".to_owned(), "preferences_page".to_owned())]
    );
}
