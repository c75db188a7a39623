//! "Send me my link again" (issue 14, part 3), over real TCP: a known, active address gets
//! one mail with a fresh link that opens its person's page; an unknown, erased or
//! restricted address, and a second request within the interval, get no mail and the very
//! same answer; a client over its limit gets 429.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use privacy_guard_host::guard::Guard;
use privacy_guard_host::http::{PageLimits, Rate};
use privacy_guard_host::tenants::Tenants;
use privacy_guard_tests::scenario::{contact, import_csv};
use privacy_guard_tests::{
    Mail, Response, TestHost, WebServer, configure, http_get, http_post_form, operator, served_host,
};

const PEOPLE: &str = "name,email\nAda Lovelace,ada@example.com\nGrace Hopper,grace@example.com\nEdsger Dijkstra,edsger@example.com\n";

/// Ada, Grace and Edsger imported and sent their requests; Grace then erased and Edsger
/// restricted by staff.
fn people(host: &TestHost, guard: &Guard, preferences_url: &str) {
    configure(guard, preferences_url);
    import_csv(guard, "contacts", PEOPLE);
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    guard
        .erase(&contact("2"), &operator(), "Grace asked by phone")
        .expect("call")
        .expect("erased");
    guard
        .restrict(&contact("3"), &operator(), "Edsger asked by letter")
        .expect("call")
        .expect("restricted");
}

fn ask(server: &WebServer, address: &str) -> (Response, Duration) {
    let started = Instant::now();
    let answer = http_post_form(
        &format!("{}link", server.preferences_url()),
        &[("address", address)],
    )
    .expect("POST");
    (answer, started.elapsed())
}

fn mails_to(host: &TestHost, address: &str) -> Vec<Mail> {
    host.mails()
        .into_iter()
        .filter(|mail| mail.to == [address])
        .collect()
}

/// The bytes a base64url part of a token stands for (no padding).
fn decoded(token: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        other => panic!("`{}` is not base64url", other as char),
    };
    let mut bytes = Vec::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for c in token.bytes() {
        buffer = (buffer << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
        }
    }
    bytes
}

#[test]
fn a_known_address_gets_one_working_link_and_every_other_answer_is_the_same_byte_for_byte() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    people(&host, &guard, &server.preferences_url());
    let form = http_get(&format!("{}link", server.preferences_url())).expect("GET");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("name=\"address\""), "{}", form.body);

    let requests_to_ada = mails_to(&host, "ada@example.com").len();
    let (sent, sent_took) = ask(&server, "ada@example.com");
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.body.contains("If we hold this address"),
        "{}",
        sent.body
    );
    assert!(!sent.body.contains("ada@example.com"), "{}", sent.body);
    let to_ada = mails_to(&host, "ada@example.com");
    assert_eq!(to_ada.len(), requests_to_ada + 1, "exactly one new mail");
    let link = to_ada
        .iter()
        .rev()
        .find_map(|mail| mail.link(&server.preferences_url()))
        .expect("a link in the new mail");
    // The link is opaque: neither its text nor its bytes name the record.
    let token = link
        .strip_prefix(&server.preferences_url())
        .expect("a token");
    assert!(!token.contains('/'), "{link}");
    let bytes: Vec<u8> = token.split('.').flat_map(decoded).collect();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("contacts"),
        "the token shows the record: {bytes:?}"
    );
    let page = http_get(&link).expect("GET");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Hello Ada Lovelace."), "{}", page.body);

    // Nobody, an erased person, a restricted one, and Ada again at once: no mail, and the
    // answer Ada got, to the byte.
    let everyone_before = host.mails().len();
    let mut took = vec![sent_took];
    for address in [
        "nobody@example.com",
        "grace@example.com",
        "edsger@example.com",
        "ada@example.com",
        "ADA@Example.com",
    ] {
        let (answer, answer_took) = ask(&server, address);
        assert_eq!(answer.status, sent.status, "{address}");
        assert_eq!(answer.body, sent.body, "{address}");
        assert_eq!(host.mails().len(), everyone_before, "{address} was mailed");
        took.push(answer_took);
    }
    assert!(
        guard.undelivered_mail(100).expect("outbox").is_empty(),
        "nothing waits to be sent either"
    );
    // No answer leaves before the floor, so the time taken does not tell them apart.
    eprintln!("answers took {took:?}");
    assert!(
        took.iter().all(|took| *took >= Duration::from_millis(250)),
        "{took:?}"
    );

    // A malformed address is told so, and nothing is asked.
    let (wrong, _) = ask(&server, "not an address");
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(
        wrong.body.contains("Please enter an email address"),
        "{}",
        wrong.body
    );
}

#[test]
fn an_expired_or_broken_link_offers_a_new_one() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    people(&host, &guard, &server.preferences_url());
    let broken = http_get(&format!("{}not-a-token", server.preferences_url())).expect("GET");
    assert_eq!(broken.status, 404);
    assert!(
        broken.body.contains("href=\"/preferences/link\""),
        "{}",
        broken.body
    );
    let ada = mails_to(&host, "ada@example.com")[0]
        .link(&server.preferences_url())
        .expect("Ada's link");
    host.set_now("2027-06-01T10:00:00Z");
    let expired = http_get(&ada).expect("GET");
    assert_eq!(expired.status, 410, "{}", expired.body);
    assert!(
        expired.body.contains("Send me a new link"),
        "{}",
        expired.body
    );
    let form = http_get(&format!("{}link", server.preferences_url())).expect("GET");
    assert_eq!(form.status, 200);
}

/// A form POST from the loopback address `source` (another client), as the page sends it.
fn post_from(source: IpAddr, url: &str, body: &str) -> Response {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_once('/').expect("a path");
    let target: SocketAddr = authority.parse().expect("an address");
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
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

#[test]
fn a_client_over_its_link_mail_limit_gets_429_and_another_client_does_not() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let mut tenants = Tenants::single(guard.clone(), Vec::new());
    tenants.page_limits = PageLimits {
        link_mail: Rate::per_seconds(2, 3600),
        clock: host.clock.clone(),
        ..PageLimits::recommended()
    };
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    people(&host, &guard, &server.preferences_url());
    let url = format!("{}link", server.preferences_url());
    let one: IpAddr = "127.0.0.1".parse().expect("an address");
    let another: IpAddr = "127.0.0.2".parse().expect("an address");
    for n in 0..2 {
        let answer = post_from(one, &url, &format!("address=someone{n}%40example.com"));
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let before = host.mails().len();
    let limited = post_from(one, &url, "address=ada%40example.com");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(
        limited
            .headers
            .to_ascii_lowercase()
            .contains("retry-after: 1800"),
        "{}",
        limited.headers
    );
    assert_eq!(
        host.mails().len(),
        before,
        "nothing was asked of the plugin"
    );
    let other = post_from(another, &url, "address=ada%40example.com");
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(host.mails().len(), before + 1, "Ada's link went out");
    // The form itself is still shown to the limited client.
    assert_eq!(http_get(&url).expect("GET").status, 200);
}
