//! Reading one mail that came back: a delivery status notification (RFC 3464), a
//! feedback-loop report (ARF, RFC 5965), or an unsubscribe mail (the `mailto:` of
//! `List-Unsubscribe`). MIME is parsed by `mail-parser`; the report parts' fields by
//! [`fields`], strictly. Nothing here panics on any input (`tests/tests/feedback.rs` feeds
//! it arbitrary bytes).

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::{Found, Reading, scrub_addresses};
use crate::contract::safeguards::FeedbackKind;

/// The longest message read, in bytes: a DSN or ARF report is small, and a bigger one is
/// set aside rather than parsed.
pub const MESSAGE_LIMIT: usize = 4 << 20;

/// What `raw` (one whole mail as delivered) says. `received_at` stands in for a report
/// that names no time; `unsubscribe_mailbox` is the mailbox unsubscribe mails go to (empty:
/// none is read).
pub fn read_message(raw: &[u8], received_at: i64) -> Reading {
    if raw.len() > MESSAGE_LIMIT {
        return Reading::Malformed(format!("larger than {MESSAGE_LIMIT} bytes"));
    }
    let Some(message) = MessageParser::default().parse(raw) else {
        return Reading::Malformed("no mail headers".to_owned());
    };
    let report_type = message
        .content_type()
        .filter(|content| {
            content.ctype().eq_ignore_ascii_case("multipart")
                && content
                    .subtype()
                    .is_some_and(|subtype| subtype.eq_ignore_ascii_case("report"))
        })
        .map(|content| {
            content
                .attribute("report-type")
                .unwrap_or_default()
                .to_ascii_lowercase()
        });
    match report_type.as_deref() {
        Some("delivery-status") => delivery_status(&message, received_at),
        Some("feedback-report") => feedback_report(&message, received_at),
        Some(other) => Reading::Ignored(format!("a report of type `{other}`")),
        None => unsubscribe_mail(&message, received_at),
    }
}

/// The addresses the mail was delivered to, as the receiving server recorded them
/// (`Delivered-To`, `X-Original-To`, aiosmtpd's `X-RcptTo`), then its `To`: where a VERP
/// return path shows.
pub fn envelope_recipients(raw: &[u8]) -> Vec<String> {
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for name in ["Delivered-To", "X-Original-To", "X-RcptTo"] {
        for value in message.header_values(name) {
            if let Some(text) = value.as_text() {
                found.extend(
                    text.split(',')
                        .map(|address| address.trim().trim_matches(['<', '>']).to_owned()),
                );
            }
        }
    }
    if let Some(to) = message.to() {
        found.extend(to.iter().filter_map(|to| to.address().map(str::to_owned)));
    }
    found
}

/// A bounce that is no delivery report (an MTA that writes only words): a mail from
/// `MAILER-DAEMON` or `postmaster` that is not an auto-reply. Its subject, if so.
pub fn plain_bounce(raw: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse_headers(raw)?;
    let from = first_address(message.from())?;
    let local = from.split('@').next().unwrap_or_default();
    let daemon = ["mailer-daemon", "postmaster"]
        .iter()
        .any(|name| local.eq_ignore_ascii_case(name));
    let auto_reply = message
        .header_values("Auto-Submitted")
        .filter_map(|value| value.as_text())
        .any(|value| value.trim().eq_ignore_ascii_case("auto-replied"));
    (daemon && !auto_reply).then(|| message.subject().unwrap_or_default().to_owned())
}

/// The body of the first part whose content type is `wanted` (`message/delivery-status`).
fn part_text<'a>(message: &'a Message<'a>, wanted: &str) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let content = part.content_type()?;
        let name = format!(
            "{}/{}",
            content.ctype(),
            content.subtype().unwrap_or_default()
        );
        if !name.eq_ignore_ascii_case(wanted) {
            return None;
        }
        match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => None,
        }
    })
}

/// The original message's `Message-ID` and `To`, from the report's third part
/// (`message/rfc822` or `text/rfc822-headers`).
fn original(message: &Message<'_>) -> (Option<String>, Option<String>) {
    for part in &message.parts {
        let headers = match &part.body {
            PartType::Message(original) => {
                return (
                    original.message_id().map(|id| format!("<{id}>")),
                    first_address(original.to()),
                );
            }
            PartType::Text(text)
                if part.content_type().is_some_and(|content| {
                    content
                        .subtype()
                        .is_some_and(|subtype| subtype.eq_ignore_ascii_case("rfc822-headers"))
                }) =>
            {
                text.to_string()
            }
            _ => continue,
        };
        let mut bytes = headers.into_bytes();
        bytes.extend_from_slice(b"\r\n\r\n");
        if let Some(original) = MessageParser::default().parse(&bytes) {
            return (
                original.message_id().map(|id| format!("<{id}>")),
                first_address(original.to()),
            );
        }
    }
    (None, None)
}

fn first_address(addresses: Option<&mail_parser::Address<'_>>) -> Option<String> {
    addresses?
        .first()?
        .address()
        .map(|address| address.to_owned())
}

fn delivery_status(message: &Message<'_>, received_at: i64) -> Reading {
    let Some(text) = part_text(message, "message/delivery-status") else {
        return Reading::Malformed(
            "a delivery report without a message/delivery-status part".into(),
        );
    };
    let blocks = match fields(&text) {
        Ok(blocks) if blocks.len() >= 2 => blocks,
        Ok(_) => {
            return Reading::Malformed("a delivery status without a recipient's fields".into());
        }
        Err(problem) => return Reading::Malformed(problem),
    };
    let (message_id, _) = original(message);
    let occurred_at = field(&blocks[0], "arrival-date")
        .and_then(mail_parser::DateTime::parse_rfc822)
        .map_or(received_at, |date| date.to_timestamp() * 1000);
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    for block in &blocks[1..] {
        let Some(recipient) = field(block, "final-recipient")
            .or_else(|| field(block, "original-recipient"))
            .and_then(address_field)
        else {
            return Reading::Malformed("a recipient's fields without Final-Recipient".into());
        };
        let action = field(block, "action")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let status = field(block, "status").unwrap_or_default().trim().to_owned();
        let kind = match (action.as_str(), status.chars().next()) {
            ("failed", Some('5')) => FeedbackKind::HardBounce,
            ("failed", Some('4')) | ("delayed", _) => FeedbackKind::SoftBounce,
            ("relayed" | "delivered" | "expanded", _) => {
                ignored.push(format!("action `{action}`"));
                continue;
            }
            _ => {
                return Reading::Malformed(format!(
                    "a recipient's Action `{action}` with Status `{status}`"
                ));
            }
        };
        let mut evidence = format!("Action: {action}; Status: {status}");
        if let Some(diagnostic) = field(block, "diagnostic-code") {
            evidence.push_str("; Diagnostic-Code: ");
            evidence.push_str(diagnostic);
        }
        if let Some(mta) = field(&blocks[0], "reporting-mta") {
            evidence.push_str("; Reporting-MTA: ");
            evidence.push_str(mta);
        }
        found.push(Found {
            kind,
            address: Some(recipient),
            source: "dsn".into(),
            evidence: scrub_addresses(&evidence),
            message_id: message_id.clone(),
            occurred_at,
            token: None,
        });
    }
    if found.is_empty() {
        return Reading::Ignored(format!("a delivery report of {}", ignored.join(", ")));
    }
    Reading::Reports(found)
}

fn feedback_report(message: &Message<'_>, received_at: i64) -> Reading {
    let Some(text) = part_text(message, "message/feedback-report") else {
        return Reading::Malformed(
            "a feedback report without a message/feedback-report part".into(),
        );
    };
    let blocks = match fields(&text) {
        Ok(blocks) if !blocks.is_empty() => blocks,
        Ok(_) => return Reading::Malformed("an empty feedback report".into()),
        Err(problem) => return Reading::Malformed(problem),
    };
    let block = &blocks[0];
    let Some(feedback_type) = field(block, "feedback-type") else {
        return Reading::Malformed("a feedback report without Feedback-Type".into());
    };
    let feedback_type = feedback_type.trim().to_ascii_lowercase();
    if feedback_type != "abuse" {
        return Reading::Ignored(format!("a feedback report of type `{feedback_type}`"));
    }
    let (message_id, original_to) = original(message);
    let complainant = field(block, "original-rcpt-to")
        .and_then(address_field)
        .or(original_to);
    let occurred_at = field(block, "arrival-date")
        .or_else(|| field(block, "received-date"))
        .and_then(mail_parser::DateTime::parse_rfc822)
        .map_or(received_at, |date| date.to_timestamp() * 1000);
    let mut evidence = format!("Feedback-Type: {feedback_type}");
    for name in ["user-agent", "source-ip", "reported-domain"] {
        if let Some(value) = field(block, name) {
            evidence.push_str(&format!("; {}: {value}", header_case(name)));
        }
    }
    Reading::Reports(vec![Found {
        kind: FeedbackKind::Complaint,
        // None: attributed by the return path it came to, or set aside.
        address: complainant,
        source: "arf".into(),
        evidence: scrub_addresses(&evidence),
        message_id,
        occurred_at,
        token: None,
    }])
}

fn unsubscribe_mail(message: &Message<'_>, received_at: i64) -> Reading {
    let subject = message.subject().unwrap_or_default().trim();
    let Some(rest) = subject
        .get(.."unsubscribe".len())
        .filter(|word| word.eq_ignore_ascii_case("unsubscribe"))
        .map(|_| subject["unsubscribe".len()..].trim())
    else {
        return Reading::Ignored("neither a report nor an unsubscribe mail".into());
    };
    let sender = first_address(message.from());
    let token = rest
        .split_whitespace()
        .next()
        .filter(|token| !token.is_empty())
        .map(str::to_owned);
    if sender.is_none() && token.is_none() {
        return Reading::Malformed("an unsubscribe mail with neither a sender nor a token".into());
    }
    let message_id = message.message_id().map(|id| format!("<{id}>"));
    Reading::Reports(vec![Found {
        kind: FeedbackKind::Unsubscribe,
        address: sender,
        source: "mailto".into(),
        evidence: format!(
            "unsubscribe mail{}",
            if token.is_some() {
                " with a preferences token"
            } else {
                " without a token"
            }
        ),
        message_id,
        occurred_at: message
            .date()
            .map_or(received_at, |date| date.to_timestamp() * 1000),
        token,
    }])
}

/// The blocks of `Name: value` fields of a `message/delivery-status` or
/// `message/feedback-report` body (RFC 3464 section 2.1, RFC 5965 section 3.1): blocks are
/// separated by blank lines, a line starting with white space continues the field before
/// it, names are kept in lower case. A line that is none of these is refused.
pub fn fields(text: &str) -> Result<Vec<Vec<(String, String)>>, String> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match block.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                None => return Err("a continuation line before any field".into()),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("a line that is not a field: `{}`", shorten(line)));
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!("a field name that is not one: `{}`", shorten(name)));
        }
        block.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    Ok(blocks)
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// The address of an `rfc822; someone@example.com` field (the type is optional).
fn address_field(value: &str) -> Option<String> {
    let address = match value.split_once(';') {
        Some((kind, address)) if kind.trim().eq_ignore_ascii_case("rfc822") => address,
        Some(_) => return None,
        None => value,
    };
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    (address.contains('@') && !address.contains(char::is_whitespace)).then(|| address.to_owned())
}

fn header_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_blocks_with_continuations_and_nonsense_is_refused() {
        let blocks = fields(
            "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nDiagnostic-Code: smtp; 550 5.1.1\r\n  user unknown\r\n",
        )
        .unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            field(&blocks[1], "diagnostic-code"),
            Some("smtp; 550 5.1.1 user unknown")
        );
        assert!(fields("no colon here").is_err());
        assert!(fields("  continuation first").is_err());
        assert_eq!(
            address_field("rfc822; <A@b.example>").as_deref(),
            Some("A@b.example")
        );
        assert_eq!(address_field("x400; whatever"), None);
    }
}
