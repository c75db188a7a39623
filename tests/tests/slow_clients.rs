//! The server under abuse: connections that open a request and never finish its headers
//! (slowloris) cannot starve `/health` and the API, and each is closed by the server once
//! its header timeout passes; an idle keep-alive connection is closed after that timeout
//! too, and a body that never arrives is answered 408 after the request timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use privacy_guard_host::http::server::Limits;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scopes, Tenants};
use privacy_guard_tests::{TestHost, WebServer, http_call, http_get};

const KEY: &str = "pgk_patient_0123456789";

/// More slow clients than the server serves at once.
const SLOW_CLIENTS: usize = 300;

/// A host with one API key, served with a one-second header timeout, a two-second request
/// timeout and at most 64 connections at once.
fn limited_server() -> (TestHost, WebServer) {
    let host = TestHost::new("2026-03-02T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let tenants = Tenants::single(
        guard,
        vec![ApiKey {
            name: "crm".to_owned(),
            digest: KeyDigest::of_key(KEY),
            scopes: Scopes::ADMIN,
        }],
    );
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        max_connections: 64,
    };
    let server = WebServer::serve_limited(privacy_guard_host::http::app(Arc::new(tenants)), limits)
        .expect("server");
    (host, server)
}

/// Everything the server sends until it closes the connection; fails when it is still open
/// after `within`.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> String {
    stream.set_read_timeout(Some(within)).expect("read timeout");
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            // Closed with our unread bytes in its buffer.
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!(
                "the server has not closed the connection after {within:?}: {error}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[test]
fn connections_that_never_finish_their_headers_cannot_starve_health_and_the_api() {
    let (_host, server) = limited_server();
    let base = format!("http://{}", server.address);

    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..SLOW_CLIENTS)
        .map(|_| {
            let mut stream = TcpStream::connect(server.address).expect("connect");
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Never-Finished: ")
                .expect("a request's start");
            stream
        })
        .collect();

    // The clients' own reads give up after 30 s: both must answer well before.
    let health = http_get(&format!("{base}/health")).expect("/health answers");
    assert_eq!(health.status, 200, "{health:?}");
    let authorization = format!("Bearer {KEY}");
    let settings = http_call(
        "GET",
        &format!("{base}/api/v1/settings"),
        &[("Authorization", authorization.as_str())],
        None,
    )
    .expect("the API answers");
    assert!(
        settings.status < 500 && settings.status != 408,
        "{settings:?}"
    );
    let answered = started.elapsed();

    // Every slow connection is closed by the server instead of waiting for its headers.
    for stream in &mut slow {
        read_until_closed(stream, Duration::from_secs(20));
    }
    let closed = started.elapsed();
    assert!(
        closed < Duration::from_secs(20),
        "closing {SLOW_CLIENTS} slow connections took {closed:?}"
    );
    eprintln!(
        "answered after {answered:?}; all {SLOW_CLIENTS} slow connections closed after {closed:?}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let (_host, server) = limited_server();
    let mut stream = TcpStream::connect(server.address).expect("connect");
    let started = Instant::now();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("request");
    let received = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(
        !received.to_ascii_lowercase().contains("connection: close"),
        "the answer keeps the connection alive: {received}"
    );
    let idle = started.elapsed();
    assert!(idle >= Duration::from_millis(900), "closed after {idle:?}");
}

#[test]
fn a_body_that_never_arrives_is_answered_408_after_the_request_timeout() {
    let (_host, server) = limited_server();
    let mut stream = TcpStream::connect(server.address).expect("connect");
    let started = Instant::now();
    let request = format!(
        "POST /api/v1/check-send HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"class\": "
    );
    stream
        .write_all(request.as_bytes())
        .expect("a request without most of its body");
    let received = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900),
        "answered after {waited:?}"
    );
}
