//! The daily consent run: which period is due, and running it page by page.

use super::{Guard, GuardError};
use crate::contract::jobs::JobError;
use crate::mail::DeliveryReport;
use crate::schedule::{DAILY_CONSENT_RUN, period_key};
use crate::storage::{JobProgress, UnitOfWork};

/// People handled per page of the daily run; each page commits on its own, in one
/// transaction, and then its mail is delivered. Large pages make the run's fixed costs
/// per page (a call into the plugin, a commit, a claim and a sync of the outbox) small
/// against a page's work; the CRM's `list-records` gives at most 1,000 records a call.
pub const DAILY_RUN_PAGE: u32 = 1000;

/// Which daily consent run is due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueRun {
    /// Consents are not enabled: no run is due.
    NotEnabled,
    /// Consents are enabled, but their first scheduled run has not come yet.
    NotYet {
        first: chrono::DateTime<chrono::Utc>,
    },
    /// The run of this period (`YYYY-MM-DD`) is due (it may have run already).
    Period(String),
}

/// What a daily run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub period: String,
    /// False when the period had already been run to the end: nothing was done.
    pub ran: bool,
    pub people: u64,
    pub requests: u64,
    pub mail: DeliveryReport,
}

impl Guard {
    /// Runs the daily consent run for `period` (`YYYY-MM-DD`) to its end, page by page;
    /// each page commits with its progress, so an interrupted run resumes where it stopped
    /// (in this process or another) and never sends twice. A finished period does nothing.
    pub fn run_daily(
        &self,
        period: &str,
        progress: &dyn Fn(&RunReport),
    ) -> Result<RunReport, GuardError> {
        let mut report = RunReport {
            period: period.to_owned(),
            ..RunReport::default()
        };
        let outcome = self.run_daily_pages(period, &mut report, progress);
        // Values the run erased (fields whose consent went waiting under default no) are
        // purged once, at the end, whether or not it finished.
        let purged = self.purge_erased_values();
        if report.ran {
            tracing::info!(
                period,
                people = report.people,
                requests = report.requests,
                complete = outcome.is_ok(),
                "daily consent run"
            );
        }
        if report.ran && outcome.is_ok() {
            self.checkpoint_after_daily_run();
        }
        outcome.and(purged).map(|()| report)
    }

    fn run_daily_pages(
        &self,
        period: &str,
        report: &mut RunReport,
        progress: &dyn Fn(&RunReport),
    ) -> Result<(), GuardError> {
        loop {
            let (page, delivered) = self.unit_deferring_purge(|| {
                let recorded = self.block_on(self.database().job_run(DAILY_CONSENT_RUN, period))?;
                let (people, requests, cursor) = match recorded {
                    Some(run) if run.finished => return Ok((None, UnitOfWork::default())),
                    Some(run) => (run.people, run.requests, run.cursor),
                    None => (0, 0, None),
                };
                let (page, mut work) =
                    self.runtime
                        .with_instance(UnitOfWork::default(), |store, plugin| {
                            plugin.privacy_guard_consent_jobs().call_daily_consent_run(
                                store,
                                period,
                                cursor.as_deref(),
                                DAILY_RUN_PAGE,
                            )
                        })?;
                let page = page.map_err(job_refusal)?;
                let finished = page.next_cursor.is_none();
                work.job_progress = Some(JobProgress {
                    job: DAILY_CONSENT_RUN.into(),
                    period: period.to_owned(),
                    cursor: page.next_cursor.clone(),
                    finished,
                    people: people + u64::from(page.people),
                    requests: requests + u64::from(page.requests_sent),
                });
                Ok((Some((page, finished)), work))
            })?;
            let Some((page, finished)) = page else {
                return Ok(());
            };
            report.ran = true;
            report.people += u64::from(page.people);
            report.requests += u64::from(page.requests_sent);
            report.mail.add(delivered);
            progress(report);
            if finished {
                return Ok(());
            }
        }
    }

    /// At most how many people the run of `period` has still to see, counted cheaply
    /// for a progress bar: the records of the person modules (the run sees those of the
    /// modules with consents), less those the run has seen already when it resumes.
    pub fn daily_run_people_left(&self, period: &str) -> Result<u64, GuardError> {
        let mut people: u64 = 0;
        for module in &self.configuration()?.person_modules {
            people += self.block_on(self.database().record_count(module))?;
        }
        let seen = self
            .block_on(self.database().job_run(DAILY_CONSENT_RUN, period))?
            .map_or(0, |run| if run.finished { people } else { run.people });
        Ok(people.saturating_sub(seen))
    }

    /// Which period of the daily consent run is due now. Before consents are enabled none
    /// is; the first period due is the first whose scheduled time comes at or after
    /// enabling, never one whose time had passed before (enabling at 09:00 mails at 10:00
    /// that day; enabling at 10:30, at 10:00 the next day).
    pub fn due_run(&self) -> Result<DueRun, GuardError> {
        let configuration = self.configuration()?;
        let Some(enabled_at) = configuration.enabled_at.filter(|_| configuration.enabled) else {
            return Ok(DueRun::NotEnabled);
        };
        let due_period = self.schedule.due_period(self.clock().now());
        let due_at = self.schedule.due_at(due_period);
        if due_at.timestamp_millis() < enabled_at {
            let enabled = chrono::DateTime::from_timestamp_millis(enabled_at).unwrap_or(due_at);
            let first = match self.schedule.due_at(self.schedule.due_period(enabled)) {
                at if at.timestamp_millis() >= enabled_at => at,
                _ => self.schedule.next_due_after(enabled),
            };
            return Ok(DueRun::NotYet { first });
        }
        Ok(DueRun::Period(period_key(due_period)))
    }

    /// Runs the daily consent run if its current period has not run yet. Returns `None`
    /// when nothing was due (see [`Guard::due_run`]).
    pub fn run_due(&self) -> Result<Option<RunReport>, GuardError> {
        let DueRun::Period(period) = self.due_run()? else {
            return Ok(None);
        };
        let report = self.run_daily(&period, &|_| {})?;
        Ok(report.ran.then_some(report))
    }
}

fn job_refusal(error: JobError) -> GuardError {
    GuardError::Job(match error {
        JobError::NotEnabled => "consents are not enabled: configure the sender and consents, then run `privacy-guard enable --confirm-deduplication`".into(),
        JobError::InvalidPeriod(period) => format!("`{period}` is not a period: use YYYY-MM-DD"),
    })
}
