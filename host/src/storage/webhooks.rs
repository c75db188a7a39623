//! Webhook deliveries: batches of the change feed per endpoint, claimed, delivered, retried
//! and failed like the mail outbox's messages; and where the event log ends, for the feed.
//!
//! An endpoint (its URL) has at most one batch not delivered at a time: the next batch is
//! opened only when the last one is delivered, starting where it ended, so an endpoint gets
//! the feed in order. Batches are opened and claimed under the writers' lock, and an
//! endpoint has one batch per starting point (a unique key), so two host processes never
//! open two batches over the same events nor deliver one batch at once.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Database, LOCK_WRITERS, StorageError, failed};

/// What an endpoint's next delivery is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookClaim {
    /// This batch, claimed for the caller.
    Batch(WebhookBatch),
    /// Every batch so far is delivered: the next starts after `position`.
    Open { position: u64 },
    /// Nothing to do now: the open batch waits for its next attempt, is claimed by another
    /// process, or failed for good (an operator must look at it).
    Blocked,
}

/// One batch of the feed for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookBatch {
    /// The batch's Idempotency-Key, the same on every attempt.
    pub delivery_id: String,
    pub endpoint: String,
    /// The batch holds the changes of the events after this sequence…
    pub after_sequence: u64,
    /// …up to and including this one.
    pub through_sequence: u64,
    /// Attempts made so far.
    pub attempts: i64,
}

/// Where a batch not delivered yet stands: for operators (`privacy-guard webhooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub delivery_id: String,
    pub endpoint: String,
    pub after_sequence: u64,
    pub through_sequence: u64,
    pub changes: u64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub failed_at: Option<i64>,
    /// Why the last attempt failed: the status or the connection error.
    pub last_error: Option<String>,
}

impl Database {
    /// The sequence of the last committed event (0 when the log is empty).
    pub async fn last_event_sequence(&self) -> Result<u64, StorageError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(sequence) FROM plugin_events")
            .fetch_one(&self.pool)
            .await
            .map_err(failed("reading the end of the event log"))?;
        Ok(last.unwrap_or(0).max(0) as u64)
    }

    /// Claims `endpoint`'s open batch for `claimant` until `claimed_until` when it is due at
    /// `now`, or says where the next batch starts when every batch is delivered.
    pub async fn claim_webhook_batch(
        &self,
        endpoint: &str,
        claimant: &str,
        now: i64,
        claimed_until: i64,
    ) -> Result<WebhookClaim, StorageError> {
        let operation = "claiming a webhook delivery";
        let mut transaction = self.pool.begin().await.map_err(failed(operation))?;
        sqlx::query(LOCK_WRITERS)
            .execute(&mut *transaction)
            .await
            .map_err(failed(operation))?;
        let open = sqlx::query(
            "SELECT delivery_id, endpoint, after_sequence, through_sequence, attempts, next_attempt_at, failed_at, claimed_by, claimed_until \
             FROM webhook_deliveries WHERE endpoint = $1 AND delivered_at IS NULL ORDER BY after_sequence LIMIT 1",
        )
        .bind(endpoint)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(failed(operation))?;
        let claim = match open {
            None => {
                let position: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(through_sequence) FROM webhook_deliveries WHERE endpoint = $1",
                )
                .bind(endpoint)
                .fetch_one(&mut *transaction)
                .await
                .map_err(failed(operation))?;
                WebhookClaim::Open {
                    position: position.unwrap_or(0).max(0) as u64,
                }
            }
            Some(row) => {
                let batch = webhook_batch(&row).map_err(failed(operation))?;
                let next_attempt_at: i64 = row.try_get(5).map_err(failed(operation))?;
                let failed_at: Option<i64> = row.try_get(6).map_err(failed(operation))?;
                let claimed_by: Option<String> = row.try_get(7).map_err(failed(operation))?;
                let claimed_until_now: Option<i64> = row.try_get(8).map_err(failed(operation))?;
                let held_by_another = claimed_until_now.is_some_and(|until| until >= now)
                    && claimed_by.as_deref() != Some(claimant);
                if failed_at.is_some() || next_attempt_at > now || held_by_another {
                    WebhookClaim::Blocked
                } else {
                    sqlx::query("UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2 WHERE delivery_id = $3")
                        .bind(claimant)
                        .bind(claimed_until)
                        .bind(batch.delivery_id.as_str())
                        .execute(&mut *transaction)
                        .await
                        .map_err(failed(operation))?;
                    WebhookClaim::Batch(batch)
                }
            }
        };
        transaction.commit().await.map_err(failed(operation))?;
        Ok(claim)
    }

    /// Opens and claims `endpoint`'s next batch, the events after `after` through
    /// `through`, when every earlier batch is delivered and ends at `after`; `None` when
    /// another process opened one first (its claim decides who delivers it).
    #[allow(clippy::too_many_arguments)]
    pub async fn open_webhook_batch(
        &self,
        endpoint: &str,
        after: u64,
        through: u64,
        changes: u64,
        delivery_id: &str,
        claimant: &str,
        now: i64,
        claimed_until: i64,
    ) -> Result<Option<WebhookBatch>, StorageError> {
        let operation = "opening a webhook delivery";
        let mut transaction = self.pool.begin().await.map_err(failed(operation))?;
        sqlx::query(LOCK_WRITERS)
            .execute(&mut *transaction)
            .await
            .map_err(failed(operation))?;
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL), COALESCE(MAX(through_sequence), 0) FROM webhook_deliveries WHERE endpoint = $1",
        )
        .bind(endpoint)
        .fetch_one(&mut *transaction)
        .await
        .map_err(failed(operation))?;
        let open: i64 = row.try_get(0).map_err(failed(operation))?;
        let position: i64 = row.try_get(1).map_err(failed(operation))?;
        if open > 0 || position != after as i64 {
            transaction.commit().await.map_err(failed(operation))?;
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (delivery_id, endpoint, after_sequence, through_sequence, changes, created_at, attempts, next_attempt_at, claimed_by, claimed_until) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)",
        )
        .bind(delivery_id)
        .bind(endpoint)
        .bind(after as i64)
        .bind(through as i64)
        .bind(changes as i64)
        .bind(now)
        .bind(now)
        .bind(claimant)
        .bind(claimed_until)
        .execute(&mut *transaction)
        .await
        .map_err(failed(operation))?;
        transaction.commit().await.map_err(failed(operation))?;
        Ok(Some(WebhookBatch {
            delivery_id: delivery_id.to_owned(),
            endpoint: endpoint.to_owned(),
            after_sequence: after,
            through_sequence: through,
            attempts: 0,
        }))
    }

    /// Records a batch delivered (the endpoint answered 2xx), releasing its claim.
    pub async fn mark_webhook_delivered(
        &self,
        delivery_id: &str,
        at: i64,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE webhook_deliveries SET delivered_at = $1, attempts = attempts + 1, last_error = NULL, claimed_by = NULL, claimed_until = NULL WHERE delivery_id = $2")
            .bind(at)
            .bind(delivery_id)
            .execute(&self.pool)
            .await
            .map_err(failed("recording a webhook delivery"))?;
        Ok(())
    }

    /// Records a failed attempt: the batch waits until `next_attempt_at`, or, with `None`,
    /// is failed until an operator asks for it again. Its claim is released.
    pub async fn record_webhook_failure(
        &self,
        delivery_id: &str,
        error: &str,
        next_attempt_at: Option<i64>,
        now: i64,
    ) -> Result<(), StorageError> {
        let query = match next_attempt_at {
            Some(next_attempt_at) => sqlx::query(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, claimed_by = NULL, claimed_until = NULL WHERE delivery_id = $3",
            )
            .bind(error)
            .bind(next_attempt_at),
            None => sqlx::query(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $1, failed_at = $2, claimed_by = NULL, claimed_until = NULL WHERE delivery_id = $3",
            )
            .bind(error)
            .bind(now),
        };
        query
            .bind(delivery_id)
            .execute(&self.pool)
            .await
            .map_err(failed("recording a failed webhook delivery"))?;
        Ok(())
    }

    /// Batches not delivered yet (waiting or failed), oldest first.
    pub async fn undelivered_webhooks(&self) -> Result<Vec<WebhookDelivery>, StorageError> {
        let rows = sqlx::query(
            "SELECT delivery_id, endpoint, after_sequence, through_sequence, changes, attempts, next_attempt_at, failed_at, last_error \
             FROM webhook_deliveries WHERE delivered_at IS NULL ORDER BY created_at, endpoint",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading webhook deliveries"))?;
        rows.iter()
            .map(|row| {
                Ok(WebhookDelivery {
                    delivery_id: row.try_get(0)?,
                    endpoint: row.try_get(1)?,
                    after_sequence: row.try_get::<i64, _>(2)?.max(0) as u64,
                    through_sequence: row.try_get::<i64, _>(3)?.max(0) as u64,
                    changes: row.try_get::<i64, _>(4)?.max(0) as u64,
                    attempts: row.try_get(5)?,
                    next_attempt_at: row.try_get(6)?,
                    failed_at: row.try_get(7)?,
                    last_error: row.try_get(8)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("reading webhook deliveries"))
    }

    /// Puts every failed batch back, due at `now` with a fresh count of attempts (an
    /// operator fixed the endpoint). Returns how many.
    pub async fn requeue_failed_webhooks(&self, now: i64) -> Result<u64, StorageError> {
        let result = sqlx::query(
            "UPDATE webhook_deliveries SET failed_at = NULL, attempts = 0, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL WHERE delivered_at IS NULL AND failed_at IS NOT NULL",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(failed("queuing failed webhook deliveries again"))?;
        Ok(result.rows_affected())
    }
}

fn webhook_batch(row: &AnyRow) -> Result<WebhookBatch, sqlx::Error> {
    Ok(WebhookBatch {
        delivery_id: row.try_get(0)?,
        endpoint: row.try_get(1)?,
        after_sequence: row.try_get::<i64, _>(2)?.max(0) as u64,
        through_sequence: row.try_get::<i64, _>(3)?.max(0) as u64,
        attempts: row.try_get(4)?,
    })
}
