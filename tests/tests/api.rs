//! The JSON API over real TCP, two tenants in one host, every response checked against
//! `docs/openapi.json`: every documented operation is exercised, and every answer matches
//! the schema documented for its status. The document held to the server's tables without
//! serving it (routes, scopes, enums, closed request objects) is `api_document.rs`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use privacy_guard_host::http::api::{BATCH_LIMIT, BODY_LIMIT, routes};
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scopes, Tenant, Tenants};
use privacy_guard_tests::{TestHost, WebServer, http_call, http_get};
use serde_json::{Value, json};

const ACME_KEY: &str = "pgk_acme_0123456789";
const GLOBEX_KEY: &str = "pgk_globex_9876543210";

fn openapi() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .expect("docs/openapi.json");
    serde_json::from_str(&text).expect("the OpenAPI document is JSON")
}

/// Checks `value` against `schema` (the subset of JSON Schema the document uses); the
/// error names the path to the offending value.
fn check(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let mut target = document;
        for part in reference.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        return check(document, target, value, at);
    }
    if let Some(kind) = schema.get("type") {
        let kinds: Vec<&str> = match kind {
            Value::String(kind) => vec![kind.as_str()],
            Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type in the schema")),
        };
        let fits = kinds.iter().any(|kind| match *kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !fits {
            return Err(format!("{at}: {value} is not of type {kinds:?}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(object) = value.as_object() {
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at}: `{name}` is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in object {
            match (
                properties.and_then(|properties| properties.get(name)),
                schema.get("additionalProperties"),
            ) {
                (Some(property), _) => check(document, property, field, &format!("{at}.{name}"))?,
                (None, Some(additional)) if additional.is_object() => {
                    check(document, additional, field, &format!("{at}.{name}"))?
                }
                (None, Some(Value::Bool(true))) => {}
                (None, _) if properties.is_some() => {
                    return Err(format!("{at}: `{name}` is not documented"));
                }
                (None, _) => {}
            }
        }
    }
    if let Some(array) = value.as_array() {
        let bound = |name: &str| schema.get(name).and_then(Value::as_u64);
        if bound("minItems").is_some_and(|least| (array.len() as u64) < least)
            || bound("maxItems").is_some_and(|most| (array.len() as u64) > most)
        {
            return Err(format!(
                "{at}: {} items are out of the schema's bounds",
                array.len()
            ));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            check(document, items, item, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}

/// A client of one tenant that checks every answer against the document and notes which
/// operations it exercised.
struct Client<'d> {
    base: String,
    key: Option<&'static str>,
    document: &'d Value,
    exercised: Arc<Mutex<BTreeSet<(String, String)>>>,
}

impl Client<'_> {
    /// Calls `method template` with the template's `{name}`s replaced by `arguments`.
    fn call(
        &self,
        method: &str,
        template: &str,
        arguments: &[&str],
        body: Option<Value>,
    ) -> (u16, Value) {
        let bytes = body.map(|body| body.to_string().into_bytes());
        self.send(
            method,
            template,
            arguments,
            bytes.as_deref().map(|bytes| ("application/json", bytes)),
        )
    }

    /// Sends `body` as it is, with its content type: bodies that are not JSON, or not
    /// labelled as JSON, are answered as documented too.
    fn send(
        &self,
        method: &str,
        template: &str,
        arguments: &[&str],
        body: Option<(&str, &[u8])>,
    ) -> (u16, Value) {
        let mut path = template.to_owned();
        for argument in arguments {
            let start = path.find('{').expect("a parameter");
            let end = path[start..].find('}').expect("its end") + start;
            path.replace_range(start..=end, argument);
        }
        let authorization = self.key.map(|key| format!("Bearer {key}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        let response = http_call(method, &format!("{}{path}", self.base), &headers, body)
            .expect("the API answers");
        let value: Value = serde_json::from_str(&response.body)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {}", response.body));
        let operation = &self.document["paths"][template][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        let documented = &operation["responses"][response.status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path}: status {} is not documented: {value}",
            response.status
        );
        let mut documented = documented;
        if let Some(reference) = documented.get("$ref").and_then(Value::as_str) {
            documented = &self.document["components"]["responses"]
                [reference.rsplit('/').next().unwrap_or_default()];
        }
        let schema = &documented["content"]["application/json"]["schema"];
        if let Err(problem) = check(self.document, schema, &value, "body") {
            panic!(
                "{method} {path} ({}): {problem}\n{value:#}",
                response.status
            );
        }
        self.exercised
            .lock()
            .expect("lock")
            .insert((method.to_owned(), template.to_owned()));
        (response.status, value)
    }
}

fn tenant(id: &str, key: &str, host: &TestHost) -> Tenant {
    Tenant::new(
        id,
        Arc::new(host.open().expect("tenant host")),
        vec![ApiKey {
            name: format!("{id}-crm"),
            digest: KeyDigest::of_key(key),
            scopes: Scopes::ADMIN,
        }],
    )
}

fn settings(server: &WebServer, tenant: &str) -> Value {
    json!({
        "sender_address": format!("privacy@{tenant}.example"),
        "sender_name": format!("{tenant} privacy team"),
        "organisation": format!("{tenant} Ltd"),
        "postal_address": "1 Example Street, Berlin",
        "preferences_url": format!("http://{}/t/{tenant}/preferences/", server.address),
        "link_valid_days": 30,
        "flag_new_duplicates": false,
        "retained_fields": ["name"],
        "confirm_changes": "own_changes",
        "ip_evidence": "truncate",
        "person_modules": ["contacts", "leads"]
    })
}

#[test]
fn two_tenants_work_through_the_api_each_seeing_only_its_own_people() {
    let document = openapi();
    let acme_host = TestHost::new("2026-12-01T09:00:00Z");
    let globex_host = TestHost::new("2026-12-01T09:00:00Z");
    let mut tenants = Tenants::default();
    tenants
        .add(tenant("acme", ACME_KEY, &acme_host))
        .expect("acme");
    tenants
        .add(tenant("globex", GLOBEX_KEY, &globex_host))
        .expect("globex");
    let tenants = Arc::new(tenants);
    let server = WebServer::serve(privacy_guard_host::http::app(tenants.clone())).expect("server");
    let exercised = Arc::new(Mutex::new(BTreeSet::new()));
    let client = |key| Client {
        base: format!("http://{}", server.address),
        key,
        document: &document,
        exercised: exercised.clone(),
    };
    let acme = client(Some(ACME_KEY));
    let globex = client(Some(GLOBEX_KEY));
    let health = privacy_guard_tests::http_get(&format!("http://{}/health", server.address))
        .expect("GET /health");
    assert_eq!(health.status, 200);
    let health: Value = serde_json::from_str(&health.body).expect("JSON");
    assert_eq!(
        health,
        json!({"status": "ok", "tenants": {"acme": "ok", "globex": "ok"}})
    );

    // Configuration.
    let (status, error) = acme.call("GET", "/api/v1/settings", &[], None);
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let mut bad = settings(&server, "acme");
    bad["sender_address"] = json!("not an address");
    let (status, error) = acme.call("PUT", "/api/v1/settings", &[], Some(bad));
    assert_eq!(status, 422);
    assert_eq!(error["error"]["problems"][0]["at"], "sender-address");
    for (tenant, name) in [(&acme, "acme"), (&globex, "globex")] {
        let (status, _) = tenant.call(
            "PUT",
            "/api/v1/settings",
            &[],
            Some(settings(&server, name)),
        );
        assert_eq!(status, 200);
    }
    let (status, saved) = acme.call("GET", "/api/v1/settings", &[], None);
    assert_eq!(
        (status, saved["organisation"].as_str()),
        (200, Some("acme Ltd"))
    );
    // PUT replaces every setting, so it must name every one; PATCH changes only those it
    // names, the others keep their values (the retained fields above all).
    let mut partial = settings(&server, "acme");
    partial
        .as_object_mut()
        .expect("object")
        .remove("retained_fields");
    let (status, error) = acme.call("PUT", "/api/v1/settings", &[], Some(partial));
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("retained_fields")),
        "{error}"
    );
    let (status, patched) = acme.call(
        "PATCH",
        "/api/v1/settings",
        &[],
        Some(json!({"flag_new_duplicates": true})),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["flag_new_duplicates"], true);
    assert_eq!(patched["retained_fields"], json!(["name"]));
    assert_eq!(patched["organisation"], "acme Ltd");
    let (_, patched) = acme.call(
        "PATCH",
        "/api/v1/settings",
        &[],
        Some(json!({"flag_new_duplicates": false})),
    );
    assert_eq!(patched["flag_new_duplicates"], false);
    let (status, field) = acme.call(
        "PUT",
        "/api/v1/fields/{module}/{field}",
        &["contacts", "phone"],
        Some(json!({"personal": true, "sensitive": true})),
    );
    assert_eq!((status, field["field"].as_str()), (200, Some("phone")));
    let (status, fields) = acme.call("GET", "/api/v1/fields/{module}", &["contacts"], None);
    assert_eq!(status, 200);
    assert_eq!(fields["suggested_data_consents"], json!(["phone"]));
    let newsletter = json!({
        "module": "contacts", "kind": "data", "field": "email", "title": "Newsletter",
        "purpose": "Our monthly newsletter.", "default_value": "no"
    });
    for tenant in [&acme, &globex] {
        let (status, stored) = tenant.call(
            "PUT",
            "/api/v1/consents/{id}",
            &["newsletter"],
            Some(newsletter.clone()),
        );
        assert_eq!((status, stored["purpose_version"].as_u64()), (200, Some(1)));
    }
    let (status, _) = acme.call(
        "PUT",
        "/api/v1/consents/{id}",
        &["phone-calls"],
        Some(
            json!({"module": "contacts", "kind": "data", "field": "phone", "title": "Calls",
                    "purpose": "We call you about offers.", "default_value": "no"}),
        ),
    );
    assert_eq!(status, 200);
    // A changed purpose text needs its kind; a material change is the next version from
    // which grants count.
    let mut changed = json!({"module": "contacts", "kind": "data", "field": "phone", "title": "Calls",
                             "purpose": "We call you about offers and surveys.", "default_value": "no"});
    let (status, refused) = acme.call(
        "PUT",
        "/api/v1/consents/{id}",
        &["phone-calls"],
        Some(changed.clone()),
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["error"]["problems"][0]["at"],
        "consent[phone-calls].purpose"
    );
    changed["purpose_change"] = json!("material");
    let (status, revised) = acme.call(
        "PUT",
        "/api/v1/consents/{id}",
        &["phone-calls"],
        Some(changed),
    );
    assert_eq!(status, 200, "{revised}");
    assert_eq!(
        (
            revised["purpose_version"].as_u64(),
            revised["counts_from_version"].as_u64()
        ),
        (Some(2), Some(2))
    );
    let (status, error) = acme.call(
        "PUT",
        "/api/v1/consents/{id}",
        &["odd"],
        Some(json!({"module": "contacts", "kind": "data", "title": "Odd", "purpose": "x", "default_value": "no"})),
    );
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("invalid_request"))
    );
    let (status, refused) = acme.call(
        "POST",
        "/api/v1/enable",
        &[],
        Some(json!({"confirm_deduplication": false})),
    );
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("prerequisites_unmet"))
    );

    // People: acme's CRM pushes its records; globex has none of them.
    let (status, report) = acme.call(
        "POST",
        "/api/v1/records/{module}",
        &["contacts"],
        Some(json!({"records": [
            {"id": "1", "fields": {"name": "Ada", "email": "ada@example.com", "phone": "+44 1"}},
            {"id": "2", "fields": {"name": "Ada again", "email": "ADA@example.com"}}
        ]})),
    );
    assert_eq!((status, report["created"].as_u64()), (200, Some(2)));
    let (status, plan) = acme.call("GET", "/api/v1/deduplication", &[], None);
    assert_eq!((status, plan["duplicates"].as_u64()), (200, Some(1)));
    let (status, report) = acme.call("POST", "/api/v1/deduplication", &[], None);
    assert_eq!((status, report["newly_flagged"].as_u64()), (200, Some(1)));
    for tenant in [&acme, &globex] {
        let (status, enabled) = tenant.call(
            "POST",
            "/api/v1/enable",
            &[],
            Some(json!({"confirm_deduplication": true})),
        );
        assert_eq!((status, enabled["enabled"].as_bool()), (200, Some(true)));
    }
    let (status, listed) = acme.call("GET", "/api/v1/consents", &[], None);
    assert_eq!(
        (status, listed["consents"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    // Each tenant has its own consents: acme's phone consent is not globex's.
    let (_, listed) = globex.call("GET", "/api/v1/consents", &[], None);
    assert_eq!(listed["consents"].as_array().map(Vec::len), Some(1));
    let (status, _) = globex.call("DELETE", "/api/v1/consents/{id}", &["phone-calls"], None);
    assert_eq!(status, 404, "globex cannot delete acme's consent");

    let (status, ada) = acme.call(
        "GET",
        "/api/v1/subjects/{module}/{id}",
        &["contacts", "1"],
        None,
    );
    assert_eq!(
        (status, ada["address"].as_str()),
        (200, Some("ada@example.com"))
    );
    let (status, _) = globex.call(
        "GET",
        "/api/v1/subjects/{module}/{id}",
        &["contacts", "1"],
        None,
    );
    assert_eq!(status, 404, "globex cannot read acme's contact");
    let (status, _) = globex.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/erase",
        &["contacts", "1"],
        Some(json!({"evidence": "a forged request"})),
    );
    assert_eq!(status, 404, "globex cannot erase acme's contact");

    // The record-change refusal hook.
    let (status, edit) = acme.call(
        "POST",
        "/api/v1/records/{module}/{id}/check-edit",
        &["contacts", "1"],
        Some(json!({"changes": {"phone": "+44 2", "name": "Ada L."}})),
    );
    assert_eq!((status, edit["allowed"].as_bool()), (200, Some(false)));
    assert_eq!(edit["refusals"][0]["field"], "phone");
    assert_eq!(edit["refusals"][0]["reason"], "consent_refuses");

    // The pre-send check: acme's Ada is pending at acme and unknown at globex.
    let marketing = json!({
        "class": "marketing", "purpose": "newsletter",
        "recipients": [{"address": "ada@example.com", "role": "to"}, {"address": "nope", "role": "cc"}]
    });
    let (status, checked) = acme.call("POST", "/api/v1/check-send", &[], Some(marketing.clone()));
    assert_eq!(status, 200);
    assert_eq!(checked["decisions"][0]["reason"], "consent_not_requested");
    assert_eq!(checked["decisions"][1]["reason"], "invalid_address");
    let (_, checked) = globex.call("POST", "/api/v1/check-send", &[], Some(marketing));
    assert_eq!(checked["decisions"][0]["reason"], "unknown_recipient");

    // Staff ask a person again: the next daily run sends a new request about what they
    // have not answered.
    let (status, asked) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/ask-again",
        &["contacts", "1"],
        None,
    );
    assert_eq!(
        (status, asked["asked"].as_bool()),
        (200, Some(true)),
        "{asked}"
    );
    let (status, _) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/ask-again",
        &["contacts", "99"],
        None,
    );
    assert_eq!(status, 404);

    // The API cannot claim that the person answered on the page (or that the daily run
    // did anything): the source is the channel's, and nothing is recorded.
    for forged in ["preferences_page", "daily_run", "admin"] {
        let (status, error) = acme.call(
            "POST",
            "/api/v1/subjects/{module}/{id}/decisions",
            &["contacts", "1"],
            Some(
                json!({"consent_id": "newsletter", "grant": true, "source": forged,
                        "evidence": "Clicked on the page, honestly"}),
            ),
        );
        assert_eq!(status, 422, "{forged}: {error}");
        assert_eq!(error["error"]["problems"][0]["at"], "source");
    }
    let (status, view) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/decisions",
        &["contacts", "1"],
        Some(json!({"consent_id": "newsletter", "grant": true, "evidence": "Signed form of 1 December"})),
    );
    assert_eq!(
        (status, view["consents"][0]["value"].as_str()),
        (200, Some("granted"))
    );
    // The decision is the API key's: source `api`, the key's name as the actor.
    let (_, history) = acme.call(
        "GET",
        "/api/v1/subjects/{module}/{id}/history",
        &["contacts", "1"],
        None,
    );
    let recorded = history["events"]
        .as_array()
        .and_then(|events| events.last())
        .expect("an event");
    assert_eq!(recorded["source"], "api", "{recorded}");
    assert_eq!(recorded["actor"], "acme-crm", "{recorded}");
    assert_eq!(
        recorded["evidence"]["statement"],
        "Signed form of 1 December"
    );
    assert!(
        !history.to_string().contains("Clicked on the page"),
        "a refused source recorded nothing"
    );
    // The decision's signed receipt verifies with the tenant's published key alone, and a
    // checkpoint of the log is signed under it (issue 13; tests/tests/proof.rs has the rest).
    let (status, key) = acme.call("GET", "/api/v1/proof/key", &[], None);
    assert_eq!(status, 200, "{key}");
    let verifier = privacy_guard_host::proof::VerifierKey::parse(
        key["verifier_key"].as_str().unwrap_or_default(),
    )
    .expect("a verifier key");
    let (status, receipt) = acme.call(
        "GET",
        "/api/v1/proof/receipts/{module}/{id}",
        &["contacts", "1"],
        None,
    );
    assert_eq!(
        (status, receipt["answer"].as_str()),
        (200, Some("granted")),
        "{receipt}"
    );
    let verified = privacy_guard_host::proof::verify_receipt(
        receipt["receipt"].as_str().unwrap_or_default().as_bytes(),
        &verifier,
    )
    .expect("the receipt verifies");
    assert_eq!(verified["privacyGuard"]["collection"]["actor"], "acme-crm");
    let (status, _) = acme.call(
        "GET",
        "/api/v1/proof/receipts/{module}/{id}",
        &["contacts", "99"],
        None,
    );
    assert_eq!(status, 404);
    let (status, checkpoint) = acme.call("GET", "/api/v1/proof/checkpoint", &[], None);
    assert_eq!(status, 200, "{checkpoint}");
    assert!(
        checkpoint["checkpoint"]
            .as_str()
            .is_some_and(|note| note.starts_with(key["origin"].as_str().unwrap_or("?"))),
        "{checkpoint}"
    );
    // The change feed has the decision, as the key's tenant's only: globex's feed lacks it.
    let (status, feed) = acme.call("GET", "/api/v1/changes", &[], None);
    assert_eq!(status, 200, "{feed}");
    let recorded = feed["changes"]
        .as_array()
        .and_then(|changes| changes.last())
        .expect("a change");
    assert_eq!(recorded["person"], json!({"module": "contacts", "id": "1"}));
    assert_eq!(recorded["source"], "api", "{recorded}");
    assert!(!feed.to_string().contains("Signed form"), "{feed}");
    let (_, globex_feed) = globex.call("GET", "/api/v1/changes", &[], None);
    assert!(
        globex_feed["changes"]
            .as_array()
            .is_some_and(|changes| changes.iter().all(|change| change["source"] != "api")),
        "{globex_feed}"
    );
    // The officer's desk: the report and the list read the same log; a bulk dry run lists
    // who would be acted on; the register names the tenant. Each only the key's tenant's.
    let (status, report) = acme.call("GET", "/api/v1/reports/consents", &[], None);
    assert_eq!(status, 200, "{report}");
    assert!(
        report["totals"]["people"]
            .as_u64()
            .is_some_and(|people| people > 0),
        "{report}"
    );
    let (status, people) = acme.call("GET", "/api/v1/people", &[], None);
    assert_eq!(status, 200, "{people}");
    assert_eq!(people["matching"], report["totals"]["people"]);
    for path in [
        "/api/v1/bulk/decisions",
        "/api/v1/bulk/restrict",
        "/api/v1/bulk/ask-again",
    ] {
        let body = match path {
            "/api/v1/bulk/decisions" => {
                json!({"consent_id": "newsletter", "grant": true, "evidence": "Form", "dry_run": true})
            }
            "/api/v1/bulk/restrict" => json!({"reason": "Objection", "dry_run": true}),
            _ => json!({"filter": {"status": "active"}, "dry_run": true}),
        };
        let (status, dry) = acme.call("POST", path, &[], Some(body));
        assert_eq!(status, 200, "{path}: {dry}");
        assert_eq!(dry["dry_run"], true);
    }
    let (status, register) = acme.call("GET", "/api/v1/register", &[], None);
    assert_eq!(status, 200, "{register}");
    assert_eq!(register["register"]["controller"]["name"], "acme Ltd");
    // Retention: the settings with a dry run, and a run's page (nobody is due yet).
    let (status, retention) = acme.call("GET", "/api/v1/retention", &[], None);
    assert_eq!(
        (status, &retention["summary"]["dry_run"]),
        (200, &json!(true)),
        "{retention}"
    );
    let (status, run) = acme.call("POST", "/api/v1/retention/run", &[], Some(json!({})));
    assert_eq!(
        (status, &run["summary"]["erased"]),
        (200, &json!(0)),
        "{run}"
    );
    // Safeguards: the settings (the defaults, saved back as they are) and a form token.
    let (status, safeguards) = acme.call("GET", "/api/v1/safeguards", &[], None);
    assert_eq!(
        (status, &safeguards["request_interval_hours"]),
        (200, &json!(24)),
        "{safeguards}"
    );
    let (status, saved) = acme.call("PUT", "/api/v1/safeguards", &[], Some(safeguards.clone()));
    assert_eq!((status, &saved), (200, &safeguards));
    let (status, token) = acme.call("POST", "/api/v1/form-tokens", &[], None);
    assert_eq!(status, 200, "{token}");
    // A person who lost their mail: staff hand over a fresh link.
    let (status, link) = acme.call(
        "GET",
        "/api/v1/subjects/{module}/{id}/link",
        &["contacts", "1"],
        None,
    );
    assert_eq!(status, 200, "{link}");
    let link = link["link"].as_str().expect("a link");
    assert!(
        link.starts_with(&format!("http://{}/t/acme/preferences/", server.address)),
        "{link}"
    );
    assert_eq!(http_get(link).expect("GET").status, 200);
    let (status, _) = acme.call(
        "GET",
        "/api/v1/subjects/{module}/{id}/link",
        &["contacts", "99"],
        None,
    );
    assert_eq!(status, 404);
    let (status, rendered) = acme.call(
        "POST",
        "/api/v1/render",
        &[],
        Some(json!({
            "class": "marketing", "purpose": "newsletter",
            "mail": {"subject": "News", "text_body": "Hello\n"},
            "recipients": [{"address": "ada@example.com", "role": "to"}]
        })),
    );
    assert_eq!(
        (status, rendered["renderings"][0]["send"].as_bool()),
        (200, Some(true))
    );
    let unsubscribe = rendered["renderings"][0]["headers"][0][1]
        .as_str()
        .expect("header");
    assert!(
        unsubscribe.contains("/t/acme/preferences/"),
        "the tenant's own page: {unsubscribe}"
    );
    // A link of one tenant opens nothing at another's address.
    let page = unsubscribe
        .trim_start_matches('<')
        .split("/unsubscribe/")
        .next()
        .expect("the page URL")
        .to_owned();
    assert_eq!(
        privacy_guard_tests::http_get(&page).expect("GET").status,
        200
    );
    let elsewhere = page.replace("/t/acme/", "/t/globex/");
    assert_eq!(
        privacy_guard_tests::http_get(&elsewhere)
            .expect("GET")
            .status,
        404
    );
    let (status, history) = acme.call(
        "GET",
        "/api/v1/subjects/{module}/{id}/history",
        &["contacts", "1"],
        None,
    );
    assert_eq!(status, 200);
    assert!(
        history["events"]
            .as_array()
            .is_some_and(|events| events.len() >= 2)
    );

    // Restriction and erasure.
    let (status, error) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/restrict",
        &["contacts", "1"],
        Some(json!({"reason": " "})),
    );
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("invalid_request"))
    );
    let (status, view) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/restrict",
        &["contacts", "1"],
        Some(json!({"reason": "Ada disputes her data"})),
    );
    assert_eq!((status, view["status"].as_str()), (200, Some("restricted")));
    let (status, error) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/restrict",
        &["contacts", "1"],
        Some(json!({"reason": "again"})),
    );
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (409, Some("status_refused"))
    );
    let (status, view) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/lift-restriction",
        &["contacts", "1"],
        Some(json!({"reason": "Checked: the data are right"})),
    );
    assert_eq!((status, view["status"].as_str()), (200, Some("active")));
    // Mail goes to acme's outbox only.
    assert!(
        acme_host
            .mails()
            .iter()
            .any(|mail| mail.message_id.starts_with("restriction-lifted.")),
        "the lift notice went to acme's outbox"
    );
    // Rights requests (issue 13): a case for Ada, her identity code read back from the
    // mail, an extension, the completion answering her export; another case withdrawn.
    let (status, opened) = acme.call(
        "POST",
        "/api/v1/cases",
        &[],
        Some(json!({"kind": "access", "module": "contacts", "id": "1"})),
    );
    assert_eq!(
        (status, opened["case"]["status"].as_str()),
        (200, Some("identity-pending")),
        "{opened}"
    );
    let case_id = opened["case"]["id"].as_str().expect("id").to_owned();
    let (status, listed) = acme.call("GET", "/api/v1/cases", &[], None);
    assert_eq!(
        (status, listed["cases"][0]["id"].as_str()),
        (200, Some(case_id.as_str()))
    );
    let (status, wrong) = acme.call(
        "POST",
        "/api/v1/cases/{id}/verify",
        &[&case_id],
        Some(json!({"code": "AAAA-AAAA"})),
    );
    assert_eq!(
        (status, wrong["error"]["code"].as_str()),
        (409, Some("case_refused"))
    );
    let (status, _) = acme.call("POST", "/api/v1/cases/{id}/resend-code", &[&case_id], None);
    assert_eq!(status, 200);
    let code = acme_host
        .mails()
        .iter()
        .filter(|mail| mail.subject.contains("confirmation code"))
        .filter_map(|mail| {
            mail.text
                .lines()
                .map(str::trim)
                .find(|line| line.len() == 9 && line.as_bytes()[4] == b'-')
                .map(str::to_owned)
        })
        .next_back()
        .expect("a code mailed to Ada");
    let (status, verified) = acme.call(
        "POST",
        "/api/v1/cases/{id}/verify",
        &[&case_id],
        Some(json!({"code": code})),
    );
    assert_eq!(
        (status, verified["case"]["status"].as_str()),
        (200, Some("identity-verified")),
        "{verified}"
    );
    let (status, extended) = acme.call(
        "POST",
        "/api/v1/cases/{id}/extend",
        &[&case_id],
        Some(json!({"reason": "archives"})),
    );
    assert_eq!(
        (status, extended["case"]["extension_reason"].as_str()),
        (200, Some("archives"))
    );
    let (status, shown) = acme.call("GET", "/api/v1/cases/{id}", &[&case_id], None);
    assert_eq!(
        (
            status,
            shown["events"][0]["event"]["actor"]["name"].as_str()
        ),
        (200, Some("acme-crm"))
    );
    let (status, completed) = acme.call(
        "POST",
        "/api/v1/cases/{id}/complete",
        &[&case_id],
        Some(json!({"note": "sent by mail"})),
    );
    assert_eq!(
        (
            status,
            completed["export"]["record"]["fields"]["email"].as_str()
        ),
        (200, Some("ada@example.com")),
        "{completed}"
    );
    let (status, _) = acme.call(
        "POST",
        "/api/v1/cases/{id}/refuse",
        &[&case_id],
        Some(json!({"reason": "closed already"})),
    );
    assert_eq!(status, 409);
    let (_, objection) = acme.call(
        "POST",
        "/api/v1/cases",
        &[],
        Some(json!({"kind": "objection", "module": "contacts", "id": "1", "regime": "lgpd"})),
    );
    let objection_id = objection["case"]["id"].as_str().expect("id").to_owned();
    let (status, withdrawn) = acme.call(
        "POST",
        "/api/v1/cases/{id}/withdraw",
        &[&objection_id],
        Some(json!({"reason": "called back"})),
    );
    assert_eq!(
        (status, withdrawn["case"]["status"].as_str()),
        (200, Some("withdrawn"))
    );
    let (status, export) = acme.call(
        "GET",
        "/api/v1/subjects/{module}/{id}/export",
        &["contacts", "1"],
        None,
    );
    assert_eq!(
        (status, export["cases"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    let (status, _) = globex.call("GET", "/api/v1/cases/{id}", &[&case_id], None);
    assert_eq!(status, 404, "globex sees none of acme's cases");
    let (status, erased) = acme.call(
        "POST",
        "/api/v1/subjects/{module}/{id}/erase",
        &["contacts", "1"],
        Some(json!({"evidence": "Ada's letter of 1 December"})),
    );
    assert_eq!(status, 200);
    assert!(
        erased["erased_fields"]
            .as_array()
            .expect("fields")
            .contains(&json!("email"))
    );
    let (status, deleted) = acme.call("DELETE", "/api/v1/consents/{id}", &["phone-calls"], None);
    assert_eq!((status, deleted["id"].as_str()), (200, Some("phone-calls")));
    let (status, _) = acme.call("DELETE", "/api/v1/consents/{id}", &["phone-calls"], None);
    assert_eq!(status, 404);

    // The erasure destroyed the copies of every mail Ada was sent; globex sent nothing.
    assert!(
        acme_host
            .mails()
            .iter()
            .all(|mail| !mail.to.contains(&"ada@example.com".to_owned())),
        "Ada's mail is gone from the outbox"
    );
    assert!(globex_host.mails().is_empty(), "globex sent nothing");

    // Bad requests get JSON errors with codes.
    let anonymous = client(None);
    let (status, error) = anonymous.call("GET", "/api/v1/consents", &[], None);
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let wrong = Client {
        key: Some("pgk_not_a_key"),
        ..client(None)
    };
    let (status, _) = wrong.call("GET", "/api/v1/consents", &[], None);
    assert_eq!(status, 401);
    let raw = |body: &[u8]| {
        acme.send(
            "POST",
            "/api/v1/check-send",
            &[],
            Some(("application/json", body)),
        )
    };
    let (status, broken) = raw(b"{\"class\": ");
    assert_eq!(
        (status, broken["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (status, unknown_field) = raw(br#"{"class": "ad_hoc", "recipients": [], "colour": "red"}"#);
    assert_eq!(status, 422, "{unknown_field}");
    let huge = vec![b' '; BODY_LIMIT + 1];
    let (status, too_large) = raw(&huge);
    assert_eq!(
        (status, too_large["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let many: Vec<Value> = (0..=BATCH_LIMIT)
        .map(|n| json!({"address": format!("p{n}@example.com"), "role": "bcc"}))
        .collect();
    let (status, error) = acme.call(
        "POST",
        "/api/v1/check-send",
        &[],
        Some(json!({"class": "ad_hoc", "recipients": many})),
    );
    assert_eq!(status, 422);
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("1000"))
    );

    // A sending service's bounce webhook (Postmark's shape) for an address nobody holds.
    let (status, feedback) = acme.call(
        "POST",
        "/api/v1/feedback/{provider}",
        &["postmark"],
        Some(
            json!({"RecordType": "Bounce", "Type": "HardBounce", "Email": "nobody@example.com",
            "MessageID": "m-1", "Description": "The server was unable to deliver", "ID": 1}),
        ),
    );
    assert_eq!(
        (status, &feedback["recorded"]),
        (200, &json!(1)),
        "{feedback}"
    );

    // Every documented operation was exercised against the running server.
    let exercised = exercised.lock().expect("lock").clone();
    let documented: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&exercised).collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

/// A request body as sent: its content type and bytes, or none.
type Body<'b> = Option<(&'b str, &'b [u8])>;

/// Every operation that takes a body answers a body without its content type, one that is
/// not JSON, one with a field it does not know and one past the size limit with the
/// status and code the document lists for it.
#[test]
fn every_body_the_server_cannot_take_is_refused_as_documented() {
    let document = openapi();
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let mut tenants = Tenants::default();
    tenants.add(tenant("acme", ACME_KEY, &host)).expect("acme");
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    let client = Client {
        base: format!("http://{}", server.address),
        key: Some(ACME_KEY),
        document: &document,
        exercised: Arc::new(Mutex::new(BTreeSet::new())),
    };
    let too_large = vec![b' '; BODY_LIMIT + 1];
    let mut with_body = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if operation.get("requestBody").is_none() {
                continue;
            }
            with_body += 1;
            let method = method.to_uppercase();
            let arguments: Vec<&str> = path
                .match_indices('{')
                .map(|(start, _)| match &path[start..] {
                    rest if rest.starts_with("{module}") => "contacts",
                    rest if rest.starts_with("{field}") => "phone",
                    _ => "1",
                })
                .collect();
            // An array, even one serde could read as the fields by position, is no body.
            let cases: [(Body, u16, &str); 7] = [
                (None, 415, "unsupported_media_type"),
                (Some(("text/plain", b"{}")), 415, "unsupported_media_type"),
                (Some(("application/json", b"{\"")), 400, "invalid_json"),
                (
                    Some(("application/json", br#"{"not_a_field": 1}"#)),
                    422,
                    "invalid_request",
                ),
                (Some(("application/json", b"[]")), 422, "invalid_request"),
                (
                    Some(("application/json", b"[null, null]")),
                    422,
                    "invalid_request",
                ),
                (Some(("application/json", b"null")), 422, "invalid_request"),
            ];
            for (body, status, code) in cases {
                let (answered, error) = client.send(&method, path, &arguments, body);
                assert_eq!(
                    (answered, error["error"]["code"].as_str()),
                    (status, Some(code)),
                    "{method} {path} with {:?}: {error}",
                    body.map(|(kind, bytes)| (kind, String::from_utf8_lossy(bytes)))
                );
            }
            let (answered, error) = client.send(
                &method,
                path,
                &arguments,
                Some(("application/json", &too_large)),
            );
            assert_eq!(
                (answered, error["error"]["code"].as_str()),
                (413, Some("payload_too_large")),
                "{method} {path}: {error}"
            );
        }
    }
    assert!(
        with_body >= 13,
        "only {with_body} operations take a body (13 did when this was written)"
    );
}
