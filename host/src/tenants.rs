//! Many CRM tenants in one host: each tenant is a [`Guard`] of its own (its own database,
//! so its own configuration, keys, people, events, outbox and schedule) and its own API
//! keys. Nothing is shared between tenants but the process, so one tenant can never read
//! or change another's data: there is no query that could name the other's rows.
//!
//! API keys are kept as SHA-256 digests only; a request's key is hashed and compared with
//! every tenant's digests in constant time. Each key has a name (`crm-production=sha256:…`;
//! a key configured without one is named after its digest, `key-9f86d081`), and what the
//! API does with a key is recorded as that name's: the actor of every event it writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::guard::Guard;

/// The tenant a host serves at `/preferences/...` when none is named in the path.
pub const DEFAULT_TENANT: &str = "default";

/// The SHA-256 digest of an API key, as configuration keeps it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyDigest([u8; 32]);

impl std::fmt::Display for ApiKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.name)
    }
}

impl KeyDigest {
    /// The digest of a key as a client sends it.
    pub fn of_key(key: &str) -> KeyDigest {
        KeyDigest(Sha256::digest(key.trim().as_bytes()).into())
    }

    /// Reads `sha256:<64 hex digits>`.
    pub fn parse(text: &str) -> Result<KeyDigest, String> {
        let hex_digits = text.trim().strip_prefix("sha256:").ok_or_else(|| {
            "an API key digest is written `sha256:` and 64 hex digits (see `privacy-guard api-key`)"
                .to_owned()
        })?;
        let bytes = hex::decode(hex_digits)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| format!("`{text}` is not `sha256:` and 64 hex digits"))?;
        Ok(KeyDigest(bytes))
    }

    /// `sha256:<hex>`.
    pub fn to_text(self) -> String {
        format!("sha256:{}", hex::encode(self.0))
    }

    /// Equal, in time independent of where the digests differ.
    fn matches(&self, other: &KeyDigest) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0_u8, |difference, (left, right)| {
                difference | (left ^ right)
            })
            == 0
    }
}

/// Longest API key name.
const MAX_KEY_NAME_LEN: usize = 60;

/// An API key as configuration keeps it: its name and its digest.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ApiKey {
    pub name: String,
    pub digest: KeyDigest,
}

impl ApiKey {
    /// Reads `NAME=sha256:<64 hex digits>`, or `sha256:<64 hex digits>` for a key named
    /// after its digest.
    pub fn parse(text: &str) -> Result<ApiKey, String> {
        let text = text.trim();
        let (name, digest) = match text.split_once('=') {
            Some((name, digest)) => (Some(name.trim()), digest),
            None => (None, text),
        };
        let digest = KeyDigest::parse(digest)?;
        let name = match name {
            Some(name) => {
                let valid = (1..=MAX_KEY_NAME_LEN).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !valid {
                    return Err(format!(
                        "`{name}` is not an API key name: use 1-{MAX_KEY_NAME_LEN} letters, digits, `-`, `_` or `.`"
                    ));
                }
                name.to_owned()
            }
            None => format!("key-{}", &hex::encode(digest.0)[..8]),
        };
        Ok(ApiKey { name, digest })
    }

    /// `NAME=sha256:<hex>`.
    pub fn to_text(&self) -> String {
        format!("{}={}", self.name, self.digest.to_text())
    }
}

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("KeyDigest(..)")
    }
}

/// One tenant.
pub struct Tenant {
    pub id: String,
    pub guard: Arc<Guard>,
    keys: Vec<ApiKey>,
}

impl Tenant {
    pub fn new(id: impl Into<String>, guard: Arc<Guard>, keys: Vec<ApiKey>) -> Tenant {
        Tenant {
            id: id.into(),
            guard,
            keys,
        }
    }
}

/// Every tenant of the host.
#[derive(Default)]
pub struct Tenants {
    by_id: BTreeMap<String, Arc<Tenant>>,
}

impl Tenants {
    /// A host with one tenant, [`DEFAULT_TENANT`].
    pub fn single(guard: Arc<Guard>, keys: Vec<ApiKey>) -> Tenants {
        let mut tenants = Tenants::default();
        tenants.by_id.insert(
            DEFAULT_TENANT.to_owned(),
            Arc::new(Tenant::new(DEFAULT_TENANT, guard, keys)),
        );
        tenants
    }

    /// Adds a tenant; refused when the id is taken, is not a simple name, or one of its
    /// keys already belongs to another tenant.
    pub fn add(&mut self, tenant: Tenant) -> Result<(), String> {
        if !is_tenant_id(&tenant.id) {
            return Err(format!(
                "`{}` is not a tenant id: use 1-40 lower-case letters, digits or `-`",
                tenant.id
            ));
        }
        if self.by_id.contains_key(&tenant.id) {
            return Err(format!("the tenant `{}` is configured twice", tenant.id));
        }
        for key in &tenant.keys {
            if let Some((owner, _)) = self.owner_of(&key.digest) {
                return Err(format!(
                    "an API key of `{}` is also a key of `{}`: every key belongs to one tenant",
                    tenant.id, owner.id
                ));
            }
        }
        self.by_id.insert(tenant.id.clone(), Arc::new(tenant));
        Ok(())
    }

    /// The tenant a request's API key belongs to, and the key's name.
    pub fn authenticate(&self, key: &str) -> Option<(Arc<Tenant>, String)> {
        self.owner_of(&KeyDigest::of_key(key))
    }

    fn owner_of(&self, digest: &KeyDigest) -> Option<(Arc<Tenant>, String)> {
        // Every digest is compared, so the time taken says nothing about which matched.
        let mut found = None;
        for tenant in self.by_id.values() {
            for key in &tenant.keys {
                if key.digest.matches(digest) && found.is_none() {
                    found = Some((tenant.clone(), key.name.clone()));
                }
            }
        }
        found
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.by_id.get(id).cloned()
    }

    /// The tenant served without a tenant in the path: [`DEFAULT_TENANT`], or the only
    /// tenant there is.
    pub fn default_tenant(&self) -> Option<Arc<Tenant>> {
        self.get(DEFAULT_TENANT).or_else(|| {
            (self.by_id.len() == 1)
                .then(|| self.by_id.values().next().cloned())
                .flatten()
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }
}

/// 1-40 lower-case letters, digits or `-`, starting with a letter or digit.
pub fn is_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_digests_round_trip_and_compare_whole() {
        let digest = KeyDigest::of_key("pgk_secret");
        let text = digest.to_text();
        assert!(text.starts_with("sha256:") && text.len() == 7 + 64);
        assert!(KeyDigest::parse(&text).unwrap().matches(&digest));
        assert!(!KeyDigest::of_key("pgk_secreT").matches(&digest));
        for bad in [
            "",
            "sha256:",
            "sha256:zz",
            "md5:00",
            &text[..text.len() - 2],
        ] {
            assert!(KeyDigest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_keys_have_names_given_or_made_from_their_digest() {
        let digest = KeyDigest::of_key("pgk_secret").to_text();
        let named = ApiKey::parse(&format!("crm-production={digest}")).unwrap();
        assert_eq!(named.name, "crm-production");
        assert_eq!(ApiKey::parse(&named.to_text()).unwrap(), named);
        let unnamed = ApiKey::parse(&digest).unwrap();
        assert_eq!(unnamed.name, format!("key-{}", &digest[7..15]));
        assert!(unnamed.digest.matches(&named.digest));
        for bad in [
            format!("={digest}"),
            format!("two words={digest}"),
            format!("{}={digest}", "x".repeat(61)),
            "crm=sha256:00".to_owned(),
        ] {
            assert!(ApiKey::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tenant_ids_are_simple_names() {
        for (id, valid) in [
            ("acme", true),
            ("acme-2", true),
            ("", false),
            ("-acme", false),
            ("Acme", false),
            ("a/b", false),
            (&"a".repeat(41), false),
        ] {
            assert_eq!(is_tenant_id(id), valid, "{id}");
        }
    }
}
