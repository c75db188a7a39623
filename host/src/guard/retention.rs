//! Retention schedules run ([`crate::retention`]): who is due read from the event log, each
//! erased through the plugin's `subjects.erase` as a staff erasure whose actor names the
//! schedule (`retention:<class>`, channel admin) and whose evidence names the rule, since
//! when it held, the day it ran out and who ran the schedule. The values erased are purged
//! once, at the end of the run.

use chrono::DateTime;
use serde::Serialize;

use super::{Guard, GuardError};
use crate::contract::subjects::{RecordError, StaffActor, StaffChannel};
use crate::contract::types::RecordRef;
use crate::retention::{Class, DuePerson, RetentionFold, RetentionSettings, read_on};
use crate::storage::UnitOfWork;

/// What a run is asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionRequest {
    /// List who is due; change nothing.
    pub dry_run: bool,
    /// Start after this person (`module`, `id`).
    pub after: Option<(String, String)>,
    /// At most this many people due (listed, erased or refused); `None`: all.
    pub limit: Option<u64>,
    /// Who runs the schedule (an operator, an API key, `the daily schedule`): recorded in
    /// every erasure's evidence.
    pub run_by: String,
}

/// What became of a person who was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionOutcome {
    /// A dry run: they would be erased.
    WouldErase,
    /// Erased: the plugin's erasure events name the schedule.
    Erased,
    /// The plugin refused to erase them; `detail` says why.
    Refused,
}

/// One person due, by reference only: never an address or a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionItem {
    pub module: String,
    pub id: String,
    pub class: Class,
    /// When the class began for them (UTC, RFC 3339).
    pub since: String,
    /// When their time ran out (UTC, RFC 3339).
    pub due_at: String,
    pub outcome: RetentionOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The summary of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionSummary {
    pub dry_run: bool,
    /// The run's time (UTC, RFC 3339): a class ran out for whom it had by then.
    pub now: String,
    pub settings: RetentionSettings,
    /// People the log names, and how many of them were looked at.
    pub people: u64,
    pub looked_at: u64,
    /// People due, per class (listed in a dry run).
    pub due: std::collections::BTreeMap<&'static str, u64>,
    pub erased: u64,
    pub refused: u64,
    /// The last event of the log the run had read when it ended.
    pub through_sequence: u64,
    /// The person to continue after (`module/id`), when the limit stopped the run or a
    /// fault did.
    pub next: Option<String>,
    /// Why the run stopped before the end (a fault: nothing of that person was changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

fn time_text(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn day_text(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|at| at.date_naive().to_string())
        .unwrap_or_default()
}

impl Guard {
    /// Sets the retention settings this host runs with (from the configuration file or the
    /// command line); once, when the host is opened.
    pub fn set_retention(&self, settings: RetentionSettings) -> Result<(), GuardError> {
        self.retention
            .set(settings)
            .map_err(|_| GuardError::Invalid("the retention settings are set already".into()))
    }

    /// The retention settings in force: those set, else the defaults.
    pub fn retention_settings(&self) -> RetentionSettings {
        self.retention.get().copied().unwrap_or_default()
    }

    /// Runs the retention schedules of `settings` at the clock's time now: every active
    /// person a class has run out for is erased (each their own unit of work), or, with
    /// `dry_run`, listed. `each` hears every person due as they are handled; `progress`,
    /// how many people were looked at of how many the log names.
    pub fn run_retention(
        &self,
        settings: &RetentionSettings,
        request: &RetentionRequest,
        each: &mut dyn FnMut(&RetentionItem),
        progress: &dyn Fn(u64, u64),
    ) -> Result<RetentionSummary, GuardError> {
        if request.run_by.trim().is_empty() {
            return Err(GuardError::Invalid(
                "say who runs the retention schedule: it is recorded with every erasure".into(),
            ));
        }
        let now = self.clock().now_millis();
        let mut fold = RetentionFold::default();
        self.block_on(read_on(self.database(), &mut fold))?;
        let mut summary = RetentionSummary {
            dry_run: request.dry_run,
            now: time_text(now),
            settings: *settings,
            people: fold.people(),
            looked_at: 0,
            due: Default::default(),
            erased: 0,
            refused: 0,
            through_sequence: fold.through_sequence(),
            next: None,
            stopped: None,
        };
        if settings.all_off() {
            return Ok(summary);
        }
        let mut after = request.after.clone();
        let mut handled = 0_u64;
        let outcome = loop {
            let (due, looked_at) = fold.next_due(
                after.as_ref().map(|(m, i)| (m.as_str(), i.as_str())),
                settings,
                now,
            );
            summary.looked_at += looked_at;
            progress(summary.looked_at, fold.people());
            let Some(due) = due else {
                break Ok(());
            };
            if request.limit.is_some_and(|limit| handled >= limit) {
                summary.next = after.as_ref().map(|(m, i)| format!("{m}/{i}"));
                summary.looked_at -= 1;
                break Ok(());
            }
            let person = (due.module.clone(), due.id.clone());
            match self.retain_or_erase(&mut fold, settings, now, request, due) {
                Ok(Some(item)) => {
                    handled += 1;
                    *summary.due.entry(item.class.name()).or_default() += 1;
                    match item.outcome {
                        RetentionOutcome::Erased => summary.erased += 1,
                        RetentionOutcome::Refused => summary.refused += 1,
                        RetentionOutcome::WouldErase => {}
                    }
                    each(&item);
                }
                // Not due any more: something changed since the log was read.
                Ok(None) => {}
                Err(error) => {
                    summary.next = after.as_ref().map(|(m, i)| format!("{m}/{i}"));
                    summary.stopped = Some(format!(
                        "{} at {}/{}; the people before it are done, nothing of theirs was changed: continue after `next`",
                        error.summary(),
                        person.0,
                        person.1
                    ));
                    break Err(error);
                }
            }
            after = Some(person);
        };
        summary.through_sequence = fold.through_sequence();
        let purged = self.purge_erased_values();
        if let Err(error) = outcome {
            tracing::error!(%error, "the retention run stopped");
        }
        purged?;
        if summary.erased > 0 {
            tracing::info!(
                erased = summary.erased,
                refused = summary.refused,
                "retention schedules ran"
            );
        }
        Ok(summary)
    }

    /// The retention schedules `serve` runs after each day's consent run of `period`, as
    /// `the daily schedule`; a failure is logged, and the next day's run tries again.
    pub fn retention_after_daily_run(&self, period: &str) {
        let settings = self.retention_settings();
        if settings.all_off() {
            return;
        }
        let request = RetentionRequest {
            run_by: format!("the daily schedule of {period}"),
            ..RetentionRequest::default()
        };
        match self.run_retention(&settings, &request, &mut |_| {}, &|_, _| {}) {
            Ok(summary) if summary.stopped.is_some() => tracing::error!(
                period,
                erased = summary.erased,
                stopped = summary.stopped.as_deref().unwrap_or_default(),
                "the scheduled retention run stopped; the next day's run goes on"
            ),
            Ok(summary) => tracing::info!(
                period,
                erased = summary.erased,
                refused = summary.refused,
                "scheduled retention run finished"
            ),
            Err(error) => tracing::error!(
                period,
                error = %format!("{error:#}"),
                "the scheduled retention run failed; the next day's run tries again"
            ),
        }
    }

    /// Reads the log on and, when `due` is still due, erases them (or, in a dry run, lists
    /// them). `None` when they are no longer due; the error names the person.
    fn retain_or_erase(
        &self,
        fold: &mut RetentionFold,
        settings: &RetentionSettings,
        now: i64,
        request: &RetentionRequest,
        due: DuePerson,
    ) -> Result<Option<RetentionItem>, GuardError> {
        let mut item = RetentionItem {
            module: due.module.clone(),
            id: due.id.clone(),
            class: due.class,
            since: time_text(due.since),
            due_at: time_text(due.due_at),
            outcome: RetentionOutcome::WouldErase,
            detail: None,
        };
        if request.dry_run {
            return Ok(Some(item));
        }
        // What was committed since the log was read (answers, this run's own erasures of
        // records sharing an address) decides.
        self.block_on(read_on(self.database(), fold))?;
        let Some((class, since, due_at)) = fold.still_due(&due.module, &due.id, settings, now)
        else {
            return Ok(None);
        };
        item.class = class;
        item.since = time_text(since);
        item.due_at = time_text(due_at);
        let actor = StaffActor {
            channel: StaffChannel::Admin,
            name: class.actor_name(),
        };
        let evidence = format!(
            "retention schedule `{class}`: {} since {}; kept {}, until {}; run by {}",
            class.rule(),
            day_text(since),
            settings.keep(class),
            day_text(due_at),
            request.run_by.trim(),
        );
        let person = RecordRef {
            module: due.module,
            id: due.id,
        };
        let erased = self
            .unit_deferring_purge(|| {
                Ok(self
                    .runtime
                    .with_instance(UnitOfWork::default(), |store, plugin| {
                        plugin
                            .privacy_guard_consent_subjects()
                            .call_erase(store, &person, &actor, &evidence)
                    })?)
            })?
            .0;
        match erased {
            Ok(_) => item.outcome = RetentionOutcome::Erased,
            Err(refusal) => {
                item.outcome = RetentionOutcome::Refused;
                item.detail = Some(refusal_text(&refusal));
            }
        }
        Ok(Some(item))
    }
}

fn refusal_text(refusal: &RecordError) -> String {
    match refusal {
        RecordError::UnknownPerson(_) => "the plugin does not know the person".to_owned(),
        RecordError::StatusRefused(why) => why.clone(),
        other => format!("{other:?}"),
    }
}
