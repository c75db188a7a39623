//! Making a unit of work durable: one transaction of named steps — take the writers' lock
//! by advancing the commit generation, write the plugin's state, append the events to the
//! chain, write the records, queue the mail, forget the mail of erased addresses, remove
//! layout fields, record job progress — then bring the cache up to date. The same steps
//! serve a commit left open for many units (`open_commit.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::events::chain_hash;
use super::outbox::forget_mail_to;
use super::{
    ADVANCE_GENERATION, Backend, Database, JobProgress, NewEvent, PARAMETERS_PER_STATEMENT,
    QueuedMail, RecordRow, StorageError, UnitOfWork, encoding, failed, normalise_email,
    placeholders, rows_sql,
};

/// A statement with bound values, ready to run.
type Query = sqlx::query::Query<'static, Any, AnyArguments>;

impl Database {
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
        let generation = self.advance_generation(&mut transaction).await?;
        let forgotten_deliveries = self.write_steps(&mut transaction, work, now).await?;
        transaction.commit().await.map_err(failed("committing"))?;
        self.cache_committed(&work.kv, generation);
        Ok(Committed {
            forgotten_deliveries,
        })
    }

    /// Writes a unit of work's steps into a transaction holding the writers' lock; returns
    /// the ids of delivered mail to forgotten addresses.
    pub(super) async fn write_steps(
        &self,
        transaction: &mut Transaction<'_, Any>,
        work: &UnitOfWork,
        now: i64,
    ) -> Result<Vec<String>, StorageError> {
        let per_statement = parameters_per_statement(self.backend);
        let connection: &mut AnyConnection = transaction;
        write_state(connection, &work.kv, per_statement).await?;
        append_events(connection, &work.events, now, per_statement).await?;
        self.write_records(connection, &work.records, per_statement)
            .await?;
        queue_mail(connection, &work.mails, now, per_statement).await?;
        let mut forgotten_deliveries = Vec::new();
        for address in &work.forgotten_addresses {
            forgotten_deliveries.extend(forget_mail_to(transaction, address, now).await?);
            super::cases::forget_case_address(transaction, address).await?;
        }
        remove_layout_fields(transaction, &work.removed_layout_fields, now).await?;
        if let Some(progress) = &work.job_progress {
            record_job_progress(transaction, progress, now).await?;
        }
        for case in &work.rights_requests {
            super::cases::write_rights_request(transaction, case).await?;
        }
        Ok(forgotten_deliveries)
    }

    /// Takes the writers' lock by advancing the generation (see `LOCK_WRITERS`), so
    /// concurrent writers of every host process queue here. A generation that moved since
    /// this process last looked means the unit's reads may be stale: the unit is refused
    /// as a [`StorageError::Conflict`]. On PostgreSQL a writer that waited for the row sees
    /// the other's increment (READ COMMITTED re-reads the updated row), so this catches it.
    pub(super) async fn advance_generation(
        &self,
        transaction: &mut Transaction<'_, Any>,
    ) -> Result<i64, StorageError> {
        let expected = self.generation.load(Ordering::SeqCst);
        let generation: i64 = sqlx::query_scalar(ADVANCE_GENERATION)
            .fetch_one(&mut **transaction)
            .await
            .map_err(failed("advancing the commit generation"))?;
        if generation != expected + 1 {
            self.refresh().await?;
            return Err(StorageError::Conflict);
        }
        Ok(generation)
    }

    /// Writes the records in their complete new form, the fields the plugin classifies
    /// `encrypted` sealed.
    async fn write_records(
        &self,
        connection: &mut AnyConnection,
        records: &BTreeMap<(String, String), RecordRow>,
        per_statement: usize,
    ) -> Result<(), StorageError> {
        let rows = {
            let cipher = self
                .field_cipher
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            records
                .values()
                .map(|record| {
                    let sealed = cipher.seal_fields(&record.module, &record.id, &record.fields)?;
                    let fields = serde_json::to_string(&sealed)
                        .map_err(|error| encoding("encoding a record", error))?;
                    Ok((record, fields))
                })
                .collect::<Result<Vec<_>, StorageError>>()?
        };
        insert_rows(
            connection,
            Insert {
                into: "records (module, id, email, fields, status, locked, modified_at)",
                columns: 7,
                on_conflict: " ON CONFLICT (module, id) DO UPDATE SET email = excluded.email, fields = excluded.fields, status = excluded.status, locked = excluded.locked, modified_at = excluded.modified_at",
                operation: "writing records",
                per_statement,
            },
            &rows,
            |query, (record, fields)| {
                query
                    .bind(record.module.as_str())
                    .bind(record.id.as_str())
                    .bind(record.normalised_email())
                    .bind(fields.as_str())
                    .bind(record.status.as_str())
                    .bind(i64::from(record.locked))
                    .bind(record.modified_at)
            },
        )
        .await
    }

    /// Brings the cache up to the committed state and generation.
    pub(super) fn cache_committed(&self, kv: &BTreeMap<String, Option<Vec<u8>>>, generation: i64) {
        let mut cache = self
            .kv_cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (key, value) in kv {
            cache.insert(key.clone(), value.as_deref().map(Arc::from));
        }
        self.generation.store(generation, Ordering::SeqCst);
    }
}

/// What a commit did beyond storing the unit of work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Ids of delivered mail to forgotten addresses, whose stored copies are destroyed:
    /// the transport's own copies (`.eml` files) go too.
    pub forgotten_deliveries: Vec<String>,
}

/// A multi-row `INSERT`: `INSERT INTO {into} VALUES (…), … {on_conflict}`.
struct Insert {
    into: &'static str,
    columns: usize,
    on_conflict: &'static str,
    /// What failed, for the error.
    operation: &'static str,
    /// Bound parameters per statement ([`parameters_per_statement`]).
    per_statement: usize,
}

/// Bound parameters per statement on `backend`. SQLite looks a parameter's name up by a
/// linear walk for every parameter bound, so a statement costs time quadratic in its
/// parameter count: 420 spent a quarter of a 100,000-contact import binding; 64 keep that
/// small while a statement still carries rows enough. PostgreSQL has no such cost, and
/// fewer statements are fewer round trips.
pub(super) fn parameters_per_statement(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 64,
        Backend::Postgres => PARAMETERS_PER_STATEMENT,
    }
}

/// Inserts `rows`, as many per statement as `insert.per_statement` allows; `bind`
/// binds one row's values in the columns' order.
async fn insert_rows<R>(
    connection: &mut AnyConnection,
    insert: Insert,
    rows: &[R],
    bind: impl Fn(Query, &R) -> Query,
) -> Result<(), StorageError> {
    for chunk in rows.chunks((insert.per_statement / insert.columns).max(1)) {
        let sql = rows_sql(
            &format!("INSERT INTO {} VALUES ", insert.into),
            insert.columns,
            chunk.len(),
            insert.on_conflict,
        );
        let query = chunk
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), &bind);
        query
            .execute(&mut *connection)
            .await
            .map_err(failed(insert.operation))?;
    }
    Ok(())
}

/// Writes the plugin's key-value changes: values set, keys deleted.
async fn write_state(
    connection: &mut AnyConnection,
    kv: &BTreeMap<String, Option<Vec<u8>>>,
    per_statement: usize,
) -> Result<(), StorageError> {
    let (upserts, deletions): (Vec<_>, Vec<_>) = kv.iter().partition(|(_, value)| value.is_some());
    insert_rows(
        connection,
        Insert {
            into: "plugin_kv (key, value)",
            columns: 2,
            on_conflict: " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            operation: "writing plugin state",
            per_statement,
        },
        &upserts,
        |query, (key, value)| {
            query
                .bind(key.as_str())
                .bind(value.as_deref().unwrap_or_default())
        },
    )
    .await?;
    for chunk in deletions.chunks(per_statement) {
        let sql = format!(
            "DELETE FROM plugin_kv WHERE key IN ({})",
            placeholders(1, chunk.len())
        );
        let query = chunk
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |query, (key, _)| {
                query.bind(key.as_str())
            });
        query
            .execute(&mut *connection)
            .await
            .map_err(failed("writing plugin state"))?;
    }
    Ok(())
}

/// Appends the events to the chain, each hashed with the one before. Under the writers'
/// lock no other transaction appends, so numbering on from the last event keeps the
/// sequence gapless and the chain a single line; the primary key would refuse a second
/// event with the same number. A stored hash that is not 32 bytes is corruption: the
/// commit is refused naming the event, and nothing is chained onto it.
async fn append_events(
    connection: &mut AnyConnection,
    events: &[NewEvent],
    now: i64,
    per_statement: usize,
) -> Result<(), StorageError> {
    if events.is_empty() {
        return Ok(());
    }
    let last = sqlx::query(
        "SELECT sequence, chain_hash FROM plugin_events ORDER BY sequence DESC LIMIT 1",
    )
    .fetch_optional(&mut *connection)
    .await
    .map_err(failed("reading the event chain"))?;
    let (mut sequence, mut previous): (i64, [u8; 32]) = match last {
        Some(row) => {
            let sequence: i64 = row.try_get(0).map_err(failed("reading the event chain"))?;
            let hash: Vec<u8> = row.try_get(1).map_err(failed("reading the event chain"))?;
            let hash = <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| {
                StorageError::CorruptChainHash {
                    sequence,
                    length: hash.len(),
                }
            })?;
            (sequence, hash)
        }
        None => (0, [0; 32]),
    };
    let chained: Vec<(i64, &NewEvent, [u8; 32])> = events
        .iter()
        .map(|event| {
            sequence += 1;
            previous = chain_hash(&previous, &event.stream, &event.payload, now);
            (sequence, event, previous)
        })
        .collect();
    insert_rows(
        connection,
        Insert {
            into: "plugin_events (sequence, stream, payload, recorded_at, chain_hash)",
            columns: 5,
            on_conflict: "",
            operation: "appending events",
            per_statement,
        },
        &chained,
        |query, (sequence, event, hash)| {
            query
                .bind(*sequence)
                .bind(event.stream.as_str())
                .bind(event.payload.as_str())
                .bind(now)
                .bind(hash.to_vec())
        },
    )
    .await
}

/// Queues the mail, with each message's recipients (normalised) so that an erasure finds
/// the mail of an address.
async fn queue_mail(
    connection: &mut AnyConnection,
    mails: &[QueuedMail],
    now: i64,
    per_statement: usize,
) -> Result<(), StorageError> {
    let messages = mails
        .iter()
        .map(|mail| {
            serde_json::to_string(mail)
                .map(|message| (mail.message_id.clone(), message))
                .map_err(|error| encoding("encoding a mail", error))
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    insert_rows(
        connection,
        Insert {
            into: "outbox (message_id, queued_at, message, attempts)",
            columns: 4,
            on_conflict: " ON CONFLICT (message_id) DO NOTHING",
            operation: "queuing mail",
            per_statement,
        },
        &messages,
        |query, (message_id, message)| {
            query
                .bind(message_id.as_str())
                .bind(now)
                .bind(message.as_str())
                .bind(0_i64)
        },
    )
    .await?;
    let recipients: Vec<(&str, String)> = mails
        .iter()
        .flat_map(|mail| {
            let addresses: BTreeSet<String> = mail
                .to
                .iter()
                .map(|mailbox| normalise_email(&mailbox.address))
                .collect();
            addresses
                .into_iter()
                .map(|address| (mail.message_id.as_str(), address))
        })
        .collect();
    insert_rows(
        connection,
        Insert {
            into: "outbox_recipients (message_id, address)",
            columns: 2,
            on_conflict: " ON CONFLICT (message_id, address) DO NOTHING",
            operation: "queuing mail",
            per_statement,
        },
        &recipients,
        |query, (message_id, address)| query.bind(*message_id).bind(address.as_str()),
    )
    .await
}

/// Records the fields removed from the layout, which the host stops collecting.
async fn remove_layout_fields(
    connection: &mut AnyConnection,
    fields: &BTreeSet<(String, String)>,
    now: i64,
) -> Result<(), StorageError> {
    for (module, field) in fields {
        sqlx::query(
            "INSERT INTO layout_removed_fields (module, field, removed_at) VALUES ($1, $2, $3) ON CONFLICT (module, field) DO NOTHING",
        )
        .bind(module.as_str())
        .bind(field.as_str())
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(failed("removing a field from the layout"))?;
    }
    Ok(())
}

/// Records how far a scheduled job got, with the page that got it there.
async fn record_job_progress(
    connection: &mut AnyConnection,
    progress: &JobProgress,
    now: i64,
) -> Result<(), StorageError> {
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
    .execute(&mut *connection)
    .await
    .map_err(failed("recording job progress"))?;
    Ok(())
}
