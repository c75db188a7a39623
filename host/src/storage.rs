//! Durable storage of the reference host: the plugin's key-value state and event log, the
//! person records the host keeps as the CRM, the mail outbox, job runs and link keys.
//!
//! One code path over sqlx's `Any` driver, so the database is chosen by URL: SQLite or
//! PostgreSQL ([`Backend`] names the few differences). Placeholders are written
//! `$1, $2, ...` in ascending order; times are BIGINT unix milliseconds.
//! Reads of plugin state go through a write-through cache: committed writes update it,
//! readers only fill gaps, so a reader racing a commit never re-inserts an older value.

mod backend;
mod cases;
mod commit;
mod erasure;
mod events;
mod export;
pub mod field_encryption;
mod jobs;
mod keys;
mod kv;
mod kv_cache;
mod open_commit;
mod outbox;
pub mod proof;
mod records;
mod unit_of_work;
mod webhooks;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use self::field_encryption::{FieldCipher, FieldCryptoError};

pub use self::backend::Backend;
pub use self::cases::{RightsRequestFilter, RightsRequestRow};
pub use self::commit::Committed;
pub use self::events::{LedgerCheck, StoredEvent};
pub use self::export::MailToAddress;
pub use self::jobs::JobRun;
pub use self::open_commit::{OpenCommit, OpenTransaction, StorageReads};
pub use self::outbox::{ClaimHolder, MailClaim, MailDelivery, OutboxEntry};
pub use self::records::{RecordRow, normalise_email};
pub use self::unit_of_work::{JobProgress, MailboxRow, NewEvent, QueuedMail, UnitOfWork};
pub use self::webhooks::{WebhookBatch, WebhookClaim, WebhookDelivery};

/// Bound parameters per statement when writing many rows. Far below the databases' limits
/// on purpose: binding by position costs SQLite time quadratic in a statement's parameter
/// count (measured: 15% of a 100,000-contact import at 2,800).
const PARAMETERS_PER_STATEMENT: usize = 420;

/// Keys read per query when fetching many keys at once.
const KEYS_PER_QUERY: usize = 900;

/// How stale the cache may get for read-only calls when another host process writes to
/// the same database. Mutating units always check first, and commits are conditional.
const READ_STALENESS: Duration = Duration::from_secs(1);

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
    /// A stored event's chain hash is not a SHA-256 digest: the log was changed outside
    /// the host, and nothing is chained onto it.
    #[error(
        "the event log is corrupt: event {sequence} has a chain hash of {length} bytes, not 32; nothing was saved. Restore the database from a backup (`privacy-guard verify-events` checks the whole chain)"
    )]
    CorruptChainHash { sequence: i64, length: usize },
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

pub use self::kv_cache::DEFAULT_BUDGET as DEFAULT_KV_CACHE_BUDGET;
use self::kv_cache::KvCache;

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
            .min_connections(0)
            .idle_timeout(backend.idle_timeout())
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
