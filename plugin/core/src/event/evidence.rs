//! Who acted and what proves it: link ids, IP and user-agent evidence, staff statements,
//! actor names, and the cause of a consent change.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::digest::{from_hex, sha256_hex, to_hex};
use crate::record::RecordRef;
use crate::vocabulary::IpPolicy;

/// Longest user agent kept as evidence, in bytes.
pub(super) const MAX_USER_AGENT_LEN: usize = 512;

/// The random id of one signed preferences link: evidence of which mail was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkId(pub [u8; 16]);

impl fmt::Display for LinkId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&to_hex(&self.0))
    }
}

/// The text is not the hex of a link id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a link id is 32 hex digits")]
pub struct InvalidLinkId;

impl TryFrom<String> for LinkId {
    type Error = InvalidLinkId;

    fn try_from(text: String) -> Result<LinkId, InvalidLinkId> {
        let bytes = from_hex(&text).ok_or(InvalidLinkId)?;
        <[u8; 16]>::try_from(bytes.as_slice())
            .map(LinkId)
            .map_err(|_| InvalidLinkId)
    }
}

impl From<LinkId> for String {
    fn from(link: LinkId) -> String {
        link.to_string()
    }
}

/// What an event keeps of an observed IP address, per the [`IpPolicy`]: `203.0.113.7`
/// (keep), `203.0.113.0/24` (truncate), `sha256:<hex>` (hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IpEvidence(String);

impl IpEvidence {
    /// The evidence `policy` keeps of the address a host observed (`203.0.113.7`,
    /// `2001:db8::1`, also with a port: `203.0.113.7:443`, `[2001:db8::1]:443`); none if
    /// it is not an IP, if the policy drops it, or if it hashes and no salt is given.
    pub fn observe(raw: &str, policy: IpPolicy, salt: Option<&[u8]>) -> Option<IpEvidence> {
        let raw = raw.trim();
        let ip = raw
            .parse::<IpAddr>()
            .or_else(|_| raw.parse::<SocketAddr>().map(|socket| socket.ip()))
            .ok()?;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let text = match policy {
            IpPolicy::Drop => return None,
            IpPolicy::Keep => ip.to_string(),
            IpPolicy::Truncate => match ip {
                IpAddr::V4(v4) => truncate_v4(v4),
                IpAddr::V6(v6) => {
                    let [a, b, c, ..] = v6.segments();
                    format!("{}/48", Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0))
                }
            },
            IpPolicy::Hash => {
                let digest = sha256_hex(&[
                    b"privacy-guard/ip\0",
                    salt?,
                    b"\0",
                    ip.to_string().as_bytes(),
                ]);
                format!("sha256:{digest}")
            }
        };
        Some(IpEvidence(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn truncate_v4(ip: Ipv4Addr) -> String {
    let [a, b, c, _] = ip.octets();
    format!("{}/24", Ipv4Addr::new(a, b, c, 0))
}

/// A user agent as kept for evidence: trimmed, at most 512 bytes, none if empty.
pub fn user_agent_evidence(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut end = trimmed.len().min(MAX_USER_AGENT_LEN);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    Some(trimmed[..end].to_owned())
}

/// The free-text evidence of a decision obtained outside the preferences page: never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Statement(String);

/// Evidence text that says nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("evidence is required")]
pub struct EmptyStatement;

impl Statement {
    pub fn parse(text: &str) -> Result<Statement, EmptyStatement> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            Err(EmptyStatement)
        } else {
            Ok(Statement(trimmed.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Statement {
    type Error = EmptyStatement;

    fn try_from(text: String) -> Result<Statement, EmptyStatement> {
        Statement::parse(&text)
    }
}

impl From<Statement> for String {
    fn from(statement: Statement) -> String {
        statement.0
    }
}

/// Who or what reported a decision obtained outside the preferences page: a staff
/// channel. `PreferencesPage` and `DailyRun` appear only in events written before the
/// source was set by the channel (a caller could then claim them); nothing writes them
/// now, and they are read back as what they say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordingSource {
    PreferencesPage,
    Admin,
    DailyRun,
    Import,
    Api,
}

/// How a staff action arrived: the channels staff may record through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffChannel {
    /// An administrator: the CRM's user interface or the host's command line.
    Admin,
    /// A bulk import of decisions obtained elsewhere.
    Import,
    /// The host's API.
    Api,
}

/// A staff action: who acted, through which channel, on what evidence or reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub channel: StaffChannel,
    pub name: ActorName,
    pub statement: Statement,
}

impl Staff {
    /// The cause of the consent events the action writes.
    pub fn cause(&self) -> Cause {
        Cause::Recorded {
            source: match self.channel {
                StaffChannel::Admin => RecordingSource::Admin,
                StaffChannel::Import => RecordingSource::Import,
                StaffChannel::Api => RecordingSource::Api,
            },
            actor: Some(self.name.clone()),
            statement: self.statement.clone(),
        }
    }
}

/// The longest staff actor name, in bytes.
pub const MAX_ACTOR_NAME_LEN: usize = 120;
/// The actor of an event the person caused on the preferences page.
pub const PERSON_ACTOR: &str = "person";
/// The actor of an event the rules caused on their own.
pub const PLUGIN_ACTOR: &str = "privacy-guard";

/// Who acted for the business: a staff member's or an API key's name, one trimmed line of
/// at most [`MAX_ACTOR_NAME_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActorName(String);

/// An actor name that is empty, too long or more than one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an actor is named by one line of 1 to {MAX_ACTOR_NAME_LEN} bytes")]
pub struct InvalidActorName;

impl ActorName {
    pub fn parse(text: &str) -> Result<ActorName, InvalidActorName> {
        let trimmed = text.trim();
        if trimmed.is_empty()
            || trimmed.len() > MAX_ACTOR_NAME_LEN
            || trimmed.chars().any(char::is_control)
        {
            return Err(InvalidActorName);
        }
        Ok(ActorName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ActorName {
    type Error = InvalidActorName;

    fn try_from(text: String) -> Result<ActorName, InvalidActorName> {
        ActorName::parse(&text)
    }
}

impl From<ActorName> for String {
    fn from(name: ActorName) -> String {
        name.0
    }
}

impl fmt::Display for ActorName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Why a consent value changed, with the evidence that belongs to that cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The record's fields were evaluated against the consent's condition.
    RecordChange,
    /// The daily run of `period` sent a request mail with the signed link `link`.
    Request { period: Date, link: LinkId },
    /// The request was not answered in time: the daily run of `period` let it lapse (the
    /// consent is Applicable again, not requested; never a grant).
    Lapsed { period: Date },
    /// The person answered on the preferences page opened with the link `link`.
    PreferencesPage {
        link: LinkId,
        ip: Option<IpEvidence>,
        user_agent: Option<String>,
        /// For a grant of a consent the person was sent a request about: the seconds from
        /// the last request or reminder mail about it to this answer (the double opt-in's
        /// interval between mail and confirmation).
        seconds_since_request: Option<u64>,
    },
    /// A decision obtained elsewhere (phone, paper, another system) was recorded by staff.
    Recorded {
        source: RecordingSource,
        /// Who recorded it; none in events written before actors were recorded.
        actor: Option<ActorName>,
        statement: Statement,
    },
    /// Records of one person were merged under a primary: the answer given on the record
    /// `from` at `answered_at` (or the request it was sent then) counts on the primary,
    /// with its own evidence (`answer`: the page, a recorded decision or the daily run's
    /// request, never another carry-over).
    CarriedOver {
        from: RecordRef,
        answered_at: i64,
        answer: Box<Cause>,
    },
}

impl Cause {
    /// Whether the cause is an answer: the person's, on the page, or a decision staff
    /// recorded (carried over or not).
    pub fn is_answer(&self) -> bool {
        matches!(
            self,
            Cause::PreferencesPage { .. } | Cause::Recorded { .. } | Cause::CarriedOver { .. }
        )
    }
}
