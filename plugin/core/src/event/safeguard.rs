//! Events of the safeguards that keep consent requests from becoming unwanted mail: a
//! request withheld from a web-form record without the form's proof, and a "send me my
//! link again" mail. Neither changes a consent value or the person's status.
//!
//! ```json
//! {"v":1,"kind":"request-withheld","at":1796720400000,"source":"record-change",
//!  "actor":"privacy-guard","reason":"form-token-missing"}
//! {"v":1,"kind":"link-mailed","at":1796720400000,"source":"link-request",
//!  "actor":"privacy-guard","link":"5be0…","evidence":{"ip":"203.0.113.0/24","user-agent":"…"}}
//! ```
//!
//! The reason names what was missing or wrong, never a field's value; the evidence of a
//! link mail is what the host observed of whoever asked, kept as the setting `ip-evidence`
//! says (the asker may not be the person: the mail goes only to the person's address).

use serde::{Deserialize, Serialize};

use super::evidence::{IpEvidence, LinkId, PLUGIN_ACTOR};
use super::{EVENT_FORMAT, EventError, EventKind};

/// Why a web-form record was sent no request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WithheldReason {
    /// The form's hidden honeypot field holds a value: a bot filled it in.
    HoneypotFilled,
    /// The record carries no form token.
    FormTokenMissing,
    /// The form token is malformed or not signed by this installation.
    FormTokenInvalid,
    /// The form was sent back less than 3 seconds after it was served: faster than a person.
    FormTokenTooFresh,
    /// The form token is more than 24 hours old.
    FormTokenExpired,
}

impl WithheldReason {
    /// The reason as events and logs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            WithheldReason::HoneypotFilled => "honeypot-filled",
            WithheldReason::FormTokenMissing => "form-token-missing",
            WithheldReason::FormTokenInvalid => "form-token-invalid",
            WithheldReason::FormTokenTooFresh => "form-token-too-fresh",
            WithheldReason::FormTokenExpired => "form-token-expired",
        }
    }
}

/// The source every event of this file names: what the rules did on their own
/// (`record-change`) or the link request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SafeguardSource {
    RecordChange,
    LinkRequest,
}

/// A web-form record arrived without the form's proof: it is kept (the CRM holds it), and
/// never sent a consent request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestWithheldEvent {
    pub at: i64,
    pub reason: WithheldReason,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct WireWithheld {
    v: u8,
    kind: EventKind,
    at: i64,
    source: SafeguardSource,
    actor: String,
    reason: WithheldReason,
}

impl RequestWithheldEvent {
    pub fn to_json(&self) -> Result<String, EventError> {
        Ok(serde_json::to_string(&WireWithheld {
            v: EVENT_FORMAT,
            kind: EventKind::RequestWithheld,
            at: self.at,
            source: SafeguardSource::RecordChange,
            actor: PLUGIN_ACTOR.to_owned(),
            reason: self.reason,
        })?)
    }

    pub(super) fn from_json(json: &str) -> Result<RequestWithheldEvent, EventError> {
        let wire: WireWithheld = serde_json::from_str(json)?;
        if wire.v != EVENT_FORMAT {
            return Err(EventError::UnknownFormat(wire.v));
        }
        if wire.source != SafeguardSource::RecordChange {
            return Err(EventError::EvidenceMismatch("request-withheld"));
        }
        Ok(RequestWithheldEvent {
            at: wire.at,
            reason: wire.reason,
        })
    }
}

/// Someone asked for the person's link again, and a fresh link `link` was mailed to the
/// address the person holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMailedEvent {
    pub at: i64,
    pub link: LinkId,
    pub ip: Option<IpEvidence>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct WireAsker {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
}

impl WireAsker {
    fn is_empty(&self) -> bool {
        self.ip.is_none() && self.user_agent.is_none()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct WireLinkMailed {
    v: u8,
    kind: EventKind,
    at: i64,
    source: SafeguardSource,
    actor: String,
    link: LinkId,
    #[serde(default, skip_serializing_if = "WireAsker::is_empty")]
    evidence: WireAsker,
}

impl LinkMailedEvent {
    pub fn to_json(&self) -> Result<String, EventError> {
        Ok(serde_json::to_string(&WireLinkMailed {
            v: EVENT_FORMAT,
            kind: EventKind::LinkMailed,
            at: self.at,
            source: SafeguardSource::LinkRequest,
            actor: PLUGIN_ACTOR.to_owned(),
            link: self.link,
            evidence: WireAsker {
                ip: self.ip.clone(),
                user_agent: self.user_agent.clone(),
            },
        })?)
    }

    pub(super) fn from_json(json: &str) -> Result<LinkMailedEvent, EventError> {
        let wire: WireLinkMailed = serde_json::from_str(json)?;
        if wire.v != EVENT_FORMAT {
            return Err(EventError::UnknownFormat(wire.v));
        }
        if wire.source != SafeguardSource::LinkRequest {
            return Err(EventError::EvidenceMismatch("link-mailed"));
        }
        Ok(LinkMailedEvent {
            at: wire.at,
            link: wire.link,
            ip: wire.evidence.ip,
            user_agent: wire.evidence.user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StreamEvent;
    use crate::vocabulary::IpPolicy;

    #[test]
    fn a_withheld_request_round_trips_and_names_only_its_reason() {
        for reason in [
            WithheldReason::HoneypotFilled,
            WithheldReason::FormTokenMissing,
            WithheldReason::FormTokenInvalid,
            WithheldReason::FormTokenTooFresh,
            WithheldReason::FormTokenExpired,
        ] {
            let event = RequestWithheldEvent { at: 7, reason };
            let json = event.to_json().unwrap();
            assert_eq!(
                json,
                format!(
                    r#"{{"v":1,"kind":"request-withheld","at":7,"source":"record-change","actor":"privacy-guard","reason":"{}"}}"#,
                    reason.as_str()
                )
            );
            assert_eq!(
                StreamEvent::from_json(&json).unwrap(),
                StreamEvent::RequestWithheld(event)
            );
        }
        let extra = r#"{"v":1,"kind":"request-withheld","at":7,"source":"record-change","actor":"privacy-guard","reason":"honeypot-filled","value":"x"}"#;
        assert!(StreamEvent::from_json(extra).is_err());
    }

    #[test]
    fn a_link_mail_round_trips_with_its_evidence_or_without() {
        let with = LinkMailedEvent {
            at: 9,
            link: LinkId([3; 16]),
            ip: IpEvidence::observe("203.0.113.9", IpPolicy::Truncate, None),
            user_agent: Some("Mozilla/5.0".to_owned()),
        };
        let without = LinkMailedEvent {
            ip: None,
            user_agent: None,
            ..with.clone()
        };
        for event in [with, without] {
            let json = event.to_json().unwrap();
            assert!(json.contains(r#""kind":"link-mailed""#), "{json}");
            assert_eq!(
                StreamEvent::from_json(&json).unwrap(),
                StreamEvent::LinkMailed(event)
            );
        }
        let wrong_source = r#"{"v":1,"kind":"link-mailed","at":1,"source":"record-change","actor":"privacy-guard","link":"03030303030303030303030303030303"}"#;
        assert!(StreamEvent::from_json(wrong_source).is_err());
    }
}
