//! The delivery-feedback event: a report about mail to the person's address suppressed it
//! (a hard bounce, the soft bounce that reached the limit, a spam complaint, an unsubscribe
//! mail), staff lifted a bounce, or the person's own grant on the preferences page lifted a
//! complaint or an unsubscription. It changes no consent value or status: the suppression
//! itself lives under the address's `feedback/` key ([`crate::feedback`]).
//!
//! ```json
//! {"v":1,"kind":"delivery-feedback","at":1796720400000,"source":"dsn",
//!  "actor":"privacy-guard","feedback":"hard-bounce","evidence":"5.1.1 (user unknown)",
//!  "message-id":"<r-1@example.com>","occurred-at":1796720000000}
//! {"v":1,"kind":"delivery-feedback","at":1796720400000,"source":"admin",
//!  "actor":"Dana (support)","feedback":"bounce-lifted","evidence":"new mailbox confirmed by phone"}
//! {"v":1,"kind":"delivery-feedback","at":1796720400000,"source":"preferences-page",
//!  "actor":"person","feedback":"suppression-lifted","evidence":"complaint lifted by the person's own grant",
//!  "link":"5be0…","ip":"203.0.113.0/24","user-agent":"…"}
//! ```
//!
//! A `suppression-lifted` event carries the answer's own evidence (its link, and the IP
//! address and user agent as the setting `ip-evidence` keeps them), and only it does.
//!
//! `source` is where the report came from as the host named it (`dsn`, `arf`,
//! `webhook:ses`, `mailto`, `admin`…); `evidence` the report's own words, never a message
//! body and never an address (the host replaces addresses).

use serde::{Deserialize, Serialize};

use super::evidence::{IpEvidence, LinkId, PERSON_ACTOR, PLUGIN_ACTOR};
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
    /// The person's own grant on the preferences page lifted a complaint or an
    /// unsubscription.
    SuppressionLifted,
}

/// What the page observed of the answer that lifted a suppression (as the answer's own
/// consent events keep it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAnswer {
    pub link: LinkId,
    pub ip: Option<IpEvidence>,
    pub user_agent: Option<String>,
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
    /// The answer that lifted a suppression (only for `suppression-lifted`).
    pub answer: Option<PageAnswer>,
}

impl DeliveryFeedbackEvent {
    /// The actor of a report (the rules acting on it).
    pub const REPORT_ACTOR: &'static str = PLUGIN_ACTOR;
    /// The source and actor of a lift by the person's own answer.
    pub const PAGE_SOURCE: &'static str = "preferences-page";
    pub const PAGE_ACTOR: &'static str = PERSON_ACTOR;

    pub fn to_json(&self) -> Result<String, EventError> {
        let answer = self.answer.as_ref();
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
            link: answer.map(|answer| answer.link),
            ip: answer.and_then(|answer| answer.ip.clone()),
            user_agent: answer.and_then(|answer| answer.user_agent.clone()),
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
        let answer = match (wire.feedback, wire.link) {
            (FeedbackWord::SuppressionLifted, Some(link))
                if wire.source == Self::PAGE_SOURCE && wire.actor == Self::PAGE_ACTOR =>
            {
                Some(PageAnswer {
                    link,
                    ip: wire.ip,
                    user_agent: wire.user_agent,
                })
            }
            (FeedbackWord::SuppressionLifted, _) => {
                return Err(EventError::EvidenceMismatch("suppression-lifted"));
            }
            (_, None) if wire.ip.is_none() && wire.user_agent.is_none() => None,
            (_, _) => return Err(EventError::EvidenceMismatch("delivery-feedback")),
        };
        Ok(DeliveryFeedbackEvent {
            at: wire.at,
            feedback: wire.feedback,
            source: wire.source,
            actor: wire.actor,
            evidence: wire.evidence,
            message_id: wire.message_id,
            occurred_at: wire.occurred_at,
            answer,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<LinkId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
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
            answer: None,
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
        let with_link = json.replace(
            r#""occurred-at":5"#,
            r#""link":"03030303030303030303030303030303""#,
        );
        assert!(
            StreamEvent::from_json(&with_link).is_err(),
            "a report has no link"
        );
    }

    #[test]
    fn a_lift_by_the_persons_answer_keeps_the_answers_evidence() {
        let event = DeliveryFeedbackEvent {
            at: 9,
            feedback: FeedbackWord::SuppressionLifted,
            source: DeliveryFeedbackEvent::PAGE_SOURCE.into(),
            actor: DeliveryFeedbackEvent::PAGE_ACTOR.into(),
            evidence: "complaint lifted by the person's own grant".into(),
            message_id: None,
            occurred_at: None,
            answer: Some(PageAnswer {
                link: LinkId([3; 16]),
                ip: IpEvidence::observe("203.0.113.9", crate::vocabulary::IpPolicy::Truncate, None),
                user_agent: Some("Mozilla/5.0".into()),
            }),
        };
        let json = event.to_json().unwrap();
        assert!(
            json.contains(r#""feedback":"suppression-lifted""#),
            "{json}"
        );
        assert!(json.contains(r#""ip":"203.0.113.0/24""#), "{json}");
        assert_eq!(
            StreamEvent::from_json(&json).unwrap(),
            StreamEvent::DeliveryFeedback(event)
        );
        let without_link = json.replace(r#""link":"03030303030303030303030303030303","#, "");
        assert!(StreamEvent::from_json(&without_link).is_err());
        let by_staff = json.replace(r#""actor":"person""#, r#""actor":"Dana""#);
        assert!(StreamEvent::from_json(&by_staff).is_err());
    }
}
