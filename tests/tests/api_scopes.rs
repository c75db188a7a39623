//! API keys' scopes through the real server: every route of the table called with a key of
//! every scope is refused with 403 naming the missing scope exactly when the key lacks the
//! route's scope, a refused staff action writes nothing, and what a key may do is recorded
//! under its name. Runs on SQLite, and on PostgreSQL when
//! `PRIVACY_GUARD_TEST_POSTGRES_URL` names a server.

use std::sync::Arc;

use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::http::api::route_scopes;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scope, Tenants};
use privacy_guard_tests::scenario::import_csv;
use privacy_guard_tests::{TestHost, WebServer, configure, http_call};
use serde_json::{Value, json};

const PEOPLE: &str = "first_name,last_name,email\n\
    Ada,Lovelace,ada@example.com\n\
    Grace,Hopper,grace.hopper@example.com\n";

/// The keys of the test: (written as in configuration, the key the client sends, the
/// scopes it must be granted in the order of [`Scope::ALL`]).
const KEYS: [(&str, &str, [bool; 4]); 6] = [
    ("hooks:pre-send", "pgk_hooks", [true, false, false, false]),
    ("auditor:read", "pgk_auditor", [false, true, false, false]),
    ("dpo:staff", "pgk_dpo", [false, true, true, false]),
    ("setup:admin", "pgk_setup", [true, true, true, true]),
    ("legacy", "pgk_legacy", [true, true, true, true]),
    (
        "crm-hooks-and-lists:pre-send+read",
        "pgk_hooks_lists",
        [true, true, false, false],
    ),
];

fn written_key(written: &str, key: &str) -> ApiKey {
    ApiKey::parse(&format!("{written}={}", KeyDigest::of_key(key).to_text()))
        .unwrap_or_else(|error| panic!("{written}: {error}"))
}

/// One tenant served with every key of [`KEYS`], configured, with two contacts.
fn served() -> (TestHost, Arc<Guard>, WebServer) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let keys = KEYS
        .iter()
        .map(|(written, key, _)| written_key(written, key))
        .collect();
    let tenants = Tenants::single(guard.clone(), keys);
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    configure(&guard, &server.preferences_url());
    import_csv(&guard, "contacts", PEOPLE);
    (host, guard, server)
}

fn call(
    server: &WebServer,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let bytes = body.map(|body| body.to_string().into_bytes());
    let response = http_call(
        method,
        &format!("http://{}{path}", server.address),
        &[("Authorization", &format!("Bearer {key}"))],
        bytes.as_deref().map(|bytes| ("application/json", bytes)),
    )
    .expect("the API answers");
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

/// `path` with each `{parameter}` replaced by a value no record or consent has, so a
/// call that is let through changes nothing of the population.
fn concrete(path: &str) -> String {
    let mut concrete = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a parameter's end") + start;
        concrete.push_str(&rest[..start]);
        concrete.push_str(match &rest[start + 1..end] {
            "module" => "contacts",
            _ => "no-such-thing",
        });
        rest = &rest[end + 1..];
    }
    concrete.push_str(rest);
    concrete
}

#[test]
fn every_route_refuses_exactly_the_keys_without_its_scope_naming_the_scope() {
    let (_host, _guard, server) = served();
    let routes = route_scopes();
    assert!(
        routes.len() >= 24,
        "the table lists every route: {routes:?}"
    );
    let mut checked = 0;
    for (method, template, required) in routes {
        let path = concrete(template);
        let required_index = Scope::ALL
            .iter()
            .position(|scope| *scope == required)
            .expect("a scope of ALL");
        for (written, key, grants) in KEYS {
            // An empty object: every body is an object, and a let-through call is refused
            // by its handler for what the object lacks, or does nothing harmful.
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            let (status, answer) = call(&server, key, method, &path, body);
            let name = written.split(':').next().expect("a name");
            assert_ne!(status, 401, "{method} {path} with {written}: {answer}");
            if grants[required_index] {
                assert_ne!(
                    status, 403,
                    "{method} {path} needs {required}, which {written} has: {answer}"
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{method} {path} needs {required}, which {written} lacks: {answer}"
                );
                assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
                let message = answer["error"]["message"].as_str().expect("a message");
                let has = written_key(written, key).scopes.to_string();
                assert!(
                    message.contains(&format!("needs the scope `{required}`"))
                        && message.contains(&format!("the key `{name}` has {has}")),
                    "{method} {path}: {message}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 24 * KEYS.len());
}

#[test]
fn a_key_lacking_the_scope_changes_nothing_and_one_with_it_acts_under_its_name() {
    let (_host, guard, server) = served();
    let ada = RecordRef {
        module: "contacts".into(),
        id: "1".into(),
    };
    let history_before = guard.history(&ada).expect("history");
    let decision = json!({
        "consent_id": "email-marketing",
        "grant": true,
        "evidence": "Signed form at the fair"
    });
    for (key, action, body) in [
        ("pgk_auditor", "decisions", decision.clone()),
        ("pgk_hooks", "decisions", decision.clone()),
        (
            "pgk_auditor",
            "restrict",
            json!({"reason": "Disputes accuracy"}),
        ),
        ("pgk_hooks_lists", "erase", json!({"evidence": "Letter"})),
    ] {
        let (status, answer) = call(
            &server,
            key,
            "POST",
            &format!("/api/v1/subjects/contacts/1/{action}"),
            Some(body),
        );
        assert_eq!(status, 403, "{key} {action}: {answer}");
    }
    assert_eq!(
        guard.history(&ada).expect("history"),
        history_before,
        "a refused staff action wrote an event"
    );
    // Neither can a pre-send key change the configuration, nor a read key read nothing.
    let (status, _) = call(
        &server,
        "pgk_dpo",
        "DELETE",
        "/api/v1/consents/email-marketing",
        None,
    );
    assert_eq!(status, 403);
    let (status, consents) = call(&server, "pgk_auditor", "GET", "/api/v1/consents", None);
    assert_eq!(status, 200, "{consents}");
    assert_eq!(consents["consents"][0]["id"], "email-marketing");

    // The staff key records the decision; the event names the key as its actor.
    let (status, answer) = call(
        &server,
        "pgk_dpo",
        "POST",
        "/api/v1/subjects/contacts/1/decisions",
        Some(decision),
    );
    assert_eq!(status, 200, "{answer}");
    let history = guard.history(&ada).expect("history");
    assert!(history.len() > history_before.len(), "{history:?}");
    let event: Value = serde_json::from_str(history.last().expect("the decision")).expect("JSON");
    assert_eq!(event["source"], "api", "{event}");
    assert_eq!(event["actor"], "dpo", "{event}");
}

#[test]
fn unknown_keys_are_unauthorized_before_any_scope_is_looked_at() {
    let (_host, _guard, server) = served();
    let (status, answer) = call(&server, "pgk_nobody", "GET", "/api/v1/settings", None);
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "unauthorized");
}
