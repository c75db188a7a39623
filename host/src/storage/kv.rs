//! The plugin's key-value state: read through the write-through cache, filled from the
//! database for the keys it lacks.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use sqlx::{AnyConnection, Row};

use super::{Database, KEYS_PER_QUERY, StorageError, failed, placeholders};

impl Database {
    // ---- plugin key-value state ----------------------------------------------------

    /// The values of `keys`, in order, from the cache or the database.
    pub async fn kv_get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<[u8]>>>, StorageError> {
        self.kv_get_many_filling(keys, true).await
    }

    /// [`Database::kv_get_many`], filling the cache with what it read from the database
    /// only when `fill`: a read of keys that will not be read again (an import's new
    /// people) would otherwise evict the working set.
    pub(super) async fn kv_get_many_filling(
        &self,
        keys: &[&str],
        fill: bool,
    ) -> Result<Vec<Option<Arc<[u8]>>>, StorageError> {
        let mut values: Vec<Option<Arc<[u8]>>> = Vec::with_capacity(keys.len());
        let mut missing: Vec<usize> = Vec::new();
        {
            let cache = self.kv_cache.read().unwrap_or_else(PoisonError::into_inner);
            for (index, key) in keys.iter().enumerate() {
                match cache.get(key) {
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
        let missing_keys: Vec<&str> = missing.iter().map(|index| keys[*index]).collect();
        // A commit that changes the cache moves the generation under the cache's lock: a
        // value read before it must not be filled in after it (it may be the old one).
        let generation = self.generation.load(Ordering::SeqCst);
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(failed("reading plugin state"))?;
        let mut found = select_values(&mut connection, &missing_keys, KEYS_PER_QUERY).await?;
        drop(connection);
        if !fill {
            for index in missing {
                values[index] = found.remove(keys[index]);
            }
            return Ok(values);
        }
        let mut cache = self
            .kv_cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let unchanged = self.generation.load(Ordering::SeqCst) == generation;
        for index in missing {
            let value = found.remove(keys[index]);
            // Only fill gaps: a commit that raced this read has already put the newer value.
            values[index] = if unchanged {
                cache.fill(keys[index], value)
            } else {
                value
            };
        }
        Ok(values)
    }

    /// Bounds the cache of plugin state to `bytes` (default
    /// [`super::DEFAULT_KV_CACHE_BUDGET`]), evicting what no longer fits.
    pub fn set_kv_cache_budget(&self, bytes: usize) {
        self.kv_cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .set_budget(bytes);
    }

    /// Bytes the cache of plugin state holds (keys, values and per-entry overhead).
    pub fn kv_cache_bytes(&self) -> usize {
        self.kv_cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes()
    }

    /// Entries whose key starts with `prefix`, after `after`, in key order.
    pub async fn kv_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(failed("scanning plugin state"))?;
        scan_values(&mut connection, prefix, after, limit).await
    }
}

/// The stored values of those of `keys` that exist, `per_query` keys a statement.
pub(super) async fn select_values(
    connection: &mut AnyConnection,
    keys: &[&str],
    per_query: usize,
) -> Result<HashMap<String, Arc<[u8]>>, StorageError> {
    let mut found: HashMap<String, Arc<[u8]>> = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(per_query) {
        let sql = format!(
            "SELECT key, value FROM plugin_kv WHERE key IN ({})",
            placeholders(1, chunk.len())
        );
        // Only placeholders are formatted into the text; the keys are bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query
            .fetch_all(&mut *connection)
            .await
            .map_err(failed("reading plugin state"))?
        {
            let key: String = row.try_get(0).map_err(failed("reading plugin state"))?;
            let value: Vec<u8> = row.try_get(1).map_err(failed("reading plugin state"))?;
            found.insert(key, value.into());
        }
    }
    Ok(found)
}

/// Entries whose key starts with `prefix`, after `after`, in key order.
pub(super) async fn scan_values(
    connection: &mut AnyConnection,
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
        .fetch_all(&mut *connection)
        .await
        .map_err(failed("scanning plugin state"))?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(failed("scanning plugin state"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_upper_bound_is_just_past_every_key_with_the_prefix() {
        assert_eq!(prefix_upper_bound("person/").as_deref(), Some("person0"));
        assert_eq!(prefix_upper_bound(""), None);
    }
}
