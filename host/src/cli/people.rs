//! The commands about people: `import`, `edit`, `show`, `link`, `record-decision`,
//! `restrict`, `lift-restriction`, `erase`, and the daily consent run (`run-daily`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use privacy_guard_host::contract::subjects::{PersonStatus, StaffActor};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::{DueRun, EditRejection, Guard};
use privacy_guard_host::wire::Wire;

use super::output::{list_or_none, record_error};

/// Exit code of an edit the plugin refused.
const EDIT_REFUSED: u8 = 4;

pub(super) fn import(guard: &Guard, module: &str, file: &PathBuf) -> anyhow::Result<ExitCode> {
    let not_imported = || format!("{} was not imported (nothing was changed)", file.display());
    let input =
        std::fs::File::open(file).with_context(|| format!("could not open {}", file.display()))?;
    let size = input
        .metadata()
        .with_context(|| format!("could not read the size of {}", file.display()))?
        .len();
    // The bar follows the bytes read (the rows are not counted before importing them):
    // its rate and time left hold for any file; the message counts the records.
    let bar = ProgressBar::new(size)
        .with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {percent}% of {total_bytes}, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
        .with_message("importing");
    let records =
        privacy_guard_host::import::records(bar.wrap_read(input)).with_context(not_imported)?;
    let started = std::time::Instant::now();
    let imported = std::cell::Cell::new(0_u64);
    let report = guard
        .import_stream(module, records, &|done| {
            imported.set(imported.get() + done);
            let per_second = imported.get() as f64 / started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "importing: {} records ({per_second:.0}/s)",
                imported.get()
            ));
        })
        .with_context(not_imported)?;
    bar.finish_and_clear();
    println!(
        "imported {}: {} created, {} updated, {} consent value(s) changed",
        file.display(),
        report.created,
        report.updated,
        report.consents_changed
    );
    if !report.ignored_fields.is_empty() {
        println!(
            "not imported (removed from the {module} layout): {}",
            report.ignored_fields.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--set FIELD=VALUE` options as (field, value) pairs.
pub(super) fn field_assignments(set: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    set.iter()
        .map(|assignment| match assignment.split_once('=') {
            Some((field, value)) if !field.trim().is_empty() => {
                Ok((field.trim().to_owned(), value.to_owned()))
            }
            _ => bail!("--set `{assignment}` must be FIELD=VALUE"),
        })
        .collect()
}

pub(super) fn edit(guard: &Guard, person: &str, set: &[String]) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    let changes = field_assignments(set)?;
    match guard.edit_record(&person, &changes)? {
        Ok(summary) => {
            println!(
                "saved {}/{}; {} consent value(s) changed",
                person.module, person.id, summary.consents_changed
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(EditRejection::NotFound) => bail!("no record {}/{}", person.module, person.id),
        Err(EditRejection::Refused(refusals)) => {
            eprintln!("not saved: Privacy Guard refuses this edit");
            for refusal in &refusals {
                eprintln!("  - {}", refusal.detail);
            }
            Ok(ExitCode::from(EDIT_REFUSED))
        }
    }
}

/// Prints a person's freshly signed preferences link.
pub(super) fn preferences_link(
    guard: &Guard,
    person: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    match guard.preferences_link(&person)? {
        Ok(link) if json => println!(
            "{}",
            serde_json::json!({ "person": format!("{}/{}", person.module, person.id), "link": link })
        ),
        Ok(link) => println!("{link}"),
        Err(error) => bail!("no link: {}", record_error(&error)),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_daily(guard: &Guard, period: Option<String>) -> anyhow::Result<ExitCode> {
    let period = match (period, guard.due_run()?) {
        (Some(period), _) => period,
        (None, DueRun::Period(period)) => period,
        (None, DueRun::NotEnabled) => bail!(
            "consents are not enabled: configure the sender and consents, then run `privacy-guard enable --confirm-deduplication`"
        ),
        (None, DueRun::NotYet { first }) => {
            println!(
                "nothing to run yet: the first daily consent run is at {} (the first scheduled time after consents were enabled); nothing was sent",
                first.with_timezone(&guard.schedule().zone).to_rfc3339()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    // A bar when the people left are counted cheaply (the records of the person modules,
    // less those a resumed run has seen): at most that many, so it may end early; a
    // spinner with the rate when there is nobody to count.
    let people_left = guard.daily_run_people_left(&period)?;
    let bar = if people_left > 0 {
        ProgressBar::new(people_left).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} people, {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_message(format!("daily consent run {period}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = std::time::Instant::now();
    let report = guard.run_daily(&period, &|report| {
        bar.set_position(report.people);
        let per_second = report.people as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "daily consent run {}: {} requests ({per_second:.0} people/s)",
            report.period, report.requests
        ));
    })?;
    bar.finish_and_clear();
    if report.ran {
        println!(
            "daily consent run {}: {} people seen, {} request(s) sent, {} mail(s) delivered",
            report.period, report.people, report.requests, report.mail.delivered
        );
    } else {
        println!(
            "daily consent run {}: already done, nothing sent",
            report.period
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn parse_person(text: &str) -> anyhow::Result<RecordRef> {
    match text.split_once('/') {
        Some((module, id)) if !module.is_empty() && !id.is_empty() => Ok(RecordRef {
            module: module.to_owned(),
            id: id.to_owned(),
        }),
        _ => bail!("`{text}` is not a record: write MODULE/ID, e.g. contacts/42"),
    }
}

pub(super) fn show(guard: &Guard, person: &str, history: bool) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    let Some(subject) = guard.subject(&person)? else {
        bail!(
            "no consents are known for {}/{}: is it imported, and does its module have consents?",
            person.module,
            person.id
        );
    };
    let status = match subject.status {
        PersonStatus::Restricted => "restricted (processing stopped)",
        other => other.text(),
    };
    println!(
        "{}/{} <{}> {status}\tregime {}\tlanguage {}",
        subject.person.module,
        subject.person.id,
        subject.address,
        subject.regime.text(),
        subject.language
    );
    for consent in &subject.consents {
        let since = chrono::DateTime::from_timestamp_millis(consent.since)
            .map(|at| at.to_rfc3339())
            .unwrap_or_default();
        println!(
            "  {}\t{}\tsince {}\t(purpose v{})",
            consent.consent_id,
            consent.value.text(),
            since,
            consent.purpose_version
        );
    }
    if history {
        for event in guard.history(&person)? {
            println!("{event}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn record_decision(
    guard: &Guard,
    actor: &StaffActor,
    person: &str,
    consent: &str,
    grant: bool,
    evidence: &str,
) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    match guard.record_decision(&person, consent, grant, actor, evidence)? {
        Ok(_) => {
            println!(
                "recorded: {}/{} {} `{consent}`",
                person.module,
                person.id,
                if grant { "granted" } else { "refused" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => bail!("not recorded: {}", record_error(&error)),
    }
}

pub(super) fn restrict(
    guard: &Guard,
    actor: &StaffActor,
    person: &str,
    reason: &str,
) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    match guard.restrict(&person, actor, reason)? {
        Ok(_) => println!(
            "processing restricted: {}/{} (record locked)",
            person.module, person.id
        ),
        Err(error) => bail!("not restricted: {}", record_error(&error)),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn lift_restriction(
    guard: &Guard,
    actor: &StaffActor,
    person: &str,
    reason: &str,
) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    match guard.lift_restriction(&person, actor, reason)? {
        Ok(_) => println!(
            "restriction lifted: {}/{} (record unlocked, the person was told by mail)",
            person.module, person.id
        ),
        Err(error) => bail!("not lifted: {}", record_error(&error)),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn erase(
    guard: &Guard,
    actor: &StaffActor,
    person: &str,
    evidence: &str,
) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    match guard.erase(&person, actor, evidence)? {
        Ok(report) => println!(
            "erased: {}/{}; fields emptied: {}; fields retained (legal obligation): {}",
            person.module,
            person.id,
            list_or_none(&report.erased_fields),
            list_or_none(&report.retained_fields)
        ),
        Err(error) => bail!("not erased: {}", record_error(&error)),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn ask_again(
    guard: &Guard,
    actor: &StaffActor,
    person: Option<&str>,
    module: Option<&str>,
    consent: Option<&str>,
) -> anyhow::Result<ExitCode> {
    match (person, module) {
        (Some(person), _) => {
            let person = parse_person(person)?;
            match guard.ask_again(&person, actor)? {
                Ok(true) => println!(
                    "{}/{} is asked again at the next daily consent run",
                    person.module, person.id
                ),
                Ok(false) => println!(
                    "{}/{} has answered every consent: nothing to ask",
                    person.module, person.id
                ),
                Err(error) => bail!("not asked again: {}", record_error(&error)),
            }
        }
        (None, Some(module)) => {
            let asked = guard.ask_again_all(module, consent, actor)?;
            println!("{asked} person(s) of {module} are asked again at the next daily consent run");
        }
        (None, None) => bail!("name a person (MODULE/ID) or --module"),
    }
    Ok(ExitCode::SUCCESS)
}
