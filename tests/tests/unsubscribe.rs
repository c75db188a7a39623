//! One-click unsubscription (RFC 8058): the `List-Unsubscribe` header `render` gives a
//! marketing mail, posted to over real TCP, withdraws the consent at once.

use privacy_guard_host::contract::sending::{
    Decision, MailContent, MessageClass, Recipient, RecipientRole, RefusalReason, Rendering,
    SendRequest,
};
use privacy_guard_host::contract::types::{ConsentValue, RecordRef};
use privacy_guard_host::import::read_records;
use privacy_guard_tests::{configure, http_get, http_post_form, served_host};

#[test]
fn the_one_click_post_withdraws_the_marketing_consent_and_a_get_changes_nothing() {
    let (host, guard, server) = served_host("2026-12-01T09:00:00Z");
    configure(&guard, &server.preferences_url());
    guard
        .import_records(
            "contacts",
            read_records("name,email\nAda,ada@example.com\n".as_bytes()).expect("CSV"),
            &|_| {},
        )
        .expect("import");
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    let link = host.mails()[0]
        .link(&server.preferences_url())
        .expect("link");
    let granted = http_post_form(&link, &[("email-marketing", "grant")]).expect("POST");
    assert_eq!(granted.status, 200, "{}", granted.body);

    let request = SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    let mail = MailContent {
        message_id: None,
        subject: "December news".into(),
        text_body: "Our news.\n".into(),
        html_body: None,
    };
    let to = [Recipient {
        address: "ada@example.com".into(),
        role: RecipientRole::To,
        person: None,
    }];
    let Rendering::Send(rendered) = guard.render(&request, &mail, &to).remove(0) else {
        panic!("Ada granted the consent");
    };
    let header = |name: &str| {
        rendered
            .headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no {name} header"))
    };
    assert_eq!(
        header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let url = header("List-Unsubscribe");
    let url = url
        .strip_prefix('<')
        .and_then(|url| url.strip_suffix('>'))
        .expect("an angle-bracketed URI");
    assert!(url.starts_with(&server.preferences_url()), "{url}");

    let value = || {
        guard
            .subject(&RecordRef {
                module: "contacts".into(),
                id: "1".into(),
            })
            .expect("call")
            .expect("Ada")
            .consents[0]
            .value
    };
    // Opening the URL in a browser changes nothing; a POST without the one-click body
    // is refused.
    let opened = http_get(url).expect("GET");
    assert_eq!(opened.status, 303);
    assert_eq!(value(), ConsentValue::Granted);
    let wrong = http_post_form(url, &[("unsubscribe", "yes")]).expect("POST");
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(value(), ConsentValue::Granted);

    let unsubscribed =
        http_post_form(url, &[("List-Unsubscribe", "One-Click")]).expect("one-click POST");
    assert_eq!(unsubscribed.status, 200, "{}", unsubscribed.body);
    assert_eq!(value(), ConsentValue::NotGranted);
    // The person is told, as the default notification setting says.
    let confirmations: Vec<_> = host
        .mails()
        .into_iter()
        .filter(|mail| mail.message_id.starts_with("change-confirmation."))
        .collect();
    assert!(
        confirmations
            .iter()
            .any(|mail| mail.text.contains("not granted")),
        "a confirmation of the withdrawal: {confirmations:?}"
    );
    let withdrawn = guard
        .history(&RecordRef {
            module: "contacts".into(),
            id: "1".into(),
        })
        .expect("history")
        .pop()
        .expect("an event");
    assert!(
        withdrawn.contains("\"to\":\"not-granted\"") && withdrawn.contains("preferences-page"),
        "{withdrawn}"
    );
    match guard.check_send(&request, &to).remove(0) {
        Decision::Refuse(refusal) => assert_eq!(refusal.reason, RefusalReason::ConsentRefused),
        other => panic!("no more marketing after unsubscribing, got {other:?}"),
    }
    // A forged link does nothing.
    let forged = url.replacen("/preferences/", "/preferences/x", 1);
    let refused = http_post_form(&forged, &[("List-Unsubscribe", "One-Click")]).expect("POST");
    assert_eq!(refused.status, 404, "{}", refused.body);
}
