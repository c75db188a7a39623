//! Rights requests as cases on the legal clock: the data-protection officer's desk.
//!
//! A case is the business's administration around a person's request (access,
//! portability, rectification, erasure, restriction, objection): who asked, under which
//! law's clock, whether their identity was checked, and what became of it. Cases never
//! decide a send; where a case's outcome is a consent action (an erasure, a restriction,
//! the withdrawal an objection means) the guard calls the plugin, which writes its own
//! events (`guard/cases.rs`). Every change of a case appends an event to the hash-chained
//! log (stream `case:<id>`) in the same transaction as the case's row.
//!
//! This module is pure: [`Case`] and its transitions take `now` and return the new case
//! and the event to append; `clock.rs` holds the statutory deadlines, `identity.rs` the
//! identity code. It knows nothing of the plugin, the database or the guard.

pub mod clock;
pub mod identity;
mod stored;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

pub use self::clock::{ExtensionRefused, Regime};
pub use self::stored::UnreadableCase;

/// The prefix of a case's event stream: `case:<id>`. No person's stream can start so: a
/// person's is `<module>/<id>`, and a module's name has no `:`.
pub const CASE_STREAM_PREFIX: &str = "case:";

/// What the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseKind {
    /// GDPR Art. 15: a copy of everything held about them.
    Access,
    /// GDPR Art. 20: their data in a machine-readable form.
    Portability,
    /// GDPR Art. 16: a wrong value corrected.
    Rectification,
    /// GDPR Art. 17.
    Erasure,
    /// GDPR Art. 18.
    Restriction,
    /// GDPR Art. 21: no more processing on consent or legitimate interest (marketing).
    Objection,
}

impl CaseKind {
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Access,
        CaseKind::Portability,
        CaseKind::Rectification,
        CaseKind::Erasure,
        CaseKind::Restriction,
        CaseKind::Objection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Access => "access",
            CaseKind::Portability => "portability",
            CaseKind::Rectification => "rectification",
            CaseKind::Erasure => "erasure",
            CaseKind::Restriction => "restriction",
            CaseKind::Objection => "objection",
        }
    }

    pub fn parse(text: &str) -> Option<CaseKind> {
        CaseKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether completing the case hands the person their data (the export).
    pub fn produces_export(self) -> bool {
        matches!(self, CaseKind::Access | CaseKind::Portability)
    }
}

/// Where a case stands. The identity check comes first: nothing is done for a person
/// whose identity was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// A code was mailed to the address on record; staff wait for the person to read it back.
    IdentityPending,
    /// The person read the code back: the request may be carried out.
    IdentityVerified,
    /// Carried out.
    Completed,
    /// Refused (manifestly unfounded, identity not established, ...), with a reason.
    Refused,
    /// The person withdrew the request.
    Withdrawn,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] = [
        CaseStatus::IdentityPending,
        CaseStatus::IdentityVerified,
        CaseStatus::Completed,
        CaseStatus::Refused,
        CaseStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::IdentityPending => "identity-pending",
            CaseStatus::IdentityVerified => "identity-verified",
            CaseStatus::Completed => "completed",
            CaseStatus::Refused => "refused",
            CaseStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<CaseStatus> {
        CaseStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether the case is still on the clock.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CaseStatus::IdentityPending | CaseStatus::IdentityVerified
        )
    }
}

/// A rights request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    pub id: String,
    #[serde(serialize_with = "as_text::kind")]
    pub kind: CaseKind,
    pub module: String,
    pub record_id: String,
    /// The address on record the identity code went to; `None` once an erasure emptied it.
    #[serde(skip)]
    pub address: Option<String>,
    #[serde(serialize_with = "as_text::regime")]
    pub regime: Regime,
    #[serde(serialize_with = "as_text::status")]
    pub status: CaseStatus,
    pub received_on: NaiveDate,
    pub acknowledge_by: Option<NaiveDate>,
    pub acknowledged_at: Option<i64>,
    /// The current deadline: the extended one once extended.
    pub due_on: NaiveDate,
    pub extended_at: Option<i64>,
    pub extension_reason: Option<String>,
    pub identity: identity::CodeState,
    pub identity_verified_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub opened_at: i64,
    pub updated_at: i64,
}

/// What a new case is opened with.
#[derive(Debug, Clone)]
pub struct Opening {
    pub kind: CaseKind,
    pub module: String,
    pub record_id: String,
    /// The address on record, where the identity code goes.
    pub address: String,
    pub regime: Regime,
    /// The day the request arrived (UTC).
    pub received_on: NaiveDate,
}

/// How a case may be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    Completed,
    Refused,
    Withdrawn,
}

/// Why a transition is refused: each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefused {
    #[error("case {id} is {status}: a closed case does not change (open a new one)")]
    Closed { id: String, status: &'static str },
    #[error(
        "case {id} waits for the identity check: enter the code the person read back (`case verify`), or refuse the case"
    )]
    IdentityNotVerified { id: String },
    #[error("case {id}: the identity was verified already")]
    AlreadyVerified { id: String },
    #[error(transparent)]
    Extension(#[from] ExtensionRefused),
    #[error("{0}")]
    Identity(#[from] identity::CodeRefused),
    #[error("a reason is required: {0}")]
    ReasonMissing(&'static str),
}

/// An event of a case's stream, ready to append: the payload names the transition and the
/// actor; never the person's address.
pub fn event_payload(
    transition: &str,
    actor: serde_json::Value,
    at: i64,
    details: serde_json::Value,
) -> String {
    let mut payload = json!({
        "v": 1,
        "kind": format!("case-{transition}"),
        "at": at,
        "actor": actor,
    });
    if let (Some(payload), serde_json::Value::Object(details)) = (payload.as_object_mut(), details)
    {
        payload.extend(details);
    }
    payload.to_string()
}

/// The UTC calendar date of `at` (unix milliseconds).
pub fn utc_date(at: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(at)
        .unwrap_or_default()
        .date_naive()
}

impl Case {
    /// A new case for `request`, its identity code (digest) mailed at `now`.
    pub fn open(id: String, request: Opening, code: identity::IssuedCode, now: i64) -> Case {
        let Opening {
            kind,
            module,
            record_id,
            address,
            regime,
            received_on,
        } = request;
        let deadlines = regime.deadlines(received_on);
        Case {
            id,
            kind,
            module,
            record_id,
            address: Some(address),
            regime,
            status: CaseStatus::IdentityPending,
            received_on,
            acknowledge_by: deadlines.acknowledge_by,
            // The code's mail confirms receipt and names the deadline (CCPA's acknowledgement).
            acknowledged_at: deadlines.acknowledge_by.map(|_| now),
            due_on: deadlines.due_on,
            extended_at: None,
            extension_reason: None,
            identity: code.state,
            identity_verified_at: None,
            closed_at: None,
            opened_at: now,
            updated_at: now,
        }
    }

    /// The case's event stream.
    pub fn stream(&self) -> String {
        format!("{CASE_STREAM_PREFIX}{}", self.id)
    }

    /// Whether the case is past its deadline on `today` and still open.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.status.is_open() && today > self.due_on
    }

    fn refuse_if_closed(&self) -> Result<(), TransitionRefused> {
        if self.status.is_open() {
            Ok(())
        } else {
            Err(TransitionRefused::Closed {
                id: self.id.clone(),
                status: self.status.as_str(),
            })
        }
    }

    /// Checks the code the person read back.
    pub fn verify(&mut self, code: &str, now: i64) -> Result<(), TransitionRefused> {
        self.refuse_if_closed()?;
        if self.status == CaseStatus::IdentityVerified {
            return Err(TransitionRefused::AlreadyVerified {
                id: self.id.clone(),
            });
        }
        self.updated_at = now;
        // A wrong code is counted even though the transition is refused: the caller stores
        // the count (and its event) before answering.
        self.identity.check(&self.id, code, now)?;
        self.status = CaseStatus::IdentityVerified;
        self.identity_verified_at = Some(now);
        Ok(())
    }

    /// A new identity code replacing the last one (lost mail, expired or void code).
    pub fn reissue_code(
        &mut self,
        code: identity::IssuedCode,
        now: i64,
    ) -> Result<(), TransitionRefused> {
        self.refuse_if_closed()?;
        if self.status == CaseStatus::IdentityVerified {
            return Err(TransitionRefused::AlreadyVerified {
                id: self.id.clone(),
            });
        }
        let sent = self.identity.codes_sent;
        self.identity = code.state;
        self.identity.codes_sent = sent + 1;
        self.updated_at = now;
        Ok(())
    }

    /// Extends the deadline once, as the law allows, for `reason` (told to the person).
    pub fn extend(&mut self, reason: &str, now: i64) -> Result<NaiveDate, TransitionRefused> {
        self.refuse_if_closed()?;
        if reason.trim().is_empty() {
            return Err(TransitionRefused::ReasonMissing(
                "say why the case needs longer (--reason): the person is told",
            ));
        }
        let already = self.extended_at.map(|_| self.due_on);
        let until = clock::extension(self.regime, self.received_on, utc_date(now), already)?;
        self.due_on = until;
        self.extended_at = Some(now);
        self.extension_reason = Some(reason.trim().to_owned());
        self.updated_at = now;
        Ok(until)
    }

    /// Closes the case. Completing needs the identity verified; refusing and withdrawing
    /// need a reason.
    pub fn close(
        &mut self,
        closing: Closing,
        reason: &str,
        now: i64,
    ) -> Result<(), TransitionRefused> {
        self.refuse_if_closed()?;
        match closing {
            Closing::Completed if self.status != CaseStatus::IdentityVerified => {
                return Err(TransitionRefused::IdentityNotVerified {
                    id: self.id.clone(),
                });
            }
            Closing::Refused | Closing::Withdrawn if reason.trim().is_empty() => {
                return Err(TransitionRefused::ReasonMissing(
                    "say why the case is closed this way (--reason): it is recorded",
                ));
            }
            _ => {}
        }
        self.status = match closing {
            Closing::Completed => CaseStatus::Completed,
            Closing::Refused => CaseStatus::Refused,
            Closing::Withdrawn => CaseStatus::Withdrawn,
        };
        self.closed_at = Some(now);
        self.updated_at = now;
        Ok(())
    }
}

/// The case's words as the wire shows them.
mod as_text {
    use serde::Serializer;

    pub fn kind<S: Serializer>(kind: &super::CaseKind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.as_str())
    }

    pub fn regime<S: Serializer>(regime: &super::Regime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(regime.as_str())
    }

    pub fn status<S: Serializer>(
        status: &super::CaseStatus,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(status.as_str())
    }
}
