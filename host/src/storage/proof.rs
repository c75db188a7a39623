//! What the proof of the event log reads and keeps (`crate::proof`): the log's head, its
//! hash chain recomputed from the rows' contents up to a size, single events with the hash
//! before them, the checkpoints signed, and which preferences link gave which answers.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::events::chain_hash;
use super::{Database, StorageError, failed};

/// Rows read per query while walking the whole log: bounded memory at any log size.
const ROWS_PER_READ: i64 = 10_000;

/// The last event of the log: its size (sequences are gap-free from 1) and head hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHead {
    pub size: u64,
    /// The chain hash stored with the last event; 32 zero bytes for an empty log.
    pub hash: [u8; 32],
}

/// The log walked from its first event, each chain hash recomputed from the row's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogWalk {
    /// How many events the log holds now.
    pub size: u64,
    /// The hash recomputed over the first `at_size` events, when the log has that many.
    pub recomputed_at_size: Option<[u8; 32]>,
    /// The first event whose stored chain hash is not the recomputed one, or whose
    /// sequence is not the next number.
    pub first_broken: Option<u64>,
}

/// One event with the chain hash before it and its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    pub sequence: u64,
    pub stream: String,
    pub payload: String,
    pub recorded_at: i64,
    /// The stored chain hash of the event before (zeros for the first).
    pub previous_hash: [u8; 32],
    pub chain_hash: [u8; 32],
}

impl Database {
    /// The log's size and head hash, as stored.
    pub async fn log_head(&self) -> Result<LogHead, StorageError> {
        let row = sqlx::query(
            "SELECT sequence, chain_hash FROM plugin_events ORDER BY sequence DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("reading the event log's head"))?;
        let Some(row) = row else {
            return Ok(LogHead {
                size: 0,
                hash: [0; 32],
            });
        };
        let sequence: i64 = row
            .try_get(0)
            .map_err(failed("reading the event log's head"))?;
        let stored: Vec<u8> = row
            .try_get(1)
            .map_err(failed("reading the event log's head"))?;
        Ok(LogHead {
            size: sequence as u64,
            hash: hash_of(sequence, stored)?,
        })
    }

    /// Walks the whole log, recomputing every chain hash from the rows' contents (never
    /// trusting a stored one), and notes the hash after `at_size` events.
    pub async fn walk_log(&self, at_size: u64) -> Result<LogWalk, StorageError> {
        let mut previous = [0u8; 32];
        let mut size = 0u64;
        let mut first_broken = None;
        let mut recomputed_at_size = (at_size == 0).then_some([0u8; 32]);
        loop {
            let rows = sqlx::query("SELECT sequence, stream, payload, recorded_at, chain_hash FROM plugin_events WHERE sequence > $1 ORDER BY sequence LIMIT $2")
                .bind(size as i64)
                .bind(ROWS_PER_READ)
                .fetch_all(&self.pool)
                .await
                .map_err(failed("walking the event log"))?;
            for row in &rows {
                // A stored hash that is not even 32 bytes is a break like any other here.
                let (sequence, stream, payload, recorded_at, stored) = row_content(row)?;
                let sequence = sequence as u64;
                let recomputed = chain_hash(&previous, &stream, &payload, recorded_at);
                if first_broken.is_none()
                    && (sequence != size + 1 || stored.as_slice() != recomputed.as_slice())
                {
                    first_broken = Some(sequence);
                }
                size = sequence;
                previous = recomputed;
                if size == at_size {
                    recomputed_at_size = Some(recomputed);
                }
            }
            if (rows.len() as i64) < ROWS_PER_READ {
                return Ok(LogWalk {
                    size,
                    recomputed_at_size,
                    first_broken,
                });
            }
        }
    }

    /// The event at `sequence` with the stored hash before it.
    pub async fn chained_event(&self, sequence: u64) -> Result<Option<ChainedEvent>, StorageError> {
        let rows = sqlx::query("SELECT sequence, stream, payload, recorded_at, chain_hash FROM plugin_events WHERE sequence = $1 OR sequence = $2 ORDER BY sequence")
            .bind(sequence as i64)
            .bind(sequence as i64 - 1)
            .fetch_all(&self.pool)
            .await
            .map_err(failed("reading an event of the log"))?;
        let mut previous = [0u8; 32];
        for row in &rows {
            let event = chained_row(row, previous)?;
            if event.sequence == sequence {
                return Ok(Some(event));
            }
            previous = event.chain_hash;
        }
        Ok(None)
    }

    /// The sequences of `stream`'s events, oldest first (a person's log is short).
    pub async fn stream_sequences(&self, stream: &str) -> Result<Vec<u64>, StorageError> {
        let sequences: Vec<i64> = sqlx::query_scalar(
            "SELECT sequence FROM plugin_events WHERE stream = $1 ORDER BY sequence",
        )
        .bind(stream)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading a person's events"))?;
        Ok(sequences
            .into_iter()
            .map(|sequence| sequence as u64)
            .collect())
    }

    // ---- checkpoints ---------------------------------------------------------------------

    /// Keeps a signed checkpoint of the log at `size` (the first one signed at that size).
    pub async fn store_checkpoint(
        &self,
        size: u64,
        note: &str,
        now: i64,
    ) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO proof_checkpoints (size, note, signed_at) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING")
            .bind(size as i64)
            .bind(note)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(failed("keeping a signed checkpoint"))?;
        Ok(())
    }

    /// The checkpoint of the largest size kept, as its signed-note text.
    pub async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StorageError> {
        let row =
            sqlx::query("SELECT size, note FROM proof_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(failed("reading the latest checkpoint"))?;
        row.map(|row| Ok((row.try_get::<i64, _>(0)? as u64, row.try_get(1)?)))
            .transpose()
            .map_err(failed("reading the latest checkpoint"))
    }

    // ---- the preferences page's links ------------------------------------------------------

    /// Notes that answers given through the link whose token has `token_sha256` were
    /// written to `stream` with the link id `link` (the first answer's note stays).
    pub async fn remember_page_link(
        &self,
        token_sha256: &[u8; 32],
        stream: &str,
        link: &str,
        now: i64,
    ) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO proof_page_links (token_sha256, stream, link, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (token_sha256) DO NOTHING")
            .bind(token_sha256.to_vec())
            .bind(stream)
            .bind(link)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(failed("noting a preferences link's answers"))?;
        Ok(())
    }

    /// The stream and link id of the answers given through the link whose token has
    /// `token_sha256`; `None` when none was given through it.
    pub async fn page_link(
        &self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<(String, String)>, StorageError> {
        let row = sqlx::query("SELECT stream, link FROM proof_page_links WHERE token_sha256 = $1")
            .bind(token_sha256.to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("reading a preferences link's answers"))?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
            .map_err(failed("reading a preferences link's answers"))
    }
}

/// A row of `SELECT sequence, stream, payload, recorded_at, chain_hash`, as stored.
fn row_content(row: &AnyRow) -> Result<(i64, String, String, i64, Vec<u8>), StorageError> {
    let read = || -> Result<_, sqlx::Error> {
        Ok((
            row.try_get::<i64, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<i64, _>(3)?,
            row.try_get::<Vec<u8>, _>(4)?,
        ))
    };
    read().map_err(failed("reading the event log"))
}

fn chained_row(row: &AnyRow, previous_hash: [u8; 32]) -> Result<ChainedEvent, StorageError> {
    let (sequence, stream, payload, recorded_at, stored) = row_content(row)?;
    Ok(ChainedEvent {
        sequence: sequence as u64,
        stream,
        payload,
        recorded_at,
        previous_hash,
        chain_hash: hash_of(sequence, stored)?,
    })
}

fn hash_of(sequence: i64, stored: Vec<u8>) -> Result<[u8; 32], StorageError> {
    let length = stored.len();
    <[u8; 32]>::try_from(stored).map_err(|_| StorageError::CorruptChainHash { sequence, length })
}

/// The chain hash of an event after `previous` (see `storage/events.rs`), for checking an
/// event a receipt carries without a database.
pub fn event_chain_hash(
    previous: &[u8; 32],
    stream: &str,
    payload: &str,
    recorded_at: i64,
) -> [u8; 32] {
    chain_hash(previous, stream, payload, recorded_at)
}
