//! Bounces and complaints as the sending services post them (issue 14, part 1): Amazon SES
//! through SNS, SendGrid, Postmark and Mailgun, over TCP to the JSON API
//! (`POST /api/v1/feedback/{provider}`), with a `pre-send` key as basic authentication.

use std::sync::Arc;

use privacy_guard_host::contract::sending::{MessageClass, RecipientRole, RefusalReason};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scope, Scopes, Tenant, Tenants};
use privacy_guard_tests::scenario::{decide_for, history_of, import_csv, refusal_of};
use privacy_guard_tests::{TestHost, WebServer, configure, http_call, operator};
use serde_json::{Value, json};

const PREFERENCES: &str = "http://127.0.0.1:9/preferences/";

fn contact(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

fn marketing(guard: &Guard, address: &str) -> Option<RefusalReason> {
    refusal_of(&decide_for(
        guard,
        MessageClass::Marketing,
        Some("email-marketing"),
        address,
        RecipientRole::To,
    ))
}

const FEEDBACK_KEY: &str = "pgk_feedback_0123456789";

/// A served host (the JSON API over TCP) with Ada to Fay, each granted marketing, and a
/// key of scope `pre-send` only; and a `read` key.
fn served_with_people() -> (TestHost, Arc<Guard>, WebServer) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = Arc::new(host.open().expect("host opens"));
    configure(&guard, PREFERENCES);
    import_csv(
        &guard,
        "contacts",
        "name,email\nAda,ada@example.com\nBen,ben@example.com\nCy,cy@example.com\nDee,dee@example.com\nEd,ed@example.com\nFay,fay@example.com\n",
    );
    for id in 1..=6 {
        guard
            .record_decision(
                &contact(&id.to_string()),
                "email-marketing",
                true,
                &operator(),
                "form",
            )
            .expect("call")
            .expect("recorded");
    }
    let mut tenants = Tenants::default();
    tenants
        .add(Tenant::new(
            "acme",
            guard.clone(),
            vec![
                ApiKey {
                    name: "mail-service".into(),
                    digest: KeyDigest::of_key(FEEDBACK_KEY),
                    scopes: Scopes::of(&[Scope::PreSend]),
                },
                ApiKey {
                    name: "reader".into(),
                    digest: KeyDigest::of_key("pgk_reader_0123456789"),
                    scopes: Scopes::of(&[Scope::Read]),
                },
            ],
        ))
        .expect("tenant");
    let server =
        WebServer::serve(privacy_guard_host::http::app(Arc::new(tenants))).expect("server");
    (host, guard, server)
}

/// Posts `body` as `provider` would, with basic authentication in the URL's stead.
fn post_webhook(
    server: &WebServer,
    provider: &str,
    authorization: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", *value))
        .collect();
    let response = http_call(
        "POST",
        &format!("http://{}/api/v1/feedback/{provider}", server.address),
        &headers,
        // SNS posts its JSON as text/plain.
        Some(("text/plain; charset=UTF-8", body.as_bytes())),
    )
    .expect("the API answers");
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

/// `Authorization: Basic` for the user `feedback` and `password` (base64, RFC 4648).
fn basic(password: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("feedback:{password}").into_bytes();
    let mut encoded = String::new();
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (at, byte)| {
            word | u32::from(*byte) << (16 - 8 * at)
        });
        for at in 0..4 {
            if at <= chunk.len() {
                encoded.push(ALPHABET[(word >> (18 - 6 * at) & 63) as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    format!("Basic {encoded}")
}

#[test]
fn each_providers_webhook_is_read_and_refused_without_a_pre_send_key() {
    let (_host, guard, server) = served_with_people();
    let auth = basic(FEEDBACK_KEY);
    let ses_bounce = json!({
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "ada@example.com", "action": "failed",
                "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-12-01T08:00:00.000Z", "feedbackId": "0100-abc"},
        "mail": {"messageId": "0100-m", "commonHeaders": {"messageId": "<news-1@example.org>"}}
    });
    let sns = json!({"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:eu-west-1:1:ses",
        "Message": ses_bounce.to_string()});
    let ses_complaint = json!({"Type": "Notification", "MessageId": "sns-2", "Message": json!({
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "ben@example.com"}],
            "complaintFeedbackType": "abuse", "timestamp": "2026-12-01T08:01:00.000Z"},
        "mail": {"messageId": "0100-n"}}).to_string()});
    let sendgrid = json!([
        {"email": "cy@example.com", "event": "bounce", "type": "bounce", "status": "5.0.0",
            "reason": "550 No such user", "sg_event_id": "sg-1", "timestamp": 1796112000},
        {"email": "dee@example.com", "event": "spamreport", "sg_event_id": "sg-2", "timestamp": 1796112001},
        {"email": "fay@example.com", "event": "delivered", "sg_event_id": "sg-3", "timestamp": 1796112002},
        {"email": "fay@example.com", "event": "deferred", "reason": "421 try later", "sg_event_id": "sg-4", "timestamp": 1796112003}
    ]);
    let postmark = json!({"RecordType": "SpamComplaint", "Type": "SpamComplaint", "Email": "ed@example.com",
        "MessageID": "pm-1", "BouncedAt": "2026-12-01T08:02:00Z", "ID": 42});
    let mailgun = json!({"signature": {"token": "t", "timestamp": "1", "signature": "s"},
        "event-data": {"event": "failed", "severity": "temporary", "recipient": "fay@example.com",
            "timestamp": 1796112004.5, "id": "mg-1",
            "delivery-status": {"code": 452, "description": "mailbox full"},
            "message": {"headers": {"message-id": "news-2@example.org"}}}});

    // No key, a key of another scope, a wrong key: refused, nothing recorded.
    for authorization in [
        None,
        Some(basic("pgk_reader_0123456789")),
        Some(basic("wrong")),
    ] {
        let (status, answer) =
            post_webhook(&server, "ses", authorization.as_deref(), &sns.to_string());
        assert!(matches!(status, 401 | 403), "{status} {answer}");
    }
    assert_eq!(marketing(&guard, "ada@example.com"), None);

    let calls = [
        ("ses", sns.to_string(), 1, 1),
        ("ses", ses_complaint.to_string(), 1, 1),
        ("sendgrid", sendgrid.to_string(), 3, 2),
        ("postmark", postmark.to_string(), 1, 1),
        ("mailgun", mailgun.to_string(), 1, 0),
    ];
    for (provider, body, recorded, suppressed) in calls {
        let (status, answer) = post_webhook(&server, provider, Some(&auth), &body);
        assert_eq!(status, 200, "{provider}: {answer}");
        assert_eq!(answer["recorded"], json!(recorded), "{provider}: {answer}");
        assert_eq!(
            answer["suppressed"],
            json!(suppressed),
            "{provider}: {answer}"
        );
    }
    assert_eq!(
        marketing(&guard, "ada@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    assert_eq!(
        marketing(&guard, "ben@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
    assert_eq!(
        marketing(&guard, "cy@example.com"),
        Some(RefusalReason::InvalidAddress)
    );
    assert_eq!(
        marketing(&guard, "dee@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
    assert_eq!(
        marketing(&guard, "ed@example.com"),
        Some(RefusalReason::ConsentRefused)
    );
    assert_eq!(
        marketing(&guard, "fay@example.com"),
        None,
        "two soft bounces of five"
    );
    let ada = history_of(&guard, &contact("1"))
        .into_iter()
        .find(|event| event["kind"] == "delivery-feedback")
        .expect("Ada's event");
    assert_eq!(ada["source"], "webhook:ses");
    assert_eq!(ada["message-id"], "<news-1@example.org>");
    assert!(
        ada["evidence"]
            .as_str()
            .is_some_and(|text| text.contains("5.1.1")),
        "{ada}"
    );

    // SNS redelivers: nothing changes.
    let (status, again) = post_webhook(&server, "ses", Some(&auth), &sns.to_string());
    assert_eq!(
        (status, &again["recorded"], &again["suppressed"]),
        (200, &json!(1), &json!(0))
    );
    // A body that is not the provider's, an unknown provider: refused, nothing recorded.
    let (status, wrong) = post_webhook(&server, "postmark", Some(&auth), "[1, 2]");
    assert_eq!(status, 422, "{wrong}");
    let (status, unknown) = post_webhook(&server, "sparkpost", Some(&auth), "{}");
    assert_eq!(status, 404, "{unknown}");
    // The bearer scheme works too.
    let (status, _) = post_webhook(
        &server,
        "mailgun",
        Some(&format!("Bearer {FEEDBACK_KEY}")),
        &mailgun.to_string(),
    );
    assert_eq!(status, 200);
}
