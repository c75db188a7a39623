//! `privacy-guard conformance-driver`: the reference host behind the conformance kit's
//! driver protocol (`conformance/README.md`). One JSON request a line on stdin, one JSON
//! response a line on stdout; `reset` opens a fresh host on a new temporary SQLite
//! database with a manual clock, so every scenario starts from nothing.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use privacy_guard_host::clock::Clock;
use privacy_guard_host::conformance::{from_json, to_json};
use privacy_guard_host::guard::{ComponentSource, Guard, GuardError, GuardOptions};
use privacy_guard_host::mail::{RetryPolicy, Transport};
use privacy_guard_host::runtime::SandboxLimits;
use privacy_guard_host::schedule::DailySchedule;
use privacy_guard_host::storage::{QueuedMail, RecordRow};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Arguments;

/// Serves the protocol until stdin closes.
pub(super) fn serve_driver(arguments: &Arguments) -> anyhow::Result<ExitCode> {
    let folder = ScratchFolder::new()?;
    let mut driver = Driver {
        component: arguments
            .component
            .clone()
            .map_or(ComponentSource::Embedded, ComponentSource::File),
        folder: folder.path.clone(),
        resets: 0,
        host: None,
    };
    let mut stdout = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading a request")?;
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Value>(&line) {
            Ok(request) => driver.answer(&request),
            Err(error) => json!({ "error": format!("the request is not JSON: {error}") }),
        };
        writeln!(stdout, "{response}").context("writing a response")?;
        stdout.flush().context("writing a response")?;
    }
    // The host holds the database open: close it before its folder goes.
    driver.host = None;
    drop(folder);
    Ok(ExitCode::SUCCESS)
}

/// A host opened by `reset`, with what the protocol keeps beside it.
struct Host {
    guard: Guard,
    clock: Clock,
    /// Mail committed since the last `mails` request.
    mails: Vec<QueuedMail>,
}

struct Driver {
    component: ComponentSource,
    folder: PathBuf,
    resets: u64,
    host: Option<Host>,
}

/// A response that is not `ok`: the request was wrong, or the plugin faulted.
enum Failure {
    Error(String),
    Fault(String),
}

impl From<GuardError> for Failure {
    fn from(error: GuardError) -> Failure {
        match error {
            GuardError::Plugin(fault) => Failure::Fault(fault.summary()),
            GuardError::Invalid(problem) => Failure::Error(problem),
            other => Failure::Error(other.summary()),
        }
    }
}

impl From<String> for Failure {
    fn from(problem: String) -> Failure {
        Failure::Error(problem)
    }
}

impl Driver {
    fn answer(&mut self, request: &Value) -> Value {
        match self.dispatch(request) {
            Ok(value) => json!({ "ok": value }),
            Err(Failure::Error(problem)) => json!({ "error": problem }),
            Err(Failure::Fault(reason)) => json!({ "fault": reason }),
        }
    }

    fn dispatch(&mut self, request: &Value) -> Result<Value, Failure> {
        let op = text(request, "op")?;
        if op == "reset" {
            self.reset(instant(text(request, "now")?)?)?;
            return Ok(Value::Null);
        }
        let host = self
            .host
            .as_mut()
            .ok_or_else(|| format!("`{op}` before the first `reset`"))?;
        match op {
            "clock" => {
                host.clock.set(instant(text(request, "now")?)?);
                Ok(Value::Null)
            }
            "crm-put" => {
                let record = request
                    .get("record")
                    .ok_or_else(|| "`crm-put` needs a `record`".to_owned())?;
                host.guard.put_record(record_row(record)?)?;
                Ok(Value::Null)
            }
            "call" => call(host, text(request, "function")?, request.get("args")),
            "events" => {
                let after = request.get("after").map_or(Some(0), Value::as_u64);
                let after = after.ok_or_else(|| "`after` must be a sequence number".to_owned())?;
                let events = host.guard.events_after(after)?;
                Ok(events
                    .into_iter()
                    .map(|event| {
                        json!({
                            "sequence": event.sequence,
                            "stream-id": event.stream,
                            "payload": event.payload,
                            "recorded-at": event.recorded_at,
                        })
                    })
                    .collect())
            }
            "mails" => Ok(std::mem::take(&mut host.mails)
                .iter()
                .map(mail_json)
                .collect()),
            "record" => {
                let found = host
                    .guard
                    .record(text(request, "module")?, text(request, "id")?)?;
                Ok(found.as_ref().map_or(Value::Null, record_json))
            }
            other => Err(format!(
                "unknown op `{other}` (known: reset, clock, crm-put, call, events, mails, record)"
            )
            .into()),
        }
    }

    fn reset(&mut self, now: DateTime<Utc>) -> Result<(), Failure> {
        // Close the previous host before its database goes.
        if self.host.take().is_some() {
            let previous = self.run_folder(self.resets);
            if let Err(error) = std::fs::remove_dir_all(&previous) {
                tracing::warn!(folder = %previous.display(), %error, "could not remove a scenario's database");
            }
        }
        self.resets += 1;
        let folder = self.run_folder(self.resets);
        std::fs::create_dir_all(&folder)
            .map_err(|error| format!("could not create {}: {error}", folder.display()))?;
        let clock = Clock::manual(now);
        let schedule = DailySchedule::parse("10:00", "UTC").map_err(|error| error.to_string())?;
        let guard = Guard::open(GuardOptions {
            database_url: format!(
                "sqlite://{}?mode=rwc",
                folder.join("privacy-guard.db").display()
            ),
            cache_dir: Some(self.folder.join("cache")),
            component: self.component.clone(),
            clock: clock.clone(),
            limits: SandboxLimits::default(),
            transport: Transport::Directory(folder.join("outbox")),
            retry: RetryPolicy::default(),
            schedule,
        })?;
        self.host = Some(Host {
            guard,
            clock,
            mails: Vec::new(),
        });
        Ok(())
    }

    fn run_folder(&self, reset: u64) -> PathBuf {
        self.folder.join(format!("scenario-{reset}"))
    }
}

/// `call`: the export by name, the arguments converted by its parameters' types.
fn call(host: &mut Host, function: &str, arguments: Option<&Value>) -> Result<Value, Failure> {
    let (interface, function) = function
        .split_once('.')
        .ok_or_else(|| format!("`{function}` is not `interface.function`"))?;
    let arguments = match arguments {
        None => Vec::new(),
        Some(Value::Array(arguments)) => arguments.clone(),
        Some(_) => return Err("`args` must be an array".to_owned().into()),
    };
    let answer = host.guard.call_export(interface, function, &|parameters| {
        if parameters.len() != arguments.len() {
            return Err(format!(
                "`{interface}.{function}` takes {} arguments ({}), {} given",
                parameters.len(),
                parameters
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                arguments.len()
            ));
        }
        parameters
            .iter()
            .zip(&arguments)
            .map(|((name, ty), value)| {
                from_json(value, ty, &format!("${name}")).map_err(|error| error.to_string())
            })
            .collect()
    })?;
    host.mails.extend(answer.mails);
    let mut results = answer
        .results
        .iter()
        .map(to_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match results.len() {
        0 => Value::Null,
        1 => results.remove(0),
        _ => Value::Array(results),
    })
}

fn text<'r>(request: &'r Value, key: &str) -> Result<&'r str, String> {
    request
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the request needs `{key}` as a string"))
}

fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| format!("`{text}` is not an RFC 3339 instant"))
}

/// A `person-record` of the WIT, as the kit encodes it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PersonRecord {
    #[serde(rename = "ref")]
    reference: RecordRef,
    fields: Vec<Field>,
    status: String,
    locked: bool,
    modified_at: i64,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordRef {
    module: String,
    id: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Field {
    name: String,
    value: String,
}

fn record_row(json: &Value) -> Result<RecordRow, String> {
    let record = PersonRecord::deserialize(json)
        .map_err(|error| format!("`record` is not a person-record: {error}"))?;
    Ok(RecordRow {
        module: record.reference.module,
        id: record.reference.id,
        fields: record
            .fields
            .into_iter()
            .map(|field| (field.name, field.value))
            .collect(),
        status: record.status,
        locked: record.locked,
        modified_at: record.modified_at,
    })
}

fn record_json(record: &RecordRow) -> Value {
    json!({
        "ref": { "module": record.module, "id": record.id },
        "fields": record.fields.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect::<Vec<_>>(),
        "status": record.status,
        "locked": record.locked,
        "modified-at": record.modified_at,
    })
}

fn mail_json(mail: &QueuedMail) -> Value {
    let mailbox =
        |address: &str, name: &Option<String>| json!({ "address": address, "name": name });
    json!({
        "message-id": mail.message_id,
        "sender": mailbox(&mail.from.address, &mail.from.name),
        "to": mail.to.iter().map(|to| mailbox(&to.address, &to.name)).collect::<Vec<_>>(),
        "subject": mail.subject,
        "text-body": mail.text_body,
        "html-body": mail.html_body,
        "headers": mail.headers.iter().map(|(name, value)| json!([name, value])).collect::<Vec<_>>(),
    })
}

/// A folder of its own under the system's temporary folder, removed when dropped.
struct ScratchFolder {
    path: PathBuf,
}

impl ScratchFolder {
    fn new() -> anyhow::Result<ScratchFolder> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "privacy-guard-conformance-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        Ok(ScratchFolder { path })
    }
}

impl Drop for ScratchFolder {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(folder = %self.path.display(), %error, "could not remove the driver's scratch folder");
        }
    }
}
