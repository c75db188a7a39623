//! The record of processing (Art. 30) of a known configuration, made through the real
//! component in the real host: its controller, one activity per consent with its purpose
//! text by version and hash, the lawful bases, the categories of data from the field
//! classification (a sensitive field a special category), retention, and every field the
//! configuration cannot know written "to be completed" and listed; the Markdown and CSV
//! forms say the same, and the API answers the same register. On SQLite, and on
//! PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL` names a server.

use std::sync::Arc;

use privacy_guard_host::contract::configuration::{
    ConsentDefinition, ConsentKind, FieldClass, PurposeChange,
};
use privacy_guard_host::contract::types::Regime;
use privacy_guard_host::register::{CSV_COLUMNS, TO_BE_COMPLETED};
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Tenants};
use privacy_guard_tests::{
    TestHost, WebServer, email_marketing_consent, http_call, opt_in_everywhere, settings,
    tracking_consent,
};
use serde_json::Value;

fn health_consent() -> ConsentDefinition {
    ConsentDefinition {
        id: "health-offers".into(),
        module: "contacts".into(),
        kind: ConsentKind::Data("health_notes".into()),
        title: "Offers fitting your health notes".into(),
        purpose: "We keep the health notes you gave us to suggest suitable treatments.".into(),
        max_age_months: 24,
        ..email_marketing_consent()
    }
}

fn configured() -> (TestHost, Arc<privacy_guard_host::guard::Guard>) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let mut settings = settings("https://example.org/preferences/");
    settings.regimes = opt_in_everywhere();
    settings.regimes.field = "country".into();
    settings.regimes.values = vec![("US".into(), Regime::OptOut)];
    settings.regimes.purchase_field = "last_purchase".into();
    guard
        .set_settings(&settings)
        .expect("call")
        .expect("settings");
    for (field, sensitive, encrypted) in [("health_notes", true, true), ("phone", false, false)] {
        guard
            .classify_field(
                "contacts",
                &FieldClass {
                    field: field.into(),
                    personal: true,
                    essential: false,
                    sensitive,
                    encrypted,
                },
            )
            .expect("call")
            .expect("classified");
    }
    for consent in [
        email_marketing_consent(),
        tracking_consent("email-tracking", ConsentKind::EmailTracking),
        health_consent(),
    ] {
        guard
            .put_consent(&consent, None)
            .expect("call")
            .unwrap_or_else(|problems| panic!("{problems:?}"));
    }
    // The soft opt-in names a consent, so it is set once the consent exists.
    settings.regimes.soft_opt_in = vec!["email-marketing".into()];
    guard
        .set_settings(&settings)
        .expect("call")
        .expect("settings");
    // A material change: the register names the purpose text now, version 2.
    let mut revised = email_marketing_consent();
    revised.purpose = "We use your email address to send you our newsletter, offers and event invitations, at most twice a month.".into();
    guard
        .put_consent(&revised, Some(PurposeChange::Material))
        .expect("call")
        .expect("revised");
    (host, guard)
}

/// The rows of RFC 4180 CSV: fields separated by commas, quoted when they hold a comma, a
/// quote (doubled) or a line break.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
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
    assert!(
        !quoted && field.is_empty() && row.is_empty(),
        "the CSV ends its last row"
    );
    rows
}

#[test]
fn the_register_of_a_known_configuration_names_what_it_knows_and_lists_what_it_cannot() {
    let (_host, guard) = configured();
    let register = guard.processing_register().expect("register");
    assert_eq!(register.generated_on, "2026-12-01");
    assert_eq!(register.controller.name, "Example Ltd");
    assert_eq!(
        register.controller.postal_address,
        "1 Example Street, 10115 Berlin, Germany"
    );
    assert_eq!(register.controller.contact, "privacy@example.org");
    assert_eq!(register.controller.data_protection_officer, TO_BE_COMPLETED);
    assert_eq!(register.controller.representative, TO_BE_COMPLETED);

    // One activity per consent, then mail on other grounds, then the proof of consent.
    let names: Vec<&str> = register
        .activities
        .iter()
        .map(|activity| activity.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "News and offers by email",
            "Tracking (email-tracking)",
            "Offers fitting your health notes",
            "Mail sent on grounds other than consent",
            "Proof of consent and of rights requests",
        ]
    );
    let marketing = &register.activities[0];
    assert!(
        marketing.purpose.contains("event invitations"),
        "{marketing:?}"
    );
    assert!(
        marketing
            .source
            .starts_with("consent `email-marketing` (purpose version 2, sha256:"),
        "{}",
        marketing.source
    );
    assert!(marketing.lawful_basis.contains("Art. 6(1)(a)"));
    assert_eq!(marketing.data_categories, ["email address", "`email`"]);
    assert!(marketing.special_categories.is_empty());
    assert_eq!(
        marketing.data_subjects,
        "people held in the CRM's `contacts`"
    );
    assert!(
        marketing
            .retention
            .starts_with("while the consent is granted")
    );
    assert_eq!(marketing.transfers, TO_BE_COMPLETED);
    let tracking = &register.activities[1];
    assert!(
        tracking
            .data_categories
            .iter()
            .any(|category| category.contains("opened"))
    );
    let health = &register.activities[2];
    assert_eq!(health.special_categories, ["`health_notes`"]);
    assert!(
        health.retention.contains("24 months"),
        "{}",
        health.retention
    );
    let other = &register.activities[3];
    assert!(
        other.lawful_basis.contains("Art. 6(1)(b)"),
        "{}",
        other.lawful_basis
    );
    assert!(
        other.lawful_basis.contains("soft opt-in")
            && other.lawful_basis.contains("email-marketing")
    );
    assert!(
        other.lawful_basis.contains("opt-out where `country` is us"),
        "{}",
        other.lawful_basis
    );
    let proof = &register.activities[4];
    assert!(proof.lawful_basis.contains("Art. 7(1)"));
    assert!(
        proof
            .data_categories
            .iter()
            .any(|category| category.contains("/24")),
        "{proof:?}"
    );

    let contacts = register
        .data
        .iter()
        .find(|data| data.module == "contacts")
        .expect("contacts");
    assert_eq!(contacts.sensitive, ["health_notes"]);
    assert_eq!(contacts.encrypted, ["health_notes"]);
    assert!(
        contacts.personal.contains(&"phone".to_owned())
            && contacts.personal.contains(&"email".to_owned()),
        "{contacts:?}"
    );
    assert_eq!(contacts.retained_on_erasure, ["name"]);
    assert!(register.data.iter().any(|data| data.module == "leads"));
    assert!(
        register
            .security_measures
            .iter()
            .any(|measure| measure.contains("encrypted at rest")
                && measure.contains("contacts.health_notes"))
    );
    for blank in [
        "data-protection officer's contact",
        "controller's representative (Art. 27)",
        "News and offers by email: transfers to third countries",
        "Proof of consent and of rights requests: retention",
        "security measures (Art. 32)",
    ] {
        assert!(
            register
                .to_be_completed
                .iter()
                .any(|listed| listed == blank),
            "{blank} in {:?}",
            register.to_be_completed
        );
    }
    assert!(
        !register
            .to_be_completed
            .iter()
            .any(|listed| listed.starts_with("controller name"))
    );

    let markdown = register.to_markdown();
    assert!(markdown.starts_with("# Record of processing activities (GDPR Art. 30(1))"));
    assert!(markdown.contains("| Name | Example Ltd |"));
    assert!(markdown.contains("### 3. Offers fitting your health notes"));
    assert!(markdown.contains("- **Special categories (Art. 9):** `health_notes`"));
    assert!(markdown.contains("| contacts |"));
    assert_eq!(
        markdown.matches("- [ ] ").count(),
        register.to_be_completed.len()
    );

    let csv = register.to_csv().expect("CSV");
    let rows = read_csv(&csv);
    assert_eq!(rows[0], CSV_COLUMNS);
    assert_eq!(rows.len(), register.activities.len() + 1);
    let column = |name: &str| {
        CSV_COLUMNS
            .iter()
            .position(|column| *column == name)
            .expect("a column")
    };
    for (row, activity) in rows[1..].iter().zip(&register.activities) {
        assert_eq!(row.len(), CSV_COLUMNS.len());
        assert_eq!(row[column("activity")], activity.name);
        assert_eq!(row[column("purpose")], activity.purpose);
        assert_eq!(row[column("data_protection_officer")], TO_BE_COMPLETED);
    }
    assert_eq!(rows[3][column("special_categories")], "`health_notes`");
}

#[test]
fn the_api_answers_the_same_register_in_every_form() {
    let (_host, guard) = configured();
    let tenants = Tenants::single(
        guard.clone(),
        vec![
            ApiKey::parse(&format!(
                "auditor:read={}",
                KeyDigest::of_key("pgk_auditor").to_text()
            ))
            .expect("key"),
        ],
    );
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    let response = http_call(
        "GET",
        &format!("http://{}/api/v1/register", server.address),
        &[("Authorization", "Bearer pgk_auditor")],
        None,
    )
    .expect("the API answers");
    assert_eq!(response.status, 200, "{}", response.body);
    let answer: Value = serde_json::from_str(&response.body).expect("JSON");
    let register = guard.processing_register().expect("register");
    assert_eq!(
        answer["register"],
        serde_json::to_value(&register).expect("JSON")
    );
    assert_eq!(answer["markdown"], register.to_markdown());
    assert_eq!(answer["csv"], register.to_csv().expect("CSV"));
}
