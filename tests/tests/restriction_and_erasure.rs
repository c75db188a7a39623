//! Stopping processing (GDPR Art. 18) and erasure (Art. 17) through the real component in
//! the real host on a real SQLite file, the page driven over TCP.

use std::sync::Arc;

use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::contract::subjects::RecordError;
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::read_records;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::{
    TestHost, WebServer, configure, http_get, http_post_form, operator, served_host,
};

fn contact(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

fn send(guard: &Guard, class: MessageClass, address: &str) -> Decision {
    let request = SendRequest {
        class,
        purpose: Some("email-marketing".into()),
    };
    let recipient = Recipient {
        address: address.into(),
        role: RecipientRole::To,
        person: None,
    };
    guard.check_send(&request, &[recipient]).remove(0)
}

fn refusal(decision: &Decision) -> Option<RefusalReason> {
    match decision {
        Decision::Refuse(refusal) => Some(refusal.reason),
        Decision::Allow(_) => None,
    }
}

fn import(guard: &Guard, csv: &str) {
    guard
        .import_records(
            "contacts",
            read_records(csv.as_bytes()).expect("CSV"),
            &|_| {},
        )
        .expect("import");
}

/// Ada (contacts/1) with a request mailed and her link; the web server runs.
fn ada_with_link() -> (TestHost, Arc<Guard>, WebServer, String) {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import(
        &guard,
        "name,email,street\nAda Lovelace,ada@example.com,1 Main St\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let link = host.mails()[0]
        .link(&server.preferences_url())
        .expect("link");
    (host, guard, server, link)
}

#[test]
fn stopping_processing_on_the_page_locks_the_record_and_refuses_all_but_transactional_mail() {
    let (host, guard, _server, link) = ada_with_link();
    let page = http_get(&link).expect("GET");
    assert!(
        page.body.contains("Stop processing my data") && page.body.contains("Erase my data"),
        "{}",
        page.body
    );
    let stopped = http_post_form(&format!("{link}/stop-processing"), &[("confirm", "yes")])
        .expect("POST stop");
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert!(
        stopped.body.contains("id=\"restricted\""),
        "{}",
        stopped.body
    );
    assert!(
        guard
            .record("contacts", "1")
            .expect("read")
            .expect("record")
            .locked
    );
    // Consent changes are refused while restricted.
    let changed = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(changed.status, 409, "{}", changed.body);
    assert!(changed.body.contains("stop processing"));
    assert_eq!(
        refusal(&send(&guard, MessageClass::Marketing, "ada@example.com")),
        Some(RefusalReason::ProcessingRestricted)
    );
    match send(&guard, MessageClass::Transactional, "ada@example.com") {
        Decision::Allow(allowance) => assert_eq!(allowance.basis, LawfulBasis::LegalObligation),
        other => panic!("an invoice must go out, got {other:?}"),
    }
    host.set_now("2026-12-02T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert_eq!(run.requests, 0, "no request to a restricted person");
    let history = guard.history(&contact("1")).expect("history");
    let event = history.last().expect("an event");
    assert!(
        event.contains("\"to\":\"restricted\"") && event.contains("preferences-page"),
        "{event}"
    );
}

#[test]
fn a_restriction_is_lifted_only_with_a_reason_and_the_person_is_told_by_mail() {
    let (host, guard, _server, link) = ada_with_link();
    guard
        .restrict(
            &contact("1"),
            &operator(),
            "Ada disputes the accuracy of her data",
        )
        .expect("call")
        .expect("restricted");
    assert!(matches!(
        guard
            .lift_restriction(&contact("1"), &operator(), "  ")
            .expect("call"),
        Err(RecordError::EvidenceRequired)
    ));
    let mails_before = host.mails().len();
    guard
        .lift_restriction(
            &contact("1"),
            &operator(),
            "The data were checked and are correct",
        )
        .expect("call")
        .expect("lifted");
    assert!(
        !guard
            .record("contacts", "1")
            .expect("read")
            .expect("record")
            .locked
    );
    let mails = host.mails();
    assert_eq!(mails.len(), mails_before + 1, "one notice");
    let notice = mails
        .iter()
        .find(|mail| mail.message_id.starts_with("restriction-lifted."))
        .expect("the notice");
    assert_eq!(notice.from, "privacy@example.org");
    assert_eq!(notice.to, ["ada@example.com"]);
    assert!(
        notice
            .text
            .contains("The data were checked and are correct")
    );
    // Consents decide again: pending until she answers, allowed once she grants.
    assert_eq!(
        refusal(&send(&guard, MessageClass::Marketing, "ada@example.com")),
        Some(RefusalReason::ConsentPending)
    );
    let saved = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(
        refusal(&send(&guard, MessageClass::Marketing, "ada@example.com")),
        None
    );
}

#[test]
fn an_erasure_empties_personal_fields_keeps_retained_ones_and_a_reimport_stays_erased() {
    let (_host, guard, _server, _link) = ada_with_link();
    let report = guard
        .erase(&contact("1"), &operator(), "Letter of 1 December 2026")
        .expect("call")
        .expect("erased");
    assert_eq!(report.erased_fields, ["email"]);
    let record = guard
        .record("contacts", "1")
        .expect("read")
        .expect("record");
    assert_eq!(record.field("email"), "");
    assert_eq!(
        record.field("name"),
        "Ada Lovelace",
        "retained for invoices"
    );
    assert!(record.locked);
    let history = guard.history(&contact("1")).expect("history").join("\n");
    assert!(!history.contains("ada@example.com") && !history.contains("Lovelace"));
    assert!(history.contains("\"to\":\"erased\""), "{history}");
    assert!(history.contains("\"to\":\"not-granted\""), "{history}");
    // The same address comes back with another case in a new record.
    import(
        &guard,
        "name,email,street\nAda L.,  ADA@Example.com ,2 Side St\n",
    );
    assert_eq!(
        refusal(&send(&guard, MessageClass::Marketing, "ada@example.com")),
        Some(RefusalReason::Erased)
    );
    assert!(matches!(
        guard.verify_ledger().expect("check"),
        LedgerCheck::Intact { .. }
    ));
}
