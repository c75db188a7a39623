//! De-duplication of contacts and leads through the real component in the real host on a
//! real SQLite file: records sharing an email address (trimmed, ignoring case) are grouped,
//! the last modified one is kept, the others are flagged `Duplicate` and locked, and only
//! the kept record is asked for consent.

use privacy_guard_host::contract::configuration::ConsentDefinition;
use privacy_guard_host::contract::deduplication::Plan;
use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::contract::types::{ConsentValue, RecordRef};
use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::read_records;
use privacy_guard_host::storage::RecordRow;
use privacy_guard_tests::{TestHost, configure, email_marketing_consent, set_crm_status, settings};

const PREFERENCES_URL: &str = "http://127.0.0.1:9/preferences/";

fn contact(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

fn lead(id: &str) -> RecordRef {
    RecordRef {
        module: "leads".into(),
        id: id.into(),
    }
}

fn lead_marketing_consent() -> ConsentDefinition {
    ConsentDefinition {
        id: "lead-marketing".into(),
        module: "leads".into(),
        ..email_marketing_consent()
    }
}

/// A host with the sender set and a consent on contacts and on leads (not enabled).
fn configured_host(flag_new_duplicates: bool) -> (TestHost, Guard) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    let mut settings = settings(PREFERENCES_URL);
    settings.flag_new_duplicates = flag_new_duplicates;
    guard
        .set_settings(&settings)
        .expect("call")
        .expect("settings accepted");
    for consent in [email_marketing_consent(), lead_marketing_consent()] {
        guard
            .put_consent(&consent, None)
            .expect("call")
            .expect("consent accepted");
    }
    (host, guard)
}

fn import(guard: &Guard, module: &str, csv: &str) {
    guard
        .import_records(
            module,
            read_records(csv.as_bytes()).expect("valid CSV"),
            &|_| {},
        )
        .expect("import");
}

/// Imports, at different times, records sharing two addresses:
/// - ada@example.com: contacts/1 (09:00, status Customer), leads/1 (09:10),
///   contacts/4 (09:20, the last modified: primary)
/// - grace@example.com: contacts/2 (09:00), leads/3 (09:10, primary)
/// - linus@example.com (contacts/3) alone, and leads/2 without an email.
fn import_people(host: &TestHost, guard: &Guard) {
    host.set_now("2026-12-01T09:00:00Z");
    import(
        guard,
        "contacts",
        "name,email\nAda Old,ada@example.com\nGrace,grace@example.com\nLinus,linus@example.com\n",
    );
    set_crm_status(guard, "contacts", "1", "Customer").expect("status set");
    host.set_now("2026-12-01T09:10:00Z");
    import(
        guard,
        "leads",
        "name,email\nAda Lead, ADA@Example.com \nNobody,\nGrace Lead,Grace@example.com\n",
    );
    host.set_now("2026-12-01T09:20:00Z");
    import(guard, "contacts", "name,email\nAda New,ada@EXAMPLE.com\n");
}

fn record(guard: &Guard, reference: &RecordRef) -> RecordRow {
    guard
        .record(&reference.module, &reference.id)
        .expect("record read")
        .unwrap_or_else(|| panic!("{reference:?} exists"))
}

/// (status, locked) of every record, in a stable order.
fn crm_states(guard: &Guard) -> Vec<(String, String, bool)> {
    let records = [
        contact("1"),
        contact("2"),
        contact("3"),
        contact("4"),
        lead("1"),
        lead("2"),
        lead("3"),
    ];
    records
        .iter()
        .map(|reference| {
            let row = record(guard, reference);
            (format!("{}/{}", row.module, row.id), row.status, row.locked)
        })
        .collect()
}

fn groups(plan: &Plan) -> Vec<(String, RecordRef, Vec<RecordRef>)> {
    plan.groups
        .iter()
        .map(|group| {
            (
                group.address.clone(),
                group.primary.clone(),
                group.duplicates.clone(),
            )
        })
        .collect()
}

fn consent_value(guard: &Guard, person: &RecordRef, consent: &str) -> ConsentValue {
    guard
        .subject(person)
        .expect("subject read")
        .unwrap_or_else(|| panic!("{person:?} is unknown to the plugin"))
        .consents
        .iter()
        .find(|state| state.consent_id == consent)
        .map(|state| state.value)
        .unwrap_or_else(|| panic!("{person:?} has no {consent} consent"))
}

fn status_events(guard: &Guard, person: &RecordRef) -> Vec<String> {
    guard
        .history(person)
        .expect("history")
        .into_iter()
        .filter(|event| event.contains("\"status-changed\""))
        .collect()
}

#[test]
fn previewing_lists_each_shared_address_with_its_last_modified_record_and_changes_nothing() {
    let (host, guard) = configured_host(false);
    import_people(&host, &guard);
    let before = crm_states(&guard);

    let plan = guard.deduplication_preview().expect("preview");

    assert_eq!(
        groups(&plan),
        vec![
            (
                "ada@example.com".to_owned(),
                contact("4"),
                vec![contact("1"), lead("1")]
            ),
            (
                "grace@example.com".to_owned(),
                lead("3"),
                vec![contact("2")]
            ),
        ]
    );
    assert_eq!((plan.records, plan.duplicates), (7, 3));
    assert_eq!(crm_states(&guard), before, "a preview changes no record");
    assert!(status_events(&guard, &contact("1")).is_empty());
}

#[test]
fn applying_flags_and_locks_the_duplicates_keeps_the_last_modified_and_applying_again_changes_nothing()
 {
    let (host, guard) = configured_host(false);
    import_people(&host, &guard);
    host.set_now("2026-12-01T09:30:00Z");

    let report = guard.deduplicate().expect("apply");
    assert_eq!(
        (report.groups, report.newly_flagged, report.already_flagged),
        (2, 3, 0)
    );
    // contacts/1 owned ada@ (first seen) and contacts/2 owned grace@: both move.
    assert_eq!(report.owners_changed, 2);
    let flagged = crm_states(&guard);
    let expected = [
        ("contacts/1", "Duplicate", true),
        ("contacts/2", "Duplicate", true),
        ("contacts/3", "Active", false),
        ("contacts/4", "Active", false),
        ("leads/1", "Duplicate", true),
        ("leads/2", "Active", false),
        ("leads/3", "Active", false),
    ];
    let found: Vec<(&str, &str, bool)> = flagged
        .iter()
        .map(|(record, status, locked)| (record.as_str(), status.as_str(), *locked))
        .collect();
    assert_eq!(found, expected, "the Customer status is overwritten");
    let events = status_events(&guard, &contact("1"));
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("\"source\":\"deduplication\"")
            && events[0].contains("\"primary\":\"contacts/4\"")
            && events[0].contains("\"to\":\"duplicate\""),
        "{}",
        events[0]
    );
    assert!(status_events(&guard, &contact("4")).is_empty());

    // The address is decided by the primary: contacts/4's consent, not the duplicate's status.
    let marketing = SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    let decisions = guard.check_send(
        &marketing,
        &[Recipient {
            address: " Ada@Example.com".into(),
            role: RecipientRole::To,
            person: None,
        }],
    );
    assert!(
        matches!(&decisions[0], Decision::Refuse(refusal) if refusal.reason == RefusalReason::ConsentsNotEnabled),
        "{decisions:?}"
    );
    let ad_hoc = SendRequest {
        class: MessageClass::AdHoc,
        purpose: None,
    };
    let decisions = guard.check_send(
        &ad_hoc,
        &[Recipient {
            address: "ada@example.com".into(),
            role: RecipientRole::To,
            person: None,
        }],
    );
    assert!(
        matches!(&decisions[0], Decision::Allow(_)),
        "the primary is active: {decisions:?}"
    );

    // Again, later: the flagged duplicates were modified last, yet nothing changes.
    host.set_now("2026-12-01T09:40:00Z");
    let again = guard.deduplicate().expect("apply again");
    assert_eq!(
        (
            again.groups,
            again.newly_flagged,
            again.already_flagged,
            again.owners_changed
        ),
        (2, 0, 3, 0)
    );
    assert_eq!(crm_states(&guard), flagged);
    assert_eq!(status_events(&guard, &contact("1")).len(), 1);
    let plan = guard.deduplication_preview().expect("preview");
    assert_eq!(plan.groups[0].primary, contact("4"));
}

#[test]
fn the_daily_run_sends_one_request_per_address_and_none_to_duplicates() {
    let (host, guard) = configured_host(false);
    import_people(&host, &guard);
    guard.enable(true).expect("call").expect("consents enabled");

    host.set_now("2026-12-01T10:00:00Z");
    let run = guard.run_daily("2026-12-01", &|_| {}).expect("daily run");

    // ada@ (contacts/4), grace@ (leads/3), linus@ (contacts/3); leads/2 has no address.
    assert_eq!(run.requests, 3);
    let mails = host.mails();
    let mut recipients: Vec<String> = mails.iter().flat_map(|mail| mail.to.clone()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["ada@example.com", "grace@example.com", "linus@example.com"]
    );
    let ada = mails
        .iter()
        .find(|mail| mail.to == ["ada@example.com"])
        .expect("a mail to ada@");
    assert!(ada.text.contains("Ada New"), "addressed as the primary");
    assert_eq!(
        consent_value(&guard, &contact("4"), "email-marketing"),
        ConsentValue::Waiting
    );
    assert_eq!(
        consent_value(&guard, &lead("3"), "lead-marketing"),
        ConsentValue::Waiting
    );
    for (duplicate, consent) in [
        (contact("1"), "email-marketing"),
        (contact("2"), "email-marketing"),
        (lead("1"), "lead-marketing"),
    ] {
        assert_eq!(
            consent_value(&guard, &duplicate, consent),
            ConsentValue::Applicable,
            "{duplicate:?} was not asked"
        );
    }
}

#[test]
fn enabling_with_the_confirmation_flags_duplicates_and_a_refused_attempt_flags_nothing() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    import_people(&host, &guard);

    // No sender and no consent: refused, and nothing is flagged.
    let refused = guard.enable(true).expect("call");
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(record(&guard, &contact("1")).status, "Customer");

    configure(&guard, PREFERENCES_URL);

    for duplicate in [contact("1"), contact("2"), lead("1")] {
        let row = record(&guard, &duplicate);
        assert_eq!(
            (row.status.as_str(), row.locked),
            ("Duplicate", true),
            "{duplicate:?}"
        );
    }
    for primary in [contact("4"), lead("3")] {
        let row = record(&guard, &primary);
        assert_eq!(
            (row.status.as_str(), row.locked),
            ("Active", false),
            "{primary:?}"
        );
    }
    let report = guard.deduplicate().expect("apply");
    assert_eq!((report.newly_flagged, report.already_flagged), (0, 3));
}

#[test]
fn with_flag_new_duplicates_a_new_record_sharing_an_owned_address_is_flagged() {
    for flag in [true, false] {
        let (host, guard) = configured_host(flag);
        import(&guard, "contacts", "name,email\nAda,ada@example.com\n");
        host.set_now("2026-12-01T09:10:00Z");
        import(
            &guard,
            "contacts",
            "name,email\nAda Again, Ada@Example.com\n",
        );

        let row = record(&guard, &contact("2"));
        let events = status_events(&guard, &contact("2"));
        if flag {
            assert_eq!((row.status.as_str(), row.locked), ("Duplicate", true));
            assert_eq!(events.len(), 1, "{events:?}");
            assert!(
                events[0].contains("\"source\":\"record-change\"")
                    && events[0].contains("\"primary\":\"contacts/1\""),
                "{}",
                events[0]
            );
        } else {
            assert_eq!((row.status.as_str(), row.locked), ("Active", false));
            assert!(events.is_empty(), "{events:?}");
        }
        let first = record(&guard, &contact("1"));
        assert_eq!((first.status.as_str(), first.locked), ("Active", false));
    }
}
