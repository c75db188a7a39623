//! What an export of everything held about a person reads that no other part of storage
//! does: the outbox's mail to their address, with when it was queued and what became of it.

use sqlx::Row;

use super::{Database, QueuedMail, StorageError, failed, normalise_email};

/// A mail the outbox holds (or held) for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailToAddress {
    pub message_id: String,
    /// `None` once the stored copy was destroyed (an erasure forgets the address's mail).
    pub subject: Option<String>,
    pub queued_at: i64,
    pub delivered_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub failed_at: Option<i64>,
}

impl Database {
    /// Every mail the outbox has for `address` (normalised here), oldest first.
    pub async fn mail_to_address(&self, address: &str) -> Result<Vec<MailToAddress>, StorageError> {
        let rows = sqlx::query(
            "SELECT outbox.message_id, outbox.message, outbox.queued_at, outbox.delivered_at, outbox.cancelled_at, outbox.failed_at \
             FROM outbox JOIN outbox_recipients ON outbox_recipients.message_id = outbox.message_id \
             WHERE outbox_recipients.address = $1 ORDER BY outbox.queued_at, outbox.message_id",
        )
        .bind(normalise_email(address))
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading the mail to an address"))?;
        rows.iter()
            .map(|row| {
                let message: String = row.try_get(1)?;
                Ok(MailToAddress {
                    message_id: row.try_get(0)?,
                    subject: serde_json::from_str::<QueuedMail>(&message)
                        .ok()
                        .map(|mail| mail.subject),
                    queued_at: row.try_get(2)?,
                    delivered_at: row.try_get(3)?,
                    cancelled_at: row.try_get(4)?,
                    failed_at: row.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("reading the mail to an address"))
    }
}
