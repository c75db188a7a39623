//! Status events: a person restricted, erased, flagged duplicate or active again, with who
//! did it and why.

use serde::{Deserialize, Serialize};

use super::evidence::{
    ActorName, IpEvidence, LinkId, PERSON_ACTOR, PLUGIN_ACTOR, Staff, StaffChannel, Statement,
};
use super::{EVENT_FORMAT, EventError, EventKind};
use crate::record::RecordRef;
use crate::vocabulary::PersonStatus;

/// Who or what changed a person's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusSource {
    /// De-duplication of contacts and leads (`deduplication.apply`, or enabling consents).
    Deduplication,
    /// The records hook: flagging a new record whose address another active record owns,
    /// or suppressing a record re-adding an erased address.
    RecordChange,
    /// The person, on the preferences page (stop processing, erasure).
    PreferencesPage,
    /// An administrator (restriction, lifting it, erasure), with a reason or evidence.
    Admin,
    /// Staff through a bulk import.
    Import,
    /// Staff through the host's API.
    Api,
}

/// What a status change records besides the change itself. Never a value of a field: only
/// field names, the link answered, the truncated IP, and free-text evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusEvidence {
    /// The preferences link the person used.
    pub link: Option<LinkId>,
    pub ip: Option<IpEvidence>,
    pub user_agent: Option<String>,
    /// The administrator's reason or evidence.
    pub statement: Option<Statement>,
    /// The staff member who acted (with a statement); none for the person or the rules.
    pub actor: Option<ActorName>,
    /// Names of the fields an erasure emptied.
    pub erased_fields: Vec<String>,
    /// Names of the fields an erasure kept (setting `retained-fields`: a legal obligation).
    pub retained_fields: Vec<String>,
    /// The record re-added an address that was erased (its suppression marker matched).
    pub suppressed: bool,
}

impl StatusEvidence {
    /// Evidence of an answer on the preferences page opened with `link`.
    pub fn page(link: LinkId, ip: Option<IpEvidence>, user_agent: Option<String>) -> Self {
        StatusEvidence {
            link: Some(link),
            ip,
            user_agent,
            ..StatusEvidence::default()
        }
    }

    /// Evidence of a staff member's action.
    pub fn statement(statement: Statement, actor: ActorName) -> Self {
        StatusEvidence {
            statement: Some(statement),
            actor: Some(actor),
            ..StatusEvidence::default()
        }
    }
}

/// Why retained fields are kept, as written into an erasure event.
pub const RETENTION_BASIS: &str = "legal-obligation";

/// One change of a person's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEvent {
    /// When it changed (unix ms); the new status holds since then.
    pub at: i64,
    pub from: PersonStatus,
    pub to: PersonStatus,
    pub source: StatusSource,
    /// The record kept as primary, when the person became a duplicate.
    pub primary: Option<RecordRef>,
    pub evidence: StatusEvidence,
}

/// A status as named in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum WireStatus {
    Active,
    Restricted,
    Erased,
    Duplicate,
}

impl WireStatus {
    fn of(status: PersonStatus) -> WireStatus {
        match status {
            PersonStatus::Active => WireStatus::Active,
            PersonStatus::Restricted { .. } => WireStatus::Restricted,
            PersonStatus::Erased { .. } => WireStatus::Erased,
            PersonStatus::Duplicate { .. } => WireStatus::Duplicate,
        }
    }

    fn since(self, since: i64) -> PersonStatus {
        match self {
            WireStatus::Active => PersonStatus::Active,
            WireStatus::Restricted => PersonStatus::Restricted { since },
            WireStatus::Erased => PersonStatus::Erased { since },
            WireStatus::Duplicate => PersonStatus::Duplicate { since },
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct WireStatusEvent {
    v: u8,
    kind: EventKind,
    at: i64,
    from: WireStatus,
    to: WireStatus,
    source: StatusSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<LinkId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    statement: Option<Statement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    erased_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retained_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retained_because: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    suppressed: bool,
}

/// Whether two statuses are the same state, whatever their `since`.
pub fn same_status(left: PersonStatus, right: PersonStatus) -> bool {
    WireStatus::of(left) == WireStatus::of(right)
}

impl StatusEvent {
    /// The event as the JSON payload appended to the record's stream. The `from` status is
    /// named without its time: the stream before the event holds it.
    pub fn to_json(&self) -> Result<String, EventError> {
        let wire = WireStatusEvent {
            v: EVENT_FORMAT,
            kind: EventKind::StatusChanged,
            at: self.at,
            from: WireStatus::of(self.from),
            to: WireStatus::of(self.to),
            source: self.source,
            actor: match self.source {
                StatusSource::Admin | StatusSource::Import | StatusSource::Api => {
                    self.evidence.actor.as_ref().map(ActorName::to_string)
                }
                StatusSource::PreferencesPage => Some(PERSON_ACTOR.to_owned()),
                StatusSource::Deduplication | StatusSource::RecordChange => {
                    Some(PLUGIN_ACTOR.to_owned())
                }
            },
            primary: self.primary.as_ref().map(RecordRef::to_string),
            link: self.evidence.link,
            ip: self.evidence.ip.clone(),
            user_agent: self.evidence.user_agent.clone(),
            statement: self.evidence.statement.clone(),
            erased_fields: self.evidence.erased_fields.clone(),
            retained_fields: self.evidence.retained_fields.clone(),
            retained_because: (!self.evidence.retained_fields.is_empty())
                .then(|| RETENTION_BASIS.to_owned()),
            suppressed: self.evidence.suppressed,
        };
        Ok(serde_json::to_string(&wire)?)
    }

    /// Reads the event back. The `from` status gets the event's time: the stream before
    /// the event knows when it began, and the fold compares only the state.
    /// Reads a status event from its JSON.
    pub(super) fn from_json(json: &str) -> Result<StatusEvent, EventError> {
        StatusEvent::from_wire(serde_json::from_str(json)?)
    }

    fn from_wire(wire: WireStatusEvent) -> Result<StatusEvent, EventError> {
        if wire.v != EVENT_FORMAT {
            return Err(EventError::UnknownFormat(wire.v));
        }
        let primary = match &wire.primary {
            None => None,
            Some(text) => Some(
                text.split_once('/')
                    .and_then(|(module, id)| RecordRef::parse(module, id))
                    .ok_or(EventError::PrimaryMissing)?,
            ),
        };
        if wire.to == WireStatus::Duplicate && primary.is_none() {
            return Err(EventError::PrimaryMissing);
        }
        let actor = match (&wire.actor, wire.source) {
            (Some(name), StatusSource::Admin | StatusSource::Import | StatusSource::Api) => {
                Some(ActorName::parse(name).map_err(|_| EventError::EvidenceMismatch("an actor"))?)
            }
            _ => None,
        };
        Ok(StatusEvent {
            at: wire.at,
            from: wire.from.since(wire.at),
            to: wire.to.since(wire.at),
            source: wire.source,
            primary,
            evidence: StatusEvidence {
                link: wire.link,
                ip: wire.ip,
                user_agent: wire.user_agent,
                statement: wire.statement,
                actor,
                erased_fields: wire.erased_fields,
                retained_fields: wire.retained_fields,
                suppressed: wire.suppressed,
            },
        })
    }
}

impl Staff {
    /// The source of the status events the action writes.
    pub fn status_source(&self) -> StatusSource {
        match self.channel {
            StaffChannel::Admin => StatusSource::Admin,
            StaffChannel::Import => StatusSource::Import,
            StaffChannel::Api => StatusSource::Api,
        }
    }

    /// The evidence of the status events the action writes.
    pub fn evidence(&self) -> StatusEvidence {
        StatusEvidence::statement(self.statement.clone(), self.name.clone())
    }
}
