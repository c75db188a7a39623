//! One pass over a Maildir of returned mail: every message in `new/` is read
//! ([`super::message::read_message`]), its reports recorded through the plugin, then the
//! message is moved to `cur/` (flag `S`, seen). A message that cannot be read, or whose
//! reports the plugin refuses (an address that is none, a token that does not open), is
//! moved to `rejected/` with the reason in `rejected/<name>.reason` and logged: never lost
//! silently, never read again. A message whose report could not be recorded (the database
//! or the plugin failed) stays in `new/` for the next pass.
//!
//! The move follows the commit: a crash between them re-reads that one message, and its
//! repeated report (the same kind, address and message id) changes nothing.
//!
//! With the VERP return path the host sends with (`return_path` of the SMTP URL), a bounce
//! delivered to `bounces+<message id>@…` is attributed by it: to the recipient the outbox
//! sent that mail to, with its message id, whatever the report names (or when it is no
//! delivery report at all, but a `MAILER-DAEMON`'s words: then a hard bounce).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::message::{envelope_recipients, plain_bounce, read_message};
use super::{Found, Reading};
use crate::contract::safeguards::FeedbackKind;
use crate::guard::{Guard, GuardError};
use crate::mail::verp;

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntakeCounts {
    /// Messages read from `new/`.
    pub messages: usize,
    /// Reports recorded (each a delivery report the plugin accepted).
    pub reports: usize,
    /// People whose mail stopped because of them.
    pub suppressed: usize,
    /// Messages that said nothing to record (moved to `cur/`).
    pub ignored: usize,
    /// Messages set aside in `rejected/`.
    pub rejected: usize,
    /// Messages left in `new/` because recording failed.
    pub failed: usize,
}

/// Why a pass could not run at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the Maildir {}: {source}", path.display())]
pub struct MaildirError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Reads every message in `maildir/new` once; bounces to a VERP address under
/// `return_path` are attributed by it. `progress` is told of each message (its file name
/// and what became of it).
pub fn intake(
    guard: &Guard,
    maildir: &Path,
    return_path: Option<&str>,
    progress: &dyn Fn(&str, &str),
) -> Result<IntakeCounts, MaildirError> {
    let new = maildir.join("new");
    let failing = |path: &Path| {
        let path = path.to_owned();
        move |source| MaildirError { path, source }
    };
    for folder in ["cur", "rejected"] {
        std::fs::create_dir_all(maildir.join(folder)).map_err(failing(&maildir.join(folder)))?;
    }
    let mut names: Vec<String> = std::fs::read_dir(&new)
        .map_err(failing(&new))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    let mut counts = IntakeCounts::default();
    let received_at = guard.clock().now_millis();
    for name in names {
        counts.messages += 1;
        let path = new.join(&name);
        let outcome = match std::fs::read(&path) {
            Ok(raw) => {
                match attributed(guard, &raw, read_message(&raw, received_at), return_path) {
                    Ok(reading) => record(guard, reading),
                    Err(error) => Outcome::Failed(error),
                }
            }
            Err(error) => Outcome::Reject(format!("cannot be read: {error}")),
        };
        let said = match outcome {
            Outcome::Recorded {
                reports,
                suppressed,
            } => {
                counts.reports += reports;
                counts.suppressed += suppressed;
                move_to(&path, &maildir.join("cur").join(seen_name(&name)))?;
                format!("{reports} report(s), {suppressed} suppressed")
            }
            Outcome::Ignore(reason) => {
                counts.ignored += 1;
                tracing::info!(message = %name, %reason, "returned mail ignored");
                move_to(&path, &maildir.join("cur").join(seen_name(&name)))?;
                format!("ignored: {reason}")
            }
            Outcome::Reject(reason) => {
                counts.rejected += 1;
                tracing::warn!(message = %name, %reason, "returned mail set aside in rejected/");
                let aside = maildir.join("rejected").join(&name);
                let note = maildir.join("rejected").join(format!("{name}.reason"));
                std::fs::write(&note, format!("{reason}\n")).map_err(failing(&note))?;
                move_to(&path, &aside)?;
                format!("set aside: {reason}")
            }
            Outcome::Failed(error) => {
                counts.failed += 1;
                tracing::error!(message = %name, error = %error.summary(), "a returned mail could not be recorded; it stays in new/ for the next pass");
                format!("failed, kept for the next pass: {}", error.summary())
            }
        };
        progress(&name, &said);
    }
    Ok(counts)
}

enum Outcome {
    Recorded { reports: usize, suppressed: usize },
    Ignore(String),
    Reject(String),
    Failed(GuardError),
}

/// Records a mail's reports. A report the plugin refuses sets the message aside (with the
/// reports before it recorded: repeated later, they change nothing).
fn record(guard: &Guard, reading: Reading) -> Outcome {
    let found = match reading {
        Reading::Reports(found) => found,
        Reading::Ignored(reason) => return Outcome::Ignore(reason),
        Reading::Malformed(reason) => return Outcome::Reject(reason),
    };
    let (mut reports, mut suppressed) = (0, 0);
    for found in found {
        let Some(report) = found.report() else {
            return Outcome::Reject(format!("a {} report that names no recipient", found.source));
        };
        match guard.report_delivery(&report) {
            Ok(Ok(outcome)) => {
                reports += 1;
                suppressed += outcome.suppressed.len();
            }
            Ok(Err(refusal)) => {
                return Outcome::Reject(format!(
                    "the report was refused: {}",
                    crate::feedback::webhook::refusal_text(&refusal)
                ));
            }
            Err(error) => return Outcome::Failed(error),
        }
    }
    Outcome::Recorded {
        reports,
        suppressed,
    }
}

/// `reading` with its bounces attributed by the VERP address the mail came back to: the
/// outbox's recipient of that mail and its message id. A `MAILER-DAEMON`'s mail to a VERP
/// address that is no delivery report is a hard bounce, with its subject as the evidence.
fn attributed(
    guard: &Guard,
    raw: &[u8],
    reading: Reading,
    return_path: Option<&str>,
) -> Result<Reading, GuardError> {
    let Some(return_path) = return_path else {
        return Ok(reading);
    };
    let Some(message_id) = envelope_recipients(raw)
        .iter()
        .find_map(|address| verp::message_id_of(return_path, address))
    else {
        return Ok(reading);
    };
    let runtime = crate::guard::io::runtime().map_err(GuardError::Runtime)?;
    let recipients = runtime.block_on(
        guard
            .database()
            .mail_recipients(message_id.trim_matches(['<', '>'])),
    )?;
    let [recipient] = recipients.as_slice() else {
        // Not the outbox's mail, one whose recipient was erased, or one of several: the
        // report's own words decide.
        return Ok(reading);
    };
    let attribute = |mut found: Found| {
        if matches!(
            found.kind,
            FeedbackKind::HardBounce | FeedbackKind::SoftBounce | FeedbackKind::Complaint
        ) {
            found.address = Some(recipient.clone());
            found.message_id = Some(message_id.clone());
        }
        found
    };
    Ok(match reading {
        Reading::Reports(found) => Reading::Reports(found.into_iter().map(attribute).collect()),
        Reading::Malformed(reason) | Reading::Ignored(reason) => match plain_bounce(raw) {
            Some(subject) => Reading::Reports(vec![Found {
                kind: FeedbackKind::HardBounce,
                address: Some(recipient.clone()),
                source: "verp".into(),
                evidence: super::scrub_addresses(&format!(
                    "a bounce without a delivery status, to the mail's return path; Subject: {subject}"
                )),
                message_id: Some(message_id),
                occurred_at: guard.clock().now_millis(),
                token: None,
            }]),
            None => Reading::Ignored(format!("{reason} (to the return path of {message_id})")),
        },
    })
}

/// A message's name in `cur/`: with the Maildir info `:2,S` (seen), unless it has info.
fn seen_name(name: &str) -> String {
    if name.contains(":2,") {
        name.to_owned()
    } else {
        format!("{name}:2,S")
    }
}

fn move_to(from: &Path, to: &Path) -> Result<(), MaildirError> {
    std::fs::rename(from, to).map_err(|source| MaildirError {
        path: from.to_owned(),
        source,
    })
}
