//! Signed preferences links: the token format, its parsing and the expiry check.
//!
//! `token = base64url(payload) "." base64url(mac)`, both without padding, where
//! `payload = [LINK_FORMAT] postcard(module, record id, expires-at ms, link id [16 bytes])`
//! and `mac = keys.sign(SIGNING_DOMAIN || payload)`. The engine never sees the key: the
//! adapter signs and verifies through the host, the engine only builds and reads bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::event::LinkId;
use crate::record::{Module, RecordRef};

/// Format version of the payload.
pub const LINK_FORMAT: u8 = 1;
/// Prefixed to the payload before signing, so a MAC made for anything else never verifies.
pub const SIGNING_DOMAIN: &[u8] = b"privacy-guard/preferences-link/v1\0";
/// Random bytes in a link id.
pub const LINK_ID_LEN: usize = 16;
/// Longest token accepted; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 1024;

/// Why a link is refused. Deliberately coarse: a wrong link says nothing about whom it was
/// for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
    #[error("the person the link was for is not known")]
    UnknownPerson,
}

/// What a link says: whose preferences, until when, and which link it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPayload {
    pub record: RecordRef,
    pub expires_at: i64,
    pub link: LinkId,
}

#[derive(Serialize, Deserialize)]
struct PayloadWire<'a> {
    module: Module,
    id: &'a str,
    expires_at: i64,
    link: [u8; LINK_ID_LEN],
}

/// A link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkBuildError {
    /// The host gave fewer random bytes than a link id needs.
    #[error("a link id needs {LINK_ID_LEN} random bytes, got {0}")]
    NotEnoughRandomness(usize),
    #[error("the link payload cannot be encoded: {0}")]
    Encoding(#[from] postcard::Error),
}

impl LinkPayload {
    /// A link for `record`, valid for `lifetime_ms` from `now`, identified by `random`
    /// (at least 16 bytes from a secure generator).
    pub fn new(
        record: RecordRef,
        now: i64,
        lifetime_ms: i64,
        random: &[u8],
    ) -> Result<LinkPayload, LinkBuildError> {
        let bytes = random
            .get(..LINK_ID_LEN)
            .and_then(|bytes| <[u8; LINK_ID_LEN]>::try_from(bytes).ok())
            .ok_or(LinkBuildError::NotEnoughRandomness(random.len()))?;
        Ok(LinkPayload {
            record,
            expires_at: now.saturating_add(lifetime_ms),
            link: LinkId(bytes),
        })
    }

    /// The payload bytes that are signed and put in the token.
    pub fn encode(&self) -> Result<Vec<u8>, LinkBuildError> {
        let wire = PayloadWire {
            module: self.record.module.clone(),
            id: &self.record.id,
            expires_at: self.expires_at,
            link: self.link.0,
        };
        Ok(postcard::to_extend(&wire, vec![LINK_FORMAT])?)
    }

    fn decode(bytes: &[u8]) -> Result<LinkPayload, LinkError> {
        let (&format, rest) = bytes.split_first().ok_or(LinkError::Invalid)?;
        if format != LINK_FORMAT {
            return Err(LinkError::Invalid);
        }
        let (wire, remaining): (PayloadWire<'_>, _) =
            postcard::take_from_bytes(rest).map_err(|_| LinkError::Invalid)?;
        // A module name inside a token is checked like any other input.
        let valid_module =
            Module::parse(wire.module.as_str()).is_ok_and(|module| module == wire.module);
        if !remaining.is_empty() || wire.id.is_empty() || !valid_module {
            return Err(LinkError::Invalid);
        }
        Ok(LinkPayload {
            record: RecordRef::new(wire.module, wire.id),
            expires_at: wire.expires_at,
            link: LinkId(wire.link),
        })
    }

    /// Whether the link still works at `now`.
    pub fn check_expiry(&self, now: i64) -> Result<(), LinkError> {
        if now < self.expires_at {
            Ok(())
        } else {
            Err(LinkError::Expired)
        }
    }
}

/// The bytes the host signs or verifies for `payload`.
pub fn signing_input(payload: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(SIGNING_DOMAIN.len() + payload.len());
    input.extend_from_slice(SIGNING_DOMAIN);
    input.extend_from_slice(payload);
    input
}

/// The token of a signed payload.
pub fn token(payload: &[u8], mac: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

/// A token taken apart; its MAC is not verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedToken {
    /// The exact payload bytes, for verification.
    pub payload_bytes: Vec<u8>,
    pub mac: Vec<u8>,
    pub payload: LinkPayload,
}

impl UnverifiedToken {
    /// Takes a token apart; anything malformed is `Invalid`.
    pub fn parse(token: &str) -> Result<UnverifiedToken, LinkError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_LEN {
            return Err(LinkError::Invalid);
        }
        let (payload, mac) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let payload_bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkError::Invalid)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| LinkError::Invalid)?;
        if mac.is_empty() {
            return Err(LinkError::Invalid);
        }
        let payload = LinkPayload::decode(&payload_bytes)?;
        Ok(UnverifiedToken {
            payload_bytes,
            mac,
            payload,
        })
    }

    /// The bytes the host verifies the MAC over.
    pub fn signing_input(&self) -> Vec<u8> {
        signing_input(&self.payload_bytes)
    }
}

/// The preferences page's address for `token`: appended directly when the base URL ends
/// in `/` or `=`, as a `token` query parameter when it already has a query, else as a new
/// path segment.
pub fn preferences_link(base_url: &str, token: &str) -> String {
    if base_url.ends_with('/') || base_url.ends_with('=') {
        format!("{base_url}{token}")
    } else if base_url.contains('?') {
        format!("{base_url}&token={token}")
    } else {
        format!("{base_url}/{token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> LinkPayload {
        LinkPayload::new(RecordRef::new(Module::Contacts, "42"), 1_000, 500, &[7; 20]).unwrap()
    }

    /// A stand-in for the host's MAC: good enough to test the format, not a MAC.
    fn fake_mac(input: &[u8]) -> Vec<u8> {
        crate::digest::sha256_hex(&[b"key", input]).into_bytes()
    }

    #[test]
    fn a_token_parses_back_into_its_payload_and_signed_bytes() {
        let payload = payload();
        assert_eq!(payload.expires_at, 1_500);
        assert_eq!(payload.link, LinkId([7; 16]));
        let bytes = payload.encode().unwrap();
        let mac = fake_mac(&signing_input(&bytes));
        let token = token(&bytes, &mac);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "{token}"
        );
        let parsed = UnverifiedToken::parse(&token).unwrap();
        assert_eq!(parsed.payload, payload);
        assert_eq!(parsed.mac, mac);
        assert_eq!(fake_mac(&parsed.signing_input()), mac);
        assert!(parsed.signing_input().starts_with(SIGNING_DOMAIN));
    }

    #[test]
    fn malformed_tokens_are_invalid() {
        let good = token(&payload().encode().unwrap(), b"mac");
        let (good_payload, _) = good.split_once('.').unwrap();
        let mut other_format = payload().encode().unwrap();
        other_format[0] = 2;
        let mut trailing = payload().encode().unwrap();
        trailing.push(0);
        let cases = [
            String::new(),
            "no-dot".to_owned(),
            format!("{good_payload}."),
            format!("{good_payload}.!!"),
            format!("!!.{}", URL_SAFE_NO_PAD.encode(b"mac")),
            token(&[], b"mac"),
            token(&other_format, b"mac"),
            token(&trailing, b"mac"),
            token(&payload().encode().unwrap()[..5], b"mac"),
            format!("{good}{}", "A".repeat(MAX_TOKEN_LEN)),
        ];
        for case in cases {
            assert_eq!(
                UnverifiedToken::parse(&case),
                Err(LinkError::Invalid),
                "{case:?}"
            );
        }
    }

    #[test]
    fn a_link_works_until_it_expires() {
        let payload = payload();
        let cases = [
            (0, Ok(())),
            (1_499, Ok(())),
            (1_500, Err(LinkError::Expired)),
            (9_999, Err(LinkError::Expired)),
        ];
        for (now, expected) in cases {
            assert_eq!(payload.check_expiry(now), expected, "{now}");
        }
    }

    #[test]
    fn a_link_id_needs_sixteen_random_bytes() {
        let record = RecordRef::new(Module::Leads, "1");
        assert!(matches!(
            LinkPayload::new(record, 0, 1, &[1; 15]),
            Err(LinkBuildError::NotEnoughRandomness(15))
        ));
    }

    #[test]
    fn the_token_is_appended_to_the_preferences_url() {
        let cases = [
            (
                "https://crm.example.org/preferences/",
                "https://crm.example.org/preferences/T",
            ),
            (
                "https://crm.example.org/preferences",
                "https://crm.example.org/preferences/T",
            ),
            (
                "https://crm.example.org/p?token=",
                "https://crm.example.org/p?token=T",
            ),
            (
                "https://crm.example.org/p?lang=en",
                "https://crm.example.org/p?lang=en&token=T",
            ),
        ];
        for (base, expected) in cases {
            assert_eq!(preferences_link(base, "T"), expected);
        }
    }
}
