//! API keys as configuration keeps them: a name and the SHA-256 digest of the key, never
//! the key itself.

use sha2::{Digest, Sha256};

/// Why a text is not an API key digest or a named one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "an API key digest is written `sha256:` and 64 hex digits (see `privacy-guard api-key`)"
    )]
    NotSha256,
    #[error("`{0}` is not `sha256:` and 64 hex digits")]
    NotHex(String),
    #[error(
        "`{0}` is not an API key name: use 1-{MAX_KEY_NAME_LEN} letters, digits, `-`, `_` or `.`"
    )]
    Name(String),
}

/// The SHA-256 digest of an API key, as configuration keeps it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
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
    pub fn parse(text: &str) -> Result<KeyDigest, KeyError> {
        let hex_digits = text
            .trim()
            .strip_prefix("sha256:")
            .ok_or(KeyError::NotSha256)?;
        let bytes = hex::decode(hex_digits)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| KeyError::NotHex(text.to_owned()))?;
        Ok(KeyDigest(bytes))
    }

    /// `sha256:<hex>`.
    pub fn to_text(self) -> String {
        format!("sha256:{}", hex::encode(self.0))
    }

    /// Equal, in time independent of where the digests differ.
    pub(super) fn matches(&self, other: &KeyDigest) -> bool {
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
    pub fn parse(text: &str) -> Result<ApiKey, KeyError> {
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
                    return Err(KeyError::Name(name.to_owned()));
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
}
