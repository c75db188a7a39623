//! The first consent journey, end to end through the real component in the real host on
//! a real SQLite file: import → Applicable → the daily run mails one double opt-in request
//! per contact → the signed link opens the page → confirming grants → the pre-send check
//! allows marketing mail to that contact only, and refuses everyone else with a reason.

use std::sync::Arc;

use privacy_guard_host::contract::preferences::LinkError;
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MessageClass, Obligations, Recipient, RecipientRole, RefusalReason,
    SendRequest,
};
use privacy_guard_host::contract::types::{ConsentValue, RecordRef};
use privacy_guard_host::import::read_records;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::{
    TestHost, WebServer, configure, email_marketing_consent, http_get, http_post_form,
};

const CONTACTS: &str = "firstname,lastname,email,country\nAda,Lovelace,ada@example.com,GB\nGrace,Hopper, Grace.Hopper@Example.com ,US\nLinus,Torvalds,linus@example.com,FI\n";

fn person(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

fn consent_value(guard: &privacy_guard_host::guard::Guard, id: &str) -> ConsentValue {
    let subject = guard
        .subject(&person(id))
        .expect("subject read")
        .unwrap_or_else(|| panic!("contacts/{id} is unknown to the plugin"));
    subject
        .consents
        .iter()
        .find(|consent| consent.consent_id == "email-marketing")
        .map(|consent| consent.value)
        .unwrap_or_else(|| panic!("contacts/{id} has no email-marketing consent"))
}

fn recipient(address: &str, role: RecipientRole) -> Recipient {
    Recipient {
        address: address.into(),
        role,
        person: None,
    }
}

fn refusal_reason(decision: &Decision) -> Option<RefusalReason> {
    match decision {
        Decision::Refuse(refusal) => Some(refusal.reason),
        Decision::Allow(_) => None,
    }
}

#[test]
fn a_contact_confirms_by_double_opt_in_and_only_then_receives_marketing_mail() {
    let host = TestHost::new("2026-12-01T09:30:00Z");
    let guard = Arc::new(host.open().expect("host opens"));
    let server = WebServer::start(guard.clone()).expect("web server starts");

    // Configure: sender, one data consent on the email field for every contact, enable.
    configure(&guard, &server.preferences_url());

    // Import: every contact's consent becomes Applicable, and nobody is mailed yet.
    let report = guard
        .import_records(
            "contacts",
            read_records(CONTACTS.as_bytes()).expect("valid CSV"),
            &|_| {},
        )
        .expect("import");
    assert_eq!((report.created, report.updated), (3, 0));
    for id in ["1", "2", "3"] {
        assert_eq!(
            consent_value(&guard, id),
            ConsentValue::Applicable,
            "contacts/{id} after import"
        );
    }
    assert!(host.mails().is_empty(), "no mail before the daily run");
    let marketing = SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    let before = guard.check_send(
        &marketing,
        &[recipient("ada@example.com", RecipientRole::To)],
    );
    assert_eq!(
        refusal_reason(&before[0]),
        Some(RefusalReason::ConsentNotRequested)
    );

    // 09:30 UTC: today's 10:00 run is not due, yesterday's is (a fresh host catches up once).
    // Move to 10:00 so the run is today's.
    host.set_now("2026-12-01T10:00:00Z");
    let run = guard
        .run_due()
        .expect("daily run")
        .expect("the run was due");
    assert_eq!((run.period.as_str(), run.requests), ("2026-12-01", 3));

    // One request per contact, from the configured sender, with a signed link.
    let mails = host.mails();
    assert_eq!(mails.len(), 3, "one request per contact");
    for mail in &mails {
        assert_eq!(mail.from, "privacy@example.org");
        assert!(
            mail.raw.contains("Example Privacy Team"),
            "sender name in {}",
            mail.raw
        );
        assert_eq!(mail.to.len(), 1);
        assert!(
            mail.text.contains(&email_marketing_consent().purpose),
            "the exact purpose text is in the request: {}",
            mail.text
        );
        assert!(
            mail.text.contains("1 Example Street"),
            "the postal address is in the footer"
        );
        assert!(
            mail.link(&server.preferences_url()).is_some(),
            "a preferences link in {}",
            mail.text
        );
        assert!(!mail.message_id.is_empty());
    }
    let grace = mails
        .iter()
        .find(|mail| mail.to[0].eq_ignore_ascii_case("grace.hopper@example.com"))
        .expect("Grace's address is normalised and mailed");
    assert!(grace.link(&server.preferences_url()).is_some());
    for id in ["1", "2", "3"] {
        assert_eq!(
            consent_value(&guard, id),
            ConsentValue::Waiting,
            "contacts/{id} after the request"
        );
    }

    // The same day again, and the same period explicitly: nothing is sent twice.
    assert!(guard.run_due().expect("daily run").is_none());
    let again = guard
        .run_daily("2026-12-01", &|_| {})
        .expect("explicit re-run");
    assert!(!again.ran && again.requests == 0);
    assert_eq!(host.mails().len(), 3);

    // Ada opens her link: the page shows the purpose; she confirms.
    let ada_mail = mails
        .iter()
        .find(|mail| mail.to[0] == "ada@example.com")
        .expect("Ada's request");
    let link = ada_mail
        .link(&server.preferences_url())
        .expect("Ada's link");
    let page = http_get(&link).expect("GET the page");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("News and offers by email"));
    assert!(
        page.body.contains("at most twice a month"),
        "the purpose text is shown"
    );
    assert!(
        page.body.contains("data-value=\"waiting\""),
        "the current value is shown"
    );
    assert!(
        page.headers
            .to_ascii_lowercase()
            .contains("cache-control: no-store")
    );
    let saved = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST the choice");
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.body.contains("Your choices were saved"));
    assert!(saved.body.contains("data-value=\"granted\""));
    assert_eq!(consent_value(&guard, "1"), ConsentValue::Granted);

    // The proof: the grant is an event from the preferences page, with evidence.
    let history = guard.history(&person("1")).expect("history");
    let grant = history
        .iter()
        .find(|event| event.contains("\"granted\"") || event.contains("\"to\":\"granted\""))
        .unwrap_or_else(|| panic!("a grant event in {history:?}"));
    assert!(
        grant.contains("preferences-page"),
        "source recorded: {grant}"
    );
    assert!(
        grant.contains("127.0.0.0") || grant.contains("127.0.0"),
        "truncated IP recorded: {grant}"
    );
    assert!(
        !grant.contains("127.0.0.1"),
        "the full IP is not kept: {grant}"
    );

    // The pre-send check: Ada is allowed as To (on her consent, with the footer), everyone
    // else is refused with a reason.
    let recipients = [
        recipient("ada@example.com", RecipientRole::To),
        recipient(" ADA@example.com", RecipientRole::Cc),
        recipient("grace.hopper@example.com", RecipientRole::To),
        recipient("stranger@example.net", RecipientRole::To),
        recipient("not an address", RecipientRole::To),
    ];
    let decisions = guard.check_send(&marketing, &recipients);
    assert_eq!(decisions.len(), recipients.len());
    match &decisions[0] {
        Decision::Allow(allowance) => {
            assert_eq!(allowance.basis, LawfulBasis::Consent);
            assert!(
                allowance
                    .obligations
                    .contains(Obligations::PREFERENCES_FOOTER),
                "To gets the footer"
            );
        }
        other => panic!("Ada must be allowed, got {other:?}"),
    }
    // Marketing goes to each person as To, with an opt-out of their own: Ada in CC is
    // refused (the CRM sends her a copy of her own).
    assert_eq!(
        refusal_reason(&decisions[1]),
        Some(RefusalReason::NotAToRecipient)
    );
    assert_eq!(
        refusal_reason(&decisions[2]),
        Some(RefusalReason::ConsentPending)
    );
    assert_eq!(
        refusal_reason(&decisions[3]),
        Some(RefusalReason::UnknownRecipient)
    );
    assert_eq!(
        refusal_reason(&decisions[4]),
        Some(RefusalReason::InvalidAddress)
    );

    // A tampered link is refused; so is a genuine one past its expiry.
    let mut tampered = link.clone();
    let last = tampered.pop().expect("non-empty link");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(http_get(&tampered).expect("GET tampered").status, 404);
    assert_eq!(
        guard.open_preferences("not-a-token").expect("call"),
        Err(LinkError::Invalid)
    );
    let token = link
        .trim_start_matches(&server.preferences_url())
        .to_owned();
    host.set_now("2027-01-01T10:00:00Z");
    assert_eq!(http_get(&link).expect("GET expired").status, 410);
    assert_eq!(
        guard.open_preferences(&token).expect("call"),
        Err(LinkError::Expired)
    );
    let refused = http_post_form(&link, &[("email-marketing", "refuse")]).expect("POST expired");
    assert_eq!(refused.status, 410);
    assert_eq!(
        consent_value(&guard, "1"),
        ConsentValue::Granted,
        "an expired link changes nothing"
    );

    // The proof is intact.
    assert!(
        matches!(guard.verify_ledger().expect("ledger"), LedgerCheck::Intact { events } if events >= 7)
    );
}

#[test]
fn a_restart_neither_repeats_nor_skips_the_daily_run() {
    let host = TestHost::new("2026-12-01T09:55:00Z");
    {
        let guard = host.open().expect("host opens");
        configure(&guard, "http://127.0.0.1:9/preferences/");
        guard
            .import_records(
                "contacts",
                read_records("email\nada@example.com\n".as_bytes()).expect("csv"),
                &|_| {},
            )
            .expect("import");
        assert!(
            guard.run_due().expect("run").is_none(),
            "the first run is the first 10:00 after enabling"
        );
        host.set_now("2026-12-01T10:05:00Z");
        assert_eq!(
            guard.run_due().expect("run").map(|run| run.requests),
            Some(1)
        );
    }
    // Restarted the same day: the run is recorded, nothing is repeated.
    let guard = host.open().expect("host re-opens");
    assert!(
        guard.run_due().expect("run").is_none(),
        "no second run on the same day"
    );

    // A contact imported later that day waits for the next day's run.
    guard
        .import_records(
            "contacts",
            read_records("email\ngrace@example.com\n".as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");
    assert!(guard.run_due().expect("run").is_none());
    assert_eq!(host.mails().len(), 1);

    // Down over two due times (2 and 3 December), back on the 3rd after 10:00: caught up once.
    drop(guard);
    host.set_now("2026-12-03T11:00:00Z");
    let guard = host.open().expect("host re-opens after downtime");
    let run = guard
        .run_due()
        .expect("run")
        .expect("the missed run is caught up");
    assert_eq!((run.period.as_str(), run.requests), ("2026-12-03", 1));
    assert!(
        guard.run_due().expect("run").is_none(),
        "caught up once, not once per missed day"
    );
    let mails = host.mails();
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().any(|mail| mail.to == ["grace@example.com"]));
}

#[test]
fn a_link_mailed_before_a_key_rotation_still_opens_after_a_restart() {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let preferences_url = "http://127.0.0.1:9/preferences/";
    let old_token = {
        let guard = host.open().expect("host opens");
        configure(&guard, preferences_url);
        guard
            .import_records(
                "contacts",
                read_records("email\nada@example.com\n".as_bytes()).expect("csv"),
                &|_| {},
            )
            .expect("import");
        guard.run_daily("2026-12-01", &|_| {}).expect("run");
        guard.rotate_link_key().expect("rotate");
        host.mails()[0]
            .link(preferences_url)
            .expect("link")
            .trim_start_matches(preferences_url)
            .to_owned()
    };

    // After a restart the host signs with the new key and still accepts the old one.
    let guard = host.open().expect("host re-opens");
    assert!(
        guard.open_preferences(&old_token).expect("call").is_ok(),
        "a link signed before the rotation opens"
    );
    guard
        .import_records(
            "contacts",
            read_records("email\ngrace@example.com\n".as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");
    host.set_now("2026-12-02T10:00:00Z");
    guard.run_daily("2026-12-02", &|_| {}).expect("run");
    let new_token = host
        .mails()
        .iter()
        .find(|mail| mail.to == ["grace@example.com"])
        .and_then(|mail| mail.link(preferences_url))
        .expect("Grace's link")
        .trim_start_matches(preferences_url)
        .to_owned();
    assert!(guard.open_preferences(&new_token).expect("call").is_ok());
}
