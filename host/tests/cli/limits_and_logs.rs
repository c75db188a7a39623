//! The plugin's sandbox from the command line and per tenant, and what the commands log.

use super::*;

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
        cli.set_now(now);
        let output = cli.run_logging("info", arguments);
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
