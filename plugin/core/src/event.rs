//! Consent events: the append-only proof of every change, and their JSON form.
//!
//! One stream per record (`contacts/42`, see [`crate::record::RecordRef::stream`]); never an
//! address in a stream name. Each event is one JSON object:
//!
//! ```json
//! {"v":1,"kind":"consent-changed","at":1714557600000,"consent":"newsletter",
//!  "from":"applicable","to":"waiting","source":"daily-run",
//!  "purpose-version":1,"purpose-hash":"9f86…","default":"no",
//!  "evidence":{"link":"5be0…","period":"2024-05-01"}}
//! ```
//!
//! | `source` | when | `evidence` |
//! |---|---|---|
//! | `record-change` | the record's fields were evaluated against the consent's condition (records hook, or the daily run's re-evaluation) | none |
//! | `daily-run` | the daily run sent the request mail | `link` (link id), `period` |
//! | `preferences-page` | the person answered on the page | `link`, `ip` (as the setting `ip-evidence` says: whole, truncated to /24 or /48, `sha256:` salted hash, or absent), `user-agent` |
//! | `admin`, `import`, `api` | staff recorded a decision obtained elsewhere, through that channel | `statement` (the free-text evidence) |
//! | `deduplication` | records of one person were merged: an answer given on another record (or a request it was sent and not answered yet) carried over to the primary | `carried-from` (that record), `answered-at`, `answer-source` and the answer's own evidence |
//!
//! Every event names its `actor`: the staff member or API key for `admin`, `import` and
//! `api` (the name the host gives: the operator, the key's name); `person` for the
//! preferences page (the person the signed link was sent to); `privacy-guard` for what the
//! rules did on their own (`record-change`, `daily-run`, `deduplication`). The source of an
//! answer is the channel it arrived by, never a caller's claim: staff can record only as
//! `admin`, `import` or `api`. Events written before actors were recorded have none.
//!
//! Names and addresses never go into events: the snapshot gets them from the CRM, so an
//! erasure can remove them while the proof stays (a staff actor's name is the business's,
//! not the person's).
//!
//! A change of the person's status (see [`crate::vocabulary::PersonStatus`]) is a second kind
//! of event in the same stream:
//!
//! ```json
//! {"v":1,"kind":"status-changed","at":1714557600000,"from":"active","to":"duplicate",
//!  "source":"deduplication","primary":"leads/7"}
//! ```
//!
//! | `source` | when | `primary` |
//! |---|---|---|
//! | `deduplication` | de-duplication (`deduplication.apply`, or enabling consents) flagged the record, or found the record it had flagged earlier to be the primary again | the record kept as primary, when the record became a duplicate |
//! | `record-change` | the records hook flagged a new record whose address another active record owns (setting `flag-new-duplicates`), or suppressed a record re-adding an erased address (`"suppressed":true`) | the record owning the address |
//! | `preferences-page` | the person stopped processing or asked for erasure on the page (`link`, `ip`, `user-agent`) | none |
//! | `admin`, `import`, `api` | staff restricted, lifted a restriction or erased through that channel (`statement`: the reason or evidence; `actor`) | none |
//!
//! An erasure (`"to":"erased"`) names the fields it emptied (`erased-fields`) and those it
//! kept (`retained-fields`, with `retained-because`), by name only, never their values.
//!
//! [`StreamEvent`] reads either kind back.

mod evidence;
mod feedback;
mod legal_ground;
mod request;
mod safeguard;
mod status;

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::consent::{ConsentDefault, ConsentValue};
use crate::definition::{ConsentId, PurposeVersion};

use crate::record::RecordRef;

pub use self::evidence::*;
pub use self::feedback::*;
pub use self::legal_ground::*;
pub use self::request::*;
pub use self::safeguard::*;
pub use self::status::*;

/// The format version written into every event.
const EVENT_FORMAT: u8 = 1;
/// One change of one consent value for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    /// When it changed (unix ms, the host's audited time).
    pub at: i64,
    pub consent: ConsentId,
    pub from: ConsentValue,
    pub to: ConsentValue,
    /// The purpose text the new value refers to.
    pub purpose: PurposeVersion,
    /// The consent's default when the value changed.
    pub default: ConsentDefault,
    pub cause: Cause,
}

/// Why an event's JSON could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the event is not valid JSON of a consent event: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the event has format version {0}, this engine reads version 1")]
    UnknownFormat(u8),
    #[error("the event's evidence does not fit its source {0}")]
    EvidenceMismatch(&'static str),
    #[error("a status change to duplicate must name a primary record `module/id`")]
    PrimaryMissing,
}

/// The event kinds a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum EventKind {
    ConsentChanged,
    StatusChanged,
    SentOnLegalGround,
    RequestRepeated,
    RequestWithheld,
    LinkMailed,
    DeliveryFeedback,
}

/// Every source an event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum WireSource {
    RecordChange,
    PreferencesPage,
    Admin,
    DailyRun,
    Import,
    Api,
    Deduplication,
}

impl From<RecordingSource> for WireSource {
    fn from(source: RecordingSource) -> WireSource {
        match source {
            RecordingSource::PreferencesPage => WireSource::PreferencesPage,
            RecordingSource::Admin => WireSource::Admin,
            RecordingSource::DailyRun => WireSource::DailyRun,
            RecordingSource::Import => WireSource::Import,
            RecordingSource::Api => WireSource::Api,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct WireEvidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    carried_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answered_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer_source: Option<WireSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answered_by: Option<ActorName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<LinkId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    period: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seconds_since_request: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    statement: Option<Statement>,
    /// The request lapsed unanswered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    lapsed: bool,
}

impl WireEvidence {
    fn is_empty(&self) -> bool {
        self.carried_from.is_none()
            && self.answered_at.is_none()
            && self.answer_source.is_none()
            && self.answered_by.is_none()
            && self.link.is_none()
            && self.period.is_none()
            && self.ip.is_none()
            && self.user_agent.is_none()
            && self.seconds_since_request.is_none()
            && self.statement.is_none()
            && !self.lapsed
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireEvent {
    v: u8,
    kind: EventKind,
    at: i64,
    consent: ConsentId,
    from: ConsentValue,
    to: ConsentValue,
    source: WireSource,
    purpose_version: u32,
    purpose_hash: String,
    default: ConsentDefault,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
    #[serde(default, skip_serializing_if = "WireEvidence::is_empty")]
    evidence: WireEvidence,
}

/// The source and evidence of an answer's cause (the page or a recorded decision), as
/// written on the wire; a carry-over names the answer it carries.
fn answer_wire(cause: &Cause) -> (WireSource, WireEvidence) {
    match cause {
        Cause::RecordChange => (WireSource::RecordChange, WireEvidence::default()),
        Cause::Request { period, link } => (
            WireSource::DailyRun,
            WireEvidence {
                link: Some(*link),
                period: Some(*period),
                ..WireEvidence::default()
            },
        ),
        Cause::Lapsed { period } => (
            WireSource::DailyRun,
            WireEvidence {
                period: Some(*period),
                lapsed: true,
                ..WireEvidence::default()
            },
        ),
        Cause::PreferencesPage {
            link,
            ip,
            user_agent,
            seconds_since_request,
        } => (
            WireSource::PreferencesPage,
            WireEvidence {
                link: Some(*link),
                ip: ip.clone(),
                user_agent: user_agent.clone(),
                seconds_since_request: *seconds_since_request,
                ..WireEvidence::default()
            },
        ),
        Cause::Recorded {
            source, statement, ..
        } => (
            WireSource::from(*source),
            WireEvidence {
                statement: Some(statement.clone()),
                ..WireEvidence::default()
            },
        ),
        Cause::CarriedOver {
            from,
            answered_at,
            answer,
        } => {
            let (answer_source, mut evidence) = answer_wire(answer);
            evidence.carried_from = Some(from.to_string());
            evidence.answered_at = Some(*answered_at);
            evidence.answer_source = Some(answer_source);
            evidence.answered_by = match answer.as_ref() {
                Cause::Recorded { actor, .. } => actor.clone(),
                _ => None,
            };
            (WireSource::Deduplication, evidence)
        }
    }
}

/// The actor an event names: the staff member for a recorded decision, the person on the
/// page, the plugin for what its rules did.
fn wire_actor(cause: &Cause) -> Option<String> {
    match cause {
        Cause::Recorded { actor, .. } => actor.as_ref().map(|actor| actor.to_string()),
        Cause::PreferencesPage { .. } => Some(PERSON_ACTOR.to_owned()),
        Cause::RecordChange
        | Cause::Request { .. }
        | Cause::Lapsed { .. }
        | Cause::CarriedOver { .. } => Some(PLUGIN_ACTOR.to_owned()),
    }
}

impl ConsentEvent {
    /// The event as the JSON payload appended to the record's stream.
    pub fn to_json(&self) -> Result<String, EventError> {
        let (source, evidence) = answer_wire(&self.cause);
        let wire = WireEvent {
            v: EVENT_FORMAT,
            kind: EventKind::ConsentChanged,
            at: self.at,
            consent: self.consent.clone(),
            from: self.from,
            to: self.to,
            source,
            purpose_version: self.purpose.version,
            purpose_hash: self.purpose.hash.clone(),
            default: self.default,
            actor: wire_actor(&self.cause),
            evidence,
        };
        Ok(serde_json::to_string(&wire)?)
    }

    /// Reads an event back from its JSON payload.
    pub fn from_json(json: &str) -> Result<ConsentEvent, EventError> {
        let wire: WireEvent = serde_json::from_str(json)?;
        if wire.v != EVENT_FORMAT {
            return Err(EventError::UnknownFormat(wire.v));
        }
        let staff = match &wire.actor {
            Some(name)
                if matches!(
                    wire.source,
                    WireSource::Admin | WireSource::Import | WireSource::Api
                ) =>
            {
                Some(ActorName::parse(name).map_err(|_| EventError::EvidenceMismatch("an actor"))?)
            }
            _ => None,
        };
        let cause = match wire.source {
            WireSource::Deduplication => {
                let mut evidence = wire.evidence;
                let from = evidence
                    .carried_from
                    .take()
                    .and_then(|text| {
                        text.split_once('/')
                            .and_then(|(module, id)| RecordRef::parse(module, id))
                    })
                    .ok_or(EventError::EvidenceMismatch("deduplication"))?;
                let answered_at = evidence
                    .answered_at
                    .take()
                    .ok_or(EventError::EvidenceMismatch("deduplication"))?;
                let source = evidence
                    .answer_source
                    .take()
                    .ok_or(EventError::EvidenceMismatch("deduplication"))?;
                let answered_by = evidence.answered_by.take();
                let answer = answer_cause(source, evidence, answered_by)?;
                let carried = answer.is_answer() || matches!(answer, Cause::Request { .. });
                if !carried || matches!(answer, Cause::CarriedOver { .. }) {
                    return Err(EventError::EvidenceMismatch("deduplication"));
                }
                Cause::CarriedOver {
                    from,
                    answered_at,
                    answer: Box::new(answer),
                }
            }
            source => {
                if wire.evidence.carried_from.is_some()
                    || wire.evidence.answered_at.is_some()
                    || wire.evidence.answer_source.is_some()
                    || wire.evidence.answered_by.is_some()
                {
                    return Err(EventError::EvidenceMismatch("a carried-over answer"));
                }
                answer_cause(source, wire.evidence, staff)?
            }
        };
        Ok(ConsentEvent {
            at: wire.at,
            consent: wire.consent,
            from: wire.from,
            to: wire.to,
            purpose: PurposeVersion {
                version: wire.purpose_version,
                hash: wire.purpose_hash,
            },
            default: wire.default,
            cause,
        })
    }
}

/// Any event of a record's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    Consent(ConsentEvent),
    Status(StatusEvent),
    /// A send on a legal ground: the proof of why, changing no state.
    LegalGround(LegalGroundEvent),
    /// A request mailed again (a reminder, or staff asked again) about consents already
    /// waiting: no value changes, the request's schedule does.
    RequestRepeated(RequestRepeatedEvent),
    /// A web-form record was sent no request: the form's proof was missing or wrong.
    RequestWithheld(RequestWithheldEvent),
    /// A fresh preferences link was mailed at someone's request ("send me my link again").
    LinkMailed(LinkMailedEvent),
    /// A delivery report suppressed the person's address, or staff lifted a bounce.
    DeliveryFeedback(DeliveryFeedbackEvent),
}

/// Only the kind of an event, to choose how to read the rest.
#[derive(Deserialize)]
struct KindOnly {
    kind: EventKind,
}

impl StreamEvent {
    /// Reads an event of either kind back from its JSON payload.
    pub fn from_json(json: &str) -> Result<StreamEvent, EventError> {
        let KindOnly { kind } = serde_json::from_str(json)?;
        match kind {
            EventKind::ConsentChanged => ConsentEvent::from_json(json).map(StreamEvent::Consent),
            EventKind::StatusChanged => StatusEvent::from_json(json).map(StreamEvent::Status),
            EventKind::SentOnLegalGround => {
                LegalGroundEvent::from_json(json).map(StreamEvent::LegalGround)
            }
            EventKind::RequestRepeated => {
                RequestRepeatedEvent::from_json(json).map(StreamEvent::RequestRepeated)
            }
            EventKind::RequestWithheld => {
                RequestWithheldEvent::from_json(json).map(StreamEvent::RequestWithheld)
            }
            EventKind::LinkMailed => LinkMailedEvent::from_json(json).map(StreamEvent::LinkMailed),
            EventKind::DeliveryFeedback => {
                DeliveryFeedbackEvent::from_json(json).map(StreamEvent::DeliveryFeedback)
            }
        }
    }

    pub fn to_json(&self) -> Result<String, EventError> {
        match self {
            StreamEvent::Consent(event) => event.to_json(),
            StreamEvent::Status(event) => event.to_json(),
            StreamEvent::LegalGround(event) => event.to_json(),
            StreamEvent::RequestRepeated(event) => event.to_json(),
            StreamEvent::RequestWithheld(event) => event.to_json(),
            StreamEvent::LinkMailed(event) => event.to_json(),
            StreamEvent::DeliveryFeedback(event) => event.to_json(),
        }
    }
}

/// The cause a wire source and its evidence name (anything but a carry-over), with the
/// staff actor of a recorded decision.
fn answer_cause(
    source: WireSource,
    evidence: WireEvidence,
    actor: Option<ActorName>,
) -> Result<Cause, EventError> {
    let bare = evidence.is_empty();
    if evidence.seconds_since_request.is_some() && source != WireSource::PreferencesPage {
        return Err(EventError::EvidenceMismatch("an answer on the page"));
    }
    Ok(match (source, evidence.statement) {
        (WireSource::RecordChange, None) if bare => Cause::RecordChange,
        (WireSource::RecordChange, _) => {
            return Err(EventError::EvidenceMismatch("record-change"));
        }
        (WireSource::Deduplication, _) => {
            return Err(EventError::EvidenceMismatch("deduplication"));
        }
        (source, Some(statement)) => Cause::Recorded {
            source: recording_source(source),
            actor,
            statement,
        },
        (WireSource::DailyRun, None) => match (evidence.link, evidence.period, evidence.lapsed) {
            (Some(link), Some(period), false) => Cause::Request { period, link },
            (None, Some(period), true) => Cause::Lapsed { period },
            _ => return Err(EventError::EvidenceMismatch("daily-run")),
        },
        (WireSource::PreferencesPage, None) => match evidence.link {
            Some(link) => Cause::PreferencesPage {
                link,
                ip: evidence.ip,
                user_agent: evidence.user_agent,
                seconds_since_request: evidence.seconds_since_request,
            },
            None => return Err(EventError::EvidenceMismatch("preferences-page")),
        },
        (WireSource::Admin | WireSource::Import | WireSource::Api, None) => {
            return Err(EventError::EvidenceMismatch("a recorded decision"));
        }
    })
}

/// The recording source a wire source names; `record-change` and `deduplication` never
/// carry a statement, so they never get here.
fn recording_source(source: WireSource) -> RecordingSource {
    match source {
        WireSource::PreferencesPage => RecordingSource::PreferencesPage,
        WireSource::DailyRun => RecordingSource::DailyRun,
        WireSource::Import => RecordingSource::Import,
        WireSource::Api => RecordingSource::Api,
        WireSource::Admin | WireSource::RecordChange | WireSource::Deduplication => {
            RecordingSource::Admin
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::evidence::MAX_USER_AGENT_LEN;
    use super::*;
    use crate::vocabulary::{IpPolicy, LawfulBasis, MessageClass, PersonStatus};

    pub(crate) fn link(byte: u8) -> LinkId {
        LinkId([byte; 16])
    }

    fn event(cause: Cause) -> ConsentEvent {
        ConsentEvent {
            at: 1_714_557_600_000,
            consent: ConsentId::parse("newsletter").unwrap(),
            from: ConsentValue::Applicable,
            to: ConsentValue::Waiting,
            purpose: PurposeVersion::first("We send news."),
            default: ConsentDefault::No,
            cause,
        }
    }

    #[test]
    fn every_cause_round_trips_through_json() {
        let causes = [
            Cause::RecordChange,
            Cause::Request {
                period: Date::parse("2024-05-01").unwrap(),
                link: link(7),
            },
            Cause::PreferencesPage {
                link: link(9),
                ip: IpEvidence::observe("203.0.113.7", IpPolicy::Truncate, None),
                user_agent: Some("Mozilla/5.0".to_owned()),
                seconds_since_request: Some(86_400),
            },
            Cause::PreferencesPage {
                link: link(9),
                ip: None,
                user_agent: None,
                seconds_since_request: None,
            },
            Cause::Recorded {
                source: RecordingSource::Admin,
                actor: Some(ActorName::parse("alice").unwrap()),
                statement: Statement::parse("Signed paper form, 2024-04-30").unwrap(),
            },
            Cause::Recorded {
                source: RecordingSource::Api,
                actor: Some(ActorName::parse("crm-production").unwrap()),
                statement: Statement::parse("Form on the web shop").unwrap(),
            },
            // Written before the source was the channel's and actors were named.
            Cause::Recorded {
                source: RecordingSource::PreferencesPage,
                actor: None,
                statement: Statement::parse("Answered by phone").unwrap(),
            },
            Cause::CarriedOver {
                from: RecordRef::new(crate::record::Module::Leads, "7"),
                answered_at: 1_714_000_000_000,
                answer: Box::new(Cause::PreferencesPage {
                    link: link(4),
                    ip: IpEvidence::observe("203.0.113.7", IpPolicy::Truncate, None),
                    user_agent: None,
                    seconds_since_request: Some(75),
                }),
            },
            Cause::CarriedOver {
                from: RecordRef::new(crate::record::Module::Contacts, "2"),
                answered_at: 1_714_000_000_000,
                answer: Box::new(Cause::Request {
                    period: Date::parse("2024-05-01").unwrap(),
                    link: link(5),
                }),
            },
            Cause::CarriedOver {
                from: RecordRef::new(crate::record::Module::Other("accounts".into()), "x-1"),
                answered_at: 1_714_000_000_000,
                answer: Box::new(Cause::Recorded {
                    source: RecordingSource::Admin,
                    actor: Some(ActorName::parse("bob").unwrap()),
                    statement: Statement::parse("Phone call").unwrap(),
                }),
            },
        ];
        for cause in causes {
            let original = event(cause);
            let json = original.to_json().unwrap();
            assert_eq!(ConsentEvent::from_json(&json).unwrap(), original, "{json}");
        }
    }

    #[test]
    fn the_json_names_the_source_and_the_evidence() {
        let json = event(Cause::Request {
            period: Date::parse("2024-05-01").unwrap(),
            link: link(1),
        })
        .to_json()
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["kind"], "consent-changed");
        assert_eq!(value["source"], "daily-run");
        assert_eq!(value["consent"], "newsletter");
        assert_eq!(value["from"], "applicable");
        assert_eq!(value["to"], "waiting");
        assert_eq!(value["purpose-version"], 1);
        assert_eq!(
            value["purpose-hash"],
            PurposeVersion::first("We send news.").hash
        );
        assert_eq!(
            value["evidence"]["link"],
            "01010101010101010101010101010101"
        );
        assert_eq!(value["evidence"]["period"], "2024-05-01");
        let bare = event(Cause::RecordChange).to_json().unwrap();
        assert!(!bare.contains("evidence"), "{bare}");
    }

    #[test]
    fn every_event_names_its_actor() {
        let actor = |cause: Cause| {
            let json = event(cause).to_json().unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            (value["source"].clone(), value["actor"].clone())
        };
        assert_eq!(
            actor(Cause::RecordChange),
            ("record-change".into(), "privacy-guard".into())
        );
        assert_eq!(
            actor(Cause::PreferencesPage {
                link: link(1),
                ip: None,
                user_agent: None,
                seconds_since_request: None,
            }),
            ("preferences-page".into(), "person".into())
        );
        assert_eq!(
            actor(Cause::Recorded {
                source: RecordingSource::Api,
                actor: Some(ActorName::parse(" crm-production ").unwrap()),
                statement: Statement::parse("web form").unwrap(),
            }),
            ("api".into(), "crm-production".into())
        );
        let staff = Staff {
            channel: StaffChannel::Admin,
            name: ActorName::parse("alice").unwrap(),
            statement: Statement::parse("asked by phone").unwrap(),
        };
        let restricted = StatusEvent {
            at: 1,
            from: crate::vocabulary::PersonStatus::Active,
            to: crate::vocabulary::PersonStatus::Restricted { since: 1 },
            source: staff.status_source(),
            primary: None,
            evidence: staff.evidence(),
        };
        let json = restricted.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["actor"], "alice");
        assert_eq!(value["source"], "admin");
        assert_eq!(
            StreamEvent::from_json(&json).unwrap(),
            StreamEvent::Status(restricted)
        );
        assert!(ActorName::parse("two\nlines").is_err());
        assert!(ActorName::parse(&"x".repeat(MAX_ACTOR_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn events_whose_evidence_does_not_fit_their_source_are_refused() {
        let base = r#""v":1,"kind":"consent-changed","at":1,"consent":"n","from":"applicable","to":"granted","purpose-version":1,"purpose-hash":"x","default":"no""#;
        let cases = [
            r#""source":"daily-run""#,
            r#""source":"preferences-page","evidence":{"ip":"203.0.113.0/24"}"#,
            r#""source":"admin""#,
            r#""source":"record-change","evidence":{"statement":"x"}"#,
            r#""source":"record-change","evidence":{"ip":"203.0.113.0/24"}"#,
            r#""source":"admin","evidence":{"statement":"  "}"#,
            r#""source":"admin","evidence":{"statement":"x","password":"y"}"#,
            r#""source":"admin","actor":"","evidence":{"statement":"x"}"#,
            r#""source":"deduplication","evidence":{"carried-from":"leads/7","answered-at":1}"#,
            r#""source":"deduplication","evidence":{"carried-from":"leads/7","answered-at":1,"answer-source":"record-change"}"#,
            r#""source":"deduplication","evidence":{"carried-from":"nowhere","answered-at":1,"answer-source":"admin","statement":"x"}"#,
            r#""source":"admin","evidence":{"statement":"x","carried-from":"leads/7"}"#,
            r#""source":"admin","evidence":{"statement":"x","seconds-since-request":5}"#,
            r#""source":"daily-run","evidence":{"link":"01010101010101010101010101010101","period":"2024-05-01","seconds-since-request":5}"#,
        ];
        for case in cases {
            let json = format!("{{{base},{case}}}");
            assert!(ConsentEvent::from_json(&json).is_err(), "{json}");
        }
        let future = format!(
            "{{{},{}}}",
            base.replace("\"v\":1", "\"v\":2"),
            r#""source":"record-change""#
        );
        assert!(matches!(
            ConsentEvent::from_json(&future),
            Err(EventError::UnknownFormat(2))
        ));
    }

    #[test]
    fn status_events_round_trip_and_fold_with_consent_events() {
        use crate::person::fold_stream;
        use crate::record::Module;
        let record = RecordRef::new(Module::Contacts, "3");
        let flagged = StatusEvent {
            at: 20,
            from: PersonStatus::Active,
            to: PersonStatus::Duplicate { since: 20 },
            source: StatusSource::Deduplication,
            primary: Some(RecordRef::new(Module::Leads, "7")),
            evidence: StatusEvidence::default(),
        };
        let json = flagged.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["kind"], "status-changed");
        assert_eq!(value["source"], "deduplication");
        assert_eq!(value["primary"], "leads/7");
        let consent = event(Cause::RecordChange);
        let consent = ConsentEvent {
            from: ConsentValue::NotApplicable,
            to: ConsentValue::Applicable,
            ..consent
        };
        let stream: Vec<StreamEvent> = [consent.to_json().unwrap(), json]
            .iter()
            .map(|json| StreamEvent::from_json(json).unwrap())
            .collect();
        assert_eq!(stream[1], StreamEvent::Status(flagged.clone()));
        let snapshot = fold_stream(record.clone(), String::new(), &stream).unwrap();
        assert_eq!(snapshot.status, PersonStatus::Duplicate { since: 20 });
        assert_eq!(snapshot.value_of("newsletter"), ConsentValue::Applicable);
        // A second flag does not start from the current status: not a valid history.
        let twice = [stream[1].clone(), stream[1].clone()];
        assert!(fold_stream(record, String::new(), &twice).is_err());
        let without_primary = r#"{"v":1,"kind":"status-changed","at":1,"from":"active","to":"duplicate","source":"deduplication"}"#;
        assert!(StreamEvent::from_json(without_primary).is_err());
    }

    #[test]
    fn observed_ips_are_truncated_to_their_network() {
        let cases: &[(&str, Option<&str>)] = &[
            ("203.0.113.77", Some("203.0.113.0/24")),
            (" 198.51.100.1 ", Some("198.51.100.0/24")),
            ("203.0.113.77:8443", Some("203.0.113.0/24")),
            ("2001:db8:abcd:12:1:2:3:4", Some("2001:db8:abcd::/48")),
            ("[2001:db8:abcd:12::1]:443", Some("2001:db8:abcd::/48")),
            ("::ffff:192.0.2.128", Some("192.0.2.0/24")),
            ("::1", Some("::/48")),
            ("localhost", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                IpEvidence::observe(raw, IpPolicy::Truncate, None)
                    .as_ref()
                    .map(IpEvidence::as_str),
                *expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn a_send_on_a_legal_ground_round_trips_and_keeps_a_clean_message_id_only() {
        let event = LegalGroundEvent::new(
            7,
            MessageClass::Transactional,
            LawfulBasis::LegalObligation,
            Some(" invoice-42 "),
        );
        let json = event.to_json().unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"kind":"sent-on-legal-ground","at":7,"class":"transactional","basis":"legal-obligation","message-id":"invoice-42"}"#
        );
        assert_eq!(
            StreamEvent::from_json(&json).unwrap(),
            StreamEvent::LegalGround(event)
        );
        let injected = LegalGroundEvent::new(
            7,
            MessageClass::Transactional,
            LawfulBasis::LegalObligation,
            Some("a\r\nBcc: x"),
        );
        assert_eq!(injected.message_id, None);
        let long = "é".repeat(150);
        let cut = LegalGroundEvent::new(
            7,
            MessageClass::Transactional,
            LawfulBasis::LegalObligation,
            Some(&long),
        );
        assert_eq!(cut.message_id.unwrap().len(), 200);
    }

    #[test]
    fn the_ip_policy_keeps_the_address_whole_hashed_or_not_at_all() {
        let observe = |raw: &str, policy: IpPolicy, salt: Option<&[u8]>| {
            IpEvidence::observe(raw, policy, salt).map(|evidence| evidence.as_str().to_owned())
        };
        assert_eq!(
            observe("203.0.113.77:8443", IpPolicy::Keep, None).as_deref(),
            Some("203.0.113.77")
        );
        assert_eq!(
            observe("::ffff:192.0.2.128", IpPolicy::Keep, None).as_deref(),
            Some("192.0.2.128")
        );
        assert_eq!(observe("203.0.113.77", IpPolicy::Drop, Some(b"salt")), None);
        assert_eq!(observe("not an ip", IpPolicy::Keep, None), None);
        // Hashing needs the salt; the same address always gives the same hash under one
        // salt, another address or salt another hash, and the address is not in it.
        assert_eq!(observe("203.0.113.77", IpPolicy::Hash, None), None);
        let hashed = observe("203.0.113.77", IpPolicy::Hash, Some(b"salt")).unwrap();
        assert!(
            hashed.starts_with("sha256:") && hashed.len() == 7 + 64,
            "{hashed}"
        );
        assert!(!hashed.contains("203.0.113"));
        assert_eq!(
            observe(" 203.0.113.77:443", IpPolicy::Hash, Some(b"salt")).as_deref(),
            Some(hashed.as_str())
        );
        assert_ne!(
            observe("203.0.113.78", IpPolicy::Hash, Some(b"salt")).as_deref(),
            Some(hashed.as_str())
        );
        assert_ne!(
            observe("203.0.113.77", IpPolicy::Hash, Some(b"pepper")).as_deref(),
            Some(hashed.as_str())
        );
        for policy in [
            IpPolicy::Keep,
            IpPolicy::Truncate,
            IpPolicy::Hash,
            IpPolicy::Drop,
        ] {
            assert_eq!(IpPolicy::parse(policy.as_str()), Some(policy));
        }
        assert_eq!(IpPolicy::parse("scramble"), None);
    }

    #[test]
    fn user_agents_are_trimmed_and_capped_on_a_character_boundary() {
        assert_eq!(user_agent_evidence("  "), None);
        assert_eq!(user_agent_evidence(" curl/8 ").as_deref(), Some("curl/8"));
        let long = "é".repeat(400);
        let kept = user_agent_evidence(&long).unwrap();
        assert!(kept.len() <= MAX_USER_AGENT_LEN);
        assert!(kept.chars().all(|character| character == 'é'));
    }

    #[test]
    fn link_ids_print_as_hex_and_read_back() {
        let id = LinkId([0xab; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(LinkId::try_from(id.to_string()), Ok(id));
        assert_eq!(LinkId::try_from("abcd".to_owned()), Err(InvalidLinkId));
    }
}
