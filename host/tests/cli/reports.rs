//! The data-protection officer's desk from the command line: API keys with scopes, the
//! report, the list of people, a bulk action (dry run first, then each person's own event
//! naming --actor), and the record of processing.

use super::*;

#[test]
fn api_keys_are_made_with_scopes_and_bad_scopes_are_refused() {
    let cli = Cli::new();
    let made = cli.ok(&[
        "api-key",
        "--name",
        "crm-hooks",
        "--scopes",
        "pre-send+read",
    ]);
    assert!(
        made.contains("crm-hooks:pre-send+read=sha256:") && made.contains("scopes: pre-send+read"),
        "{made}"
    );
    let unscoped = cli.ok(&["api-key", "--name", "setup"]);
    assert!(
        unscoped.contains("setup=sha256:") && unscoped.contains("scopes: admin"),
        "{unscoped}"
    );
    let (_, refused) = cli.fails(&["api-key", "--name", "x", "--scopes", "write"]);
    assert!(
        refused.contains("pre-send") && refused.contains("joined by `+`"),
        "{refused}"
    );
}

#[test]
fn the_officer_reports_lists_acts_in_bulk_and_prints_the_register_from_the_command_line() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let mut people = String::from("firstname,email\n");
    for n in 1..=6 {
        people.push_str(&format!("Person{n},person{n}@example.com\n"));
    }
    let file = cli.write("people.csv", &people);
    cli.ok(&["import", &file]);
    for person in ["contacts/1", "contacts/2"] {
        cli.ok(&[
            "record-decision",
            person,
            "--consent",
            "news",
            "--grant",
            "--evidence",
            "Signed form",
        ]);
    }

    let report: serde_json::Value =
        serde_json::from_str(&cli.ok(&["report", "--json"])).expect("JSON");
    assert_eq!(report["totals"]["people"], 6, "{report}");
    assert_eq!(
        report["totals"]["consents"]["news"]["granted"], 2,
        "{report}"
    );
    assert_eq!(
        report["totals"]["consents"]["news"]["applicable"], 4,
        "{report}"
    );
    let text = cli.ok(&["report"]);
    assert!(
        text.contains("consent news: applicable 4, granted 2"),
        "{text}"
    );

    let listed: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "people",
        "list",
        "--consent",
        "news",
        "--value",
        "granted",
        "--json",
    ]))
    .expect("JSON");
    let ids: Vec<&str> = listed["people"]
        .as_array()
        .expect("people")
        .iter()
        .filter_map(|person| person["id"].as_str())
        .collect();
    assert_eq!(ids, ["1", "2"]);
    let page = cli.ok(&["people", "list", "--status", "active", "--limit", "4"]);
    assert!(
        page.contains("4 of 6 matching; next page: --after contacts/4"),
        "{page}"
    );

    // A dry run lists who would be restricted and changes nothing.
    let dry = cli.ok(&[
        "--actor",
        "dpo-anna",
        "bulk",
        "restrict",
        "--consent",
        "news",
        "--value",
        "applicable",
        "--reason",
        "Objected by letter",
        "--dry-run",
    ]);
    assert!(
        dry.contains("4 people would be acted on, as dpo-anna"),
        "{dry}"
    );
    for id in 3..=6 {
        assert!(dry.contains(&format!("contacts/{id}\twould_act")), "{dry}");
    }
    let unchanged = cli.ok(&["report", "--json"]);
    assert!(!unchanged.contains("\"restricted\""), "{unchanged}");

    let done = cli.ok(&[
        "--actor",
        "dpo-anna",
        "bulk",
        "restrict",
        "--consent",
        "news",
        "--value",
        "applicable",
        "--reason",
        "Objected by letter",
    ]);
    assert!(done.contains("4 people gone through, 4 done"), "{done}");
    for id in 3..=6 {
        let history = cli.ok(&["show", &format!("contacts/{id}"), "--history"]);
        assert!(
            history.contains("dpo-anna") && history.contains("Objected by letter"),
            "contacts/{id}: {history}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&cli.ok(&["report", "--json"])).expect("JSON");
    assert_eq!(report["totals"]["statuses"]["restricted"], 4, "{report}");

    let register = cli.ok(&["register"]);
    assert!(
        register.starts_with("# Record of processing activities"),
        "{register}"
    );
    assert!(register.contains("### 1. News"), "{register}");
    let csv = cli.ok(&["register", "--format", "csv"]);
    assert!(
        csv.starts_with("activity,source,purpose,lawful_basis,"),
        "{csv}"
    );
}
