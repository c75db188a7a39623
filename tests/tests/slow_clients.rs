//! The server under abuse: connections that open a request and never finish its headers
//! (slowloris) cannot starve `/health` and the API, and each is closed by the server once
//! its header timeout passes.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use privacy_guard_host::http::server::Limits;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Tenants};
use privacy_guard_tests::{TestHost, WebServer, http_call, http_get};

const KEY: &str = "pgk_patient_0123456789";

/// More slow clients than the server serves at once.
const SLOW_CLIENTS: usize = 300;

#[test]
fn connections_that_never_finish_their_headers_cannot_starve_health_and_the_api() {
    let host = TestHost::new("2026-03-02T09:00:00Z");
    let guard = Arc::new(host.open().expect("host"));
    let tenants = Tenants::single(
        guard,
        vec![ApiKey {
            name: "crm".to_owned(),
            digest: KeyDigest::of_key(KEY),
        }],
    );
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(10),
        max_connections: 64,
    };
    let server = WebServer::serve_limited(privacy_guard_host::http::app(Arc::new(tenants)), limits)
        .expect("server");
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

    // Every slow connection is closed by the server: reading it ends (EOF, or the reset
    // of a socket closed with our unread bytes) instead of waiting.
    for stream in &mut slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        let mut buffer = [0_u8; 512];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
                Err(error) => panic!(
                    "a connection that never finished its headers is still open after {:?}: {error}",
                    started.elapsed()
                ),
            }
        }
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
