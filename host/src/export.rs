//! The export of everything held about a person (GDPR Art. 15 access, Art. 20
//! portability): one JSON document, or the same content as one long CSV.
//!
//! The guard gathers the facts (`guard/export.rs`: the record with its fields decrypted,
//! the plugin's view and history of the person's consents, the outbox's mail to their
//! address, their cases with their events); this module only writes them down, so what an
//! export holds is decided in one place and can be compared with the database by a test
//! (`tests/tests/export.rs`).
//!
//! Sections of the document (format `privacy-guard-export/1`):
//! - `record`: the CRM record (module, id, status, every field, decrypted);
//! - `consents`: status, regime, language, the current value of each consent, and
//!   `history`, every consent event of the person (the proof), oldest first;
//! - `mail`: every mail the host queued to the address (subject, queued, delivered,
//!   cancelled or failed), and `sent_on_legal_ground`, every mail the CRM sent to the
//!   person while restricted or erased, with its class and lawful basis;
//! - `cases`: the person's rights requests with their events.
//!
//! CSV: one file, columns `section,item,name,value`: `section` the document's section
//! (`record`, `consents`, `consent_history`, `mail`, `sent_on_legal_ground`, `cases`,
//! `case_events`), `item` the entry within it (a consent id, a message id, a case id, the
//! position of an event), `name` the path of the value within the entry (dotted), `value`
//! the value as text. Every scalar of the JSON document is one row.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::cases::Case;
use crate::contract::subjects::SubjectView;
use crate::contract::types::RecordRef;
use crate::storage::{MailToAddress, RecordRow, StoredEvent};
use crate::wire::Wire;

/// The export format's name and version, the document's `format`.
pub const EXPORT_FORMAT: &str = "privacy-guard-export/1";

/// Everything held about one person, as the guard read it.
#[derive(Debug, Clone)]
pub struct ExportFacts {
    pub person: RecordRef,
    pub generated_at: i64,
    pub record: Option<RecordRow>,
    pub subject: Option<SubjectView>,
    /// The person's consent events (JSON), oldest first.
    pub history: Vec<String>,
    pub mail: Vec<MailToAddress>,
    pub cases: Vec<(Case, Vec<StoredEvent>)>,
}

/// An export: the document, written as JSON or CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub document: Value,
}

impl Export {
    /// The export of `facts`.
    pub fn of(facts: &ExportFacts) -> Export {
        let history: Vec<Value> = facts
            .history
            .iter()
            .map(|event| parse_event(event))
            .collect();
        let sent_on_legal_ground: Vec<Value> = history
            .iter()
            .filter(|event| {
                event.get("kind").and_then(Value::as_str) == Some("sent-on-legal-ground")
            })
            .map(|event| {
                json!({
                    "at": event.get("at").and_then(Value::as_i64).map(instant),
                    "class": event.get("class"),
                    "lawful_basis": event.get("basis"),
                    "message_id": event.get("message-id"),
                })
            })
            .collect();
        let record = facts.record.as_ref().map(|record| {
            json!({
                "module": record.module,
                "id": record.id,
                "status": record.status,
                "modified_at": instant(record.modified_at),
                "fields": record.fields.iter().map(|(name, value)| (name.clone(), Value::from(value.clone()))).collect::<Map<_, _>>(),
            })
        });
        let consents = facts.subject.as_ref().map(|subject| {
            json!({
                "address": subject.address,
                "status": subject.status.text(),
                "regime": subject.regime.text(),
                "language": subject.language,
                "current": subject.consents.iter().map(|state| json!({
                    "consent": state.consent_id,
                    "value": state.value.text(),
                    "since": instant(state.since),
                    "purpose_version": state.purpose_version,
                })).collect::<Vec<_>>(),
                "history": history,
            })
        });
        let mail: Vec<Value> = facts
            .mail
            .iter()
            .map(|mail| {
                json!({
                    "message_id": mail.message_id,
                    "subject": mail.subject,
                    "queued_at": instant(mail.queued_at),
                    "delivered_at": mail.delivered_at.map(instant),
                    "cancelled_at": mail.cancelled_at.map(instant),
                    "failed_at": mail.failed_at.map(instant),
                })
            })
            .collect();
        let cases: Vec<Value> = facts
            .cases
            .iter()
            .map(|(case, events)| {
                let mut entry =
                    serde_json::to_value(case).unwrap_or_else(|_| json!({ "id": case.id }));
                if let Some(entry) = entry.as_object_mut() {
                    entry.insert(
                        "events".to_owned(),
                        events
                            .iter()
                            .map(|event| {
                                json!({
                                    "sequence": event.sequence,
                                    "recorded_at": instant(event.recorded_at),
                                    "event": parse_event(&event.payload),
                                })
                            })
                            .collect(),
                    );
                }
                entry
            })
            .collect();
        Export {
            document: json!({
                "format": EXPORT_FORMAT,
                "person": { "module": facts.person.module, "id": facts.person.id },
                "generated_at": instant(facts.generated_at),
                "record": record,
                "consents": consents,
                "mail": mail,
                "sent_on_legal_ground": sent_on_legal_ground,
                "cases": cases,
            }),
        }
    }

    /// The document as JSON, indented: the bytes handed to the person.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.document).unwrap_or_default() + "\n"
    }

    /// SHA-256 of [`Export::json`], hex: recorded when a case hands the export over.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.json().as_bytes()))
    }

    /// The document as one CSV (`section,item,name,value`; see the module's text).
    pub fn csv(&self) -> Result<String, csv::Error> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["section", "item", "name", "value"])?;
        let mut rows = Vec::new();
        for name in ["format", "generated_at"] {
            flatten(&self.document[name], name.to_owned(), &mut |path, value| {
                rows.push(["export".to_owned(), String::new(), path, value]);
            });
        }
        let mut section = |section: &str, item: String, value: &Value| {
            flatten(value, String::new(), &mut |path, text| {
                rows.push([section.to_owned(), item.clone(), path, text]);
            });
        };
        section("person", String::new(), &self.document["person"]);
        section("record", String::new(), &self.document["record"]);
        if let Some(consents) = self.document["consents"].as_object() {
            for (name, value) in consents {
                match name.as_str() {
                    "current" => {
                        for state in value.as_array().into_iter().flatten() {
                            let item = state["consent"].as_str().unwrap_or_default().to_owned();
                            section("consents", item, state);
                        }
                    }
                    "history" => {
                        for (position, event) in value.as_array().into_iter().flatten().enumerate()
                        {
                            section("consent_history", position.to_string(), event);
                        }
                    }
                    _ => section("consents", String::new(), &json!({ name.clone(): value })),
                }
            }
        }
        for mail in self.document["mail"].as_array().into_iter().flatten() {
            section(
                "mail",
                mail["message_id"].as_str().unwrap_or_default().to_owned(),
                mail,
            );
        }
        for (position, sent) in self.document["sent_on_legal_ground"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            section("sent_on_legal_ground", position.to_string(), sent);
        }
        for case in self.document["cases"].as_array().into_iter().flatten() {
            let id = case["id"].as_str().unwrap_or_default().to_owned();
            let mut summary = case.clone();
            if let Some(summary) = summary.as_object_mut() {
                summary.remove("events");
            }
            section("cases", id.clone(), &summary);
            for event in case["events"].as_array().into_iter().flatten() {
                section("case_events", format!("{id}#{}", event["sequence"]), event);
            }
        }
        for row in rows {
            writer.write_record(row)?;
        }
        let bytes = writer.into_inner().map_err(|error| error.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Calls `row(path, text)` for every scalar under `value` (nulls left out), the path
/// dotted from `prefix`.
fn flatten(value: &Value, prefix: String, row: &mut dyn FnMut(String, String)) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (name, value) in map {
                flatten(value, join(name), row);
            }
        }
        Value::Array(items) => {
            for (position, value) in items.iter().enumerate() {
                flatten(value, join(&position.to_string()), row);
            }
        }
        Value::String(text) => row(prefix, text.clone()),
        other => row(prefix, other.to_string()),
    }
}

/// An event's JSON, or its text when it is not JSON (kept, never dropped).
fn parse_event(payload: &str) -> Value {
    serde_json::from_str(payload).unwrap_or_else(|_| Value::from(payload))
}

/// Unix milliseconds as RFC 3339 UTC.
fn instant(millis: i64) -> Value {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|at| Value::from(at.to_rfc3339_opts(SecondsFormat::Millis, true)))
        .unwrap_or_else(|| Value::from(millis))
}
