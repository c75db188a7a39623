//! Delivers the mail the plugin queued, after the unit of work that queued it committed.
//!
//! The embedded default writes each message as `<message-id>.eml` into an outbox folder.
//! Delivery is at most once per message id: a file that already exists (a crash between
//! writing it and recording the delivery) is recorded as delivered, not written again, and
//! a host process delivers only mail it has claimed, so two processes sharing a database
//! never both deliver a message.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::storage::{Database, MailboxRow, QueuedMail, StorageError};

/// Mails delivered per database round trip.
const DELIVERY_BATCH: u32 = 200;

/// How long a claim on queued mail keeps other host processes off it. A process that dies
/// while delivering leaves its claimed mail to the others after this long.
const CLAIM_LEASE: Duration = Duration::from_secs(10 * 60);

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Write `.eml` files into this folder.
    Directory(PathBuf),
}

/// Why delivery stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "could not write to the outbox folder {path}: {source}; check that it exists and is writable"
    )]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u64,
    pub failed: u64,
}

/// Delivers queued mail through a transport.
#[derive(Debug, Clone)]
pub struct Outbox {
    database: Database,
    transport: Transport,
    /// Who this outbox is when claiming mail: unique per host process.
    claimant: String,
}

impl Outbox {
    pub fn new(database: Database, transport: Transport) -> Outbox {
        Outbox {
            database,
            transport,
            claimant: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// Delivers every pending message. A message that cannot be rendered is recorded as a
    /// failed attempt and left for an operator; the others still go.
    pub async fn deliver_pending(&self, now: i64) -> Result<DeliveryReport, DeliveryError> {
        let mut report = DeliveryReport::default();
        let claimed_until = now.saturating_add(CLAIM_LEASE.as_millis() as i64);
        loop {
            let pending = self
                .database
                .claim_pending_mail(&self.claimant, now, claimed_until, DELIVERY_BATCH)
                .await?;
            let batch_size = pending.len();
            let mut progressed = false;
            for entry in pending {
                match self.deliver(&entry.mail, entry.queued_at).await {
                    Ok(()) => {
                        self.database
                            .mark_delivered(&entry.mail.message_id, now)
                            .await?;
                        report.delivered += 1;
                        progressed = true;
                    }
                    Err(DeliveryFailure::Message(problem)) => {
                        tracing::error!(message_id = %entry.mail.message_id, attempts = entry.attempts + 1, %problem, "a queued message cannot be delivered");
                        self.database
                            .mark_attempt_failed(&entry.mail.message_id, &problem)
                            .await?;
                        report.failed += 1;
                    }
                    Err(DeliveryFailure::Transport(error)) => {
                        // The rest of the batch goes to the next delivery, here or elsewhere.
                        self.database.release_mail_claims(&self.claimant).await?;
                        return Err(error);
                    }
                }
            }
            if batch_size < DELIVERY_BATCH as usize || !progressed {
                return Ok(report);
            }
        }
    }

    async fn deliver(&self, mail: &QueuedMail, queued_at: i64) -> Result<(), DeliveryFailure> {
        match &self.transport {
            Transport::Directory(folder) => {
                let path = folder.join(format!("{}.eml", file_stem(&mail.message_id)));
                if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                    return Ok(());
                }
                let bytes = render(mail, queued_at).map_err(DeliveryFailure::Message)?;
                write_atomically(&path, &bytes).await.map_err(|source| {
                    DeliveryFailure::Transport(DeliveryError::Folder {
                        path: folder.clone(),
                        source,
                    })
                })
            }
        }
    }
}

enum DeliveryFailure {
    /// This message is at fault; others may still go.
    Message(String),
    /// The transport is at fault; stop and retry later.
    Transport(DeliveryError),
}

/// Renders a queued mail as an RFC 5322 message.
pub fn render(mail: &QueuedMail, queued_at: i64) -> Result<Vec<u8>, String> {
    let date = SystemTime::UNIX_EPOCH + Duration::from_millis(queued_at.max(0) as u64);
    let mut builder = lettre::Message::builder()
        .message_id(Some(format!("<{}>", mail.message_id)))
        .date(date)
        .from(mailbox(&mail.from)?)
        .subject(mail.subject.clone());
    for recipient in &mail.to {
        builder = builder.to(mailbox(recipient)?);
    }
    for (name, value) in &mail.headers {
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|error| format!("header name `{name}`: {error}"))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let message = match &mail.html_body {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            mail.text_body.clone(),
            html.clone(),
        )),
        None => builder.body(mail.text_body.clone()),
    }
    .map_err(|error| format!("could not build message {}: {error}", mail.message_id))?;
    Ok(message.formatted())
}

fn mailbox(row: &MailboxRow) -> Result<Mailbox, String> {
    let address = row
        .address
        .parse()
        .map_err(|error| format!("address `{}`: {error}", row.address))?;
    Ok(Mailbox::new(row.name.clone(), address))
}

/// A file name for a message id: its safe characters, the rest as `_`.
fn file_stem(message_id: &str) -> String {
    message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let temporary = path.with_extension("eml.tmp");
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> QueuedMail {
        QueuedMail {
            message_id: "abc123@example.org".into(),
            from: MailboxRow {
                address: "privacy@example.org".into(),
                name: Some("Example Privacy".into()),
            },
            to: vec![MailboxRow {
                address: "ada@example.com".into(),
                name: Some("Ada Lovelace".into()),
            }],
            subject: "Your privacy preferences".into(),
            text_body: "Hello".into(),
            html_body: Some("<p>Hello</p>".into()),
            headers: vec![("X-Privacy-Guard".into(), "consent-request".into())],
        }
    }

    #[test]
    fn a_rendered_mail_carries_its_stable_id_sender_and_both_bodies() {
        let rendered = String::from_utf8(render(&mail(), 1_764_000_000_000).unwrap_or_default())
            .unwrap_or_default();
        assert!(
            rendered.contains("Message-ID: <abc123@example.org>"),
            "{rendered}"
        );
        assert!(
            rendered.contains("From: \"Example Privacy\" <privacy@example.org>"),
            "{rendered}"
        );
        assert!(
            rendered.contains("X-Privacy-Guard: consent-request"),
            "{rendered}"
        );
        assert!(rendered.contains("multipart/alternative"), "{rendered}");
        assert!(rendered.contains("<p>Hello</p>"), "{rendered}");
    }

    #[test]
    fn file_names_keep_ids_readable_and_drop_path_characters() {
        assert_eq!(file_stem("a1.b-c_d@example.org"), "a1.b-c_d@example.org");
        assert_eq!(file_stem("../etc/passwd@x"), ".._etc_passwd@x");
    }
}
