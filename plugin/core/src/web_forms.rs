//! Requests that could be unwanted mail: the proof a web-form record must carry before it
//! is sent a consent request (an empty honeypot, a genuine form token of the right age),
//! and the per-address limits on request mail and "send me my link again" mail.
//!
//! A *form token* is `base64url([1] issued-at ms [8 bytes, big-endian] random [12 bytes])
//! "." base64url(keys.sign(FORM_TOKEN_DOMAIN || payload))`, about 72 characters. The CRM
//! serves it in a hidden field of its form; a record arriving with it proves the form was
//! served by this installation at least [`FORM_TOKEN_MIN_AGE_MS`] and at most
//! [`FORM_TOKEN_MAX_AGE_MS`] before (by `clock.now`): a bot posting straight to the CRM
//! has none, one replaying an old one is too late, one filling the form in at machine speed
//! too early.
//!
//! The limits are kept per address under a key made of a MAC of the normalised address
//! (`keys.sign`), so that the store holds no address in clear where an erasure would have
//! to find it: `request-sent/<hex>` and `link-mailed/<hex>`, each the time of the last such
//! mail ([`encode_sent_at`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::address::Address;
use crate::digest::to_hex;
use crate::event::WithheldReason;
use crate::safeguards::WebFormProof;
use crate::storage::StorageError;

/// Format version of a form token's payload.
pub const FORM_TOKEN_FORMAT: u8 = 1;
/// Prefixed to a form token's payload before signing: a MAC made for anything else (a
/// preferences link) never verifies as a form token, nor the other way round.
pub const FORM_TOKEN_DOMAIN: &[u8] = b"privacy-guard/form-token/v1\0";
/// Random bytes in a form token.
pub const FORM_TOKEN_RANDOM_LEN: usize = 12;
/// A form sent back sooner after it was served is a machine's.
pub const FORM_TOKEN_MIN_AGE_MS: i64 = 3_000;
/// A form token older than this is refused: a day covers a person who left the form open.
pub const FORM_TOKEN_MAX_AGE_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest form token read; anything longer is not one of ours.
const MAX_FORM_TOKEN_LEN: usize = 256;
const FORM_PAYLOAD_LEN: usize = 1 + 8 + FORM_TOKEN_RANDOM_LEN;

/// Prefix of the key holding when an address was last sent a consent request mail.
pub const REQUEST_SENT_PREFIX: &str = "request-sent/";
/// Prefix of the key holding when an address was last mailed its link again.
pub const LINK_MAILED_PREFIX: &str = "link-mailed/";
/// Prefix of the marker a web-form record without proof carries: `withheld/<module>/<id>`.
pub const WITHHELD_PREFIX: &str = "withheld/";
/// Format version of the `request-sent/`, `link-mailed/` and `withheld/` values.
pub const LIMIT_FORMAT: u8 = 1;
/// Bytes of the address MAC kept in a limit's key.
const LIMIT_KEY_BYTES: usize = 16;

/// The payload of a new form token issued at `now` with `random` (at least
/// [`FORM_TOKEN_RANDOM_LEN`] bytes from a secure generator); none when there are fewer.
pub fn form_token_payload(now: i64, random: &[u8]) -> Option<Vec<u8>> {
    let random = random.get(..FORM_TOKEN_RANDOM_LEN)?;
    let mut payload = Vec::with_capacity(FORM_PAYLOAD_LEN);
    payload.push(FORM_TOKEN_FORMAT);
    payload.extend_from_slice(&now.to_be_bytes());
    payload.extend_from_slice(random);
    Some(payload)
}

/// The bytes the host signs or verifies for a form token's payload.
pub fn form_signing_input(payload: &[u8]) -> Vec<u8> {
    let mut input = FORM_TOKEN_DOMAIN.to_vec();
    input.extend_from_slice(payload);
    input
}

/// The text of a signed form token.
pub fn form_token(payload: &[u8], mac: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

/// A form token taken apart; its MAC is not verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedFormToken {
    pub payload: Vec<u8>,
    pub mac: Vec<u8>,
    pub issued_at: i64,
}

impl UnverifiedFormToken {
    /// Takes a token apart; none when it is not one.
    pub fn parse(text: &str) -> Option<UnverifiedFormToken> {
        let text = text.trim();
        if text.len() > MAX_FORM_TOKEN_LEN {
            return None;
        }
        let (payload, mac) = text.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if payload.len() != FORM_PAYLOAD_LEN || payload[0] != FORM_TOKEN_FORMAT || mac.is_empty() {
            return None;
        }
        let issued_at = i64::from_be_bytes(payload[1..9].try_into().ok()?);
        Some(UnverifiedFormToken {
            payload,
            mac,
            issued_at,
        })
    }

    /// The bytes the host verifies the MAC over.
    pub fn signing_input(&self) -> Vec<u8> {
        form_signing_input(&self.payload)
    }
}

/// Whether a web-form record whose fields `field` reads may be sent a request at `now`:
/// its honeypot empty, and, when the settings name a token field, a form token in it that
/// `verify` (the host's `keys.verify` of signing input and MAC) accepts, of an age between
/// [`FORM_TOKEN_MIN_AGE_MS`] and [`FORM_TOKEN_MAX_AGE_MS`]. The first thing wrong is the
/// reason.
pub fn check_proof<'a>(
    proof: &WebFormProof,
    field: impl Fn(&str) -> Option<&'a str>,
    now: i64,
    verify: impl FnOnce(&[u8], &[u8]) -> bool,
) -> Result<(), WithheldReason> {
    let filled = |name: &str| field(name).map(str::trim).filter(|value| !value.is_empty());
    if !proof.honeypot_field.is_empty() && filled(&proof.honeypot_field).is_some() {
        return Err(WithheldReason::HoneypotFilled);
    }
    if proof.token_field.is_empty() {
        return Ok(());
    }
    let text = filled(&proof.token_field).ok_or(WithheldReason::FormTokenMissing)?;
    let token = UnverifiedFormToken::parse(text).ok_or(WithheldReason::FormTokenInvalid)?;
    if !verify(&token.signing_input(), &token.mac) {
        return Err(WithheldReason::FormTokenInvalid);
    }
    let age = now.saturating_sub(token.issued_at);
    if age < FORM_TOKEN_MIN_AGE_MS {
        Err(WithheldReason::FormTokenTooFresh)
    } else if age > FORM_TOKEN_MAX_AGE_MS {
        Err(WithheldReason::FormTokenExpired)
    } else {
        Ok(())
    }
}

/// Which per-address limit a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressLimit {
    /// Consent request mail (requests and reminders of the daily run).
    Request,
    /// "Send me my link again" mail.
    LinkMail,
}

impl AddressLimit {
    fn prefix(self) -> &'static str {
        match self {
            AddressLimit::Request => REQUEST_SENT_PREFIX,
            AddressLimit::LinkMail => LINK_MAILED_PREFIX,
        }
    }

    /// The bytes the host signs to key the limit of `address` (both limits share one MAC).
    pub fn signing_input(address: &Address) -> Vec<u8> {
        let mut input = b"privacy-guard/address-limit/v1\0".to_vec();
        input.extend_from_slice(address.as_str().as_bytes());
        input
    }

    /// The key of this limit for the address whose MAC is `mac`.
    pub fn key(self, mac: &[u8]) -> String {
        let kept = &mac[..mac.len().min(LIMIT_KEY_BYTES)];
        format!("{}{}", self.prefix(), to_hex(kept))
    }
}

/// Whether a mail to an address last mailed at `last` must wait at `now` under an interval
/// of `interval_ms` (0: no limit).
pub fn too_soon(last: Option<i64>, now: i64, interval_ms: i64) -> bool {
    interval_ms > 0 && last.is_some_and(|last| now < last.saturating_add(interval_ms))
}

/// The stored bytes of a time: the format byte, then unix ms (8 bytes, big-endian).
pub fn encode_sent_at(at: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(9);
    bytes.push(LIMIT_FORMAT);
    bytes.extend_from_slice(&at.to_be_bytes());
    bytes
}

/// The time stored by [`encode_sent_at`].
pub fn decode_sent_at(bytes: &[u8]) -> Result<i64, StorageError> {
    const WHAT: &str = "time of the last mail to an address";
    match bytes.split_first() {
        None => Err(StorageError::Empty { what: WHAT }),
        Some((&LIMIT_FORMAT, rest)) => rest
            .try_into()
            .map(i64::from_be_bytes)
            .map_err(|_| StorageError::Empty { what: WHAT }),
        Some((&version, _)) => Err(StorageError::UnknownFormat {
            what: WHAT,
            version,
            oldest: LIMIT_FORMAT,
            newest: LIMIT_FORMAT,
        }),
    }
}

/// The key of the marker of a web-form record sent no request.
pub fn withheld_key(record: &crate::record::RecordRef) -> String {
    format!("{WITHHELD_PREFIX}{}/{}", record.module.as_str(), record.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_720_400_000;

    fn proof(honeypot: &str, token: &str) -> WebFormProof {
        WebFormProof {
            source_field: "leadsource".to_owned(),
            source_value: "Web Site".to_owned(),
            honeypot_field: honeypot.to_owned(),
            token_field: token.to_owned(),
        }
    }

    /// A stand-in for the host's MAC: good enough to test the format, not a MAC.
    fn fake_mac(input: &[u8]) -> Vec<u8> {
        crate::digest::sha256_hex(&[b"key", input]).into_bytes()
    }

    fn token_issued(at: i64) -> String {
        let payload = form_token_payload(at, &[5; 12]).unwrap();
        form_token(&payload, &fake_mac(&form_signing_input(&payload)))
    }

    fn check(proof: &WebFormProof, fields: &[(&str, &str)]) -> Result<(), WithheldReason> {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        check_proof(
            proof,
            |name| {
                fields
                    .iter()
                    .find(|(field, _)| field == name)
                    .map(|(_, value)| value.as_str())
            },
            NOW,
            |input, mac| fake_mac(input) == mac,
        )
    }

    #[test]
    fn the_proof_of_a_web_form_record_decides_as_documented() {
        let good = token_issued(NOW - 60_000);
        let forged = good.replace('.', ".A");
        let signed_other = {
            let payload = form_token_payload(NOW - 60_000, &[5; 12]).unwrap();
            form_token(&payload, &fake_mac(&payload))
        };
        type Case<'a> = (
            WebFormProof,
            Vec<(&'a str, &'a str)>,
            Result<(), WithheldReason>,
        );
        let cases: &[Case<'_>] = &[
            (proof("", ""), vec![], Ok(())),
            (proof("website", ""), vec![("website", "  ")], Ok(())),
            (
                proof("website", ""),
                vec![("website", "http://spam")],
                Err(WithheldReason::HoneypotFilled),
            ),
            (
                proof("website", "form_token"),
                vec![("website", "x"), ("form_token", &good)],
                Err(WithheldReason::HoneypotFilled),
            ),
            (
                proof("", "form_token"),
                vec![],
                Err(WithheldReason::FormTokenMissing),
            ),
            (proof("", "form_token"), vec![("form_token", &good)], Ok(())),
            (
                proof("", "form_token"),
                vec![("form_token", "not a token")],
                Err(WithheldReason::FormTokenInvalid),
            ),
            (
                proof("", "form_token"),
                vec![("form_token", &forged)],
                Err(WithheldReason::FormTokenInvalid),
            ),
            (
                proof("", "form_token"),
                vec![("form_token", &signed_other)],
                Err(WithheldReason::FormTokenInvalid),
            ),
        ];
        for (proof, fields, expected) in cases {
            assert_eq!(check(proof, fields), *expected, "{fields:?}");
        }
    }

    #[test]
    fn a_form_token_counts_from_three_seconds_to_a_day_after_issue() {
        let cases = [
            (NOW + 5_000, Err(WithheldReason::FormTokenTooFresh)),
            (NOW, Err(WithheldReason::FormTokenTooFresh)),
            (NOW - 2_999, Err(WithheldReason::FormTokenTooFresh)),
            (NOW - 3_000, Ok(())),
            (NOW - FORM_TOKEN_MAX_AGE_MS, Ok(())),
            (
                NOW - FORM_TOKEN_MAX_AGE_MS - 1,
                Err(WithheldReason::FormTokenExpired),
            ),
        ];
        let proof = proof("", "form_token");
        for (issued, expected) in cases {
            let token = token_issued(issued);
            assert_eq!(
                check(&proof, &[("form_token", &token)]),
                expected,
                "{issued}"
            );
        }
    }

    #[test]
    fn a_form_token_parses_back_and_refuses_other_shapes() {
        let payload = form_token_payload(NOW, &[5; 12]).unwrap();
        // With the host's MAC (HMAC-SHA256, 32 bytes): 72 characters.
        assert_eq!(form_token(&payload, &[0xee; 32]).len(), 72);
        let text = token_issued(NOW);
        let parsed = UnverifiedFormToken::parse(&format!(" {text} ")).unwrap();
        assert_eq!(parsed.issued_at, NOW);
        assert!(parsed.signing_input().starts_with(FORM_TOKEN_DOMAIN));
        for bad in ["", ".", "AAAA.AAAA", &format!("{text}{}", "A".repeat(300))] {
            assert_eq!(UnverifiedFormToken::parse(bad), None, "{bad}");
        }
        assert_eq!(form_token_payload(NOW, &[1; 11]), None);
    }

    #[test]
    fn an_address_limit_holds_mail_back_only_within_its_interval() {
        let hour = 3_600_000;
        assert!(!too_soon(None, NOW, 24 * hour));
        assert!(too_soon(Some(NOW - hour), NOW, 24 * hour));
        assert!(too_soon(Some(NOW - 24 * hour + 1), NOW, 24 * hour));
        assert!(!too_soon(Some(NOW - 24 * hour), NOW, 24 * hour));
        assert!(!too_soon(Some(NOW), NOW, 0));
        let bytes = encode_sent_at(NOW);
        assert_eq!(decode_sent_at(&bytes).unwrap(), NOW);
        assert!(decode_sent_at(&[]).is_err());
        assert!(decode_sent_at(&[2, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_sent_at(&[1, 0]).is_err());
    }

    #[test]
    fn limit_keys_hold_no_address_and_differ_by_limit() {
        let address = Address::parse("Ada@Example.org").unwrap();
        let input = AddressLimit::signing_input(&address);
        let mac = fake_mac(&input);
        let request = AddressLimit::Request.key(&mac);
        let link = AddressLimit::LinkMail.key(&mac);
        assert!(request.starts_with(REQUEST_SENT_PREFIX) && link.starts_with(LINK_MAILED_PREFIX));
        assert_ne!(request, link);
        assert!(!request.contains("ada") && !request.contains("example"));
    }
}
