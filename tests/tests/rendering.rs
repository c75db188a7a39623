//! Per-recipient rendering and tracking events, through the real component in the real
//! host on a real SQLite file: the preferences footer goes to known To recipients only and
//! its link opens their own page; marked tracking is stripped unless the recipient granted
//! email tracking; marketing mail carries the postal address; tracking events are kept only
//! with consent.

use privacy_guard_host::contract::configuration::ConsentKind;
use privacy_guard_host::contract::sending::{
    Decision, MailContent, MessageClass, Recipient, RecipientRole, RefusalReason, RenderedMail,
    Rendering, SendRequest,
};
use privacy_guard_host::contract::tracking::TrackingKind;
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::read_records;
use privacy_guard_tests::{
    TestHost, email_marketing_consent, operator, settings, tracking_consent,
};

const PREFERENCES_URL: &str = "https://crm.example.org/preferences/";
const POSTAL_ADDRESS: &str = "1 Example Street, 10115 Berlin, Germany";
const CONTACTS: &str = "firstname,lastname,email\nAda,Lovelace,ada@example.com\nGrace,Hopper,grace@example.com\nLinus,Torvalds,linus@example.com\n";
const PIXEL: &str =
    "<img src=\"https://track.example.com/open/42.gif\" width=\"1\" data-pg-tracking>";
const TRACKED_LINK: &str = "<a href=\"https://track.example.com/click/42\" data-pg-original-href=\"https://example.com/offer\">our offer</a>";

fn person(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

fn recipient(address: &str, role: RecipientRole) -> Recipient {
    Recipient {
        address: address.into(),
        role,
        person: None,
    }
}

fn mail() -> MailContent {
    MailContent {
        message_id: None,
        subject: "Our meeting".into(),
        text_body: "Hello,\nsee you on Monday.\n".into(),
        html_body: Some(format!(
            "<p>Hello,</p><p>see you on Monday, and have a look at {TRACKED_LINK}.</p>{PIXEL}"
        )),
    }
}

/// A host with Ada (contacts/1), Grace (2) and Linus (3), consents enabled: email
/// marketing, email tracking and document tracking, all Applicable; Ada granted email
/// tracking.
fn host_with_contacts() -> (TestHost, Guard) {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let guard = host.open().expect("host opens");
    guard
        .set_settings(&settings(PREFERENCES_URL))
        .expect("call")
        .expect("settings accepted");
    for consent in [
        email_marketing_consent(),
        tracking_consent("email-tracking", ConsentKind::EmailTracking),
        tracking_consent("document-tracking", ConsentKind::DocumentTracking),
    ] {
        guard
            .put_consent(&consent, None)
            .expect("call")
            .expect("consent accepted");
    }
    guard.enable(true).expect("call").expect("consents enabled");
    guard
        .import_records(
            "contacts",
            read_records(CONTACTS.as_bytes()).expect("valid CSV"),
            &|_| {},
        )
        .expect("import");
    grant(&guard, "1", "email-tracking");
    (host, guard)
}

fn grant(guard: &Guard, id: &str, consent: &str) {
    guard
        .record_decision(
            &person(id),
            consent,
            true,
            &operator(),
            "asked on the phone on 1 December",
        )
        .expect("call")
        .unwrap_or_else(|error| panic!("granting {consent} to contacts/{id}: {error:?}"));
}

fn sent(rendering: &Rendering) -> &RenderedMail {
    match rendering {
        Rendering::Send(mail) => mail,
        Rendering::Refuse(refusal) => panic!("expected a mail, got {refusal:?}"),
    }
}

/// The preferences link in a rendered text body.
fn preferences_link(text: &str) -> Option<&str> {
    let start = text.find(PREFERENCES_URL)?;
    text[start..].split_whitespace().next()
}

#[test]
fn an_ad_hoc_mail_gives_the_to_recipient_her_own_preferences_footer_and_the_cc_recipient_none() {
    let (_host, guard) = host_with_contacts();
    let request = SendRequest {
        class: MessageClass::AdHoc,
        purpose: None,
    };
    let renderings = guard.render(
        &request,
        &mail(),
        &[
            recipient("ada@example.com", RecipientRole::To),
            recipient("grace@example.com", RecipientRole::Cc),
        ],
    );
    assert_eq!(renderings.len(), 2);

    let ada = sent(&renderings[0]);
    assert_eq!(ada.subject, "Our meeting");
    assert!(
        ada.text_body
            .starts_with("Hello,\nsee you on Monday.\n\n-- \n"),
        "{}",
        ada.text_body
    );
    assert!(
        ada.text_body
            .ends_with(&format!("Example Ltd\n{POSTAL_ADDRESS}\n")),
        "the text ends with the footer: {}",
        ada.text_body
    );
    let link = preferences_link(&ada.text_body).expect("a preferences link in Ada's footer");
    let html = ada.html_body.as_deref().expect("an HTML body");
    let footer_at = html
        .find("<div class=\"privacy-guard-footer\">")
        .expect("a footer in Ada's HTML");
    let footer = &html[footer_at..];
    assert!(footer.contains(&format!("href=\"{link}\"")), "{footer}");
    assert!(
        footer
            .trim_end()
            .ends_with(&format!("<p>Example Ltd<br>{POSTAL_ADDRESS}</p></div>")),
        "the HTML ends with the footer: {html}"
    );

    // The link is Ada's own: it opens her preferences page.
    let token = link.strip_prefix(PREFERENCES_URL).expect("a token");
    let page = guard
        .open_preferences(token)
        .expect("call")
        .expect("the footer link opens a page");
    assert_eq!(page.name, "Ada Lovelace");
    assert!(
        page.consents
            .iter()
            .any(|consent| consent.id == "email-marketing"),
        "{page:?}"
    );

    let grace = sent(&renderings[1]);
    assert_eq!(grace.text_body, mail().text_body, "no footer for CC");
    let grace_html = grace.html_body.as_deref().expect("an HTML body");
    assert!(!grace_html.contains("privacy-guard-footer"), "{grace_html}");
    assert!(!grace_html.contains(PREFERENCES_URL), "{grace_html}");
}

#[test]
fn tracking_is_stripped_without_consent_and_kept_for_a_recipient_who_granted_email_tracking() {
    let (_host, guard) = host_with_contacts();
    let request = SendRequest {
        class: MessageClass::AdHoc,
        purpose: None,
    };
    let renderings = guard.render(
        &request,
        &mail(),
        &[
            recipient("ada@example.com", RecipientRole::Cc),
            recipient("grace@example.com", RecipientRole::Cc),
            recipient("someone@elsewhere.example", RecipientRole::To),
        ],
    );
    let ada = sent(&renderings[0]).html_body.as_deref().expect("HTML");
    assert_eq!(ada, mail().html_body.expect("HTML"), "Ada granted tracking");
    for stripped in &renderings[1..] {
        let html = sent(stripped).html_body.as_deref().expect("HTML");
        assert_eq!(
            html,
            "<p>Hello,</p><p>see you on Monday, and have a look at <a href=\"https://example.com/offer\">our offer</a>.</p>"
        );
    }
}

#[test]
fn marketing_mail_carries_the_postal_address_and_refused_recipients_get_the_check_send_refusal() {
    let (_host, guard) = host_with_contacts();
    grant(&guard, "1", "email-marketing");
    grant(&guard, "2", "email-marketing");
    let request = SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    let recipients = [
        recipient("ada@example.com", RecipientRole::To),
        recipient("grace@example.com", RecipientRole::To),
        recipient("linus@example.com", RecipientRole::To),
        recipient("grace@example.com", RecipientRole::Bcc),
        recipient("not an address", RecipientRole::Cc),
    ];
    let renderings = guard.render(&request, &mail(), &recipients);
    assert_eq!(renderings.len(), 5);

    // Each person as To gets a mail of their own: their own link, their own one-click
    // unsubscription (RFC 8058) to the mail's purpose, and the postal address.
    let ada = sent(&renderings[0]);
    let grace = sent(&renderings[1]);
    let ada_link = preferences_link(&ada.text_body).expect("Ada's link");
    let grace_link = preferences_link(&grace.text_body).expect("Grace's link");
    assert_ne!(ada_link, grace_link, "no one sees another's opt-out");
    for (mail, link) in [(ada, ada_link), (grace, grace_link)] {
        assert!(
            mail.text_body
                .ends_with(&format!("Example Ltd\n{POSTAL_ADDRESS}\n")),
            "{}",
            mail.text_body
        );
        let html = mail.html_body.as_deref().expect("HTML");
        assert!(html.contains(POSTAL_ADDRESS), "{html}");
        assert!(html.contains(link), "{html}");
        assert_eq!(
            mail.headers,
            [
                (
                    "List-Unsubscribe".to_owned(),
                    format!("<{link}/unsubscribe/email-marketing>")
                ),
                (
                    "List-Unsubscribe-Post".to_owned(),
                    "List-Unsubscribe=One-Click".to_owned()
                ),
            ]
        );
    }

    let decisions = guard.check_send(&request, &recipients);
    let reasons = |index: usize| match (&renderings[index], &decisions[index]) {
        (Rendering::Refuse(rendered), Decision::Refuse(checked)) => {
            assert_eq!(rendered, checked, "render and check-send agree");
            rendered.reason
        }
        other => panic!("expected two refusals, got {other:?}"),
    };
    assert_eq!(reasons(2), RefusalReason::ConsentNotRequested);
    // Marketing goes to each person as To: a blind copy would carry no opt-out of its own.
    assert_eq!(reasons(3), RefusalReason::NotAToRecipient);
    assert_eq!(reasons(4), RefusalReason::InvalidAddress);
}

#[test]
fn tracking_events_are_accepted_only_with_the_persons_tracking_consent() {
    let (_host, guard) = host_with_contacts();
    let accepted = |kind, address: &str| guard.accept_tracking_event(kind, address);
    assert!(!accepted(TrackingKind::DocumentView, "ada@example.com"));
    assert!(accepted(TrackingKind::EmailOpen, " Ada@Example.com "));
    assert!(!accepted(TrackingKind::EmailOpen, "grace@example.com"));

    grant(&guard, "2", "document-tracking");
    let cases = [
        (TrackingKind::DocumentView, "grace@example.com", true),
        (TrackingKind::EmailOpen, "grace@example.com", false),
        (TrackingKind::DocumentView, "ada@example.com", false),
        (TrackingKind::DocumentView, "linus@example.com", false),
        (TrackingKind::DocumentView, "nobody@example.com", false),
        (TrackingKind::DocumentView, "not an address", false),
    ];
    for (kind, address, expected) in cases {
        assert_eq!(accepted(kind, address), expected, "{kind:?} {address}");
    }
}
