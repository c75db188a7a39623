//! Publishers' keys: the signing key a publisher keeps, and the trust store of public keys
//! a host accepts packages from.
//!
//! ```toml
//! # trusted-keys.toml
//! [[publishers]]
//! name = "Privacy Guard releases"
//! key = "ed25519:3q2+7w…"          # the public key, base64
//! ```
//!
//! A key is named in manifests by its id, `pg-` and the first 16 hex digits of the SHA-256
//! of the public key, so a manifest never has to carry the key itself.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How the private key is written in its file.
const PRIVATE_PREFIX: &str = "ed25519-private:";
/// How a public key is written in a trust store.
const PUBLIC_PREFIX: &str = "ed25519:";

/// The id of a public key, as manifests name it.
pub fn key_id(key: &VerifyingKey) -> String {
    format!("pg-{}", hex::encode(&Sha256::digest(key.as_bytes())[..8]))
}

/// A public key as a trust store writes it.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", BASE64.encode(key.as_bytes()))
}

/// A new signing key from the operating system's randomness.
pub fn generate_signing_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    SigningKey::from_bytes(&seed)
}

/// The signing key as its file holds it.
pub fn signing_key_text(key: &SigningKey) -> String {
    format!("{PRIVATE_PREFIX}{}\n", BASE64.encode(key.to_bytes()))
}

/// Reads a signing key file written by `privacy-guard package keygen`.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("could not read the signing key {}: {error}", path.display()))?;
    let seed = text
        .trim()
        .strip_prefix(PRIVATE_PREFIX)
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            format!(
                "{} is not a signing key (`{PRIVATE_PREFIX}` and 32 bytes in base64, as `privacy-guard package keygen` writes)",
                path.display()
            )
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A publisher a host trusts.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub name: String,
    pub key: VerifyingKey,
}

/// The publishers a host accepts packages from.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    pub publishers: Vec<Publisher>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    publishers: Vec<PublisherEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublisherEntry {
    name: String,
    key: String,
}

impl TrustStore {
    /// Reads a trust store file; the error names the file and the entry that is wrong.
    pub fn load(path: &Path) -> Result<TrustStore, String> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            format!(
                "could not read the trust store {}: {error} (list the publishers' public keys there, see `privacy-guard package keygen`)",
                path.display()
            )
        })?;
        TrustStore::parse(&text).map_err(|problem| format!("{}: {problem}", path.display()))
    }

    pub fn parse(text: &str) -> Result<TrustStore, String> {
        let file: TrustFile = toml::from_str(text).map_err(|error| error.to_string())?;
        let publishers = file
            .publishers
            .into_iter()
            .map(|entry| {
                let key = entry
                    .key
                    .strip_prefix(PUBLIC_PREFIX)
                    .and_then(|encoded| BASE64.decode(encoded).ok())
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
                    .ok_or_else(|| {
                        format!(
                            "publisher `{}`: the key is not `{PUBLIC_PREFIX}` and an Ed25519 public key in base64",
                            entry.name
                        )
                    })?;
                Ok(Publisher {
                    name: entry.name,
                    key,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TrustStore { publishers })
    }

    /// The trusted publisher whose key has the id `id`.
    pub fn publisher(&self, id: &str) -> Option<&Publisher> {
        self.publishers
            .iter()
            .find(|publisher| key_id(&publisher.key) == id)
    }

    /// A trust store entry for a publisher's key, as `keygen` prints it.
    pub fn entry(name: &str, key: &VerifyingKey) -> String {
        format!(
            "[[publishers]]\nname = {}\nkey = \"{}\"\n",
            toml::Value::String(name.to_owned()),
            public_key_text(key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_written_by_keygen_reads_back_and_its_entry_makes_a_trust_store() {
        let folder = tempfile::tempdir().unwrap();
        let key = generate_signing_key();
        let path = folder.path().join("publisher.key");
        std::fs::write(&path, signing_key_text(&key)).unwrap();
        let read = read_signing_key(&path).unwrap();
        assert_eq!(read.to_bytes(), key.to_bytes());
        let store =
            TrustStore::parse(&TrustStore::entry("Acme \"CRM\"", &key.verifying_key())).unwrap();
        let publisher = store.publisher(&key_id(&key.verifying_key())).unwrap();
        assert_eq!(publisher.name, "Acme \"CRM\"");
        assert!(store.publisher("pg-0000000000000000").is_none());
    }

    #[test]
    fn a_wrong_key_is_named() {
        let problem =
            TrustStore::parse("[[publishers]]\nname = \"acme\"\nkey = \"rsa:AAAA\"\n").unwrap_err();
        assert!(problem.contains("publisher `acme`"), "{problem}");
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("bad.key");
        std::fs::write(&path, "hunter2").unwrap();
        assert!(
            read_signing_key(&path)
                .unwrap_err()
                .contains("is not a signing key")
        );
    }
}
