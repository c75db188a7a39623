//! Rights requests and the export from the command line: every command follows the global
//! `--now`, so a case's clock is travelled through as a process would see it; the code is
//! read from the `.eml` the outbox wrote; refusals exit 4 and say why.

use sha2::{Digest, Sha256};

use super::*;

/// The codes mailed so far, as the person reads them, in the order of the files' names.
fn codes_in_the_outbox(cli: &Cli) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(cli.folder.path().join("outbox"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter(|mail| mail.contains("confirmation code"))
        .filter_map(|mail| {
            mail.lines()
                .map(str::trim)
                .find(|line| line.len() == 9 && line.as_bytes()[4] == b'-')
                .map(str::to_owned)
        })
        .collect()
}

fn case_ids(listing: &str) -> Vec<String> {
    let listing: serde_json::Value = serde_json::from_str(listing).expect("JSON");
    listing["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|case| case["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_case_runs_on_its_clock_through_time_travel_and_completes_with_the_export() {
    let cli = Cli::new();
    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let people = cli.write("people.csv", "firstname,email\nAda,ada@example.com\n");
    cli.ok(&["import", &people]);

    // LGPD: 15 days from 1 December.
    let opened: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "--actor",
        "jane",
        "case",
        "open",
        "contacts/1",
        "--kind",
        "access",
        "--regime",
        "lgpd",
        "--json",
    ]))
    .expect("JSON");
    assert_eq!(opened["case"]["due_on"], "2026-12-16");
    let id = opened["case"]["id"].as_str().expect("id").to_owned();
    let code = codes_in_the_outbox(&cli).pop().expect("the code's mail");

    let (exit, said) = cli.fails(&["case", "verify", &id, "--code", "AAAA-AAAA"]);
    assert_eq!(exit, 4, "{said}");
    assert!(said.contains("wrong (1 of 5"), "{said}");
    let (exit, said) = cli.fails(&["case", "complete", &id]);
    assert_eq!(exit, 4);
    assert!(said.contains("identity check"), "{said}");
    cli.ok(&["case", "verify", &id, "--code", &code.to_lowercase()]);

    cli.set_now("2026-12-10T09:00:00Z");
    assert_eq!(
        case_ids(&cli.ok(&["case", "list", "--due-soon", "--within", "7d", "--json"])),
        std::slice::from_ref(&id)
    );
    assert_eq!(
        case_ids(&cli.ok(&["case", "list", "--overdue", "--json"])),
        Vec::<String>::new()
    );
    let (exit, said) = cli.fails(&["case", "extend", &id, "--reason", "busy"]);
    assert_eq!(exit, 4);
    assert!(said.contains("no extension"), "{said}");
    cli.set_now("2026-12-17T00:00:00Z");
    assert_eq!(
        case_ids(&cli.ok(&["case", "list", "--overdue", "--json"])),
        std::slice::from_ref(&id)
    );
    assert!(cli.ok(&["case", "list", "--overdue"]).contains("OVERDUE"));

    let export = cli.folder.path().join("ada.json");
    let export = export.to_str().expect("a UTF-8 path");
    cli.ok(&[
        "--actor", "jane", "case", "complete", &id, "--note", "mailed", "--output", export,
    ]);
    let bytes = std::fs::read(export).expect("the export file");
    let document: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(document["record"]["fields"]["email"], "ada@example.com");
    let shown: serde_json::Value =
        serde_json::from_str(&cli.ok(&["case", "show", &id, "--json"])).expect("JSON");
    let events = shown["events"].as_array().expect("events");
    let completed = &events.last().expect("an event")["event"];
    assert_eq!(completed["kind"], "case-completed");
    assert_eq!(completed["actor"]["name"], "jane");
    assert_eq!(
        completed["export-sha256"].as_str(),
        Some(hex_digest(&bytes).as_str()),
        "the digest recorded is the file's"
    );
    assert_eq!(
        case_ids(&cli.ok(&["case", "list", "--overdue", "--json"])),
        Vec::<String>::new()
    );

    let csv = cli.ok(&["export", "contacts/1", "--format", "csv"]);
    assert!(csv.starts_with("section,item,name,value\n"), "{csv}");
    assert!(
        csv.contains(&format!("cases,{id},status,completed")),
        "{csv}"
    );
    let (exit, said) = cli.fails(&["export", "contacts/404"]);
    assert_ne!(exit, 0);
    assert!(
        said.contains("nothing is held about contacts/404"),
        "{said}"
    );
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
