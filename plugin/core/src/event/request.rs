//! A request mailed again about consents already waiting: a scheduled reminder, or a new
//! request staff asked for. No consent value changes; the person's history shows every
//! request mail they got, and their request schedule is a fold of these events.
//!
//! ```json
//! {"v":1,"kind":"request-repeated","at":1796720400000,"period":"2026-12-08",
//!  "link":"5be0…","consents":["news"],"reminder":true}
//! ```

use serde::{Deserialize, Serialize};

use super::evidence::LinkId;
use super::{EVENT_FORMAT, EventError, EventKind};
use crate::calendar::Date;
use crate::definition::ConsentId;

/// The daily run of `period` mailed the person again, with the signed link `link`, about
/// `consents` (each still waiting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RequestRepeatedEvent {
    pub at: i64,
    pub period: Date,
    pub link: LinkId,
    pub consents: Vec<ConsentId>,
    /// A scheduled reminder (true), or a new request staff asked for (false): a new
    /// request starts the schedule again.
    pub reminder: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireRequestRepeated {
    v: u8,
    kind: EventKind,
    #[serde(flatten)]
    event: RequestRepeatedEvent,
}

impl RequestRepeatedEvent {
    pub fn to_json(&self) -> Result<String, EventError> {
        Ok(serde_json::to_string(&WireRequestRepeated {
            v: EVENT_FORMAT,
            kind: EventKind::RequestRepeated,
            event: self.clone(),
        })?)
    }

    pub(super) fn from_json(json: &str) -> Result<RequestRepeatedEvent, EventError> {
        let wire: WireRequestRepeated = serde_json::from_str(json)?;
        if wire.v != EVENT_FORMAT {
            return Err(EventError::UnknownFormat(wire.v));
        }
        Ok(wire.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StreamEvent;

    #[test]
    fn a_repeated_request_round_trips_through_its_json() {
        let event = RequestRepeatedEvent {
            at: 1_796_720_400_000,
            period: Date::parse("2026-12-08").unwrap(),
            link: LinkId([7; 16]),
            consents: vec![ConsentId::parse("news").unwrap()],
            reminder: true,
        };
        let json = event.to_json().unwrap();
        assert!(json.contains("\"kind\":\"request-repeated\""), "{json}");
        assert!(json.contains("\"period\":\"2026-12-08\""), "{json}");
        assert_eq!(
            StreamEvent::from_json(&json).unwrap(),
            StreamEvent::RequestRepeated(event)
        );
    }
}
