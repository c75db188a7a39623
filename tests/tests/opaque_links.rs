//! Opaque preferences links (issue 14, part 4): a link mailed now names no module, record id
//! or address, only a person handle the host's key made; links of the first format, which
//! named the record in clear and were mailed before, keep opening until they expire.

use privacy_guard_core::link::{
    LinkPayload, LinkSubject, PersonHandle, UnverifiedToken, signing_input, token,
};
use privacy_guard_core::record::{Module, RecordRef as CoreRecord};
use privacy_guard_host::keys::LinkKeys;
use privacy_guard_tests::scenario::{block_on, contact, import_csv};
use privacy_guard_tests::{configure, http_get, http_post_form, served_host};

const PEOPLE: &str = "id,name,email\n4711,Ada Lovelace,ada@example.com\n";

/// The token at the end of a preferences link.
fn token_of(link: &str) -> &str {
    link.rsplit('/').next().expect("a token")
}

/// A token signed with the host's current link key, as the plugin of that version signed it.
fn signed(guard: &privacy_guard_host::guard::Guard, payload: &LinkPayload) -> String {
    let keys = block_on(LinkKeys::load_or_create(
        guard.database(),
        guard.clock().now_millis(),
    ))
    .expect("link keys");
    let bytes = payload.encode().expect("payload");
    token(&bytes, &keys.sign(&signing_input(&bytes)))
}

#[test]
fn a_mailed_link_names_no_record_and_opens_the_persons_page() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import_csv(&guard, "contacts", PEOPLE);
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let mails = host.mails();
    assert_eq!(mails.len(), 1);
    let link = mails[0].link(&server.preferences_url()).expect("link");
    let mailed = token_of(&link);
    for revealing in ["4711", "contacts", "ada", "example"] {
        assert!(!link.contains(revealing), "{link} shows {revealing}");
    }
    assert!(mailed.len() <= 100, "{} characters: {mailed}", mailed.len());
    let parsed = UnverifiedToken::parse(mailed).expect("a token of ours");
    let LinkSubject::Handle(handle) = parsed.payload.subject else {
        panic!(
            "a new link names its person by handle: {:?}",
            parsed.payload
        );
    };
    for revealing in [&b"4711"[..], b"contacts"] {
        assert!(
            !parsed
                .payload_bytes
                .windows(revealing.len())
                .any(|window| window == revealing),
            "the payload holds {}",
            String::from_utf8_lossy(revealing)
        );
    }
    let page = http_get(&link).expect("GET");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Ada Lovelace"), "{}", page.body);

    // Staff's link for the same person: the same handle, another link, and it opens too.
    let staff = guard
        .preferences_link(&contact("4711"))
        .expect("call")
        .expect("a link");
    let again = UnverifiedToken::parse(token_of(&staff)).expect("a token of ours");
    assert_eq!(again.payload.subject, LinkSubject::Handle(handle));
    assert_ne!(again.payload.link, parsed.payload.link);
    assert_eq!(http_get(&staff).expect("GET").status, 200);

    // A genuine MAC over a handle nobody was given opens nobody's page.
    let stranger = LinkPayload::new(
        PersonHandle([0x5a; 12]),
        guard.clock().now_millis(),
        86_400_000,
        &[1; 16],
    )
    .expect("payload");
    let answer = http_get(&format!(
        "{}{}",
        server.preferences_url(),
        signed(&guard, &stranger)
    ))
    .expect("GET");
    assert_eq!(answer.status, 410, "{}", answer.body);
    assert!(!answer.body.contains("Ada"), "{}", answer.body);
}

#[test]
fn a_link_of_the_first_format_mailed_before_opens_and_answers_until_it_expires() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    import_csv(&guard, "contacts", PEOPLE);
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    // Minted exactly as the plugin before contract 0.3.3 did: the record in clear, 30 days.
    let old = LinkPayload::in_clear(
        CoreRecord::new(Module::Contacts, "4711"),
        guard.clock().now_millis(),
        30 * 86_400_000,
        &[7; 16],
    )
    .expect("payload");
    let old_link = format!("{}{}", server.preferences_url(), signed(&guard, &old));
    assert!(old_link.len() > server.preferences_url().len());
    let page = http_get(&old_link).expect("GET");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Ada Lovelace"), "{}", page.body);
    host.set_now("2026-12-20T10:00:00Z");
    let granted = http_post_form(&old_link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(granted.status, 200, "{}", granted.body);
    let consents = guard
        .subject(&contact("4711"))
        .expect("call")
        .expect("Ada")
        .consents;
    assert_eq!(
        consents[0].value,
        privacy_guard_host::contract::types::ConsentValue::Granted
    );
    host.set_now("2026-12-31T10:00:01Z");
    let expired = http_get(&old_link).expect("GET");
    assert_eq!(expired.status, 410, "{}", expired.body);
    assert!(!expired.body.contains("Ada Lovelace"), "{}", expired.body);
}

#[test]
fn send_link_mails_the_active_holder_a_fresh_link_in_their_language_once_per_interval() {
    use privacy_guard_host::contract::configuration::LanguageRules;
    use privacy_guard_host::contract::preferences::Evidence;
    use privacy_guard_host::guard::LinkMail;
    use privacy_guard_tests::{email_marketing_consent, operator, settings};

    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    guard
        .set_settings(&privacy_guard_host::contract::configuration::Settings {
            languages: LanguageRules {
                field: "language".into(),
                default_language: "en".into(),
                templates: Vec::new(),
            },
            ..settings(&server.preferences_url())
        })
        .expect("call")
        .expect("settings");
    guard
        .put_consent(&email_marketing_consent(), None)
        .expect("call")
        .expect("consent");
    guard.enable(true).expect("call").expect("enabled");
    import_csv(
        &guard,
        "contacts",
        "id,name,email,language\n4711,Bernd,bernd@example.com,de\n12,Grace,grace@example.com,en\n13,Dan,dan@example.com,en\n",
    );
    guard
        .restrict(&contact("12"), &operator(), "asked by phone")
        .expect("call")
        .expect("restricted");
    let bounce = privacy_guard_host::contract::safeguards::DeliveryReport {
        kind: privacy_guard_host::contract::safeguards::FeedbackKind::HardBounce,
        address: "dan@example.com".into(),
        source: "dsn".into(),
        evidence: "Status: 5.1.1; Diagnostic-Code: smtp; 550 5.1.1 user unknown".into(),
        message_id: None,
        occurred_at: guard.clock().now_millis(),
        token: None,
    };
    guard
        .report_delivery(&bounce)
        .expect("call")
        .expect("report accepted");
    let evidence = Evidence {
        ip: Some("203.0.113.77".into()),
        user_agent: Some("Mozilla/5.0".into()),
    };
    let send = |address: &str| guard.send_link(address, &evidence).expect("call");
    assert_eq!(send("nobody@example.com"), LinkMail::NotSent);
    assert_eq!(send("not an address"), LinkMail::NotSent);
    assert_eq!(send("grace@example.com"), LinkMail::NotSent, "restricted");
    assert_eq!(send("dan@example.com"), LinkMail::NotSent, "bounced");
    assert!(host.mails().is_empty());

    assert_eq!(send(" Bernd@Example.com "), LinkMail::Sent);
    let mails = host.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, ["bernd@example.com"]);
    assert_eq!(mail.from, "privacy@example.org");
    assert_eq!(mail.subject, "Ihre Einstellungsseite bei Example Ltd");
    let link = mail.link(&server.preferences_url()).expect("link");
    assert!(!link.contains("4711"), "{link}");
    let page = http_get(&link).expect("GET");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Bernd"), "{}", page.body);
    let mailed = privacy_guard_tests::scenario::history_of(&guard, &contact("4711"))
        .into_iter()
        .find(|event| event["kind"] == "link-mailed")
        .expect("a link-mailed event");
    assert_eq!(mailed["evidence"]["ip"], "203.0.113.0/24", "{mailed}");
    assert_eq!(mailed["evidence"]["user-agent"], "Mozilla/5.0");
    assert!(!mailed.to_string().contains("bernd"), "{mailed}");

    // Within the interval (15 minutes by default): too soon, and no mail.
    host.set_now("2026-12-01T09:14:59Z");
    assert_eq!(send("bernd@example.com"), LinkMail::TooSoon);
    assert_eq!(host.mails().len(), 1);
    host.set_now("2026-12-01T09:15:00Z");
    assert_eq!(send("bernd@example.com"), LinkMail::Sent);
    let mails = host.mails();
    assert_eq!(mails.len(), 2);
    assert_ne!(mails[0].message_id, mails[1].message_id);
}
