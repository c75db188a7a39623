//! The change feed and its webhooks, through the real component in the real host: changes
//! made by imports, the daily run, the preferences page, recorded decisions, restriction and
//! erasure are read back page by page over the API (in log order, nothing lost, no personal
//! data), and pushed to a real HTTP receiver on a loopback port (signed, in order, the same
//! idempotency key on a retry, a failing endpoint listed for the operator).

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use privacy_guard_host::guard::Guard;
use privacy_guard_host::mail::RetryPolicy;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scopes, Tenants};
use privacy_guard_host::webhooks::{WebhookEndpoint, WebhookSecret, Webhooks};
use privacy_guard_tests::scenario::import_csv;
use privacy_guard_tests::{TestHost, WebServer, configure, http_call, http_post_form};
use serde_json::{Value, json};
use sha2::Sha256;

const KEY: &str = "pgk_feed_0123456789";
const SECRET: &str = "whsec_0123456789abcdef0123456789";
/// How long a test waits for the receiver to hear something that must come.
const PATIENCE: Duration = Duration::from_secs(60);

const PEOPLE: &str = "first_name,last_name,email\n\
    Ada,Lovelace,ada@example.com\n\
    Grace,Hopper,grace.hopper@example.com\n\
    Edsger,Dijkstra,edsger@example.org\n";

/// A host serving the page and the API for one tenant, configured with the test settings.
fn served() -> (TestHost, Arc<Guard>, WebServer) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let tenants = Tenants::single(
        guard.clone(),
        vec![ApiKey {
            name: "crm".into(),
            digest: KeyDigest::of_key(KEY),
            scopes: Scopes::ADMIN,
        }],
    );
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    configure(&guard, &server.preferences_url());
    (host, guard, server)
}

/// `method path` on the API with the tenant's key; status and JSON body.
fn api(server: &WebServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let bytes = body.map(|body| body.to_string().into_bytes());
    let response = http_call(
        method,
        &format!("http://{}{path}", server.address),
        &[("Authorization", &format!("Bearer {KEY}"))],
        bytes.as_deref().map(|bytes| ("application/json", bytes)),
    )
    .expect("the API answers");
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

/// Every change of the feed read page by page with `limit`, checking that each page starts
/// where the one before ended; the changes and the last cursor.
fn read_feed(server: &WebServer, limit: usize) -> (Vec<Value>, String) {
    let mut changes = Vec::new();
    let mut path = format!("/api/v1/changes?limit={limit}");
    loop {
        let (status, page) = api(server, "GET", &path, None);
        assert_eq!(status, 200, "{page}");
        let items = page["changes"].as_array().expect("changes").clone();
        assert!(
            items.len() <= limit,
            "a page of {} for limit {limit}",
            items.len()
        );
        let next = page["next"].as_str().expect("next").to_owned();
        if let Some(last) = items.last() {
            assert_eq!(
                last["sequence"].to_string(),
                next,
                "next is the last event read"
            );
        }
        changes.extend(items);
        if page["more"] == false {
            return (changes, next);
        }
        path = format!("/api/v1/changes?after={next}&limit={limit}");
    }
}

/// Makes changes of every kind a CRM mirrors: requests, an answer on the page, recorded
/// decisions, a restriction lifted, an erasure.
fn make_changes(host: &TestHost, guard: &Guard, server: &WebServer) {
    import_csv(guard, "contacts", PEOPLE);
    guard.run_daily("2026-12-01", &|_| {}).expect("daily run");
    let ada = host
        .mails()
        .into_iter()
        .find(|mail| mail.to[0] == "ada@example.com")
        .expect("Ada's request");
    let link = ada.link(&server.preferences_url()).expect("a link");
    let saved = http_post_form(&link, &[("email-marketing", "grant")]).expect("the page");
    assert_eq!(saved.status, 200, "{}", saved.body);
    let decide = |id: &str, grant: bool| {
        let (status, body) = api(
            server,
            "POST",
            &format!("/api/v1/subjects/contacts/{id}/decisions"),
            Some(
                json!({"consent_id": "email-marketing", "grant": grant, "evidence": "Phone call with the CRM team"}),
            ),
        );
        assert_eq!(status, 200, "{body}");
    };
    decide("2", false);
    decide("1", false);
    for (action, body) in [
        (
            "restrict",
            json!({"reason": "Disputes the accuracy of the record"}),
        ),
        ("lift-restriction", json!({"reason": "Record corrected"})),
    ] {
        let (status, answer) = api(
            server,
            "POST",
            &format!("/api/v1/subjects/contacts/3/{action}"),
            Some(body),
        );
        assert_eq!(status, 200, "{answer}");
    }
    let (status, answer) = api(
        server,
        "POST",
        "/api/v1/subjects/contacts/2/erase",
        Some(json!({"evidence": "Erasure request by letter"})),
    );
    assert_eq!(status, 200, "{answer}");
}

fn kinds_of(changes: &[Value], person: &str) -> Vec<String> {
    changes
        .iter()
        .filter(|change| {
            format!(
                "{}/{}",
                change["person"]["module"].as_str().unwrap_or(""),
                change["person"]["id"].as_str().unwrap_or("")
            ) == person
        })
        .map(|change| change["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn every_committed_change_reaches_the_feed_once_in_log_order_without_personal_data() {
    let (host, guard, server) = served();
    make_changes(&host, &guard, &server);

    let (all, end) = read_feed(&server, 1000);
    // Page by page gives the same changes in the same order: nothing lost or repeated at a
    // page's edge.
    for limit in [1, 2, 7] {
        assert_eq!(
            read_feed(&server, limit),
            (all.clone(), end.clone()),
            "limit {limit}"
        );
    }
    let sequences: Vec<u64> = all
        .iter()
        .filter_map(|change| change["sequence"].as_u64())
        .collect();
    assert_eq!(sequences.len(), all.len());
    assert!(
        sequences.windows(2).all(|pair| pair[0] <= pair[1]),
        "{sequences:?}"
    );
    // Every event of a person that changed a value or a status is in the feed.
    let events = privacy_guard_tests::scenario::block_on(guard.database().events_after(0, 100_000))
        .expect("the log");
    for event in &events {
        let changing = event.payload.contains("\"kind\":\"consent-changed\"")
            || event.payload.contains("\"kind\":\"status-changed\"");
        assert_eq!(
            sequences.contains(&event.sequence),
            changing,
            "event {} ({}) in the feed: {}",
            event.sequence,
            event.stream,
            event.payload
        );
    }

    assert_eq!(
        kinds_of(&all, "contacts/1"),
        [
            "consent_applicable",
            "consent_requested",
            "consent_granted",
            "consent_withdrawn"
        ]
    );
    assert_eq!(
        kinds_of(&all, "contacts/2"),
        [
            "consent_applicable",
            "consent_requested",
            "consent_refused",
            "erased"
        ]
    );
    assert_eq!(
        kinds_of(&all, "contacts/3"),
        [
            "consent_applicable",
            "consent_requested",
            "processing_restricted",
            "restriction_lifted"
        ]
    );
    let granted = all
        .iter()
        .find(|change| change["kind"] == "consent_granted")
        .expect("a grant");
    assert_eq!(granted["consent"], "email-marketing");
    assert_eq!(granted["value"], "granted");
    assert_eq!(granted["previous"], "waiting");
    assert_eq!(granted["source"], "preferences_page");
    let erased = all
        .iter()
        .find(|change| change["kind"] == "erased")
        .expect("the erasure");
    assert_eq!(
        (erased["value"].as_str(), erased["source"].as_str()),
        (Some("erased"), Some("api"))
    );

    // Record references and values only.
    let text = serde_json::to_string(&all).expect("JSON");
    for personal in [
        "Ada",
        "Lovelace",
        "Grace",
        "Hopper",
        "example.com",
        "example.org",
        "127.0.0",
        "Phone call",
        "Disputes",
        "Erasure request",
        "crm",
        "user-agent",
        "link",
    ] {
        assert!(
            !text.contains(personal),
            "the feed holds `{personal}`: {text}"
        );
    }

    // At the end: an empty page that keeps the cursor; a cursor past the end, a wrong cursor
    // or limit, and no key are refused as documented.
    let (status, page) = api(
        &server,
        "GET",
        &format!("/api/v1/changes?after={end}"),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(page, json!({"changes": [], "next": end, "more": false}));
    let past = end.parse::<u64>().expect("a number") + 1;
    for path in [
        format!("/api/v1/changes?after={past}"),
        "/api/v1/changes?after=abc".to_owned(),
        "/api/v1/changes?limit=0".to_owned(),
        "/api/v1/changes?limit=1001".to_owned(),
        "/api/v1/changes?since=1".to_owned(),
    ] {
        let (status, error) = api(&server, "GET", &path, None);
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (422, Some("invalid_request")),
            "{path}: {error}"
        );
    }
    let anonymous = http_call(
        "GET",
        &format!("http://{}/api/v1/changes", server.address),
        &[],
        None,
    )
    .expect("answer");
    assert_eq!(anonymous.status, 401);
}

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    idempotency_key: String,
    body: String,
}

/// An HTTP receiver on a loopback port: it answers the statuses queued (then 200) and
/// sends each request it got down a channel.
struct Receiver {
    url: String,
    answers: Arc<Mutex<VecDeque<u16>>>,
    got: mpsc::Receiver<Received>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct ReceiverState {
    answers: Arc<Mutex<VecDeque<u16>>>,
    sent: mpsc::Sender<Received>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        signature: header("privacy-guard-signature"),
        idempotency_key: header("idempotency-key"),
        body,
    };
    let status = state
        .answers
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(200);
    state.sent.send(received).expect("the test listens");
    StatusCode::from_u16(status).expect("a status")
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a port");
        let address = listener.local_addr().expect("address");
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let (sent, got) = mpsc::channel();
        let app = axum::Router::new()
            .route("/hooks/privacy", axum::routing::post(receive))
            .with_state(ReceiverState {
                answers: answers.clone(),
                sent,
            });
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{address}/hooks/privacy?tenant=acme"),
            answers,
            got,
            _runtime: runtime,
        }
    }

    fn answer(&self, statuses: &[u16]) {
        self.answers.lock().expect("lock").extend(statuses);
    }

    fn next(&self) -> Received {
        self.got
            .recv_timeout(PATIENCE)
            .expect("the receiver got a request")
    }

    /// What it got so far (the pass that sent it has returned).
    fn so_far(&self) -> Vec<Received> {
        self.got.try_iter().collect()
    }
}

fn webhooks(url: &str, attempts: u32) -> Webhooks {
    Webhooks::new(
        vec![WebhookEndpoint::new(url, WebhookSecret::new(SECRET)).expect("endpoint")],
        RetryPolicy {
            attempts,
            ..RetryPolicy::default()
        },
    )
    .expect("webhooks")
}

/// Checks the signature as a receiver would; the body as JSON.
fn verified(received: &Received) -> Value {
    let (timestamp, signature) = received
        .signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("a signature header: {:?}", received.signature));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{}", received.body).as_bytes());
    mac.verify_slice(&hex::decode(signature).expect("hex"))
        .expect("the signature verifies");
    assert!(!received.idempotency_key.is_empty());
    let body: Value = serde_json::from_str(&received.body).expect("JSON");
    assert_eq!(body["delivery"], received.idempotency_key.as_str());
    body
}

#[test]
fn webhook_batches_arrive_in_order_signed_and_a_retry_keeps_its_idempotency_key() {
    let (host, guard, server) = served();
    let receiver = Receiver::start();
    guard
        .set_webhooks(webhooks(&receiver.url, 5))
        .expect("webhooks");
    // Sixty people: their changes take two batches.
    let mut csv = String::from("first_name,last_name,email\n");
    for n in 0..60 {
        csv.push_str(&format!("P{n},Person,p{n}@example.com\n"));
    }
    import_csv(&guard, "contacts", &csv);
    make_changes(&host, &guard, &server);

    // The first attempt is answered 500: the batch waits for its next attempt.
    receiver.answer(&[500]);
    let report = guard.deliver_webhooks().expect("a pass");
    assert_eq!((report.delivered, report.deferred), (0, 1));
    let refused = receiver.next();
    let waiting = guard.undelivered_webhooks().expect("deliveries");
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        waiting[0].last_error.as_deref(),
        Some("the endpoint answered 500")
    );

    // A restart, the minute over: the same batch again, same key, same body, new signature
    // time allowed; then every later batch, in order.
    drop(guard);
    host.set_now("2026-12-01T09:02:00Z");
    let guard = host.open().expect("the host again");
    guard
        .set_webhooks(webhooks(&receiver.url, 5))
        .expect("webhooks");
    let report = guard.deliver_webhooks().expect("a pass");
    assert!(report.delivered >= 2, "{report:?}");
    let retried = receiver.next();
    assert_eq!(retried.idempotency_key, refused.idempotency_key);
    assert_eq!(retried.body, refused.body);
    let mut batches = vec![verified(&retried)];
    batches.extend(receiver.so_far().iter().map(verified));
    assert_eq!(batches.len() as u64, report.delivered);
    assert_eq!(batches[0]["after"], "0");
    for pair in batches.windows(2) {
        assert_eq!(
            pair[1]["after"], pair[0]["next"],
            "batches follow each other"
        );
        assert_ne!(pair[1]["delivery"], pair[0]["delivery"]);
    }
    let pushed: Vec<Value> = batches
        .iter()
        .flat_map(|batch| batch["changes"].as_array().expect("changes").clone())
        .collect();
    assert!(
        batches
            .iter()
            .all(|batch| batch["changes"].as_array().is_some_and(|c| c.len() <= 100))
    );
    let (fed, end) = read_feed(&server, 1000);
    assert_eq!(pushed, fed, "the webhooks carried the feed, in order");
    assert_eq!(
        batches.last().map(|batch| batch["next"].clone()),
        Some(Value::from(end))
    );

    // Delivered once: another pass, here or in another host process, has nothing to send.
    assert_eq!(
        guard.deliver_webhooks().expect("a pass"),
        Default::default()
    );
    let second = host.open().expect("a second host process");
    second
        .set_webhooks(webhooks(&receiver.url, 5))
        .expect("webhooks");
    assert_eq!(
        second.deliver_webhooks().expect("a pass"),
        Default::default()
    );
    assert!(guard.undelivered_webhooks().expect("deliveries").is_empty());
    assert!(receiver.so_far().is_empty());
}

#[test]
fn a_failing_endpoint_is_listed_as_failing_and_its_later_changes_wait_for_the_operator() {
    let (host, guard, _server) = served();
    let receiver = Receiver::start();
    guard
        .set_webhooks(webhooks(&receiver.url, 2))
        .expect("webhooks");
    import_csv(&guard, "contacts", PEOPLE);
    receiver.answer(&[503, 502]);
    assert_eq!(guard.deliver_webhooks().expect("a pass").deferred, 1);
    let first = receiver.next();
    host.set_now("2026-12-01T09:05:00Z");
    assert_eq!(guard.deliver_webhooks().expect("a pass").failed, 1);
    assert_eq!(receiver.next().idempotency_key, first.idempotency_key);
    let failing = guard.undelivered_webhooks().expect("deliveries");
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(failing[0].failed_at.is_some());
    assert_eq!(failing[0].endpoint, receiver.url);
    assert_eq!(
        failing[0].last_error.as_deref(),
        Some("the endpoint answered 502 (gave up after 2 attempts)")
    );

    // Later changes wait behind the failed batch: nothing goes until the operator acts.
    guard.run_daily("2026-12-01", &|_| {}).expect("daily run");
    host.set_now("2026-12-01T12:00:00Z");
    assert_eq!(
        guard.deliver_webhooks().expect("a pass"),
        Default::default()
    );
    assert!(receiver.so_far().is_empty());
    assert_eq!(guard.retry_failed_webhooks().expect("requeue"), 1);
    let report = guard.deliver_webhooks().expect("a pass");
    assert_eq!((report.delivered, report.failed), (2, 0), "{report:?}");
    let retried = receiver.next();
    assert_eq!(retried.idempotency_key, first.idempotency_key);
    let later = verified(&receiver.next());
    assert_eq!(later["after"], verified(&retried)["next"]);
    assert!(
        later["changes"]
            .as_array()
            .is_some_and(|changes| changes.iter().all(|c| c["kind"] == "consent_requested"))
    );

    // An endpoint nobody listens on: the connection failure is recorded, and it waits.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let other = host.open().expect("another host process");
    other
        .set_webhooks(webhooks(&format!("http://127.0.0.1:{port}/"), 5))
        .expect("webhooks");
    assert_eq!(other.deliver_webhooks().expect("a pass").deferred, 1);
    let waiting = other.undelivered_webhooks().expect("deliveries");
    assert!(
        waiting.iter().any(|delivery| delivery.failed_at.is_none()
            && delivery
                .last_error
                .as_deref()
                .is_some_and(|error| error.starts_with("could not connect"))),
        "{waiting:?}"
    );
}

#[test]
fn the_webhook_worker_delivers_right_after_a_commit_not_at_its_interval() {
    let (_host, guard, _server) = served();
    let receiver = Receiver::start();
    guard
        .set_webhooks(webhooks(&receiver.url, 5))
        .expect("webhooks");
    // The configuration's own events go out on the worker's first pass.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = runtime.spawn(privacy_guard_host::worker::deliver_webhooks_periodically(
        guard.clone(),
        Duration::from_secs(3600),
        stopped,
    ));
    // Each commit that appends events wakes it: an hour's interval cannot explain these.
    for people in [
        PEOPLE,
        "first_name,last_name,email\nAlan,Turing,alan@example.net\n",
    ] {
        import_csv(&guard, "contacts", people);
        loop {
            let body = verified(&receiver.next());
            let changes = body["changes"].as_array().expect("changes");
            if changes
                .iter()
                .any(|change| change["kind"] == "consent_applicable")
            {
                break;
            }
        }
    }
    stop.send_replace(true);
    runtime.block_on(worker).expect("the worker stops");
}
