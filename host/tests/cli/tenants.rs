//! Tenants of a configuration file: their own SMTP servers, and serve running their schedulers and workers until SIGTERM.

use super::*;

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
fn serve_runs_one_scheduler_and_delivery_worker_that_open_every_tenant_and_stop_on_sigterm() {
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
    // One scheduler and one delivery worker for all tenants; the scheduler's first check
    // of each tenant opens it (and checks its preferences URL).
    wait_for(&mut log, &|log| {
        log.iter()
            .any(|line| line.contains("the delivery worker started") && line.contains("tenants=2"))
            && both_tenants(log, "tenant opened")
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
    for worker in ["the delivery worker stopped", "the scheduler stopped"] {
        assert!(
            log.iter().any(|line| line.contains(worker)),
            "{worker}: {}",
            log.join("\n")
        );
    }
    assert!(
        log.last().is_some_and(|line| line.contains("stopped")),
        "{}",
        log.join("\n")
    );
}
