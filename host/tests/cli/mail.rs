//! Mail through SMTP from the command line: settings checked at start, mail waiting for an unreachable server, and mail held by a process that is gone.

use super::*;

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
