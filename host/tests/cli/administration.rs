//! Setting up consents, checking and rendering sends, de-duplication, field classes, and a person's edits, restriction and erasure from the command line.

use super::*;

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
