//! Settings as the command line changes them: wrong input, legal regimes, languages, and requests that are reminded, lapse and are asked again.

use super::*;

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
