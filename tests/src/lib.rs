//! Helpers shared by the black-box tests: a host on a real database (a SQLite file in a
//! temporary folder, or a fresh database on the PostgreSQL server named by
//! `PRIVACY_GUARD_TEST_POSTGRES_URL`), a manual clock, the `.eml` outbox read back, a real
//! SMTP server (aiosmtpd) whose mail is read back the same way, and a real HTTP server
//! with a small client to drive the preferences page over TCP.

use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use privacy_guard_host::clock::Clock;
use privacy_guard_host::contract::configuration::{
    ConfirmationPolicy, ConsentDefault, ConsentDefinition, ConsentKind, IpPolicy, LanguageRules,
    RegimeRules, RequestPolicy, Settings,
};
use privacy_guard_host::contract::subjects::{StaffActor, StaffChannel};
use privacy_guard_host::contract::types::Regime;
use privacy_guard_host::guard::{ComponentSource, Guard, GuardOptions};
use privacy_guard_host::http::server::Limits;
use privacy_guard_host::mail::{RetryPolicy, Transport};
use privacy_guard_host::runtime::SandboxLimits;
use privacy_guard_host::schedule::DailySchedule;
use privacy_guard_host::storage::UnitOfWork;
use sqlx::Connection;

/// The environment variable naming a PostgreSQL server (as a URL, connecting as a user who
/// may create databases) to run the tests on instead of SQLite files.
pub const POSTGRES_URL_VARIABLE: &str = "PRIVACY_GUARD_TEST_POSTGRES_URL";

/// The PostgreSQL server the tests run on, when `PRIVACY_GUARD_TEST_POSTGRES_URL` is set.
pub fn postgres_server_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VARIABLE)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// The PostgreSQL server a test that cannot run without one uses; fails the test, naming
/// the variable, when none is set. Such tests are `#[ignore]`d with that reason, so a plain
/// `cargo test` lists them as not run instead of passing them; `scripts/test.sh` runs them
/// in its PostgreSQL pass (`-- --include-ignored`).
pub fn required_postgres_server_url() -> String {
    postgres_server_url().unwrap_or_else(|| {
        panic!("this test needs a PostgreSQL server: set {POSTGRES_URL_VARIABLE} (scripts/test.sh starts one and sets it)")
    })
}

pub mod model;
pub mod scenario;
mod smtp_server;
pub use smtp_server::SmtpServer;

/// Parses an RFC 3339 instant; panics on a typo in a test.
pub fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .unwrap_or_else(|error| panic!("bad instant {text}: {error}"))
}

/// A host on a real database of its own, in its own temporary folder, with a manual clock.
pub struct TestHost {
    pub folder: tempfile::TempDir,
    pub clock: Clock,
    pub limits: SandboxLimits,
    /// Where mail goes: the folder's `outbox/` unless a test sets an SMTP server.
    pub transport: Transport,
    pub retry: RetryPolicy,
    /// Where the host keeps its data; PostgreSQL when the environment names a server.
    pub database: TestDatabase,
}

impl TestHost {
    /// A new, empty host folder and database whose clock stands at `now`.
    pub fn new(now: &str) -> TestHost {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}"));
        let database = match postgres_server_url() {
            Some(server_url) => TestDatabase::create_on_postgres(&server_url)
                .unwrap_or_else(|error| panic!("{error:#}")),
            None => TestDatabase::Sqlite {
                path: folder.path().join("privacy-guard.db"),
            },
        };
        TestHost {
            transport: Transport::Directory(folder.path().join("outbox")),
            folder,
            clock: Clock::manual(instant(now)),
            limits: SandboxLimits::default(),
            retry: RetryPolicy::default(),
            database,
        }
    }

    /// The SQLite file. Panics on PostgreSQL: a test that reads the file must say what it
    /// checks there instead (see [`TestHost::database`]).
    pub fn database_path(&self) -> PathBuf {
        match &self.database {
            TestDatabase::Sqlite { path } => path.clone(),
            TestDatabase::Postgres { name, .. } => panic!(
                "this host's database is {name} on PostgreSQL, not a SQLite file: match on TestHost::database"
            ),
        }
    }

    pub fn outbox(&self) -> PathBuf {
        self.folder.path().join("outbox")
    }

    /// Every byte the database keeps on disk, for tests that no erased or encrypted value
    /// is readable there. SQLite: the file and its write-ahead log. PostgreSQL: the files
    /// of every table, index and TOAST table of the host's database, read by the server
    /// after a checkpoint wrote out its buffers (needs a superuser). PostgreSQL's
    /// write-ahead log is left out: the whole cluster shares it, other tests' databases
    /// included, and it ages out by the server's retention, not by the host.
    pub fn database_bytes(&self) -> Vec<u8> {
        match &self.database {
            TestDatabase::Sqlite { path } => {
                let mut bytes = std::fs::read(path)
                    .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
                let wal = path.with_extension("db-wal");
                if let Ok(log) = std::fs::read(&wal) {
                    bytes.extend(log);
                }
                bytes
            }
            TestDatabase::Postgres { name, .. } => {
                let read = async {
                    let mut connection = self.database.connect_directly().await?;
                    sqlx::query("CHECKPOINT")
                        .execute(&mut connection)
                        .await
                        .context("CHECKPOINT (needs a superuser)")?;
                    let files = sqlx::query_scalar::<_, Vec<u8>>(
                        "SELECT pg_read_binary_file(pg_relation_filepath(oid)) FROM pg_class \
                         WHERE NOT relisshared AND pg_relation_filepath(oid) IS NOT NULL",
                    )
                    .fetch_all(&mut connection)
                    .await
                    .context("reading the database's files (needs a superuser)")?;
                    anyhow::Ok(files.concat())
                };
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(read))
                    .unwrap_or_else(|error| panic!("runtime: {error}"))
                    .unwrap_or_else(|error| panic!("reading the files of {name}: {error:#}"))
            }
        }
    }

    /// Opens (or re-opens, as after a restart) the host on its database.
    pub fn open(&self) -> anyhow::Result<Guard> {
        self.open_with(|_| {})
    }

    /// [`TestHost::open`] with options changed by `adjust`, e.g. another outbox for a second
    /// host process on the same database.
    pub fn open_with(&self, adjust: impl FnOnce(&mut GuardOptions)) -> anyhow::Result<Guard> {
        let mut options = GuardOptions {
            database_url: self.database.url(),
            cache_dir: Some(self.folder.path().join("cache")),
            component: ComponentSource::Embedded,
            clock: self.clock.clone(),
            limits: self.limits.clone(),
            transport: self.transport.clone(),
            retry: self.retry,
            schedule: DailySchedule::default(),
        };
        adjust(&mut options);
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

/// A test host's database.
#[derive(Debug)]
pub enum TestDatabase {
    /// A SQLite file in the host's folder.
    Sqlite { path: PathBuf },
    /// A database of its own, `name`, on the PostgreSQL server at `server_url`; dropped
    /// when the host is, so tests stay independent and can run in parallel.
    Postgres { server_url: String, name: String },
}

impl TestDatabase {
    /// Creates a fresh database with a random name on the server at `server_url`.
    pub fn create_on_postgres(server_url: &str) -> anyhow::Result<TestDatabase> {
        // Random enough to never meet another test's database, in this process or another.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let name = format!("pg_test_{:016x}", hasher.finish());
        let statement = format!("CREATE DATABASE {name}");
        on_postgres_server(server_url, &statement).with_context(|| {
            format!(
                "could not create the test database {name} on {server_url} ({POSTGRES_URL_VARIABLE}): is the server running, and may that user create databases?"
            )
        })?;
        Ok(TestDatabase::Postgres {
            server_url: server_url.to_owned(),
            name,
        })
    }

    /// The URL the host opens.
    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
            TestDatabase::Postgres { server_url, name } => with_database(server_url, name),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDatabase::Postgres { .. })
    }

    /// A connection of its own to the database, as someone with direct access (the SQLite
    /// file's owner; PostgreSQL's superuser in the test cluster) would open one.
    pub async fn connect_directly(&self) -> anyhow::Result<sqlx::AnyConnection> {
        sqlx::any::install_default_drivers();
        let url = self.url();
        sqlx::AnyConnection::connect(&url)
            .await
            .with_context(|| format!("connecting to {url}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { server_url, name } = self {
            // Best effort: a database left behind only takes space in a throw-away cluster.
            let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = on_postgres_server(server_url, &statement) {
                eprintln!("could not drop the test database {name}: {error:#}");
            }
        }
    }
}

/// Runs one statement on the server's maintenance database, on a thread of its own so that
/// it works inside and outside an async runtime.
fn on_postgres_server(server_url: &str, statement: &str) -> anyhow::Result<()> {
    let server_url = server_url.to_owned();
    let statement = statement.to_owned();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let mut connection = sqlx::AnyConnection::connect(&server_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut connection)
                .await?;
            connection.close().await?;
            Ok(())
        })
    })
    .join()
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the thread talking to PostgreSQL panicked")))
}

/// `server_url` with its database replaced by `database`; the query string is kept.
fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = server_url
        .split_once('?')
        .map_or((server_url, None), |(base, query)| (base, Some(query)));
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |index| authority_start + index);
    let mut url = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
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
        person_modules: Vec::new(),
        regimes: opt_in_everywhere(),
        requests: RequestPolicy {
            remind_after_days: 0,
            reminders: 0,
            lapse_after_days: 0,
            ask_again_after_days: 0,
        },
        languages: LanguageRules {
            field: String::new(),
            default_language: String::new(),
            templates: Vec::new(),
        },
    }
}

/// Regime rules that give everyone the opt-in regime (the default).
pub fn opt_in_everywhere() -> RegimeRules {
    RegimeRules {
        field: String::new(),
        values: Vec::new(),
        default_regime: Regime::OptIn,
        purchase_field: String::new(),
        enquiry_field: String::new(),
        soft_opt_in: Vec::new(),
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
        translations: Vec::new(),
        max_age_months: 0,
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
        translations: Vec::new(),
        max_age_months: 0,
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

/// The operator the tests act as in staff actions (restrict, lift, erase, decisions).
pub fn operator() -> StaffActor {
    StaffActor {
        channel: StaffChannel::Admin,
        name: "test-operator".into(),
    }
}

/// Configures `guard` for the first journey: the test settings with the preferences page
/// at `preferences_url`, the email-marketing consent, and consents enabled.
pub fn configure(guard: &Guard, preferences_url: &str) {
    guard
        .set_settings(&settings(preferences_url))
        .expect("call")
        .expect("settings accepted");
    guard
        .put_consent(&email_marketing_consent(), None)
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

/// A host at `now` (RFC 3339) with its web server on a real TCP port: what a test of the
/// preferences page starts from.
pub fn served_host(now: &str) -> (TestHost, Arc<Guard>, WebServer) {
    let host = TestHost::new(now);
    let guard = Arc::new(host.open().expect("host"));
    let server = WebServer::start(guard.clone()).expect("server");
    (host, guard, server)
}

/// The host's web server on a real TCP port, stopped when dropped.
pub struct WebServer {
    pub address: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl WebServer {
    /// Serves the host's routes on an ephemeral loopback port.
    pub fn start(guard: Arc<Guard>) -> anyhow::Result<WebServer> {
        WebServer::serve(privacy_guard_host::http::router(guard))
    }

    /// Serves `app` (e.g. [`privacy_guard_host::http::app`] of many tenants) on an
    /// ephemeral loopback port.
    pub fn serve(app: axum::Router) -> anyhow::Result<WebServer> {
        WebServer::serve_limited(app, Limits::default())
    }

    /// Serves `app` as `serve` does (the host's accept loop), within `limits`.
    pub fn serve_limited(app: axum::Router, limits: Limits) -> anyhow::Result<WebServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        runtime.spawn(privacy_guard_host::http::server::serve(
            listener,
            app,
            limits,
            std::future::pending(),
        ));
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
    http_call("GET", url, &[], None)
}

/// Any request over a real TCP connection: extra header lines, and a body with its
/// content type.
pub fn http_call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> anyhow::Result<Response> {
    let mut lines = String::new();
    for (name, value) in headers {
        lines.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.map(|(content_type, bytes)| {
        lines.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
        bytes
    });
    http(url, method, &lines, body)
}

/// `POST url` with a form body over a real TCP connection.
/// It is sent as a browser sends the page's own form: `Sec-Fetch-Site: same-origin`, and,
/// under the page's `Referrer-Policy: no-referrer`, `Origin: null` and no `Referer`.
pub fn http_post_form(url: &str, form: &[(&str, &str)]) -> anyhow::Result<Response> {
    let body = form
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    http_call(
        "POST",
        url,
        &[("Sec-Fetch-Site", "same-origin"), ("Origin", "null")],
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    )
}

fn http(url: &str, method: &str, headers: &str, body: Option<&[u8]>) -> anyhow::Result<Response> {
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
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: privacy-guard-tests/1.0\r\nConnection: close\r\n{headers}\r\n"
    )
    .into_bytes();
    request.extend_from_slice(body.unwrap_or_default());
    // A server may answer before reading a body it refuses (e.g. one too large), and close
    // the connection: the answer below is what counts, a failed write is not an error.
    if let Err(error) = stream.write_all(&request) {
        eprintln!("{method} {path}: the request was not sent whole ({error}); reading the answer");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_database_replaces_the_servers_database_and_keeps_the_options() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:54329/postgres", "pg_test_1"),
            "postgres://postgres@127.0.0.1:54329/pg_test_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432?sslmode=disable", "pg_test_1"),
            "postgres://u:p@db:5432/pg_test_1?sslmode=disable"
        );
    }
}
