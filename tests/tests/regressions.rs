//! One test for each place where two features met and a promise leaked (issue 8), through
//! the real component in the real host on a real database: named after what broke, each
//! failed before its fix.

use std::sync::Arc;

use privacy_guard_host::contract::configuration::{ConsentDefault, ConsentDefinition, ConsentKind};
use privacy_guard_host::contract::preferences::{Choice, Evidence};
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MailContent, MessageClass, Recipient, RecipientRole, RefusalReason,
    Rendering, SendRequest,
};
use privacy_guard_host::contract::subjects::{RecordError, StaffActor, StaffChannel};
use privacy_guard_host::contract::types::ConsentValue;
use privacy_guard_host::guard::{DueRun, Guard, GuardError, SettingsRefusal};
use privacy_guard_host::settings::SettingsPatch;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scopes, Tenant, Tenants};
use privacy_guard_tests::scenario::{
    basis_of, contact, decide_for, history_of, import_csv, lead, refusal_of,
};
use privacy_guard_tests::{
    Mail, TestHost, WebServer, configure, contains_bytes, email_marketing_consent, http_call,
    http_get, http_post_form, operator, served_host, settings,
};

const PREFERENCES_URL: &str = "http://127.0.0.1:9/preferences/";
const ADA: &str = "ada@example.com";
const GRACE: &str = "grace@example.com";

/// A host configured for the first journey, Ada (contacts/1) and Grace (contacts/2)
/// imported, and the first daily run done at 10:00 (its requests queued, delivered when
/// the outbox can take them).
fn journey(host: &TestHost) -> Guard {
    let guard = host.open().expect("host");
    configure(&guard, PREFERENCES_URL);
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda Lovelace,ada@example.com\nGrace Hopper,grace@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    guard
}

/// The signed token of the last request mail to `address`.
fn token(mails: &[Mail], address: &str) -> String {
    let mail = mails
        .iter()
        .rev()
        .find(|mail| mail.to == [address] && mail.message_id.starts_with("consent-request."))
        .unwrap_or_else(|| panic!("no request mail to {address}"));
    let link = mail.link(PREFERENCES_URL).expect("a link in the request");
    link.rsplit('/').next().expect("a token").to_owned()
}

/// The pre-send decision for newsletter mail (`email-marketing`) to `address` as To.
fn marketing_to(guard: &Guard, address: &str) -> Decision {
    decide_for(
        guard,
        MessageClass::Marketing,
        Some("email-marketing"),
        address,
        RecipientRole::To,
    )
}

fn page_evidence() -> Evidence {
    Evidence {
        ip: Some("203.0.113.9".into()),
        user_agent: Some("Mozilla/5.0 (regressions)".into()),
    }
}

fn answer(guard: &Guard, token: &str, consent: &str, grant: bool) {
    guard
        .submit_preferences(
            token,
            &[Choice {
                consent_id: consent.into(),
                grant,
            }],
            &page_evidence(),
        )
        .expect("call")
        .expect("answer saved");
}

fn value(
    guard: &Guard,
    person: &privacy_guard_host::contract::types::RecordRef,
    consent: &str,
) -> Option<ConsentValue> {
    guard
        .subject(person)
        .expect("call")?
        .consents
        .into_iter()
        .find(|state| state.consent_id == consent)
        .map(|state| state.value)
}

#[test]
fn erasure_stops_mail_of_every_class_to_the_address() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = journey(&host);
    guard
        .erase(&contact("2"), &operator(), "Grace's letter of 1 December")
        .expect("call")
        .expect("erased");
    // Grace's address is held by nobody now, but it is not unknown: it was erased.
    for class in [
        MessageClass::AdHoc,
        MessageClass::Workflow,
        MessageClass::Marketing,
    ] {
        for role in [RecipientRole::To, RecipientRole::Cc, RecipientRole::Bcc] {
            let purpose = (class == MessageClass::Marketing).then_some("email-marketing");
            for address in [GRACE, " Grace@Example.COM "] {
                assert_eq!(
                    refusal_of(&decide_for(&guard, class, purpose, address, role)),
                    Some(RefusalReason::Erased),
                    "{class:?} {role:?} {address}"
                );
            }
        }
    }
    // Transactional mail only when the CRM names the erased record (an invoice it must
    // send), on a legal obligation; render records that ground.
    let invoice = SendRequest {
        class: MessageClass::Transactional,
        purpose: None,
    };
    let anonymous = Recipient {
        address: GRACE.into(),
        role: RecipientRole::To,
        person: None,
    };
    assert_eq!(
        refusal_of(&guard.check_send(&invoice, std::slice::from_ref(&anonymous))[0]),
        Some(RefusalReason::Erased)
    );
    let wrong_record = Recipient {
        person: Some(contact("1")),
        ..anonymous.clone()
    };
    assert_eq!(
        refusal_of(&guard.check_send(&invoice, &[wrong_record])[0]),
        Some(RefusalReason::Erased),
        "Ada's record is not the erased one"
    );
    let named = Recipient {
        person: Some(contact("2")),
        ..anonymous
    };
    assert_eq!(
        basis_of(&guard.check_send(&invoice, std::slice::from_ref(&named))[0]),
        Some(LawfulBasis::LegalObligation)
    );
    let mail = MailContent {
        message_id: Some("invoice-2026-0042".into()),
        subject: "Your invoice".into(),
        text_body: "Invoice attached.\n".into(),
        html_body: None,
    };
    assert!(matches!(
        guard.render(&invoice, &mail, &[named])[0],
        Rendering::Send(_)
    ));
    let grounds: Vec<_> = history_of(&guard, &contact("2"))
        .into_iter()
        .filter(|event| event["kind"] == "sent-on-legal-ground")
        .collect();
    assert_eq!(grounds.len(), 1);
    assert_eq!(grounds[0]["message-id"], "invoice-2026-0042");
    // Ada, never erased, still gets her mail.
    assert_eq!(
        basis_of(&decide_for(
            &guard,
            MessageClass::AdHoc,
            None,
            ADA,
            RecipientRole::To
        )),
        Some(LawfulBasis::LegitimateInterests)
    );
}

#[test]
fn erasure_leaves_no_readable_copy_of_the_mail_the_person_was_sent() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    // The outbox folder cannot be created: the requests stay queued in the database.
    std::fs::write(host.outbox(), b"not a folder").expect("block the outbox");
    let guard = journey(&host);
    let queued = guard.undelivered_mail(10).expect("outbox");
    assert_eq!(queued.len(), 2, "both requests wait");
    assert!(
        contains_bytes(&host.database_bytes(), ADA),
        "queued with her address"
    );

    guard
        .erase(&contact("1"), &operator(), "Ada's email of 1 December")
        .expect("call")
        .expect("erased");
    // Her request is cancelled, never to be delivered; Grace's still waits.
    let waiting = guard.undelivered_mail(10).expect("outbox");
    assert_eq!(waiting.len(), 1);
    let cancelled: Vec<_> = queued
        .iter()
        .filter(|mail| mail.message_id != waiting[0].message_id)
        .collect();
    let cancelled = guard
        .mail_delivery(&cancelled[0].message_id)
        .expect("read")
        .expect("still listed by id");
    assert!(cancelled.cancelled_at.is_some() && cancelled.delivered_at.is_none());
    assert!(
        !contains_bytes(&host.database_bytes(), ADA),
        "no copy of her address in the database files"
    );

    // Once the outbox works (and the wait after the failed attempt is over), only Grace's
    // request goes out.
    std::fs::remove_file(host.outbox()).expect("unblock");
    host.set_now("2026-12-01T11:00:00Z");
    let report = guard.deliver_mail().expect("deliver");
    assert_eq!(report.delivered, 1);
    let mails = host.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, [GRACE]);

    // Delivered mail to an erased person is destroyed too: the .eml file and the row.
    guard
        .erase(&contact("2"), &operator(), "Grace's letter of 1 December")
        .expect("call")
        .expect("erased");
    assert!(host.mails().is_empty(), "Grace's delivered request is gone");
    assert!(!contains_bytes(&host.database_bytes(), GRACE));
}

#[test]
fn a_value_refused_on_the_page_is_gone_from_the_database_files() {
    const PHONE: &str = "+49 30 901820";
    const FAX: &str = "+49 30 901821";
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, PREFERENCES_URL);
    let data_consent = |id: &str, field: &str, default_value| ConsentDefinition {
        id: id.into(),
        kind: ConsentKind::Data(field.into()),
        title: format!("Your {field} number"),
        purpose: format!("We keep your {field} number to reach you about your orders."),
        default_value,
        ..email_marketing_consent()
    };
    for consent in [
        data_consent("phone", "phone", ConsentDefault::Yes),
        data_consent("fax", "fax", ConsentDefault::No),
    ] {
        guard
            .put_consent(&consent, None)
            .expect("call")
            .expect("stored");
    }
    import_csv(
        &guard,
        "contacts",
        &format!("name,email,phone,fax\nAda,ada@example.com,{PHONE},{FAX}\n"),
    );
    assert!(contains_bytes(&host.database_bytes(), PHONE));
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    // Waiting under default no: the fax number goes when the request does.
    assert!(
        !contains_bytes(&host.database_bytes(), FAX),
        "the fax number stayed readable after the request erased it"
    );
    // Waiting under default yes keeps the phone number until Ada refuses it.
    assert!(contains_bytes(&host.database_bytes(), PHONE));
    answer(&guard, &token(&host.mails(), ADA), "phone", false);
    let record = guard
        .record("contacts", "1")
        .expect("read")
        .expect("record");
    assert_eq!(record.field("phone"), "");
    assert!(
        !contains_bytes(&host.database_bytes(), PHONE),
        "the refused phone number stayed readable in the database files"
    );
}

#[test]
fn evidence_is_the_channels_and_every_staff_event_names_its_actor() {
    const KEY: &str = "pgk_regressions";
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(journey(&host));
    let mut tenants = Tenants::default();
    tenants
        .add(Tenant::new(
            "default",
            guard.clone(),
            vec![ApiKey {
                name: "crm-production".into(),
                digest: KeyDigest::of_key(KEY),
                scopes: Scopes::ADMIN,
            }],
        ))
        .expect("tenant");
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    let decide = |body: serde_json::Value| {
        http_call(
            "POST",
            &format!(
                "http://{}/api/v1/subjects/contacts/1/decisions",
                server.address
            ),
            &[("Authorization", &format!("bearer {KEY}"))],
            Some(("application/json", body.to_string().as_bytes())),
        )
        .expect("answer")
    };
    // A caller cannot claim that Ada answered on the page.
    let forged = decide(serde_json::json!({
        "consent_id": "email-marketing", "grant": true,
        "source": "preferences_page", "evidence": "She clicked, trust us"
    }));
    assert_eq!(forged.status, 422, "{}", forged.body);
    assert!(forged.body.contains("source"), "{}", forged.body);
    assert_eq!(
        value(&guard, &contact("1"), "email-marketing"),
        Some(ConsentValue::Waiting)
    );
    let recorded = decide(serde_json::json!({
        "consent_id": "email-marketing", "grant": true, "evidence": "Web shop form, order 17"
    }));
    assert_eq!(recorded.status, 200, "{}", recorded.body);
    // Staff through the command line or the CRM's own screens are named too.
    let alice = StaffActor {
        channel: StaffChannel::Admin,
        name: "alice".into(),
    };
    guard
        .restrict(&contact("1"), &alice, "Ada disputes her data")
        .expect("call")
        .expect("restricted");
    let nameless = StaffActor {
        channel: StaffChannel::Admin,
        name: "  ".into(),
    };
    assert!(matches!(
        guard
            .lift_restriction(&contact("1"), &nameless, "Settled")
            .expect("call"),
        Err(RecordError::ActorRequired)
    ));
    let events = history_of(&guard, &contact("1"));
    let staff: Vec<(&str, &str)> = events
        .iter()
        .filter(|event| matches!(event["source"].as_str(), Some("api" | "admin")))
        .map(|event| {
            (
                event["source"].as_str().unwrap_or(""),
                event["actor"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(staff, [("api", "crm-production"), ("admin", "alice")]);
    // Every event names an actor: the person on the page, the plugin for its own rules.
    for event in &events {
        assert!(event["actor"].is_string(), "{event}");
    }
    assert!(
        events
            .iter()
            .all(|event| event["source"] != "preferences-page")
    );
}

#[test]
fn deduplication_keeps_what_people_said_and_takes_the_crms_clock() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = journey(&host);
    // Ada grants on the page; Grace refuses.
    let mails = host.mails();
    answer(&guard, &token(&mails, ADA), "email-marketing", true);
    answer(&guard, &token(&mails, GRACE), "email-marketing", false);
    // The CRM's export of leads: Ada's lead was modified after her contact, Grace's long
    // before hers (the import itself happens now, later than both).
    import_csv(
        &guard,
        "leads",
        "id,name,email,modified_at\n7,Ada Lovelace,ADA@example.com ,2026-12-01T11:00:00Z\n8,Grace Hopper,grace@example.com,2020-01-01\n",
    );
    let plan = guard.deduplication_preview().expect("preview");
    let primaries: Vec<String> = plan
        .groups
        .iter()
        .map(|group| format!("{}/{}", group.primary.module, group.primary.id))
        .collect();
    assert_eq!(
        primaries,
        ["leads/7", "contacts/2"],
        "the CRM's clock decides"
    );
    guard.deduplicate().expect("apply");
    // Ada's grant, given on her contact, counts on the lead that now holds her address,
    // with its own evidence; both histories stay readable.
    assert_eq!(
        basis_of(&marketing_to(&guard, ADA)),
        Some(LawfulBasis::Consent)
    );
    let carried = history_of(&guard, &lead("7"))
        .into_iter()
        .find(|event| event["source"] == "deduplication")
        .expect("the carried grant");
    assert_eq!(carried["to"], "granted");
    assert_eq!(carried["evidence"]["carried-from"], "contacts/1");
    assert_eq!(carried["evidence"]["answer-source"], "preferences-page");
    assert!(carried["evidence"]["link"].is_string());
    assert!(
        history_of(&guard, &contact("1"))
            .iter()
            .any(|event| event["source"] == "preferences-page" && event["to"] == "granted")
    );
    // Grace's refusal still holds on her contact, the primary.
    assert_eq!(
        refusal_of(&marketing_to(&guard, GRACE)),
        Some(RefusalReason::ConsentRefused)
    );
}

#[test]
fn a_refusal_given_on_a_record_that_joins_a_group_wins_over_the_primarys_grant() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, PREFERENCES_URL);
    // Two contacts of Ada kept apart (flag-new-duplicates is off): both get a request.
    import_csv(
        &guard,
        "contacts",
        "id,name,email,modified_at\n1,Ada Lovelace,ada@example.com,2026-11-01T00:00:00Z\n",
    );
    import_csv(
        &guard,
        "contacts",
        "id,name,email,modified_at\n2,Ada King,ada@example.com,2026-11-02T00:00:00Z\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    // Contact 1 owns the address and was mailed; staff record a refusal on contact 2.
    answer(&guard, &token(&host.mails(), ADA), "email-marketing", true);
    guard
        .record_decision(
            &contact("2"),
            "email-marketing",
            false,
            &operator(),
            "Letter: no newsletters",
        )
        .expect("call")
        .expect("recorded");
    guard.deduplicate().expect("apply");
    // Contact 2 (modified last) is the primary now; contact 1's grant meets its refusal.
    assert_eq!(
        refusal_of(&marketing_to(&guard, ADA)),
        Some(RefusalReason::ConsentRefused)
    );
    assert_eq!(
        value(&guard, &contact("2"), "email-marketing"),
        Some(ConsentValue::NotGranted)
    );
}

#[test]
fn a_link_mailed_to_a_record_later_flagged_a_duplicate_answers_for_the_primary() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = journey(&host);
    let ada_token = token(&host.mails(), ADA);
    import_csv(
        &guard,
        "leads",
        "id,name,email,modified_at\n7,Ada Lovelace,ada@example.com,2026-12-01T11:00:00Z\n",
    );
    guard.deduplicate().expect("apply");
    // The link in the request mailed to contacts/1 opens the primary's page.
    answer(&guard, &ada_token, "email-marketing", false);
    assert_eq!(
        refusal_of(&marketing_to(&guard, ADA)),
        Some(RefusalReason::ConsentRefused),
        "the answer was lost on a record nobody mails"
    );
    // Staff recording on the duplicate are sent to the primary.
    match guard
        .record_decision(
            &contact("1"),
            "email-marketing",
            true,
            &operator(),
            "Phone call",
        )
        .expect("call")
    {
        Err(RecordError::StatusRefused(why)) => assert!(why.contains("leads/7"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unknown_module_is_refused_naming_the_known_ones() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, PREFERENCES_URL);
    let typo = guard.import_records(
        "lead",
        privacy_guard_host::import::read_records("email\nada@example.com\n".as_bytes())
            .expect("CSV"),
        &|_| {},
    );
    match typo {
        Err(GuardError::Invalid(message)) => {
            assert!(
                message.contains("`lead`") && message.contains("contacts, leads"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(guard.record_count("lead").expect("count"), 0);
    // Person modules are configuration: accounts can carry consents once configured.
    let accounts = ConsentDefinition {
        id: "account-news".into(),
        module: "accounts".into(),
        ..email_marketing_consent()
    };
    let refused = guard
        .put_consent(&accounts, None)
        .expect("call")
        .expect_err("not yet");
    assert!(
        refused[0]
            .message
            .contains("not a module that holds people"),
        "{refused:?}"
    );
    guard
        .change_settings(SettingsPatch {
            person_modules: Some(vec!["contacts".into(), "leads".into(), "accounts".into()]),
            ..SettingsPatch::default()
        })
        .expect("call")
        .expect("saved");
    guard
        .put_consent(&accounts, None)
        .expect("call")
        .expect("stored");
    import_csv(
        &guard,
        "accounts",
        "id,name,email\nA-1,Analytical Engines Ltd,office@engines.example\n",
    );
    assert_eq!(
        value(
            &guard,
            &privacy_guard_tests::scenario::record("accounts", "A-1"),
            "account-news"
        ),
        Some(ConsentValue::Applicable)
    );
    // A module with consents cannot stop holding people.
    let orphaning = guard
        .change_settings(SettingsPatch {
            person_modules: Some(vec!["contacts".into()]),
            ..SettingsPatch::default()
        })
        .expect("call");
    assert!(
        matches!(orphaning, Err(SettingsRefusal::Invalid(_))),
        "{orphaning:?}"
    );
}

#[test]
fn settings_change_only_the_options_given() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, PREFERENCES_URL);
    let before = guard
        .configuration()
        .expect("read")
        .settings
        .expect("settings");
    assert_eq!(before.retained_fields, ["name"]);
    let after = guard
        .change_settings(SettingsPatch {
            flag_new_duplicates: Some(true),
            ..SettingsPatch::default()
        })
        .expect("call")
        .expect("saved");
    assert!(after.flag_new_duplicates);
    assert_eq!(
        after.retained_fields,
        ["name"],
        "an erasure would now delete the name"
    );
    assert_eq!(after.sender_address, before.sender_address);
    assert_eq!(after.ip_evidence, before.ip_evidence);
}

#[test]
fn the_daily_run_before_its_first_scheduled_time_sends_nothing() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, PREFERENCES_URL);
    import_csv(&guard, "contacts", "name,email\nAda,ada@example.com\n");
    // Enabled at 09:00: yesterday's period is not due, today's comes at 10:00.
    match guard.due_run().expect("due") {
        DueRun::NotYet { first } => assert_eq!(first.to_rfc3339(), "2026-12-01T10:00:00+00:00"),
        other => panic!("{other:?}"),
    }
    assert!(guard.run_due().expect("run").is_none());
    assert!(host.mails().is_empty());
    host.set_now("2026-12-01T10:00:00Z");
    assert_eq!(
        guard.due_run().expect("due"),
        DueRun::Period("2026-12-01".into())
    );
    assert_eq!(guard.run_due().expect("run").expect("due").requests, 1);
}

#[test]
fn message_ids_differ_between_installations_for_the_same_record_and_day() {
    let ids = |host: &TestHost| {
        journey(host);
        let mut ids: Vec<String> = host
            .mails()
            .into_iter()
            .map(|mail| mail.message_id)
            .collect();
        ids.sort();
        ids
    };
    let first = ids(&TestHost::new("2026-12-01T09:00:00Z"));
    let second = ids(&TestHost::new("2026-12-01T09:00:00Z"));
    assert_eq!(first.len(), 2);
    for id in &first {
        assert!(
            id.starts_with("consent-request.") && id.ends_with("@example.org"),
            "{id}"
        );
        assert!(
            !second.contains(id),
            "{id} is the same in two installations"
        );
    }
}

#[test]
fn marketing_while_a_consent_waits_under_default_yes_is_never_on_consent() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    guard
        .set_settings(&settings(PREFERENCES_URL))
        .expect("call")
        .expect("settings");
    let opted_out_by_default = ConsentDefinition {
        default_value: ConsentDefault::Yes,
        ..email_marketing_consent()
    };
    guard
        .put_consent(&opted_out_by_default, None)
        .expect("call")
        .expect("stored");
    guard.enable(true).expect("call").expect("enabled");
    import_csv(&guard, "contacts", "name,email\nAda,ada@example.com\n");
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    match decide_for(
        &guard,
        MessageClass::Marketing,
        Some("email-marketing"),
        ADA,
        RecipientRole::To,
    ) {
        Decision::Allow(allowance) => {
            assert_eq!(allowance.basis, LawfulBasis::LegitimateInterests);
            assert!(allowance.awaiting_consent);
        }
        refused => panic!("{refused:?}"),
    }
    answer(&guard, &token(&host.mails(), ADA), "email-marketing", true);
    match decide_for(
        &guard,
        MessageClass::Marketing,
        Some("email-marketing"),
        ADA,
        RecipientRole::To,
    ) {
        Decision::Allow(allowance) => {
            assert_eq!(allowance.basis, LawfulBasis::Consent);
            assert!(!allowance.awaiting_consent);
        }
        refused => panic!("{refused:?}"),
    }
}

#[test]
fn staff_can_hand_a_person_their_current_link() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = journey(&host);
    let link = guard
        .preferences_link(&contact("1"))
        .expect("call")
        .expect("a link");
    let token = link
        .strip_prefix(PREFERENCES_URL)
        .expect("the configured page");
    let page = guard.open_preferences(token).expect("call").expect("opens");
    assert_eq!(page.name, "Ada Lovelace");
    guard
        .erase(&contact("2"), &operator(), "Grace's letter")
        .expect("call")
        .expect("erased");
    assert!(matches!(
        guard.preferences_link(&contact("2")).expect("call"),
        Err(RecordError::StatusRefused(_))
    ));
    assert!(matches!(
        guard.preferences_link(&contact("9")).expect("call"),
        Err(RecordError::UnknownPerson(_))
    ));
}

#[test]
fn erasing_and_stopping_processing_on_the_page_take_a_confirming_step() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda Lovelace,ada@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let link = host.mails()[0]
        .link(&server.preferences_url())
        .expect("a link");
    let page = http_get(&link).expect("GET");
    // The serious actions are links to a confirming step, apart from "Save my choices".
    assert!(page.body.contains("class=\"serious\""), "{}", page.body);
    assert!(
        !page.body.contains("value=\"erase\""),
        "one click must not erase"
    );
    for action in ["stop-processing", "erase"] {
        let url = format!("{link}/{action}");
        // A mail scanner follows every link; a form posted without confirming only asks.
        let scanned = http_get(&url).expect("GET");
        assert_eq!(scanned.status, 200, "{}", scanned.body);
        assert!(
            scanned.body.contains("class=\"danger\""),
            "{}",
            scanned.body
        );
        let unconfirmed = http_post_form(&url, &[("confirm", action)]).expect("POST");
        assert_eq!(unconfirmed.status, 200);
        assert!(
            unconfirmed.body.contains("value=\"yes\""),
            "{}",
            unconfirmed.body
        );
        let person = guard.subject(&contact("1")).expect("call").expect("Ada");
        assert_eq!(
            person.status,
            privacy_guard_host::contract::subjects::PersonStatus::Active,
            "{action} acted unconfirmed"
        );
    }
    let stopped =
        http_post_form(&format!("{link}/stop-processing"), &[("confirm", "yes")]).expect("POST");
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!(
        refusal_of(&marketing_to(&guard, ADA)),
        Some(RefusalReason::ProcessingRestricted)
    );
}

#[test]
fn every_answer_of_the_page_is_uncached_unreferred_and_unsniffed_redirects_and_errors_too() {
    // The 303 after a one-click GET carried the token without cache or referrer headers,
    // and no answer said `nosniff`: every answer under /preferences now does.
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda Lovelace,ada@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let link = host
        .mails()
        .iter()
        .find(|mail| mail.to == [ADA])
        .and_then(|mail| mail.link(&server.preferences_url()))
        .expect("Ada's link");
    let answers = [
        ("the page", http_get(&link)),
        (
            "a choice saved",
            http_post_form(&link, &[("email-marketing", "grant")]),
        ),
        (
            "the one-click URL opened (a redirect)",
            http_get(&format!("{link}/unsubscribe/email-marketing")),
        ),
        ("a confirming step", http_get(&format!("{link}/erase"))),
        (
            "a receipt that is not hers",
            http_get(&format!("{link}/receipts/999999")),
        ),
        (
            "a token that is not one",
            http_get(&format!("{}not-a-token", server.preferences_url())),
        ),
    ];
    let mut statuses = Vec::new();
    for (what, answer) in answers {
        let answer = answer.unwrap_or_else(|error| panic!("{what}: {error}"));
        let headers = answer.headers.to_ascii_lowercase();
        for header in [
            "cache-control: no-store",
            "referrer-policy: no-referrer",
            "x-content-type-options: nosniff",
        ] {
            assert!(
                headers.contains(header),
                "{what} ({}) lacks {header}:\n{headers}",
                answer.status
            );
        }
        statuses.push(answer.status);
    }
    assert!(
        statuses.contains(&303),
        "a redirect was among them: {statuses:?}"
    );
    assert!(
        statuses.iter().any(|status| *status >= 400),
        "an error was among them: {statuses:?}"
    );
}
