//! Mail through a real SMTP server (aiosmtpd on a loopback port, read back from its
//! Maildir): the daily consent request arrives with its sender, recipient, subject,
//! Message-ID and link; the plugin's headers survive; a server that is down makes mail wait
//! with a doubling backoff on the host's clock and then deliver exactly once; a permanent
//! rejection fails the mail at once; the delivery worker retries on its own and stops
//! cleanly; STARTTLS and TLS work with the server's certificate authority, and so does a
//! login, whose refusal keeps the mail waiting.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::read_records;
use privacy_guard_host::mail::smtp::SmtpSettings;
use privacy_guard_host::mail::{DeliveryReport, RetryPolicy, Transport};
use privacy_guard_host::storage::{MailDelivery, MailboxRow, QueuedMail, UnitOfWork};
use privacy_guard_tests::scenario::LogCapture;
use privacy_guard_tests::{Mail, SmtpServer, TestHost, configure, instant, read_outbox};

const PREFERENCES: &str = "https://privacy.example.org/preferences/";
const START: &str = "2026-12-01T09:30:00Z";
const RUN: &str = "2026-12-01T10:00:00Z";

/// Every log line of this test binary, to show no address is ever logged.
fn capture_logs() {
    LogCapture::process();
}

fn logs() -> String {
    LogCapture::process().text()
}

fn aiosmtpd() -> SmtpServer {
    SmtpServer::start().unwrap_or_else(|error| panic!("{error:#}"))
}

/// A host whose mail goes to `server`, configured and enabled, with `contacts` imported.
fn host_with_contacts(
    transport: Transport,
    retry: RetryPolicy,
    contacts: &str,
) -> (TestHost, Guard) {
    capture_logs();
    let mut host = TestHost::new(START);
    host.transport = transport;
    host.retry = retry;
    let guard = host.open().expect("host opens");
    configure(&guard, PREFERENCES);
    guard
        .import_records(
            "contacts",
            read_records(contacts.as_bytes()).expect("valid CSV"),
            &|_| {},
        )
        .expect("import");
    (host, guard)
}

/// Runs the day's consent run at 10:00.
fn run_daily(host: &TestHost, guard: &Guard) -> DeliveryReport {
    host.set_now(RUN);
    let run = guard
        .run_due()
        .expect("daily run")
        .expect("the run was due");
    run.mail
}

fn only_undelivered(guard: &Guard) -> MailDelivery {
    let undelivered = guard.undelivered_mail(10).expect("outbox");
    assert_eq!(undelivered.len(), 1, "{undelivered:?}");
    undelivered
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!())
}

fn millis(at: &str) -> i64 {
    instant(at).timestamp_millis()
}

#[test]
fn the_daily_consent_request_arrives_over_smtp_with_sender_recipient_subject_id_and_link() {
    let server = aiosmtpd();
    let (host, guard) = host_with_contacts(
        server.transport(),
        RetryPolicy::default(),
        "firstname,lastname,email\nAda,Lovelace,ada@example.com\nGrace,Hopper,grace@example.com\n",
    );

    let report = run_daily(&host, &guard);
    assert_eq!(
        report,
        DeliveryReport {
            delivered: 2,
            deferred: 0,
            failed: 0
        }
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 2, "one request per contact");
    let mut recipients: Vec<&str> = mails.iter().map(|mail| mail.to[0].as_str()).collect();
    recipients.sort();
    assert_eq!(recipients, ["ada@example.com", "grace@example.com"]);
    for mail in &mails {
        assert_eq!(mail.from, "privacy@example.org");
        assert!(mail.raw.contains("Example Privacy Team"), "{}", mail.raw);
        assert_eq!(mail.subject, "Example Ltd asks for your consent");
        assert!(
            mail.link(PREFERENCES)
                .is_some_and(|link| link.len() > PREFERENCES.len()),
            "a signed preferences link in {}",
            mail.text
        );
        assert!(mail.text.contains("1 Example Street"), "{}", mail.text);
        // The envelope (as the server saw it) matches the headers.
        assert!(
            mail.raw.contains(&format!("X-RcptTo: {}", mail.to[0])),
            "{}",
            mail.raw
        );
        assert!(
            mail.raw.contains("X-MailFrom: privacy@example.org"),
            "{}",
            mail.raw
        );
        // The Message-ID is the outbox's stable id, recorded as delivered on acceptance.
        let delivery = guard
            .mail_delivery(&mail.message_id)
            .expect("outbox")
            .unwrap_or_else(|| panic!("no queued mail with id {}", mail.message_id));
        assert_eq!(delivery.delivered_at, Some(millis(RUN)));
        assert_eq!((delivery.attempts, delivery.last_error), (1, None));
    }
    assert!(
        read_outbox(&host.outbox()).is_empty(),
        "no .eml files with SMTP"
    );

    // Delivering again, later, and after a restart sends nothing twice.
    assert_eq!(
        guard.deliver_mail().expect("deliver"),
        DeliveryReport::default()
    );
    host.set_now("2026-12-02T09:00:00Z");
    drop(guard);
    let reopened = host.open().expect("host reopens");
    assert_eq!(
        reopened.deliver_mail().expect("deliver"),
        DeliveryReport::default()
    );
    assert_eq!(server.mails().len(), 2);
    assert!(reopened.undelivered_mail(10).expect("outbox").is_empty());
}

/// Queues a mail as a committed unit of work would.
fn queue(guard: &Guard, mail: QueuedMail) {
    let mut work = UnitOfWork::default();
    work.queue_mail(mail);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(guard.database().commit(&work, guard.clock().now_millis()))
        .expect("commit");
}

fn header(mail: &Mail, name: &str) -> Option<String> {
    let message = mail_parser::MessageParser::default()
        .parse(mail.raw.as_bytes())
        .expect("a mail");
    message.header_raw(name).map(|value| {
        // Unfold: a server may fold long headers when it stores them.
        value.split_whitespace().collect::<Vec<_>>().join(" ")
    })
}

#[test]
fn the_headers_the_plugin_gives_survive_into_the_smtp_message_and_the_eml_file() {
    capture_logs();
    let unsubscribe = "<https://privacy.example.org/unsubscribe/b3BhcXVlLXRva2VuLXRoYXQtaXMtcXVpdGUtbG9uZy1pbmRlZWQ>, <mailto:unsubscribe@example.org?subject=unsubscribe-42>";
    let mail = |message_id: &str| QueuedMail {
        message_id: message_id.into(),
        from: MailboxRow {
            address: "news@example.org".into(),
            name: Some("Example News".into()),
        },
        to: vec![MailboxRow {
            address: "ada@example.com".into(),
            name: Some("Ada Lovelace".into()),
        }],
        subject: "Our December news".into(),
        text_body: "Hello Ada".into(),
        html_body: Some("<p>Hello Ada</p>".into()),
        headers: vec![
            ("List-Unsubscribe".into(), unsubscribe.into()),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
            ("X-Privacy-Guard".into(), "marketing".into()),
        ],
    };
    let server = aiosmtpd();
    let mut host = TestHost::new(RUN);
    host.transport = server.transport();
    let over_smtp = host.open().expect("host opens");
    queue(&over_smtp, mail("news-1@example.org"));
    assert_eq!(over_smtp.deliver_mail().expect("deliver").delivered, 1);

    let folder_host = TestHost::new(RUN);
    let to_folder = folder_host.open().expect("host opens");
    queue(&to_folder, mail("news-1@example.org"));
    assert_eq!(to_folder.deliver_mail().expect("deliver").delivered, 1);

    let received = server.mails();
    let written = folder_host.mails();
    assert_eq!((received.len(), written.len()), (1, 1));
    for (transport, mail) in [("smtp", &received[0]), ("eml", &written[0])] {
        assert_eq!(
            header(mail, "List-Unsubscribe").as_deref(),
            Some(unsubscribe),
            "{transport}: {}",
            mail.raw
        );
        assert_eq!(
            header(mail, "List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click"),
            "{transport}"
        );
        assert_eq!(
            header(mail, "X-Privacy-Guard").as_deref(),
            Some("marketing"),
            "{transport}"
        );
        assert_eq!(mail.message_id, "news-1@example.org", "{transport}");
        assert_eq!(mail.subject, "Our December news", "{transport}");
        assert_eq!(mail.html, "<p>Hello Ada</p>", "{transport}");
    }
}

#[test]
fn mail_queued_while_the_server_is_down_waits_with_a_doubling_backoff_then_arrives_exactly_once() {
    let mut server = aiosmtpd();
    server.stop();
    let (host, guard) = host_with_contacts(
        server.transport(),
        RetryPolicy::default(),
        "firstname,email\nAda,ada@example.com\n",
    );

    // The run commits the request and tries it at once: refused, it waits a minute.
    run_daily(&host, &guard);
    let waiting = only_undelivered(&guard);
    assert_eq!(waiting.attempts, 1);
    assert_eq!(waiting.next_attempt_at, millis("2026-12-01T10:01:00Z"));
    assert_eq!((waiting.delivered_at, waiting.failed_at), (None, None));
    let error = waiting.last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("127.0.0.1:{}", server.port)) && error.contains("cannot take mail"),
        "the error names the server: {error}"
    );

    // Before its time nothing is tried; at its time it is tried again and waits twice as long.
    assert_eq!(
        guard.deliver_mail().expect("nothing due"),
        DeliveryReport::default()
    );
    assert_eq!(only_undelivered(&guard).attempts, 1);
    host.set_now("2026-12-01T10:01:00Z");
    assert!(guard.deliver_mail().is_err(), "the server is still down");
    let waiting = only_undelivered(&guard);
    assert_eq!(waiting.attempts, 2);
    assert_eq!(waiting.next_attempt_at, millis("2026-12-01T10:03:00Z"));

    // The server is back, but the mail waits for its time.
    server.restart().expect("the SMTP server starts again");
    host.set_now("2026-12-01T10:02:59Z");
    assert_eq!(
        guard.deliver_mail().expect("nothing due"),
        DeliveryReport::default()
    );
    assert!(server.mails().is_empty());
    host.set_now("2026-12-01T10:03:00Z");
    assert_eq!(guard.deliver_mail().expect("deliver").delivered, 1);
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["ada@example.com"]);
    let delivery = guard
        .mail_delivery(&mails[0].message_id)
        .expect("outbox")
        .expect("the queued mail");
    assert_eq!(delivery.delivered_at, Some(millis("2026-12-01T10:03:00Z")));
    assert_eq!((delivery.attempts, delivery.last_error), (3, None));

    // Exactly once: more passes, later, send nothing.
    host.set_now("2026-12-01T12:00:00Z");
    assert_eq!(
        guard.deliver_mail().expect("deliver"),
        DeliveryReport::default()
    );
    assert_eq!(server.mails().len(), 1);
    assert!(
        !logs().contains("ada@example.com"),
        "no address in the logs"
    );
}

/// An aiosmtpd handler that refuses some recipients: `rejected.*` for good (550),
/// `busy.*` for now (451). Replies quote the address, as real servers do.
const PICKY_HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox

class Picky(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("rejected."):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if address.startswith("busy."):
            return "451 4.2.1 <%s>: mailbox busy, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

#[test]
fn a_permanent_rejection_fails_the_mail_at_once_while_a_deferral_waits_and_others_go() {
    let server = SmtpServer::start_with_handler(PICKY_HANDLER, "Picky")
        .unwrap_or_else(|error| panic!("{error:#}"));
    let (host, guard) = host_with_contacts(
        server.transport(),
        RetryPolicy::default(),
        "firstname,email\nAda,ada@example.com\nGrace,rejected.grace@example.com\nLinus,busy.linus@example.com\n",
    );

    let report = run_daily(&host, &guard);
    assert_eq!(
        report,
        DeliveryReport {
            delivered: 1,
            deferred: 1,
            failed: 1
        }
    );
    let received = server.mails();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, ["ada@example.com"]);

    let undelivered = guard.undelivered_mail(10).expect("outbox");
    let failed: Vec<&MailDelivery> = undelivered
        .iter()
        .filter(|mail| mail.failed_at.is_some())
        .collect();
    let waiting: Vec<&MailDelivery> = undelivered
        .iter()
        .filter(|mail| mail.failed_at.is_none())
        .collect();
    assert_eq!((failed.len(), waiting.len()), (1, 1), "{undelivered:?}");
    let rejected = failed[0].clone();
    assert_eq!(rejected.attempts, 1);
    assert_eq!(rejected.failed_at, Some(millis(RUN)));
    let error = rejected.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("550") && error.contains("mailbox unavailable"),
        "{error}"
    );
    assert!(
        !error.contains("grace"),
        "the address is not kept in the error: {error}"
    );
    assert_eq!(waiting[0].attempts, 1);
    assert_eq!(waiting[0].next_attempt_at, millis("2026-12-01T10:01:00Z"));
    assert!(
        waiting[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("451")
    );

    // Hours later: the deferred mail was tried again (and waits again), the rejected one
    // never was.
    for at in [
        "2026-12-01T10:01:00Z",
        "2026-12-01T10:03:00Z",
        "2026-12-01T13:00:00Z",
    ] {
        host.set_now(at);
        let report = guard.deliver_mail().expect("deliver");
        assert_eq!((report.delivered, report.failed), (0, 0), "at {at}");
    }
    let after = guard
        .mail_delivery(&rejected.message_id)
        .expect("outbox")
        .expect("the rejected mail");
    assert_eq!(after, rejected, "a failed mail is not tried again");
    let retried = guard
        .mail_delivery(&waiting[0].message_id)
        .expect("outbox")
        .expect("the deferred mail");
    assert_eq!((retried.attempts, retried.failed_at), (4, None));
    assert_eq!(server.mails().len(), 1);

    let logged = logs();
    assert!(
        logged.contains(&rejected.message_id),
        "failures are logged by message id"
    );
    for address in ["rejected.grace", "busy.linus", "ada@example.com"] {
        assert!(!logged.contains(address), "`{address}` in the logs");
    }
}

#[test]
fn after_its_last_attempt_a_mail_fails_for_an_operator_who_can_queue_it_again() {
    let mut server = aiosmtpd();
    server.stop();
    let retry = RetryPolicy {
        first_wait: Duration::from_secs(60),
        longest_wait: Duration::from_secs(3600),
        attempts: 3,
    };
    let (host, guard) = host_with_contacts(
        server.transport(),
        retry,
        "firstname,email\nAda,ada@example.com\n",
    );
    run_daily(&host, &guard);
    host.set_now("2026-12-01T10:01:00Z");
    assert!(guard.deliver_mail().is_err());
    host.set_now("2026-12-01T10:03:00Z");
    assert!(guard.deliver_mail().is_err());
    let failed = only_undelivered(&guard);
    assert_eq!(failed.attempts, 3);
    assert_eq!(failed.failed_at, Some(millis("2026-12-01T10:03:00Z")));
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("gave up after 3 attempts"),
        "{failed:?}"
    );

    // The server is back: failed mail still waits for the operator.
    server.restart().expect("the SMTP server starts again");
    host.set_now("2026-12-01T12:00:00Z");
    assert_eq!(
        guard.deliver_mail().expect("deliver"),
        DeliveryReport::default()
    );
    assert!(server.mails().is_empty());
    assert_eq!(guard.retry_failed_mail().expect("requeue"), 1);
    assert_eq!(guard.deliver_mail().expect("deliver").delivered, 1);
    assert_eq!(server.mails().len(), 1);
    assert!(guard.undelivered_mail(10).expect("outbox").is_empty());
}

#[test]
fn the_delivery_worker_retries_on_the_hosts_clock_and_stops_cleanly() {
    let mut server = aiosmtpd();
    server.stop();
    let (host, guard) = host_with_contacts(
        server.transport(),
        RetryPolicy::default(),
        "firstname,email\nAda,ada@example.com\n",
    );
    run_daily(&host, &guard);
    assert_eq!(only_undelivered(&guard).attempts, 1);
    server.restart().expect("the SMTP server starts again");

    // A pass before the backoff is over on the host's clock sends nothing (the worker's
    // passes are this call), however long it has been on the wall clock.
    let early = guard.deliver_mail().expect("a pass");
    assert_eq!(
        early.delivered, 0,
        "nothing before the backoff passed: {early:?}"
    );
    assert!(server.mails().is_empty());
    assert_eq!(only_undelivered(&guard).attempts, 1);

    let guard = Arc::new(guard);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = runtime.spawn(privacy_guard_host::worker::deliver_periodically(
        guard.clone(),
        Duration::from_millis(20),
        stopped,
    ));

    // Only the host's clock moves past the backoff (a minute; the test takes far less of
    // the wall clock), and the worker, passing every 20 ms, delivers.
    host.set_now("2026-12-01T10:01:00Z");
    let started = Instant::now();
    while server.mails().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the worker delivered nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    stop.send_replace(true);
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), worker).await })
        .expect("the worker stops when asked")
        .expect("the worker ends without a panic");
    assert_eq!(server.mails().len(), 1);
    assert!(guard.undelivered_mail(10).expect("outbox").is_empty());
}

/// A certificate authority and a certificate for 127.0.0.1 it signed, made with openssl.
fn make_certificates(folder: &Path) {
    let openssl = |arguments: &[&str]| {
        let output = Command::new("openssl")
            .current_dir(folder)
            .args(arguments)
            .output()
            .unwrap_or_else(|error| panic!("openssl (Debian's openssl package) must run: {error}"));
        assert!(
            output.status.success(),
            "openssl {}: {}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::write(
        folder.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions file");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Privacy Guard test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
}

#[test]
fn starttls_and_tls_connections_deliver_with_the_servers_certificate_authority() {
    capture_logs();
    let certificates = tempfile::tempdir().expect("temp dir");
    make_certificates(certificates.path());
    let file = |name: &str| OsString::from(certificates.path().join(name));
    let ca = certificates.path().join("ca.pem");

    for (security, options) in [
        ("starttls", ["--tlscert", "--tlskey"]),
        ("tls", ["--smtpscert", "--smtpskey"]),
    ] {
        let server = SmtpServer::start_with_arguments(vec![
            options[0].into(),
            file("server.pem"),
            options[1].into(),
            file("server.key"),
        ])
        .unwrap_or_else(|error| panic!("{error:#}"));
        let url = |ca_file: &Path| {
            format!(
                "smtp://127.0.0.1:{}?security={security}&timeout=5&ca_file={}",
                server.port,
                ca_file.display()
            )
        };
        let mut host = TestHost::new(RUN);
        host.transport = Transport::Smtp(SmtpSettings::from_url(&url(&ca), None).expect("URL"));
        let guard = host.open().expect("host opens");
        queue(
            &guard,
            QueuedMail {
                message_id: format!("{security}-1@example.org"),
                from: MailboxRow {
                    address: "privacy@example.org".into(),
                    name: None,
                },
                to: vec![MailboxRow {
                    address: "ada@example.com".into(),
                    name: None,
                }],
                subject: format!("over {security}"),
                text_body: "Hello".into(),
                html_body: None,
                headers: Vec::new(),
            },
        );
        assert_eq!(
            guard.deliver_mail().expect("deliver").delivered,
            1,
            "{security}"
        );
        let received = server.mails();
        assert_eq!(received.len(), 1, "{security}");
        assert_eq!(received[0].subject, format!("over {security}"));

        // Without the server's CA the certificate is not trusted and nothing is sent.
        let mut untrusting = TestHost::new(RUN);
        let own_ca = certificates.path().join("server.pem");
        untrusting.transport =
            Transport::Smtp(SmtpSettings::from_url(&url(&own_ca), None).expect("URL"));
        let guard = untrusting.open().expect("host opens");
        queue(
            &guard,
            QueuedMail {
                message_id: format!("{security}-2@example.org"),
                from: MailboxRow {
                    address: "privacy@example.org".into(),
                    name: None,
                },
                to: vec![MailboxRow {
                    address: "ada@example.com".into(),
                    name: None,
                }],
                subject: "untrusted".into(),
                text_body: "Hello".into(),
                html_body: None,
                headers: Vec::new(),
            },
        );
        let error = guard
            .deliver_mail()
            .expect_err("an untrusted certificate stops delivery");
        assert!(
            error.to_string().contains("cannot take mail"),
            "{security}: {error}"
        );
        assert_eq!(only_undelivered(&guard).attempts, 1, "{security}");
        assert_eq!(server.mails().len(), 1, "{security}: nothing more arrived");
    }
}

/// An aiosmtpd handler that takes mail only after a login (AUTH PLAIN, which aiosmtpd
/// offers only over TLS) as `mailer@example.org` with the password `correct horse`.
const LOGIN_HANDLER: &str = r#"
import base64
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult

class LoginRequired(Mailbox):
    async def auth_PLAIN(self, server, args):
        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        parts = base64.b64decode(args[1]).split(b"\0")
        ok = len(parts) == 3 and parts[1] == b"mailer@example.org" and parts[2] == b"correct horse"
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        return "250 OK"
"#;

#[test]
fn a_login_over_starttls_delivers_and_a_refused_login_keeps_the_mail_waiting() {
    capture_logs();
    let mut server = SmtpServer::start_with_handler(LOGIN_HANDLER, "LoginRequired")
        .unwrap_or_else(|error| panic!("{error:#}"));
    // The server's folder also holds its certificate; aiosmtpd offers STARTTLS with it.
    make_certificates(server.folder());
    server.add_arguments(vec![
        "--tlscert".into(),
        server.folder().join("server.pem").into(),
        "--tlskey".into(),
        server.folder().join("server.key").into(),
    ]);
    server.restart().expect("the SMTP server starts with TLS");
    let url = format!(
        "smtp://mailer%40example.org@127.0.0.1:{}?security=starttls&timeout=5&ca_file={}",
        server.port,
        server.folder().join("ca.pem").display()
    );
    let queued = |guard: &Guard, id: &str| {
        queue(
            guard,
            QueuedMail {
                message_id: id.into(),
                from: MailboxRow {
                    address: "privacy@example.org".into(),
                    name: None,
                },
                to: vec![MailboxRow {
                    address: "ada@example.com".into(),
                    name: None,
                }],
                subject: "after a login".into(),
                text_body: "Hello".into(),
                html_body: None,
                headers: Vec::new(),
            },
        )
    };

    let mut host = TestHost::new(RUN);
    host.transport =
        Transport::Smtp(SmtpSettings::from_url(&url, Some("correct horse".into())).expect("URL"));
    let guard = host.open().expect("host opens");
    queued(&guard, "login-1@example.org");
    assert_eq!(guard.deliver_mail().expect("deliver").delivered, 1);
    assert_eq!(server.mails().len(), 1);

    // A wrong password is the server's refusal, not the mail's: it waits, it is not failed.
    let mut wrong = TestHost::new(RUN);
    wrong.transport =
        Transport::Smtp(SmtpSettings::from_url(&url, Some("wrong horse".into())).expect("URL"));
    let guard = wrong.open().expect("host opens");
    queued(&guard, "login-2@example.org");
    let error = guard
        .deliver_mail()
        .expect_err("the login is refused")
        .to_string();
    assert!(
        error.contains("535") && error.contains("login was refused"),
        "{error}"
    );
    assert!(
        !error.contains("wrong horse") && !error.contains("mailer@"),
        "{error}"
    );
    let waiting = only_undelivered(&guard);
    assert_eq!((waiting.attempts, waiting.failed_at), (1, None));
    assert_eq!(server.mails().len(), 1);
    assert!(!logs().contains("horse"), "no password in the logs");
}
