//! Mail leaving the plugin: every message is queued here, with its id keyed to this
//! installation.
//!
//! The engine gives each message a stable logical id (`consent-request.<digest>@domain`:
//! the same period and record always give the same one), so a call run again queues
//! nothing new. Those digests are the same in every installation for the same record and
//! day; queued here, the digest is replaced by a MAC of the logical id under the host's
//! link key (`keys.sign`), which is secret to one installation and tenant. The id stays
//! stable (until the key is rotated, when a re-run is kept from sending twice by the
//! person's own record of the last request), is unique per installation, and says nothing
//! about the record it is for.

use privacy_guard_core::mail::{MailMessage, Mailbox};

use crate::bindings::privacy_guard::consent::{keys, mail};

/// Hex digits of the MAC kept in a message id.
const KEYED_DIGITS: usize = 32;

/// Queues `message` under its installation-keyed id; the host's reason when it refuses
/// (which may quote an address: never log it).
pub(crate) fn queue(message: MailMessage) -> Result<(), String> {
    let message_id = keyed_message_id(&message.message_id);
    let message = mail::Message {
        message_id,
        sender: wit_mailbox(message.from),
        to: message.to.into_iter().map(wit_mailbox).collect(),
        subject: message.subject,
        text_body: message.text_body,
        html_body: message.html_body,
        headers: message.headers,
    };
    mail::send(&message).map_err(|mail::MailError::Rejected(reason)| reason)
}

/// `<kind>.<MAC of the logical id>@<domain>` for a logical id `<kind>.<digest>@<domain>`.
fn keyed_message_id(logical: &str) -> String {
    let (local, domain) = logical
        .rsplit_once('@')
        .unwrap_or((logical, "privacy-guard.invalid"));
    let kind = local.split('.').next().unwrap_or("message");
    let mac = keys::sign(format!("privacy-guard/message-id\0{logical}").as_bytes());
    let hex: String = mac
        .iter()
        .take(KEYED_DIGITS / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{kind}.{hex}@{domain}")
}

fn wit_mailbox(mailbox: Mailbox) -> mail::Mailbox {
    mail::Mailbox {
        address: mailbox.address,
        name: mailbox.name,
    }
}
