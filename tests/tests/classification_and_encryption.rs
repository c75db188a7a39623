//! Personal-data classification of fields, and the fields classified `encrypted` stored
//! encrypted at rest: the real component in the real host on a real database (a SQLite
//! file, or PostgreSQL), read back behind the host's back with sqlx.

use privacy_guard_host::contract::configuration::{
    ConsentDefault, ConsentDefinition, ConsentKind, FieldClass, Settings,
};
use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::read_records;
use privacy_guard_host::settings::SettingsPatch;
use privacy_guard_host::storage::{RecordRow, UnitOfWork};
use privacy_guard_tests::scenario::{block_on, record};
use privacy_guard_tests::{TestHost, contains_bytes, email_marketing_consent, operator, settings};

const PREFERENCES_URL: &str = "http://127.0.0.1:9/preferences/";

fn class(field: &str, flags: &str) -> FieldClass {
    FieldClass {
        field: field.into(),
        personal: flags.contains('p'),
        essential: flags.contains('e'),
        sensitive: flags.contains('s'),
        encrypted: flags.contains('x'),
    }
}

fn classify(guard: &Guard, field: &str, flags: &str) {
    classify_in(guard, "contacts", field, flags);
}

fn classify_in(guard: &Guard, module: &str, field: &str, flags: &str) {
    guard
        .classify_field(module, &class(field, flags))
        .expect("call")
        .unwrap_or_else(|problems| panic!("{module}.{field} refused: {problems:?}"));
}

fn import(guard: &Guard, csv: &str) {
    import_into(guard, "contacts", csv);
}

fn import_into(guard: &Guard, module: &str, csv: &str) {
    guard
        .import_records(module, read_records(csv.as_bytes()).expect("csv"), &|_| {})
        .expect("import");
}

/// The test settings with accounts holding people besides contacts and leads.
fn settings_with_accounts() -> Settings {
    Settings {
        person_modules: vec!["contacts".into(), "leads".into(), "accounts".into()],
        ..settings(PREFERENCES_URL)
    }
}

/// Asserts that the stored fields of `module`/`id` hold `plain` only sealed, read with a
/// plain SELECT behind the host's back, and that no file of the database holds it.
fn assert_sealed_in_the_database(host: &TestHost, module: &str, id: &str, plain: &str) {
    let stored = raw(
        host,
        &format!("SELECT fields FROM records WHERE module = '{module}' AND id = '{id}'"),
    );
    assert_eq!(stored.len(), 1, "one record {module}/{id}");
    assert!(!stored[0].contains(plain), "{module}/{id}: {}", stored[0]);
    assert!(
        stored[0].contains("pgenc:v1:"),
        "{module}/{id}: {}",
        stored[0]
    );
    assert!(
        !contains_bytes(&host.database_bytes(), plain),
        "{module}/{id}: no plain text anywhere in the database's files"
    );
}

/// Runs `statement` on the host's database directly, as someone with access to it would.
fn raw(host: &TestHost, statement: &str) -> Vec<String> {
    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(statement.to_owned()))
            .fetch_all(&mut connection)
            .await
            .expect("query")
    })
}

#[test]
fn a_sixth_encrypted_field_is_refused_naming_the_limit_and_encryption_needs_personal_data() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    for field in ["phone", "mobile", "birthday", "iban", "passport"] {
        classify(&guard, field, "px");
    }
    let problems = guard
        .classify_field("contacts", &class("tax_id", "px"))
        .expect("call")
        .expect_err("a sixth encrypted field");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].at, "field[tax_id].encrypted");
    assert!(
        problems[0]
            .message
            .contains("5 encrypted fields, the limit per module"),
        "{problems:?}"
    );
    // Re-classifying one of the five, and encrypting in the other module, stay allowed.
    classify(&guard, "phone", "psx");
    guard
        .classify_field("leads", &class("tax_id", "px"))
        .expect("call")
        .expect("leads have their own limit");

    let problems = guard
        .classify_field("contacts", &class("notes", "x"))
        .expect("call")
        .expect_err("encrypted without personal");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("only a personal field can be encrypted"),
        "{problems:?}"
    );
    let problems = guard
        .classify_field("contacts", &class("email", "px"))
        .expect("call")
        .expect_err("the look-up address");
    assert!(
        problems[0]
            .message
            .contains("email address cannot be encrypted"),
        "{problems:?}"
    );

    let classes = guard.field_classes("contacts").expect("classes");
    let fields: Vec<&str> = classes.iter().map(|class| class.field.as_str()).collect();
    assert_eq!(fields, ["phone", "mobile", "birthday", "iban", "passport"]);
    assert!(classes[0].sensitive && classes[0].encrypted);
}

#[test]
fn sensitive_non_essential_fields_without_a_data_consent_are_suggested() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    classify(&guard, "phone", "ps");
    classify(&guard, "birthday", "ps");
    classify(&guard, "iban", "pes");
    classify(&guard, "city", "p");
    classify(&guard, "notes", "");
    assert_eq!(
        guard
            .suggested_data_consents("contacts")
            .expect("suggestions"),
        ["phone", "birthday"]
    );
    guard
        .put_consent(
            &ConsentDefinition {
                id: "phone-calls".into(),
                module: "contacts".into(),
                kind: ConsentKind::Data("phone".into()),
                title: "Calls about offers".into(),
                purpose: "We call you about offers that fit your contract.".into(),
                default_value: ConsentDefault::No,
                applies_when: Vec::new(),
                translations: Vec::new(),
                max_age_months: 0,
            },
            None,
        )
        .expect("call")
        .expect("consent");
    assert_eq!(
        guard
            .suggested_data_consents("contacts")
            .expect("suggestions"),
        ["birthday"]
    );
    assert!(
        guard
            .suggested_data_consents("leads")
            .expect("suggestions")
            .is_empty()
    );
}

#[test]
fn an_encrypted_phone_number_is_not_in_the_database_file_but_reads_back_in_plain_text() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    classify(&guard, "phone", "psx");
    import(
        &guard,
        "name,email,phone\nAda Lovelace,ada@example.com,+49 30 1234567\n",
    );
    let record = guard
        .record("contacts", "1")
        .expect("read")
        .expect("record");
    assert_eq!(record.field("phone"), "+49 30 1234567");
    assert_eq!(record.field("name"), "Ada Lovelace");
    let page = guard.database();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listed = runtime
        .block_on(page.records_page("contacts", None, 10))
        .expect("page");
    assert_eq!(listed[0].field("phone"), "+49 30 1234567");
    drop(guard);

    let stored = raw(
        &host,
        "SELECT fields FROM records WHERE module = 'contacts' AND id = '1'",
    );
    assert!(!stored[0].contains("1234567"), "{}", stored[0]);
    assert!(stored[0].contains("pgenc:v1:"), "{}", stored[0]);
    assert!(
        stored[0].contains("Ada Lovelace"),
        "unclassified fields stay plain"
    );
    let bytes = host.database_bytes();
    assert!(
        contains_bytes(&bytes, "Ada Lovelace"),
        "the bytes read hold the stored records"
    );
    assert!(
        !contains_bytes(&bytes, "1234567"),
        "no plaintext anywhere in the database's files"
    );

    let guard = host.open().expect("host re-opens");
    let record = guard
        .record("contacts", "1")
        .expect("read")
        .expect("record");
    assert_eq!(record.field("phone"), "+49 30 1234567");
}

#[test]
fn values_stored_before_a_field_is_classified_encrypted_are_encrypted_by_the_classification() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    import(
        &guard,
        "email,phone\nada@example.com,+49 30 1234567\ngrace@example.com,\n",
    );
    classify(&guard, "phone", "px");
    let ada = guard.record("contacts", "1").expect("read").expect("ada");
    assert_eq!(ada.field("phone"), "+49 30 1234567");
    drop(guard);
    let stored = raw(&host, "SELECT fields FROM records ORDER BY id");
    assert!(!stored[0].contains("1234567"), "{}", stored[0]);
    assert!(stored[0].contains("pgenc:v1:"), "{}", stored[0]);
    assert!(
        !stored[1].contains("pgenc:v1:"),
        "an empty value stays empty: {}",
        stored[1]
    );
}

#[test]
fn a_value_encrypted_under_an_old_key_still_decrypts_after_a_key_rotation() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    classify(&guard, "phone", "px");
    import(&guard, "email,phone\nada@example.com,+49 30 1111111\n");
    let new_key = guard.rotate_field_key().expect("rotate");
    import(&guard, "email,phone\ngrace@example.com,+49 30 2222222\n");
    drop(guard);

    let stored = raw(&host, "SELECT fields FROM records ORDER BY id");
    assert_eq!(stored.len(), 2);
    assert!(
        !stored[0].contains(&new_key),
        "ada's phone was written before the rotation"
    );
    assert!(
        stored[1].contains(&format!("pgenc:v1:{new_key}:")),
        "{}",
        stored[1]
    );

    let guard = host.open().expect("host re-opens");
    let ada = guard.record("contacts", "1").expect("read").expect("ada");
    let grace = guard.record("contacts", "2").expect("read").expect("grace");
    assert_eq!(ada.field("phone"), "+49 30 1111111");
    assert_eq!(grace.field("phone"), "+49 30 2222222");
}

#[test]
fn tampering_with_a_stored_ciphertext_makes_reading_the_record_fail_naming_the_field() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    classify(&guard, "phone", "px");
    import(&guard, "email,phone\nada@example.com,+49 30 1234567\n");
    drop(guard);

    let stored = raw(&host, "SELECT fields FROM records WHERE id = '1'");
    let mut fields: Vec<(String, String)> = serde_json::from_str(&stored[0]).expect("json");
    let phone = &mut fields
        .iter_mut()
        .find(|(name, _)| name == "phone")
        .expect("phone")
        .1;
    // Flip one character of the ciphertext's base64 (not the padding).
    let position = phone.len() - 4;
    let flipped = if &phone[position..=position] == "A" {
        "B"
    } else {
        "A"
    };
    phone.replace_range(position..=position, flipped);
    let tampered = serde_json::to_string(&fields).expect("json");
    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        sqlx::query("UPDATE records SET fields = $1 WHERE id = '1'")
            .bind(tampered)
            .execute(&mut connection)
            .await
            .expect("tamper");
    });

    let guard = host.open().expect("host re-opens");
    let error = guard
        .record("contacts", "1")
        .expect_err("a tampered value never reads as anything");
    let message = error.to_string();
    assert!(
        message.contains("field phone of record contacts/1")
            && message.contains("cannot be decrypted"),
        "{message}"
    );
}

#[test]
fn a_field_another_host_process_classified_encrypted_is_never_written_in_plain_text_here() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    // Two host processes on one database: `here` already knows which fields are encrypted
    // (none) when `there` classifies the phone number.
    let here = host.open().expect("first host");
    let there = host.open().expect("second host");
    import(&here, "name,email\nAda Lovelace,ada@example.com\n");
    classify(&there, "phone", "psx");
    // A user's edit in the first process (imports ask the plugin anew anyway).
    let person = privacy_guard_host::contract::types::RecordRef {
        module: "contacts".into(),
        id: "1".into(),
    };
    here.edit_record(&person, &[("phone".into(), "+1 555 0199 7731".into())])
        .expect("call")
        .expect("saved");
    let stored = raw(
        &host,
        "SELECT fields FROM records WHERE module = 'contacts' AND id = '1'",
    );
    assert!(!stored[0].contains("0199 7731"), "{}", stored[0]);
    assert!(stored[0].contains("pgenc:v1:"), "{}", stored[0]);
    assert_eq!(
        here.record("contacts", "1")
            .expect("read")
            .expect("record")
            .field("phone"),
        "+1 555 0199 7731"
    );
}

#[test]
fn a_value_another_host_process_encrypted_under_a_key_it_just_made_reads_back_here() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let here = host.open().expect("first host");
    let there = host.open().expect("second host");
    classify(&here, "phone", "psx");
    import(
        &here,
        "name,email,phone\nAda,ada@example.com,+44 20 7946 0001\n",
    );
    // The second host rotates the field key and writes under the new key, which the first
    // host has never read.
    there.rotate_field_key().expect("rotate");
    import(
        &there,
        "name,email,phone\nGrace,grace@example.com,+1 555 0100 2002\n",
    );
    let read = |id: &str| {
        here.record("contacts", id)
            .expect("read")
            .expect("record")
            .field("phone")
            .to_owned()
    };
    let key_id = |id: &str| {
        let stored = raw(
            &host,
            &format!("SELECT fields FROM records WHERE module = 'contacts' AND id = '{id}'"),
        );
        let start = stored[0].find("pgenc:v1:").expect("an encrypted value") + "pgenc:v1:".len();
        stored[0][start..]
            .split(':')
            .next()
            .expect("a key id")
            .to_owned()
    };
    assert_ne!(
        key_id("1"),
        key_id("2"),
        "the second value is under the new key"
    );
    assert_eq!(read("2"), "+1 555 0100 2002");
    assert_eq!(read("1"), "+44 20 7946 0001");
}

#[test]
fn an_encrypted_field_of_a_person_module_beyond_contacts_and_leads_is_not_in_the_database_file() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    guard
        .set_settings(&settings_with_accounts())
        .expect("call")
        .expect("settings accepted");
    classify_in(&guard, "accounts", "phone", "psx");
    import_into(
        &guard,
        "accounts",
        "id,name,email,phone\nA-1,Analytical Engines Ltd,office@engines.example,+49 30 7654 3210\n",
    );
    let account = guard
        .record("accounts", "A-1")
        .expect("read")
        .expect("account");
    assert_eq!(account.field("phone"), "+49 30 7654 3210");
    drop(guard);

    assert_sealed_in_the_database(&host, "accounts", "A-1", "7654 3210");
    let guard = host.open().expect("host re-opens");
    let account = guard
        .record("accounts", "A-1")
        .expect("read")
        .expect("account");
    assert_eq!(account.field("phone"), "+49 30 7654 3210");
    assert_eq!(account.field("name"), "Analytical Engines Ltd");
}

#[test]
fn a_module_made_a_person_module_after_the_host_learnt_the_encrypted_fields_is_learnt_again() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    // Two host processes on one database, both of which have written records (and so
    // learnt which fields are encrypted) while only contacts and leads held people.
    let here = host.open().expect("first host");
    let there = host.open().expect("second host");
    here.set_settings(&settings(PREFERENCES_URL))
        .expect("call")
        .expect("settings accepted");
    classify(&here, "phone", "psx");
    import(&here, "name,email\nAda Lovelace,ada@example.com\n");
    import(&there, "name,email\nGrace Hopper,grace@example.com\n");

    let saved = here
        .change_settings(SettingsPatch {
            person_modules: Some(vec!["contacts".into(), "leads".into(), "accounts".into()]),
            ..SettingsPatch::default()
        })
        .expect("call")
        .expect("saved");
    assert_eq!(saved.person_modules, ["contacts", "leads", "accounts"]);
    // The settings change taught the host the new module's classes: the CRM's own write
    // of an account is stored, not refused as a module it never asked about.
    let mut work = UnitOfWork::default();
    work.records.insert(
        ("accounts".into(), "A-0".into()),
        RecordRow {
            module: "accounts".into(),
            id: "A-0".into(),
            fields: vec![("email".into(), "desk@looms.example".into())],
            status: "Active".into(),
            locked: false,
            modified_at: 0,
        },
    );
    block_on(here.database().commit(&work, 0)).expect("the host knows accounts now");
    classify_in(&here, "accounts", "phone", "psx");
    import_into(
        &here,
        "accounts",
        "id,name,email,phone\nA-1,Analytical Engines Ltd,office@engines.example,+49 30 7654 3210\n",
    );
    // A user's edit in the other process, which learnt the fields before accounts held
    // people.
    there
        .edit_record(
            &record("accounts", "A-1"),
            &[("phone".into(), "+49 30 8765 4321".into())],
        )
        .expect("call")
        .expect("saved");
    let account = here
        .record("accounts", "A-1")
        .expect("read")
        .expect("account");
    assert_eq!(account.field("phone"), "+49 30 8765 4321");
    drop((here, there));

    assert_sealed_in_the_database(&host, "accounts", "A-1", "7654 3210");
    assert_sealed_in_the_database(&host, "accounts", "A-1", "8765 4321");
}

#[test]
fn values_a_person_module_beyond_contacts_and_leads_held_before_its_field_was_classified_encrypted_are_encrypted()
 {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    guard
        .set_settings(&settings_with_accounts())
        .expect("call")
        .expect("settings accepted");
    import_into(
        &guard,
        "accounts",
        "id,email,phone\nA-1,office@engines.example,+49 30 7654 3210\nA-2,desk@looms.example,\n",
    );
    classify_in(&guard, "accounts", "phone", "px");
    let account = guard
        .record("accounts", "A-1")
        .expect("read")
        .expect("account");
    assert_eq!(account.field("phone"), "+49 30 7654 3210");
    drop(guard);
    let stored = raw(
        &host,
        "SELECT fields FROM records WHERE module = 'accounts' ORDER BY id",
    );
    assert_eq!(stored.len(), 2);
    assert!(!stored[0].contains("7654 3210"), "{}", stored[0]);
    assert!(stored[0].contains("pgenc:v1:"), "{}", stored[0]);
    assert!(
        !stored[1].contains("pgenc:v1:"),
        "an empty value stays empty: {}",
        stored[1]
    );
}

#[test]
fn a_record_of_a_module_the_host_never_asked_the_plugin_about_is_not_written() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    // The host has learnt the encrypted fields of the modules that hold people.
    import(&guard, "name,email\nAda Lovelace,ada@example.com\n");
    let mut work = UnitOfWork::default();
    work.records.insert(
        ("projects".into(), "P-1".into()),
        RecordRow {
            module: "projects".into(),
            id: "P-1".into(),
            fields: vec![("phone".into(), "+49 30 7654 3210".into())],
            status: "Active".into(),
            locked: false,
            modified_at: 0,
        },
    );
    let refused = block_on(guard.database().commit(&work, 0))
        .expect_err("never written on the guess that nothing of it is encrypted");
    let message = refused.to_string();
    assert!(
        message.contains("`projects`") && message.contains("person-modules"),
        "{message}"
    );
    drop(guard);
    assert!(
        raw(&host, "SELECT id FROM records WHERE module = 'projects'").is_empty(),
        "nothing of the record was written"
    );
}

#[test]
fn an_erasure_suppresses_the_record_of_a_module_that_stopped_holding_people_and_keeps_it_sealed() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    guard
        .set_settings(&settings_with_accounts())
        .expect("call")
        .expect("settings accepted");
    guard
        .put_consent(&email_marketing_consent(), None)
        .expect("call")
        .expect("consent accepted");
    let account_news = ConsentDefinition {
        id: "account-news".into(),
        module: "accounts".into(),
        ..email_marketing_consent()
    };
    guard
        .put_consent(&account_news, None)
        .expect("call")
        .expect("consent accepted");
    guard.enable(true).expect("call").expect("consents enabled");
    classify_in(&guard, "accounts", "phone", "psx");
    import_into(
        &guard,
        "accounts",
        "id,name,email,phone\nA-1,Ada's Engines,ada@example.com,+49 30 7654 3210\n",
    );
    import(&guard, "name,email\nAda Lovelace,ada@example.com\n");
    guard
        .delete_consent("account-news")
        .expect("call")
        .expect("deleted");
    // Without consents, accounts may stop holding people; their records and the plugin's
    // knowledge of them stay.
    guard
        .change_settings(SettingsPatch {
            person_modules: Some(vec!["contacts".into(), "leads".into()]),
            ..SettingsPatch::default()
        })
        .expect("call")
        .expect("saved");
    guard
        .erase(
            &record("contacts", "1"),
            &operator(),
            "Ada's email of 1 December",
        )
        .expect("call")
        .expect("erased");
    let account = guard
        .record("accounts", "A-1")
        .expect("read")
        .expect("account");
    assert!(
        account.locked,
        "the other record of the erased address is suppressed"
    );
    assert_eq!(account.field("phone"), "+49 30 7654 3210");
    drop(guard);
    assert_sealed_in_the_database(&host, "accounts", "A-1", "7654 3210");
}
