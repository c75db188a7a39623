//! Durable storage of the reference host: the plugin's key-value state and event log, the
//! person records the host keeps as the CRM, the mail outbox, job runs and link keys.
//!
//! One code path over sqlx's `Any` driver, so the database is chosen by URL: SQLite or
//! PostgreSQL ([`Backend`] names the few differences). Placeholders are written
//! `$1, $2, ...` in ascending order; times are BIGINT unix milliseconds.
//! Reads of plugin state go through a write-through cache: committed writes update it,
//! readers only fill gaps, so a reader racing a commit never re-inserts an older value.

mod unit_of_work;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Executor, Row};

use crate::field_encryption::{FieldCipher, FieldCryptoError, new_key};

pub use self::unit_of_work::{JobProgress, MailboxRow, NewEvent, QueuedMail, UnitOfWork};

/// Bound parameters per statement when writing many rows. Far below the databases' limits
/// on purpose: binding by position costs SQLite time quadratic in a statement's parameter
/// count (measured: 15% of a 100,000-contact import at 2,800).
const PARAMETERS_PER_STATEMENT: usize = 420;

/// Keys read per query when fetching many keys at once.
const KEYS_PER_QUERY: usize = 900;

/// How stale the cache may get for read-only calls when another host process writes to
/// the same database. Mutating units always check first, and commits are conditional.
const READ_STALENESS: Duration = Duration::from_secs(1);

/// The database product a URL names. Queries are shared; what differs is listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `url`, by its scheme: `sqlite:` or `postgres:` (`postgresql:`).
    pub fn of_url(url: &str) -> Result<Backend, StorageError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StorageError::UnsupportedUrl {
                // Only the scheme: the rest of a URL may hold a password.
                found: if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                {
                    format!("it starts with `{scheme}:`")
                } else {
                    "it has no scheme".to_owned()
                },
            }),
        }
    }

    /// The migrations of this backend's schema (the same tables in each dialect).
    fn migrator(self) -> Migrator {
        match self {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        }
    }

    /// Connections per pool. SQLite has one writer at a time whatever the pool size.
    fn max_connections(self) -> u32 {
        match self {
            Backend::Sqlite => 4,
            Backend::Postgres => 10,
        }
    }

    /// Session settings run on every new connection.
    async fn configure(self, connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
        match self {
            // Consent data must survive a power cut: WAL with full syncs. Deleted content is
            // overwritten with zeros, so an erasure leaves nothing readable in free pages.
            Backend::Sqlite => {
                connection.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;").await?;
            }
            // The writers' lock relies on READ COMMITTED (a fresh snapshot per statement, and
            // a waiting UPDATE that re-reads the row): set it, whatever the server's default.
            Backend::Postgres => {
                connection
                    .execute(
                        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

/// How long purging erased values on PostgreSQL waits for older transactions to end.
const PURGE_WAIT: Duration = Duration::from_secs(10);

/// Takes the writers' lock: the generation row's lock on PostgreSQL, the database's write
/// lock on SQLite. Held to the end of the transaction, it queues every writer behind the
/// one holding it, and statements after it see everything committed before it was granted
/// (PostgreSQL's READ COMMITTED reads a fresh snapshot per statement). Every transaction
/// that changes shared state takes it first, so none overwrites another's change unseen.
const LOCK_WRITERS: &str = "UPDATE host_state SET value = value WHERE name = 'generation'";

/// The same lock, advancing the generation: how a unit of work's commit starts.
const ADVANCE_GENERATION: &str =
    "UPDATE host_state SET value = value + 1 WHERE name = 'generation' RETURNING value";

/// A storage failure, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage failed while {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// Another host process committed since this unit of work read its state; the unit
    /// was not committed and must be run again on fresh state.
    #[error("another host process changed the data first; the change was not saved and is retried")]
    Conflict,
    /// An encrypted field could not be encrypted or decrypted (names record and field).
    #[error(transparent)]
    Field(#[from] FieldCryptoError),
    #[error(
        "the database URL must start with sqlite: (e.g. sqlite://privacy-guard.db?mode=rwc) or postgres: (e.g. postgres://user@host/database); {found}"
    )]
    UnsupportedUrl { found: String },
}

fn failed(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StorageError {
    move |source| StorageError::Database { operation, source }
}

fn encoding(operation: &'static str, error: serde_json::Error) -> StorageError {
    StorageError::Database {
        operation,
        source: sqlx::Error::Encode(error.into()),
    }
}

/// A person record as the reference host keeps it (playing the CRM).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordRow {
    pub module: String,
    pub id: String,
    /// Field name and value, in the order the CRM's layout has them.
    pub fields: Vec<(String, String)>,
    pub status: String,
    pub locked: bool,
    pub modified_at: i64,
}

impl RecordRow {
    /// The value of a field, empty when the record does not have it.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Sets a field, appending it when the record does not have it yet.
    pub fn set_field(&mut self, name: &str, value: &str) {
        match self.fields.iter_mut().find(|(field, _)| field == name) {
            Some((_, existing)) => value.clone_into(existing),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
    }

    /// The normalised email address used for look-ups.
    pub fn normalised_email(&self) -> String {
        normalise_email(self.field("email"))
    }
}

/// Trims and lower-cases an address, the one form used for matching people.
pub fn normalise_email(address: &str) -> String {
    address.trim().to_lowercase()
}

/// A committed event of the plugin's log.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub sequence: u64,
    pub stream: String,
    pub payload: String,
    pub recorded_at: i64,
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
}

/// A job run as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub period: String,
    pub finished: bool,
    pub cursor: Option<String>,
    pub people: u64,
    pub requests: u64,
}

/// What the event-log check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerCheck {
    /// Every event's chain hash matches: the log is as it was written.
    Intact { events: u64 },
    /// The first event whose chain hash does not match.
    Broken { sequence: u64 },
}

/// Cached plugin state: a key's value, or `None` when the key is known to be absent.
type KvCache = HashMap<String, Option<Arc<[u8]>>, foldhash::fast::RandomState>;

/// The database, with the cache of the plugin's key-value state.
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    kv_cache: Arc<RwLock<KvCache>>,
    /// The commit generation the cache reflects.
    generation: Arc<AtomicI64>,
    /// When the generation was last compared with the database (ms since `epoch`).
    checked_at: Arc<AtomicU64>,
    epoch: Instant,
    /// Field keys and which record fields are stored encrypted.
    field_cipher: Arc<RwLock<FieldCipher>>,
    /// Set when [`Database::refresh`] finds that another host process committed: what this
    /// process derived from the plugin's state (which fields are encrypted) must be asked
    /// again before the next write.
    foreign_commit: Arc<AtomicBool>,
    backend: Backend,
}

impl Database {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and applies the
    /// migrations.
    pub async fn connect(url: &str) -> Result<Database, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            .after_connect(move |connection, _meta| Box::pin(backend.configure(connection)))
            .connect(url)
            .await
            .map_err(failed("connecting to the database"))?;
        // Host processes starting at once on one PostgreSQL database are safe: sqlx applies
        // migrations under an advisory lock.
        backend
            .migrator()
            .run(&pool)
            .await
            .map_err(|error| StorageError::Database {
                operation: "applying migrations",
                source: error.into(),
            })?;
        let database = Database {
            backend,
            pool,
            kv_cache: Arc::default(),
            generation: Arc::new(AtomicI64::new(0)),
            checked_at: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
            field_cipher: Arc::default(),
            foreign_commit: Arc::default(),
        };
        database.refresh().await?;
        Ok(database)
    }

    /// Makes erased data unreadable on disk. Call after committing an erasure.
    ///
    /// SQLite: the write-ahead log, which still holds page images from before the erasure,
    /// is checkpointed and truncated (deleted rows are already zeroed by `secure_delete`).
    /// PostgreSQL keeps a changed row's old version, bytes and index entries, until no
    /// transaction on the server may still see it, and plain `VACUUM` only marks the space
    /// free: the tables an erasure changes are rewritten (`VACUUM FULL`) once the
    /// transactions that began before it have ended, waiting at most [`PURGE_WAIT`].
    /// Copies the SQLite write-ahead log into the database and empties it; whether it went
    /// through (not `busy`).
    async fn checkpoint_truncating(&self) -> Result<bool, StorageError> {
        let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await
            .map_err(failed("purging erased values"))?;
        Ok(busy == 0)
    }

    pub async fn purge_erased(&self) -> Result<(), StorageError> {
        match self.backend {
            Backend::Sqlite => {
                if !self.checkpoint_truncating().await? {
                    // A pooled connection still reads an older snapshot (a statement not
                    // yet reset keeps its read open): close every pooled connection, which
                    // ends their reads, and try again. The pool opens new ones as needed.
                    let mut connections = Vec::new();
                    for _ in 0..self.pool.size() {
                        connections.push(
                            self.pool
                                .acquire()
                                .await
                                .map_err(failed("purging erased values"))?,
                        );
                    }
                    for connection in connections {
                        connection
                            .close()
                            .await
                            .map_err(failed("purging erased values"))?;
                    }
                    if !self.checkpoint_truncating().await? {
                        tracing::warn!(
                            "readers kept the write-ahead log busy; the erased values stay in it until the next checkpoint"
                        );
                    }
                }
            }
            Backend::Postgres => {
                let mut connection = self
                    .pool
                    .acquire()
                    .await
                    .map_err(failed("purging erased values"))?;
                // A transaction id taken now, after the erasure committed (text: the `Any`
                // driver carries no xid type).
                let reference: String =
                    sqlx::query_scalar("SELECT pg_current_xact_id()::xid::text")
                        .fetch_one(&mut *connection)
                        .await
                        .map_err(failed("purging erased values"))?;
                let deadline = Instant::now() + PURGE_WAIT;
                loop {
                    // VACUUM FULL keeps a dead row version while any session, in any database
                    // of the server, still runs a transaction or holds a snapshot older than
                    // the erasure: wait until none does.
                    let older: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
                         AND ((backend_xmin IS NOT NULL AND age(backend_xmin) > age($1::xid)) \
                           OR (backend_xid IS NOT NULL AND age(backend_xid) > age($1::xid)))",
                    )
                    .bind(reference.as_str())
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(failed("purging erased values"))?;
                    if older == 0 {
                        break;
                    }
                    if Instant::now() >= deadline {
                        tracing::warn!(
                            transactions = older,
                            "transactions older than an erasure are still running; the erased values stay in PostgreSQL's files until the next erasure or VACUUM FULL"
                        );
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                sqlx::query("VACUUM FULL records, plugin_kv, outbox, outbox_recipients")
                    .execute(&mut *connection)
                    .await
                    .map_err(failed("purging erased values"))?;
            }
        }
        Ok(())
    }

    // ---- cache coherence between host processes ----------------------------------------

    /// Drops the cache if another process committed since it was filled. Mutating units
    /// call this before they read.
    pub async fn refresh(&self) -> Result<(), StorageError> {
        let current: i64 =
            sqlx::query_scalar("SELECT value FROM host_state WHERE name = 'generation'")
                .fetch_one(&self.pool)
                .await
                .map_err(failed("reading the commit generation"))?;
        self.checked_at
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        if self.generation.load(Ordering::SeqCst) != current {
            // Flagged before the generation moves, so whoever sees the new generation
            // also sees the flag.
            self.foreign_commit.store(true, Ordering::SeqCst);
            let mut cache = self
                .kv_cache
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            cache.clear();
            self.generation.store(current, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Whether another host process committed since the last call (then clears the flag).
    pub fn take_foreign_commit(&self) -> bool {
        self.foreign_commit.swap(false, Ordering::SeqCst)
    }

    /// [`Database::refresh`], at most once per [`READ_STALENESS`]: for read-only calls.
    pub async fn refresh_for_read(&self) -> Result<(), StorageError> {
        let now = self.epoch.elapsed().as_millis() as u64;
        if now.saturating_sub(self.checked_at.load(Ordering::Relaxed))
            >= READ_STALENESS.as_millis() as u64
        {
            self.refresh().await
        } else {
            Ok(())
        }
    }

    // ---- plugin key-value state ----------------------------------------------------

    /// The values of `keys`, in order, from the cache or the database.
    pub async fn kv_get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<[u8]>>>, StorageError> {
        let mut values: Vec<Option<Arc<[u8]>>> = Vec::with_capacity(keys.len());
        let mut missing: Vec<usize> = Vec::new();
        {
            let cache = self.kv_cache.read().unwrap_or_else(PoisonError::into_inner);
            for (index, key) in keys.iter().enumerate() {
                match cache.get(*key) {
                    Some(value) => values.push(value.clone()),
                    None => {
                        values.push(None);
                        missing.push(index);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(values);
        }
        let mut found: HashMap<String, Arc<[u8]>> = HashMap::with_capacity(missing.len());
        for chunk in missing.chunks(KEYS_PER_QUERY) {
            let sql = format!(
                "SELECT key, value FROM plugin_kv WHERE key IN ({})",
                placeholders(1, chunk.len())
            );
            // Only placeholders are formatted into the text; the keys are bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for index in chunk {
                query = query.bind(keys[*index]);
            }
            for row in query
                .fetch_all(&self.pool)
                .await
                .map_err(failed("reading plugin state"))?
            {
                let key: String = row.try_get(0).map_err(failed("reading plugin state"))?;
                let value: Vec<u8> = row.try_get(1).map_err(failed("reading plugin state"))?;
                found.insert(key, value.into());
            }
        }
        let mut cache = self
            .kv_cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for index in missing {
            let value = found.remove(keys[index]);
            // Only fill gaps: a commit that raced this read has already put the newer value.
            values[index] = cache.entry(keys[index].to_owned()).or_insert(value).clone();
        }
        Ok(values)
    }

    /// Entries whose key starts with `prefix`, after `after`, in key order.
    pub async fn kv_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let upper = prefix_upper_bound(prefix);
        let lower = after.filter(|after| *after >= prefix).unwrap_or(prefix);
        let inclusive = after.is_none_or(|after| after < prefix);
        let sql = if inclusive {
            "SELECT key, value FROM plugin_kv WHERE key >= $1 AND ($2 = '' OR key < $3) ORDER BY key LIMIT $4"
        } else {
            "SELECT key, value FROM plugin_kv WHERE key > $1 AND ($2 = '' OR key < $3) ORDER BY key LIMIT $4"
        };
        let rows = sqlx::query(sql)
            .bind(lower)
            .bind(upper.clone().unwrap_or_default())
            .bind(upper.unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(failed("scanning plugin state"))?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("scanning plugin state"))
    }

    // ---- plugin events ---------------------------------------------------------------

    /// Committed events of `stream` after `after`, oldest first.
    pub async fn events(
        &self,
        stream: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let rows = sqlx::query("SELECT sequence, stream, payload, recorded_at FROM plugin_events WHERE stream = $1 AND sequence > $2 ORDER BY sequence LIMIT $3")
            .bind(stream)
            .bind(after.map_or(0, |after| after as i64))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(failed("reading events"))?;
        rows.iter()
            .map(stored_event)
            .collect::<Result<_, _>>()
            .map_err(failed("reading events"))
    }

    /// Walks the whole event log and checks its hash chain.
    pub async fn verify_ledger(&self) -> Result<LedgerCheck, StorageError> {
        let rows = sqlx::query("SELECT sequence, stream, payload, recorded_at, chain_hash FROM plugin_events ORDER BY sequence")
            .fetch_all(&self.pool)
            .await
            .map_err(failed("reading the event log"))?;
        let mut previous = [0u8; 32];
        for row in &rows {
            let event = stored_event(row).map_err(failed("reading the event log"))?;
            let stored: Vec<u8> = row.try_get(4).map_err(failed("reading the event log"))?;
            let expected = chain_hash(&previous, &event.stream, &event.payload, event.recorded_at);
            if stored != expected {
                return Ok(LedgerCheck::Broken {
                    sequence: event.sequence,
                });
            }
            previous = expected;
        }
        Ok(LedgerCheck::Intact {
            events: rows.len() as u64,
        })
    }

    // ---- person records (the CRM side) -------------------------------------------------

    /// One record.
    pub async fn record(&self, module: &str, id: &str) -> Result<Option<RecordRow>, StorageError> {
        let row = sqlx::query("SELECT module, id, fields, status, locked, modified_at FROM records WHERE module = $1 AND id = $2")
            .bind(module)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("reading a record"))?;
        match row.as_ref().map(record_row).transpose()? {
            Some(record) => Ok(Some(self.opened(record).await?)),
            None => Ok(None),
        }
    }

    /// The records of `module` with the given ids (those that exist), keyed by id.
    pub async fn records_by_ids(
        &self,
        module: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, RecordRow>, StorageError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(KEYS_PER_QUERY) {
            let sql = format!(
                "SELECT module, id, fields, status, locked, modified_at FROM records WHERE module = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            );
            // Only placeholders are formatted into the text; the ids are bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(module);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query
                .fetch_all(&self.pool)
                .await
                .map_err(failed("reading records"))?
            {
                let record = self.opened(record_row(&row)?).await?;
                found.insert(record.id.clone(), record);
            }
        }
        Ok(found)
    }

    /// References of every record whose normalised email is `address`.
    pub async fn records_by_email(
        &self,
        address: &str,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let rows =
            sqlx::query("SELECT module, id FROM records WHERE email = $1 ORDER BY module, id")
                .bind(normalise_email(address))
                .fetch_all(&self.pool)
                .await
                .map_err(failed("finding records by email"))?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("finding records by email"))
    }

    /// A page of a module's records with ids after `after`, in id order.
    pub async fn records_page(
        &self,
        module: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RecordRow>, StorageError> {
        let rows = sqlx::query("SELECT module, id, fields, status, locked, modified_at FROM records WHERE module = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(module)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(failed("listing records"))?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(self.opened(record_row(row)?).await?);
        }
        Ok(records)
    }

    /// The fields removed from `module`'s layout, in name order.
    pub async fn removed_layout_fields(&self, module: &str) -> Result<Vec<String>, StorageError> {
        sqlx::query_scalar(
            "SELECT field FROM layout_removed_fields WHERE module = $1 ORDER BY field",
        )
        .bind(module)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading the layout"))
    }

    /// The number of records of a module.
    pub async fn record_count(&self, module: &str) -> Result<u64, StorageError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM records WHERE module = $1")
            .bind(module)
            .fetch_one(&self.pool)
            .await
            .map_err(failed("counting records"))?;
        Ok(count as u64)
    }

    /// Reserves `count` consecutive numbers of the named sequence; returns the first.
    pub async fn reserve_ids(&self, name: &str, count: u64) -> Result<u64, StorageError> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("reserving record ids"))?;
        sqlx::query(
            "INSERT INTO sequences (name, next) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .execute(&mut *transaction)
        .await
        .map_err(failed("reserving record ids"))?;
        let first: i64 = sqlx::query_scalar(
            "UPDATE sequences SET next = next + $1 WHERE name = $2 RETURNING next - $3",
        )
        .bind(count as i64)
        .bind(name)
        .bind(count as i64)
        .fetch_one(&mut *transaction)
        .await
        .map_err(failed("reserving record ids"))?;
        transaction
            .commit()
            .await
            .map_err(failed("reserving record ids"))?;
        Ok(first as u64)
    }

    // ---- outbox ------------------------------------------------------------------------

    /// Claims up to `limit` mails due at `now` for `claimant` until `claimed_until`, oldest
    /// first: not delivered, not failed for good, not waiting for a later attempt
    /// (`next_attempt_at` still ahead), and nobody's claim on them holding (none, or one
    /// that lapsed before `now`). Another host process never gets a mail while this one's
    /// claim holds, so no mail is delivered by two processes. Whatever becomes of a claimed
    /// mail (delivered, deferred, failed) releases the claim.
    pub async fn claim_pending_mail(
        &self,
        claimant: &str,
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
        sqlx::query(LOCK_WRITERS)
            .execute(&mut *transaction)
            .await
            .map_err(failed("claiming queued mail"))?;
        let rows = sqlx::query(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE message_id IN (\
                SELECT message_id FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL AND next_attempt_at <= $3 \
                AND (claimed_until IS NULL OR claimed_until < $3) \
                ORDER BY queued_at, message_id LIMIT $4) \
             AND delivered_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL \
             RETURNING message, queued_at, attempts",
        )
        .bind(claimant)
        .bind(claimed_until)
        .bind(now)
        .bind(i64::from(limit))
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

    /// Gives up `claimant`'s claims on mail it has not delivered, for the next delivery.
    pub async fn release_mail_claims(&self, claimant: &str) -> Result<(), StorageError> {
        sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1 AND delivered_at IS NULL")
            .bind(claimant)
            .execute(&self.pool)
            .await
            .map_err(failed("releasing claims on queued mail"))?;
        Ok(())
    }

    /// Marks a mail delivered: the server accepted it (or its file is written).
    pub async fn mark_delivered(&self, message_id: &str, at: i64) -> Result<(), StorageError> {
        sqlx::query("UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL, claimed_by = NULL, claimed_until = NULL WHERE message_id = $2")
            .bind(at)
            .bind(message_id)
            .execute(&self.pool)
            .await
            .map_err(failed("marking mail delivered"))?;
        Ok(())
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
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, claimed_by = NULL, claimed_until = NULL WHERE message_id = $3",
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
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, failed_at = $2, claimed_by = NULL, claimed_until = NULL WHERE message_id = $3",
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
            "SELECT message_id, queued_at, attempts, next_attempt_at, delivered_at, failed_at, last_error, cancelled_at FROM outbox WHERE message_id = $1",
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

    /// Mail not delivered yet (waiting or failed for good), oldest first.
    pub async fn undelivered_mail(&self, limit: u32) -> Result<Vec<MailDelivery>, StorageError> {
        let rows = sqlx::query(
            "SELECT message_id, queued_at, attempts, next_attempt_at, delivered_at, failed_at, last_error, cancelled_at FROM outbox WHERE delivered_at IS NULL AND cancelled_at IS NULL ORDER BY queued_at, message_id LIMIT $1",
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
            "UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL WHERE delivered_at IS NULL AND failed_at IS NOT NULL AND cancelled_at IS NULL",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(failed("queuing failed mail again"))?;
        Ok(result.rows_affected())
    }

    // ---- job runs ----------------------------------------------------------------------

    /// The recorded run of `job` for `period`, if any.
    pub async fn job_run(&self, job: &str, period: &str) -> Result<Option<JobRun>, StorageError> {
        let row = sqlx::query("SELECT period, finished_at, cursor, people, requests FROM job_runs WHERE job = $1 AND period = $2")
            .bind(job)
            .bind(period)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("reading job runs"))?;
        row.map(|row| {
            Ok(JobRun {
                period: row.try_get(0)?,
                finished: row.try_get::<Option<i64>, _>(1)?.is_some(),
                cursor: row.try_get(2)?,
                people: row.try_get::<i64, _>(3)? as u64,
                requests: row.try_get::<i64, _>(4)? as u64,
            })
        })
        .transpose()
        .map_err(failed("reading job runs"))
    }

    /// The most recent finished period of `job`.
    pub async fn last_finished_period(&self, job: &str) -> Result<Option<String>, StorageError> {
        sqlx::query_scalar("SELECT period FROM job_runs WHERE job = $1 AND finished_at IS NOT NULL ORDER BY period DESC LIMIT 1")
            .bind(job)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("reading job runs"))
    }

    // ---- link keys ---------------------------------------------------------------------

    /// Every link key that still verifies, newest first: (id, secret, retired).
    pub async fn link_keys(&self) -> Result<Vec<(String, Vec<u8>, bool)>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, secret, retired_at FROM link_keys ORDER BY created_at DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading link keys"))?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get::<Option<i64>, _>(2)?.is_some(),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("reading link keys"))
    }

    /// Stores a new link key; the previous current key is retired (it still verifies).
    pub async fn add_link_key(
        &self,
        id: &str,
        secret: &[u8],
        now: i64,
    ) -> Result<(), StorageError> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("storing a link key"))?;
        sqlx::query("UPDATE link_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(failed("storing a link key"))?;
        sqlx::query("INSERT INTO link_keys (id, secret, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(secret.to_vec())
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(failed("storing a link key"))?;
        transaction
            .commit()
            .await
            .map_err(failed("storing a link key"))
    }

    // ---- encrypted fields ----------------------------------------------------------------

    /// Loads the field keys, creating the first one on a new database.
    pub async fn load_field_keys(&self, now: i64) -> Result<(), StorageError> {
        if self.field_keys().await?.is_empty() {
            self.add_field_key(now).await?;
        }
        self.reload_field_keys().await
    }

    /// Creates a new field key that encrypts from now on; older keys keep decrypting.
    pub async fn add_field_key(&self, now: i64) -> Result<String, StorageError> {
        let (id, secret) = new_key();
        sqlx::query("INSERT INTO field_keys (id, secret, created_at) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(secret)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(failed("storing a field key"))?;
        self.reload_field_keys().await?;
        Ok(id)
    }

    /// Sets which fields are stored encrypted from the next write on: (module, fields).
    pub fn set_encrypted_fields(&self, by_module: Vec<(String, Vec<String>)>) {
        self.field_cipher
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .set_encrypted_fields(by_module);
    }

    /// Encrypts the values of `module`'s records that a field classified `encrypted` after
    /// they were written still holds in plain text; how many records changed. One
    /// transaction per page, so a concurrent writer is never overwritten with older data.
    pub async fn seal_plain_values(&self, module: &str) -> Result<u64, StorageError> {
        const PAGE: i64 = 500;
        let mut after = String::new();
        let mut changed = 0;
        loop {
            let mut transaction = self
                .pool
                .begin()
                .await
                .map_err(failed("encrypting stored values"))?;
            // A unit of work committing in between would otherwise be overwritten with the
            // values read here.
            sqlx::query(LOCK_WRITERS)
                .execute(&mut *transaction)
                .await
                .map_err(failed("encrypting stored values"))?;
            let rows = sqlx::query(
                "SELECT id, fields FROM records WHERE module = $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(module)
            .bind(after.as_str())
            .bind(PAGE)
            .fetch_all(&mut *transaction)
            .await
            .map_err(failed("encrypting stored values"))?;
            let Some(last) = rows.last() else {
                return Ok(changed);
            };
            after = last
                .try_get(0)
                .map_err(failed("encrypting stored values"))?;
            for row in &rows {
                let id: String = row.try_get(0).map_err(failed("encrypting stored values"))?;
                let fields: String = row.try_get(1).map_err(failed("encrypting stored values"))?;
                let stored: Vec<(String, String)> = serde_json::from_str(&fields)
                    .map_err(|error| encoding("encrypting stored values", error))?;
                let sealed = self
                    .field_cipher
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .seal_plain_values(module, &id, &stored)?;
                if let Some(sealed) = sealed {
                    let fields = serde_json::to_string(&sealed)
                        .map_err(|error| encoding("encrypting stored values", error))?;
                    sqlx::query("UPDATE records SET fields = $1 WHERE module = $2 AND id = $3")
                        .bind(fields)
                        .bind(module)
                        .bind(id.as_str())
                        .execute(&mut *transaction)
                        .await
                        .map_err(failed("encrypting stored values"))?;
                    changed += 1;
                }
            }
            transaction
                .commit()
                .await
                .map_err(failed("encrypting stored values"))?;
        }
    }

    /// Whether the encrypted fields were set: records are written only after.
    pub fn encrypted_fields_known(&self) -> bool {
        self.field_cipher
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .encrypted_fields_known()
    }

    async fn field_keys(&self) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let rows =
            sqlx::query("SELECT id, secret FROM field_keys ORDER BY created_at DESC, id DESC")
                .fetch_all(&self.pool)
                .await
                .map_err(failed("reading field keys"))?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("reading field keys"))
    }

    async fn reload_field_keys(&self) -> Result<(), StorageError> {
        let keys = self.field_keys().await?;
        self.field_cipher
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .set_keys(keys);
        Ok(())
    }

    /// `record` with its encrypted values decrypted. A key another host process added
    /// since this one loaded its keys is read once before giving up.
    async fn opened(&self, mut record: RecordRow) -> Result<RecordRow, StorageError> {
        let open = |record: &RecordRow| {
            self.field_cipher
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .open_fields(&record.module, &record.id, record.fields.clone())
        };
        let fields = match open(&record) {
            Err(FieldCryptoError::UnknownKey { .. }) => {
                self.reload_field_keys().await?;
                open(&record)?
            }
            other => other?,
        };
        record.fields = fields;
        Ok(record)
    }

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

/// Cancels the undelivered mail to `address` (normalised) and destroys the stored copy of
/// every mail to it, inside `transaction`; returns the ids of those already delivered.
async fn forget_mail_to(
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
            "UPDATE outbox SET message = '', last_error = NULL, claimed_by = NULL, claimed_until = NULL, \
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

impl std::fmt::Debug for Database {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Database").finish_non_exhaustive()
    }
}

/// `prefix (…), (…), … suffix` with `rows` groups of `columns` numbered placeholders.
fn rows_sql(prefix: &str, columns: usize, rows: usize, suffix: &str) -> String {
    let groups: Vec<String> = (0..rows)
        .map(|row| format!("({})", placeholders(row * columns + 1, columns)))
        .collect();
    format!("{prefix}{}{suffix}", groups.join(", "))
}

/// `$first, $first+1, ...` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The smallest string greater than every string starting with `prefix`, if any.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(u32::from(last) + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn chain_hash(previous: &[u8; 32], stream: &str, payload: &str, recorded_at: i64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update((stream.len() as u64).to_le_bytes());
    hasher.update(stream.as_bytes());
    hasher.update((payload.len() as u64).to_le_bytes());
    hasher.update(payload.as_bytes());
    hasher.update(recorded_at.to_le_bytes());
    hasher.finalize().into()
}

fn stored_event(row: &AnyRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        sequence: row.try_get::<i64, _>(0)? as u64,
        stream: row.try_get(1)?,
        payload: row.try_get(2)?,
        recorded_at: row.try_get(3)?,
    })
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
    })
}

fn record_row(row: &AnyRow) -> Result<RecordRow, StorageError> {
    let read = || -> Result<RecordRow, sqlx::Error> {
        let fields: String = row.try_get(2)?;
        Ok(RecordRow {
            module: row.try_get(0)?,
            id: row.try_get(1)?,
            fields: serde_json::from_str(&fields)
                .map_err(|error| sqlx::Error::Decode(error.into()))?,
            status: row.try_get(3)?,
            locked: row.try_get::<i64, _>(4)? != 0,
            modified_at: row.try_get(5)?,
        })
    };
    read().map_err(failed("reading a record"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_upper_bound_is_just_past_every_key_with_the_prefix() {
        assert_eq!(prefix_upper_bound("person/").as_deref(), Some("person0"));
        assert_eq!(prefix_upper_bound(""), None);
    }

    #[test]
    fn the_backend_is_chosen_by_the_urls_scheme_and_an_unknown_one_is_named_without_the_rest() {
        let cases = [
            (
                "sqlite://data/privacy-guard.db?mode=rwc",
                Some(Backend::Sqlite),
            ),
            ("sqlite::memory:", Some(Backend::Sqlite)),
            (
                "postgres://guard@db.internal/privacy",
                Some(Backend::Postgres),
            ),
            (
                "postgresql://guard@db.internal/privacy",
                Some(Backend::Postgres),
            ),
            ("mysql://guard:secret@db/privacy", None),
        ];
        for (url, expected) in cases {
            assert_eq!(Backend::of_url(url).ok(), expected, "{url}");
        }
        let message = Backend::of_url("mysql://guard:secret@db/privacy")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("starts with `mysql:`") && !message.contains("secret"),
            "{message}"
        );
        let message = Backend::of_url("db.internal/privacy")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.ends_with("it has no scheme"), "{message}");
    }

    #[test]
    fn chain_hash_changes_with_every_part() {
        let base = chain_hash(&[0; 32], "contacts/1", "{}", 5);
        assert_ne!(base, chain_hash(&[1; 32], "contacts/1", "{}", 5));
        assert_ne!(base, chain_hash(&[0; 32], "contacts/2", "{}", 5));
        assert_ne!(base, chain_hash(&[0; 32], "contacts/1", "{ }", 5));
        assert_ne!(base, chain_hash(&[0; 32], "contacts/1", "{}", 6));
    }
}
