//! The delivery-feedback event: a report about mail to the person's address suppressed it
//! (a hard bounce, the soft bounce that reached the limit, a spam complaint, an unsubscribe
//! mail), or staff lifted a bounce. It changes no consent value or status: the suppression
//! itself lives under the address's `feedback/` key ([`crate::feedback`]).
//!
//! ```json
//! {"v":1,"kind":"delivery-feedback","at":1796720400000,"source":"dsn",
//!  "actor":"privacy-guard","feedback":"hard-bounce","evidence":"5.1.1 (user unknown)",
//!  "message-id":"<r-1@example.com>","occurred-at":1796720000000}
//! {"v":1,"kind":"delivery-feedback","at":1796720400000,"source":"admin",
//!  "actor":"Dana (support)","feedback":"bounce-lifted","evidence":"new mailbox confirmed by phone"}
//! ```
//!
//! `source` is where the report came from as the host named it (`dsn`, `arf`,
//! `webhook:ses`, `mailto`, `admin`…); `evidence` the report's own words, never a message
//! body and never an address (the host replaces addresses).

use serde::{Deserialize, Serialize};

use super::evidence::PLUGIN_ACTOR;
use super::{EVENT_FORMAT, EventError, EventKind};

/// What the event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackWord {
    HardBounce,
    /// The soft bounce that reached the limit.
    SoftBounce,
    Complaint,
    Unsubscribe,
    /// Staff lifted the suppression of a bounced address.
    BounceLifted,
}

/// A delivery report (or a lift) about the person's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFeedbackEvent {
    pub at: i64,
    pub feedback: FeedbackWord,
    pub source: String,
    /// `privacy-guard` for a report; the staff member for a lift.
    pub actor: String,
    pub evidence: String,
    pub message_id: Option<String>,
    /// When the report says it happened (none for a lift).
    pub occurred_at: Option<i64>,
}

impl DeliveryFeedbackEvent {
    /// The actor of a report (the rules acting on it).
    pub const REPORT_ACTOR: &'static str = PLUGIN_ACTOR;

    pub fn to_json(&self) -> Result<String, EventError> {
        Ok(serde_json::to_string(&Wire {
            v: EVENT_FORMAT,
            kind: EventKind::DeliveryFeedback,
            at: self.at,
            source: self.source.clone(),
            actor: self.actor.clone(),
            feedback: self.feedback,
            evidence: self.evidence.clone(),
            message_id: self.message_id.clone(),
            occurred_at: self.occurred_at,
        })?)
    }

    pub(super) fn from_json(json: &str) -> Result<DeliveryFeedbackEvent, EventError> {
        let wire: Wire = serde_json::from_str(json)?;
        if wire.v != EVENT_FORMAT {
            return Err(EventError::UnknownFormat(wire.v));
        }
        if wire.evidence.trim().is_empty() || wire.source.is_empty() {
            return Err(EventError::EvidenceMismatch("delivery-feedback"));
        }
        Ok(DeliveryFeedbackEvent {
            at: wire.at,
            feedback: wire.feedback,
            source: wire.source,
            actor: wire.actor,
            evidence: wire.evidence,
            message_id: wire.message_id,
            occurred_at: wire.occurred_at,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Wire {
    v: u8,
    kind: EventKind,
    at: i64,
    source: String,
    actor: String,
    feedback: FeedbackWord,
    evidence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    occurred_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StreamEvent;

    #[test]
    fn a_feedback_event_round_trips_through_the_stream_reader() {
        let event = DeliveryFeedbackEvent {
            at: 7,
            feedback: FeedbackWord::HardBounce,
            source: "dsn".into(),
            actor: PLUGIN_ACTOR.into(),
            evidence: "5.1.1 user unknown".into(),
            message_id: Some("<m@x>".into()),
            occurred_at: Some(5),
        };
        let json = event.to_json().unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"kind":"delivery-feedback","at":7,"source":"dsn","actor":"privacy-guard","feedback":"hard-bounce","evidence":"5.1.1 user unknown","message-id":"<m@x>","occurred-at":5}"#
        );
        assert_eq!(
            StreamEvent::from_json(&json).unwrap(),
            StreamEvent::DeliveryFeedback(event)
        );
        assert!(StreamEvent::from_json(&json.replace("5.1.1 user unknown", " ")).is_err());
    }
}
