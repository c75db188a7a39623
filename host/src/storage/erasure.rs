//! Making erased values unreadable in the database's files, after a unit of work emptied
//! them (an erasure, a refused value, a forgotten address).
//!
//! SQLite: deleted content is zeroed by `secure_delete`; the write-ahead log, which still
//! holds page images from before, is checkpointed and truncated. PostgreSQL keeps a changed
//! row's old version, bytes and index entries, until no transaction on the server may
//! still see it, and plain `VACUUM` only marks the space free: the tables erasures change
//! are rewritten (`VACUUM FULL`) once the transactions that began before have ended,
//! waiting at most [`PURGE_WAIT`].

use std::time::{Duration, Instant};

use sqlx::AnyPool;

use super::{Backend, Database, StorageError, failed};

/// How long purging erased values on PostgreSQL waits for older transactions to end.
const PURGE_WAIT: Duration = Duration::from_secs(10);

/// The tables whose rows hold values an erasure empties.
const TABLES_WITH_ERASED_VALUES: &str =
    "records, plugin_kv, outbox, outbox_recipients, rights_requests";

impl Database {
    /// Makes erased data unreadable on disk. Call after committing a unit of work that
    /// emptied a value.
    pub async fn purge_erased(&self) -> Result<(), StorageError> {
        self.backend.purge(&self.pool).await
    }
}

impl Backend {
    pub(super) async fn purge(self, pool: &AnyPool) -> Result<(), StorageError> {
        match self {
            Backend::Sqlite => purge_sqlite(pool).await,
            Backend::Postgres => purge_postgres(pool).await,
        }
    }
}

/// Copies the SQLite write-ahead log into the database and empties it; whether it went
/// through (not `busy`).
async fn checkpoint_truncating(pool: &AnyPool) -> Result<bool, StorageError> {
    let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(pool)
        .await
        .map_err(failed("purging erased values"))?;
    Ok(busy == 0)
}

async fn purge_sqlite(pool: &AnyPool) -> Result<(), StorageError> {
    if checkpoint_truncating(pool).await? {
        return Ok(());
    }
    // A pooled connection still reads an older snapshot (a statement not yet reset keeps
    // its read open): close every pooled connection, which ends their reads, and try again.
    // The pool opens new ones as needed.
    let mut connections = Vec::new();
    for _ in 0..pool.size() {
        connections.push(
            pool.acquire()
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
    if !checkpoint_truncating(pool).await? {
        tracing::warn!(
            "readers kept the write-ahead log busy; the erased values stay in it until the next checkpoint"
        );
    }
    Ok(())
}

async fn purge_postgres(pool: &AnyPool) -> Result<(), StorageError> {
    let mut connection = pool
        .acquire()
        .await
        .map_err(failed("purging erased values"))?;
    // A transaction id taken now, after the erasure committed (text: the `Any` driver
    // carries no xid type).
    let reference: String = sqlx::query_scalar("SELECT pg_current_xact_id()::xid::text")
        .fetch_one(&mut *connection)
        .await
        .map_err(failed("purging erased values"))?;
    let deadline = Instant::now() + PURGE_WAIT;
    loop {
        // VACUUM FULL keeps a dead row version while any session, in any database of the
        // server, still runs a transaction or holds a snapshot older than the erasure:
        // wait until none does.
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
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "VACUUM FULL {TABLES_WITH_ERASED_VALUES}"
    )))
    .execute(&mut *connection)
    .await
    .map_err(failed("purging erased values"))?;
    Ok(())
}
