//! `safeguards show|set` and `safeguards form-token`: the limits on consent requests, the
//! web-form proof, and a token a web-form record then carries to its request.

use super::*;

#[test]
fn safeguards_are_set_option_by_option_and_a_form_token_opens_the_request() {
    let cli = Cli::new();
    let shown = cli.ok(&["safeguards", "show"]);
    assert!(
        shown.contains("request interval            24 hour(s)"),
        "{shown}"
    );
    assert!(shown.contains("no record is a web-form record"), "{shown}");
    // Every problem at once, and nothing saved.
    let (_, refused) = cli.fails(&[
        "safeguards",
        "set",
        "--web-form-field",
        "leadsource",
        "--request-interval-hours",
        "800",
    ]);
    assert!(
        refused.contains("request-interval-hours: 800 is outside 0..=720")
            && refused.contains("web-forms.source-value"),
        "{refused}"
    );
    assert!(cli.ok(&["safeguards", "show"]).contains("24 hour(s)"));
    let saved: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "safeguards",
        "set",
        "--web-form-field",
        "leadsource",
        "--web-form-value",
        "Web Site",
        "--form-token-field",
        "form_token",
        "--json",
    ]))
    .expect("JSON");
    assert_eq!(saved["web_forms"]["token_field"], "form_token");
    assert_eq!(saved["request_interval_hours"], 24, "the others kept");

    cli.settings(&[]);
    cli.add_news_consent();
    cli.ok(&["enable", "--confirm-deduplication"]);
    let token = cli.ok(&["safeguards", "form-token"]);
    let token = token.trim();
    cli.set_now("2026-12-01T09:31:00Z");
    let people = cli.write(
        "people.csv",
        &format!(
            "name,email,leadsource,form_token\nAda,ada@example.com,Web Site,{token}\nBot,bot@example.com,Web Site,forged\n"
        ),
    );
    cli.ok(&["import", &people]);
    cli.set_now(FIRST_RUN);
    cli.ok(&["run-daily"]);
    assert_eq!(cli.outbox_files(), 1, "only Ada's form proved itself");
}
