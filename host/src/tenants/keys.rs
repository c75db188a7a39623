//! API keys as configuration keeps them: a name, the scopes the key was given, and the
//! SHA-256 digest of the key, never the key itself.
//!
//! Written `NAME=sha256:<hex>` (every scope, as before scopes existed) or
//! `NAME:SCOPES=sha256:<hex>` with SCOPES one or more of `pre-send`, `read`, `staff` and
//! `admin` joined by `+` (`crm-hooks:pre-send=sha256:…`, `dpo:staff=sha256:…`). The `+`
//! keeps a key one item of the comma-separated `--api-key-digest` list.

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
    #[error(
        "`{0}` is not a list of scopes: write one or more of `pre-send`, `read`, `staff`, `admin` joined by `+` (e.g. `crm:pre-send+read=sha256:…`)"
    )]
    Scopes(String),
}

/// What a key may do. Every route of the API requires one (the table in
/// `http/api.rs`); a key has it when it was given it or a scope that implies it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Scope {
    /// The CRM's automatic hooks: the pre-send check, rendering, record changes and the
    /// check of an edit.
    PreSend,
    /// Reading people, their history, the change feed, the configuration, reports and
    /// lists; nothing is changed.
    Read,
    /// Staff actions on people (decisions, restriction, erasure, asking again, links,
    /// bulk actions); implies `read`.
    Staff,
    /// Changes of the configuration; implies every scope.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are written.
    pub const ALL: [Scope; 4] = [Scope::PreSend, Scope::Read, Scope::Staff, Scope::Admin];

    /// The scope as configuration, the CLI and `docs/openapi.json` write it.
    pub fn text(self) -> &'static str {
        match self {
            Scope::PreSend => "pre-send",
            Scope::Read => "read",
            Scope::Staff => "staff",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.text() == text)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.text())
    }
}

/// The scopes a key was given (not those they imply), as a set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scopes(u8);

impl Scopes {
    /// What a key written without scopes may do: everything, as every key could before
    /// keys had scopes, so existing configurations keep working.
    pub const ADMIN: Scopes = Scopes(1 << Scope::Admin as u8);

    /// The set of `scopes`.
    pub fn of(scopes: &[Scope]) -> Scopes {
        Scopes(scopes.iter().fold(0, |bits, scope| bits | scope.bit()))
    }

    /// Reads `pre-send+read` (one or more scopes joined by `+`).
    pub fn parse(text: &str) -> Result<Scopes, KeyError> {
        let scopes = text
            .split('+')
            .map(|scope| Scope::parse(scope.trim()))
            .collect::<Option<Vec<Scope>>>()
            .filter(|scopes| !scopes.is_empty())
            .ok_or_else(|| KeyError::Scopes(text.to_owned()))?;
        Ok(Scopes::of(&scopes))
    }

    /// Whether a key of these scopes may call a route that requires `required`: it was
    /// given `required`, or `admin`, or `staff` when `read` is required.
    pub fn grants(self, required: Scope) -> bool {
        let given = |scope: Scope| self.0 & scope.bit() != 0;
        given(required) || given(Scope::Admin) || (required == Scope::Read && given(Scope::Staff))
    }

    /// The scopes given, in the order they are written.
    pub fn given(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.0 & scope.bit() != 0)
    }
}

impl std::fmt::Display for Scopes {
    /// `pre-send+read`, as written.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let texts: Vec<&str> = self.given().map(Scope::text).collect();
        formatter.write_str(&texts.join("+"))
    }
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

/// An API key as configuration keeps it: its name, its scopes and its digest.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ApiKey {
    pub name: String,
    pub digest: KeyDigest,
    pub scopes: Scopes,
}

impl ApiKey {
    /// Reads `NAME:SCOPES=sha256:<64 hex digits>`, `NAME=sha256:<64 hex digits>` (every
    /// scope), or `sha256:<64 hex digits>` for a key of every scope named after its
    /// digest.
    pub fn parse(text: &str) -> Result<ApiKey, KeyError> {
        let text = text.trim();
        let (name, digest) = match text.split_once('=') {
            Some((name, digest)) => (Some(name.trim()), digest),
            None => (None, text),
        };
        let (name, scopes) = match name.and_then(|name| name.split_once(':')) {
            Some((name, scopes)) => (Some(name.trim()), Scopes::parse(scopes)?),
            None => (name, Scopes::ADMIN),
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
        Ok(ApiKey {
            name,
            digest,
            scopes,
        })
    }

    /// `NAME=sha256:<hex>` for a key of every scope (as it was written before scopes),
    /// `NAME:SCOPES=sha256:<hex>` otherwise.
    pub fn to_text(&self) -> String {
        if self.scopes == Scopes::ADMIN {
            format!("{}={}", self.name, self.digest.to_text())
        } else {
            format!("{}:{}={}", self.name, self.scopes, self.digest.to_text())
        }
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

    #[test]
    fn a_key_written_without_scopes_may_do_everything_and_scopes_imply_as_documented() {
        let digest = KeyDigest::of_key("pgk_secret").to_text();
        assert_eq!(
            ApiKey::parse(&format!("crm={digest}")).unwrap().scopes,
            Scopes::ADMIN
        );
        assert_eq!(ApiKey::parse(&digest).unwrap().scopes, Scopes::ADMIN);
        let hooks = ApiKey::parse(&format!("crm-hooks:pre-send+read={digest}")).unwrap();
        assert_eq!(hooks.name, "crm-hooks");
        assert_eq!(hooks.scopes, Scopes::of(&[Scope::PreSend, Scope::Read]));
        assert_eq!(hooks.to_text(), format!("crm-hooks:pre-send+read={digest}"));
        assert_eq!(ApiKey::parse(&hooks.to_text()).unwrap(), hooks);
        // Which required scope (columns: pre-send, read, staff, admin) each written set
        // grants.
        for (written, grants) in [
            ("pre-send", [true, false, false, false]),
            ("read", [false, true, false, false]),
            ("staff", [false, true, true, false]),
            ("admin", [true, true, true, true]),
            ("pre-send+staff", [true, true, true, false]),
        ] {
            let scopes = Scopes::parse(written).unwrap();
            assert_eq!(scopes.to_string(), written);
            for (required, granted) in Scope::ALL.into_iter().zip(grants) {
                assert_eq!(
                    scopes.grants(required),
                    granted,
                    "{written} grants {required}"
                );
            }
        }
        for bad in [
            format!("crm:={digest}"),
            format!("crm:write={digest}"),
            format!("crm:read,staff={digest}"),
            format!("crm:read+={digest}"),
            format!(":read={digest}"),
        ] {
            assert!(ApiKey::parse(&bad).is_err(), "{bad}");
        }
    }
}
