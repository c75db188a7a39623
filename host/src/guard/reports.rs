//! The data-protection officer's reports, lists and bulk staff actions, read from the
//! event log ([`crate::reports`]); a bulk action acts on each person through the same
//! methods as a single one (the plugin decides, each person's change is a unit of work and
//! an event of its own, naming the actor), and the record of processing
//! ([`crate::register`]).

use std::sync::PoisonError;

use serde::Serialize;

use super::{Guard, GuardError};
use crate::contract::subjects::{RecordError, StaffActor};
use crate::contract::types::RecordRef;
use crate::register::ProcessingRegister;
use crate::reports::{
    ConsentReport, PeopleFilter, PeopleFold, PeoplePage, PeopleSelection, ReportWindow, read_log,
    read_more,
};
use crate::storage::{Database, StorageError};

/// Most people one page of a list or of a bulk action holds.
pub const PEOPLE_PAGE_LIMIT: usize = 1_000;

/// A staff action taken for every person of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// Records the same decision, obtained elsewhere, with one evidence for all.
    RecordDecision {
        consent_id: String,
        grant: bool,
        evidence: String,
    },
    /// Restricts processing (Art. 18) with one reason for all.
    Restrict { reason: String },
    /// Asks again at the next daily run.
    AskAgain,
}

impl BulkAction {
    /// The action's name, as the CLI and the API call it.
    pub fn name(&self) -> &'static str {
        match self {
            BulkAction::RecordDecision { .. } => "record-decision",
            BulkAction::Restrict { .. } => "restrict",
            BulkAction::AskAgain => "ask-again",
        }
    }
}

/// What became of one person of a bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcome {
    /// A dry run: the action would be tried for this person.
    WouldAct,
    /// Done: the person's event is written.
    Done,
    /// Nothing to do (asked again while every consent is answered).
    Unchanged,
    /// The plugin refused it for this person; `detail` says why.
    Refused,
}

/// One person of a bulk action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkItem {
    pub module: String,
    pub id: String,
    pub outcome: BulkOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A page of a bulk action: who was (or, in a dry run, would be) acted on, and the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkPage {
    pub action: &'static str,
    pub dry_run: bool,
    pub people: Vec<BulkItem>,
    /// The cursor to continue from (the last person this page went through), when people
    /// are left: the filter's next page, or the rest after a stop.
    pub next: Option<String>,
    /// How many people matched the filter when the page began.
    pub matching: u64,
    pub done: u64,
    pub unchanged: u64,
    pub refused: u64,
    /// Why the action stopped before the page's end (a fault: nothing of that person was
    /// changed); the people before it are done, `next` continues with that person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Guard {
    /// The counts per consent by value and per status at the end of `window` (now without
    /// its end), and their change per period.
    pub fn consent_report(&self, window: &ReportWindow) -> Result<ConsentReport, GuardError> {
        self.with_fold(window, PeopleFold::report)
    }

    /// A page of the people matching `filter` after the cursor `after` (`module/id`), at
    /// most `limit` ([`PEOPLE_PAGE_LIMIT`]).
    pub fn people_page(
        &self,
        filter: &PeopleFilter,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> Result<PeoplePage, GuardError> {
        self.with_fold(&ReportWindow::default(), |fold| {
            fold.people_page(filter, after, limit.clamp(1, PEOPLE_PAGE_LIMIT))
        })
    }

    /// `action` for each person of `selection` (at most its `limit` after its cursor), as
    /// `actor`: each through the single-person method, so each gets their own event (or,
    /// with `dry_run`, only the list of who would). `progress` hears, after each person, how
    /// many were gone through of how many the selection holds.
    pub fn bulk_action(
        &self,
        action: &BulkAction,
        selection: &PeopleSelection,
        actor: &StaffActor,
        dry_run: bool,
        progress: &dyn Fn(u64, u64),
    ) -> Result<BulkPage, GuardError> {
        let statement = match action {
            BulkAction::RecordDecision { evidence, .. } => Some(("evidence", evidence)),
            BulkAction::Restrict { reason } => Some(("reason", reason)),
            BulkAction::AskAgain => None,
        };
        if let Some((what, text)) = statement
            && text.trim().is_empty()
        {
            return Err(GuardError::Invalid(format!(
                "the {what} is empty: say where the {} comes from, it is recorded with every person's event",
                action.name()
            )));
        }
        // Unlike a list's page, as many as the caller asks for: the command line acts on
        // every person of the filter after one reading of the log.
        let page = self.with_fold(&ReportWindow::default(), |fold| {
            fold.people_page(
                &selection.filter,
                selection.after.as_ref(),
                selection.limit.max(1),
            )
        })?;
        let total = page.people.len() as u64;
        let mut bulk = BulkPage {
            action: action.name(),
            dry_run,
            people: Vec::with_capacity(page.people.len()),
            next: page.next.clone(),
            matching: page.matching,
            done: 0,
            unchanged: 0,
            refused: 0,
            stopped: None,
        };
        let mut last_gone_through: Option<String> = selection
            .after
            .as_ref()
            .map(|(module, id)| format!("{module}/{id}"));
        for (gone_through, row) in page.people.into_iter().enumerate() {
            let person = RecordRef {
                module: row.module,
                id: row.id,
            };
            let outcome = if dry_run {
                Ok((BulkOutcome::WouldAct, None))
            } else {
                self.act_on(action, &person, actor)
            };
            let (outcome, detail) = match outcome {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::error!(%error, action = action.name(), "a bulk action stopped");
                    bulk.stopped = Some(format!(
                        "{} at {}/{}; the people before it are done, nothing of theirs was changed: continue from `next`",
                        error.summary(),
                        person.module,
                        person.id
                    ));
                    bulk.next = last_gone_through;
                    return Ok(bulk);
                }
            };
            match outcome {
                BulkOutcome::Done => bulk.done += 1,
                BulkOutcome::Unchanged => bulk.unchanged += 1,
                BulkOutcome::Refused => bulk.refused += 1,
                BulkOutcome::WouldAct => {}
            }
            last_gone_through = Some(format!("{}/{}", person.module, person.id));
            bulk.people.push(BulkItem {
                module: person.module,
                id: person.id,
                outcome,
                detail,
            });
            progress(gone_through as u64 + 1, total);
        }
        Ok(bulk)
    }

    fn act_on(
        &self,
        action: &BulkAction,
        person: &RecordRef,
        actor: &StaffActor,
    ) -> Result<(BulkOutcome, Option<String>), GuardError> {
        let answer = match action {
            BulkAction::RecordDecision {
                consent_id,
                grant,
                evidence,
            } => self
                .record_decision(person, consent_id, *grant, actor, evidence)?
                .map(|_| BulkOutcome::Done),
            BulkAction::Restrict { reason } => self
                .restrict(person, actor, reason)?
                .map(|_| BulkOutcome::Done),
            BulkAction::AskAgain => self.ask_again(person, actor)?.map(|asked| {
                if asked {
                    BulkOutcome::Done
                } else {
                    BulkOutcome::Unchanged
                }
            }),
        };
        Ok(match answer {
            Ok(outcome) => (outcome, None),
            Err(refusal) => (BulkOutcome::Refused, Some(refusal_text(refusal))),
        })
    }

    /// The record of processing (Art. 30) of the configuration now.
    pub fn processing_register(&self) -> Result<ProcessingRegister, GuardError> {
        let snapshot = self.configuration()?;
        let mut classes = Vec::new();
        for module in &snapshot.person_modules {
            classes.push((module.clone(), self.field_classes(module)?));
        }
        let today = self.clock().now().date_naive().to_string();
        Ok(ProcessingRegister::of(&snapshot, &classes, today))
    }

    /// Runs `read` on the people as the log says with `window`. The whole log's fold
    /// (no window) is kept with the chain hash of the last event it read, and read on from
    /// there next time; a log whose event at that position is no longer the one read (a
    /// database restored from another backup, even one grown past it since) is read again
    /// from the start. Folds of other windows are made for the one call.
    fn with_fold<T>(
        &self,
        window: &ReportWindow,
        read: impl FnOnce(&PeopleFold) -> T,
    ) -> Result<T, GuardError> {
        let database = self.database();
        if *window != ReportWindow::default() {
            let fold = self.block_on(read_log(database, window))?;
            return Ok(read(&fold));
        }
        let mut kept = self
            .people_fold
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let head = self.block_on(database.log_head())?;
        let reusable = match kept.as_ref() {
            Some(kept) if kept.fold.is_for(window) => {
                let through = kept.fold.through_sequence();
                let stored = if through == head.size {
                    Some(head.hash)
                } else {
                    self.block_on(chain_hash_at(database, through))?
                };
                stored == Some(kept.through_hash)
            }
            _ => false,
        };
        if !reusable {
            // Dropped before the new fold is made, not kept beside it.
            *kept = None;
        }
        let kept_fold = kept.get_or_insert_with(|| KeptFold {
            fold: PeopleFold::new(window.clone()),
            through_hash: [0; 32],
        });
        let read_on = self.block_on(async {
            read_more(database, &mut kept_fold.fold).await?;
            chain_hash_at(database, kept_fold.fold.through_sequence()).await
        });
        match read_on {
            Ok(Some(hash)) => kept_fold.through_hash = hash,
            // The event just read is gone (the log was replaced under the reading): this
            // reading answers, and the next one starts again.
            Ok(None) => {
                let reading = kept
                    .take()
                    .map_or_else(|| PeopleFold::new(window.clone()), |kept| kept.fold);
                return Ok(read(&reading));
            }
            Err(error) => {
                // Part of the new events may be folded in: read again next time.
                *kept = None;
                return Err(error.into());
            }
        }
        Ok(read(&kept_fold.fold))
    }
}

/// The whole log's reading a host keeps between reports (see `Guard::with_fold`).
pub(super) struct KeptFold {
    fold: PeopleFold,
    /// The stored chain hash of the last event the fold read (zeros before the first).
    through_hash: [u8; 32],
}

/// The stored chain hash of the event at `sequence` (zeros at 0), if the log has it.
async fn chain_hash_at(
    database: &Database,
    sequence: u64,
) -> Result<Option<[u8; 32]>, StorageError> {
    if sequence == 0 {
        return Ok(Some([0; 32]));
    }
    Ok(database
        .chained_event(sequence)
        .await?
        .map(|event| event.chain_hash))
}

/// Why the plugin refused an action for a person, in a sentence.
fn refusal_text(refusal: RecordError) -> String {
    match refusal {
        RecordError::UnknownPerson(reference) => format!(
            "no person {}/{} is known to Privacy Guard",
            reference.module, reference.id
        ),
        RecordError::UnknownConsent(id) => format!("no consent `{id}` is defined"),
        RecordError::NotApplicable(id) => {
            format!("the consent `{id}` does not apply to this person")
        }
        RecordError::EvidenceRequired => "the evidence or reason is empty".to_owned(),
        RecordError::StatusRefused(why) => why,
        RecordError::ActorRequired => "no actor was named".to_owned(),
    }
}
