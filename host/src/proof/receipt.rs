//! Consent receipts: one per answer (a grant, refusal or withdrawal given on the page, by
//! one-click unsubscription, or recorded by staff), built from the hash-chained event that
//! recorded it, in the fields of the Kantara Consent Receipt v1.1 (which ISO/IEC TS 27560
//! grew from), signed with the tenant's proof key as a JWS compact serialisation
//! (RFC 7515) with `EdDSA` (RFC 8037): `base64url(header).base64url(receipt).base64url(sig)`.
//!
//! The signature covers the exact bytes of the receipt, so no canonical JSON is needed: a
//! verifier checks the signature over the first two parts, then reads the receipt. The
//! receipt carries the event itself (stream, payload, time, the chain hash before it and
//! its own), so whoever holds it can recompute the event's chain hash, and, with the log or
//! a checkpoint at or after its sequence, place it in the log.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ProofError;
use super::signing::{ProofKey, VerifierKey};
use crate::storage::proof::{ChainedEvent, event_chain_hash};

/// The Kantara Consent Receipt version the receipt's fields follow.
pub const RECEIPT_VERSION: &str = "KI-CR-v1.1.0";

/// The sources of an event that are a person's answer or a decision staff recorded.
const ANSWER_SOURCES: &[&str] = &["preferences-page", "admin", "import", "api"];

/// What an answer event says, read from its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub consent: String,
    /// `granted`, `withdrawn` or `refused`.
    pub answer: &'static str,
    pub from: String,
    pub to: String,
    pub source: String,
    pub actor: Option<String>,
    pub at: i64,
    pub purpose_version: Option<u64>,
    pub purpose_sha256: Option<String>,
    /// The link the answer came through (page answers only).
    pub link: Option<String>,
    pub evidence: Value,
}

/// The answer `payload` records, or `None` when the event is not an answer (a request, a
/// lapse, a re-evaluation, a status change, …).
pub fn answer_of(payload: &str) -> Option<Answer> {
    let payload: Value = serde_json::from_str(payload).ok()?;
    let text = |name: &str| payload.get(name).and_then(Value::as_str);
    if text("kind")? != "consent-changed" {
        return None;
    }
    let source = text("source")?;
    if !ANSWER_SOURCES.contains(&source) {
        return None;
    }
    let (from, to) = (text("from")?, text("to")?);
    let answer = match (from, to) {
        (_, "granted") => "granted",
        ("granted", "not-granted") => "withdrawn",
        (_, "not-granted") => "refused",
        _ => return None,
    };
    let evidence = payload.get("evidence").cloned().unwrap_or(Value::Null);
    Some(Answer {
        consent: text("consent")?.to_owned(),
        answer,
        from: from.to_owned(),
        to: to.to_owned(),
        source: source.to_owned(),
        actor: text("actor").map(str::to_owned),
        at: payload.get("at").and_then(Value::as_i64)?,
        purpose_version: payload.get("purpose-version").and_then(Value::as_u64),
        purpose_sha256: text("purpose-hash").map(str::to_owned),
        link: evidence
            .get("link")
            .and_then(Value::as_str)
            .map(str::to_owned),
        evidence,
    })
}

/// What the receipt says beyond the event: who the controller is, which law, the purpose's
/// words, the address. Read from the configuration and the record when the receipt is made.
#[derive(Debug, Clone, Default)]
pub struct ReceiptContext {
    pub controller: Option<Controller>,
    pub jurisdiction: String,
    pub title: Option<String>,
    /// The purpose text of the event's purpose version, when the configuration still has it.
    pub purpose: Option<String>,
    /// SHA-256 (hex) of the record's address (trimmed, lower case) when the receipt was
    /// made; `None` once erased.
    pub address_sha256: Option<String>,
    /// When the receipt was made (unix ms).
    pub issued_at: i64,
}

/// The controller as the settings name it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Controller {
    pub pii_controller: String,
    pub contact: String,
    pub address: String,
    pub email: String,
    pub phone: String,
}

/// The JWS header: the algorithm, the type, and the verifier key that signed.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// The JWS type of a receipt.
const RECEIPT_TYPE: &str = "consent-receipt+jwt";

/// Signs the receipt of `answer`, recorded by `event`, with `key`.
pub fn sign(
    key: &ProofKey,
    event: &ChainedEvent,
    answer: &Answer,
    context: &ReceiptContext,
) -> String {
    let verifier = key.verifier().text();
    let receipt = receipt_json(&verifier, event, answer, context);
    let header = Header {
        alg: "EdDSA".to_owned(),
        typ: RECEIPT_TYPE.to_owned(),
        kid: verifier,
    };
    // Serialising plain structs and `Value`s cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let receipt = serde_json::to_vec(&receipt).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(receipt)
    );
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}\n",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

fn receipt_json(
    verifier: &str,
    event: &ChainedEvent,
    answer: &Answer,
    context: &ReceiptContext,
) -> Value {
    let collection_method = match answer.source.as_str() {
        "preferences-page" => "the person answered through the signed preferences link mailed to their address (the page, or the one-click unsubscription of RFC 8058)".to_owned(),
        channel => format!(
            "staff recorded a decision the person made elsewhere, through the {channel} channel, as {}",
            answer.actor.as_deref().unwrap_or("an unnamed actor")
        ),
    };
    let purpose_text = context.purpose.clone().unwrap_or_else(|| {
        format!(
            "version {} of the purpose of `{}` (its text is identified by purposeSha256)",
            answer.purpose_version.unwrap_or_default(),
            answer.consent
        )
    });
    serde_json::json!({
        "version": RECEIPT_VERSION,
        "jurisdiction": context.jurisdiction,
        "consentTimestamp": answer.at / 1000,
        "collectionMethod": collection_method,
        "consentReceiptID": receipt_id(verifier, event.sequence),
        "publicKey": verifier,
        "piiPrincipalId": event.stream,
        "piiControllers": context.controller.iter().collect::<Vec<_>>(),
        "policyUrl": "",
        "services": [{
            "service": context.title.clone().unwrap_or_else(|| answer.consent.clone()),
            "purposes": [{
                "purpose": purpose_text,
                "purposeCategory": [],
                "consentType": "EXPLICIT",
                "piiCategory": [],
                "primaryPurpose": true,
                "termination": "until withdrawn: on the preferences page, by the unsubscribe link of any mail, or by asking the controller",
                "thirdPartyDisclosure": false,
            }],
        }],
        "sensitive": false,
        "spiCat": [],
        "iat": context.issued_at / 1000,
        "privacyGuard": {
            "subject": {
                "record": event.stream,
                "addressSha256": context.address_sha256,
            },
            "consent": {
                "id": answer.consent,
                "answer": answer.answer,
                "from": answer.from,
                "to": answer.to,
                "purposeVersion": answer.purpose_version,
                "purposeSha256": answer.purpose_sha256,
            },
            "collection": {
                "source": answer.source,
                "actor": answer.actor,
                "evidence": answer.evidence,
            },
            "event": {
                "sequence": event.sequence,
                "stream": event.stream,
                "payload": event.payload,
                "recordedAt": event.recorded_at,
                "previousChainHash": BASE64.encode(event.previous_hash),
                "chainHash": BASE64.encode(event.chain_hash),
            },
            "log": {
                "origin": format!("{}/events", verifier.split('+').next().unwrap_or_default()),
                "position": event.sequence,
                "checkpointedBy": format!("any checkpoint of this origin whose size is at least {}", event.sequence),
            },
        },
    })
}

/// The receipt's id: a UUID (version 8, RFC 9562) from the SHA-256 of the key and the
/// event's sequence, so every download of one answer's receipt has the same id.
fn receipt_id(verifier: &str, sequence: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"privacy-guard consent receipt\n");
    hasher.update(verifier.as_bytes());
    hasher.update(sequence.to_be_bytes());
    let mut bytes: [u8; 16] = hasher.finalize()[..16].try_into().unwrap_or_default();
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Verifies a receipt file with the public key alone: the exact JWS (one optional final
/// newline, nothing else), its header, its Ed25519 signature, and that the event it carries
/// hashes to the chain hash it states. Answers the receipt's JSON.
pub fn verify(file: &[u8], verifier: &VerifierKey) -> Result<Value, ProofError> {
    let malformed = |why: &str| ProofError::ReceiptMalformed {
        why: why.to_owned(),
    };
    let text = std::str::from_utf8(file).map_err(|_| malformed("it is not UTF-8 text"))?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut parts = text.split('.');
    let (Some(header), Some(receipt), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "it is not three base64url parts joined by `.` (a JWS)",
        ));
    };
    let signing_input = &text[..header.len() + 1 + receipt.len()];
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| malformed(&format!("its {what} is not base64url")))
    };
    let header_bytes = decode(header, "header")?;
    let receipt_bytes = decode(receipt, "receipt")?;
    let signature_bytes = decode(signature, "signature")?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| malformed("its header is not a JWS header of a receipt"))?;
    if header.alg != "EdDSA" || header.typ != RECEIPT_TYPE {
        return Err(malformed(
            "its header does not say `EdDSA` and a consent receipt",
        ));
    }
    if header.kid != verifier.text() {
        return Err(ProofError::NotSignedByKey {
            key: verifier.text(),
        });
    }
    let signature = Signature::from_slice(&signature_bytes)
        .map_err(|_| malformed("its signature is not 64 bytes"))?;
    verifier.verify(signing_input.as_bytes(), &signature)?;
    let receipt: Value = serde_json::from_slice(&receipt_bytes)
        .map_err(|_| malformed("the signed receipt is not JSON"))?;
    check_event(&receipt)?;
    Ok(receipt)
}

/// The event a receipt carries must hash to the chain hash it states.
fn check_event(receipt: &Value) -> Result<(), ProofError> {
    let event =
        receipt
            .pointer("/privacyGuard/event")
            .ok_or_else(|| ProofError::ReceiptMalformed {
                why: "it carries no event".to_owned(),
            })?;
    let text = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or_default();
    let hash = |name: &str| {
        BASE64
            .decode(text(name))
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
    };
    let recorded_at = event.get("recordedAt").and_then(Value::as_i64);
    let (Some(previous), Some(stated), Some(recorded_at)) =
        (hash("previousChainHash"), hash("chainHash"), recorded_at)
    else {
        return Err(ProofError::ReceiptMalformed {
            why: "its event lacks a chain hash or time".to_owned(),
        });
    };
    if event_chain_hash(&previous, text("stream"), text("payload"), recorded_at) != stated {
        return Err(ProofError::ReceiptEventMismatch);
    }
    Ok(())
}
