//! A commit left open across many units of work: an import streams its chunks into one
//! transaction holding the writers' lock, so its memory is bounded by a chunk whatever
//! the file's size, and it stays all-or-nothing. The plugin's calls in a later chunk read
//! through that transaction ([`StorageReads`]), so they see what earlier chunks wrote;
//! the cache learns nothing until the commit is finished.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError};

use sqlx::{Any, AnyConnection, Transaction};

use super::commit::parameters_per_statement;
use super::events::events_on;
use super::kv::{scan_values, select_values};
use super::records::{records_by_email_on, reserve_ids_on};
use super::{
    Backend, Committed, Database, KEYS_PER_QUERY, RecordRow, StorageError, StoredEvent, UnitOfWork,
    failed,
};

/// Bytes of written plugin state an open commit keeps to bring the cache up to date when
/// it finishes; past it, the cache is emptied instead (the values are in the database).
const CACHE_UPDATE_BUDGET: usize = 8 << 20;

impl Database {
    /// Starts a commit that units of work are written into one after another, holding the
    /// writers' lock until it is finished or abandoned. A [`StorageError::Conflict`] means
    /// another host process committed since this one last looked: refresh, begin again.
    pub async fn begin_commit(&self, now: i64) -> Result<OpenCommit, StorageError> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("starting a transaction"))?;
        let generation = self.advance_generation(&mut transaction).await?;
        Ok(OpenCommit {
            database: self.clone(),
            transaction: OpenTransaction {
                transaction: Arc::new(tokio::sync::Mutex::new(Some(transaction))),
                written: Arc::new(std::sync::RwLock::new(WrittenFilter::new())),
                database: self.clone(),
            },
            generation,
            now,
            cache: CacheAfterCommit::Values {
                values: BTreeMap::new(),
                bytes: 0,
            },
            forgotten_deliveries: Vec::new(),
        })
    }

    /// Empties the cache and moves it to `generation`: after a commit whose values it
    /// could not keep.
    fn cache_emptied(&self, generation: i64) {
        let mut cache = self
            .kv_cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        cache.clear();
        self.generation
            .store(generation, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A transaction holding the writers' lock that units of work are written into; nothing
/// of it is visible to others until [`OpenCommit::finish`]. Dropped or
/// [abandoned](OpenCommit::abandon), everything written into it is rolled back.
pub struct OpenCommit {
    database: Database,
    transaction: OpenTransaction,
    generation: i64,
    /// The time every event of the commit is recorded at.
    now: i64,
    cache: CacheAfterCommit,
    forgotten_deliveries: Vec<String>,
}

/// What the cache learns when an open commit finishes.
enum CacheAfterCommit {
    /// The plugin state written, while it stays within [`CACHE_UPDATE_BUDGET`].
    Values {
        values: BTreeMap<String, Option<Vec<u8>>>,
        bytes: usize,
    },
    /// Too much was written to keep: the cache is emptied.
    Emptied,
}

impl CacheAfterCommit {
    fn learn(&mut self, kv: &BTreeMap<String, Option<Vec<u8>>>) {
        let CacheAfterCommit::Values { values, bytes } = self else {
            return;
        };
        *bytes += kv
            .iter()
            .map(|(key, value)| key.len() + value.as_ref().map_or(0, Vec::len))
            .sum::<usize>();
        if *bytes > CACHE_UPDATE_BUDGET {
            *self = CacheAfterCommit::Emptied;
        } else {
            values.extend(kv.iter().map(|(key, value)| (key.clone(), value.clone())));
        }
    }
}

impl OpenCommit {
    /// Reads that see what was written into this commit so far: give them to the units
    /// of work whose plugin calls must see it ([`UnitOfWork::reading_through`]).
    pub fn reads(&self) -> OpenTransaction {
        self.transaction.clone()
    }

    /// Writes a unit of work's steps (state, events chained on, records, mail, ...).
    pub async fn write(&mut self, work: &UnitOfWork) -> Result<(), StorageError> {
        let mut transaction = self.transaction.transaction.lock().await;
        let Some(transaction) = transaction.as_mut() else {
            return Err(finished());
        };
        let forgotten = self
            .database
            .write_steps(transaction, work, self.now)
            .await?;
        self.forgotten_deliveries.extend(forgotten);
        self.cache.learn(&work.kv);
        let mut written = self
            .transaction
            .written
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for key in work.kv.keys() {
            written.insert(Written::State(key));
        }
        for (module, id) in work.records.keys() {
            written.insert(Written::Record(module, id));
        }
        for event in &work.events {
            written.insert(Written::Stream(&event.stream));
        }
        Ok(())
    }

    /// Reserves `count` numbers of the named sequence in the commit: they are taken only
    /// if it is finished.
    pub async fn reserve_ids(&self, name: &str, count: u64) -> Result<u64, StorageError> {
        let mut transaction = self.transaction.transaction.lock().await;
        reserve_ids_on(connection(&mut transaction)?, name, count).await
    }

    /// The records of `module` with the given ids, as the commit sees them.
    pub async fn records_by_ids(
        &self,
        module: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, RecordRow>, StorageError> {
        let (written, committed): (Vec<&str>, Vec<&str>) = ids.iter().partition(|id| {
            self.transaction
                .may_have_written(Written::Record(module, id))
        });
        let mut found = self.database.records_by_ids(module, &committed).await?;
        if !written.is_empty() {
            let per_query = self.transaction.keys_per_query();
            let mut transaction = self.transaction.transaction.lock().await;
            found.extend(
                self.database
                    .records_by_ids_on(connection(&mut transaction)?, module, &written, per_query)
                    .await?,
            );
        }
        Ok(found)
    }

    /// Makes everything written durable at once, then brings the cache up to date.
    pub async fn finish(self) -> Result<Committed, StorageError> {
        let transaction = self.transaction.transaction.lock().await.take();
        let Some(transaction) = transaction else {
            return Err(finished());
        };
        transaction.commit().await.map_err(failed("committing"))?;
        match &self.cache {
            CacheAfterCommit::Values { values, .. } => {
                self.database.cache_committed(values, self.generation);
            }
            CacheAfterCommit::Emptied => self.database.cache_emptied(self.generation),
        }
        Ok(Committed {
            forgotten_deliveries: self.forgotten_deliveries,
        })
    }

    /// Rolls back everything written and releases the writers' lock now (dropping the
    /// commit rolls back too, when its connection is next used).
    pub async fn abandon(self) -> Result<(), StorageError> {
        let transaction = self.transaction.transaction.lock().await.take();
        match transaction {
            Some(transaction) => transaction
                .rollback()
                .await
                .map_err(failed("rolling back an unfinished import")),
            None => Ok(()),
        }
    }
}

/// The transaction of an [`OpenCommit`], shared with the plugin calls that read through it.
#[derive(Clone)]
pub struct OpenTransaction {
    transaction: Arc<tokio::sync::Mutex<Option<Transaction<'static, Any>>>>,
    /// What the commit wrote so far, approximately (never missing anything).
    written: Arc<std::sync::RwLock<WrittenFilter>>,
    database: Database,
}

impl std::fmt::Debug for OpenTransaction {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("OpenTransaction")
    }
}

impl OpenTransaction {
    /// Whether the commit may have written `what`. When not, its committed value is what
    /// the transaction would read too (nobody else commits while the writers' lock is
    /// held), and is read the ordinary way, through the cache: a large import would
    /// otherwise look every new person up in its own growing, uncommitted tables.
    fn may_have_written(&self, what: Written<'_>) -> bool {
        self.written
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .may_contain(what)
    }

    /// Keys per statement: small on SQLite, where binding costs time quadratic in a
    /// statement's parameters (see [`parameters_per_statement`]).
    fn keys_per_query(&self) -> usize {
        match self.database.backend {
            Backend::Sqlite => parameters_per_statement(Backend::Sqlite),
            Backend::Postgres => KEYS_PER_QUERY,
        }
    }
}

/// The connection of a transaction not finished yet.
fn connection<'a>(
    transaction: &'a mut Option<Transaction<'static, Any>>,
) -> Result<&'a mut AnyConnection, StorageError> {
    match transaction {
        Some(transaction) => Ok(&mut **transaction),
        None => Err(finished()),
    }
}

fn finished() -> StorageError {
    StorageError::Database {
        operation: "using an import's transaction",
        source: sqlx::Error::Protocol(
            "the transaction was already committed or rolled back".into(),
        ),
    }
}

/// What an open commit wrote, by kind.
#[derive(Hash)]
enum Written<'a> {
    State(&'a str),
    Record(&'a str, &'a str),
    Stream(&'a str),
}

/// A Bloom filter of what an open commit wrote: of fixed size, so an import of any size
/// keeps it in the same memory; a false "may contain" only sends a read through the
/// transaction, which answers it correctly too. 2^26 bits (8 MiB), 4 probes: 0.2 % false
/// answers after a million people (four million entries), 2 % after two million.
struct WrittenFilter {
    bits: Vec<u64>,
    hasher: foldhash::fast::RandomState,
}

const FILTER_BITS: u64 = 1 << 26;
const FILTER_PROBES: u64 = 4;

impl WrittenFilter {
    fn new() -> WrittenFilter {
        WrittenFilter {
            bits: vec![0; (FILTER_BITS / 64) as usize],
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn insert(&mut self, what: Written<'_>) {
        for bit in probes(std::hash::BuildHasher::hash_one(&self.hasher, what)) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    fn may_contain(&self, what: Written<'_>) -> bool {
        probes(std::hash::BuildHasher::hash_one(&self.hasher, what))
            .all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// The filter's bits of a hash: probes spread by double hashing of its two halves.
fn probes(hash: u64) -> impl Iterator<Item = u64> {
    let (first, step) = (hash >> 32, (hash & 0xffff_ffff) | 1);
    (0..FILTER_PROBES).map(move |probe| (first + probe * step) % FILTER_BITS)
}

/// The storage reads of a plugin call: the database's (through the cache), or, for a call
/// inside an [`OpenCommit`], its transaction's, which see what it wrote so far.
pub struct StorageReads {
    database: Database,
    through: Option<OpenTransaction>,
}

impl StorageReads {
    pub(super) fn new(database: &Database, through: Option<&OpenTransaction>) -> StorageReads {
        StorageReads {
            database: database.clone(),
            through: through.cloned(),
        }
    }

    /// The values of `keys`, in order.
    pub async fn kv_get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<[u8]>>>, StorageError> {
        let Some(through) = &self.through else {
            return self.database.kv_get_many(keys).await;
        };
        let (written, committed): (Vec<&str>, Vec<&str>) = keys
            .iter()
            .partition(|key| through.may_have_written(Written::State(key)));
        let mut values: HashMap<&str, Option<Arc<[u8]>>> = committed
            .iter()
            .copied()
            .zip(self.database.kv_get_many_filling(&committed, false).await?)
            .collect();
        if !written.is_empty() {
            let mut transaction = through.transaction.lock().await;
            let found = select_values(
                connection(&mut transaction)?,
                &written,
                through.keys_per_query(),
            )
            .await?;
            for key in written {
                values.insert(key, found.get(key).cloned());
            }
        }
        Ok(keys
            .iter()
            .map(|key| values.get(key).cloned().flatten())
            .collect())
    }

    /// Entries whose key starts with `prefix`, after `after`, in key order.
    pub async fn kv_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let Some(through) = &self.through else {
            return self.database.kv_scan(prefix, after, limit).await;
        };
        let mut transaction = through.transaction.lock().await;
        scan_values(connection(&mut transaction)?, prefix, after, limit).await
    }

    /// Events of `stream` after `after`, oldest first.
    pub async fn events(
        &self,
        stream: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let Some(through) = self
            .through
            .as_ref()
            .filter(|through| through.may_have_written(Written::Stream(stream)))
        else {
            return self.database.events(stream, after, limit).await;
        };
        let mut transaction = through.transaction.lock().await;
        events_on(connection(&mut transaction)?, stream, after, limit).await
    }

    /// One record.
    pub async fn record(&self, module: &str, id: &str) -> Result<Option<RecordRow>, StorageError> {
        let Some(through) = self
            .through
            .as_ref()
            .filter(|through| through.may_have_written(Written::Record(module, id)))
        else {
            return self.database.record(module, id).await;
        };
        let mut transaction = through.transaction.lock().await;
        self.database
            .record_on(connection(&mut transaction)?, module, id)
            .await
    }

    /// References of every record whose normalised email is `address`.
    pub async fn records_by_email(
        &self,
        address: &str,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let Some(through) = &self.through else {
            return self.database.records_by_email(address).await;
        };
        let mut transaction = through.transaction.lock().await;
        records_by_email_on(connection(&mut transaction)?, address).await
    }

    /// A page of a module's records with ids after `after`, in id order.
    pub async fn records_page(
        &self,
        module: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RecordRow>, StorageError> {
        let Some(through) = &self.through else {
            return self.database.records_page(module, after, limit).await;
        };
        let mut transaction = through.transaction.lock().await;
        self.database
            .records_page_on(connection(&mut transaction)?, module, after, limit)
            .await
    }
}
