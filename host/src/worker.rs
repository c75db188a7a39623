//! Background work of a serving host: the scheduler of the daily consent runs, the
//! delivery worker that sends queued mail and retries what failed, the webhook worker that
//! pushes the change feed, and the loop they run in.
//!
//! The scheduler and the delivery worker are one task each for all tenants, whatever
//! their number: each pass walks the tenants on one blocking thread and visits only those
//! with something to do, opening a closed tenant for the visit and closing it after, so a
//! host of ten thousand idle tenants neither runs ten thousand tasks nor keeps ten
//! thousand databases open. Each pass runs on a blocking thread (the
//! [`Guard`] API blocks) and uses the host's clock, so mail waiting for its next attempt
//! goes when that clock says so. Stopping lets the tenant in hand finish: no mail is left
//! half-recorded.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::clock::Clock;
use crate::guard::Guard;
use crate::tenants::{Tenant, Tenants};

/// How often the scheduler looks for tenants whose daily run may be due.
pub const SCHEDULE_TICK: Duration = Duration::from_secs(30);

/// How long the scheduler waits before checking again a tenant whose check failed.
const SCHEDULE_RETRY_MILLIS: i64 = 30_000;

/// How long a tenant opened on first use stays open after a request last used it.
pub const IDLE_TENANT: Duration = Duration::from_secs(120);

/// How often the delivery worker looks at a tenant that has no mail waiting and committed
/// none since (mail another process left in its outbox).
const DELIVERY_IDLE_SWEEP: Duration = Duration::from_secs(600);

/// Undelivered mail read to learn whether a tenant has mail waiting for an attempt.
const WAITING_MAIL_PROBE: u32 = 200;

/// Runs `pass` now and then every `every` until `stop` says `true` (or its sender is
/// gone). A pass in flight when the stop comes is finished first; passes never overlap.
pub async fn repeat_until_stopped<F>(every: Duration, stop: watch::Receiver<bool>, pass: F)
where
    F: Fn() + Clone + Send + 'static,
{
    repeat_until_stopped_or_woken::<(), F>(every, stop, None, pass).await
}

/// Runs an intake pass over `config`'s Maildir now and then every `poll_seconds` until
/// `stop` says so (the serving host's worker for a tenant with `[tenants.feedback]`). A
/// pass that fails is logged and the next one tries again.
pub async fn intake_periodically(
    guard: std::sync::Arc<crate::guard::Guard>,
    config: crate::guard::IntakeConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = std::time::Duration::from_secs(config.poll_seconds.max(1));
    repeat_until_stopped(every, stop, move || match crate::feedback::maildir::intake(
        &guard,
        &config.maildir,
        config.return_path.as_deref(),
        &|_, _| {},
    ) {
        Ok(counts) if counts.messages > 0 => {
            tracing::info!(?counts, "returned mail read");
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "the returned mail could not be read"),
    })
    .await
}

/// [`repeat_until_stopped`], also running `pass` whenever `wake` changes (a commit that
/// appended events, for the webhook worker).
pub async fn repeat_until_stopped_or_woken<W, F>(
    every: Duration,
    mut stop: watch::Receiver<bool>,
    mut wake: Option<watch::Receiver<W>>,
    pass: F,
) where
    F: Fn() + Clone + Send + 'static,
{
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let woken = async {
            match wake.as_mut() {
                Some(wake) => wake.changed().await.is_ok(),
                // No wake-up: this branch is disabled.
                None => false,
            }
        };
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
                continue;
            }
            true = woken => {}
            _ = interval.tick() => {}
        }
        // The pass keeps the caller's span (the tenant it works for) on its own thread.
        let span = tracing::Span::current();
        let pass = pass.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || span.in_scope(pass)).await {
            tracing::error!(%error, "a background pass failed");
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Delivers due mail every `every` until stopped: new mail that a commit could not
/// deliver, and mail whose wait after a failed attempt is over.
pub async fn deliver_periodically(guard: Arc<Guard>, every: Duration, stop: watch::Receiver<bool>) {
    tracing::info!(
        every_seconds = every.as_secs_f64(),
        "the delivery worker started"
    );
    repeat_until_stopped(every, stop, move || delivery_pass(&guard)).await;
    tracing::info!("the delivery worker stopped");
}

/// Delivers the change feed to the tenant's webhook endpoints until stopped: after every
/// commit that appended events, and every `every` for batches waiting after a failed
/// attempt. Passes never overlap; a pass in flight when the stop comes is finished.
pub async fn deliver_webhooks_periodically(
    guard: Arc<Guard>,
    every: Duration,
    stop: watch::Receiver<bool>,
) {
    tracing::info!(
        every_seconds = every.as_secs_f64(),
        "the webhook worker started"
    );
    // The guard holds the sender as long as this task holds the guard.
    let commits = guard.events_committed();
    let pass = move || match guard.deliver_webhooks() {
        Ok(report) if report == Default::default() => {}
        Ok(report) => tracing::debug!(
            delivered = report.delivered,
            deferred = report.deferred,
            failed = report.failed,
            "webhook pass"
        ),
        Err(error) => {
            tracing::warn!(%error, "webhook pass stopped; the batches wait for their next attempt")
        }
    };
    repeat_until_stopped_or_woken(every, stop, Some(commits), pass).await;
    tracing::info!("the webhook worker stopped");
}

/// Runs the daily consent run of every tenant when due, from one task. A tenant is checked
/// when the scheduler first sees it (a run missed while the host was down is made up for),
/// then not again before its next scheduled time by its guard's clock: a run cannot fall
/// due earlier, since enabling consents makes the first run due at the first scheduled
/// time after it. A failed check is retried after half a minute. A tenant nobody else
/// uses is closed again after its check. `first_visit` is called with each tenant at its
/// first check.
pub async fn run_schedules<V>(tenants: Arc<Tenants>, stop: watch::Receiver<bool>, first_visit: V)
where
    V: Fn(&Tenant, &Guard) + Send + Sync + 'static,
{
    tracing::info!(tenants = tenants.len(), "the scheduler started");
    // Per tenant (in `tenants.iter()` order): its clock and when to check next by it;
    // `None` before its first check.
    let next_checks = Arc::new(Mutex::new(vec![None::<(Clock, i64)>; tenants.len()]));
    let stopping = stop.clone();
    let first_visit = Arc::new(first_visit);
    repeat_until_stopped(SCHEDULE_TICK, stop, move || {
        let mut next_checks = next_checks.lock().unwrap_or_else(PoisonError::into_inner);
        for (tenant, next_check) in tenants.iter().zip(next_checks.iter_mut()) {
            if *stopping.borrow() {
                return;
            }
            if let Some((clock, at)) = next_check
                && clock.now_millis() < *at
            {
                continue;
            }
            let span = tracing::info_span!("tenant", tenant = %tenant.id);
            let _entered = span.enter();
            let guard = match tenant.guard.get_in_background() {
                Ok(guard) => guard,
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "the tenant could not be opened for its scheduled run; it is tried again at the next tick");
                    continue;
                }
            };
            if next_check.is_none() {
                first_visit(tenant, &guard);
            }
            *next_check = Some((guard.clock().clone(), check_schedule(&guard)));
            drop(guard);
            tenant.guard.close_if_unused(IDLE_TENANT);
        }
    })
    .await;
    tracing::info!("the scheduler stopped");
}

/// Runs `guard`'s daily consent run if due; returns when to check again (its clock's ms).
fn check_schedule(guard: &Guard) -> i64 {
    let now = guard.clock().now();
    match guard.run_due() {
        Ok(Some(report)) => {
            tracing::info!(period = %report.period, people = report.people, requests = report.requests, "daily consent run finished");
            guard.retention_after_daily_run(&report.period);
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the scheduled run failed; it is retried at the next tick");
            return now.timestamp_millis() + SCHEDULE_RETRY_MILLIS;
        }
    }
    guard.schedule().next_due_after(now).timestamp_millis()
}

/// What the delivery worker knows of one tenant.
#[derive(Debug, Default, Clone, Copy)]
struct DeliveryVisit {
    /// When its last pass ran; `None` before the first.
    last_pass: Option<Instant>,
    /// Whether its last pass left mail waiting for an attempt (or held by another process).
    waiting: bool,
}

/// Delivers due mail of every tenant, from one task, every `every`: of every open tenant
/// at every tick, as a host of one tenant always did; of a closed tenant once after the
/// start, then at every tick while its last pass left mail waiting for an attempt (or held
/// by another process), else every ten minutes (mail another process may have left),
/// opening it for the pass. After its pass a tenant no request used for [`IDLE_TENANT`]
/// is closed (a worker's visit is no use).
pub async fn deliver_all_periodically(
    tenants: Arc<Tenants>,
    every: Duration,
    stop: watch::Receiver<bool>,
) {
    tracing::info!(
        every_seconds = every.as_secs_f64(),
        tenants = tenants.len(),
        "the delivery worker started"
    );
    let visits = Arc::new(Mutex::new(vec![DeliveryVisit::default(); tenants.len()]));
    let stopping = stop.clone();
    repeat_until_stopped(every, stop, move || {
        let mut visits = visits.lock().unwrap_or_else(PoisonError::into_inner);
        for (tenant, visit) in tenants.iter().zip(visits.iter_mut()) {
            if *stopping.borrow() {
                return;
            }
            // Not `get`: a worker's look is no use that keeps the tenant open.
            let open = tenant.guard.if_open();
            let due = open.is_some()
                || visit.waiting
                || visit
                    .last_pass
                    .is_none_or(|last_pass| last_pass.elapsed() >= DELIVERY_IDLE_SWEEP);
            if !due {
                continue;
            }
            let span = tracing::info_span!("tenant", tenant = %tenant.id);
            let _entered = span.enter();
            let guard = match open.map_or_else(|| tenant.guard.get_in_background(), Ok) {
                Ok(guard) => guard,
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "the tenant could not be opened to deliver its mail; it is tried again at the next pass");
                    continue;
                }
            };
            visit.last_pass = Some(Instant::now());
            delivery_pass(&guard);
            visit.waiting = match guard.undelivered_mail(WAITING_MAIL_PROBE) {
                Ok(undelivered) => {
                    undelivered.len() == WAITING_MAIL_PROBE as usize
                        || undelivered.iter().any(|mail| mail.failed_at.is_none())
                }
                // Unknown: look again at the next tick.
                Err(error) => {
                    tracing::warn!(%error, "could not read the outbox; looking again at the next delivery pass");
                    true
                }
            };
            drop(guard);
            tenant.guard.close_if_unused(IDLE_TENANT);
        }
    })
    .await;
    tracing::info!("the delivery worker stopped");
}

/// One delivery pass of one guard, logged.
fn delivery_pass(guard: &Guard) {
    match guard.deliver_mail() {
        Ok(report) if report == Default::default() => {}
        Ok(report) => {
            tracing::info!(
                delivered = report.delivered,
                deferred = report.deferred,
                failed = report.failed,
                "delivery pass"
            )
        }
        // The outbox logged each mail's wait; this is the one line for the pass.
        Err(error) => {
            tracing::warn!(%error, "delivery pass stopped; the mail waits for its next attempt")
        }
    }
}
