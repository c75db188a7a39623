//! Signed preferences links: the token format, its parsing and the expiry check.
//!
//! `token = base64url(payload) "." base64url(mac)`, both without padding, where
//! `mac = keys.sign(SIGNING_DOMAIN || payload)`. The engine never sees the key: the
//! adapter signs and verifies through the host, the engine only builds and reads bytes.
//!
//! Two payload formats are read; only the second is made:
//!
//! | format | payload | made |
//! |---|---|---|
//! | 1 | `[1] postcard(module, record id, expires-at ms, link id [16 bytes])` | before contract 0.3.3: the record shows in the token; still opened until it expires |
//! | 2 | `[2] person handle [12 bytes] postcard(expires-at ms) link id [16 bytes]` | since 0.3.3: the token names nobody |
//!
//! A *person handle* is the first [`HANDLE_LEN`] bytes of
//! `keys.sign(HANDLE_DOMAIN || module "/" id)`: the same for every link of one record
//! (under one key), meaningless without the host's key. The adapter keeps the way back,
//! `link-handle/<base64url(handle)>` → the record ([`encode_handle_entry`]), written when
//! the record's first link is made. A token of format 2 is 35 to 39 bytes of payload and 32
//! of MAC: about 91 characters, as long as a format 1 token of a short record id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::event::LinkId;
use crate::record::{Module, RecordRef};
use crate::storage::StorageError;

/// Format version of a payload naming the record in clear (read, no longer made).
pub const LINK_FORMAT: u8 = 1;
/// Format version of a payload naming a person handle.
pub const OPAQUE_LINK_FORMAT: u8 = 2;
/// Prefixed to the payload before signing, so a MAC made for anything else never verifies.
pub const SIGNING_DOMAIN: &[u8] = b"privacy-guard/preferences-link/v1\0";
/// Prefixed to a record's name before its handle is signed.
pub const HANDLE_DOMAIN: &[u8] = b"privacy-guard/person-handle/v1\0";
/// Random bytes in a link id.
pub const LINK_ID_LEN: usize = 16;
/// Bytes of a person handle: 96 bits, so that two records of one installation never share
/// one in practice (and a shared one is a fault, never a wrong person).
pub const HANDLE_LEN: usize = 12;
/// Format version of a `link-handle/` value.
pub const HANDLE_ENTRY_FORMAT: u8 = 1;
/// Prefix of the keys mapping a handle back to its record.
pub const HANDLE_PREFIX: &str = "link-handle/";
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

/// The opaque name of one record in its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PersonHandle(pub [u8; HANDLE_LEN]);

impl PersonHandle {
    /// The bytes the host signs to make the handle of `record`.
    pub fn signing_input(record: &RecordRef) -> Vec<u8> {
        let mut input = HANDLE_DOMAIN.to_vec();
        input.extend_from_slice(record.module.as_str().as_bytes());
        input.push(b'/');
        input.extend_from_slice(record.id.as_bytes());
        input
    }

    /// The handle a MAC of [`PersonHandle::signing_input`] gives.
    pub fn from_mac(mac: &[u8]) -> Result<PersonHandle, LinkBuildError> {
        mac.get(..HANDLE_LEN)
            .and_then(|bytes| <[u8; HANDLE_LEN]>::try_from(bytes).ok())
            .map(PersonHandle)
            .ok_or(LinkBuildError::ShortMac(mac.len()))
    }

    /// The key of the entry mapping the handle back to its record.
    pub fn key(&self) -> String {
        format!("{HANDLE_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }
}

#[derive(Serialize, Deserialize)]
struct HandleEntryWire<'a> {
    module: Module,
    id: &'a str,
}

/// The stored bytes of a handle's entry: the format byte, then the record (postcard).
pub fn encode_handle_entry(record: &RecordRef) -> Result<Vec<u8>, StorageError> {
    let wire = HandleEntryWire {
        module: record.module.clone(),
        id: &record.id,
    };
    postcard::to_extend(&wire, vec![HANDLE_ENTRY_FORMAT]).map_err(|source| StorageError::Encode {
        what: "link handle",
        source,
    })
}

/// The record a handle's entry names.
pub fn decode_handle_entry(bytes: &[u8]) -> Result<RecordRef, StorageError> {
    const WHAT: &str = "link handle";
    match bytes.split_first() {
        None => Err(StorageError::Empty { what: WHAT }),
        Some((&HANDLE_ENTRY_FORMAT, rest)) => {
            let wire: HandleEntryWire<'_> = postcard::from_bytes(rest)
                .map_err(|source| StorageError::Decode { what: WHAT, source })?;
            Ok(RecordRef::new(wire.module, wire.id))
        }
        Some((&version, _)) => Err(StorageError::UnknownFormat {
            what: WHAT,
            version,
            oldest: HANDLE_ENTRY_FORMAT,
            newest: HANDLE_ENTRY_FORMAT,
        }),
    }
}

/// Whom a link is for, as its payload names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSubject {
    /// A link of format 1: the record, in clear.
    Record(RecordRef),
    /// A link of format 2: the record's handle, resolved through its entry.
    Handle(PersonHandle),
}

/// What a link says: whose preferences, until when, and which link it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPayload {
    pub subject: LinkSubject,
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

#[derive(Serialize, Deserialize)]
struct OpaqueWire {
    handle: [u8; HANDLE_LEN],
    expires_at: i64,
    link: [u8; LINK_ID_LEN],
}

/// A link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkBuildError {
    /// The host gave fewer random bytes than a link id needs.
    #[error("a link id needs {LINK_ID_LEN} random bytes, got {0}")]
    NotEnoughRandomness(usize),
    /// The host's MAC is shorter than a handle.
    #[error("a person handle needs a MAC of at least {HANDLE_LEN} bytes, got {0}")]
    ShortMac(usize),
    #[error("the link payload cannot be encoded: {0}")]
    Encoding(#[from] postcard::Error),
}

impl LinkPayload {
    /// A link for the record of `handle`, valid for `lifetime_ms` from `now`, identified by
    /// `random` (at least 16 bytes from a secure generator).
    pub fn new(
        handle: PersonHandle,
        now: i64,
        lifetime_ms: i64,
        random: &[u8],
    ) -> Result<LinkPayload, LinkBuildError> {
        LinkPayload::of(LinkSubject::Handle(handle), now, lifetime_ms, random)
    }

    /// A link of format 1, naming `record` in clear, as links were made before contract
    /// 0.3.3: for tests and tools that must show such a link still opens.
    pub fn in_clear(
        record: RecordRef,
        now: i64,
        lifetime_ms: i64,
        random: &[u8],
    ) -> Result<LinkPayload, LinkBuildError> {
        LinkPayload::of(LinkSubject::Record(record), now, lifetime_ms, random)
    }

    fn of(
        subject: LinkSubject,
        now: i64,
        lifetime_ms: i64,
        random: &[u8],
    ) -> Result<LinkPayload, LinkBuildError> {
        let bytes = random
            .get(..LINK_ID_LEN)
            .and_then(|bytes| <[u8; LINK_ID_LEN]>::try_from(bytes).ok())
            .ok_or(LinkBuildError::NotEnoughRandomness(random.len()))?;
        Ok(LinkPayload {
            subject,
            expires_at: now.saturating_add(lifetime_ms),
            link: LinkId(bytes),
        })
    }

    /// The payload bytes that are signed and put in the token.
    pub fn encode(&self) -> Result<Vec<u8>, LinkBuildError> {
        Ok(match &self.subject {
            LinkSubject::Record(record) => {
                let wire = PayloadWire {
                    module: record.module.clone(),
                    id: &record.id,
                    expires_at: self.expires_at,
                    link: self.link.0,
                };
                postcard::to_extend(&wire, vec![LINK_FORMAT])?
            }
            LinkSubject::Handle(handle) => {
                let wire = OpaqueWire {
                    handle: handle.0,
                    expires_at: self.expires_at,
                    link: self.link.0,
                };
                postcard::to_extend(&wire, vec![OPAQUE_LINK_FORMAT])?
            }
        })
    }

    fn decode(bytes: &[u8]) -> Result<LinkPayload, LinkError> {
        let (&format, rest) = bytes.split_first().ok_or(LinkError::Invalid)?;
        match format {
            LINK_FORMAT => {
                let (wire, remaining): (PayloadWire<'_>, _) =
                    postcard::take_from_bytes(rest).map_err(|_| LinkError::Invalid)?;
                // A module name inside a token is checked like any other input.
                let valid_module =
                    Module::parse(wire.module.as_str()).is_ok_and(|module| module == wire.module);
                if !remaining.is_empty() || wire.id.is_empty() || !valid_module {
                    return Err(LinkError::Invalid);
                }
                Ok(LinkPayload {
                    subject: LinkSubject::Record(RecordRef::new(wire.module, wire.id)),
                    expires_at: wire.expires_at,
                    link: LinkId(wire.link),
                })
            }
            OPAQUE_LINK_FORMAT => {
                let (wire, remaining): (OpaqueWire, _) =
                    postcard::take_from_bytes(rest).map_err(|_| LinkError::Invalid)?;
                if !remaining.is_empty() {
                    return Err(LinkError::Invalid);
                }
                Ok(LinkPayload {
                    subject: LinkSubject::Handle(PersonHandle(wire.handle)),
                    expires_at: wire.expires_at,
                    link: LinkId(wire.link),
                })
            }
            _ => Err(LinkError::Invalid),
        }
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
        LinkPayload::new(handle_of(&record()), 1_000, 500, &[7; 20]).unwrap()
    }

    fn record() -> RecordRef {
        RecordRef::new(Module::Contacts, "42")
    }

    fn handle_of(record: &RecordRef) -> PersonHandle {
        PersonHandle::from_mac(&fake_mac(&PersonHandle::signing_input(record))).unwrap()
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
        other_format[0] = 3;
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
        assert!(matches!(
            LinkPayload::new(handle_of(&record()), 0, 1, &[1; 15]),
            Err(LinkBuildError::NotEnoughRandomness(15))
        ));
        assert!(matches!(
            PersonHandle::from_mac(&[1; 11]),
            Err(LinkBuildError::ShortMac(11))
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

    #[test]
    fn a_new_token_names_nobody_and_is_short() {
        let record = RecordRef::new(Module::Other("accounts".into()), "4711");
        let payload = LinkPayload::new(handle_of(&record), 1_000, 500, &[9; 16]).unwrap();
        let bytes = payload.encode().unwrap();
        assert_eq!(bytes[0], OPAQUE_LINK_FORMAT);
        let token = token(&bytes, &[0xee; 32]);
        let decoded = String::from_utf8_lossy(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .into_owned();
        for revealing in ["4711", "accounts", "contacts"] {
            assert!(!token.contains(revealing), "{token}");
            assert!(!decoded.contains(revealing), "{decoded:?}");
        }
        assert!(token.len() <= 100, "{} characters: {token}", token.len());
        let parsed = UnverifiedToken::parse(&token).unwrap();
        assert_eq!(
            parsed.payload.subject,
            LinkSubject::Handle(handle_of(&record))
        );
    }

    #[test]
    fn a_token_of_the_first_format_still_parses_to_its_record() {
        let payload = LinkPayload::in_clear(record(), 1_000, 500, &[7; 16]).unwrap();
        let bytes = payload.encode().unwrap();
        assert_eq!(bytes[0], LINK_FORMAT);
        let parsed = UnverifiedToken::parse(&token(&bytes, b"mac")).unwrap();
        assert_eq!(parsed.payload.subject, LinkSubject::Record(record()));
        assert_eq!(parsed.payload, payload);
    }

    #[test]
    fn one_record_has_one_handle_and_its_entry_reads_back() {
        let other = RecordRef::new(Module::Leads, "42");
        assert_eq!(handle_of(&record()), handle_of(&record()));
        assert_ne!(handle_of(&record()), handle_of(&other));
        let key = handle_of(&record()).key();
        assert!(
            key.starts_with(HANDLE_PREFIX) && key.len() == HANDLE_PREFIX.len() + 16,
            "{key}"
        );
        let bytes = encode_handle_entry(&other).unwrap();
        assert_eq!(decode_handle_entry(&bytes).unwrap(), other);
        assert!(decode_handle_entry(&[]).is_err());
        assert!(matches!(
            decode_handle_entry(&[7, 0]),
            Err(StorageError::UnknownFormat { version: 7, .. })
        ));
    }
}
