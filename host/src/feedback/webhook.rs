//! The JSON the common sending services post about bounces and complaints, read into
//! [`Found`] reports (`POST /api/v1/feedback/{provider}`):
//!
//! | provider | body | hard bounce | soft bounce | complaint | unsubscribe |
//! |---|---|---|---|---|---|
//! | `ses` | an SNS notification whose `Message` is SES's JSON (or that JSON itself) | `Bounce`, `bounceType` `Permanent` | `Transient`, `Undetermined` | `Complaint` | — |
//! | `sendgrid` | an array of events | `bounce` (type `bounce`); `dropped` for a bounced or invalid address | `bounce` type `blocked`, `deferred` | `spamreport`; `dropped` for a spam-reporting address | `unsubscribe`, `group_unsubscribe` |
//! | `postmark` | one event | `Bounce`, `Type` `HardBounce` or `BadEmailAddress` | `SoftBounce`, `Transient`, `DnsError` | `SpamComplaint` (or a bounce of that type) | — |
//! | `mailgun` | `{"event-data": …}` | `failed`, `severity` `permanent` | `failed`, `temporary` | `complained` | `unsubscribed` |
//!
//! Every other event is ignored, with its name. The evidence is the provider's name, event
//! type, status and diagnostic words and its event id, addresses replaced.

use serde_json::Value;

use super::{Found, scrub_addresses};
use crate::contract::safeguards::{FeedbackError, FeedbackKind};

/// The providers whose shapes are read.
pub const PROVIDERS: &[&str] = &["ses", "sendgrid", "postmark", "mailgun"];

/// What a provider's body says: the reports, and what was ignored (with reasons); or why
/// the body is not one of the provider's.
pub fn read_webhook(
    provider: &str,
    body: &str,
    received_at: i64,
) -> Result<(Vec<Found>, Vec<String>), String> {
    let json: Value = serde_json::from_str(body).map_err(|error| format!("not JSON: {error}"))?;
    let mut reading = Reading {
        provider,
        received_at,
        found: Vec::new(),
        ignored: Vec::new(),
    };
    match provider {
        "ses" => reading.ses(&json)?,
        "sendgrid" => {
            let events = json.as_array().ok_or("SendGrid posts an array of events")?;
            for event in events {
                reading.sendgrid(event)?;
            }
        }
        "postmark" => reading.postmark(&json)?,
        "mailgun" => reading.mailgun(&json)?,
        other => {
            return Err(format!(
                "`{other}` is no provider this host reads; use one of {}",
                PROVIDERS.join(", ")
            ));
        }
    }
    Ok((reading.found, reading.ignored))
}

/// The plugin's refusal in words.
pub fn refusal_text(refusal: &FeedbackError) -> String {
    match refusal {
        FeedbackError::InvalidAddress(_) => "the address is not a valid email address".into(),
        FeedbackError::EvidenceRequired => "the report carries no evidence".into(),
        FeedbackError::ActorRequired => "the staff actor has no name".into(),
        FeedbackError::InvalidToken => {
            "the unsubscribe token is not genuine, has expired or names nobody".into()
        }
    }
}

struct Reading<'a> {
    provider: &'a str,
    received_at: i64,
    found: Vec<Found>,
    ignored: Vec<String>,
}

fn text<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Milliseconds from an RFC 3339 text or unix seconds (a number, maybe fractional).
fn instant(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| at.timestamp_millis()),
        Value::Number(number) => number.as_f64().map(|seconds| (seconds * 1000.0) as i64),
        _ => None,
    }
}

impl Reading<'_> {
    fn push(
        &mut self,
        kind: FeedbackKind,
        address: Option<&str>,
        evidence: String,
        message_id: Option<&str>,
        at: Option<i64>,
    ) -> Result<(), String> {
        let address = address
            .map(str::trim)
            .filter(|address| !address.is_empty())
            .ok_or_else(|| format!("a {} event without the recipient's address", self.provider))?;
        self.found.push(Found {
            kind,
            address: Some(address.to_owned()),
            source: format!("webhook:{}", self.provider),
            evidence: scrub_addresses(&evidence),
            message_id: message_id.map(|id| {
                let id = id.trim().trim_start_matches('<').trim_end_matches('>');
                format!("<{id}>")
            }),
            occurred_at: at.unwrap_or(self.received_at),
            token: None,
        });
        Ok(())
    }

    fn ses(&mut self, json: &Value) -> Result<(), String> {
        // An SNS envelope carries SES's JSON as a string.
        if let Some(kind) = text(json, "/Type") {
            if kind != "Notification" {
                self.ignored.push(format!(
                    "an SNS `{kind}` (confirm the subscription at its SubscribeURL by hand)"
                ));
                return Ok(());
            }
            let inner = text(json, "/Message").ok_or("an SNS notification without Message")?;
            let inner: Value = serde_json::from_str(inner)
                .map_err(|error| format!("an SNS Message that is not JSON: {error}"))?;
            return self.ses(&inner);
        }
        let kind = text(json, "/notificationType")
            .or_else(|| text(json, "/eventType"))
            .ok_or("neither an SNS notification nor SES's notificationType")?;
        let message_id = text(json, "/mail/commonHeaders/messageId");
        let provider_id = text(json, "/mail/messageId").unwrap_or_default();
        match kind {
            "Bounce" => {
                let bounce_type = text(json, "/bounce/bounceType").unwrap_or_default();
                let feedback = match bounce_type {
                    "Permanent" => FeedbackKind::HardBounce,
                    _ => FeedbackKind::SoftBounce,
                };
                let at = instant(json.pointer("/bounce/timestamp"));
                let recipients = json
                    .pointer("/bounce/bouncedRecipients")
                    .and_then(Value::as_array)
                    .ok_or("an SES bounce without bouncedRecipients")?;
                for recipient in recipients {
                    let evidence = format!(
                        "SES Bounce {bounce_type}/{}; status {}; {}; SES message {provider_id}",
                        text(json, "/bounce/bounceSubType").unwrap_or_default(),
                        text(recipient, "/status").unwrap_or("-"),
                        text(recipient, "/diagnosticCode").unwrap_or("no diagnostic code"),
                    );
                    self.push(
                        feedback,
                        text(recipient, "/emailAddress"),
                        evidence,
                        message_id,
                        at,
                    )?;
                }
            }
            "Complaint" => {
                let at = instant(json.pointer("/complaint/timestamp"));
                let recipients = json
                    .pointer("/complaint/complainedRecipients")
                    .and_then(Value::as_array)
                    .ok_or("an SES complaint without complainedRecipients")?;
                for recipient in recipients {
                    let evidence = format!(
                        "SES Complaint {}; SES message {provider_id}",
                        text(json, "/complaint/complaintFeedbackType").unwrap_or("abuse"),
                    );
                    self.push(
                        FeedbackKind::Complaint,
                        text(recipient, "/emailAddress"),
                        evidence,
                        message_id,
                        at,
                    )?;
                }
            }
            other => self.ignored.push(format!("an SES `{other}` notification")),
        }
        Ok(())
    }

    fn sendgrid(&mut self, event: &Value) -> Result<(), String> {
        let name = text(event, "/event").ok_or("a SendGrid event without `event`")?;
        let reason = text(event, "/reason").unwrap_or_default();
        let kind = match name {
            "bounce" if text(event, "/type") == Some("blocked") => FeedbackKind::SoftBounce,
            "bounce" => FeedbackKind::HardBounce,
            "deferred" => FeedbackKind::SoftBounce,
            "spamreport" => FeedbackKind::Complaint,
            "unsubscribe" | "group_unsubscribe" => FeedbackKind::Unsubscribe,
            "dropped" if reason.contains("Bounced") || reason.contains("Invalid") => {
                FeedbackKind::HardBounce
            }
            "dropped" if reason.contains("Spam") => FeedbackKind::Complaint,
            "dropped" if reason.contains("Unsubscribed") => FeedbackKind::Unsubscribe,
            other => {
                self.ignored.push(format!("a SendGrid `{other}` event"));
                return Ok(());
            }
        };
        let evidence = format!(
            "SendGrid {name}; status {}; {}; event {}",
            text(event, "/status").unwrap_or("-"),
            if reason.is_empty() {
                "no reason"
            } else {
                reason
            },
            text(event, "/sg_event_id").unwrap_or("-"),
        );
        self.push(
            kind,
            text(event, "/email"),
            evidence,
            text(event, "/smtp-id"),
            instant(event.get("timestamp")),
        )
    }

    fn postmark(&mut self, event: &Value) -> Result<(), String> {
        let record = text(event, "/RecordType").ok_or("a Postmark event without RecordType")?;
        let bounce_type = text(event, "/Type").unwrap_or_default();
        let kind = match (record, bounce_type) {
            ("SpamComplaint", _) | ("Bounce", "SpamComplaint") => FeedbackKind::Complaint,
            ("Bounce", "HardBounce" | "BadEmailAddress") => FeedbackKind::HardBounce,
            ("Bounce", "SoftBounce" | "Transient" | "DnsError") => FeedbackKind::SoftBounce,
            (record, kind) => {
                self.ignored
                    .push(format!("a Postmark `{record}` of type `{kind}`"));
                return Ok(());
            }
        };
        let id = event.get("ID").map(Value::to_string).unwrap_or_default();
        let evidence = format!(
            "Postmark {record} {bounce_type}; {}; event {id}",
            text(event, "/Description").unwrap_or("no description"),
        );
        self.push(
            kind,
            text(event, "/Email"),
            evidence,
            text(event, "/MessageID"),
            instant(event.get("BouncedAt")),
        )
    }

    fn mailgun(&mut self, json: &Value) -> Result<(), String> {
        let event = json
            .get("event-data")
            .ok_or("a Mailgun webhook without event-data")?;
        let name = text(event, "/event").ok_or("Mailgun event-data without event")?;
        let severity = text(event, "/severity").unwrap_or_default();
        let kind = match (name, severity) {
            ("failed", "permanent") => FeedbackKind::HardBounce,
            ("failed", _) => FeedbackKind::SoftBounce,
            ("complained", _) => FeedbackKind::Complaint,
            ("unsubscribed", _) => FeedbackKind::Unsubscribe,
            (other, _) => {
                self.ignored.push(format!("a Mailgun `{other}` event"));
                return Ok(());
            }
        };
        let evidence = format!(
            "Mailgun {name} {severity}; code {}; {}; event {}",
            event
                .pointer("/delivery-status/code")
                .map(Value::to_string)
                .unwrap_or("-".into()),
            text(event, "/delivery-status/description")
                .filter(|text| !text.is_empty())
                .or_else(|| text(event, "/delivery-status/message"))
                .unwrap_or("no description"),
            text(event, "/id").unwrap_or("-"),
        );
        self.push(
            kind,
            text(event, "/recipient"),
            evidence,
            text(event, "/message/headers/message-id"),
            instant(event.get("timestamp")),
        )
    }
}
