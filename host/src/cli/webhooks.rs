//! `webhooks`: delivering the change feed's batches that are due, and listing those not
//! delivered yet, by delivery id and endpoint (no personal data).

use std::process::ExitCode;

use anyhow::Context;
use privacy_guard_host::guard::Guard;

pub(super) fn deliver(guard: &Guard, retry_failed: bool) -> anyhow::Result<ExitCode> {
    if retry_failed {
        let requeued = guard.retry_failed_webhooks()?;
        println!("{requeued} failed webhook batch(es) queued again");
    }
    if guard.webhooks().is_some() {
        let report = guard
            .deliver_webhooks()
            .context("webhook delivery stopped; the batches wait for their next attempt")?;
        println!(
            "delivered {} webhook batch(es); {} wait for another attempt, {} failed for good",
            report.delivered, report.deferred, report.failed
        );
    } else {
        println!(
            "no webhook is configured (--webhook-url, or `webhooks` of the tenant in the configuration file): nothing delivered"
        );
    }
    let time = |millis: i64| {
        chrono::DateTime::from_timestamp_millis(millis)
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let undelivered = guard.undelivered_webhooks()?;
    for delivery in &undelivered {
        let state = match delivery.failed_at {
            Some(at) => format!("failing since {}", time(at)),
            None if delivery.attempts == 0 => "queued".to_owned(),
            None => format!("next attempt {}", time(delivery.next_attempt_at)),
        };
        println!(
            "{}\t{}\tchanges after {} through {} ({})\t{state}\t{} attempt(s)\t{}",
            delivery.delivery_id,
            delivery.endpoint,
            delivery.after_sequence,
            delivery.through_sequence,
            delivery.changes,
            delivery.attempts,
            delivery.last_error.as_deref().unwrap_or("")
        );
    }
    let failing = undelivered
        .iter()
        .filter(|delivery| delivery.failed_at.is_some())
        .count();
    println!(
        "{} webhook batch(es) not delivered, {failing} failing{}",
        undelivered.len(),
        if failing > 0 {
            ": the endpoint gets no later change until it is fixed; then run `privacy-guard webhooks --retry-failed`"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
