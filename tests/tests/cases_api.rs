//! Cases and the export through the JSON API of a real server: the lists' filters as the
//! desk uses them (overdue, due soon, by status, by person) following the host's clock,
//! the CSV export, what a `read` key may not do, and bad parameters answered 422. SQLite,
//! or PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL` names a server.

use std::sync::Arc;

use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scope, Scopes, Tenant, Tenants};
use privacy_guard_tests::scenario::import_csv;
use privacy_guard_tests::{TestHost, WebServer, configure, http_call};
use serde_json::{Value, json};

const STAFF_KEY: &str = "pgk_cases_staff_key_0123456789abcdef";
const READ_KEY: &str = "pgk_cases_read_key_0123456789abcdef0";

struct Desk {
    host: TestHost,
    server: WebServer,
}

impl Desk {
    fn new(now: &str) -> Desk {
        let host = TestHost::new(now);
        let guard = Arc::new(host.open().expect("open"));
        configure(&guard, "https://example.com/preferences");
        import_csv(
            &guard,
            "contacts",
            "id,name,email\n1,Ada,ada@example.com\n2,Grace,grace@example.com\n",
        );
        let key = |name: &str, key: &str, scopes: &[Scope]| ApiKey {
            name: name.into(),
            digest: KeyDigest::of_key(key),
            scopes: Scopes::of(scopes),
        };
        let mut tenants = Tenants::default();
        tenants
            .add(Tenant::new(
                "acme",
                guard,
                vec![
                    key("dpo-desk", STAFF_KEY, &[Scope::Staff]),
                    key("reporting", READ_KEY, &[Scope::Read]),
                ],
            ))
            .expect("tenant");
        let server =
            WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
        Desk { host, server }
    }

    /// `method path` with `key`: the status, the content type and the body.
    fn call(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String, String) {
        let authorization = format!("Bearer {key}");
        let bytes = body.map(|body| body.to_string().into_bytes());
        let response = http_call(
            method,
            &format!("http://{}{path}", self.server.address),
            &[("Authorization", authorization.as_str())],
            bytes.as_deref().map(|bytes| ("application/json", bytes)),
        )
        .expect("the API answers");
        let content_type = response
            .headers
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-type")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default();
        (response.status, content_type, response.body)
    }

    fn json(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, body) = self.call(key, method, path, body);
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")),
        )
    }

    fn open(&self, person: &str, kind: &str, regime: &str) -> String {
        let (status, opened) = self.json(
            STAFF_KEY,
            "POST",
            "/api/v1/cases",
            Some(json!({"kind": kind, "module": "contacts", "id": person, "regime": regime})),
        );
        assert_eq!(status, 200, "{opened}");
        opened["case"]["id"].as_str().expect("id").to_owned()
    }

    fn listed(&self, query: &str) -> Vec<String> {
        let (status, listing) = self.json(READ_KEY, "GET", &format!("/api/v1/cases{query}"), None);
        assert_eq!(status, 200, "{query}: {listing}");
        listing["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .filter_map(|case| case["id"].as_str().map(str::to_owned))
            .collect()
    }
}

#[test]
fn the_lists_filter_by_deadline_status_and_person_on_the_hosts_clock() {
    let desk = Desk::new("2026-12-01T09:00:00Z");
    let lgpd = desk.open("1", "erasure", "lgpd"); // due 2026-12-16
    let gdpr = desk.open("2", "access", "gdpr"); // due 2027-01-01
    assert_eq!(desk.listed(""), [lgpd.clone(), gdpr.clone()]);
    assert_eq!(desk.listed("?overdue=true"), Vec::<String>::new());
    assert_eq!(desk.listed("?due_within=16"), std::slice::from_ref(&lgpd));
    assert_eq!(
        desk.listed("?person=contacts/2"),
        std::slice::from_ref(&gdpr)
    );
    assert_eq!(
        desk.listed("?status=identity-pending"),
        [lgpd.clone(), gdpr.clone()]
    );
    desk.host.set_now("2026-12-17T00:00:00Z");
    assert_eq!(desk.listed("?overdue=true"), std::slice::from_ref(&lgpd));
    assert_eq!(desk.listed("?due_within=15d"), std::slice::from_ref(&gdpr));
    let (status, _) = desk.json(
        STAFF_KEY,
        "POST",
        &format!("/api/v1/cases/{lgpd}/refuse"),
        Some(json!({"reason": "the person is not who they say"})),
    );
    assert_eq!(status, 200);
    assert_eq!(desk.listed("?overdue=true"), Vec::<String>::new());
    assert_eq!(desk.listed("?status=refused"), [lgpd]);
    for bad in [
        "?overdue=yes",
        "?due_within=soon",
        "?status=open",
        "?person=ada",
        "?colour=red",
        "?overdue=true&due_within=7",
    ] {
        let (status, error) = desk.json(READ_KEY, "GET", &format!("/api/v1/cases{bad}"), None);
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (422, Some("invalid_request")),
            "{bad}: {error}"
        );
    }
}

#[test]
fn the_export_is_json_or_csv_for_staff_and_a_read_key_cannot_act_on_cases() {
    let desk = Desk::new("2026-12-01T09:00:00Z");
    let case = desk.open("1", "access", "ccpa");
    let (status, document) =
        desk.json(STAFF_KEY, "GET", "/api/v1/subjects/contacts/1/export", None);
    assert_eq!(status, 200);
    assert_eq!(document["format"], "privacy-guard-export/1");
    assert_eq!(document["cases"][0]["id"], case.as_str());
    assert_eq!(document["cases"][0]["acknowledge_by"], "2026-12-15");
    let (status, content_type, csv) = desk.call(
        STAFF_KEY,
        "GET",
        "/api/v1/subjects/contacts/1/export?format=csv",
        None,
    );
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/csv; charset=utf-8")
    );
    assert!(csv.starts_with("section,item,name,value\n"), "{csv}");
    assert!(
        csv.contains("record,,fields.email,ada@example.com"),
        "{csv}"
    );
    let (status, error) = desk.json(
        STAFF_KEY,
        "GET",
        "/api/v1/subjects/contacts/1/export?format=xml",
        None,
    );
    assert_eq!(status, 422, "{error}");
    let (status, error) = desk.json(
        STAFF_KEY,
        "GET",
        "/api/v1/subjects/contacts/404/export",
        None,
    );
    assert_eq!(status, 422, "{error}");

    // A reporting key reads the desk but neither acts on a case nor exports a person.
    let (status, _) = desk.json(READ_KEY, "GET", &format!("/api/v1/cases/{case}"), None);
    assert_eq!(status, 200);
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/cases".to_owned(),
            Some(json!({"kind": "access", "module": "contacts", "id": "2"})),
        ),
        (
            "POST",
            format!("/api/v1/cases/{case}/withdraw"),
            Some(json!({"reason": "x"})),
        ),
        ("GET", "/api/v1/subjects/contacts/1/export".to_owned(), None),
    ] {
        let (status, error) = desk.json(READ_KEY, method, &path, body);
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("staff")),
            "{error}"
        );
    }
    let (_, shown) = desk.json(READ_KEY, "GET", &format!("/api/v1/cases/{case}"), None);
    assert_eq!(
        shown["case"]["status"], "identity-pending",
        "nothing changed"
    );
    assert_eq!(shown["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        shown["events"][0]["event"]["actor"],
        json!({"channel": "api", "name": "dpo-desk"})
    );
}
