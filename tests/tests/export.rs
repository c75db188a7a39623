//! The export of everything held about a person, compared with the database row by row:
//! every row of every table that concerns the person appears in it (and a test of the
//! comparison shows it notices a missing one), encrypted fields decrypted, nothing of
//! anyone else; and the CSV holds every value of the JSON. Through the real component in
//! the real host, on SQLite, or PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL` names a
//! server.

use std::collections::BTreeSet;

use privacy_guard_host::cases::{CaseKind, Regime};
use privacy_guard_host::contract::configuration::FieldClass;
use privacy_guard_host::contract::sending::{
    LawfulBasis, MailContent, MessageClass, Recipient, RecipientRole, SendRequest,
};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::{CaseRequest, Guard};
use privacy_guard_tests::scenario::{basis_of, block_on, contact, import_csv};
use privacy_guard_tests::{TestHost, configure, operator};
use serde_json::Value;
use sqlx::Row;

/// What the database holds about a person, read behind the host's back.
#[derive(Debug)]
struct HeldInTheDatabase {
    /// The record's fields column as stored (encrypted values sealed).
    stored_fields: String,
    consent_events: Vec<Value>,
    mail_ids: BTreeSet<String>,
    /// Each case id with the sequences of its events.
    cases: Vec<(String, Vec<i64>)>,
}

fn held(host: &TestHost, person: &RecordRef, address: &str) -> HeldInTheDatabase {
    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        let stored_fields: String =
            sqlx::query_scalar("SELECT fields FROM records WHERE module = $1 AND id = $2")
                .bind(&person.module)
                .bind(&person.id)
                .fetch_one(&mut connection)
                .await
                .expect("record");
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM plugin_events WHERE stream = $1 ORDER BY sequence",
        )
        .bind(format!("{}/{}", person.module, person.id))
        .fetch_all(&mut connection)
        .await
        .expect("events");
        let mail_ids: Vec<String> =
            sqlx::query_scalar("SELECT message_id FROM outbox_recipients WHERE address = $1")
                .bind(address)
                .fetch_all(&mut connection)
                .await
                .expect("mail");
        let case_ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM rights_requests WHERE module = $1 AND record_id = $2 ORDER BY id",
        )
        .bind(&person.module)
        .bind(&person.id)
        .fetch_all(&mut connection)
        .await
        .expect("cases");
        let mut cases = Vec::new();
        for id in case_ids {
            let rows = sqlx::query(
                "SELECT sequence FROM plugin_events WHERE stream = $1 ORDER BY sequence",
            )
            .bind(format!("case:{id}"))
            .fetch_all(&mut connection)
            .await
            .expect("case events");
            let sequences = rows
                .iter()
                .map(|row| row.try_get::<i64, _>(0).expect("sequence"))
                .collect();
            cases.push((id, sequences));
        }
        HeldInTheDatabase {
            stored_fields,
            consent_events: payloads
                .iter()
                .map(|payload| serde_json::from_str(payload).expect("JSON"))
                .collect(),
            mail_ids: mail_ids.into_iter().collect(),
            cases,
        }
    })
}

/// What the database holds that the export does not show: empty when nothing is missed.
fn missing_from(document: &Value, held: &HeldInTheDatabase) -> Vec<String> {
    let mut missing = Vec::new();
    let history = document["consents"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (position, event) in held.consent_events.iter().enumerate() {
        if history.get(position) != Some(event) {
            missing.push(format!("consent event {position}: {event}"));
        }
    }
    let exported_mail: BTreeSet<String> = document["mail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|mail| mail["message_id"].as_str().map(str::to_owned))
        .collect();
    for id in held.mail_ids.difference(&exported_mail) {
        missing.push(format!("mail {id}"));
    }
    let exported_cases = document["cases"].as_array().cloned().unwrap_or_default();
    for (id, sequences) in &held.cases {
        let Some(case) = exported_cases.iter().find(|case| case["id"] == id.as_str()) else {
            missing.push(format!("case {id}"));
            continue;
        };
        let exported: Vec<i64> = case["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|event| event["sequence"].as_i64())
            .collect();
        if &exported != sequences {
            missing.push(format!(
                "events of case {id}: {sequences:?}, exported {exported:?}"
            ));
        }
    }
    missing
}

fn classify_encrypted(guard: &Guard, field: &str) {
    let class = FieldClass {
        field: field.into(),
        personal: true,
        essential: false,
        sensitive: false,
        encrypted: true,
    };
    guard
        .classify_field("contacts", &class)
        .expect("call")
        .unwrap_or_else(|problems| panic!("not classified: {problems:?}"));
}

/// Ada (contacts/1) asked to opt in, granted, with an access case verified and open, a
/// restriction, and an invoice sent on a legal ground; Grace (contacts/2) beside her.
fn ada_with_a_history() -> (TestHost, Guard) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("open");
    configure(&guard, "https://example.com/preferences");
    classify_encrypted(&guard, "phone");
    import_csv(
        &guard,
        "contacts",
        "id,name,email,phone\n1,Ada Lovelace,ada@example.com,+44 7700 1\n2,Grace Hopper,grace@example.com,+1 555 2\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let ada = contact("1");
    guard
        .record_decision(&ada, "email-marketing", true, &operator(), "phone call")
        .expect("call")
        .expect("granted");
    let request = CaseRequest {
        kind: CaseKind::Access,
        person: ada.clone(),
        regime: Regime::Gdpr,
        received_on: None,
    };
    guard
        .open_case(&request, &operator())
        .expect("call")
        .expect("opened");
    guard
        .restrict(&ada, &operator(), "disputes accuracy")
        .expect("call")
        .expect("restricted");
    let invoice = SendRequest {
        class: MessageClass::Transactional,
        purpose: None,
    };
    let recipient = Recipient {
        address: "ada@example.com".into(),
        role: RecipientRole::To,
        person: Some(ada.clone()),
    };
    assert_eq!(
        basis_of(&guard.check_send(&invoice, std::slice::from_ref(&recipient))[0]),
        Some(LawfulBasis::LegalObligation)
    );
    let mail = MailContent {
        message_id: Some("invoice-2026-0042".into()),
        subject: "Your invoice".into(),
        text_body: "Invoice attached.\n".into(),
        html_body: None,
    };
    guard.render(&invoice, &mail, &[recipient]);
    (host, guard)
}

#[test]
fn the_export_holds_every_row_the_database_keeps_about_the_person_and_nothing_of_others() {
    let (host, guard) = ada_with_a_history();
    let ada = contact("1");
    let export = guard.export_person(&ada).expect("export");
    let document = &export.document;
    let held = held(&host, &ada, "ada@example.com");

    assert_eq!(missing_from(document, &held), Vec::<String>::new());
    assert!(held.consent_events.len() >= 3, "{:?}", held.consent_events);
    assert!(
        !held.mail_ids.is_empty(),
        "the request and the case's code were mailed"
    );
    assert_eq!(held.cases.len(), 1);
    // Every field, the encrypted one decrypted (and sealed in the database).
    assert_eq!(document["record"]["fields"]["phone"], "+44 7700 1");
    assert_eq!(document["record"]["fields"]["email"], "ada@example.com");
    assert_eq!(document["record"]["fields"]["name"], "Ada Lovelace");
    assert!(
        !held.stored_fields.contains("+44 7700 1"),
        "{}",
        held.stored_fields
    );
    // Consents: the current value, and the mail sent on a legal ground with its basis.
    assert_eq!(
        document["consents"]["current"][0]["consent"],
        "email-marketing"
    );
    assert_eq!(document["consents"]["current"][0]["value"], "granted");
    assert_eq!(document["consents"]["status"], "restricted");
    let grounds = document["sent_on_legal_ground"].as_array().expect("list");
    assert_eq!(grounds.len(), 1, "{grounds:?}");
    assert_eq!(grounds[0]["lawful_basis"], "legal-obligation");
    assert_eq!(grounds[0]["class"], "transactional");
    assert_eq!(grounds[0]["message_id"], "invoice-2026-0042");
    let subjects: Vec<&str> = document["mail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|mail| mail["subject"].as_str())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|subject| subject.contains("confirmation code")),
        "{subjects:?}"
    );
    // Nothing of Grace.
    let text = export.json();
    assert!(
        !text.contains("grace@example.com") && !text.contains("Grace"),
        "{text}"
    );
}

#[test]
fn the_comparison_with_the_database_notices_a_missing_event_mail_or_case() {
    let (host, guard) = ada_with_a_history();
    let ada = contact("1");
    let document = guard.export_person(&ada).expect("export").document;
    let held = held(&host, &ada, "ada@example.com");
    let without = |pointer: &str, remove: &dyn Fn(&mut Value)| {
        let mut changed = document.clone();
        remove(changed.pointer_mut(pointer).expect(pointer));
        missing_from(&changed, &held)
    };
    let pop = |value: &mut Value| {
        value.as_array_mut().expect("list").pop();
    };
    assert_eq!(without("/consents/history", &pop).len(), 1);
    assert_eq!(without("/mail", &pop).len(), 1);
    assert_eq!(without("/cases", &pop).len(), 1);
    assert_eq!(without("/cases/0/events", &pop).len(), 1);
}

#[test]
fn the_csv_has_one_row_per_value_of_the_json_in_named_sections() {
    let (_host, guard) = ada_with_a_history();
    let export = guard.export_person(&contact("1")).expect("export");
    let csv = export.csv().expect("csv");
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], ["section", "item", "name", "value"]);
    assert!(rows[1..].iter().all(|row| row.len() == 4), "{rows:?}");
    let scalars = count_scalars(&export.document);
    assert_eq!(rows.len() - 1, scalars, "one row per non-null value");
    let sections: BTreeSet<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
    for section in [
        "export",
        "person",
        "record",
        "consents",
        "consent_history",
        "mail",
        "sent_on_legal_ground",
        "cases",
        "case_events",
    ] {
        assert!(sections.contains(section), "no {section} in {sections:?}");
    }
    assert!(
        rows.iter()
            .any(|row| row[0] == "record" && row[2] == "fields.phone" && row[3] == "+44 7700 1")
    );
    assert!(rows.iter().any(|row| row[0] == "consents"
        && row[1] == "email-marketing"
        && row[2] == "value"
        && row[3] == "granted"));
}

#[test]
fn an_erased_person_is_exported_as_erased_and_a_stranger_is_refused() {
    let (host, guard) = ada_with_a_history();
    let ada = contact("1");
    guard
        .erase(&ada, &operator(), "letter of 1 December")
        .expect("call")
        .expect("erased");
    let export = guard.export_person(&ada).expect("export");
    assert_eq!(export.document["consents"]["status"], "erased");
    assert!(
        !export.json().contains("ada@example.com"),
        "{}",
        export.json()
    );
    assert_eq!(export.document["cases"].as_array().map(Vec::len), Some(1));
    let kept_addresses: Vec<Option<String>> = block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        sqlx::query_scalar("SELECT address FROM rights_requests")
            .fetch_all(&mut connection)
            .await
            .expect("cases")
    });
    assert_eq!(
        kept_addresses,
        [None],
        "the open case forgot the erased address"
    );
    assert!(
        !privacy_guard_tests::contains_bytes(&host.database_bytes(), "ada@example.com"),
        "no copy of the erased address in the database's files"
    );
    let stranger = guard.export_person(&contact("404"));
    assert!(stranger.is_err_and(|error| {
        error
            .to_string()
            .contains("nothing is held about contacts/404")
    }),);
}

fn count_scalars(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Object(map) => map.values().map(count_scalars).sum(),
        Value::Array(items) => items.iter().map(count_scalars).sum(),
        _ => 1,
    }
}

/// RFC 4180: fields separated by commas, quoted with `"` (doubled inside), rows by newlines.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match (quoted, character) {
            (true, '"') if characters.peek() == Some(&'"') => {
                field.push('"');
                characters.next();
            }
            (true, '"') => quoted = false,
            (true, other) => field.push(other),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, other) => field.push(other),
        }
    }
    rows
}
