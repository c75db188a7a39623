//! Two hosts on one database (as two processes would be): neither ever writes on stale
//! state, and a read-only host sees the other's changes within its refresh interval.

use std::time::Duration;

use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::contract::types::{ConsentValue, RecordRef};
use privacy_guard_host::import::read_records;
use privacy_guard_tests::{TestHost, configure, operator};

fn ada() -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: "1".into(),
    }
}

fn marketing_to_ada(guard: &privacy_guard_host::guard::Guard) -> Decision {
    let request = SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    guard
        .check_send(
            &request,
            &[Recipient {
                address: "ada@example.com".into(),
                role: RecipientRole::To,
                person: None,
            }],
        )
        .remove(0)
}

#[test]
fn a_host_never_changes_consent_on_state_another_host_has_changed_since() {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let first = host.open().expect("first host opens");
    let second = host.open().expect("second host opens on the same database");
    configure(&first, "http://127.0.0.1:9/preferences/");
    first
        .import_records(
            "contacts",
            read_records("email\nada@example.com\n".as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");

    // The second host reads Ada's state into its cache: not requested yet.
    assert!(
        matches!(marketing_to_ada(&second), Decision::Refuse(refusal) if refusal.reason == RefusalReason::ConsentNotRequested)
    );

    // The first host records her grant; the second, still holding the old state, records a
    // refusal. Its unit of work must start from the grant, not from its stale cache.
    first
        .record_decision(
            &ada(),
            "email-marketing",
            true,
            &operator(),
            "signed form, 1 December",
        )
        .expect("call")
        .expect("granted");
    second
        .record_decision(
            &ada(),
            "email-marketing",
            false,
            &operator(),
            "phone call, 1 December",
        )
        .expect("call")
        .expect("refused");

    let history = first.history(&ada()).expect("history");
    let last = history.last().expect("events");
    assert!(
        last.contains("\"from\":\"granted\"") && last.contains("\"to\":\"not-granted\""),
        "the refusal follows the grant: {last}"
    );
    let state = first.subject(&ada()).expect("read").expect("known");
    assert_eq!(state.consents[0].value, ConsentValue::NotGranted);

    // A read-only host catches up within its refresh interval (one second).
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        matches!(marketing_to_ada(&first), Decision::Refuse(refusal) if refusal.reason == RefusalReason::ConsentRefused)
    );
    assert!(
        matches!(marketing_to_ada(&second), Decision::Refuse(refusal) if refusal.reason == RefusalReason::ConsentRefused)
    );
    assert!(matches!(
        first.verify_ledger().expect("ledger"),
        privacy_guard_host::storage::LedgerCheck::Intact { .. }
    ));
}

#[test]
fn a_link_signed_with_a_key_another_host_rotated_in_opens_without_a_restart() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let preferences_url = "http://127.0.0.1:9/preferences/";
    let here = host.open().expect("first host");
    let there = host.open().expect("second host");
    configure(&here, preferences_url);
    here.import_records(
        "contacts",
        read_records("email\nada@example.com\n".as_bytes()).expect("csv"),
        &|_| {},
    )
    .expect("import");
    // The second host rotates the key and mails with the new key at once.
    there.rotate_link_key().expect("rotate");
    host.set_now("2026-12-01T10:00:00Z");
    there.run_due().expect("run").expect("due");
    let token = host.mails()[0]
        .link(preferences_url)
        .expect("link")
        .trim_start_matches(preferences_url)
        .to_owned();
    // The first host has never read the new key: a link that does not verify makes it
    // read the keys again (at most once a second, so a forged link costs little).
    std::thread::sleep(privacy_guard_host::keys::VERIFY_REFRESH + Duration::from_millis(100));
    assert!(
        here.open_preferences(&token).expect("call").is_ok(),
        "the link signed with the new key opens on the other host"
    );
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert!(here.open_preferences(&forged).expect("call").is_err());
}
