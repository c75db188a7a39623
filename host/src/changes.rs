//! The change feed: the consent-relevant changes of people, read off the hash-chained event
//! log in its order, for a CRM that keeps its own opt-out fields in sync (`GET
//! /api/v1/changes`, and the webhooks of [`crate::webhooks`]).
//!
//! The log already has a gap-free total order (sequence numbers given under the writers'
//! lock, across host processes), so the feed is a pure reading of it: each event of a
//! person's stream (`contacts/42`) becomes zero or more [`Change`]s, each event of the
//! `configuration` stream that changes what a person's answers mean (a material purpose
//! change, a deleted consent) one change without a person. Sends on a legal ground change no
//! state and are left out. A change carries record references, consent ids, values, the
//! source channel and times only: never an address, a name, evidence text or an IP.
//!
//! The cursor is the sequence of the last event a page covered, written as text: stable
//! (a cursor read today means the same place tomorrow and on every host process) and
//! opaque to clients. A page never splits an event.

use serde::Serialize;
use serde_json::Value;

use crate::storage::{Database, StorageError, StoredEvent};

/// Events read per database round trip while filling a page.
const EVENTS_PER_READ: u32 = 500;

/// The stream of configuration events, beside the per-record streams.
const CONFIGURATION_STREAM: &str = "configuration";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    ConsentGranted,
    ConsentWithdrawn,
    ConsentRefused,
    ConsentRequested,
    RequestRepeated,
    ConsentApplicable,
    ConsentLapsed,
    ConsentNotApplicable,
    ProcessingRestricted,
    RestrictionLifted,
    Erased,
    Suppressed,
    MarkedDuplicate,
    DuplicateCleared,
    PurposeOutdated,
    PurposeCorrected,
    ConsentDeleted,
    Bounced,
    Complained,
    Unsubscribed,
    BounceLifted,
    SuppressionLifted,
}

/// Every change kind with its text (as the API writes it) and what it means: the one list
/// `docs/openapi.json` and the README are held to.
pub const CHANGE_KINDS: &[(ChangeKind, &str, &str)] = &[
    (
        ChangeKind::ConsentGranted,
        "consent_granted",
        "the person granted the consent (value `granted`)",
    ),
    (
        ChangeKind::ConsentWithdrawn,
        "consent_withdrawn",
        "the person withdrew a consent they had granted (value `not_granted`)",
    ),
    (
        ChangeKind::ConsentRefused,
        "consent_refused",
        "the person refused the consent, or it was refused for them (an erased address came back); value `not_granted`",
    ),
    (
        ChangeKind::ConsentRequested,
        "consent_requested",
        "a request mail was sent; the consent waits for the answer (value `waiting`)",
    ),
    (
        ChangeKind::RequestRepeated,
        "request_repeated",
        "the request was mailed again (a reminder, or staff asked again); still `waiting`",
    ),
    (
        ChangeKind::ConsentApplicable,
        "consent_applicable",
        "the consent applies to the person and is not requested yet (value `applicable`)",
    ),
    (
        ChangeKind::ConsentLapsed,
        "consent_lapsed",
        "a request went unanswered and lapsed (value `applicable`): silence is never a grant",
    ),
    (
        ChangeKind::ConsentNotApplicable,
        "consent_not_applicable",
        "the consent's condition no longer holds for the person (value `not_applicable`)",
    ),
    (
        ChangeKind::ProcessingRestricted,
        "processing_restricted",
        "processing of the person is restricted (Art. 18); value `restricted`",
    ),
    (
        ChangeKind::RestrictionLifted,
        "restriction_lifted",
        "the restriction was lifted (value `active`)",
    ),
    (
        ChangeKind::Erased,
        "erased",
        "the person was erased (Art. 17); value `erased`",
    ),
    (
        ChangeKind::Suppressed,
        "suppressed",
        "a record bringing back an erased address was suppressed (value `erased`)",
    ),
    (
        ChangeKind::MarkedDuplicate,
        "marked_duplicate",
        "the record was flagged a duplicate of `primary` (value `duplicate`)",
    ),
    (
        ChangeKind::DuplicateCleared,
        "duplicate_cleared",
        "a record flagged a duplicate is the primary again (value `active`)",
    ),
    (
        ChangeKind::PurposeOutdated,
        "purpose_outdated",
        "a material change of the consent's purpose text: grants to earlier versions no longer count (no person)",
    ),
    (
        ChangeKind::PurposeCorrected,
        "purpose_corrected",
        "a correction of the purpose text: grants still count (no person)",
    ),
    (
        ChangeKind::ConsentDeleted,
        "consent_deleted",
        "the consent was deleted from the configuration (no person)",
    ),
    (
        ChangeKind::Bounced,
        "bounced",
        "mail to the person's address bounced (a hard bounce, or the soft bounce that reached the limit): no marketing or workflow mail, no requests",
    ),
    (
        ChangeKind::Complained,
        "complained",
        "the person reported a mail as spam: no marketing or workflow mail, no requests",
    ),
    (
        ChangeKind::Unsubscribed,
        "unsubscribed",
        "the person asked by mail to unsubscribe (the `mailto:` of `List-Unsubscribe`): no marketing or workflow mail, no requests",
    ),
    (
        ChangeKind::BounceLifted,
        "bounce_lifted",
        "staff lifted the suppression of a bounced address",
    ),
    (
        ChangeKind::SuppressionLifted,
        "suppression_lifted",
        "the person granted a consent again on the preferences page, which lifted their complaint or unsubscription by mail (never a bounce)",
    ),
];

/// A record, by reference only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRef {
    pub module: String,
    pub id: String,
}

impl PersonRef {
    fn parse(text: &str) -> Option<PersonRef> {
        let (module, id) = text.split_once('/')?;
        (!module.is_empty() && !id.is_empty()).then(|| PersonRef {
            module: module.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The event's place in the log.
    pub sequence: u64,
    pub kind: ChangeKind,
    /// The record changed; `None` for a configuration change.
    pub person: Option<PersonRef>,
    pub consent: Option<String>,
    /// The value now: a consent value or a person status (snake_case), or `None`.
    pub value: Option<String>,
    /// The value before, when the event names it.
    pub previous: Option<String>,
    /// The purpose version the value refers to (or, for a purpose change, the new one).
    pub purpose_version: Option<u64>,
    /// The channel it came by (`preferences_page`, `daily_run`, `api`, …).
    pub source: Option<String>,
    /// The record kept as primary, when this one became a duplicate.
    pub primary: Option<PersonRef>,
    /// When the event was committed (unix milliseconds).
    pub recorded_at: i64,
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// The cursor after this page: the sequence of the last event it covered.
    pub next: u64,
    /// Whether the log held more events than the page covered when it was read.
    pub more: bool,
}

/// The text of a feed cursor.
pub fn cursor_text(sequence: u64) -> String {
    sequence.to_string()
}

/// Reads a cursor; `None` when it is not one this host gave.
pub fn parse_cursor(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The changes after the cursor `after`: at most `limit` (unless one event alone has more),
/// and none of an event past `through` when it is given.
pub async fn read_changes(
    database: &Database,
    after: u64,
    limit: usize,
    through: Option<u64>,
) -> Result<ChangePage, StorageError> {
    let mut changes: Vec<Change> = Vec::new();
    let mut cursor = after;
    loop {
        let events = database.events_after(cursor, EVENTS_PER_READ).await?;
        let exhausted = events.len() < EVENTS_PER_READ as usize;
        for event in &events {
            if through.is_some_and(|through| event.sequence > through) {
                return Ok(ChangePage {
                    changes,
                    next: cursor,
                    more: true,
                });
            }
            let of_event = changes_of(event);
            if !changes.is_empty() && changes.len() + of_event.len() > limit {
                return Ok(ChangePage {
                    changes,
                    next: cursor,
                    more: true,
                });
            }
            changes.extend(of_event);
            cursor = event.sequence;
        }
        if exhausted {
            return Ok(ChangePage {
                changes,
                next: cursor,
                more: false,
            });
        }
    }
}

/// The changes one event of the log records (none for an event that changes no state).
pub fn changes_of(event: &StoredEvent) -> Vec<Change> {
    let Ok(payload) = serde_json::from_str::<Value>(&event.payload) else {
        tracing::warn!(
            sequence = event.sequence,
            "an event of the log is not JSON; it is left out of the change feed"
        );
        return Vec::new();
    };
    let text = |name: &str| payload.get(name).and_then(Value::as_str);
    let api = |name: &str| text(name).map(|value| value.replace('-', "_"));
    let base = |kind: ChangeKind, person: Option<PersonRef>| Change {
        sequence: event.sequence,
        kind,
        person,
        consent: text("consent").map(str::to_owned),
        value: api("to"),
        previous: api("from"),
        purpose_version: payload.get("purpose-version").and_then(Value::as_u64),
        source: api("source"),
        primary: None,
        recorded_at: event.recorded_at,
    };
    let kind = text("kind").unwrap_or_default();
    if event.stream == CONFIGURATION_STREAM {
        let kind = match (kind, text("change")) {
            ("purpose-changed", Some("material")) => ChangeKind::PurposeOutdated,
            ("purpose-changed", _) => ChangeKind::PurposeCorrected,
            ("consent-deleted", _) => ChangeKind::ConsentDeleted,
            _ => return unknown(event, kind),
        };
        return vec![Change {
            value: None,
            previous: None,
            source: None,
            ..base(kind, None)
        }];
    }
    // A rights request's events (`crate::cases`) are the business's administration,
    // not a change of anyone's consents: the feed leaves them out.
    if event.stream.starts_with(crate::cases::CASE_STREAM_PREFIX) {
        return Vec::new();
    }
    let Some(person) = PersonRef::parse(&event.stream) else {
        return unknown(event, kind);
    };
    match kind {
        "consent-changed" => {
            let lapsed = payload
                .pointer("/evidence/lapsed")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let kind = match (text("from"), text("to")) {
                (_, Some("granted")) => ChangeKind::ConsentGranted,
                (Some("granted"), Some("not-granted")) => ChangeKind::ConsentWithdrawn,
                (_, Some("not-granted")) => ChangeKind::ConsentRefused,
                (_, Some("waiting")) => ChangeKind::ConsentRequested,
                (_, Some("applicable")) if lapsed => ChangeKind::ConsentLapsed,
                (_, Some("applicable")) => ChangeKind::ConsentApplicable,
                (_, Some("not-applicable")) => ChangeKind::ConsentNotApplicable,
                _ => return unknown(event, kind),
            };
            vec![base(kind, Some(person))]
        }
        "request-repeated" => payload
            .get("consents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|consent| Change {
                consent: Some(consent.to_owned()),
                value: Some("waiting".to_owned()),
                previous: Some("waiting".to_owned()),
                source: Some("daily_run".to_owned()),
                ..base(ChangeKind::RequestRepeated, Some(person.clone()))
            })
            .collect(),
        "status-changed" => {
            let suppressed = payload
                .get("suppressed")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let kind = match (text("from"), text("to")) {
                (_, Some("restricted")) => ChangeKind::ProcessingRestricted,
                (_, Some("erased")) if suppressed => ChangeKind::Suppressed,
                (_, Some("erased")) => ChangeKind::Erased,
                (_, Some("duplicate")) => ChangeKind::MarkedDuplicate,
                (Some("duplicate"), Some("active")) => ChangeKind::DuplicateCleared,
                (_, Some("active")) => ChangeKind::RestrictionLifted,
                _ => return unknown(event, kind),
            };
            vec![Change {
                primary: text("primary").and_then(PersonRef::parse),
                ..base(kind, Some(person))
            }]
        }
        // Proof of why a mail went to a restricted or erased person: no state changes.
        "sent-on-legal-ground" => Vec::new(),
        // A web-form record sent no request, a link mailed again on request: no state changes.
        "request-withheld" | "link-mailed" => Vec::new(),
        // A delivery report suppressed the address, staff lifted a bounce, or the person's
        // own grant lifted a complaint or unsubscription.
        "delivery-feedback" => {
            let kind = match text("feedback") {
                Some("hard-bounce" | "soft-bounce") => ChangeKind::Bounced,
                Some("complaint") => ChangeKind::Complained,
                Some("unsubscribe") => ChangeKind::Unsubscribed,
                Some("bounce-lifted") => ChangeKind::BounceLifted,
                Some("suppression-lifted") => ChangeKind::SuppressionLifted,
                _ => return unknown(event, kind),
            };
            vec![base(kind, Some(person))]
        }
        _ => unknown(event, kind),
    }
}

/// An event this host does not know how to read as a change (a later plugin's): left out,
/// and said so in the log, which names it by sequence only.
fn unknown(event: &StoredEvent, kind: &str) -> Vec<Change> {
    tracing::warn!(
        sequence = event.sequence,
        kind,
        "an event of a kind this host does not know is left out of the change feed; upgrade the host"
    );
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stream: &str, payload: &str) -> StoredEvent {
        StoredEvent {
            sequence: 7,
            stream: stream.to_owned(),
            payload: payload.to_owned(),
            recorded_at: 1_000,
        }
    }

    fn kinds(stream: &str, payload: &str) -> Vec<ChangeKind> {
        changes_of(&event(stream, payload))
            .into_iter()
            .map(|change| change.kind)
            .collect()
    }

    #[test]
    fn each_event_kind_becomes_its_change_and_evidence_stays_out() {
        use ChangeKind::*;
        let consent = |from: &str, to: &str, extra: &str| {
            format!(
                r#"{{"v":1,"kind":"consent-changed","at":1,"consent":"news","from":"{from}","to":"{to}","source":"preferences-page","purpose-version":2,"purpose-hash":"ab","default":"no","actor":"person","evidence":{{"link":"00","ip":"203.0.113.0/24","user-agent":"curl"{extra}}}}}"#
            )
        };
        let table: &[(&str, String, Vec<ChangeKind>)] = &[
            ("contacts/1", consent("waiting", "granted", ""), vec![ConsentGranted]),
            ("contacts/1", consent("granted", "not-granted", ""), vec![ConsentWithdrawn]),
            ("contacts/1", consent("waiting", "not-granted", ""), vec![ConsentRefused]),
            ("contacts/1", consent("applicable", "waiting", ""), vec![ConsentRequested]),
            ("contacts/1", consent("waiting", "applicable", r#","lapsed":true"#), vec![ConsentLapsed]),
            ("contacts/1", consent("not-applicable", "applicable", ""), vec![ConsentApplicable]),
            ("contacts/1", consent("applicable", "not-applicable", ""), vec![ConsentNotApplicable]),
            ("leads/2", r#"{"v":1,"kind":"request-repeated","at":1,"period":"2026-12-08","link":"00","consents":["news","calls"],"reminder":true}"#.into(), vec![RequestRepeated, RequestRepeated]),
            ("leads/2", r#"{"v":1,"kind":"status-changed","at":1,"from":"active","to":"restricted","source":"api","actor":"crm","statement":"asked by phone"}"#.into(), vec![ProcessingRestricted]),
            ("leads/2", r#"{"v":1,"kind":"status-changed","at":1,"from":"restricted","to":"active","source":"admin"}"#.into(), vec![RestrictionLifted]),
            ("leads/2", r#"{"v":1,"kind":"status-changed","at":1,"from":"active","to":"erased","source":"api","erased-fields":["email"]}"#.into(), vec![Erased]),
            ("leads/2", r#"{"v":1,"kind":"status-changed","at":1,"from":"active","to":"erased","source":"record-change","suppressed":true}"#.into(), vec![Suppressed]),
            ("leads/2", r#"{"v":1,"kind":"status-changed","at":1,"from":"active","to":"duplicate","source":"deduplication","primary":"contacts/9"}"#.into(), vec![MarkedDuplicate]),
            ("leads/2", r#"{"v":1,"kind":"status-changed","at":1,"from":"duplicate","to":"active","source":"deduplication"}"#.into(), vec![DuplicateCleared]),
            ("leads/2", r#"{"v":1,"kind":"sent-on-legal-ground","at":1,"class":"transactional","basis":"contract"}"#.into(), vec![]),
            ("configuration", r#"{"v":1,"kind":"purpose-changed","at":1,"consent":"news","module":"contacts","change":"material","from-version":1,"from-hash":"a","purpose-version":2,"purpose-hash":"b","counts-from-version":2}"#.into(), vec![PurposeOutdated]),
            ("configuration", r#"{"v":1,"kind":"purpose-changed","at":1,"consent":"news","module":"contacts","change":"correction","from-version":1,"from-hash":"a","purpose-version":2,"purpose-hash":"b","counts-from-version":1}"#.into(), vec![PurposeCorrected]),
            ("configuration", r#"{"v":1,"kind":"consent-deleted","at":1,"consent":"news","module":"contacts","purpose-version":2,"purpose-hash":"b"}"#.into(), vec![ConsentDeleted]),
            ("contacts/1", r#"{"v":1,"kind":"delivery-feedback","at":1,"source":"dsn","actor":"privacy-guard","feedback":"soft-bounce","evidence":"4.2.2"}"#.into(), vec![Bounced]),
            ("contacts/1", r#"{"v":1,"kind":"delivery-feedback","at":1,"source":"arf","actor":"privacy-guard","feedback":"complaint","evidence":"abuse"}"#.into(), vec![Complained]),
            ("contacts/1", r#"{"v":1,"kind":"delivery-feedback","at":1,"source":"mailto","actor":"privacy-guard","feedback":"unsubscribe","evidence":"subject"}"#.into(), vec![Unsubscribed]),
            ("contacts/1", r#"{"v":1,"kind":"delivery-feedback","at":1,"source":"admin","actor":"Dana","feedback":"bounce-lifted","evidence":"back"}"#.into(), vec![BounceLifted]),
            ("contacts/1", r#"{"v":1,"kind":"delivery-feedback","at":1,"source":"preferences-page","actor":"person","feedback":"suppression-lifted","evidence":"complaint lifted","link":"03030303030303030303030303030303"}"#.into(), vec![SuppressionLifted]),
            ("contacts/1", r#"{"v":1,"kind":"something-new","at":1}"#.into(), vec![]),
            ("contacts/1", "not json".into(), vec![]),
        ];
        for (stream, payload, expected) in table {
            assert_eq!(&kinds(stream, payload), expected, "{payload}");
            for change in changes_of(&event(stream, payload)) {
                let json = serde_json::to_string(&change).unwrap();
                for secret in ["203.0.113", "curl", "asked by phone", "email", "\"00\""] {
                    assert!(!json.contains(secret), "{json} holds {secret}");
                }
            }
        }
        let granted = &changes_of(&event("contacts/1", &consent("waiting", "granted", "")))[0];
        assert_eq!(
            granted,
            &Change {
                sequence: 7,
                kind: ConsentGranted,
                person: Some(PersonRef {
                    module: "contacts".into(),
                    id: "1".into()
                }),
                consent: Some("news".into()),
                value: Some("granted".into()),
                previous: Some("waiting".into()),
                purpose_version: Some(2),
                source: Some("preferences_page".into()),
                primary: None,
                recorded_at: 1_000,
            }
        );
    }

    #[test]
    fn the_table_of_kinds_names_each_kind_as_it_is_serialised() {
        for (kind, text, _) in CHANGE_KINDS {
            assert_eq!(serde_json::to_value(kind).unwrap(), Value::from(*text));
        }
    }

    #[test]
    fn cursors_are_decimal_sequences_and_nothing_else() {
        assert_eq!(parse_cursor(&cursor_text(42)), Some(42));
        assert_eq!(parse_cursor("0"), Some(0));
        for wrong in ["", "-1", "1.5", "abc", " 1", "99999999999999999999999"] {
            assert_eq!(parse_cursor(wrong), None, "{wrong}");
        }
    }
}
