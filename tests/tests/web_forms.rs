//! Web-form proof (issue 14, part 2): a record a web form made is sent a consent request
//! only with the form's own proof, an empty honeypot and a form token this installation
//! signed 3 seconds to 24 hours before the record arrived (by the host's clock); otherwise
//! it is kept, sent nothing, and a `request-withheld` event says why.

use privacy_guard_host::guard::{Guard, SafeguardSettings, WebFormProof};
use privacy_guard_tests::scenario::{contact, history_of, import_csv};
use privacy_guard_tests::{TestHost, configure};

fn web_form_settings(guard: &Guard) {
    let settings = SafeguardSettings {
        web_forms: WebFormProof {
            source_field: "leadsource".into(),
            source_value: "Web Site".into(),
            honeypot_field: "website".into(),
            token_field: "form_token".into(),
        },
        ..guard.safeguard_settings().expect("settings")
    };
    guard
        .set_safeguard_settings(&settings)
        .expect("call")
        .expect("settings accepted");
}

fn withheld_reasons(guard: &Guard, id: &str) -> Vec<String> {
    history_of(guard, &contact(id))
        .iter()
        .filter(|event| event["kind"] == "request-withheld")
        .map(|event| event["reason"].as_str().expect("a reason").to_owned())
        .collect()
}

#[test]
fn only_web_form_records_with_the_forms_proof_are_sent_a_request() {
    let host = TestHost::new("2026-11-30T08:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, "https://crm.example.org/preferences/");
    web_form_settings(&guard);
    // Tokens as the CRM's form pages were served them.
    let stale = guard.form_token().expect("token");
    host.set_now("2026-12-01T09:00:00Z");
    let served = guard.form_token().expect("token");
    host.set_now("2026-12-01T09:00:09Z");
    let hurried = guard.form_token().expect("token");
    assert_ne!(served, hurried);
    let forged = {
        let (payload, mac) = served.split_once('.').expect("payload.mac");
        let mut mac = mac.to_owned();
        let last = if mac.ends_with('A') { "B" } else { "A" };
        mac.replace_range(mac.len() - 1.., last);
        format!("{payload}.{mac}")
    };
    host.set_now("2026-12-01T09:00:10Z");
    let csv = format!(
        "id,name,email,leadsource,website,form_token\n\
         1,Ada,ada@example.com,Web Site,,{served}\n\
         2,Bot,victim@example.com,web site,http://spam.example,{served}\n\
         3,Bob,bob@example.com,Web Site,,\n\
         4,Eve,eve@example.com,Web Site,,{forged}\n\
         5,Fay,fay@example.com,Trade Show,,\n\
         6,Gil,gil@example.com,Web Site,,{hurried}\n\
         7,Hal,hal@example.com,Web Site,,{stale}\n\
         8,Ivy,ivy@example.com,Web Site,,not-a-token\n"
    );
    import_csv(&guard, "contacts", &csv);
    let expected = [
        ("1", vec![]),
        ("2", vec!["honeypot-filled"]),
        ("3", vec!["form-token-missing"]),
        ("4", vec!["form-token-invalid"]),
        ("5", vec![]),
        ("6", vec!["form-token-too-fresh"]),
        ("7", vec!["form-token-expired"]),
        ("8", vec!["form-token-invalid"]),
    ];
    for (id, reasons) in &expected {
        assert_eq!(withheld_reasons(&guard, id), *reasons, "contacts/{id}");
        // Every record is kept: the CRM has it.
        assert!(guard.record("contacts", id).expect("read").is_some());
    }
    // The event names the reason and nothing the bot typed.
    let events: Vec<String> = guard.history(&contact("2")).expect("history");
    assert!(
        events
            .iter()
            .all(|event| !event.contains("spam.example") && !event.contains("victim")),
        "{events:?}"
    );

    host.set_now("2026-12-01T10:00:00Z");
    guard.run_daily("2026-12-01", &|_| {}).expect("run");
    let mut mailed: Vec<String> = host
        .mails()
        .iter()
        .flat_map(|mail| mail.to.clone())
        .collect();
    mailed.sort();
    assert_eq!(mailed, ["ada@example.com", "fay@example.com"]);

    // Later runs send the withheld records nothing either, and write nothing more.
    host.set_now("2026-12-02T10:00:00Z");
    guard.run_daily("2026-12-02", &|_| {}).expect("run");
    assert_eq!(host.mails().len(), 2);
    assert_eq!(withheld_reasons(&guard, "2"), ["honeypot-filled"]);

    // A change of a withheld record (the bot's next submission) is not a new proof.
    host.set_now("2026-12-02T11:00:00Z");
    guard
        .edit_record(&contact("3"), &[("form_token".to_owned(), served.clone())])
        .expect("call")
        .expect("edit saved");
    host.set_now("2026-12-03T10:00:00Z");
    guard.run_daily("2026-12-03", &|_| {}).expect("run");
    assert_eq!(host.mails().len(), 2);
}

#[test]
fn without_web_form_settings_no_record_is_held_to_a_proof() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, "https://crm.example.org/preferences/");
    import_csv(
        &guard,
        "contacts",
        "id,name,email,leadsource,website\n1,Ada,ada@example.com,Web Site,http://x.example\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_daily("2026-12-01", &|_| {}).expect("run");
    assert_eq!(host.mails().len(), 1);
    assert!(withheld_reasons(&guard, "1").is_empty());
}

#[test]
fn the_crm_sets_the_proof_and_gets_form_tokens_through_the_api() {
    use std::sync::Arc;

    use privacy_guard_host::tenants::{ApiKey, KeyDigest, Tenants};
    use privacy_guard_tests::{WebServer, http_call};
    use serde_json::{Value, json};

    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let key = |written: &str, key: &str| {
        ApiKey::parse(&format!("{written}={}", KeyDigest::of_key(key).to_text())).expect("key")
    };
    let tenants = Tenants::single(
        guard.clone(),
        vec![
            key("setup:admin", "pgk_setup"),
            key("forms:pre-send", "pgk_forms"),
        ],
    );
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    configure(&guard, &server.preferences_url());
    let call = |key: &str, method: &str, path: &str, body: Option<Value>| {
        let bytes = body.map(|body| body.to_string().into_bytes());
        let response = http_call(
            method,
            &format!("http://{}{path}", server.address),
            &[("Authorization", &format!("Bearer {key}"))],
            bytes.as_deref().map(|bytes| ("application/json", bytes)),
        )
        .expect("the API answers");
        let value: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
        (response.status, value)
    };
    let (status, defaults) = call("pgk_setup", "GET", "/api/v1/safeguards", None);
    assert_eq!(status, 200, "{defaults}");
    assert_eq!(defaults["request_interval_hours"], 24);
    assert_eq!(defaults["link_mail_interval_minutes"], 15);
    assert_eq!(defaults["web_forms"]["source_field"], "");

    let mut wanted = defaults.clone();
    wanted["web_forms"] = json!({
        "source_field": "leadsource", "source_value": "Web Site",
        "honeypot_field": "website", "token_field": "form_token"
    });
    let (status, saved) = call(
        "pgk_setup",
        "PUT",
        "/api/v1/safeguards",
        Some(wanted.clone()),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, wanted);
    // Every problem at once, and nothing changed.
    let mut wrong = wanted.clone();
    wrong["request_interval_hours"] = json!(721);
    wrong["web_forms"]["source_value"] = json!("");
    let (status, refused) = call("pgk_setup", "PUT", "/api/v1/safeguards", Some(wrong));
    assert_eq!(status, 422, "{refused}");
    let at: Vec<&str> = refused["error"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|problem| problem["at"].as_str())
        .collect();
    assert_eq!(
        at,
        ["request-interval-hours", "web-forms.source-value"],
        "{refused}"
    );
    assert_eq!(
        call("pgk_setup", "GET", "/api/v1/safeguards", None).1,
        wanted
    );
    // A key of the CRM's hooks may not change the settings, and gets form tokens.
    assert_eq!(
        call("pgk_forms", "PUT", "/api/v1/safeguards", Some(wanted)).0,
        403
    );
    let (status, token) = call("pgk_forms", "POST", "/api/v1/form-tokens", None);
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["field"], "form_token");
    let token = token["token"].as_str().expect("a token").to_owned();

    host.set_now("2026-12-01T09:01:00Z");
    import_csv(
        &guard,
        "contacts",
        &format!(
            "id,name,email,leadsource,website,form_token\n1,Ada,ada@example.com,Web Site,,{token}\n2,Bob,bob@example.com,Web Site,,\n"
        ),
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_daily("2026-12-01", &|_| {}).expect("run");
    let mailed: Vec<String> = host
        .mails()
        .iter()
        .flat_map(|mail| mail.to.clone())
        .collect();
    assert_eq!(mailed, ["ada@example.com"]);
    assert_eq!(withheld_reasons(&guard, "2"), ["form-token-missing"]);
}
