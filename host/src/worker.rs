//! Background work of a serving host: the delivery worker that sends queued mail and
//! retries what failed, the webhook worker that pushes the change feed, and the loop the
//! mail worker and the scheduler run in.
//!
//! Each pass runs on a blocking thread (the [`Guard`] API blocks) and uses the host's
//! clock, so mail waiting for its next attempt goes when that clock says so. Stopping lets
//! a pass in flight finish: no mail is left half-recorded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::guard::Guard;

/// Runs `pass` now and then every `every` until `stop` says `true` (or its sender is
/// gone). A pass in flight when the stop comes is finished first; passes never overlap.
pub async fn repeat_until_stopped<F>(every: Duration, stop: watch::Receiver<bool>, pass: F)
where
    F: Fn() + Clone + Send + 'static,
{
    repeat_until_stopped_or_woken::<(), F>(every, stop, None, pass).await
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
    repeat_until_stopped(every, stop, move || match guard.deliver_mail() {
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
    })
    .await;
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
