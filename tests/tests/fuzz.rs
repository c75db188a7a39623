//! What a stranger can send is refused clearly and never crashes anything: generated link
//! tokens, CSV files, form bodies of the preferences page and JSON bodies of the API, fed
//! to the real host (its router in process, the real component behind it). Nothing a
//! stranger sends may answer 5xx, panic, or change a consent that a valid request would
//! not change.
//!
//! Bounded for CI: `PRIVACY_GUARD_FUZZ_CASES` inputs per parser (default 256); the longer
//! mode in `docs/testing.md` raises it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use privacy_guard_host::contract::types::ConsentValue;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::read_records;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scopes, Tenant, Tenants};
use privacy_guard_tests::scenario::{contact, import_csv};
use privacy_guard_tests::{Mail, TestHost, configure};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tower::ServiceExt;

const PREFERENCES_URL: &str = "http://127.0.0.1:9/preferences/";
const KEY: &str = "pgk_fuzz";

fn cases() -> u32 {
    std::env::var("PRIVACY_GUARD_FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(256)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// A host with Ada's request mailed (her link works), its router, and a runtime to drive
/// it in process.
struct Site {
    _host: TestHost,
    guard: Arc<Guard>,
    app: axum::Router,
    runtime: tokio::runtime::Runtime,
    token: String,
}

impl Site {
    fn new() -> Site {
        let host = TestHost::new("2026-12-01T09:00:00Z");
        let guard = Arc::new(host.open().expect("host"));
        configure(&guard, PREFERENCES_URL);
        import_csv(
            &guard,
            "contacts",
            "name,email\nAda Lovelace,ada@example.com\n",
        );
        host.set_now("2026-12-01T10:00:00Z");
        guard.run_due().expect("run").expect("due");
        let mail: Mail = host.mails().remove(0);
        let token = mail
            .link(PREFERENCES_URL)
            .and_then(|link| link.rsplit('/').next().map(str::to_owned))
            .expect("a token");
        let mut tenants = Tenants::default();
        tenants
            .add(Tenant::new(
                "default",
                guard.clone(),
                vec![ApiKey {
                    name: "fuzz".into(),
                    digest: KeyDigest::of_key(KEY),
                    scopes: Scopes::ADMIN,
                }],
            ))
            .expect("tenant");
        Site {
            _host: host,
            app: privacy_guard_host::http::app(Arc::new(tenants)),
            guard,
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime"),
            token,
        }
    }

    /// Sends a request through the router, as from 203.0.113.9 (a page's form, as the
    /// browser's `Sec-Fetch-Site` says): the status and body.
    fn call(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {KEY}"))
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .expect("a request");
        let peer: SocketAddr = "203.0.113.9:443".parse().expect("an address");
        request.extensions_mut().insert(ConnectInfo(peer));
        self.runtime.block_on(async {
            let response = self.app.clone().oneshot(request).await.expect("an answer");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
                .await
                .expect("a body");
            (status, String::from_utf8_lossy(&bytes).into_owned())
        })
    }

    fn news(&self) -> Option<ConsentValue> {
        self.guard
            .subject(&contact("1"))
            .expect("call")?
            .consents
            .into_iter()
            .find(|state| state.consent_id == "email-marketing")
            .map(|state| state.value)
    }
}

/// Characters that make parsers work: separators, quotes, escapes, blanks, non-ASCII.
fn noisy_text(pieces: Vec<&'static str>) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(pieces).prop_map(str::to_owned),
            1 => any::<char>().prop_map(|c| c.to_string()),
            1 => "[ -~]{0,8}".prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn not_a_server_error(status: StatusCode, what: &str, body: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !status.is_server_error(),
        "{} answered {}: {}",
        what,
        status,
        body
    );
    Ok(())
}

#[test]
fn link_tokens_from_strangers_are_refused_without_a_panic() {
    let site = Site::new();
    let valid = site.token.clone();
    // A genuine token with characters changed, cut or added, and tokens made up whole.
    let mangled = (0..valid.len(), any::<char>(), 0_u8..3).prop_map(move |(at, c, how)| {
        let mut chars: Vec<char> = valid.chars().collect();
        match how {
            0 => chars[at] = c,
            1 => chars.truncate(at),
            _ => chars.insert(at, c),
        }
        chars.into_iter().collect::<String>()
    });
    let made_up = noisy_text(vec![
        ".", "AQAB", "=", "-", "_", "%2F", "%00", "..", "/", "A",
    ]);
    let tokens = prop_oneof![mangled, made_up];
    let outcome = runner().run(&tokens, |token| {
        // The engine's parser alone: whatever it takes apart is exactly the token it was
        // given (no second spelling of one token), and the page it guards.
        if let Ok(parsed) = privacy_guard_core::link::UnverifiedToken::parse(&token) {
            prop_assert_eq!(
                privacy_guard_core::link::token(&parsed.payload_bytes, &parsed.mac),
                token.trim()
            );
        }
        let encoded: String = token
            .bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (byte as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect();
        // The genuine token, with blanks a mail client may have added around it, opens.
        if token.trim() == site.token {
            return Ok(());
        }
        let (status, body) = site.call(
            "GET",
            &format!("/preferences/{encoded}"),
            "text/plain",
            Vec::new(),
        );
        not_a_server_error(status, "a made-up link", &body)?;
        prop_assert!(
            matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::GONE | StatusCode::BAD_REQUEST
            ),
            "a made-up link answered {}",
            status
        );
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn csv_files_from_strangers_are_imported_whole_or_refused_naming_a_line() {
    let rows = noisy_text(vec![
        ",",
        "\n",
        "\r\n",
        "\"",
        "\"\"",
        "email",
        "id",
        "name",
        "status",
        "modified_at",
        "ada@example.com",
        "a@b",
        "2024-05-01",
        "1714557600000",
        " ",
        "\u{feff}",
        "é",
    ]);
    let outcome = runner().run(&rows, |text| {
        match read_records(text.as_bytes()) {
            Ok(records) => {
                for record in records {
                    let email = record
                        .fields
                        .iter()
                        .find(|(name, _)| name == "email")
                        .map(|(_, value)| value.as_str())
                        .unwrap_or_default();
                    prop_assert!(
                        email.is_empty() || email.parse::<lettre_address::Checked>().is_ok(),
                        "an import accepted the address {:?}",
                        email
                    );
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    message.starts_with("line "),
                    "an unclear refusal: {}",
                    message
                );
            }
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// The address check the import applies, for the assertion above.
mod lettre_address {
    /// An address a CSV import may accept: something@something, without blanks.
    pub struct Checked;

    impl std::str::FromStr for Checked {
        type Err = ();

        fn from_str(text: &str) -> Result<Checked, ()> {
            let (local, domain) = text.trim().rsplit_once('@').ok_or(())?;
            let plain = |part: &str| !part.is_empty() && !part.chars().any(char::is_whitespace);
            (plain(local) && plain(domain)).then_some(Checked).ok_or(())
        }
    }
}

#[test]
fn form_bodies_from_strangers_change_nothing_a_valid_form_would_not() {
    let site = Site::new();
    let bodies = noisy_text(vec![
        "email-marketing",
        "=",
        "&",
        "grant",
        "refuse",
        "confirm",
        "yes",
        "%",
        "%3D",
        "+",
        "List-Unsubscribe",
        "One-Click",
        "erase",
    ]);
    let outcome = runner().run(&bodies, |body| {
        let before = site.news();
        let pairs = form_pairs(&body);
        let says = |pair: (&str, &str)| {
            pairs
                .iter()
                .any(|(name, value)| (name.as_str(), value.as_str()) == pair)
        };
        let grants = says(("email-marketing", "grant"));
        let refuses = says(("email-marketing", "refuse"));
        let confirmed = says(("confirm", "yes"));
        let (status, page) = site.call(
            "POST",
            &format!("/preferences/{}", site.token),
            "application/x-www-form-urlencoded",
            body.clone().into_bytes(),
        );
        not_a_server_error(status, "the page", &page)?;
        let after = site.news();
        if after != before {
            prop_assert!(
                status.is_success(),
                "{} changed a consent: {:?}",
                status,
                body
            );
            prop_assert!(
                (after == Some(ConsentValue::Granted) && grants)
                    || (after == Some(ConsentValue::NotGranted) && refuses),
                "{:?} made {:?} from {:?}",
                body,
                after,
                before
            );
        }
        // The serious actions act only when confirmed; Ada is neither stopped nor erased.
        for action in ["stop-processing", "erase"] {
            if confirmed {
                continue;
            }
            let (status, page) = site.call(
                "POST",
                &format!("/preferences/{}/{action}", site.token),
                "application/x-www-form-urlencoded",
                body.clone().into_bytes(),
            );
            not_a_server_error(status, action, &page)?;
        }
        let subject = site
            .guard
            .subject(&contact("1"))
            .expect("call")
            .expect("Ada");
        prop_assert_eq!(
            subject.status,
            privacy_guard_host::contract::subjects::PersonStatus::Active,
            "an unconfirmed form stopped or erased Ada: {:?}",
            body
        );
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// The pairs of a form body, decoded as a browser encodes them (`+` is a blank, `%XX` a
/// byte); what cannot be decoded is kept as it is.
fn form_pairs(body: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'+' => out.push(b' '),
                b'%' if at + 2 < bytes.len()
                    && bytes[at + 1].is_ascii_hexdigit()
                    && bytes[at + 2].is_ascii_hexdigit() =>
                {
                    let digit = |byte: u8| (byte as char).to_digit(16).unwrap_or(0) as u8;
                    out.push(digit(bytes[at + 1]) * 16 + digit(bytes[at + 2]));
                    at += 2;
                }
                other => out.push(other),
            }
            at += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

#[test]
fn api_bodies_from_strangers_get_a_json_error_naming_the_problem() {
    let site = Site::new();
    let routes = [
        ("POST", "/api/v1/check-send"),
        ("POST", "/api/v1/render"),
        ("POST", "/api/v1/records/contacts"),
        ("PATCH", "/api/v1/settings"),
        ("PUT", "/api/v1/consents/fuzzed"),
        ("POST", "/api/v1/subjects/contacts/1/decisions"),
        ("POST", "/api/v1/subjects/contacts/1/restrict"),
    ];
    let bodies = (
        prop::sample::select(routes.to_vec()),
        noisy_text(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "\"class\"",
            "\"marketing\"",
            "\"recipients\"",
            "\"address\"",
            "\"role\"",
            "\"to\"",
            "\"records\"",
            "\"id\"",
            "\"fields\"",
            "null",
            "true",
            "1e999",
            "-0",
            "\"\\u0000\"",
            "\"consent_id\"",
            "\"grant\"",
            "\"evidence\"",
            "\"source\"",
            "\"reason\"",
            "\"sender_address\"",
        ]),
    );
    let outcome = runner().run(&bodies, |((method, path), body)| {
        let before = site.news();
        let (status, answer) =
            site.call(method, path, "application/json", body.clone().into_bytes());
        not_a_server_error(status, path, &answer)?;
        if !status.is_success() {
            let error: serde_json::Value = serde_json::from_str(&answer).map_err(|_| {
                TestCaseError::fail(format!("{path} answered {status} without JSON: {answer}"))
            })?;
            prop_assert!(error["error"]["code"].is_string(), "{}", answer);
            prop_assert!(
                error["error"]["message"]
                    .as_str()
                    .is_some_and(|message| !message.is_empty()),
                "{}",
                answer
            );
            prop_assert_eq!(site.news(), before, "a refused request changed a consent");
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
