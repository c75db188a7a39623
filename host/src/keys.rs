//! Secret keys for the plugin's signed links. The plugin asks for MACs through the `keys`
//! import and never sees a key.
//!
//! Keys live in the database so every host process sharing it signs and verifies alike.
//! The newest key signs; older keys still verify, so a key can be rotated without
//! breaking links already mailed. A process re-reads the keys at most every
//! [`SIGNING_REFRESH`] before signing, and at once (at most once per [`VERIFY_REFRESH`])
//! when a link does not verify: a key created or rotated by another process is used
//! without a restart.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::storage::{Database, StorageError};

type HmacSha256 = Hmac<Sha256>;

/// How old the keys may be when signing.
pub const SIGNING_REFRESH: Duration = Duration::from_secs(30);
/// How often a link that does not verify may cause the keys to be read again.
pub const VERIFY_REFRESH: Duration = Duration::from_secs(1);

/// (id, secret) of every key that still verifies, newest first; the first one signs.
type KeySet = Arc<Vec<(String, Vec<u8>)>>;

/// The link keys: one signing key and every key that still verifies.
#[derive(Clone)]
pub struct LinkKeys {
    keys: Arc<RwLock<KeySet>>,
    loaded_at: Arc<RwLock<Instant>>,
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, not even in debug output.
        formatter
            .debug_struct("LinkKeys")
            .field(
                "key_ids",
                &self.current().iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl LinkKeys {
    /// Loads the keys, creating the first one on a new database.
    pub async fn load_or_create(database: &Database, now: i64) -> Result<LinkKeys, StorageError> {
        let mut stored = database.link_keys().await?;
        if stored.is_empty() {
            rotate(database, now).await?;
            stored = database.link_keys().await?;
        }
        Ok(LinkKeys::from_stored(stored))
    }

    fn from_stored(stored: Vec<(String, Vec<u8>, bool)>) -> LinkKeys {
        let keys = LinkKeys {
            keys: Arc::default(),
            loaded_at: Arc::new(RwLock::new(Instant::now())),
        };
        keys.replace(stored);
        keys
    }

    /// Reads the keys again from `database` (keeping the ones held if none are stored).
    pub async fn reload(&self, database: &Database) -> Result<(), StorageError> {
        let stored = database.link_keys().await?;
        if !stored.is_empty() {
            self.replace(stored);
        }
        Ok(())
    }

    fn replace(&self, stored: Vec<(String, Vec<u8>, bool)>) {
        let keys: Vec<(String, Vec<u8>)> = stored
            .into_iter()
            .map(|(id, secret, _retired)| (id, secret))
            .collect();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        *self
            .loaded_at
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Whether the keys were read longer than `age` ago.
    pub fn older_than(&self, age: Duration) -> bool {
        self.loaded_at
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
            >= age
    }

    fn current(&self) -> KeySet {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The MAC of `data` under the signing key.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match self.current().first() {
            Some((_, secret)) => mac(secret, data),
            // `load_or_create` never yields an empty set; an empty MAC verifies nothing.
            None => Vec::new(),
        }
    }

    /// Whether `tag` is the MAC of `data` under any key that still verifies (constant
    /// time per key).
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        self.current().iter().any(|(_, secret)| {
            let Ok(mut verifier) = HmacSha256::new_from_slice(secret) else {
                return false;
            };
            verifier.update(data);
            verifier.verify_slice(tag).is_ok()
        })
    }
}

/// Creates a new signing key; the current one keeps verifying.
pub async fn rotate(database: &Database, now: i64) -> Result<String, StorageError> {
    let mut secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let id = uuid::Uuid::now_v7().simple().to_string();
    database.add_link_key(&id, &secret, now).await?;
    Ok(id)
}

fn mac(secret: &[u8], data: &[u8]) -> Vec<u8> {
    match HmacSha256::new_from_slice(secret) {
        Ok(mut signer) => {
            signer.update(data);
            signer.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; this arm cannot be reached with our 32-byte keys.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn keys(secrets: &[&[u8]]) -> LinkKeys {
        LinkKeys::from_stored(
            secrets
                .iter()
                .enumerate()
                .map(|(index, secret)| (index.to_string(), secret.to_vec(), false))
                .collect(),
        )
    }

    #[test]
    fn a_signature_verifies_and_a_changed_message_does_not() {
        let keys = keys(&[b"current-secret-current-secret-32"]);
        let tag = keys.sign(b"link payload");
        assert!(keys.verify(b"link payload", &tag));
        assert!(!keys.verify(b"link payloae", &tag));
        assert!(!keys.verify(b"link payload", &tag[..31]));
    }

    #[test]
    fn links_signed_with_a_retired_key_still_verify_after_rotation() {
        let old = keys(&[b"old-secret"]);
        let tag = old.sign(b"mailed last week");
        let rotated = keys(&[b"new-secret", b"old-secret"]);
        assert!(rotated.verify(b"mailed last week", &tag));
        assert_ne!(rotated.sign(b"mailed last week"), tag);
    }

    #[test]
    fn debug_output_shows_key_ids_but_no_secret() {
        let secret: &[u8] = b"very-secret-bytes";
        let keys = keys(&[secret]);
        let printed = format!("{keys:?} {keys:#?}");
        assert!(printed.contains("\"0\""), "the key id is shown: {printed}");
        assert_secret_not_shown(&printed, secret);
    }

    /// Fails when `printed` shows `secret` as text, hex or base64, or as bytes in any layout
    /// (`[118, 101, …]`, or one a line as `{:#?}` prints them): no run of four of the printed
    /// numbers is a run of the secret's bytes.
    pub(crate) fn assert_secret_not_shown(printed: &str, secret: &[u8]) {
        use base64::Engine as _;
        for form in [
            String::from_utf8_lossy(secret).into_owned(),
            hex::encode(secret),
            base64::engine::general_purpose::STANDARD.encode(secret),
        ] {
            assert!(!printed.contains(&form[..8]), "{form} in {printed}");
        }
        let numbers: Vec<u32> = printed
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|digits| digits.parse().ok())
            .collect();
        let bytes: Vec<u32> = secret.iter().map(|&byte| u32::from(byte)).collect();
        assert!(
            !numbers
                .windows(4)
                .any(|run| bytes.windows(4).any(|secret_run| run == secret_run)),
            "the secret's bytes in {printed}"
        );
    }
}
