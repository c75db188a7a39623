//! Rights requests on the legal clock (`crate::cases`): opening a case mails the identity
//! code, staff verify what the person read back, extend once, and close the case. Each
//! change is one unit of work: the case's row, its event (stream `case:<id>`, naming the
//! actor) and any mail commit together. Completing a case whose outcome is a consent
//! action calls the plugin in the same unit (erase, restrict, the refusals an objection
//! means, a rectification's edit), so the plugin writes its own events with the case's
//! actor, and nothing is recorded as done that was not (`cases/effects.rs`).

use chrono::NaiveDate;
use serde_json::json;

mod effects;

use super::{Guard, GuardError};
use crate::cases::identity::{self, IssuedCode};
use crate::cases::{
    Case, CaseKind, CaseStatus, Closing, Opening, Regime, TransitionRefused, event_payload,
    utc_date,
};
use crate::contract::records::EditRefusal;
use crate::contract::subjects::{StaffActor, StaffChannel};
use crate::contract::types::RecordRef;
use crate::storage::{
    MailboxRow, NewEvent, QueuedMail, RightsRequestFilter, StoredEvent, UnitOfWork,
};

/// Most cases one list shows.
pub const CASE_LIST_LIMIT: u32 = 10_000;

/// A request to record.
#[derive(Debug, Clone)]
pub struct CaseRequest {
    pub kind: CaseKind,
    pub person: RecordRef,
    pub regime: Regime,
    /// The day the request arrived (UTC) [default: today].
    pub received_on: Option<NaiveDate>,
}

/// How a case is completed.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    /// What was done, recorded in the completion event.
    pub note: String,
    /// A rectification's corrections, `(field, value)`: saved as a CRM user's edit.
    pub corrections: Vec<(String, String)>,
}

/// A completed case, with the export handed to the person (access, portability).
#[derive(Debug, Clone)]
pub struct CompletedCase {
    pub case: Case,
    pub export: Option<crate::export::Export>,
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseListFilter {
    pub status: Option<CaseStatus>,
    /// Open cases past their deadline.
    pub overdue: bool,
    /// Open cases due today or within this many days after it (not overdue).
    pub due_within_days: Option<u32>,
    pub person: Option<RecordRef>,
}

/// Why a case operation was not done: nothing was changed (but a wrong code is counted).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CaseRefusal {
    #[error("there is no case {0}: `case list` shows the cases")]
    UnknownCase(String),
    #[error("there is no person {0}: give MODULE/ID of a record the host keeps")]
    UnknownPerson(String),
    #[error(
        "{0} has no address on record: the identity code is mailed there, so record the address first (never ask for copies of ID documents)"
    )]
    NoAddress(String),
    #[error(
        "no sender is configured, so the identity code cannot be mailed: set one (`settings --sender-address ... --sender-name ...`)"
    )]
    SenderNotConfigured,
    #[error("the request cannot have been received on {received_on}, after today ({today})")]
    ReceivedInTheFuture {
        received_on: NaiveDate,
        today: NaiveDate,
    },
    #[error(transparent)]
    Transition(#[from] TransitionRefused),
    #[error("the plugin refused the case's consent action, nothing was changed: {0}")]
    ConsentAction(String),
    #[error("the rectification was refused, nothing was changed: {}", .0.iter().map(|refusal| refusal.detail.as_str()).collect::<Vec<_>>().join("; "))]
    CorrectionRefused(Vec<EditRefusal>),
    #[error("a rectification case is completed with the corrections made (--set FIELD=VALUE)")]
    CorrectionsMissing,
}

type CaseOutcome<T> = Result<Result<T, CaseRefusal>, GuardError>;

impl Guard {
    /// Records a rights request and mails the identity code to the address on record.
    pub fn open_case(&self, request: &CaseRequest, actor: &StaffActor) -> CaseOutcome<Case> {
        let now = self.clock().now_millis();
        let today = utc_date(now);
        let received_on = request.received_on.unwrap_or(today);
        if received_on > today {
            return Ok(Err(CaseRefusal::ReceivedInTheFuture { received_on, today }));
        }
        let person = &request.person;
        let Some(record) = self.record(&person.module, &person.id)? else {
            return Ok(Err(CaseRefusal::UnknownPerson(reference(person))));
        };
        let address = record.normalised_email();
        if address.is_empty() {
            return Ok(Err(CaseRefusal::NoAddress(reference(person))));
        }
        let Some(sender) = self.sender()? else {
            return Ok(Err(CaseRefusal::SenderNotConfigured));
        };
        let number = self.block_on(self.database().reserve_ids("rights-requests", 1))?;
        let id = format!("{}-{number:04}", received_on.format("%Y%m%d"));
        let code = identity::issue(&id, now);
        let opening = Opening {
            kind: request.kind,
            module: person.module.clone(),
            record_id: person.id.clone(),
            address,
            regime: request.regime,
            received_on,
        };
        let case = Case::open(id, opening, code.clone(), now);
        let (case, _) = self.unit(|| {
            let mut work = UnitOfWork::default();
            append(
                &mut work,
                &case,
                "opened",
                actor,
                now,
                json!({
                    "request": case.kind.as_str(),
                    "person": reference(person),
                    "regime": case.regime.as_str(),
                    "received-on": case.received_on,
                    "due-on": case.due_on,
                    "acknowledge-by": case.acknowledge_by,
                }),
            );
            queue_code(&mut work, &case, &code, &sender);
            work.rights_requests.push(case.to_row());
            Ok((case.clone(), work))
        })?;
        Ok(Ok(case))
    }

    /// Checks the code the person read back; a wrong one is counted (and recorded).
    pub fn verify_case(&self, id: &str, code: &str, actor: &StaffActor) -> CaseOutcome<Case> {
        self.case_unit(id, |_, case, work, now| {
            let outcome = case.verify(code, now);
            let (transition, details) = match &outcome {
                Ok(()) => ("identity-verified", json!({})),
                Err(TransitionRefused::Identity(refusal)) => (
                    "code-rejected",
                    json!({ "wrong-codes": case.identity.wrong_codes, "why": refusal.to_string() }),
                ),
                Err(_) => return Ok(outcome.map_err(CaseRefusal::from)),
            };
            append(work, case, transition, actor, now, details);
            Ok(outcome.map_err(CaseRefusal::from))
        })
    }

    /// Mails a new identity code, voiding the last one.
    pub fn resend_case_code(&self, id: &str, actor: &StaffActor) -> CaseOutcome<Case> {
        let Some(sender) = self.sender()? else {
            return Ok(Err(CaseRefusal::SenderNotConfigured));
        };
        self.case_unit(id, |_, case, work, now| {
            let code = identity::issue(&case.id, now);
            if let Err(refusal) = case.reissue_code(code.clone(), now) {
                return Ok(Err(refusal.into()));
            }
            append(
                work,
                case,
                "code-sent",
                actor,
                now,
                json!({ "codes-sent": case.identity.codes_sent }),
            );
            queue_code(work, case, &code, &sender);
            Ok(Ok(()))
        })
    }

    /// Extends the deadline once, telling the person why and until when.
    pub fn extend_case(&self, id: &str, reason: &str, actor: &StaffActor) -> CaseOutcome<Case> {
        let Some(sender) = self.sender()? else {
            return Ok(Err(CaseRefusal::SenderNotConfigured));
        };
        self.case_unit(id, |_, case, work, now| {
            let until = match case.extend(reason, now) {
                Ok(until) => until,
                Err(refusal) => return Ok(Err(refusal.into())),
            };
            append(work, case, "extended", actor, now, json!({ "due-on": until, "reason": case.extension_reason }));
            if let Some(address) = &case.address {
                work.queue_mail(QueuedMail {
                    message_id: format!("case-extension.{}@{}", case.id, domain_of(&sender.address)),
                    from: sender.clone(),
                    to: vec![MailboxRow { address: address.clone(), name: None }],
                    subject: "Your request: we need more time".to_owned(),
                    text_body: format!(
                        "We received your {kind} request on {received}. We need more time to answer it:\n\n{reason}\n\nWe will answer by {until}.\n",
                        kind = case.kind.as_str(),
                        received = case.received_on,
                        reason = reason.trim(),
                    ),
                    html_body: None,
                    headers: Vec::new(),
                });
            }
            Ok(Ok(()))
        })
    }

    /// Refuses or withdraws a case, with the reason recorded.
    pub fn close_case(
        &self,
        id: &str,
        closing: Closing,
        reason: &str,
        actor: &StaffActor,
    ) -> CaseOutcome<Case> {
        self.case_unit(id, |_, case, work, now| {
            if let Err(refusal) = case.close(closing, reason, now) {
                return Ok(Err(refusal.into()));
            }
            append(
                work,
                case,
                case.status.as_str(),
                actor,
                now,
                json!({ "reason": reason.trim() }),
            );
            Ok(Ok(()))
        })
    }

    /// Carries the request out and closes the case: the export for access and portability
    /// (its SHA-256 recorded), the plugin's erasure, restriction or refusals for erasure,
    /// restriction and objection, the corrections for rectification; all in one unit.
    pub fn complete_case(
        &self,
        id: &str,
        completion: &Completion,
        actor: &StaffActor,
    ) -> CaseOutcome<CompletedCase> {
        let Some(case) = self.case(id)? else {
            return Ok(Err(CaseRefusal::UnknownCase(id.to_owned())));
        };
        // Made before the unit (it reads through the plugin); what it hands over is what
        // its digest in the completion event names.
        let export = if case.kind.produces_export() && case.status == CaseStatus::IdentityVerified {
            Some(self.export_person(&RecordRef {
                module: case.module.clone(),
                id: case.record_id.clone(),
            })?)
        } else {
            None
        };
        let digest = export.as_ref().map(crate::export::Export::digest);
        let outcome = self.case_unit(id, |guard, case, work, now| {
            if let Err(refusal) = case.close(Closing::Completed, "", now) {
                return Ok(Err(refusal.into()));
            }
            let person = RecordRef {
                module: case.module.clone(),
                id: case.record_id.clone(),
            };
            let evidence = format!("rights request {} ({})", case.id, case.kind.as_str());
            let effect = match guard.carry_out(case, &person, completion, &evidence, actor, work)? {
                Ok(effect) => effect,
                Err(refusal) => return Ok(Err(refusal)),
            };
            if case.kind == CaseKind::Erasure {
                // The address was the person's; an erasure leaves no copy of it here either.
                case.address = None;
            }
            append(
                work,
                case,
                "completed",
                actor,
                now,
                json!({
                    "note": completion.note.trim(),
                    "effect": effect,
                    "export-sha256": digest,
                }),
            );
            Ok(Ok(()))
        })?;
        Ok(outcome.map(|case| CompletedCase { case, export }))
    }

    /// A case by id.
    pub fn case(&self, id: &str) -> Result<Option<Case>, GuardError> {
        match self.block_on(self.database().rights_request(id))? {
            Some(row) => Ok(Some(
                Case::from_row(row).map_err(|error| GuardError::Invalid(error.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    /// A case's events, oldest first.
    pub fn case_events(&self, case: &Case) -> Result<Vec<StoredEvent>, GuardError> {
        let mut events = Vec::new();
        loop {
            let page = self.block_on(self.database().events(
                &case.stream(),
                events.last().map(|event: &StoredEvent| event.sequence),
                1000,
            ))?;
            let full = page.len() == 1000;
            events.extend(page);
            if !full {
                return Ok(events);
            }
        }
    }

    /// The cases `filter` selects, soonest due first.
    pub fn cases(&self, filter: &CaseListFilter) -> Result<Vec<Case>, GuardError> {
        let today = utc_date(self.clock().now_millis());
        let on_the_clock = filter.overdue || filter.due_within_days.is_some();
        // The statuses asked for; the deadline lists only ever show open cases.
        let statuses: Vec<String> = CaseStatus::ALL
            .into_iter()
            .filter(|status| filter.status.is_none_or(|wanted| wanted == *status))
            .filter(|status| !on_the_clock || status.is_open())
            .map(|status| status.as_str().to_owned())
            .collect();
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let mut stored = RightsRequestFilter {
            statuses,
            person: filter
                .person
                .as_ref()
                .map(|person| (person.module.clone(), person.id.clone())),
            ..RightsRequestFilter::default()
        };
        if filter.overdue {
            stored.due_before = Some(today.to_string());
        }
        if let Some(days) = filter.due_within_days {
            stored.due_from = Some(today.to_string());
            stored.due_before =
                Some(crate::cases::clock::add_days(today, u64::from(days) + 1).to_string());
        }
        let rows = self.block_on(self.database().rights_requests(&stored, CASE_LIST_LIMIT))?;
        if rows.len() == CASE_LIST_LIMIT as usize {
            tracing::warn!(
                shown = CASE_LIST_LIMIT,
                "more cases match than one list shows: the soonest due are listed; narrow the list (status, person)"
            );
        }
        rows.into_iter()
            .map(|row| Case::from_row(row).map_err(|error| GuardError::Invalid(error.to_string())))
            .collect()
    }

    /// Runs `change` on case `id` as read under the writer lock, then commits the changed
    /// case with what `change` added to the unit (always, so a wrong code is counted even
    /// though its check is refused).
    fn case_unit<T>(
        &self,
        id: &str,
        change: impl Fn(
            &Guard,
            &mut Case,
            &mut UnitOfWork,
            i64,
        ) -> Result<Result<T, CaseRefusal>, GuardError>,
    ) -> CaseOutcome<Case> {
        let (outcome, _) = self.unit(|| {
            let Some(mut case) = self.case(id)? else {
                return Ok((
                    Err(CaseRefusal::UnknownCase(id.to_owned())),
                    UnitOfWork::default(),
                ));
            };
            let now = self.clock().now_millis();
            let mut work = UnitOfWork::default();
            let outcome = change(self, &mut case, &mut work, now)?;
            match outcome {
                // A refused transition changes nothing unless it recorded something (a
                // wrong code): the unit then keeps that and the case as counted.
                Err(refusal) if work.events.is_empty() => Ok((Err(refusal), UnitOfWork::default())),
                outcome => {
                    work.rights_requests.push(case.to_row());
                    Ok((outcome.map(|_| case), work))
                }
            }
        })?;
        Ok(outcome)
    }

    /// The configured sender of the identity code and notices.
    fn sender(&self) -> Result<Option<MailboxRow>, GuardError> {
        Ok(self.configuration()?.settings.and_then(|settings| {
            (!settings.sender_address.trim().is_empty()).then(|| MailboxRow {
                address: settings.sender_address.clone(),
                name: Some(settings.sender_name.clone()).filter(|name| !name.is_empty()),
            })
        }))
    }
}

/// Appends the case's event for `transition`.
fn append(
    work: &mut UnitOfWork,
    case: &Case,
    transition: &str,
    actor: &StaffActor,
    now: i64,
    details: serde_json::Value,
) {
    work.events.push(NewEvent {
        stream: case.stream(),
        payload: event_payload(transition, actor_json(actor), now, details),
    });
}

/// The actor as events name it: channel and name, as the plugin's staff events do.
fn actor_json(actor: &StaffActor) -> serde_json::Value {
    let channel = match actor.channel {
        StaffChannel::Admin => "admin",
        StaffChannel::BulkImport => "bulk-import",
        StaffChannel::Api => "api",
    };
    json!({ "channel": channel, "name": actor.name })
}

/// Queues the mail with the identity code to the address on record (a stable id per
/// case and code).
fn queue_code(work: &mut UnitOfWork, case: &Case, code: &IssuedCode, sender: &MailboxRow) {
    let Some(address) = &case.address else { return };
    let expires = code
        .state
        .code_expires_at
        .map(utc_date)
        .map(|date| date.to_string())
        .unwrap_or_default();
    work.queue_mail(QueuedMail {
        message_id: format!("case-code.{}.{}@{}", case.id, case.identity.codes_sent, domain_of(&sender.address)),
        from: sender.clone(),
        to: vec![MailboxRow { address: address.clone(), name: None }],
        subject: "Your request: your confirmation code".to_owned(),
        text_body: format!(
            "We received your {kind} request on {received}.\n\nTo confirm that it is you, read this code to us when we ask for it:\n\n    {code}\n\nThe code is valid until {expires}. We answer your request by {due}.\nIf you did not make this request, tell us by replying to this mail.\n",
            kind = case.kind.as_str(),
            received = case.received_on,
            code = identity::spoken(&code.code),
            due = case.due_on,
        ),
        html_body: None,
        headers: Vec::new(),
    });
}

/// The domain of the sender's address, for message ids.
fn domain_of(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map_or("privacy-guard.invalid", |(_, domain)| domain)
}

fn reference(person: &RecordRef) -> String {
    format!("{}/{}", person.module, person.id)
}
