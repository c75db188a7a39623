//! `report`, `people list`, `bulk` and `register`: the data-protection officer's counts,
//! lists and bulk staff actions (read from the event log), and the record of processing.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use privacy_guard_host::contract::subjects::StaffActor;
use privacy_guard_host::guard::{BulkAction, BulkOutcome, Guard, PEOPLE_PAGE_LIMIT};
use privacy_guard_host::reports::{
    ConsentReport, PeopleFilter, PeopleSelection, Period, ReportWindow, Tally, parse_person_cursor,
};

/// Which people: by consent value, status and module (all when left out).
#[derive(Args, Debug, Clone)]
pub(super) struct FilterArgs {
    /// People who hold this consent (with --value, that value of it).
    #[arg(long)]
    consent: Option<String>,
    /// The consent's value: granted, granted-outdated (granted to a text changed
    /// materially since), not-granted, waiting, applicable, not-applicable.
    #[arg(long, requires = "consent")]
    value: Option<String>,
    /// The person's status: active, restricted, erased, duplicate.
    #[arg(long)]
    status: Option<String>,
    /// The CRM module (contacts, leads, …).
    #[arg(long)]
    module: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> anyhow::Result<PeopleFilter> {
        Ok(PeopleFilter::new(
            self.consent.as_deref(),
            self.value.as_deref(),
            self.status.as_deref(),
            self.module.as_deref(),
        )?)
    }
}

/// `people …`.
#[derive(Subcommand, Debug)]
pub(super) enum PeopleCommand {
    /// A page of the people matching a filter, in (module, id) order, read from the event
    /// log: each with their status and consent values.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// People per page (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this person (`module/id`: the `next` the page before printed).
        #[arg(long)]
        after: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// `bulk …`: a staff action for every person matching a filter, each person getting their
/// own event naming --actor.
#[derive(Subcommand, Debug)]
pub(super) enum BulkCommand {
    /// Record the same decision obtained elsewhere (a signed list, a fair) for each person.
    RecordDecision {
        #[command(flatten)]
        filter: FilterArgs,
        /// The consent decided (the filter's --consent when left out).
        #[arg(long = "decide")]
        decided_consent: Option<String>,
        /// Record a grant.
        #[arg(long, conflicts_with = "refuse", required_unless_present = "refuse")]
        grant: bool,
        /// Record a refusal.
        #[arg(long)]
        refuse: bool,
        /// Where the decisions come from; recorded with each person's event.
        #[arg(long)]
        evidence: String,
        #[command(flatten)]
        run: BulkRunArgs,
    },
    /// Restrict processing (Art. 18) of each person.
    Restrict {
        #[command(flatten)]
        filter: FilterArgs,
        /// Why; recorded with each person's event.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        run: BulkRunArgs,
    },
    /// Ask each person again at the next daily run.
    AskAgain {
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        run: BulkRunArgs,
    },
}

#[derive(Args, Debug, Clone)]
pub(super) struct BulkRunArgs {
    /// List who would be acted on, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Start after this person (`module/id`), e.g. to continue after a stop.
    #[arg(long)]
    after: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// The register's written forms.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub(super) enum RegisterFormat {
    Markdown,
    Csv,
    Json,
}

pub(super) fn report(
    guard: &Guard,
    json: bool,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    period: &str,
) -> anyhow::Result<ExitCode> {
    let period = Period::parse(period)
        .with_context(|| format!("--period `{period}`: use day, week or month"))?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        anyhow::bail!("--from {from} is after --to {to}: give the first day, then the last");
    }
    let report = guard.consent_report(&ReportWindow { from, to, period })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report_text(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn tally_text(tally: &Tally, indent: &str) -> String {
    let mut text = String::new();
    let statuses: Vec<String> = tally
        .statuses
        .iter()
        .map(|(status, count)| format!("{status} {count}"))
        .collect();
    text.push_str(&format!(
        "{indent}people: {} ({})\n",
        tally.people,
        if statuses.is_empty() {
            "none".to_owned()
        } else {
            statuses.join(", ")
        }
    ));
    for (consent, values) in &tally.consents {
        let values: Vec<String> = values
            .iter()
            .map(|(value, count)| format!("{value} {count}"))
            .collect();
        text.push_str(&format!(
            "{indent}consent {consent}: {}\n",
            values.join(", ")
        ));
    }
    text
}

fn report_text(report: &ConsentReport) -> String {
    let mut text = match report.to {
        Some(to) => format!(
            "at the end of {to} (event log through {}):\n",
            report.through_sequence
        ),
        None => format!("now (event log through {}):\n", report.through_sequence),
    };
    text.push_str(&tally_text(&report.totals, "  "));
    if report.periods.is_empty() {
        text.push_str("no changes in the period asked for\n");
    }
    for period in &report.periods {
        let changes: Vec<String> = period
            .changes
            .iter()
            .flat_map(|(kind, by_consent)| {
                by_consent.iter().map(move |(consent, count)| {
                    if consent.is_empty() {
                        format!("{kind} {count}")
                    } else {
                        format!("{kind} {consent} {count}")
                    }
                })
            })
            .collect();
        text.push_str(&format!("{}: {}\n", period.period, changes.join(", ")));
        text.push_str(&tally_text(&period.at_end, "  "));
    }
    text
}

pub(super) fn people(guard: &Guard, command: PeopleCommand) -> anyhow::Result<ExitCode> {
    let PeopleCommand::List {
        filter,
        limit,
        after,
        json,
    } = command;
    if !(1..=PEOPLE_PAGE_LIMIT).contains(&limit) {
        anyhow::bail!("--limit {limit}: give 1 to {PEOPLE_PAGE_LIMIT} people per page");
    }
    let after = after.as_deref().map(parse_person_cursor).transpose()?;
    let page = guard.people_page(&filter.filter()?, after.as_ref(), limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(ExitCode::SUCCESS);
    }
    for person in &page.people {
        let consents: Vec<String> = person
            .consents
            .iter()
            .map(|(consent, value)| format!("{consent}={value}"))
            .collect();
        println!(
            "{}/{}\t{}\t{}",
            person.module,
            person.id,
            person.status,
            consents.join(" ")
        );
    }
    match &page.next {
        Some(next) => println!(
            "{} of {} matching; next page: --after {next}",
            page.people.len(),
            page.matching
        ),
        None => println!(
            "{} of {} matching; the last page",
            page.people.len(),
            page.matching
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn bulk(
    guard: &Guard,
    actor: &StaffActor,
    command: BulkCommand,
) -> anyhow::Result<ExitCode> {
    let (filter, action, run) = match command {
        BulkCommand::RecordDecision {
            filter,
            decided_consent,
            grant,
            refuse: _,
            evidence,
            run,
        } => {
            let consent_id = decided_consent
                .or_else(|| filter.consent.clone())
                .context("name the consent decided with --decide ID (or the filter's --consent)")?;
            let action = BulkAction::RecordDecision {
                consent_id,
                grant,
                evidence,
            };
            (filter, action, run)
        }
        BulkCommand::Restrict {
            filter,
            reason,
            run,
        } => (filter, BulkAction::Restrict { reason }, run),
        BulkCommand::AskAgain { filter, run } => (filter, BulkAction::AskAgain, run),
    };
    let filter = filter.filter()?;
    let after = run.after.as_deref().map(parse_person_cursor).transpose()?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} people, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("bulk {}", action.name()));
    bar.enable_steady_tick(Duration::from_millis(120));
    // Every person of the filter, read from the log once, then acted on one by one.
    let selection = PeopleSelection {
        filter,
        after,
        limit: usize::MAX,
    };
    let page = guard.bulk_action(&action, &selection, actor, run.dry_run, &|count, total| {
        bar.set_length(total);
        bar.set_position(count);
    })?;
    for item in page
        .people
        .iter()
        .filter(|item| item.outcome != BulkOutcome::Done)
    {
        let outcome = serde_json::to_value(item.outcome)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        let detail = item
            .detail
            .as_deref()
            .map(|detail| format!("\t{detail}"))
            .unwrap_or_default();
        println!("{}/{}\t{outcome}{detail}", item.module, item.id);
    }
    let gone_through = page.people.len() as u64;
    let (done, unchanged, refused) = (page.done, page.unchanged, page.refused);
    let stopped = page.stopped.map(|why| (why, page.next));
    bar.finish_and_clear();
    let summary = serde_json::json!({
        "action": action.name(),
        "dry_run": run.dry_run,
        "people": gone_through,
        "done": done,
        "unchanged": unchanged,
        "refused": refused,
        "stopped": stopped.as_ref().map(|(why, _)| why),
        "continue_after": stopped.as_ref().and_then(|(_, next)| next.clone()),
    });
    if run.json {
        println!("{summary}");
    } else if run.dry_run {
        println!(
            "dry run of bulk {}: {gone_through} people would be acted on, as {}; nothing was changed",
            action.name(),
            actor.name
        );
    } else {
        println!(
            "bulk {} as {}: {gone_through} people gone through, {done} done (an event each), {unchanged} unchanged, {refused} refused",
            action.name(),
            actor.name
        );
    }
    match stopped {
        Some((why, next)) => {
            eprintln!(
                "stopped: {why}{}",
                next.map(|next| format!(" (run again with --after {next})"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

pub(super) fn register(guard: &Guard, format: RegisterFormat) -> anyhow::Result<ExitCode> {
    let register = guard.processing_register()?;
    match format {
        RegisterFormat::Markdown => print!("{}", register.to_markdown()),
        RegisterFormat::Csv => print!("{}", register.to_csv()?),
        RegisterFormat::Json => println!("{}", serde_json::to_string_pretty(&register)?),
    }
    Ok(ExitCode::SUCCESS)
}
