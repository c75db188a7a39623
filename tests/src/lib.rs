//! Helpers shared by the black-box tests: a host on a real SQLite file in a temporary
//! folder, a manual clock, the `.eml` outbox read back, a real SMTP server (aiosmtpd) whose
//! mail is read back the same way, and a real HTTP server with a small client to drive the
//! preferences page over TCP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use privacy_guard_host::clock::Clock;
use privacy_guard_host::contract::configuration::{
    ConfirmationPolicy, ConsentDefault, ConsentDefinition, ConsentKind, IpPolicy, Settings,
};
use privacy_guard_host::guard::{ComponentSource, Guard, GuardOptions};
use privacy_guard_host::mail::{RetryPolicy, Transport};
use privacy_guard_host::runtime::SandboxLimits;
use privacy_guard_host::schedule::DailySchedule;
use privacy_guard_host::storage::UnitOfWork;

mod smtp_server;
pub use smtp_server::SmtpServer;

/// Parses an RFC 3339 instant; panics on a typo in a test.
pub fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .unwrap_or_else(|error| panic!("bad instant {text}: {error}"))
}

/// A host on a real SQLite file in its own temporary folder, with a manual clock.
pub struct TestHost {
    pub folder: tempfile::TempDir,
    pub clock: Clock,
    pub limits: SandboxLimits,
    /// Where mail goes: the folder's `outbox/` unless a test sets an SMTP server.
    pub transport: Transport,
    pub retry: RetryPolicy,
}

impl TestHost {
    /// A new, empty host folder whose clock stands at `now`.
    pub fn new(now: &str) -> TestHost {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}"));
        TestHost {
            transport: Transport::Directory(folder.path().join("outbox")),
            folder,
            clock: Clock::manual(instant(now)),
            limits: SandboxLimits::default(),
            retry: RetryPolicy::default(),
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.folder.path().join("privacy-guard.db")
    }

    pub fn outbox(&self) -> PathBuf {
        self.folder.path().join("outbox")
    }

    /// Opens (or re-opens, as after a restart) the host on the folder's database.
    pub fn open(&self) -> anyhow::Result<Guard> {
        let options = GuardOptions {
            database_url: format!("sqlite://{}?mode=rwc", self.database_path().display()),
            cache_dir: Some(self.folder.path().join("cache")),
            component: ComponentSource::Embedded,
            clock: self.clock.clone(),
            limits: self.limits.clone(),
            transport: self.transport.clone(),
            retry: self.retry,
            schedule: DailySchedule::default(),
        };
        Ok(Guard::open(options)?)
    }

    /// Sets the manual clock.
    pub fn set_now(&self, now: &str) {
        assert!(self.clock.set(instant(now)), "the test clock is manual");
    }

    /// Every `.eml` file in the outbox, parsed, sorted by file name.
    pub fn mails(&self) -> Vec<Mail> {
        read_outbox(&self.outbox())
    }
}

/// Settings for tests; the preferences URL points at `base`.
pub fn settings(preferences_url: &str) -> Settings {
    Settings {
        sender_address: "privacy@example.org".into(),
        sender_name: "Example Privacy Team".into(),
        organisation: "Example Ltd".into(),
        postal_address: "1 Example Street, 10115 Berlin, Germany".into(),
        preferences_url: preferences_url.into(),
        link_valid_days: 30,
        flag_new_duplicates: false,
        retained_fields: vec!["name".into()],
        confirm_changes: ConfirmationPolicy::OwnChanges,
        ip_evidence: IpPolicy::Truncate,
    }
}

/// The consent of the first journey: marketing by email, for every contact.
pub fn email_marketing_consent() -> ConsentDefinition {
    ConsentDefinition {
        id: "email-marketing".into(),
        module: "contacts".into(),
        kind: ConsentKind::Data("email".into()),
        title: "News and offers by email".into(),
        purpose: "We use your email address to send you our newsletter and offers, at most twice a month.".into(),
        default_value: ConsentDefault::No,
        applies_when: Vec::new(),
    }
}

/// A tracking consent for every contact: `email-tracking` (pixels and tracked links in
/// mails) or `document-tracking` (shared documents), by `kind`.
pub fn tracking_consent(id: &str, kind: ConsentKind) -> ConsentDefinition {
    ConsentDefinition {
        id: id.into(),
        module: "contacts".into(),
        kind,
        title: format!("Tracking ({id})"),
        purpose: "We see when you open our mails, follow their links or view documents we share, to learn what interests you.".into(),
        default_value: ConsentDefault::No,
        applies_when: Vec::new(),
    }
}

/// Sets a record's CRM status the way a CRM user would (keeping `modified-at`, which the
/// test controls), committed straight to the host's database as the CRM's own edit.
pub fn set_crm_status(guard: &Guard, module: &str, id: &str, status: &str) -> anyhow::Result<()> {
    let mut record = guard
        .record(module, id)?
        .with_context(|| format!("no record {module}/{id}"))?;
    record.status = status.to_owned();
    let mut work = UnitOfWork::default();
    work.records
        .insert((module.to_owned(), id.to_owned()), record);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(guard.database().commit(&work, guard.clock().now_millis()))?;
    Ok(())
}

/// Configures `guard` for the first journey: the test settings with the preferences page
/// at `preferences_url`, the email-marketing consent, and consents enabled.
pub fn configure(guard: &Guard, preferences_url: &str) {
    guard
        .set_settings(&settings(preferences_url))
        .expect("call")
        .expect("settings accepted");
    guard
        .put_consent(&email_marketing_consent())
        .expect("call")
        .expect("consent accepted");
    guard.enable(true).expect("call").expect("consents enabled");
}

/// A delivered mail, read back from its `.eml` file.
#[derive(Debug, Clone)]
pub struct Mail {
    pub file: PathBuf,
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub raw: String,
}

impl Mail {
    /// The first link in the text body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.text.find(prefix)?;
        let rest = &self.text[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '"')
            .unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    }
}

/// Parses every `.eml` file of a folder.
pub fn read_outbox(folder: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    files.sort();
    files.into_iter().map(|file| parse_mail(&file)).collect()
}

pub(crate) fn parse_mail(file: &Path) -> Mail {
    let raw =
        std::fs::read(file).unwrap_or_else(|error| panic!("reading {}: {error}", file.display()));
    let message = mail_parser::MessageParser::default()
        .parse(&raw)
        .unwrap_or_else(|| panic!("{} is not a mail", file.display()));
    let addresses = |address: Option<&mail_parser::Address>| -> Vec<String> {
        address
            .map(|address| {
                address
                    .iter()
                    .filter_map(|entry| entry.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Mail {
        file: file.to_owned(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        from: addresses(message.from()).join(","),
        to: addresses(message.to()),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|body| body.into_owned())
            .unwrap_or_default(),
        html: message
            .body_html(0)
            .map(|body| body.into_owned())
            .unwrap_or_default(),
        raw: String::from_utf8_lossy(&raw).into_owned(),
    }
}

/// The host's web server on a real TCP port, stopped when dropped.
pub struct WebServer {
    pub address: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl WebServer {
    /// Serves the host's routes on an ephemeral loopback port.
    pub fn start(guard: Arc<Guard>) -> anyhow::Result<WebServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        let app = privacy_guard_host::web::router(guard)
            .into_make_service_with_connect_info::<SocketAddr>();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Ok(WebServer {
            address,
            runtime: Some(runtime),
        })
    }

    /// The base URL of the preferences page on this server.
    pub fn preferences_url(&self) -> String {
        format!("http://{}/preferences/", self.address)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An HTTP response: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// `GET url` over a real TCP connection.
pub fn http_get(url: &str) -> anyhow::Result<Response> {
    http(url, "GET", None)
}

/// `POST url` with a form body over a real TCP connection.
pub fn http_post_form(url: &str, form: &[(&str, &str)]) -> anyhow::Result<Response> {
    let body = form
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    http(url, "POST", Some(body))
}

fn http(url: &str, method: &str, form: Option<String>) -> anyhow::Result<Response> {
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(authority, path)| {
            (authority, format!("/{path}"))
        });
    let mut stream =
        TcpStream::connect(authority).with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: privacy-guard-tests/1.0\r\nConnection: close\r\n"
    );
    if let Some(form) = &form {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(form.as_deref().unwrap_or(""));
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let Some((head, body)) = raw.split_once("\r\n\r\n") else {
        bail!("no HTTP response: {raw}")
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no status code")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Response {
        status,
        headers: head.to_owned(),
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
