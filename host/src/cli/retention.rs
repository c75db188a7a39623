//! `retention show` and `retention run`: the retention schedules' settings with their
//! reasons, and a run (or a dry run listing who would be erased, by record reference only).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use privacy_guard_host::contract::subjects::StaffActor;
use privacy_guard_host::guard::{Guard, RetentionItem, RetentionOutcome, RetentionRequest};
use privacy_guard_host::reports::parse_person_cursor;
use privacy_guard_host::retention::CLASSES;

#[derive(Subcommand, Debug)]
pub(super) enum RetentionCommand {
    /// Show how long each class keeps people, and why (set with --retention or the
    /// tenant's [tenants.retention]).
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Erase every person whose retention ran out, through the plugin's erasure (an event
    /// each, naming the schedule); with --dry-run, only list them.
    Run {
        /// List who would be erased (record, class, since when); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON: {"people": [...], "summary": {...}}.
        #[arg(long)]
        json: bool,
        /// Continue after this person (`module/id`, from a stopped run's `next`).
        #[arg(long)]
        after: Option<String>,
    },
}

pub(super) fn run(
    guard: &Guard,
    actor: impl FnOnce() -> anyhow::Result<StaffActor>,
    command: RetentionCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        RetentionCommand::Show { json } => show(guard, json),
        RetentionCommand::Run {
            dry_run,
            json,
            after,
        } => run_schedules(guard, &actor()?, dry_run, json, after.as_deref()),
    }
}

fn show(guard: &Guard, json: bool) -> anyhow::Result<ExitCode> {
    let settings = guard.retention_settings();
    if json {
        let classes: Vec<_> = CLASSES
            .iter()
            .map(|(class, default, reason)| {
                serde_json::json!({
                    "class": class,
                    "keep": settings.keep(*class),
                    "default": default,
                    "reason": reason,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "classes": classes }));
        return Ok(ExitCode::SUCCESS);
    }
    for (class, default, reason) in CLASSES {
        let keep = settings.keep(class);
        let note = if keep == default {
            "the default".to_owned()
        } else {
            format!("default {default}")
        };
        println!("{class:<11} {keep} ({note})\n            {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

fn item_line(item: &RetentionItem) -> String {
    let outcome = match item.outcome {
        RetentionOutcome::WouldErase => "would be erased",
        RetentionOutcome::Erased => "erased",
        RetentionOutcome::Refused => "refused",
    };
    let detail = item
        .detail
        .as_deref()
        .map(|detail| format!("\t{detail}"))
        .unwrap_or_default();
    format!(
        "{}/{}\t{}\tsince {}\tdue {}\t{outcome}{detail}",
        item.module, item.id, item.class, item.since, item.due_at
    )
}

fn run_schedules(
    guard: &Guard,
    actor: &StaffActor,
    dry_run: bool,
    json: bool,
    after: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let after = after.map(parse_person_cursor).transpose()?;
    let settings = guard.retention_settings();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} people, {per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(if dry_run {
        "retention dry run"
    } else {
        "retention"
    });
    bar.enable_steady_tick(Duration::from_millis(120));
    let request = RetentionRequest {
        dry_run,
        after,
        limit: None,
        run_by: format!("operator {}", actor.name),
    };
    // Streamed: each person is written as they are handled, never all held.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed: Option<std::io::Error> = None;
    let mut first = true;
    if json {
        write!(out, "{{\"people\":[").context("writing the output")?;
    }
    let summary = guard.run_retention(
        &settings,
        &request,
        &mut |item| {
            let written = if json {
                let separator = if std::mem::take(&mut first) { "" } else { "," };
                serde_json::to_string(item)
                    .map_err(std::io::Error::other)
                    .and_then(|text| write!(out, "{separator}{text}"))
            } else {
                bar.suspend(|| writeln!(out, "{}", item_line(item)))
            };
            if let Err(error) = written {
                failed.get_or_insert(error);
            }
        },
        &|looked_at, total| {
            bar.set_length(total);
            bar.set_position(looked_at);
        },
    )?;
    bar.finish_and_clear();
    if let Some(error) = failed {
        return Err(error).context("writing the output");
    }
    let due: u64 = summary.due.values().sum();
    if json {
        writeln!(
            out,
            "],\"summary\":{}}}",
            serde_json::to_string(&summary).context("writing the summary")?
        )?;
    } else if dry_run {
        writeln!(
            out,
            "dry run at {}: {due} of {} people would be erased; nothing was changed",
            summary.now, summary.people
        )?;
    } else {
        writeln!(
            out,
            "retention at {}: {} of {} people erased (an event each, naming the schedule), {} refused",
            summary.now, summary.erased, summary.people, summary.refused
        )?;
    }
    out.flush()?;
    drop(out);
    if let Some(why) = &summary.stopped {
        eprintln!(
            "stopped: {why}{}",
            summary
                .next
                .as_ref()
                .map(|next| format!(" (run again with --after {next})"))
                .unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    }
    if settings.all_off() {
        eprintln!("every retention class is off: nobody is erased by the schedule");
    }
    Ok(ExitCode::SUCCESS)
}
