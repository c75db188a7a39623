//! Making a unit of work durable: one transaction that advances the commit generation
//! (the writers' lock), writes the plugin's state, appends the events to the chain, writes
//! the records, queues the mail, forgets the mail of erased addresses, and records job
//! progress; then the cache is brought up to date.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use sqlx::Row;

use super::events::chain_hash;
use super::outbox::forget_mail_to;
use super::{
    ADVANCE_GENERATION, Database, NewEvent, PARAMETERS_PER_STATEMENT, RecordRow, StorageError,
    UnitOfWork, encoding, failed, normalise_email, placeholders, rows_sql,
};

impl Database {
    // ---- commit --------------------------------------------------------------------------

    /// Makes a unit of work durable in one transaction, then updates the cache.
    pub async fn commit(&self, work: &UnitOfWork, now: i64) -> Result<Committed, StorageError> {
        if work.is_empty() {
            return Ok(Committed::default());
        }
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("starting a transaction"))?;
        // Advancing the generation first takes the writers' lock (see `LOCK_WRITERS`), so
        // concurrent writers of every host process queue here; a generation that moved
        // since this process last looked means the unit's reads may be stale. On PostgreSQL
        // a writer that waited for the row sees the other's increment (READ COMMITTED
        // re-reads the updated row), so the check below catches it.
        let expected = self.generation.load(Ordering::SeqCst);
        let generation: i64 = sqlx::query_scalar(ADVANCE_GENERATION)
            .fetch_one(&mut *transaction)
            .await
            .map_err(failed("advancing the commit generation"))?;
        if generation != expected + 1 {
            drop(transaction);
            self.refresh().await?;
            return Err(StorageError::Conflict);
        }
        let (upserts, deletions): (Vec<_>, Vec<_>) =
            work.kv.iter().partition(|(_, value)| value.is_some());
        for chunk in upserts.chunks(PARAMETERS_PER_STATEMENT / 2) {
            let sql = rows_sql(
                "INSERT INTO plugin_kv (key, value) VALUES ",
                2,
                chunk.len(),
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (key, value) in chunk {
                query = query
                    .bind(key.as_str())
                    .bind((*value).clone().unwrap_or_default());
            }
            query
                .execute(&mut *transaction)
                .await
                .map_err(failed("writing plugin state"))?;
        }
        for chunk in deletions.chunks(PARAMETERS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM plugin_kv WHERE key IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (key, _) in chunk {
                query = query.bind(key.as_str());
            }
            query
                .execute(&mut *transaction)
                .await
                .map_err(failed("writing plugin state"))?;
        }
        if !work.events.is_empty() {
            // Under the writers' lock no other transaction appends, so numbering on from the
            // last event keeps the sequence gapless and the chain a single line; the primary
            // key would refuse a second event with the same number.
            let last = sqlx::query(
                "SELECT sequence, chain_hash FROM plugin_events ORDER BY sequence DESC LIMIT 1",
            )
            .fetch_optional(&mut *transaction)
            .await
            .map_err(failed("reading the event chain"))?;
            let (mut sequence, mut previous): (i64, [u8; 32]) = match last {
                Some(row) => {
                    let sequence: i64 =
                        row.try_get(0).map_err(failed("reading the event chain"))?;
                    let hash: Vec<u8> =
                        row.try_get(1).map_err(failed("reading the event chain"))?;
                    (sequence, hash.try_into().unwrap_or([0; 32]))
                }
                None => (0, [0; 32]),
            };
            let chained: Vec<(i64, &NewEvent, [u8; 32])> = work
                .events
                .iter()
                .map(|event| {
                    sequence += 1;
                    previous = chain_hash(&previous, &event.stream, &event.payload, now);
                    (sequence, event, previous)
                })
                .collect();
            for chunk in chained.chunks(PARAMETERS_PER_STATEMENT / 5) {
                let sql = rows_sql(
                    "INSERT INTO plugin_events (sequence, stream, payload, recorded_at, chain_hash) VALUES ",
                    5,
                    chunk.len(),
                    "",
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (sequence, event, hash) in chunk {
                    query = query
                        .bind(*sequence)
                        .bind(event.stream.as_str())
                        .bind(event.payload.as_str())
                        .bind(now)
                        .bind(hash.to_vec());
                }
                query
                    .execute(&mut *transaction)
                    .await
                    .map_err(failed("appending events"))?;
            }
        }
        let records: Vec<&RecordRow> = work.records.values().collect();
        for chunk in records.chunks(PARAMETERS_PER_STATEMENT / 7) {
            let sql = rows_sql(
                "INSERT INTO records (module, id, email, fields, status, locked, modified_at) VALUES ",
                7,
                chunk.len(),
                " ON CONFLICT (module, id) DO UPDATE SET email = excluded.email, fields = excluded.fields, status = excluded.status, locked = excluded.locked, modified_at = excluded.modified_at",
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for record in chunk {
                let sealed = self
                    .field_cipher
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .seal_fields(&record.module, &record.id, &record.fields)?;
                let fields = serde_json::to_string(&sealed)
                    .map_err(|error| encoding("encoding a record", error))?;
                query = query
                    .bind(record.module.as_str())
                    .bind(record.id.as_str())
                    .bind(record.normalised_email())
                    .bind(fields)
                    .bind(record.status.as_str())
                    .bind(i64::from(record.locked))
                    .bind(record.modified_at);
            }
            query
                .execute(&mut *transaction)
                .await
                .map_err(failed("writing records"))?;
        }
        for chunk in work.mails.chunks(PARAMETERS_PER_STATEMENT / 4) {
            let sql = rows_sql(
                "INSERT INTO outbox (message_id, queued_at, message, attempts) VALUES ",
                4,
                chunk.len(),
                " ON CONFLICT (message_id) DO NOTHING",
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for mail in chunk {
                let message = serde_json::to_string(mail)
                    .map_err(|error| encoding("encoding a mail", error))?;
                query = query
                    .bind(mail.message_id.as_str())
                    .bind(now)
                    .bind(message)
                    .bind(0_i64);
            }
            query
                .execute(&mut *transaction)
                .await
                .map_err(failed("queuing mail"))?;
        }
        let recipients: Vec<(&str, String)> = work
            .mails
            .iter()
            .flat_map(|mail| {
                let mut addresses: Vec<String> = mail
                    .to
                    .iter()
                    .map(|mailbox| normalise_email(&mailbox.address))
                    .collect();
                addresses.sort();
                addresses.dedup();
                addresses
                    .into_iter()
                    .map(|address| (mail.message_id.as_str(), address))
            })
            .collect();
        for chunk in recipients.chunks(PARAMETERS_PER_STATEMENT / 2) {
            let sql = rows_sql(
                "INSERT INTO outbox_recipients (message_id, address) VALUES ",
                2,
                chunk.len(),
                " ON CONFLICT (message_id, address) DO NOTHING",
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (message_id, address) in chunk {
                query = query.bind(*message_id).bind(address.as_str());
            }
            query
                .execute(&mut *transaction)
                .await
                .map_err(failed("queuing mail"))?;
        }
        let mut forgotten = Vec::new();
        for address in &work.forgotten_addresses {
            forgotten.extend(forget_mail_to(&mut transaction, address, now).await?);
        }
        for (module, field) in &work.removed_layout_fields {
            sqlx::query(
                "INSERT INTO layout_removed_fields (module, field, removed_at) VALUES ($1, $2, $3) ON CONFLICT (module, field) DO NOTHING",
            )
            .bind(module.as_str())
            .bind(field.as_str())
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(failed("removing a field from the layout"))?;
        }
        if let Some(progress) = &work.job_progress {
            sqlx::query(
                "INSERT INTO job_runs (job, period, started_at, finished_at, cursor, people, requests) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (job, period) DO UPDATE SET finished_at = excluded.finished_at, cursor = excluded.cursor, people = excluded.people, requests = excluded.requests",
            )
            .bind(progress.job.as_str())
            .bind(progress.period.as_str())
            .bind(now)
            .bind(progress.finished.then_some(now))
            .bind(progress.cursor.clone())
            .bind(progress.people as i64)
            .bind(progress.requests as i64)
            .execute(&mut *transaction)
            .await
            .map_err(failed("recording job progress"))?;
        }
        transaction.commit().await.map_err(failed("committing"))?;

        let mut cache = self
            .kv_cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (key, value) in &work.kv {
            cache.insert(key.clone(), value.as_deref().map(Arc::from));
        }
        self.generation.store(generation, Ordering::SeqCst);
        Ok(Committed {
            forgotten_deliveries: forgotten,
        })
    }
}

/// What a commit did beyond storing the unit of work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Ids of delivered mail to forgotten addresses, whose stored copies are destroyed:
    /// the transport's own copies (`.eml` files) go too.
    pub forgotten_deliveries: Vec<String>,
}
