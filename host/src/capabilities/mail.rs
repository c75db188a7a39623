//! `mail`: queues the plugin's messages in the unit of work; the outbox delivers them
//! after the commit (see [`crate::mail`]). `forget` cancels and destroys the mail of an
//! erased address in the same unit of work.

use crate::capabilities::HostState;
use crate::capabilities::budget::Spending;
use crate::contract::imports::mail::{self, MailError, Mailbox, Message};
use crate::storage::{MailboxRow, QueuedMail, normalise_email};

impl mail::Host for HostState {
    fn send(&mut self, message: Message) -> wasmtime::Result<Result<(), MailError>> {
        self.spend(Spending::Mails, 1)?;
        let bytes = message.subject.len()
            + message.text_body.len()
            + message.html_body.as_ref().map_or(0, String::len)
            + message
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>();
        self.spend(Spending::MailBytes, bytes)?;
        Ok(match check(&message) {
            Err(problem) => Err(MailError::Rejected(problem.to_string())),
            Ok(()) => {
                self.work.queue_mail(QueuedMail {
                    message_id: message.message_id,
                    from: mailbox_row(message.sender),
                    to: message.to.into_iter().map(mailbox_row).collect(),
                    subject: message.subject,
                    text_body: message.text_body,
                    html_body: message.html_body,
                    headers: message.headers,
                });
                Ok(())
            }
        })
    }

    fn forget(&mut self, address: String) -> wasmtime::Result<()> {
        self.work.forget_mail_to(normalise_email(&address));
        Ok(())
    }
}

fn mailbox_row(mailbox: Mailbox) -> MailboxRow {
    MailboxRow {
        address: mailbox.address,
        name: mailbox.name,
    }
}

/// What makes a message unsafe to queue: it would corrupt the mail or let a value inject
/// headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum MessageProblem {
    #[error("message id `{0}` must look like `unique@domain`, without spaces or angle brackets")]
    MessageId(String),
    #[error("a message needs at least one recipient")]
    NoRecipient,
    #[error("`{0}` is not a valid email address")]
    Address(String),
    #[error("the display name for {0} contains a line break")]
    NameLineBreak(String),
    #[error("the subject contains a line break")]
    SubjectLineBreak,
    #[error("`{0}` is not a valid header name")]
    HeaderName(String),
    #[error("the value of header {0} contains a line break")]
    HeaderLineBreak(String),
}

/// Refuses what would corrupt the message or let a value inject headers.
fn check(message: &Message) -> Result<(), MessageProblem> {
    let id = &message.message_id;
    if id.is_empty()
        || id.len() > 250
        || !id.contains('@')
        || id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'))
    {
        return Err(MessageProblem::MessageId(id.clone()));
    }
    if message.to.is_empty() {
        return Err(MessageProblem::NoRecipient);
    }
    for mailbox in std::iter::once(&message.sender).chain(&message.to) {
        if mailbox.address.parse::<lettre::Address>().is_err() {
            return Err(MessageProblem::Address(mailbox.address.clone()));
        }
        if mailbox.name.as_deref().is_some_and(has_line_break) {
            return Err(MessageProblem::NameLineBreak(mailbox.address.clone()));
        }
    }
    if has_line_break(&message.subject) {
        return Err(MessageProblem::SubjectLineBreak);
    }
    for (name, value) in &message.headers {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic() && c != ':') {
            return Err(MessageProblem::HeaderName(name.clone()));
        }
        if has_line_break(value) {
            return Err(MessageProblem::HeaderLineBreak(name.clone()));
        }
    }
    Ok(())
}

fn has_line_break(text: &str) -> bool {
    text.contains(['\r', '\n'])
}
