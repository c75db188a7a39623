//! The `privacy-guard` command line, run as a real process on a real SQLite file, or on a
//! fresh PostgreSQL database of its own when `PRIVACY_GUARD_TEST_POSTGRES_URL` names a
//! server.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::{Command, Output};

use privacy_guard_host::storage::{ClaimHolder, Database};
use sqlx::Connection;

struct Cli {
    folder: tempfile::TempDir,
    /// `None`: the SQLite file in `folder`, the binary's default.
    postgres: Option<PostgresDatabase>,
    /// The instant every command runs at (`--now`).
    now: std::cell::RefCell<String>,
}

/// When the tests start: 1 December 2026, 09:30 UTC, half an hour before the daily run.
const START: &str = "2026-12-01T09:30:00Z";
/// Just after the first daily run is due (10:00 UTC) for consents enabled at [`START`].
const FIRST_RUN: &str = "2026-12-01T10:00:05Z";

impl Cli {
    fn new() -> Cli {
        Cli {
            folder: tempfile::tempdir().expect("temp dir"),
            postgres: std::env::var("PRIVACY_GUARD_TEST_POSTGRES_URL")
                .ok()
                .filter(|url| !url.trim().is_empty())
                .map(|server_url| PostgresDatabase::create(&server_url)),
            now: std::cell::RefCell::new(START.to_owned()),
        }
    }

    /// Moves the clock of the following commands to `now`.
    fn set_now(&self, now: &str) {
        *self.now.borrow_mut() = now.to_owned();
    }

    /// Runs the binary on this folder with the clock at the test's instant.
    fn run(&self, arguments: &[&str]) -> Output {
        self.run_logging("warn", arguments)
    }

    /// [`Cli::run`] with the binary's log filter at `level` (`RUST_LOG`).
    fn run_logging(&self, level: &str, arguments: &[&str]) -> Output {
        let now = self.now.borrow().clone();
        let mut with_clock = vec!["--now", now.as_str()];
        with_clock.extend_from_slice(arguments);
        self.run_raw_logging(level, &with_clock)
    }

    fn run_raw(&self, arguments: &[&str]) -> Output {
        self.run_raw_logging("warn", arguments)
    }

    fn run_raw_logging(&self, level: &str, arguments: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_privacy-guard"));
        command.arg("--data-dir").arg(self.folder.path());
        if let Some(postgres) = &self.postgres {
            command.arg("--database-url").arg(postgres.url());
        }
        command
            .args(arguments)
            .env("RUST_LOG", level)
            .env("PRIVACY_GUARD_ACTOR", "test-operator")
            .output()
            .expect("the binary runs")
    }

    fn ok(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments);
        assert!(
            output.status.success(),
            "`{}` failed: {}{}",
            arguments.join(" "),
            text(&output.stdout),
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    fn fails(&self, arguments: &[&str]) -> (i32, String) {
        let output = self.run(arguments);
        assert!(
            !output.status.success(),
            "`{}` should fail: {}",
            arguments.join(" "),
            text(&output.stdout)
        );
        (
            output.status.code().unwrap_or(-1),
            format!("{}{}", text(&output.stdout), text(&output.stderr)),
        )
    }

    /// Saves the settings every test uses (sender, organisation, postal address) and
    /// `extra` ones.
    fn settings(&self, extra: &[&str]) -> String {
        self.ok(&settings_arguments(extra))
    }

    /// Defines `news`, a data consent over the email address for contacts.
    fn add_news_consent(&self) {
        self.ok(&[
            "consent",
            "add",
            "--id",
            "news",
            "--kind",
            "data:email",
            "--title",
            "News",
            "--purpose",
            "Our newsletter.",
        ]);
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.folder.path().join(name);
        std::fs::write(&path, contents).expect("write file");
        path.display().to_string()
    }

    fn outbox_files(&self) -> usize {
        count_eml(&self.folder.path().join("outbox"))
    }
}

/// A database of its own on the test PostgreSQL server, dropped with the test.
struct PostgresDatabase {
    server_url: String,
    name: String,
}

impl PostgresDatabase {
    fn create(server_url: &str) -> PostgresDatabase {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let name = format!("pg_test_cli_{:016x}", hasher.finish());
        on_server(server_url, &format!("CREATE DATABASE {name}")).unwrap_or_else(|error| {
            panic!("could not create the test database {name} on {server_url} (PRIVACY_GUARD_TEST_POSTGRES_URL): {error}")
        });
        PostgresDatabase {
            server_url: server_url.to_owned(),
            name,
        }
    }

    /// The server's URL naming this database instead of the server's own.
    fn url(&self) -> String {
        let (base, query) = self
            .server_url
            .split_once('?')
            .map_or((self.server_url.as_str(), ""), |(base, query)| {
                (base, query)
            });
        let authority = base.find("://").map_or(0, |index| index + 3);
        let path = base[authority..]
            .find('/')
            .map_or(base.len(), |index| authority + index);
        let separator = if query.is_empty() { "" } else { "?" };
        format!("{}/{}{separator}{query}", &base[..path], self.name)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = on_server(&self.server_url, &statement) {
            eprintln!("could not drop the test database {}: {error}", self.name);
        }
    }
}

fn on_server(server_url: &str, statement: &str) -> Result<(), sqlx::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(sqlx::Error::Io)?;
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(server_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&mut connection)
            .await?;
        connection.close().await
    })
}

/// `settings` with the sender, organisation and postal address every test uses, then `extra`.
fn settings_arguments<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut arguments = vec![
        "settings",
        "--sender-address",
        "privacy@example.org",
        "--sender-name",
        "Example Privacy",
        "--organisation",
        "Example Ltd",
        "--postal-address",
        "1 Example Street, Berlin",
    ];
    arguments.extend_from_slice(extra);
    arguments
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn count_eml(folder: &Path) -> usize {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| {
                    entry
                        .path()
                        .extension()
                        .is_some_and(|extension| extension == "eml")
                })
                .count()
        })
        .unwrap_or(0)
}

/// A loopback port nobody listens on: connections are refused at once.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

mod administration;
mod bulk_daily_run;
mod cases;
mod limits_and_logs;
mod mail;
mod proof;
mod reports;
mod safeguards;
mod settings;
mod tenants;
