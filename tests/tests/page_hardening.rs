//! The preferences page under attack (issue 14, part 4), over real TCP: a form posted from
//! another site is refused 403 and changes nothing, the one-click unsubscription of mail
//! providers still works without an `Origin`, and clients that guess tokens or hammer one
//! link get 429 with `Retry-After` while other clients are served, until the host's clock
//! has refilled their bucket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use privacy_guard_host::contract::types::ConsentValue;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::http::{PageLimits, Rate};
use privacy_guard_host::tenants::Tenants;
use privacy_guard_tests::scenario::{contact, import_csv};
use privacy_guard_tests::{
    Response, TestHost, WebServer, configure, http_call, http_post_form, served_host,
};

/// Everything a refused request must leave as it was: the event log (every event, so its
/// head and length), Ada's consents and status, and the mail queued or sent.
#[derive(Debug, PartialEq)]
struct State {
    events: Vec<(u64, String, String)>,
    ada: String,
    mails: usize,
    undelivered: usize,
}

fn state(host: &TestHost, guard: &Guard) -> State {
    State {
        events: guard
            .events_after(0)
            .expect("events")
            .into_iter()
            .map(|event| (event.sequence, event.stream, event.payload))
            .collect(),
        ada: format!("{:?}", guard.subject(&contact("1")).expect("call")),
        mails: host.mails().len(),
        undelivered: guard.undelivered_mail(1000).expect("outbox").len(),
    }
}

fn marketing(guard: &Guard) -> Option<ConsentValue> {
    guard
        .subject(&contact("1"))
        .expect("call")?
        .consents
        .into_iter()
        .find(|consent| consent.consent_id == "email-marketing")
        .map(|consent| consent.value)
}

/// Ada imported and sent her request: her link on `preferences_url`.
fn ada_with_her_link(host: &TestHost, guard: &Guard, preferences_url: &str) -> String {
    configure(guard, preferences_url);
    import_csv(
        guard,
        "contacts",
        "name,email\nAda Lovelace,ada@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    host.mails()
        .iter()
        .find_map(|mail| mail.link(preferences_url))
        .expect("Ada's link")
}

fn form_post(url: &str, headers: &[(&str, &str)], body: &str) -> Response {
    http_call(
        "POST",
        url,
        headers,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    )
    .expect("POST")
}

#[test]
fn a_form_posted_from_another_site_is_refused_with_a_403_page_and_changes_nothing() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    let link = ada_with_her_link(&host, &guard, &server.preferences_url());
    let own = format!("http://{}", server.address);
    let before = state(&host, &guard);
    let forms = [
        ("her answer", link.clone(), "email-marketing=grant"),
        (
            "stopping processing",
            format!("{link}/stop-processing"),
            "confirm=yes",
        ),
        ("erasure", format!("{link}/erase"), "confirm=yes"),
        (
            "a new link",
            format!("{}link", server.preferences_url()),
            "address=ada%40example.com",
        ),
    ];
    let forgeries: [(&str, Vec<(&str, &str)>); 6] = [
        (
            "a browser saying cross-site",
            vec![
                ("Sec-Fetch-Site", "cross-site"),
                ("Origin", "https://evil.example"),
            ],
        ),
        (
            "a browser saying same-site, with our own Origin",
            vec![("Sec-Fetch-Site", "same-site"), ("Origin", own.as_str())],
        ),
        ("a foreign Origin", vec![("Origin", "https://evil.example")]),
        (
            "our host as a suffix of a foreign one",
            vec![("Origin", "http://127.0.0.1.evil.example")],
        ),
        (
            "a foreign Referer under a null Origin",
            vec![
                ("Origin", "null"),
                ("Referer", "https://evil.example/preferences/x"),
            ],
        ),
        ("no proof at all", vec![("Accept-Language", "de")]),
    ];
    for (form, url, body) in &forms {
        for (forgery, headers) in &forgeries {
            let answer = form_post(url, headers, body);
            assert_eq!(answer.status, 403, "{form}, {forgery}: {}", answer.body);
            assert!(
                answer.body.contains("not sent from our preferences page")
                    || answer
                        .body
                        .contains("nicht von unserer Einstellungsseite gesendet"),
                "{form}, {forgery} says why: {}",
                answer.body
            );
            assert_eq!(
                state(&host, &guard),
                before,
                "{form}, {forgery} changed something"
            );
        }
    }
    let german = form_post(&link, &[("Accept-Language", "de")], "email-marketing=grant");
    assert!(
        german.body.contains("<html lang=\"de\">"),
        "{}",
        german.body
    );

    // From our own page the same form counts: a modern browser's Sec-Fetch-Site, or an
    // older one's Origin or Referer naming the origin it was sent to.
    let saved = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(marketing(&guard), Some(ConsentValue::Granted));
    let by_origin = form_post(&link, &[("Origin", &own)], "email-marketing=refuse");
    assert_eq!(by_origin.status, 200, "{}", by_origin.body);
    assert_eq!(marketing(&guard), Some(ConsentValue::NotGranted));
    let referer = format!("{link}?from=page");
    let by_referer = form_post(
        &link,
        &[("Origin", "null"), ("Referer", &referer)],
        "email-marketing=grant",
    );
    assert_eq!(by_referer.status, 200, "{}", by_referer.body);
    assert_eq!(marketing(&guard), Some(ConsentValue::Granted));
}

#[test]
fn the_one_click_post_of_mail_providers_needs_no_origin_and_can_only_unsubscribe() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    let link = ada_with_her_link(&host, &guard, &server.preferences_url());
    let saved = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    // A mail provider posts from its servers: no Origin, no Sec-Fetch-Site. Even a
    // cross-site page posting it only withdraws the link's own person's consent.
    let answer = form_post(
        &format!("{link}/unsubscribe/email-marketing"),
        &[("Sec-Fetch-Site", "cross-site")],
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(marketing(&guard), Some(ConsentValue::NotGranted));
}

#[test]
fn behind_a_proxy_the_preferences_urls_origin_is_our_own() {
    // People open https://prefs.example.org/...; the proxy forwards to this server, whose
    // Host is its own address: the preferences URL says which origin is ours.
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let server = WebServer::start(guard.clone()).expect("server");
    let public = "https://prefs.example.org/preferences/";
    let token = ada_with_her_link(&host, &guard, public)
        .rsplit('/')
        .next()
        .expect("a token")
        .to_owned();
    let link = format!("{}{token}", server.preferences_url());
    let before = state(&host, &guard);
    let spoof = form_post(
        &link,
        &[("Origin", "https://prefs.example.org.evil.example")],
        "email-marketing=grant",
    );
    assert_eq!(spoof.status, 403, "{}", spoof.body);
    assert_eq!(state(&host, &guard), before);
    let ours = form_post(
        &link,
        &[("Origin", "https://PREFS.example.org:443")],
        "email-marketing=grant",
    );
    assert_eq!(ours.status, 200, "{}", ours.body);
    assert_eq!(marketing(&guard), Some(ConsentValue::Granted));
}

/// A host whose page is limited by `limits` (on the host's clock).
fn limited_host(limits: impl FnOnce(&TestHost) -> PageLimits) -> (TestHost, Arc<Guard>, WebServer) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let mut tenants = Tenants::single(guard.clone(), Vec::new());
    tenants.page_limits = limits(&host);
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    (host, guard, server)
}

/// `GET url` over TCP from the loopback address `source` (another client).
fn get_from(source: IpAddr, url: &str, headers: &[(&str, &str)]) -> Response {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_once('/').expect("a path");
    let target: SocketAddr = authority.parse().expect("an address");
    let mut request = format!("GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let raw = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(source, 0))?;
            let mut stream = socket.connect(target).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await?;
            anyhow::Ok(String::from_utf8_lossy(&raw).into_owned())
        })
        .expect("an answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    Response {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status"),
        headers: head.to_owned(),
        body: body.to_owned(),
    }
}

fn retry_after(answer: &Response) -> u64 {
    answer
        .headers
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("retry-after")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Retry-After: {}", answer.headers))
}

const ONE: &str = "127.0.0.1";
const ANOTHER: &str = "127.0.0.2";

#[test]
fn a_client_guessing_tokens_gets_429_with_retry_after_others_do_not_and_it_recovers_on_the_hosts_clock()
 {
    let (host, guard, server) = limited_host(|host| PageLimits {
        refused_links: Rate::per_seconds(5, 60),
        clock: host.clock.clone(),
        ..PageLimits::recommended()
    });
    let link = ada_with_her_link(&host, &guard, &server.preferences_url());
    let one: IpAddr = ONE.parse().expect("an address");
    let another: IpAddr = ANOTHER.parse().expect("an address");
    let guess = |n: u32| format!("{}guess-{n}", server.preferences_url());
    for n in 0..5 {
        assert_eq!(get_from(one, &guess(n), &[]).status, 404, "guess {n}");
    }
    let limited = get_from(one, &guess(5), &[("Accept-Language", "fr")]);
    assert_eq!(limited.status, 429, "{}", limited.body);
    let wait = retry_after(&limited);
    assert!((1..=12).contains(&wait), "Retry-After: {wait}");
    assert!(
        limited.body.contains("<html lang=\"fr\">"),
        "{}",
        limited.body
    );
    assert!(
        limited.body.contains("Trop de requêtes"),
        "{}",
        limited.body
    );
    // Until it refills, the guesser's genuine links are refused too; no one else's are.
    assert_eq!(get_from(one, &link, &[]).status, 429);
    assert_eq!(get_from(another, &link, &[]).status, 200);
    assert_eq!(get_from(another, &guess(6), &[]).status, 404);
    // Nothing but the host's clock moving lets the guesser in again.
    host.set_now("2026-12-01T10:00:11Z");
    assert_eq!(get_from(one, &guess(7), &[]).status, 429, "not yet");
    host.set_now("2026-12-01T10:00:12Z");
    assert_eq!(
        get_from(one, &guess(8), &[]).status,
        404,
        "one guess refilled"
    );
    assert_eq!(get_from(one, &guess(9), &[]).status, 429);
    host.set_now("2026-12-01T10:01:00Z");
    assert_eq!(get_from(one, &link, &[]).status, 200);
}

#[test]
fn one_link_hammered_gets_429_whoever_asks_and_other_links_are_served() {
    let (host, guard, server) = limited_host(|host| PageLimits {
        link: Rate::per_seconds(3, 60),
        clock: host.clock.clone(),
        ..PageLimits::recommended()
    });
    let link = ada_with_her_link(&host, &guard, &server.preferences_url());
    import_csv(
        &guard,
        "contacts",
        "name,email\nGrace Hopper,grace@example.com\n",
    );
    host.set_now("2026-12-02T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let grace = host
        .mails()
        .iter()
        .filter(|mail| mail.to == ["grace@example.com"])
        .find_map(|mail| mail.link(&server.preferences_url()))
        .expect("Grace's link");
    let one: IpAddr = ONE.parse().expect("an address");
    let another: IpAddr = ANOTHER.parse().expect("an address");
    for _ in 0..3 {
        assert_eq!(get_from(one, &link, &[]).status, 200);
    }
    let limited = get_from(another, &link, &[]);
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(retry_after(&limited), 20);
    assert_eq!(get_from(one, &grace, &[]).status, 200);
    host.set_now("2026-12-02T10:00:20Z");
    assert_eq!(get_from(another, &link, &[]).status, 200);
}

#[test]
fn only_a_configured_proxy_header_names_the_client() {
    let limits = |header: Option<&'static str>| {
        move |host: &TestHost| PageLimits {
            refused_links: Rate::per_seconds(2, 60),
            forwarded_header: header.map(axum::http::HeaderName::from_static),
            clock: host.clock.clone(),
            ..PageLimits::recommended()
        }
    };
    let one: IpAddr = ONE.parse().expect("an address");
    // Without a trusted proxy, a client cannot escape its limit by writing the header.
    let (_host, _guard, server) = limited_host(limits(None));
    let guess = |n: u32| format!("{}guess-{n}", server.preferences_url());
    for n in 0..2 {
        let forged = format!("198.51.100.{n}");
        let answer = get_from(one, &guess(n), &[("X-Forwarded-For", &forged)]);
        assert_eq!(answer.status, 404);
    }
    let forged = get_from(one, &guess(2), &[("X-Forwarded-For", "198.51.100.99")]);
    assert_eq!(forged.status, 429, "the header was believed");
    // Behind one, its last entry is the client; what a client wrote before it is not.
    let (_host, _guard, server) = limited_host(limits(Some("x-forwarded-for")));
    let guess = |n: u32| format!("{}guess-{n}", server.preferences_url());
    for n in 0..2 {
        let chain = format!("10.9.9.{n}, 203.0.113.7");
        assert_eq!(
            get_from(one, &guess(n), &[("X-Forwarded-For", &chain)]).status,
            404
        );
    }
    let same = get_from(
        one,
        &guess(2),
        &[("X-Forwarded-For", "10.9.9.9, 203.0.113.7")],
    );
    assert_eq!(same.status, 429);
    let other = get_from(one, &guess(3), &[("X-Forwarded-For", "203.0.113.8")]);
    assert_eq!(other.status, 404, "another client behind the same proxy");
}
