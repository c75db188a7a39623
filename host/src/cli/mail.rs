//! `deliver` and `outbox`: the queued mail.

use std::process::ExitCode;

use anyhow::Context;
use privacy_guard_host::guard::Guard;

pub(super) fn deliver(guard: &Guard, retry_failed: bool) -> anyhow::Result<ExitCode> {
    if retry_failed {
        let requeued = guard.retry_failed_mail()?;
        println!("{requeued} failed message(s) queued again");
    }
    let report = guard
        .deliver_mail()
        .context("mail delivery stopped; the mail stays queued (see `privacy-guard outbox`)")?;
    println!(
        "delivered {} message(s); {} could not be delivered and wait for another attempt, {} failed for good",
        report.delivered, report.deferred, report.failed
    );
    let undelivered = guard.undelivered_mail(1)?;
    if !undelivered.is_empty() {
        println!("mail is still queued: see `privacy-guard outbox`");
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the mail not delivered yet, by message id (no addresses), and who holds the mail
/// a delivery pass claimed: host name, process id, and until when.
pub(super) fn list_outbox(guard: &Guard) -> anyhow::Result<ExitCode> {
    const SHOWN: u32 = 1000;
    let undelivered = guard.undelivered_mail(SHOWN)?;
    let time = |millis: i64| {
        chrono::DateTime::from_timestamp_millis(millis)
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let now = guard.clock().now_millis();
    let mut held = 0;
    for mail in &undelivered {
        let mut state = match mail.failed_at {
            Some(at) => format!("failed {}", time(at)),
            None if mail.attempts == 0 => "queued".to_owned(),
            None => format!("next attempt {}", time(mail.next_attempt_at)),
        };
        if let Some(claim) = mail.claim.as_ref().filter(|claim| claim.until >= now) {
            held += 1;
            let holder = &claim.holder;
            state.push_str(&format!(
                ", held by {} pid {} until {}",
                holder.host.as_deref().unwrap_or("an unknown host"),
                holder
                    .pid
                    .map_or_else(|| "unknown".to_owned(), |pid| pid.to_string()),
                time(claim.until)
            ));
        }
        println!(
            "{}\t{state}\t{} attempt(s)\t{}",
            mail.message_id,
            mail.attempts,
            mail.last_error.as_deref().unwrap_or("")
        );
    }
    let failed = undelivered
        .iter()
        .filter(|mail| mail.failed_at.is_some())
        .count();
    println!(
        "{} message(s) not delivered{}, {failed} failed{}{}",
        undelivered.len(),
        if undelivered.len() == SHOWN as usize {
            " (the oldest shown)"
        } else {
            ""
        },
        if held > 0 {
            format!(
                ", {held} held by a delivery pass (a pass on the same host takes over those of a process that is gone; others wait for the claim to lapse)"
            )
        } else {
            String::new()
        },
        if failed > 0 {
            ": fix the cause, then run `privacy-guard deliver --retry-failed`"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
