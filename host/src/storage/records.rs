//! The person records the reference host keeps, playing the CRM: reading them (fields
//! decrypted), paging, the layout, counters for ids.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use std::collections::HashMap;

use super::{Database, KEYS_PER_QUERY, StorageError, failed, placeholders};

impl Database {
    // ---- person records (the CRM side) -------------------------------------------------

    /// One record.
    pub async fn record(&self, module: &str, id: &str) -> Result<Option<RecordRow>, StorageError> {
        let mut connection = self.acquire("reading a record").await?;
        self.record_on(&mut connection, module, id).await
    }

    /// [`Database::record`] on `connection` (e.g. inside an open transaction).
    pub(super) async fn record_on(
        &self,
        connection: &mut AnyConnection,
        module: &str,
        id: &str,
    ) -> Result<Option<RecordRow>, StorageError> {
        let row = sqlx::query("SELECT module, id, fields, status, locked, modified_at FROM records WHERE module = $1 AND id = $2")
            .bind(module)
            .bind(id)
            .fetch_optional(&mut *connection)
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
        let mut connection = self.acquire("reading records").await?;
        self.records_by_ids_on(&mut connection, module, ids, KEYS_PER_QUERY)
            .await
    }

    /// [`Database::records_by_ids`] on `connection`, `per_query` ids a statement.
    pub(super) async fn records_by_ids_on(
        &self,
        connection: &mut AnyConnection,
        module: &str,
        ids: &[&str],
        per_query: usize,
    ) -> Result<HashMap<String, RecordRow>, StorageError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(per_query) {
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
                .fetch_all(&mut *connection)
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
        let mut connection = self.acquire("finding records by email").await?;
        records_by_email_on(&mut connection, address).await
    }

    /// A page of a module's records with ids after `after`, in id order.
    pub async fn records_page(
        &self,
        module: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RecordRow>, StorageError> {
        let mut connection = self.acquire("listing records").await?;
        self.records_page_on(&mut connection, module, after, limit)
            .await
    }

    /// [`Database::records_page`] on `connection`.
    pub(super) async fn records_page_on(
        &self,
        connection: &mut AnyConnection,
        module: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RecordRow>, StorageError> {
        let rows = sqlx::query("SELECT module, id, fields, status, locked, modified_at FROM records WHERE module = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(module)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&mut *connection)
            .await
            .map_err(failed("listing records"))?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(self.opened(record_row(row)?).await?);
        }
        Ok(records)
    }

    /// A connection of the pool, for a read of several statements.
    pub(super) async fn acquire(
        &self,
        operation: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StorageError> {
        self.pool.acquire().await.map_err(failed(operation))
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

    /// The modules the stored records belong to, in code-point order. Walks the primary
    /// key from one module to the next (a loose index scan), so it costs a look-up per
    /// module, not a read of every record: the host asks before every import.
    pub async fn record_modules(&self) -> Result<Vec<String>, StorageError> {
        sqlx::query_scalar(
            "WITH RECURSIVE modules (module) AS (\
                 SELECT MIN(module) FROM records \
                 UNION ALL \
                 SELECT (SELECT MIN(records.module) FROM records WHERE records.module > modules.module) \
                 FROM modules WHERE modules.module IS NOT NULL\
             ) SELECT module FROM modules WHERE module IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(failed("listing the modules of the records"))
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
        let first = reserve_ids_on(&mut transaction, name, count).await?;
        transaction
            .commit()
            .await
            .map_err(failed("reserving record ids"))?;
        Ok(first)
    }
}

/// [`Database::reserve_ids`] on `connection`: inside an open transaction, the numbers are
/// only taken if it commits.
pub(super) async fn reserve_ids_on(
    connection: &mut AnyConnection,
    name: &str,
    count: u64,
) -> Result<u64, StorageError> {
    sqlx::query("INSERT INTO sequences (name, next) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut *connection)
        .await
        .map_err(failed("reserving record ids"))?;
    let first: i64 = sqlx::query_scalar(
        "UPDATE sequences SET next = next + $1 WHERE name = $2 RETURNING next - $3",
    )
    .bind(count as i64)
    .bind(name)
    .bind(count as i64)
    .fetch_one(&mut *connection)
    .await
    .map_err(failed("reserving record ids"))?;
    Ok(first as u64)
}

/// [`Database::records_by_email`] on `connection`.
pub(super) async fn records_by_email_on(
    connection: &mut AnyConnection,
    address: &str,
) -> Result<Vec<(String, String)>, StorageError> {
    let rows = sqlx::query("SELECT module, id FROM records WHERE email = $1 ORDER BY module, id")
        .bind(normalise_email(address))
        .fetch_all(&mut *connection)
        .await
        .map_err(failed("finding records by email"))?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(failed("finding records by email"))
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

pub(super) fn record_row(row: &AnyRow) -> Result<RecordRow, StorageError> {
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
