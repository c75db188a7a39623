//! Every numbered behaviour of issue 3 (Vtiger's Privacy Guard, in the component), walked
//! through the real component in the real host on a real SQLite file. One table: each case
//! names the behaviour it proves; mails are read back from the outbox they were delivered
//! to, and the preferences page is driven over real TCP.

use std::panic::{AssertUnwindSafe, catch_unwind};

use privacy_guard_host::contract::configuration::{
    ConditionClause, ConditionOp, ConfirmationPolicy, ConsentDefault, ConsentDefinition,
    ConsentKind, FieldClass, IpPolicy, Prerequisite, PurposeChange, Settings,
};
use privacy_guard_host::contract::preferences::{Choice, Evidence, LinkError};
use privacy_guard_host::contract::records::EditRefusalReason;
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MailContent, MessageClass, Recipient, RecipientRole, RefusalReason,
    Rendering, SendRequest,
};
use privacy_guard_host::contract::subjects::{PersonStatus, RecordError, StaffActor, StaffChannel};
use privacy_guard_host::contract::tracking::TrackingKind;
use privacy_guard_host::contract::types::{ConsentValue, Field, RecordRef};
use privacy_guard_host::guard::{EditRejection, Guard};
use privacy_guard_host::import::read_records;
use privacy_guard_tests::scenario::LogCapture;
use privacy_guard_tests::{
    Mail, TestHost, contains_bytes, email_marketing_consent, http_get, http_post_form, operator,
    served_host, settings, tracking_consent,
};

/// The preferences URL of hosts whose page is not served in the case.
const PAGE: &str = "https://crm.example.org/preferences/";

type Behaviour = fn();

/// The behaviours of issue 3, by number and name.
const BEHAVIOURS: [(&str, Behaviour); 15] = [
    (
        "1. personal data classification",
        personal_data_classification,
    ),
    ("2. three kinds of consent and their limits", three_kinds),
    (
        "3. the five consent values and their editability",
        five_values,
    ),
    ("4. prerequisites before enabling", prerequisites),
    ("5. de-duplication of contacts and leads", deduplication),
    ("6. the daily consent run", daily_run),
    ("7. the preferences page", preferences_page),
    ("8. consent notification settings", notification_settings),
    ("9. before an email is sent", before_sending),
    ("10. message classes and legal grounds", message_classes),
    ("11. stop processing", stop_processing),
    ("12. erasure", erasure),
    ("13. encrypted fields", encrypted_fields),
    ("14. deleting a consent", deleting_a_consent),
    ("15. proof of every change", proof),
];

#[test]
fn every_behaviour_of_vtigers_privacy_guard_holds_in_the_component() {
    // Every log line of the suite, host and plugin, at every level.
    LogCapture::process();
    let outcomes: Vec<(&str, Result<(), String>)> = std::thread::scope(|scope| {
        let running: Vec<_> = BEHAVIOURS
            .iter()
            .map(|(name, behaviour)| {
                let handle = scope.spawn(move || {
                    catch_unwind(AssertUnwindSafe(behaviour)).map_err(|panic| {
                        panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                            .unwrap_or_else(|| "panicked".to_owned())
                    })
                });
                (*name, handle)
            })
            .collect();
        running
            .into_iter()
            .map(|(name, handle)| (name, handle.join().unwrap_or(Err("lost".into()))))
            .collect()
    });
    let mut failed = Vec::new();
    for (name, outcome) in &outcomes {
        match outcome {
            Ok(()) => println!("behaviour {name}: ok"),
            Err(why) => {
                println!("behaviour {name}: FAILED: {why}");
                failed.push(*name);
            }
        }
    }
    assert!(failed.is_empty(), "behaviours that fail: {failed:?}");
}

// ---- helpers ---------------------------------------------------------------------------

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

fn host(now: &str) -> (TestHost, Guard) {
    let host = TestHost::new(now);
    let guard = host.open().expect("host");
    (host, guard)
}

fn import(guard: &Guard, module: &str, csv: &str) {
    guard
        .import_records(module, read_records(csv.as_bytes()).expect("CSV"), &|_| {})
        .expect("import");
}

fn save_settings(guard: &Guard, settings: &Settings) {
    guard
        .set_settings(settings)
        .expect("call")
        .expect("settings accepted");
}

fn put(guard: &Guard, definition: &ConsentDefinition) {
    guard
        .put_consent(definition, None)
        .expect("call")
        .unwrap_or_else(|problems| panic!("{} refused: {problems:?}", definition.id));
}

fn enable(guard: &Guard) {
    guard.enable(true).expect("call").expect("enabled");
}

/// A consent definition for `module` covering `kind`, applying to everyone.
fn consent(id: &str, kind: ConsentKind, default_value: ConsentDefault) -> ConsentDefinition {
    ConsentDefinition {
        id: id.into(),
        module: "contacts".into(),
        kind,
        title: format!("Title of {id}"),
        purpose: format!("Purpose of {id}: what we do with your data."),
        default_value,
        applies_when: Vec::new(),
        translations: Vec::new(),
        max_age_months: 0,
    }
}

fn value(guard: &Guard, person: &RecordRef, consent: &str) -> Option<ConsentValue> {
    guard
        .subject(person)
        .expect("call")
        .and_then(|view| {
            view.consents
                .into_iter()
                .find(|state| state.consent_id == consent)
        })
        .map(|state| state.value)
}

fn status(guard: &Guard, person: &RecordRef) -> PersonStatus {
    guard
        .subject(person)
        .expect("call")
        .expect("a known person")
        .status
}

fn field(guard: &Guard, person: &RecordRef, name: &str) -> String {
    guard
        .record(&person.module, &person.id)
        .expect("read")
        .expect("record")
        .field(name)
        .to_owned()
}

fn edit(guard: &Guard, person: &RecordRef, name: &str, value: &str) -> Result<(), Vec<String>> {
    match guard
        .edit_record(person, &[(name.to_owned(), value.to_owned())])
        .expect("call")
    {
        Ok(_) => Ok(()),
        Err(EditRejection::Refused(refusals)) => {
            Err(refusals.into_iter().map(|refusal| refusal.detail).collect())
        }
        Err(EditRejection::NotFound) => panic!("no record {}/{}", person.module, person.id),
    }
}

fn recipient(address: &str, role: RecipientRole) -> Recipient {
    Recipient {
        address: address.into(),
        role,
        person: None,
    }
}

fn decide(guard: &Guard, class: MessageClass, purpose: Option<&str>, address: &str) -> Decision {
    let request = SendRequest {
        class,
        purpose: purpose.map(str::to_owned),
    };
    guard
        .check_send(&request, &[recipient(address, RecipientRole::To)])
        .remove(0)
}

fn refusal(decision: &Decision) -> Option<RefusalReason> {
    match decision {
        Decision::Refuse(refusal) => Some(refusal.reason),
        Decision::Allow(_) => None,
    }
}

fn basis(decision: &Decision) -> Option<LawfulBasis> {
    match decision {
        Decision::Allow(allowance) => Some(allowance.basis),
        Decision::Refuse(_) => None,
    }
}

fn history(guard: &Guard, person: &RecordRef) -> Vec<serde_json::Value> {
    guard
        .history(person)
        .expect("history")
        .iter()
        .map(|event| serde_json::from_str(event).expect("event JSON"))
        .collect()
}

/// The signed token of the last request mail to `address`.
fn token_for(host: &TestHost, address: &str) -> String {
    let mail = host
        .mails()
        .into_iter()
        .rev()
        .find(|mail| mail.to == [address] && mail.message_id.starts_with("consent-request."))
        .unwrap_or_else(|| panic!("no request mail to {address}"));
    let link = mail.link("http").expect("a link in the request");
    link.rsplit('/').next().expect("a token").to_owned()
}

fn mails_to(host: &TestHost, address: &str, kind: &str) -> Vec<Mail> {
    host.mails()
        .into_iter()
        .filter(|mail| mail.to == [address] && mail.message_id.starts_with(kind))
        .collect()
}

fn evidence(ip: &str) -> Evidence {
    Evidence {
        ip: Some(ip.into()),
        user_agent: Some("Mozilla/5.0 (behaviours)".into()),
    }
}

fn choose(guard: &Guard, token: &str, consent: &str, grant: bool, ip: &str) {
    guard
        .submit_preferences(
            token,
            &[Choice {
                consent_id: consent.into(),
                grant,
            }],
            &evidence(ip),
        )
        .expect("call")
        .unwrap_or_else(|error| panic!("choice refused: {error:?}"));
}

// ---- the behaviours --------------------------------------------------------------------

fn personal_data_classification() {
    let (_host, guard) = host("2026-12-01T09:00:00Z");
    let class = |field: &str, essential: bool, sensitive: bool| FieldClass {
        field: field.into(),
        personal: true,
        essential,
        sensitive,
        encrypted: false,
    };
    for module in ["contacts", "leads"] {
        for field_class in [
            class("birthday", false, true),
            class("invoice_address", true, false),
            class("health_notes", true, true),
        ] {
            guard
                .classify_field(module, &field_class)
                .expect("call")
                .expect("classified");
        }
        let classes = guard.field_classes(module).expect("classes");
        assert_eq!(classes.len(), 3, "{module}");
        assert!(classes[1].essential && !classes[1].sensitive);
        // Sensitive, non-essential fields are offered as data consents by default.
        assert_eq!(
            guard.suggested_data_consents(module).expect("call"),
            ["birthday"]
        );
    }
    // A field that is not personal cannot be sensitive: the error names what is wrong.
    let problems = guard
        .classify_field(
            "contacts",
            &FieldClass {
                personal: false,
                ..class("industry", false, true)
            },
        )
        .expect("call")
        .expect_err("refused");
    assert_eq!(problems[0].at, "field[industry].sensitive");
    // Any field can be added as a data consent; a covered field is no longer suggested.
    save_settings(&guard, &settings(PAGE));
    put(
        &guard,
        &consent(
            "birthday",
            ConsentKind::Data("birthday".into()),
            ConsentDefault::No,
        ),
    );
    put(
        &guard,
        &consent(
            "city",
            ConsentKind::Data("city".into()),
            ConsentDefault::Yes,
        ),
    );
    assert!(
        guard
            .suggested_data_consents("contacts")
            .expect("call")
            .is_empty()
    );
}

fn three_kinds() {
    let (_host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    let eu = ConditionClause {
        field: "country".into(),
        op: ConditionOp::OneOf,
        values: vec!["DE".into(), "FR".into(), "IE".into()],
    };
    put(
        &guard,
        &ConsentDefinition {
            applies_when: vec![eu],
            ..consent(
                "phone",
                ConsentKind::Data("phone".into()),
                ConsentDefault::No,
            )
        },
    );
    put(
        &guard,
        &consent("partners", ConsentKind::Custom, ConsentDefault::Yes),
    );
    put(
        &guard,
        &tracking_consent("email-tracking", ConsentKind::EmailTracking),
    );
    put(
        &guard,
        &tracking_consent("document-tracking", ConsentKind::DocumentTracking),
    );
    // Ten data and ten custom consents per module; the eleventh is a clear error.
    for n in 2..=10 {
        put(
            &guard,
            &consent(
                &format!("data-{n}"),
                ConsentKind::Data(format!("field{n}")),
                ConsentDefault::No,
            ),
        );
        put(
            &guard,
            &consent(
                &format!("custom-{n}"),
                ConsentKind::Custom,
                ConsentDefault::No,
            ),
        );
    }
    for (id, kind) in [
        ("data-11", ConsentKind::Data("field11".into())),
        ("custom-11", ConsentKind::Custom),
    ] {
        let problems = guard
            .put_consent(&consent(id, kind, ConsentDefault::No), None)
            .expect("call")
            .expect_err("over the limit");
        assert!(problems[0].message.contains("limit"), "{id}: {problems:?}");
    }
    // Five encrypted fields per module; personal fields are unlimited.
    for n in 1..=6 {
        let outcome = guard
            .classify_field(
                "contacts",
                &FieldClass {
                    field: format!("secret{n}"),
                    personal: true,
                    essential: false,
                    sensitive: false,
                    encrypted: n <= 6,
                },
            )
            .expect("call");
        assert_eq!(outcome.is_ok(), n <= 5, "encrypted field {n}");
    }
    for n in 1..=30 {
        guard
            .classify_field(
                "contacts",
                &FieldClass {
                    field: format!("personal{n}"),
                    personal: true,
                    essential: false,
                    sensitive: false,
                    encrypted: false,
                },
            )
            .expect("call")
            .expect("personal fields are unlimited");
    }
    // The condition says to whom a consent applies.
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email,country\nAda,ada@example.com,GB\nBert,bert@example.de,DE\n",
    );
    assert_eq!(
        value(&guard, &contact("1"), "phone"),
        None,
        "not applicable in GB"
    );
    assert_eq!(
        value(&guard, &contact("2"), "phone"),
        Some(ConsentValue::Applicable)
    );
    assert_eq!(
        value(&guard, &contact("1"), "partners"),
        Some(ConsentValue::Applicable)
    );
}

fn five_values() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    let eu = ConditionClause {
        field: "country".into(),
        op: ConditionOp::OneOf,
        values: vec!["DE".into(), "FR".into()],
    };
    // `phone` asks under default no, `city` under default yes.
    put(
        &guard,
        &ConsentDefinition {
            applies_when: vec![eu.clone()],
            ..consent(
                "phone",
                ConsentKind::Data("phone".into()),
                ConsentDefault::No,
            )
        },
    );
    put(
        &guard,
        &ConsentDefinition {
            applies_when: vec![eu],
            ..consent(
                "city",
                ConsentKind::Data("city".into()),
                ConsentDefault::Yes,
            )
        },
    );
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email,country,phone,city\nBert,bert@example.de,DE,+49 30 1234,Berlin\nAda,ada@example.com,GB,+44 20 7946,London\n",
    );
    let bert = contact("1");
    let ada = contact("2");

    // Not Applicable: editable.
    assert_eq!(value(&guard, &ada, "phone"), None);
    assert_eq!(edit(&guard, &ada, "phone", "+44 20 0000"), Ok(()));

    // Applicable: not editable (not requested yet), value kept.
    assert_eq!(
        value(&guard, &bert, "phone"),
        Some(ConsentValue::Applicable)
    );
    let refused = edit(&guard, &bert, "phone", "+49 30 9999").expect_err("refused");
    assert!(
        refused[0].contains("`phone`") && refused[0].contains("not been requested"),
        "{refused:?}"
    );
    assert_eq!(
        field(&guard, &bert, "phone"),
        "+49 30 1234",
        "nothing saved"
    );
    let refusals = guard
        .check_edit(
            &bert,
            &[Field {
                name: "phone".into(),
                value: "1".into(),
            }],
        )
        .expect("call");
    assert_eq!(refusals[0].reason, EditRefusalReason::ConsentRefuses);
    assert_eq!(refusals[0].consent_id.as_deref(), Some("phone"));

    // Waiting: default no erases the value and locks the field; default yes keeps both.
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    assert_eq!(value(&guard, &bert, "phone"), Some(ConsentValue::Waiting));
    assert_eq!(field(&guard, &bert, "phone"), "", "erased while waiting");
    assert!(edit(&guard, &bert, "phone", "+49 30 9999").is_err());
    assert_eq!(value(&guard, &bert, "city"), Some(ConsentValue::Waiting));
    assert_eq!(field(&guard, &bert, "city"), "Berlin");
    assert_eq!(edit(&guard, &bert, "city", "Hamburg"), Ok(()));

    // Granted: editable.
    let token = token_for(&host, "bert@example.de");
    choose(&guard, &token, "phone", true, "198.51.100.7");
    assert_eq!(value(&guard, &bert, "phone"), Some(ConsentValue::Granted));
    assert_eq!(edit(&guard, &bert, "phone", "+49 30 5555"), Ok(()));

    // Not Granted: the value is erased and the field locked.
    choose(&guard, &token, "phone", false, "198.51.100.7");
    assert_eq!(
        value(&guard, &bert, "phone"),
        Some(ConsentValue::NotGranted)
    );
    assert_eq!(field(&guard, &bert, "phone"), "");
    assert!(edit(&guard, &bert, "phone", "+49 30 5555").is_err());
    // Emptying a field is always allowed; other fields stay editable.
    assert_eq!(edit(&guard, &bert, "phone", ""), Ok(()));

    // Applicability is re-evaluated when the record changes.
    assert_eq!(edit(&guard, &bert, "country", "GB"), Ok(()));
    assert_eq!(
        value(&guard, &bert, "phone"),
        Some(ConsentValue::NotApplicable)
    );
    assert_eq!(edit(&guard, &bert, "phone", "+44 1"), Ok(()));
}

fn prerequisites() {
    let (_host, guard) = host("2026-12-01T09:00:00Z");
    import(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nAda again,ADA@example.com\n",
    );
    let unmet = guard.enable(false).expect("call").expect_err("refused");
    assert_eq!(
        unmet,
        [
            Prerequisite::DeduplicationNotConfirmed,
            Prerequisite::SenderNotConfigured,
            Prerequisite::NoConsentDefined
        ]
    );
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    let unmet = guard.enable(false).expect("call").expect_err("refused");
    assert_eq!(unmet, [Prerequisite::DeduplicationNotConfirmed]);
    assert!(!guard.configuration().expect("call").enabled);
    assert_ne!(
        field_status(&guard, "1"),
        "Duplicate",
        "a refused enabling flags nothing"
    );
    assert_ne!(field_status(&guard, "2"), "Duplicate");
    // With the confirmation the same call de-duplicates, then enables.
    enable(&guard);
    assert!(guard.configuration().expect("call").enabled);
    // Both were modified at once: the smaller id stays primary.
    assert_eq!(field_status(&guard, "1"), "Active");
    assert_eq!(field_status(&guard, "2"), "Duplicate");
}

fn field_status(guard: &Guard, id: &str) -> String {
    guard
        .record("contacts", id)
        .expect("read")
        .expect("record")
        .status
}

fn deduplication() {
    let (host, guard) = host("2026-12-01T08:00:00Z");
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    put(
        &guard,
        &ConsentDefinition {
            id: "lead-email-marketing".into(),
            module: "leads".into(),
            ..email_marketing_consent()
        },
    );
    import(&guard, "leads", "name,email\nAda (lead),ada@example.com\n");
    host.set_now("2026-12-01T08:30:00Z");
    import(
        &guard,
        "contacts",
        "name,email,status\nAda,  Ada@Example.COM ,Customer\nGrace,grace@example.com,Customer\n",
    );
    let plan = guard.deduplication_preview().expect("preview");
    assert_eq!((plan.records, plan.duplicates), (3, 1));
    assert_eq!(plan.groups[0].address, "ada@example.com");
    assert_eq!(plan.groups[0].primary, contact("1"), "the last modified");
    assert_eq!(plan.groups[0].duplicates, [lead("1")]);
    let untouched = guard.record("leads", "1").expect("read").expect("lead");
    assert!(!untouched.locked && untouched.status != "Duplicate");

    let report = guard.deduplicate().expect("apply");
    assert_eq!((report.groups, report.newly_flagged), (1, 1));
    let flagged = guard.record("leads", "1").expect("read").expect("lead");
    assert!(flagged.locked);
    assert_eq!(flagged.status, "Duplicate");
    assert_eq!(status(&guard, &lead("1")), PersonStatus::Duplicate);
    let again = guard.deduplicate().expect("apply again");
    assert_eq!((again.newly_flagged, again.already_flagged), (0, 1));
    // A duplicate is never sent a request: one request for the shared address.
    enable(&guard);
    host.set_now("2026-12-01T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert_eq!(run.requests, 2);
    assert_eq!(
        mails_to(&host, "ada@example.com", "consent-request.").len(),
        1
    );
}

fn daily_run() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    put(
        &guard,
        &consent("partners", ConsentKind::Custom, ConsentDefault::No),
    );
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    assert!(
        guard.run_due().expect("run").is_none(),
        "nothing due before 10:00"
    );
    host.set_now("2026-12-01T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert_eq!((run.people, run.requests), (2, 2));
    let requests = mails_to(&host, "ada@example.com", "consent-request.");
    assert_eq!(requests.len(), 1, "one mail per contact, not per consent");
    let request = &requests[0];
    assert_eq!(request.from, "privacy@example.org");
    assert!(request.raw.contains("Example Privacy Team"));
    assert!(
        request.text.contains("News and offers by email")
            && request.text.contains("Title of partners")
    );
    for consent in ["email-marketing", "partners"] {
        assert_eq!(
            value(&guard, &contact("1"), consent),
            Some(ConsentValue::Waiting)
        );
    }
    // Waiting under default no erases a data field, but never the address it waits on.
    assert_eq!(field(&guard, &contact("1"), "email"), "ada@example.com");
    // Running the same day again sends nothing twice.
    let before = host.mails().len();
    guard
        .run_daily("2026-12-01", &|_| {})
        .expect("run the period again");
    assert!(guard.run_due().expect("run").is_none());
    assert_eq!(host.mails().len(), before);
    // The host is down over the next 10:00; the missed run is caught up once.
    import(&guard, "contacts", "name,email\nLinus,linus@example.com\n");
    drop(guard);
    host.set_now("2026-12-02T16:00:00Z");
    let guard = host.open().expect("restart");
    let caught_up = guard.run_due().expect("run").expect("caught up");
    assert_eq!(caught_up.requests, 1);
    assert!(guard.run_due().expect("run").is_none());
    assert_eq!(
        mails_to(&host, "linus@example.com", "consent-request.").len(),
        1
    );
}

fn preferences_page() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(&server.preferences_url()));
    put(&guard, &email_marketing_consent());
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\nLinus,linus@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let link = |address: &str| {
        mails_to(&host, address, "consent-request.")[0]
            .link(&server.preferences_url())
            .expect("link")
    };

    // The page lists the consent with its exact purpose text and current value.
    let page = http_get(&link("ada@example.com")).expect("GET");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&email_marketing_consent().purpose));
    assert!(page.body.contains("data-value=\"waiting\""));
    // Grant applies at once.
    let saved =
        http_post_form(&link("ada@example.com"), &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(
        value(&guard, &contact("1"), "email-marketing"),
        Some(ConsentValue::Granted)
    );
    // Stopping processing and erasure each take a confirming step: opening the action (as
    // a link scanner would) or posting it unconfirmed only asks, and changes nothing.
    let stop_url = format!("{}/stop-processing", link("grace@example.com"));
    let asked = http_get(&stop_url).expect("GET stop");
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(
        asked.body.contains("Yes, stop processing my data"),
        "{}",
        asked.body
    );
    let unconfirmed = http_post_form(&stop_url, &[]).expect("POST stop");
    assert!(unconfirmed.body.contains("Yes, stop processing my data"));
    assert_eq!(status(&guard, &contact("2")), PersonStatus::Active);
    let stopped = http_post_form(&stop_url, &[("confirm", "yes")]).expect("POST stop");
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!(status(&guard, &contact("2")), PersonStatus::Restricted);
    // "Erase my data", once confirmed, erases; the link then knows nobody, and the request
    // mail that carried it is gone from the outbox.
    let linus = link("linus@example.com");
    let erase_url = format!("{linus}/erase");
    let asked = http_get(&erase_url).expect("GET erase");
    assert!(asked.body.contains("Yes, erase my data") && asked.body.contains("cannot be undone"));
    assert_eq!(status(&guard, &contact("3")), PersonStatus::Active);
    let erased = http_post_form(&erase_url, &[("confirm", "yes")]).expect("POST erase");
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(status(&guard, &contact("3")), PersonStatus::Erased);
    assert_eq!(field(&guard, &contact("3"), "email"), "");
    assert_ne!(http_get(&linus).expect("GET").status, 200);
    assert!(mails_to(&host, "linus@example.com", "").is_empty());
    // A link expires.
    host.set_now("2027-01-15T10:00:00Z");
    let token = link("ada@example.com");
    let token = token.rsplit('/').next().expect("token");
    assert!(matches!(
        guard.open_preferences(token).expect("call"),
        Err(LinkError::Expired)
    ));
}

fn notification_settings() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    let with = |policy| Settings {
        confirm_changes: policy,
        ..settings(PAGE)
    };
    save_settings(&guard, &with(ConfirmationPolicy::Never));
    put(&guard, &email_marketing_consent());
    enable(&guard);
    import(&guard, "contacts", "name,email\nAda,ada@example.com\n");
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let token = token_for(&host, "ada@example.com");
    let confirmations = || mails_to(&host, "ada@example.com", "change-confirmation.").len();

    // never: no confirmation, whoever changes it.
    choose(&guard, &token, "email-marketing", true, "198.51.100.7");
    assert_eq!(confirmations(), 0);

    // own-changes: the person's change is confirmed, an administrator's is not.
    save_settings(&guard, &with(ConfirmationPolicy::OwnChanges));
    host.set_now("2026-12-01T11:00:00Z");
    choose(&guard, &token, "email-marketing", false, "198.51.100.7");
    assert_eq!(confirmations(), 1);
    let confirmation = &mails_to(&host, "ada@example.com", "change-confirmation.")[0];
    assert_eq!(confirmation.from, "privacy@example.org");
    assert!(
        confirmation
            .text
            .contains("News and offers by email: not granted"),
        "{}",
        confirmation.text
    );
    assert!(
        confirmation.text.contains(PAGE),
        "a link to change it again"
    );
    host.set_now("2026-12-01T12:00:00Z");
    guard
        .record_decision(
            &contact("1"),
            "email-marketing",
            true,
            &operator(),
            "Phone call on 1 December",
        )
        .expect("call")
        .expect("recorded");
    assert_eq!(confirmations(), 1);

    // every-change: the administrator's change is confirmed too.
    save_settings(&guard, &with(ConfirmationPolicy::EveryChange));
    host.set_now("2026-12-01T13:00:00Z");
    guard
        .record_decision(
            &contact("1"),
            "email-marketing",
            false,
            &operator(),
            "Letter of 1 December",
        )
        .expect("call")
        .expect("recorded");
    assert_eq!(confirmations(), 2);
}

fn before_sending() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    put(
        &guard,
        &tracking_consent("email-tracking", ConsentKind::EmailTracking),
    );
    put(
        &guard,
        &tracking_consent("document-tracking", ConsentKind::DocumentTracking),
    );
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\nLinus,linus@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let ada = token_for(&host, "ada@example.com");
    choose(&guard, &ada, "email-tracking", true, "198.51.100.7");
    choose(&guard, &ada, "document-tracking", true, "198.51.100.7");
    choose(&guard, &ada, "email-marketing", true, "198.51.100.7");

    let mail = MailContent {
        message_id: None,
        subject: "Our meeting".into(),
        text_body: "Hello\n".into(),
        html_body: Some(
            "<html><body><p>Hello</p><img data-pg-tracking src=\"https://t.example/p.gif\"><a href=\"https://t.example/r/1\" data-pg-original-href=\"https://example.org/agenda\">agenda</a></body></html>"
                .into(),
        ),
    };
    let request = SendRequest {
        class: MessageClass::AdHoc,
        purpose: None,
    };
    let renderings = guard.render(
        &request,
        &mail,
        &[
            recipient("ada@example.com", RecipientRole::To),
            recipient("grace@example.com", RecipientRole::Cc),
            recipient("linus@example.com", RecipientRole::Bcc),
        ],
    );
    let sent: Vec<_> = renderings
        .into_iter()
        .map(|rendering| match rendering {
            Rendering::Send(mail) => mail,
            Rendering::Refuse(refusal) => panic!("ad-hoc mail refused: {refusal:?}"),
        })
        .collect();
    // The footer with the preferences link goes to To only, never CC or BCC.
    assert!(sent[0].text_body.contains(PAGE));
    assert!(!sent[1].text_body.contains(PAGE) && !sent[2].text_body.contains(PAGE));
    // Tracking stays for Ada, who granted it, and is removed for the others.
    assert!(
        sent[0]
            .html_body
            .as_deref()
            .expect("html")
            .contains("t.example/p.gif")
    );
    for other in &sent[1..] {
        let html = other.html_body.as_deref().expect("html");
        assert!(!html.contains("t.example"), "{html}");
        assert!(html.contains("href=\"https://example.org/agenda\""));
    }
    // Marketing without consent to its purpose is refused with the reason.
    assert_eq!(
        refusal(&decide(
            &guard,
            MessageClass::Marketing,
            Some("email-marketing"),
            "grace@example.com"
        )),
        Some(RefusalReason::ConsentPending)
    );
    assert_eq!(
        basis(&decide(
            &guard,
            MessageClass::Marketing,
            Some("email-marketing"),
            "ada@example.com"
        )),
        Some(LawfulBasis::Consent)
    );
    // Document-tracking events are kept only with that consent.
    assert!(guard.accept_tracking_event(TrackingKind::DocumentView, "ada@example.com"));
    assert!(!guard.accept_tracking_event(TrackingKind::DocumentView, "grace@example.com"));
    assert!(!guard.accept_tracking_event(TrackingKind::EmailOpen, "linus@example.com"));
}

fn message_classes() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    guard
        .restrict(&contact("1"), &operator(), "Ada disputes her data")
        .expect("call")
        .expect("restricted");
    guard
        .erase(&contact("2"), &operator(), "Grace's letter of 1 December")
        .expect("call")
        .expect("erased");

    // Invoice to a contact who stopped processing: allowed on the legal obligation.
    assert_eq!(
        basis(&decide(
            &guard,
            MessageClass::Transactional,
            None,
            "ada@example.com"
        )),
        Some(LawfulBasis::LegalObligation)
    );
    // Workflow mail to them: refused.
    assert_eq!(
        refusal(&decide(
            &guard,
            MessageClass::Workflow,
            None,
            "ada@example.com"
        )),
        Some(RefusalReason::ProcessingRestricted)
    );
    assert_eq!(
        refusal(&decide(
            &guard,
            MessageClass::AdHoc,
            None,
            "ada@example.com"
        )),
        Some(RefusalReason::ProcessingRestricted)
    );
    // Sending the invoice records its ground in the person's history.
    let invoice = MailContent {
        message_id: Some("invoice-2026-0042".into()),
        subject: "Your invoice".into(),
        text_body: "Please find your invoice attached.\n".into(),
        html_body: None,
    };
    let request = SendRequest {
        class: MessageClass::Transactional,
        purpose: None,
    };
    let rendered = guard.render(
        &request,
        &invoice,
        &[recipient("ada@example.com", RecipientRole::To)],
    );
    assert!(matches!(rendered[0], Rendering::Send(_)));
    let grounds: Vec<_> = history(&guard, &contact("1"))
        .into_iter()
        .filter(|event| event["kind"] == "sent-on-legal-ground")
        .collect();
    assert_eq!(grounds.len(), 1);
    assert_eq!(grounds[0]["basis"], "legal-obligation");
    assert_eq!(grounds[0]["class"], "transactional");
    assert_eq!(grounds[0]["message-id"], "invoice-2026-0042");
    // Invoice to a contact who asked for erasure: the CRM names the record (the address
    // is gone from Privacy Guard); it goes out to the address the invoice keeps, and the
    // ground is recorded on the erased record.
    let rendered = guard.render(
        &request,
        &invoice,
        &[Recipient {
            person: Some(contact("2")),
            ..recipient("grace@example.com", RecipientRole::To)
        }],
    );
    assert!(matches!(rendered[0], Rendering::Send(_)));
    assert!(
        history(&guard, &contact("2"))
            .iter()
            .any(|event| event["kind"] == "sent-on-legal-ground")
    );
    // No marketing to either.
    for address in ["ada@example.com", "grace@example.com"] {
        assert!(
            refusal(&decide(
                &guard,
                MessageClass::Marketing,
                Some("email-marketing"),
                address
            ))
            .is_some()
        );
    }
}

fn stop_processing() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email,city\nAda,ada@example.com,London\n",
    );
    guard
        .restrict(&contact("1"), &operator(), "Ada asked us by phone to stop")
        .expect("call")
        .expect("restricted");
    assert!(
        guard
            .record("contacts", "1")
            .expect("read")
            .expect("record")
            .locked
    );
    // Edits are refused, naming the reason.
    let refused = edit(&guard, &contact("1"), "city", "Paris").expect_err("locked");
    assert!(refused[0].contains("stop processing"), "{refused:?}");
    // Excluded from the daily run.
    host.set_now("2026-12-01T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert_eq!(run.requests, 0);
    // Lifted only with a reason, and the contact is told.
    assert!(matches!(
        guard
            .lift_restriction(&contact("1"), &operator(), " ")
            .expect("call"),
        Err(RecordError::EvidenceRequired)
    ));
    guard
        .lift_restriction(
            &contact("1"),
            &operator(),
            "The dispute was settled on 1 December",
        )
        .expect("call")
        .expect("lifted");
    let notices = mails_to(&host, "ada@example.com", "restriction-lifted.");
    assert_eq!(notices.len(), 1);
    assert!(notices[0].text.contains("The dispute was settled"));
    assert_eq!(edit(&guard, &contact("1"), "city", "Paris"), Ok(()));
}

fn erasure() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(
        &guard,
        &Settings {
            retained_fields: vec!["name".into(), "invoice_address".into()],
            ..settings(PAGE)
        },
    );
    put(&guard, &email_marketing_consent());
    put(
        &guard,
        &consent(
            "phone",
            ConsentKind::Data("phone".into()),
            ConsentDefault::Yes,
        ),
    );
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email,phone,invoice_address\nAda Lovelace,ada@example.com,+44 20 7946,1 Main St\n",
    );
    let report = guard
        .erase(&contact("1"), &operator(), "Ada's email of 1 December")
        .expect("call")
        .expect("erased");
    assert!(report.erased_fields.contains(&"email".to_owned()));
    assert!(report.erased_fields.contains(&"phone".to_owned()));
    assert_eq!(field(&guard, &contact("1"), "phone"), "");
    assert_eq!(
        field(&guard, &contact("1"), "invoice_address"),
        "1 Main St",
        "kept for the legal obligation"
    );
    let view = guard.subject(&contact("1")).expect("call").expect("known");
    assert_eq!(view.status, PersonStatus::Erased);
    assert!(view.address.is_empty());
    // The proof stays, without the erased values.
    let events = guard.history(&contact("1")).expect("history").join("\n");
    assert!(events.contains("\"to\":\"erased\""));
    assert!(!events.contains("ada@example.com") && !events.contains("7946"));
    // The address is not kept: only a salted hash of it, which a re-import runs into.
    assert!(
        !contains_bytes(&host.database_bytes(), "ada@example.com"),
        "the erased address is gone from the database"
    );
    import(&guard, "contacts", "name,email\nAda,ADA@example.com\n");
    assert_eq!(status(&guard, &contact("2")), PersonStatus::Erased);
    assert_eq!(
        refusal(&decide(
            &guard,
            MessageClass::Marketing,
            Some("email-marketing"),
            "ada@example.com"
        )),
        Some(RefusalReason::Erased)
    );
}

fn encrypted_fields() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    guard
        .classify_field(
            "contacts",
            &FieldClass {
                field: "passport".into(),
                personal: true,
                essential: true,
                sensitive: true,
                encrypted: true,
            },
        )
        .expect("call")
        .expect("classified");
    import(
        &guard,
        "contacts",
        "name,email,passport\nAda,ada@example.com,P-UNIQUE-4711\n",
    );
    assert_eq!(field(&guard, &contact("1"), "passport"), "P-UNIQUE-4711");
    // Everything the host and the plugin logged (captured for the whole suite): the value
    // never appears there.
    let logged = LogCapture::process().text();
    assert!(
        logged.contains("records changed"),
        "the logs were captured: {logged}"
    );
    assert!(!logged.contains("P-UNIQUE-4711"), "{logged}");
    assert!(
        !contains_bytes(&host.database_bytes(), "P-UNIQUE-4711"),
        "plain text in the database"
    );
    // The key id sits in each stored value, so keys can rotate.
    let old_key = guard.rotate_field_key().expect("rotate");
    assert!(!old_key.is_empty());
    import(
        &guard,
        "contacts",
        "name,email,passport\nGrace,grace@example.com,P-OTHER-0815\n",
    );
    assert_eq!(field(&guard, &contact("1"), "passport"), "P-UNIQUE-4711");
    assert_eq!(field(&guard, &contact("2"), "passport"), "P-OTHER-0815");
}

fn deleting_a_consent() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    let phone = consent(
        "phone",
        ConsentKind::Data("phone".into()),
        ConsentDefault::Yes,
    );
    put(&guard, &phone);
    enable(&guard);
    import(
        &guard,
        "contacts",
        "name,email,phone\nAda,ada@example.com,+44 1\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    assert_eq!(
        value(&guard, &contact("1"), "phone"),
        Some(ConsentValue::Waiting)
    );

    let deleted = guard
        .delete_consent("phone")
        .expect("call")
        .expect("deleted");
    assert_eq!(deleted.definition.id, "phone");
    // The host removed the field from its layout; an import no longer collects it.
    assert_eq!(
        guard.removed_layout_fields("contacts").expect("layout"),
        ["phone"]
    );
    let report = guard
        .import_records(
            "contacts",
            read_records("name,email,phone\nGrace,grace@example.com,+44 2\n".as_bytes())
                .expect("CSV"),
            &|_| {},
        )
        .expect("import");
    assert_eq!(report.ignored_fields, ["phone"]);
    assert_eq!(field(&guard, &contact("2"), "phone"), "");
    // Nor does a user's edit: the field is no longer in the layout.
    match guard.edit_record(&contact("2"), &[("phone".into(), "+44 3".into())]) {
        Err(error) => assert!(
            error
                .to_string()
                .contains("removed from the contacts layout"),
            "{error}"
        ),
        Ok(outcome) => panic!("an edit of a removed field must be refused: {outcome:?}"),
    }
    // Its values are no longer shown or collected; its history stays.
    let configuration = guard.configuration().expect("call");
    assert!(
        configuration
            .consents
            .iter()
            .all(|stored| stored.definition.id != "phone")
    );
    assert_eq!(value(&guard, &contact("1"), "phone"), None);
    assert!(
        history(&guard, &contact("1"))
            .iter()
            .any(|event| event["consent"] == "phone" && event["to"] == "waiting")
    );
    host.set_now("2026-12-02T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let request = mails_to(&host, "grace@example.com", "consent-request.");
    assert!(!request[0].text.contains("Title of phone"));
    // Unknown ids are a clear error; defining the id again continues its versions.
    let problem = guard
        .delete_consent("phone")
        .expect("call")
        .expect_err("unknown");
    assert!(problem.message.contains("no consent"), "{problem:?}");
    let again = guard
        .put_consent(
            &ConsentDefinition {
                purpose: "A new purpose for phone numbers.".into(),
                ..phone
            },
            None,
        )
        .expect("call")
        .expect("defined again");
    assert_eq!(again.purpose_version, 2);
}

fn proof() {
    let (host, guard) = host("2026-12-01T09:00:00Z");
    save_settings(&guard, &settings(PAGE));
    put(&guard, &email_marketing_consent());
    enable(&guard);
    import(&guard, "contacts", "name,email\nAda,ada@example.com\n");
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let token = token_for(&host, "ada@example.com");
    let purpose_hash = guard.configuration().expect("call").consents[0]
        .purpose_hash
        .clone();

    // The IP kept as the setting says: whole, truncated, hashed or not at all.
    let mut kept = Vec::new();
    for (n, policy) in [
        IpPolicy::Keep,
        IpPolicy::Truncate,
        IpPolicy::Hash,
        IpPolicy::Drop,
    ]
    .into_iter()
    .enumerate()
    {
        save_settings(
            &guard,
            &Settings {
                ip_evidence: policy,
                confirm_changes: ConfirmationPolicy::Never,
                ..settings(PAGE)
            },
        );
        host.set_now(&format!("2026-12-01T11:0{n}:00Z"));
        choose(
            &guard,
            &token,
            "email-marketing",
            n % 2 == 0,
            "203.0.113.77",
        );
        let event = history(&guard, &contact("1")).pop().expect("an event");
        assert_eq!(event["source"], "preferences-page");
        assert_eq!(event["purpose-version"], 1);
        assert_eq!(event["purpose-hash"], purpose_hash.as_str());
        assert!(event["evidence"]["link"].is_string());
        kept.push(event["evidence"]["ip"].as_str().map(str::to_owned));
    }
    assert_eq!(kept[0].as_deref(), Some("203.0.113.77"));
    assert_eq!(kept[1].as_deref(), Some("203.0.113.0/24"));
    let hashed = kept[2].as_deref().expect("a hash");
    assert!(hashed.starts_with("sha256:") && !hashed.contains("203.0.113"));
    assert_eq!(kept[3], None);

    // Every source is named: the daily run, the page, an administrator, an import.
    guard
        .record_decision(
            &contact("1"),
            "email-marketing",
            true,
            &StaffActor {
                channel: StaffChannel::BulkImport,
                name: "trade-fair-import".into(),
            },
            "Imported from the 2025 trade fair list, row 17",
        )
        .expect("call")
        .expect("recorded");
    let events = history(&guard, &contact("1"));
    let sources: Vec<&str> = events
        .iter()
        .filter_map(|event| event["source"].as_str())
        .collect();
    for source in ["record-change", "daily-run", "preferences-page", "import"] {
        assert!(sources.contains(&source), "{source} in {sources:?}");
    }
    assert_eq!(
        events.last().expect("event")["evidence"]["statement"],
        "Imported from the 2025 trade fair list, row 17"
    );
    // A changed purpose text is a new version with its own hash, once the administrator
    // says what kind of change it is.
    let corrected = ConsentDefinition {
        purpose: "A new purpose text.".into(),
        ..email_marketing_consent()
    };
    let problems = guard
        .put_consent(&corrected, None)
        .expect("call")
        .expect_err("the change needs a kind");
    assert!(
        problems
            .iter()
            .any(|problem| problem.at.ends_with(".purpose")),
        "{problems:?}"
    );
    let changed = guard
        .put_consent(&corrected, Some(PurposeChange::Correction))
        .expect("call")
        .expect("saved");
    assert_eq!(changed.purpose_version, 2);
    assert_ne!(changed.purpose_hash, purpose_hash);
    // Events can never be changed.
    assert!(matches!(
        guard.verify_ledger().expect("verify"),
        privacy_guard_host::storage::LedgerCheck::Intact { .. }
    ));
}
