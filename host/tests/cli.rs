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
        let now = self.now.borrow().clone();
        let mut with_clock = vec!["--now", now.as_str()];
        with_clock.extend_from_slice(arguments);
        self.run_raw(&with_clock)
    }

    fn run_raw(&self, arguments: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_privacy-guard"));
        command.arg("--data-dir").arg(self.folder.path());
        if let Some(postgres) = &self.postgres {
            command.arg("--database-url").arg(postgres.url());
        }
        command
            .args(arguments)
            .env("RUST_LOG", "warn")
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

#[test]
fn an_administrator_sets_up_consents_and_checks_sends_from_the_command_line() {
    let cli = Cli::new();

    // Enabling before anything is configured lists every missing prerequisite.
    let (_, refused) = cli.fails(&["enable"]);
    assert!(
        refused.contains("--confirm-deduplication")
            && refused.contains("privacy-guard settings")
            && refused.contains("consent add"),
        "{refused}"
    );

    cli.settings(&[]);
    let saved = cli.ok(&[
        "consent",
        "add",
        "--id",
        "email-marketing",
        "--kind",
        "data:email",
        "--title",
        "News by email",
        "--purpose",
        "Our monthly newsletter.",
    ]);
    assert!(saved.contains("version 1"), "{saved}");
    cli.ok(&["enable", "--confirm-deduplication"]);

    // A malformed file names its line and imports nothing.
    let bad = cli.write(
        "bad.csv",
        "firstname,email\nAda,ada@example.com\nGrace,grace-at-example.com\n",
    );
    let (code, problem) = cli.fails(&["import", &bad]);
    assert_eq!(code, 1);
    assert!(
        problem.contains("line 3")
            && problem.contains("grace-at-example.com")
            && problem.contains("nothing was changed"),
        "{problem}"
    );
    assert!(
        cli.fails(&["show", "contacts/1"])
            .1
            .contains("no consents are known")
    );

    let good = cli.write(
        "contacts.csv",
        "firstname,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    assert!(cli.ok(&["import", &good]).contains("2 created"));
    assert!(
        cli.ok(&["show", "contacts/1"])
            .contains("email-marketing\tapplicable")
    );

    // Enabled at 09:30: the first run is today's at 10:00, and nothing goes before it.
    let early = cli.ok(&["run-daily"]);
    assert!(
        early.contains("nothing to run yet") && early.contains("2026-12-01T10:00:00"),
        "{early}"
    );
    assert_eq!(cli.outbox_files(), 0);
    cli.set_now(FIRST_RUN);
    let run = cli.ok(&["run-daily"]);
    assert!(run.contains("2 request(s) sent"), "{run}");
    assert_eq!(cli.outbox_files(), 2);
    assert!(cli.ok(&["run-daily"]).contains("already done"));
    assert_eq!(cli.outbox_files(), 2);

    // Marketing to a contact who has not answered is refused (exit code 3).
    let output = cli.run(&[
        "check",
        "--class",
        "marketing",
        "--purpose",
        "email-marketing",
        "--to",
        "ada@example.com",
    ]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output.stdout).contains("refuse"));

    // Consent recorded with evidence after a phone call: now allowed, with the footer.
    let (_, missing) = cli.fails(&[
        "record-decision",
        "contacts/1",
        "--consent",
        "email-marketing",
        "--grant",
        "--evidence",
        "",
    ]);
    assert!(
        missing.contains("a reason or evidence is required"),
        "{missing}"
    );
    cli.ok(&[
        "record-decision",
        "contacts/1",
        "--consent",
        "email-marketing",
        "--grant",
        "--evidence",
        "phone call on 1 December, agent 7",
    ]);
    let output = cli.run(&[
        "check",
        "--class",
        "marketing",
        "--purpose",
        "email-marketing",
        "--to",
        "ada@example.com",
        "--to",
        "grace@example.com",
        "--cc",
        "ADA@example.com",
    ]);
    let decisions = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "Grace has not answered: {decisions}"
    );
    assert!(
        decisions.contains("ada@example.com\tallow\tbasis: consent\tpreferences-footer"),
        "{decisions}"
    );
    assert!(
        decisions.contains("grace@example.com\trefuse\tconsent-pending"),
        "{decisions}"
    );
    // Marketing goes to each person as To, with an opt-out of their own.
    assert!(
        decisions.contains("ADA@example.com\trefuse\tnot-a-to-recipient"),
        "{decisions}"
    );
    let history = cli.ok(&["show", "contacts/1", "--history"]);
    assert!(history.contains("phone call on 1 December"), "{history}");

    assert!(cli.ok(&["verify-events"]).contains("intact"));

    assert!(cli.ok(&["rotate-link-key"]).contains("new link key"));
    assert!(cli.ok(&["verify-events"]).contains("intact"));

    // A new purpose text needs its kind; a material change asks Ada again the next day.
    let new_text = [
        "consent",
        "add",
        "--id",
        "email-marketing",
        "--kind",
        "data:email",
        "--title",
        "News by email",
        "--purpose",
        "Our monthly newsletter, and offers of our partners.",
    ];
    let (_, unsaid) = cli.fails(&new_text);
    assert!(
        unsaid.contains("correction") && unsaid.contains("material"),
        "{unsaid}"
    );
    let (_, wrong) = cli.fails(&[&new_text[..], &["--purpose-change", "big"]].concat());
    assert!(
        wrong.contains("correction") && wrong.contains("material"),
        "{wrong}"
    );
    let saved = cli.ok(&[&new_text[..], &["--purpose-change", "material"]].concat());
    assert!(
        saved.contains("version 2") && saved.contains("asks the people who gave them again"),
        "{saved}"
    );
    let output = cli.run(&[
        "check",
        "--class",
        "marketing",
        "--purpose",
        "email-marketing",
        "--to",
        "ada@example.com",
    ]);
    assert!(
        text(&output.stdout).contains("ada@example.com\trefuse\tconsent-outdated"),
        "{}",
        text(&output.stdout)
    );
    cli.set_now("2026-12-02T10:00:00Z");
    let run = cli.ok(&["run-daily"]);
    assert!(run.contains("1 request(s) sent"), "{run}");
}

#[test]
fn bad_arguments_are_refused_with_what_to_write() {
    let cli = Cli::new();
    assert!(cli.fails(&["show", "42"]).1.contains("MODULE/ID"));
    assert!(
        cli.fails(&[
            "consent",
            "add",
            "--id",
            "x",
            "--kind",
            "dataemail",
            "--title",
            "t",
            "--purpose",
            "p"
        ])
        .1
        .contains("data:FIELD")
    );
    assert!(
        cli.fails(&["--time-zone", "Mars/Base", "run-daily"])
            .1
            .contains("IANA")
    );
    let output = cli.run_raw(&["--now", "yesterday", "run-daily"]);
    assert!(
        !output.status.success() && text(&output.stderr).contains("RFC 3339"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn an_administrator_previews_and_applies_de_duplication_from_the_command_line() {
    let cli = Cli::new();
    // Two contacts share an address: the preview changes nothing, --apply flags one.
    let shared = cli.write(
        "shared.csv",
        "firstname,email\nAda,ada@example.com\nAda Again, ADA@example.com \n",
    );
    cli.ok(&["import", &shared]);
    let plan = cli.ok(&["dedupe"]);
    assert!(
        plan.contains("ada@example.com")
            && plan.contains("flag   contacts/")
            && plan.contains("1 duplicate(s) to flag")
            && plan.contains("nothing was changed"),
        "{plan}"
    );
    let applied = cli.ok(&["dedupe", "--apply"]);
    assert!(
        applied.contains("1 duplicate(s) newly flagged"),
        "{applied}"
    );
    let again = cli.ok(&["dedupe", "--apply"]);
    assert!(
        again.contains("0 duplicate(s) newly flagged, 1 already flagged"),
        "{again}"
    );
    let flagged = cli.ok(&["show", "contacts/2", "--history"]);
    assert!(flagged.contains("status-changed"), "{flagged}");
}

#[test]
fn render_prints_what_each_recipient_gets_footer_for_to_only_tracking_stripped() {
    let cli = Cli::new();
    cli.settings(&["--preferences-url", "https://crm.example.org/preferences/"]);
    cli.ok(&[
        "consent",
        "add",
        "--id",
        "email-marketing",
        "--kind",
        "data:email",
        "--title",
        "News by email",
        "--purpose",
        "Our monthly newsletter.",
    ]);
    cli.ok(&["enable", "--confirm-deduplication"]);
    let contacts = cli.write(
        "contacts.csv",
        "firstname,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    cli.ok(&["import", &contacts]);
    let text_file = cli.write("mail.txt", "Hello,\nsee you on Monday.\n");
    let html_file = cli.write(
        "mail.html",
        "<p>Hello</p><img src=\"https://t.example/o.gif\" data-pg-tracking>",
    );
    let rendered = cli.ok(&[
        "render",
        "--class",
        "ad-hoc",
        "--to",
        "ada@example.com",
        "--cc",
        "grace@example.com",
        "--subject",
        "Monday",
        "--text-file",
        &text_file,
        "--html-file",
        &html_file,
    ]);
    let (ada, grace) = rendered
        .split_once("=== grace@example.com (cc): send")
        .unwrap_or_else(|| panic!("a section per recipient: {rendered}"));
    assert!(
        ada.starts_with("=== ada@example.com (to): send\nSubject: Monday\n"),
        "{ada}"
    );
    assert!(
        ada.contains("https://crm.example.org/preferences/"),
        "{ada}"
    );
    assert!(ada.contains("1 Example Street, Berlin"), "{ada}");
    assert!(
        !grace.contains("https://crm.example.org/preferences/"),
        "{grace}"
    );
    assert!(!rendered.contains("data-pg-tracking"), "{rendered}");

    let output = cli.run(&[
        "render",
        "--class",
        "ad-hoc",
        "--to",
        "not an address",
        "--subject",
        "Monday",
        "--text-file",
        &text_file,
    ]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stdout).contains("=== not an address (to): refuse invalid-address"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn fields_are_classified_listed_with_suggestions_and_limits_are_refused_on_the_command_line() {
    let cli = Cli::new();
    let classified = cli.ok(&[
        "field",
        "classify",
        "--module",
        "contacts",
        "--field",
        "phone",
        "--personal",
        "--sensitive",
        "--encrypted",
    ]);
    assert!(
        classified.contains("contacts.phone: personal, non-essential, sensitive, encrypted"),
        "{classified}"
    );
    cli.ok(&[
        "field",
        "classify",
        "--field",
        "iban",
        "--personal",
        "--essential",
        "--sensitive",
    ]);
    let (_, refused) = cli.fails(&["field", "classify", "--field", "notes", "--encrypted"]);
    assert!(
        refused.contains("only a personal field can be encrypted"),
        "{refused}"
    );
    let listed = cli.ok(&["field", "list", "--module", "contacts"]);
    assert!(
        listed.contains("contacts.iban: personal, essential, sensitive"),
        "{listed}"
    );
    assert!(
        listed.contains("suggested data consents: phone"),
        "{listed}"
    );
    let rotated = cli.ok(&["rotate-field-key"]);
    assert!(rotated.contains("new field key"), "{rotated}");
}

#[test]
fn an_administrator_edits_restricts_lifts_erases_and_deletes_consents_from_the_command_line() {
    let cli = Cli::new();
    cli.settings(&[
        "--retain-field",
        "name",
        "--confirm-changes",
        "every-change",
        "--ip-evidence",
        "hash",
    ]);
    let (_, bad_policy) = cli.fails(&settings_arguments(&["--ip-evidence", "scramble"]));
    assert!(
        bad_policy.contains("keep") && bad_policy.contains("truncate"),
        "{bad_policy}"
    );
    for (id, kind) in [("email-marketing", "data:email"), ("phone", "data:phone")] {
        cli.ok(&[
            "consent",
            "add",
            "--id",
            id,
            "--kind",
            kind,
            "--title",
            id,
            "--purpose",
            "What we do with it.",
        ]);
    }
    cli.ok(&["enable", "--confirm-deduplication"]);
    let people = cli.write(
        "people.csv",
        "name,email,phone,city\nAda,ada@example.com,+44 1,London\n",
    );
    cli.ok(&["import", &people]);

    // The phone consent has not been requested: the edit is refused with the reason.
    let refused = cli.run(&["edit", "contacts/1", "--set", "phone=+44 2"]);
    assert_eq!(refused.status.code(), Some(4));
    let why = text(&refused.stderr);
    assert!(
        why.contains("`phone` cannot be edited") && why.contains("not been requested"),
        "{why}"
    );
    let saved = cli.ok(&["edit", "contacts/1", "--set", "city=Paris"]);
    assert!(saved.contains("saved contacts/1"), "{saved}");
    let (_, malformed) = cli.fails(&["edit", "contacts/1", "--set", "city"]);
    assert!(malformed.contains("FIELD=VALUE"), "{malformed}");

    // Restrict, then lift only with a reason; the person is told.
    let restricted = cli.ok(&[
        "restrict",
        "contacts/1",
        "--reason",
        "Ada disputes her data",
    ]);
    assert!(restricted.contains("processing restricted"), "{restricted}");
    let locked = cli.run(&["edit", "contacts/1", "--set", "city=Rome"]);
    assert_eq!(locked.status.code(), Some(4));
    assert!(text(&locked.stderr).contains("stop processing"));
    let (_, no_reason) = cli.fails(&["lift-restriction", "contacts/1", "--reason", " "]);
    assert!(no_reason.contains("not lifted"), "{no_reason}");
    let mails_before = cli.outbox_files();
    cli.ok(&[
        "lift-restriction",
        "contacts/1",
        "--reason",
        "The data were checked",
    ]);
    assert_eq!(cli.outbox_files(), mails_before + 1, "the notice");

    // Deleting a data consent removes its field from the layout; unknown ids are refused.
    let deleted = cli.ok(&["consent", "delete", "phone"]);
    assert!(
        deleted.contains("`phone` deleted") && deleted.contains("removed from the contacts layout"),
        "{deleted}"
    );
    let (_, unknown) = cli.fails(&["consent", "delete", "phone"]);
    assert!(unknown.contains("no consent with this id"), "{unknown}");
    let listed = cli.ok(&["consent", "list"]);
    assert!(!listed.contains("phone"), "{listed}");

    // Erase: email emptied, the retained name kept, the record locked.
    let erased = cli.ok(&["erase", "contacts/1", "--evidence", "Ada's letter"]);
    // The deleted consent's field is still personal data held: it is erased too.
    assert!(erased.contains("fields emptied: email, phone"), "{erased}");
    let shown = cli.ok(&["show", "contacts/1"]);
    assert!(shown.contains("erased"), "{shown}");
    let (_, twice) = cli.fails(&["erase", "contacts/1", "--evidence", "again"]);
    assert!(twice.contains("not erased"), "{twice}");
}

/// A loopback port nobody listens on: connections are refused at once.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

#[test]
fn smtp_settings_are_checked_at_start_and_the_password_never_shows() {
    let cli = Cli::new();
    let with_password = |arguments: &[&str], password: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_privacy-guard"))
            .arg("--data-dir")
            .arg(cli.folder.path())
            .args(arguments)
            .env("RUST_LOG", "debug")
            .env("PRIVACY_GUARD_SMTP_PASSWORD", password)
            .output()
            .expect("the binary runs");
        format!("{}{}", text(&output.stdout), text(&output.stderr))
    };

    let (_, wrong_scheme) = cli.fails(&["--smtp-url", "http://mail.example.org", "outbox"]);
    assert!(
        wrong_scheme.contains("--smtp-url") && wrong_scheme.contains("not an SMTP URL"),
        "{wrong_scheme}"
    );
    let (_, in_url) = cli.fails(&[
        "--smtp-url",
        "smtp://mailer:hunter2-secret@mail.example.org",
        "outbox",
    ]);
    assert!(in_url.contains("contains a password"), "{in_url}");
    assert!(!in_url.contains("hunter2-secret"), "{in_url}");
    let (_, no_password) = cli.fails(&["--smtp-url", "smtp://mailer@mail.example.org", "outbox"]);
    assert!(no_password.contains("no SMTP password"), "{no_password}");
    let (_, bad_security) = cli.fails(&[
        "--smtp-url",
        "smtp://mail.example.org?security=ssl",
        "outbox",
    ]);
    assert!(bad_security.contains("security=starttls"), "{bad_security}");

    let plain = with_password(
        &[
            "--smtp-url",
            "smtp://mailer@127.0.0.1?security=none",
            "outbox",
        ],
        "hunter2-secret",
    );
    assert!(plain.contains("unencrypted"), "{plain}");
    let no_server = with_password(&["outbox"], "hunter2-secret");
    assert!(no_server.contains("no SMTP server"), "{no_server}");
    let empty_file = cli.write("password.txt", "\n");
    let (_, empty) = cli.fails(&[
        "--smtp-url",
        "smtp://mailer@mail.example.org",
        "--smtp-password-file",
        &empty_file,
        "outbox",
    ]);
    assert!(empty.contains("is empty"), "{empty}");
    // Accepted settings, logged at debug level: the password is nowhere.
    let accepted = with_password(
        &["--smtp-url", "smtp://mailer@127.0.0.1", "outbox"],
        "hunter2-secret",
    );
    assert!(
        accepted.contains("0 message(s) not delivered"),
        "{accepted}"
    );
    assert!(!accepted.contains("hunter2-secret"), "{accepted}");
}

#[test]
fn mail_for_an_unreachable_smtp_server_waits_in_the_outbox_for_its_next_attempt() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let contacts = cli.write("contacts.csv", "firstname,email\nAda,ada@example.com\n");
    cli.ok(&["import", &contacts]);

    let url = format!(
        "smtp://127.0.0.1:{}?security=none&timeout=2",
        refused_port()
    );
    cli.set_now(FIRST_RUN);
    let run = cli.ok(&["--smtp-url", &url, "run-daily"]);
    assert!(
        run.contains("1 request(s) sent") && run.contains("0 mail(s) delivered"),
        "{run}"
    );
    assert_eq!(
        cli.outbox_files(),
        0,
        "no .eml file when an SMTP server is set"
    );
    let outbox = cli.ok(&["--smtp-url", &url, "outbox"]);
    assert!(
        outbox.contains("next attempt 2026-12-01T10:01:05Z")
            && outbox.contains("1 attempt(s)")
            && outbox.contains("cannot take mail now")
            && outbox.contains("1 message(s) not delivered, 0 failed"),
        "{outbox}"
    );
    assert!(!outbox.contains("ada@example.com"), "{outbox}");
    // Nothing is due yet: `deliver` tries nothing and says the mail is still queued.
    let deliver = cli.ok(&["--smtp-url", &url, "deliver"]);
    assert!(
        deliver.contains("delivered 0 message(s)") && deliver.contains("still queued"),
        "{deliver}"
    );

    // Once due, a failed attempt is an error naming the server; the mail still waits.
    let output = cli.run_raw(&[
        "--now",
        "2026-12-01T10:02:00Z",
        "--smtp-url",
        &url,
        "deliver",
    ]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("mail delivery stopped") && stderr.contains("127.0.0.1"),
        "{stderr}"
    );
    assert!(!stderr.contains("ada@example.com"), "{stderr}");
    assert!(
        cli.ok(&["--smtp-url", &url, "outbox"])
            .contains("2 attempt(s)")
    );
}

impl Cli {
    /// The URL of this test's database, as the binary opens it.
    fn database_url(&self) -> String {
        match &self.postgres {
            Some(postgres) => postgres.url(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.folder.path().join("privacy-guard.db").display()
            ),
        }
    }

    /// Claims one due mail at `now` (milliseconds) for `holder`, as a delivery pass of
    /// that process would, for a minute; returns the claimed mail's id.
    fn claim_one_mail(&self, holder: &ClaimHolder, now: i64) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let database = Database::connect(&self.database_url())
                .await
                .expect("the database opens");
            let claimed = database
                .claim_pending_mail(holder, now, now + 60_000, 1)
                .await
                .expect("claim");
            assert_eq!(claimed.len(), 1, "one mail is due and free");
            claimed[0].mail.message_id.clone()
        })
    }

    /// The Message-ID of every `.eml` file of the outbox folder, sorted.
    fn delivered_message_ids(&self) -> Vec<String> {
        let folder = self.folder.path().join("outbox");
        let mut ids: Vec<String> = std::fs::read_dir(&folder)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| entry.path().extension().is_some_and(|e| e == "eml"))
                    .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                    .filter_map(|message| {
                        message
                            .lines()
                            .find_map(|line| line.strip_prefix("Message-ID: "))
                            .map(|id| id.trim_matches(['<', '>']).to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }
}

#[test]
fn mail_held_by_a_process_that_is_gone_is_taken_over_at_once_and_a_live_holders_after_its_lease() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let contacts = cli.write(
        "contacts.csv",
        "firstname,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    cli.ok(&["import", &contacts]);
    // The run queues two requests; the SMTP server is unreachable, so both wait a minute.
    let url = format!(
        "smtp://127.0.0.1:{}?security=none&timeout=2",
        refused_port()
    );
    cli.set_now(FIRST_RUN);
    cli.ok(&["--smtp-url", &url, "run-daily"]);

    // At 10:02 both are due. One is claimed by a delivery whose process is gone (killed
    // mid-delivery: a child that has ended), the other by a live process (this test),
    // both on this machine, each for a minute.
    let at = |instant: &str| {
        chrono::DateTime::parse_from_rfc3339(instant)
            .expect("instant")
            .timestamp_millis()
    };
    let this = privacy_guard_host::mail::holder::this_process();
    let mut child = Command::new("true").spawn().expect("`true` runs");
    let gone = ClaimHolder {
        pid: Some(child.id()),
        process_start: None,
        ..privacy_guard_host::mail::holder::this_process()
    };
    child.wait().expect("`true` ends");
    let held_by_the_gone = cli.claim_one_mail(&gone, at("2026-12-01T10:02:00Z"));
    let held_by_the_living = cli.claim_one_mail(&this, at("2026-12-01T10:02:00Z"));
    let host = this.host.clone().expect("a host name");

    cli.set_now("2026-12-01T10:02:10Z");
    let outbox = cli.ok(&["outbox"]);
    for (id, holder) in [(&held_by_the_gone, &gone), (&held_by_the_living, &this)] {
        let line = outbox
            .lines()
            .find(|line| line.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("{id} is listed: {outbox}"));
        let expected = format!(
            "held by {host} pid {} until 2026-12-01T10:03:00Z",
            holder.pid.expect("a pid")
        );
        assert!(line.contains(&expected), "{expected} in {line}");
    }
    assert!(
        outbox.contains("2 message(s) not delivered, 0 failed, 2 held by a delivery pass"),
        "{outbox}"
    );

    // The next `deliver` on this machine takes over the mail of the gone process at once
    // and leaves this live process's mail alone.
    let delivered = cli.ok(&["deliver"]);
    assert!(delivered.contains("delivered 1 message(s)"), "{delivered}");
    assert_eq!(
        cli.delivered_message_ids(),
        std::slice::from_ref(&held_by_the_gone)
    );
    let outbox = cli.ok(&["outbox"]);
    assert!(
        outbox.contains(&format!("held by {host} pid {}", this.pid.expect("a pid")))
            && outbox.contains("1 message(s) not delivered, 0 failed, 1 held"),
        "{outbox}"
    );

    // Once the live holder's lease lapsed (it stopped renewing it), its mail goes too,
    // and every mail went once.
    cli.set_now("2026-12-01T10:03:01Z");
    let delivered = cli.ok(&["deliver"]);
    assert!(delivered.contains("delivered 1 message(s)"), "{delivered}");
    assert!(
        cli.ok(&["deliver"]).contains("delivered 0 message(s)"),
        "nothing goes twice"
    );
    let mut expected = vec![held_by_the_gone, held_by_the_living];
    expected.sort();
    assert_eq!(cli.delivered_message_ids(), expected);
    assert!(
        cli.ok(&["outbox"])
            .contains("0 message(s) not delivered, 0 failed\n"),
    );
}

#[test]
fn a_tenant_sends_through_its_own_smtp_server_with_the_password_from_the_variable_it_names() {
    const VARIABLE: &str = "PRIVACY_GUARD_TEST_ACME_SMTP_PASSWORD";
    let cli = Cli::new();
    let port = refused_port();
    // Tenants keep their data in their own folders (SQLite, whatever the test backend).
    let config = cli.write(
        "tenants.toml",
        &format!(
            "[[tenants]]\nid = \"acme\"\nsmtp_url = \"smtp://mailer@127.0.0.1:{port}?timeout=2\"\nsmtp_password_env = \"{VARIABLE}\"\n\n[[tenants]]\nid = \"globex\"\n"
        ),
    );
    let contacts = cli.write("contacts.csv", "firstname,email\nAda,ada@example.com\n");
    let run = |tenant: &str, password: Option<&str>, arguments: &[&str]| {
        // The daily run goes at its time; everything else before it.
        let now = if arguments == ["run-daily"] {
            FIRST_RUN
        } else {
            START
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_privacy-guard"));
        command
            .arg("--data-dir")
            .arg(cli.folder.path())
            .args(["--now", now, "--config", &config])
            .args(["--tenant", tenant])
            .args(arguments)
            .env("RUST_LOG", "debug")
            .env_remove(VARIABLE);
        if let Some(password) = password {
            command.env(VARIABLE, password);
        }
        let output = command.output().expect("the binary runs");
        (
            output.status.success(),
            format!("{}{}", text(&output.stdout), text(&output.stderr)),
        )
    };
    let ok = |tenant: &str, password: Option<&str>, arguments: &[&str]| {
        let (success, output) = run(tenant, password, arguments);
        assert!(success, "`{}` failed: {output}", arguments.join(" "));
        assert!(!output.contains("hunter2-secret"), "{output}");
        output
    };

    let (success, missing) = run("acme", None, &["outbox"]);
    assert!(!success, "{missing}");
    assert!(
        missing.contains("tenant `acme`") && missing.contains(VARIABLE),
        "{missing}"
    );

    for (tenant, password) in [("acme", Some("hunter2-secret")), ("globex", None)] {
        ok(
            tenant,
            password,
            &[
                "settings",
                "--sender-address",
                "privacy@example.org",
                "--sender-name",
                "Example Privacy",
                "--organisation",
                "Example Ltd",
                "--postal-address",
                "1 Example Street, Berlin",
            ],
        );
        ok(
            tenant,
            password,
            &[
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
            ],
        );
        ok(tenant, password, &["enable", "--confirm-deduplication"]);
        ok(tenant, password, &["import", &contacts]);
    }

    // acme's mail goes to acme's server (refusing connections here): it waits.
    let acme_run = ok("acme", Some("hunter2-secret"), &["run-daily"]);
    assert!(
        acme_run.contains("1 request(s) sent") && acme_run.contains("0 mail(s) delivered"),
        "{acme_run}"
    );
    let acme_outbox = ok("acme", Some("hunter2-secret"), &["outbox"]);
    assert!(
        acme_outbox.contains(&format!("127.0.0.1:{port}"))
            && acme_outbox.contains("cannot take mail now")
            && acme_outbox.contains("1 message(s) not delivered, 0 failed"),
        "{acme_outbox}"
    );
    let tenants = cli.folder.path().join("tenants");
    assert_eq!(count_eml(&tenants.join("acme").join("outbox")), 0);

    // globex has no SMTP server, nor has the host: its mail lands in its own folder.
    let globex_run = ok("globex", None, &["run-daily"]);
    assert!(
        globex_run.contains("1 request(s) sent") && globex_run.contains("1 mail(s) delivered"),
        "{globex_run}"
    );
    assert_eq!(count_eml(&tenants.join("globex").join("outbox")), 1);
}

#[test]
fn serve_runs_a_scheduler_and_a_delivery_worker_per_tenant_and_stops_them_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let cli = Cli::new();
    let config = cli.write(
        "tenants.toml",
        "[[tenants]]\nid = \"acme\"\n\n[[tenants]]\nid = \"globex\"\n",
    );
    // acme's links point at a port this server does not listen on: serve says so.
    let mut acme_settings = vec!["--config", config.as_str(), "--tenant", "acme"];
    acme_settings.extend(settings_arguments(&[
        "--preferences-url",
        "http://127.0.0.1:9/t/acme/preferences/",
    ]));
    cli.ok(&acme_settings);
    let mut server = Command::new(env!("CARGO_BIN_EXE_privacy-guard"))
        .arg("--data-dir")
        .arg(cli.folder.path())
        .args(["--config", &config, "serve", "--listen", "127.0.0.1:0"])
        .args(["--delivery-interval", "1"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (lines, received) = mpsc::channel();
    let stderr = server.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let wait_for = |log: &mut Vec<String>, wanted: &dyn Fn(&[String]) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !wanted(log) {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => log.push(line),
                Err(_) => panic!("not seen in time; the log so far:\n{}", log.join("\n")),
            }
        }
    };
    let both_tenants = |log: &[String], message: &str| {
        ["acme", "globex"].iter().all(|tenant| {
            log.iter()
                .any(|line| line.contains(message) && line.contains(tenant))
        })
    };
    wait_for(&mut log, &|log| {
        both_tenants(log, "the delivery worker started")
    });
    let warnings: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("links in mail point at"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", log.join("\n"));
    assert!(
        warnings[0].contains("acme")
            && warnings[0].contains("http://127.0.0.1:9/t/acme/preferences/"),
        "{}",
        warnings[0]
    );

    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let status = server.wait().expect("the server stops");
    reader.join().expect("the log is read");
    log.extend(received.try_iter());
    assert!(status.success(), "{status:?}\n{}", log.join("\n"));
    assert!(
        both_tenants(&log, "the delivery worker stopped"),
        "{}",
        log.join("\n")
    );
    assert!(
        log.last().is_some_and(|line| line.contains("stopped")),
        "{}",
        log.join("\n")
    );
}

#[test]
fn wrong_input_is_refused_and_settings_change_only_the_options_given() {
    let cli = Cli::new();
    cli.settings(&["--retain-field", "name", "--ip-evidence", "hash"]);
    // A module name with a typo is refused, naming the modules that hold people.
    let contacts = cli.write("people.csv", "name,email\nAda,ada@example.com\n");
    let (_, refused) = cli.fails(&["import", "--module", "lead", &contacts]);
    assert!(
        refused.contains("`lead`") && refused.contains("contacts, leads"),
        "{refused}"
    );
    assert!(
        cli.fails(&["show", "lead/1"])
            .1
            .contains("no consents are known")
    );
    // One option changes one setting; `settings show` prints them all.
    cli.ok(&["settings", "--flag-new-duplicates"]);
    let shown = cli.ok(&["settings", "show"]);
    for line in [
        "sender-address: privacy@example.org",
        "flag-new-duplicates: true",
        "retained-fields: name",
        "ip-evidence: hash",
        "person-modules: contacts, leads",
    ] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["settings", "show", "--json"])).expect("JSON");
    assert_eq!(json["retained_fields"], serde_json::json!(["name"]));
    assert_eq!(json["flag_new_duplicates"], true);
    cli.ok(&[
        "settings",
        "--retain-nothing",
        "--flag-new-duplicates=false",
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["settings", "show", "--json"])).expect("JSON");
    assert_eq!(json["retained_fields"], serde_json::json!([]));
    assert_eq!(json["flag_new_duplicates"], false);
    assert!(cli.fails(&["settings"]).1.contains("no option given"));
    // Organisations can hold people too, once configured.
    cli.ok(&[
        "settings",
        "--person-module",
        "contacts",
        "--person-module",
        "accounts",
    ]);
    assert!(
        cli.ok(&["import", "--module", "accounts", &contacts])
            .contains("1 created")
    );
    // A person's current link, for someone who lost their mail.
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    cli.ok(&["import", &contacts]);
    let link = cli.ok(&["link", "contacts/1"]);
    assert!(
        link.trim()
            .starts_with("http://127.0.0.1:8080/preferences/"),
        "{link}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["link", "contacts/1", "--json"])).expect("JSON");
    assert_eq!(json["person"], "contacts/1");
    assert!(
        cli.fails(&["link", "contacts/9"])
            .1
            .contains("does not know")
    );
    // Staff actions name who acted: --actor, else the environment's user.
    cli.ok(&[
        "--actor",
        "alice",
        "record-decision",
        "contacts/1",
        "--consent",
        "news",
        "--grant",
        "--evidence",
        "Phone call of 1 December",
    ]);
    cli.ok(&[
        "restrict",
        "contacts/1",
        "--reason",
        "Ada disputes her data",
    ]);
    let history = cli.ok(&["show", "contacts/1", "--history"]);
    assert!(
        history.contains("\"actor\":\"alice\"") && history.contains("\"actor\":\"test-operator\""),
        "{history}"
    );
}

#[test]
fn legal_regimes_are_configured_part_by_part_and_shown() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.ok(&[
        "settings",
        "--regime-field",
        "country",
        "--regime",
        "US=opt-out",
        "--regime",
        "CA=implied-consent",
        "--purchase-field",
        "last_purchase",
    ]);
    let shown = cli.ok(&["settings", "show"]);
    for line in [
        "regime-field: country",
        "regimes: ca=implied-consent, us=opt-out",
        "default-regime: opt-in",
        "purchase-field: last_purchase",
        "enquiry-field: (none)",
        "soft-opt-in: (none)",
    ] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
    // One part changes, the others stay.
    cli.ok(&["settings", "--default-regime", "opt-out"]);
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["settings", "show", "--json"])).expect("JSON");
    assert_eq!(
        json["regimes"],
        serde_json::json!({
            "field": "country",
            "values": {"ca": "implied_consent", "us": "opt_out"},
            "default_regime": "opt_out",
            "purchase_field": "last_purchase",
            "enquiry_field": "",
            "soft_opt_in": []
        })
    );
    // Wrong input names what to write; the opt-out regime needs links that live 30 days.
    let (_, bad) = cli.fails(&["settings", "--regime", "US=maybe"]);
    assert!(
        bad.contains("`maybe` is not a regime") && bad.contains("opt-out"),
        "{bad}"
    );
    let (_, short) = cli.fails(&["settings", "--link-valid-days", "14"]);
    assert!(
        short.contains("link-valid-days") && short.contains("30 days"),
        "{short}"
    );
    cli.ok(&[
        "settings",
        "--no-regime-values",
        "--default-regime",
        "opt-in",
    ]);
    assert!(cli.ok(&["settings", "show"]).contains("regimes: (none)"));
}

#[test]
fn languages_templates_and_translations_are_configured_from_the_command_line() {
    let cli = Cli::new();
    cli.settings(&[]);
    let good = cli.write("de.ftl", "request-subject = { $organisation } fragt Sie\n");
    cli.ok(&[
        "settings",
        "--language-field",
        "language",
        "--default-language",
        "fr",
        "--template",
        &format!("de={good}"),
    ]);
    let shown = cli.ok(&["settings", "show"]);
    for line in [
        "language-field: language",
        "default-language: fr",
        "templates: de",
    ] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
    // A template that would break a mail is refused naming what and where; nothing changes.
    let broken = cli.write("es.ftl", "request-link = Elija en la página.\n");
    let (_, refused) = cli.fails(&["settings", "--template", &format!("es={broken}")]);
    assert!(
        refused.contains("languages.templates[es]") && refused.contains("{ $link }"),
        "{refused}"
    );
    let (_, unreadable) = cli.fails(&["settings", "--template", "es=/no/such/file.ftl"]);
    assert!(unreadable.contains("/no/such/file.ftl"), "{unreadable}");
    let (_, unknown) = cli.fails(&["settings", "--default-language", "pt"]);
    assert!(unknown.contains("en, de, fr, es"), "{unknown}");
    assert!(cli.ok(&["settings", "show"]).contains("templates: de"));
    cli.ok(&["settings", "--no-templates"]);
    assert!(cli.ok(&["settings", "show"]).contains("templates: (none)"));

    // A consent with its German title and purpose; a malformed translation is refused.
    let consent = [
        "consent",
        "add",
        "--id",
        "news",
        "--kind",
        "custom",
        "--title",
        "News",
        "--purpose",
        "Monthly news.",
    ];
    let (_, malformed) = cli.fails(&[&consent[..], &["--translation", "de|Neuigkeiten"]].concat());
    assert!(malformed.contains("LANG|TITLE|PURPOSE"), "{malformed}");
    cli.ok(&[
        &consent[..],
        &["--translation", "de|Neuigkeiten|Monatliche Neuigkeiten."],
    ]
    .concat());
    let contacts = cli.write(
        "contacts.csv",
        "name,email,language\nBernd,bernd@example.com,de\n",
    );
    cli.ok(&["enable", "--confirm-deduplication"]);
    cli.ok(&["import", &contacts]);
    cli.set_now(FIRST_RUN);
    assert!(cli.ok(&["run-daily"]).contains("1 request(s) sent"));
    let mail = std::fs::read_dir(cli.folder.path().join("outbox"))
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|entry| std::fs::read_to_string(entry.path()).expect("eml"))
        .find(|mail| mail.contains("bernd@example.com"))
        .expect("Bernd's request");
    assert!(mail.contains("Neuigkeiten"), "{mail}");
    let shown = cli.ok(&["show", "contacts/1"]);
    assert!(
        shown.contains("regime opt-in") && shown.contains("language de"),
        "{shown}"
    );
}

/// The reminder mails in the outbox (their subject says so).
fn reminders_in(folder: &Path) -> usize {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| {
                    std::fs::read_to_string(entry.path())
                        .is_ok_and(|mail| mail.contains("Subject: Reminder:"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn an_unanswered_request_is_reminded_lapses_and_is_asked_again_over_time() {
    let cli = Cli::new();
    cli.settings(&[
        "--remind-after-days",
        "7",
        "--reminders",
        "1",
        "--lapse-after-days",
        "30",
        "--ask-again-after-days",
        "60",
    ]);
    cli.add_news_consent();
    let people = cli.write(
        "people.csv",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    cli.ok(&["import", &people]);
    cli.ok(&["enable", "--confirm-deduplication"]);
    let outbox = cli.folder.path().join("outbox");
    let marketing_to_ada = |cli: &Cli| {
        text(
            &cli.run(&[
                "check",
                "--class",
                "marketing",
                "--purpose",
                "news",
                "--to",
                "ada@example.com",
            ])
            .stdout,
        )
    };

    // 1 December: the requests; Grace answers, Ada does not.
    cli.set_now(FIRST_RUN);
    cli.ok(&["run-daily"]);
    assert_eq!(cli.outbox_files(), 2);
    cli.ok(&[
        "record-decision",
        "contacts/2",
        "--consent",
        "news",
        "--grant",
        "--evidence",
        "phone call",
    ]);
    // 8 December: one reminder, to Ada only, with a fresh link.
    cli.set_now("2026-12-08T10:00:05Z");
    cli.ok(&["run-daily"]);
    assert_eq!(cli.outbox_files(), 3);
    assert_eq!(reminders_in(&outbox), 1);
    assert!(
        cli.ok(&["show", "contacts/1", "--history"])
            .contains("request-repeated")
    );
    // 15 December: no second reminder (one was configured).
    cli.set_now("2026-12-15T10:00:05Z");
    cli.ok(&["run-daily"]);
    assert_eq!(cli.outbox_files(), 3);
    assert!(marketing_to_ada(&cli).contains("consent-pending"));
    // 31 December: thirty days after the request it lapses; silence is not consent.
    cli.set_now("2026-12-31T10:00:05Z");
    cli.ok(&["run-daily"]);
    assert!(
        marketing_to_ada(&cli).contains("consent-not-requested"),
        "{}",
        marketing_to_ada(&cli)
    );
    let history = cli.ok(&["show", "contacts/1", "--history"]);
    assert!(history.contains("\"lapsed\":true"), "{history}");
    assert!(cli.ok(&["show", "contacts/2"]).contains("granted"));
    // Not asked again before sixty days have passed...
    cli.set_now("2027-01-15T10:00:05Z");
    cli.ok(&["run-daily"]);
    assert_eq!(cli.outbox_files(), 3);
    // ...unless staff ask again: then at the next run.
    assert!(cli.ok(&["ask-again", "contacts/1"]).contains("asked again"));
    assert!(
        cli.ok(&["ask-again", "contacts/2"])
            .contains("nothing to ask")
    );
    cli.set_now("2027-01-16T10:00:05Z");
    cli.ok(&["run-daily"]);
    assert_eq!(cli.outbox_files(), 4);
    assert!(marketing_to_ada(&cli).contains("consent-pending"));
    let shown = cli.ok(&["settings", "show"]);
    for line in [
        "remind-after-days: 7",
        "reminders: 1",
        "lapse-after-days: 30",
    ] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
}

#[test]
fn a_call_past_the_budget_given_on_the_command_line_fails_closed_and_delivers_nothing() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let contacts = cli.write(
        "contacts.csv",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    cli.ok(&["import", &contacts]);
    cli.set_now(FIRST_RUN);
    let (_, refused) = cli.fails(&["--plugin-budget", "mails=1", "run-daily"]);
    assert!(refused.contains("budget of 1 mails"), "{refused}");
    assert_eq!(cli.outbox_files(), 0);
    let (_, unknown) = cli.fails(&["--plugin-budget", "letters=1", "run-daily"]);
    assert!(
        unknown.contains("letters") && unknown.contains("store-bytes, events, mails"),
        "{unknown}"
    );
    let (_, zero) = cli.fails(&["--plugin-instances", "0", "run-daily"]);
    assert!(zero.contains("--plugin-instances"), "{zero}");
    let (_, fuel) = cli.fails(&["--plugin-fuel", "1000", "run-daily"]);
    assert!(fuel.contains("ran out of fuel (1000 units"), "{fuel}");
    let (_, timeout) = cli.fails(&["--plugin-timeout-seconds", "0", "run-daily"]);
    assert!(timeout.contains("--plugin-timeout-seconds"), "{timeout}");
    assert_eq!(cli.outbox_files(), 0);
    // The defaults let the run through, as does a generous fuel.
    assert!(
        cli.ok(&["--plugin-fuel", "5000000000", "run-daily"])
            .contains("2 request(s) sent")
    );
    assert_eq!(cli.outbox_files(), 2);
}

#[test]
fn a_tenant_of_the_configuration_file_has_its_own_sandbox_over_the_hosts() {
    let cli = Cli::new();
    let config = cli.write(
        "tenants.toml",
        "[[tenants]]\nid = \"acme\"\n[tenants.plugin]\nfuel = 1000\n\n[[tenants]]\nid = \"globex\"\n",
    );
    let check = |tenant: &str| {
        cli.run(&[
            "--config",
            &config,
            "--tenant",
            tenant,
            "--plugin-fuel",
            "5000000000",
            "check",
            "--class",
            "ad-hoc",
            "--to",
            "ada@example.com",
        ])
    };
    // acme's fuel (over the command line's) is too little for any call: refused, failing
    // closed; globex runs on the command line's.
    let acme = check("acme");
    assert_eq!(acme.status.code(), Some(3), "{acme:?}");
    assert!(
        text(&acme.stdout).contains("plugin-fault") && text(&acme.stdout).contains("fuel"),
        "{acme:?}"
    );
    let globex = check("globex");
    assert!(globex.status.success(), "{globex:?}");
    assert!(text(&globex.stdout).contains("allow"), "{globex:?}");

    let wrong = cli.write(
        "wrong.toml",
        "[[tenants]]\nid = \"acme\"\n[tenants.plugin]\nmemory_mib = 1\n",
    );
    let (_, refused) = cli.fails(&["--config", &wrong, "outbox"]);
    assert!(
        refused.contains("tenant `acme`: [tenants.plugin]: memory_mib = 1: use 16 to 4096"),
        "{refused}"
    );
}

#[test]
fn an_import_and_a_daily_run_say_one_line_each_at_info_not_one_per_page() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    // Three pages of the import (500 records each) and of the daily run (200 people).
    let mut csv = String::from("name,email\n");
    for index in 0..1_200 {
        csv.push_str(&format!("Person {index},person{index}@example.com\n"));
    }
    let contacts = cli.write("contacts.csv", &csv);
    let logged = |now: &str, arguments: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_privacy-guard"));
        command.arg("--data-dir").arg(cli.folder.path());
        if let Some(postgres) = &cli.postgres {
            command.arg("--database-url").arg(postgres.url());
        }
        let output = command
            .args(["--now", now])
            .args(arguments)
            .env("RUST_LOG", "info")
            .env("PRIVACY_GUARD_ACTOR", "test-operator")
            .output()
            .expect("the binary runs");
        assert!(output.status.success(), "{output:?}");
        text(&output.stderr)
    };
    let info_lines = |log: &str, message: &str| {
        log.lines()
            .filter(|line| line.contains(" INFO ") && line.contains(message))
            .count()
    };

    let import = logged(START, &["import", &contacts]);
    assert_eq!(info_lines(&import, "import committed"), 1, "{import}");
    assert_eq!(info_lines(&import, "records changed"), 0, "{import}");

    let run = logged(FIRST_RUN, &["run-daily"]);
    assert_eq!(info_lines(&run, "daily consent run"), 1, "{run}");
    assert!(run.contains("requests=1200"), "{run}");
    assert_eq!(info_lines(&run, "daily consent run page"), 0, "{run}");
}
