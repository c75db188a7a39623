//! What comes back after a mail left, read by the host and reported to the plugin
//! (`safeguards.report-delivery`, contract 0.3.3):
//!
//! - [`message`] reads one mail: a delivery status notification (RFC 3464, `multipart/report;
//!   report-type=delivery-status`: each recipient's `Action` and `Status`; `failed` with 5.x.x
//!   is a hard bounce, `failed` with 4.x.x or `delayed` a soft one, `relayed`, `delivered` and
//!   `expanded` are ignored), a feedback-loop report (ARF, RFC 5965, `report-type=
//!   feedback-report`: `Feedback-Type: abuse` is a complaint about `Original-Rcpt-To` or the
//!   original message's `To`; other types are ignored with their name), or an unsubscribe mail
//!   (subject `unsubscribe TOKEN`, the `mailto:` of `List-Unsubscribe`);
//! - [`maildir`] reads a Maildir a pass at a time: each message in `new/` is reported, then
//!   moved to `cur/`, so nothing is reported twice and a crash re-reads at most the one in
//!   flight (whose repeated report changes nothing); one that cannot be read is moved to
//!   `rejected/` beside a `.reason` file, and logged;
//! - [`webhook`] reads the JSON the common sending services post (Amazon SES through SNS,
//!   SendGrid, Postmark, Mailgun).
//!
//! The evidence kept is the report's own words (status, diagnostic code, feedback type, the
//! provider's event id) with every address replaced by `<address>`: never a message body.

pub mod maildir;
pub mod message;
pub mod webhook;

use crate::contract::safeguards::{DeliveryReport, FeedbackKind};

/// The Maildir a serving host reads a tenant's returned mail from; the guard keeps it
/// ([`crate::guard::IntakeConfig`]), so it is defined there.
pub use crate::guard::IntakeConfig;

/// One report found in a mail or a webhook's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: FeedbackKind,
    /// The address it is about; `None` when the report names none (then a token must).
    pub address: Option<String>,
    pub source: String,
    pub evidence: String,
    pub message_id: Option<String>,
    pub occurred_at: i64,
    pub token: Option<String>,
}

impl Found {
    /// The report for the plugin; `None` when it names neither an address nor a token.
    pub fn report(&self) -> Option<DeliveryReport> {
        if self.address.is_none() && self.token.is_none() {
            return None;
        }
        Some(DeliveryReport {
            kind: self.kind,
            address: self.address.clone().unwrap_or_default(),
            source: self.source.clone(),
            evidence: self.evidence.clone(),
            message_id: self.message_id.clone(),
            occurred_at: self.occurred_at,
            token: self.token.clone(),
        })
    }
}

/// What a mail (or a webhook's body) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Reports to record.
    Reports(Vec<Found>),
    /// Nothing to record, and why (an auto-reply, a `delivered` notice, a feedback type
    /// other than abuse).
    Ignored(String),
    /// It claims to be a report and is not a readable one: set aside, with the reason.
    Malformed(String),
}

/// `text` with every address (`local@domain`) replaced by `<address>`.
pub fn scrub_addresses(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let local = |c: char| c.is_alphanumeric() || "._%+-=!#$&'*/?^`{|}~".contains(c);
    let domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        if chars[index] == '@' {
            let mut start = index;
            while start > 0 && local(chars[start - 1]) {
                start -= 1;
            }
            let mut end = index + 1;
            while end < chars.len() && domain(chars[end]) {
                end += 1;
            }
            let taken_local = index - start;
            if taken_local > 0 && end > index + 1 {
                // Drop the local part already written.
                for _ in 0..taken_local {
                    out.pop();
                }
                out.push_str("<address>");
                index = end;
                continue;
            }
        }
        out.push(chars[index]);
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_scrubbed_from_evidence() {
        assert_eq!(
            scrub_addresses("550 5.1.1 <Bob.Smith+x@mail.example.com>: user unknown"),
            "550 5.1.1 <<address>>: user unknown"
        );
        assert_eq!(scrub_addresses("a @ b, @x, y@"), "a @ b, @x, y@");
        assert_eq!(scrub_addresses("ünï@例え.jp ok"), "<address> ok");
    }
}
