//! The mail outbox: delivery claims, retries, failures, and forgetting the mail of an
//! erased address.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Database, LOCK_WRITERS, PARAMETERS_PER_STATEMENT, QueuedMail, StorageError, failed,
    placeholders,
};

impl Database {
    // ---- outbox ------------------------------------------------------------------------

    /// Claims up to `limit` mails due at `now` for `holder` until `claimed_until`, oldest
    /// first: not delivered, not failed for good, not waiting for a later attempt
    /// (`next_attempt_at` still ahead), and nobody's claim on them holding (none, or one
    /// that lapsed before `now`). Another host process never gets a mail while this one's
    /// claim holds, so no mail is delivered by two processes. Whatever becomes of a claimed
    /// mail (delivered, deferred, failed) releases the claim.
    pub async fn claim_pending_mail(
        &self,
        holder: &ClaimHolder,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StorageError> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("claiming queued mail"))?;
        // Under the writers' lock the choice below sees every claim committed before.
        // Oldest first by `queued_at` alone: the `outbox_pending` index (delivered_at,
        // queued_at) hands rows over in that order, so a claim reads its batch and stops,
        // where ordering by the message id too sorted every pending mail on each claim
        // (a second a claim with 100,000 mails waiting on SQLite).
        sqlx::query(LOCK_WRITERS)
            .execute(&mut *transaction)
            .await
            .map_err(failed("claiming queued mail"))?;
        let rows = sqlx::query(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $2, claimed_host = $5, claimed_pid = $6, claimed_process_start = $7 WHERE message_id IN (\
                SELECT message_id FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL AND next_attempt_at <= $3 \
                AND (claimed_until IS NULL OR claimed_until < $3) \
                ORDER BY queued_at LIMIT $4) \
             AND delivered_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL \
             RETURNING message, queued_at, attempts",
        )
        .bind(holder.claim_id.as_str())
        .bind(claimed_until)
        .bind(now)
        .bind(i64::from(limit))
        .bind(holder.host.as_deref())
        .bind(holder.pid.map(i64::from))
        .bind(holder.process_start)
        .fetch_all(&mut *transaction)
        .await
        .map_err(failed("claiming queued mail"))?;
        transaction
            .commit()
            .await
            .map_err(failed("claiming queued mail"))?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let message: String = row.try_get(0).map_err(failed("reading the outbox"))?;
                let mail =
                    serde_json::from_str(&message).map_err(|error| StorageError::Database {
                        operation: "decoding a queued mail",
                        source: sqlx::Error::Decode(error.into()),
                    })?;
                Ok(OutboxEntry {
                    mail,
                    queued_at: row.try_get(1).map_err(failed("reading the outbox"))?,
                    attempts: row.try_get(2).map_err(failed("reading the outbox"))?,
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        // RETURNING promises no order.
        claimed.sort_by(|left, right| {
            (left.queued_at, &left.mail.message_id).cmp(&(right.queued_at, &right.mail.message_id))
        });
        Ok(claimed)
    }

    /// Moves the lease of `claimant`'s claims on mail it has not delivered yet to
    /// `claimed_until` (the heartbeat of a working delivery pass). Returns how many.
    pub async fn renew_mail_claims(
        &self,
        claimant: &str,
        claimed_until: i64,
    ) -> Result<u64, StorageError> {
        let result = sqlx::query(
            "UPDATE outbox SET claimed_until = $1 WHERE claimed_by = $2 AND delivered_at IS NULL",
        )
        .bind(claimed_until)
        .bind(claimant)
        .execute(&self.pool)
        .await
        .map_err(failed("renewing claims on queued mail"))?;
        Ok(result.rows_affected())
    }

    /// The holders of claims on `host` that still hold at `now` (their lease not lapsed),
    /// other than `claimant`, with how many undelivered mails each holds: the delivery pass
    /// takes over those of processes that are gone.
    pub async fn mail_claim_holders_on(
        &self,
        host: &str,
        claimant: &str,
        now: i64,
    ) -> Result<Vec<(ClaimHolder, i64)>, StorageError> {
        let rows = sqlx::query(
            "SELECT claimed_by, claimed_host, claimed_pid, claimed_process_start, COUNT(*) FROM outbox \
             WHERE claimed_host = $1 AND claimed_by <> $2 AND claimed_until >= $3 AND delivered_at IS NULL \
             GROUP BY claimed_by, claimed_host, claimed_pid, claimed_process_start",
        )
        .bind(host)
        .bind(claimant)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading claims on queued mail"))?;
        rows.iter()
            .map(|row| {
                let pid: Option<i64> = row.try_get(2)?;
                Ok((
                    ClaimHolder {
                        claim_id: row.try_get(0)?,
                        host: row.try_get(1)?,
                        pid: pid.and_then(|pid| u32::try_from(pid).ok()),
                        process_start: row.try_get(3)?,
                    },
                    row.try_get(4)?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("reading claims on queued mail"))
    }

    /// Gives up `claimant`'s claims on mail it has not delivered, for the next delivery.
    pub async fn release_mail_claims(&self, claimant: &str) -> Result<(), StorageError> {
        sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_process_start = NULL WHERE claimed_by = $1 AND delivered_at IS NULL")
            .bind(claimant)
            .execute(&self.pool)
            .await
            .map_err(failed("releasing claims on queued mail"))?;
        Ok(())
    }

    /// Marks a mail delivered: the server accepted it (or its file is written).
    pub async fn mark_delivered(&self, message_id: &str, at: i64) -> Result<(), StorageError> {
        sqlx::query("UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL, claimed_by = NULL, claimed_until = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_process_start = NULL WHERE message_id = $2")
            .bind(at)
            .bind(message_id)
            .execute(&self.pool)
            .await
            .map_err(failed("marking mail delivered"))?;
        Ok(())
    }

    /// Marks a batch of mails delivered at once (their files written, or the server
    /// accepted them): one transaction, one statement per few hundred ids.
    pub async fn mark_delivered_all(
        &self,
        message_ids: &[&str],
        at: i64,
    ) -> Result<(), StorageError> {
        if message_ids.is_empty() {
            return Ok(());
        }
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("marking mail delivered"))?;
        // `at` is the first parameter, the ids follow it.
        for chunk in message_ids.chunks(PARAMETERS_PER_STATEMENT - 1) {
            let sql = format!(
                "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL, claimed_by = NULL, claimed_until = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_process_start = NULL WHERE message_id IN ({})",
                placeholders(2, chunk.len())
            );
            chunk
                .iter()
                .fold(
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at),
                    |query, id| query.bind(*id),
                )
                .execute(&mut *transaction)
                .await
                .map_err(failed("marking mail delivered"))?;
        }
        transaction
            .commit()
            .await
            .map_err(failed("marking mail delivered"))
    }

    /// Records a failed attempt that is worth repeating: the mail waits until
    /// `next_attempt_at`, its claim released.
    pub async fn defer_mail(
        &self,
        message_id: &str,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, claimed_by = NULL, claimed_until = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_process_start = NULL WHERE message_id = $3",
        )
        .bind(error)
        .bind(next_attempt_at)
        .bind(message_id)
        .execute(&self.pool)
        .await
        .map_err(failed("recording a failed delivery"))?;
        Ok(())
    }

    /// Records a failed attempt after which the mail is not tried again until an operator
    /// asks for it ([`Database::requeue_failed_mail`]); its claim is released.
    pub async fn mark_mail_failed(
        &self,
        message_id: &str,
        error: &str,
        at: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, failed_at = $2, claimed_by = NULL, claimed_until = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_process_start = NULL WHERE message_id = $3",
        )
        .bind(error)
        .bind(at)
        .bind(message_id)
        .execute(&self.pool)
        .await
        .map_err(failed("recording a failed delivery"))?;
        Ok(())
    }

    /// The delivery state of one queued mail.
    pub async fn mail_delivery(
        &self,
        message_id: &str,
    ) -> Result<Option<MailDelivery>, StorageError> {
        let row = sqlx::query(
            "SELECT message_id, queued_at, attempts, next_attempt_at, delivered_at, failed_at, last_error, cancelled_at, claimed_by, claimed_host, claimed_pid, claimed_process_start, claimed_until FROM outbox WHERE message_id = $1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("reading the outbox"))?;
        row.as_ref()
            .map(mail_delivery)
            .transpose()
            .map_err(failed("reading the outbox"))
    }

    /// The recipients (normalised) of the queued mail `message_id`: none when there is no
    /// such mail, or its recipient was erased since (`mail.forget`). For attributing a
    /// bounce by its VERP return path (`crate::feedback`).
    pub async fn mail_recipients(&self, message_id: &str) -> Result<Vec<String>, StorageError> {
        sqlx::query_scalar(
            "SELECT address FROM outbox_recipients WHERE message_id = $1 ORDER BY address",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading the outbox's recipients"))
    }

    /// Mail not delivered yet (waiting or failed for good), oldest first.
    pub async fn undelivered_mail(&self, limit: u32) -> Result<Vec<MailDelivery>, StorageError> {
        let rows = sqlx::query(
            "SELECT message_id, queued_at, attempts, next_attempt_at, delivered_at, failed_at, last_error, cancelled_at, claimed_by, claimed_host, claimed_pid, claimed_process_start, claimed_until FROM outbox WHERE delivered_at IS NULL AND cancelled_at IS NULL ORDER BY queued_at, message_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading the outbox"))?;
        rows.iter()
            .map(mail_delivery)
            .collect::<Result<_, _>>()
            .map_err(failed("reading the outbox"))
    }

    /// Puts every mail that failed for good back in the queue, due at `now` with a fresh
    /// count of attempts (an operator fixed the cause). Returns how many.
    pub async fn requeue_failed_mail(&self, now: i64) -> Result<u64, StorageError> {
        let result = sqlx::query(
            "UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_process_start = NULL WHERE delivered_at IS NULL AND failed_at IS NOT NULL AND cancelled_at IS NULL",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(failed("queuing failed mail again"))?;
        Ok(result.rows_affected())
    }
}

/// Who holds a claim on queued mail: a delivery pass of one host process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHolder {
    /// Unique per claiming outbox (a random id), so a claim is never mistaken for another's.
    pub claim_id: String,
    /// The name of the machine the process runs on, when known.
    pub host: Option<String>,
    /// The process id, when known.
    pub pid: Option<u32>,
    /// When the process started (clock ticks since boot on Linux), so a process id the
    /// system gave to a later process is not taken for the holder.
    pub process_start: Option<i64>,
}

impl ClaimHolder {
    /// A holder known by its claim id only: its claims lapse with their lease.
    pub fn named(claim_id: &str) -> ClaimHolder {
        ClaimHolder {
            claim_id: claim_id.to_owned(),
            host: None,
            pid: None,
            process_start: None,
        }
    }
}

/// A claim holding a queued mail, as `privacy-guard outbox` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailClaim {
    pub holder: ClaimHolder,
    /// When the claim lapses unless its holder renews it.
    pub until: i64,
}

/// A queued mail with its delivery state.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub mail: QueuedMail,
    pub queued_at: i64,
    pub attempts: i64,
}

/// Where a queued mail stands: for operators (`privacy-guard outbox`) and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDelivery {
    pub message_id: String,
    pub queued_at: i64,
    /// Attempts made so far (the successful one included).
    pub attempts: i64,
    /// When the next attempt may be made (0: at once).
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    /// Set when delivery was given up; an operator may queue the mail again.
    pub failed_at: Option<i64>,
    /// Why the last attempt failed (addresses replaced by `<address>`).
    pub last_error: Option<String>,
    /// Set when the mail was cancelled before delivery: its recipient was erased.
    pub cancelled_at: Option<i64>,
    /// The claim of the delivery pass holding the mail, if any (it may have lapsed).
    pub claim: Option<MailClaim>,
}

/// Cancels the undelivered mail to `address` (normalised) and destroys the stored copy of
/// every mail to it, inside `transaction`; returns the ids of those already delivered.
pub(super) async fn forget_mail_to(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    address: &str,
    now: i64,
) -> Result<Vec<String>, StorageError> {
    let operation = "forgetting the mail of an erased address";
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM outbox_recipients WHERE address = $1")
            .bind(address)
            .fetch_all(&mut **transaction)
            .await
            .map_err(failed(operation))?;
    let mut delivered = Vec::new();
    for id in &ids {
        let was_delivered: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE outbox SET message = '', last_error = NULL, claimed_by = NULL, claimed_until = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_process_start = NULL, \
             cancelled_at = CASE WHEN delivered_at IS NULL THEN $1 ELSE cancelled_at END \
             WHERE message_id = $2 RETURNING delivered_at",
        )
        .bind(now)
        .bind(id.as_str())
        .fetch_optional(&mut **transaction)
        .await
        .map_err(failed(operation))?;
        if let Some(Some(_)) = was_delivered {
            delivered.push(id.clone());
        }
    }
    sqlx::query("DELETE FROM outbox_recipients WHERE address = $1")
        .bind(address)
        .execute(&mut **transaction)
        .await
        .map_err(failed(operation))?;
    Ok(delivered)
}

fn mail_delivery(row: &AnyRow) -> Result<MailDelivery, sqlx::Error> {
    Ok(MailDelivery {
        message_id: row.try_get(0)?,
        queued_at: row.try_get(1)?,
        attempts: row.try_get(2)?,
        next_attempt_at: row.try_get(3)?,
        delivered_at: row.try_get(4)?,
        failed_at: row.try_get(5)?,
        last_error: row.try_get(6)?,
        cancelled_at: row.try_get(7)?,
        claim: match (row.try_get::<Option<String>, _>(8)?, row.try_get(12)?) {
            (Some(claim_id), Some(until)) => {
                let pid: Option<i64> = row.try_get(10)?;
                Some(MailClaim {
                    holder: ClaimHolder {
                        claim_id,
                        host: row.try_get(9)?,
                        pid: pid.and_then(|pid| u32::try_from(pid).ok()),
                        process_start: row.try_get(11)?,
                    },
                    until,
                })
            }
            _ => None,
        },
    })
}
