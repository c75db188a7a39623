//! Re-consent when a purpose changes, through the real component in the real host over
//! days of the host's clock: a correction keeps every grant, a material change stops the
//! grants of the earlier text counting, the next daily run asks their givers again (the
//! mail and the page saying which text they agreed to), and a new answer counts again.

use privacy_guard_host::contract::configuration::{ConsentDefinition, PurposeChange};
use privacy_guard_host::contract::sending::{
    LawfulBasis, MessageClass, RecipientRole, RefusalReason,
};
use privacy_guard_host::contract::types::ConsentValue;
use privacy_guard_host::guard::Guard;
use privacy_guard_tests::scenario::{
    basis_of, contact, decide_for, history_of, import_csv, refusal_of,
};
use privacy_guard_tests::{
    Mail, TestHost, configure, contains_bytes, email_marketing_consent, http_get, http_post_form,
    served_host,
};

const CORRECTED: &str =
    "We use your email address to send you our newsletter and offers, at most twice monthly.";
const MATERIAL: &str = "We email you our newsletter about once a month and share your address with our partners for their offers.";

fn marketing(guard: &Guard, address: &str) -> Result<LawfulBasis, RefusalReason> {
    let decision = decide_for(
        guard,
        MessageClass::Marketing,
        Some("email-marketing"),
        address,
        RecipientRole::To,
    );
    basis_of(&decision).ok_or_else(|| refusal_of(&decision).expect("a refusal"))
}

fn revise(guard: &Guard, purpose: &str, change: PurposeChange) -> u32 {
    let stored = guard
        .put_consent(
            &ConsentDefinition {
                purpose: purpose.into(),
                ..email_marketing_consent()
            },
            Some(change),
        )
        .expect("call")
        .expect("revised");
    stored.purpose_version
}

fn requests_to(host: &TestHost, address: &str) -> Vec<Mail> {
    host.mails()
        .into_iter()
        .filter(|mail| mail.to == [address] && mail.message_id.starts_with("consent-request."))
        .collect()
}

fn value(guard: &Guard, id: &str) -> ConsentValue {
    guard
        .subject(&contact(id))
        .expect("call")
        .expect("known")
        .consents
        .into_iter()
        .find(|state| state.consent_id == "email-marketing")
        .expect("email-marketing")
        .value
}

#[test]
fn a_material_change_asks_again_and_the_page_shows_the_text_agreed_to() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\nLinus,linus@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let link = |address: &str| {
        requests_to(&host, address)
            .last()
            .expect("a request")
            .link(&server.preferences_url())
            .expect("link")
    };
    for (address, answer) in [
        ("ada@example.com", "grant"),
        ("grace@example.com", "grant"),
        ("linus@example.com", "refuse"),
    ] {
        let saved = http_post_form(&link(address), &[("email-marketing", answer)]).expect("POST");
        assert_eq!(saved.status, 200, "{}", saved.body);
    }
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Ok(LawfulBasis::Consent)
    );

    // A correction: grants still count, nobody is asked again, the page says so.
    let corrected = revise(&guard, CORRECTED, PurposeChange::Correction);
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Ok(LawfulBasis::Consent)
    );
    host.set_now("2026-12-02T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert_eq!(run.requests, 0, "a correction asks nobody again");
    let page = http_get(&link("ada@example.com")).expect("GET");
    assert!(
        page.body.contains("id=\"agreed-email-marketing\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("your choice still stands"),
        "{}",
        page.body
    );

    // A material change: the grants of earlier texts stop counting at once; a refusal stays
    // a refusal.
    let material = revise(&guard, MATERIAL, PurposeChange::Material);
    assert_eq!(material, corrected + 1);
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Err(RefusalReason::ConsentOutdated)
    );
    assert_eq!(
        marketing(&guard, "linus@example.com"),
        Err(RefusalReason::ConsentRefused)
    );
    assert!(
        contains_bytes(&host.database_bytes(), "\"change\":\"material\""),
        "the change is recorded in the configuration stream"
    );

    // The next daily run asks the givers of the old grants again, naming what they agreed to.
    host.set_now("2026-12-03T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert_eq!(run.requests, 2, "Ada and Grace, not Linus");
    assert_eq!(requests_to(&host, "linus@example.com").len(), 1);
    let requests = requests_to(&host, "ada@example.com");
    assert_eq!(
        requests.len(),
        2,
        "the first request and the one about the new text"
    );
    let request = requests
        .iter()
        .find(|mail| mail.text.contains(MATERIAL))
        .expect("asked about the new text");
    let agreed = "You agreed to version 1 of this text. It has changed";
    assert!(request.text.contains(agreed), "{}", request.text);
    assert_eq!(value(&guard, "1"), ConsentValue::Waiting);
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Err(RefusalReason::ConsentPending)
    );

    // The page shows the new text with the one they agreed to.
    let page = http_get(&link("ada@example.com")).expect("GET");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-value=\"waiting\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("It has changed, so we ask you again"),
        "{}",
        page.body
    );
    assert!(page.body.contains("share your address with our partners"));
    assert!(page.body.contains("You agreed to version 1 of this text"));
    // The text agreed to beside the new one, its words removed and added marked.
    let agreed = &page.body[page
        .body
        .find("id=\"agreed-email-marketing\"")
        .expect("shown")..];
    let agreed = &agreed[..agreed.find("</details>").expect("closed")];
    assert!(
        agreed.contains("<del>") && agreed.contains("<ins>") && agreed.contains("twice"),
        "{agreed}"
    );

    // Agreeing to the new text counts again, and the old text leaves the page.
    let saved =
        http_post_form(&link("ada@example.com"), &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(
        !saved.body.contains("id=\"agreed-email-marketing\""),
        "{}",
        saved.body
    );
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Ok(LawfulBasis::Consent)
    );
    assert_eq!(value(&guard, "2"), ConsentValue::Waiting);

    // A run of the next day asks Grace no more (one request per change), and Ada not at all.
    host.set_now("2026-12-04T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert_eq!(run.requests, 0);
}

#[test]
fn a_changed_purpose_text_without_its_kind_is_refused_and_changes_nothing() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    configure(&guard, "http://127.0.0.1:9/preferences/");
    let problems = guard
        .put_consent(
            &ConsentDefinition {
                purpose: MATERIAL.into(),
                ..email_marketing_consent()
            },
            None,
        )
        .expect("call")
        .expect_err("refused");
    assert_eq!(problems[0].at, "consent[email-marketing].purpose");
    assert!(problems[0].message.contains("material"), "{problems:?}");
    let stored = guard.configuration().expect("configuration").consents;
    assert_eq!(stored[0].purpose_version, 1);
    assert_eq!(
        stored[0].definition.purpose,
        email_marketing_consent().purpose
    );
    // Revising a consent nobody defined is refused too.
    let problems = guard
        .put_consent(
            &ConsentDefinition {
                id: "nothing-here".into(),
                ..email_marketing_consent()
            },
            Some(PurposeChange::Material),
        )
        .expect("call")
        .expect_err("refused");
    assert_eq!(problems[0].at, "consent[nothing-here]");
}

#[test]
fn a_grant_is_asked_to_be_renewed_before_its_maximum_age_and_stops_counting_after() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    // Grants of this consent count for a year (no change of the text: no new version).
    let yearly = guard
        .put_consent(
            &ConsentDefinition {
                max_age_months: 12,
                ..email_marketing_consent()
            },
            None,
        )
        .expect("call")
        .expect("stored");
    assert_eq!(yearly.purpose_version, 1);
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nGrace,grace@example.com\n",
    );
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    for address in ["ada@example.com", "grace@example.com"] {
        let link = requests_to(&host, address)[0]
            .link(&server.preferences_url())
            .expect("link");
        let saved = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
        assert_eq!(saved.status, 200, "{}", saved.body);
    }

    // Until 30 days before the year is up nobody is asked; then each is asked to renew,
    // once, and the grant counts meanwhile.
    host.set_now("2027-10-31T10:00:00Z");
    assert_eq!(guard.run_due().expect("run").expect("due").requests, 0);
    host.set_now("2027-11-01T10:00:00Z");
    assert_eq!(guard.run_due().expect("run").expect("due").requests, 2);
    let renewal = requests_to(&host, "ada@example.com")
        .into_iter()
        .find(|mail| mail.text.contains("ends on"))
        .expect("a renewal request");
    assert!(
        renewal
            .text
            .contains("Your agreement to this ends on 2027-12-01. To keep it, please agree again."),
        "{}",
        renewal.text
    );
    assert_eq!(value(&guard, "1"), ConsentValue::Granted);
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Ok(LawfulBasis::Consent)
    );
    host.set_now("2027-11-02T10:00:00Z");
    assert_eq!(guard.run_due().expect("run").expect("due").requests, 0);

    // Ada agrees again: a new grant, recorded as one, counting for another year.
    let link = renewal.link(&server.preferences_url()).expect("link");
    let saved = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(saved.status, 200, "{}", saved.body);
    let grants = history_of(&guard, &contact("1"))
        .iter()
        .filter(|event| event["consent"] == "email-marketing" && event["to"] == "granted")
        .count();
    assert_eq!(grants, 2, "the renewal is an event of its own");

    // A year after the first grant: Ada's renewed grant counts, Grace's does not, and the
    // daily run asks Grace again.
    host.set_now("2027-12-01T10:00:00Z");
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Ok(LawfulBasis::Consent)
    );
    assert_eq!(
        marketing(&guard, "grace@example.com"),
        Err(RefusalReason::ConsentOutdated)
    );
    assert_eq!(guard.run_due().expect("run").expect("due").requests, 1);
    assert_eq!(value(&guard, "2"), ConsentValue::Waiting);
    assert_eq!(value(&guard, "1"), ConsentValue::Granted);

    // A maximum age that cannot hold is refused naming it.
    let problems = guard
        .put_consent(
            &ConsentDefinition {
                max_age_months: 1,
                ..email_marketing_consent()
            },
            None,
        )
        .expect("call")
        .expect_err("refused");
    assert_eq!(problems[0].at, "consent[email-marketing].max-age-months");
}
