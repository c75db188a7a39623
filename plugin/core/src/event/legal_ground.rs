//! Events that change no person's state: a send on a legal ground, and a consent deleted
//! from the configuration.

use serde::{Deserialize, Serialize};

use super::{EVENT_FORMAT, EventError, EventKind};
use crate::definition::{ConsentId, ConsentKind, PurposeChange, StoredDefinition};
use crate::vocabulary::{LawfulBasis, MessageClass};

/// Longest CRM message id kept with a send on a legal ground, in bytes.
const MAX_MESSAGE_ID_LEN: usize = 200;

/// A mail allowed to a restricted or erased person on a legal ground (GDPR Art. 18(2):
/// processing a restricted person's data needs a ground, and the ground is recorded).
///
/// ```json
/// {"v":1,"kind":"sent-on-legal-ground","at":1714557600000,"class":"transactional",
///  "basis":"legal-obligation","message-id":"invoice-2024-0042"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LegalGroundEvent {
    pub at: i64,
    pub class: MessageClass,
    pub basis: LawfulBasis,
    /// The CRM's id of the mail, when it gave one (one line, at most 200 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireLegalGround {
    v: u8,
    kind: EventKind,
    #[serde(flatten)]
    event: LegalGroundEvent,
}

impl LegalGroundEvent {
    /// The event for a send of `class` on `basis` at `at`; the CRM's message id is kept
    /// when it is one line, cut to 200 bytes.
    pub fn new(
        at: i64,
        class: MessageClass,
        basis: LawfulBasis,
        message_id: Option<&str>,
    ) -> LegalGroundEvent {
        let message_id = message_id
            .map(str::trim)
            .filter(|id| !id.is_empty() && !id.chars().any(char::is_control))
            .map(|id| {
                let mut end = id.len().min(MAX_MESSAGE_ID_LEN);
                while !id.is_char_boundary(end) {
                    end -= 1;
                }
                id[..end].to_owned()
            });
        LegalGroundEvent {
            at,
            class,
            basis,
            message_id,
        }
    }

    pub fn to_json(&self) -> Result<String, EventError> {
        Ok(serde_json::to_string(&WireLegalGround {
            v: EVENT_FORMAT,
            kind: EventKind::SentOnLegalGround,
            event: self.clone(),
        })?)
    }

    pub(super) fn from_json(json: &str) -> Result<LegalGroundEvent, EventError> {
        let wire: WireLegalGround = serde_json::from_str(json)?;
        if wire.v != EVENT_FORMAT {
            return Err(EventError::UnknownFormat(wire.v));
        }
        Ok(wire.event)
    }
}

/// The stream of configuration events (consent deletions and purpose changes), beside the
/// per-record streams.
pub const CONFIGURATION_STREAM: &str = "configuration";

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct WireConsentDeleted<'a> {
    v: u8,
    kind: &'static str,
    at: i64,
    consent: &'a ConsentId,
    module: &'a str,
    purpose_version: u32,
    purpose_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// The event of the [`CONFIGURATION_STREAM`] recording that `stored` was deleted at `at`:
///
/// ```json
/// {"v":1,"kind":"consent-deleted","at":1714557600000,"consent":"phone-calls",
///  "module":"contacts","purpose-version":2,"purpose-hash":"9f86…","field":"phone"}
/// ```
pub fn consent_deleted_json(stored: &StoredDefinition, at: i64) -> Result<String, EventError> {
    let field = match &stored.definition.kind {
        ConsentKind::Data { field } => Some(field.as_str()),
        _ => None,
    };
    Ok(serde_json::to_string(&WireConsentDeleted {
        v: EVENT_FORMAT,
        kind: "consent-deleted",
        at,
        consent: stored.id(),
        module: stored.definition.module.as_str(),
        purpose_version: stored.purpose.version,
        purpose_hash: &stored.purpose.hash,
        field,
    })?)
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct WirePurposeChanged<'a> {
    v: u8,
    kind: &'static str,
    at: i64,
    consent: &'a ConsentId,
    module: &'a str,
    change: &'static str,
    from_version: u32,
    from_hash: &'a str,
    purpose_version: u32,
    purpose_hash: &'a str,
    counts_from_version: u32,
}

/// The event of the [`CONFIGURATION_STREAM`] recording that the purpose text of a consent
/// changed from `before` to `after` at `at`, as a correction or a material change:
///
/// ```json
/// {"v":1,"kind":"purpose-changed","at":1714557600000,"consent":"newsletter",
///  "module":"contacts","change":"material","from-version":1,"from-hash":"9f86…",
///  "purpose-version":2,"purpose-hash":"60303…","counts-from-version":2}
/// ```
pub fn purpose_changed_json(
    before: &StoredDefinition,
    after: &StoredDefinition,
    change: PurposeChange,
    at: i64,
) -> Result<String, EventError> {
    Ok(serde_json::to_string(&WirePurposeChanged {
        v: EVENT_FORMAT,
        kind: "purpose-changed",
        at,
        consent: after.id(),
        module: after.definition.module.as_str(),
        change: match change {
            PurposeChange::Correction => "correction",
            PurposeChange::Material => "material",
        },
        from_version: before.purpose.version,
        from_hash: &before.purpose.hash,
        purpose_version: after.purpose.version,
        purpose_hash: &after.purpose.hash,
        counts_from_version: after.counts_from,
    })?)
}
