//! Keys kept in the database: link-signing keys (old ones keep verifying until they
//! expire), field-encryption keys with the record fields they seal, and the tenant's
//! proof-signing key (checkpoints of the event log, consent receipts).

use std::sync::PoisonError;

use sqlx::Row;

use super::field_encryption::FieldCryptoError;
use super::field_encryption::new_key;
use super::{Database, LOCK_WRITERS, RecordRow, StorageError, encoding, failed};

impl Database {
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

    // ---- the proof-signing key ------------------------------------------------------------

    /// The seed of the tenant's Ed25519 proof-signing key, stored on first use: `fresh` is
    /// kept when no key exists yet. Host processes starting at once agree on one key (the
    /// first insert wins; the others read it back).
    pub async fn proof_key_seed(
        &self,
        fresh: &[u8; 32],
        now: i64,
    ) -> Result<[u8; 32], StorageError> {
        sqlx::query("INSERT INTO proof_keys (slot, secret, created_at) VALUES ('tenant', $1, $2) ON CONFLICT (slot) DO NOTHING")
            .bind(fresh.to_vec())
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(failed("storing the proof-signing key"))?;
        let secret: Vec<u8> =
            sqlx::query_scalar("SELECT secret FROM proof_keys WHERE slot = 'tenant'")
                .fetch_one(&self.pool)
                .await
                .map_err(failed("reading the proof-signing key"))?;
        <[u8; 32]>::try_from(secret).map_err(|secret| StorageError::Database {
            operation: "reading the proof-signing key",
            source: sqlx::Error::Decode(
                format!(
                    "the stored proof-signing key has {} bytes, not 32: the database was changed outside the host",
                    secret.len()
                )
                .into(),
            ),
        })
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
    /// Records of a module not listed are refused
    /// ([`FieldCryptoError::ModuleClassesUnknown`]), never written in plain text.
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
    pub(super) async fn opened(&self, mut record: RecordRow) -> Result<RecordRow, StorageError> {
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
}
