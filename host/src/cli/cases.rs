//! The data-protection officer's commands: `case` (rights requests on the legal clock:
//! open, verify, resend-code, extend, complete, refuse, withdraw, show, list) and `export`
//! (everything held about a person, JSON or CSV). Every date follows the host's clock, so
//! the global `--now` moves them all.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Subcommand, ValueEnum};
use privacy_guard_host::cases::{Case, CaseKind, CaseStatus, Closing, Regime, utc_date};
use privacy_guard_host::contract::subjects::StaffActor;
use privacy_guard_host::guard::{CaseListFilter, CaseRefusal, CaseRequest, Completion, Guard};

use super::people::parse_person;

/// Exit code of a case operation that was refused (nothing changed, or only a wrong code
/// counted).
const CASE_REFUSED: u8 = 4;

#[derive(Debug, Subcommand)]
pub(super) enum CaseCommand {
    /// Record a rights request and mail the identity code to the address on record, e.g.
    /// `case open contacts/42 --kind access`.
    Open {
        /// The person, MODULE/ID.
        person: String,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Whose clock the case runs on.
        #[arg(long, value_enum, default_value_t = RegimeArg::Gdpr)]
        regime: RegimeArg,
        /// The day the request arrived (YYYY-MM-DD, UTC) [default: today].
        #[arg(long)]
        received: Option<NaiveDate>,
        #[arg(long)]
        json: bool,
    },
    /// Enter the code the person read back (wrong codes are counted; five void the code).
    Verify {
        id: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        json: bool,
    },
    /// Mail a new identity code (the last one stops working).
    ResendCode {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Extend the deadline once (GDPR two months, CCPA 45 days; not LGPD), within the
    /// first period; the person is mailed the reason and the new date.
    Extend {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Carry the request out and close the case: access and portability write the export
    /// (--output), erasure, restriction and objection act through the plugin,
    /// rectification saves the corrections (--set).
    Complete {
        id: String,
        /// What was done (recorded).
        #[arg(long, default_value = "")]
        note: String,
        /// A rectification's correction, FIELD=VALUE; repeatable.
        #[arg(long)]
        set: Vec<String>,
        /// Where to write the export of an access or portability case [default: standard output].
        #[arg(long)]
        output: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = FormatArg::Json)]
        format: FormatArg,
    },
    /// Refuse the request, with the reason (recorded).
    Refuse {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Close the case because the person withdrew the request.
    Withdraw {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a case and its events.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List cases, soonest due first: all, or the overdue, or those due soon.
    List {
        /// Only open cases past their deadline.
        #[arg(long, conflicts_with = "due_soon")]
        overdue: bool,
        /// Only open cases due today or within --within days after it.
        #[arg(long)]
        due_soon: bool,
        /// Days ahead for --due-soon, e.g. 7 or 7d.
        #[arg(long, default_value = "7d", value_parser = days)]
        within: u32,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only the cases of this person, MODULE/ID.
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum KindArg {
    Access,
    Portability,
    Rectification,
    Erasure,
    Restriction,
    Objection,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum RegimeArg {
    Gdpr,
    Ccpa,
    Lgpd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum StatusArg {
    IdentityPending,
    IdentityVerified,
    Completed,
    Refused,
    Withdrawn,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum FormatArg {
    Json,
    Csv,
}

fn days(text: &str) -> Result<u32, String> {
    text.trim_end_matches('d')
        .parse::<u32>()
        .ok()
        .filter(|days| *days <= 3660)
        .ok_or_else(|| format!("`{text}` is not a number of days (e.g. 7 or 7d, at most 3660)"))
}

impl From<KindArg> for CaseKind {
    fn from(kind: KindArg) -> CaseKind {
        match kind {
            KindArg::Access => CaseKind::Access,
            KindArg::Portability => CaseKind::Portability,
            KindArg::Rectification => CaseKind::Rectification,
            KindArg::Erasure => CaseKind::Erasure,
            KindArg::Restriction => CaseKind::Restriction,
            KindArg::Objection => CaseKind::Objection,
        }
    }
}

impl From<RegimeArg> for Regime {
    fn from(regime: RegimeArg) -> Regime {
        match regime {
            RegimeArg::Gdpr => Regime::Gdpr,
            RegimeArg::Ccpa => Regime::Ccpa,
            RegimeArg::Lgpd => Regime::Lgpd,
        }
    }
}

impl From<StatusArg> for CaseStatus {
    fn from(status: StatusArg) -> CaseStatus {
        match status {
            StatusArg::IdentityPending => CaseStatus::IdentityPending,
            StatusArg::IdentityVerified => CaseStatus::IdentityVerified,
            StatusArg::Completed => CaseStatus::Completed,
            StatusArg::Refused => CaseStatus::Refused,
            StatusArg::Withdrawn => CaseStatus::Withdrawn,
        }
    }
}

pub(super) fn run(
    guard: &Guard,
    actor: impl Fn() -> anyhow::Result<StaffActor>,
    command: CaseCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        CaseCommand::Open {
            person,
            kind,
            regime,
            received,
            json,
        } => {
            let request = CaseRequest {
                kind: kind.into(),
                person: parse_person(&person)?,
                regime: regime.into(),
                received_on: received,
            };
            answer(guard, guard.open_case(&request, &actor()?)?, json, "opened")
        }
        CaseCommand::Verify { id, code, json } => answer(
            guard,
            guard.verify_case(&id, &code, &actor()?)?,
            json,
            "identity verified",
        ),
        CaseCommand::ResendCode { id, json } => answer(
            guard,
            guard.resend_case_code(&id, &actor()?)?,
            json,
            "new code mailed",
        ),
        CaseCommand::Extend { id, reason, json } => answer(
            guard,
            guard.extend_case(&id, &reason, &actor()?)?,
            json,
            "extended",
        ),
        CaseCommand::Refuse { id, reason, json } => answer(
            guard,
            guard.close_case(&id, Closing::Refused, &reason, &actor()?)?,
            json,
            "refused",
        ),
        CaseCommand::Withdraw { id, reason, json } => answer(
            guard,
            guard.close_case(&id, Closing::Withdrawn, &reason, &actor()?)?,
            json,
            "withdrawn",
        ),
        CaseCommand::Complete {
            id,
            note,
            set,
            output,
            format,
        } => {
            let corrections = super::people::field_assignments(&set)?;
            let completion = Completion { note, corrections };
            match guard.complete_case(&id, &completion, &actor()?)? {
                Ok(completed) => {
                    if let Some(export) = &completed.export {
                        write_export(export, format, output.as_deref())?;
                        eprintln!("export sha256 (recorded in the case): {}", export.digest());
                    }
                    eprintln!("case {}: completed", completed.case.id);
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => refused(&refusal),
            }
        }
        CaseCommand::Show { id, json } => {
            let Some(case) = guard.case(&id)? else {
                return refused(&CaseRefusal::UnknownCase(id));
            };
            let events = guard.case_events(&case)?;
            if json {
                let events: Vec<serde_json::Value> = events
                    .iter()
                    .map(|event| serde_json::json!({ "sequence": event.sequence, "recorded_at": event.recorded_at, "event": serde_json::from_str::<serde_json::Value>(&event.payload).unwrap_or_default() }))
                    .collect();
                println!("{}", serde_json::json!({ "case": case, "events": events }));
            } else {
                print_case(&case, utc_date(guard.clock().now_millis()));
                for event in events {
                    println!("  #{} {}", event.sequence, event.payload);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CaseCommand::List {
            overdue,
            due_soon,
            within,
            status,
            person,
            json,
        } => {
            let filter = CaseListFilter {
                status: status.map(CaseStatus::from),
                overdue,
                due_within_days: due_soon.then_some(within),
                person: person.as_deref().map(parse_person).transpose()?,
            };
            let cases = guard.cases(&filter)?;
            if json {
                println!("{}", serde_json::json!({ "cases": cases }));
            } else if cases.is_empty() {
                println!("no cases");
            } else {
                let today = utc_date(guard.clock().now_millis());
                for case in &cases {
                    print_case(case, today);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `export MODULE/ID`: everything held about the person.
pub(super) fn export(
    guard: &Guard,
    person: &str,
    format: FormatArg,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    let export = guard.export_person(&person)?;
    write_export(&export, format, output)?;
    Ok(ExitCode::SUCCESS)
}

fn write_export(
    export: &privacy_guard_host::export::Export,
    format: FormatArg,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let text = match format {
        FormatArg::Json => export.json(),
        FormatArg::Csv => export.csv().context("could not write the export as CSV")?,
    };
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("could not write the export to {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn answer(
    guard: &Guard,
    outcome: Result<Case, CaseRefusal>,
    json: bool,
    done: &str,
) -> anyhow::Result<ExitCode> {
    match outcome {
        Ok(case) if json => {
            println!("{}", serde_json::json!({ "case": case }));
            Ok(ExitCode::SUCCESS)
        }
        Ok(case) => {
            println!("case {}: {done}", case.id);
            print_case(&case, utc_date(guard.clock().now_millis()));
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => refused(&refusal),
    }
}

fn refused(refusal: &CaseRefusal) -> anyhow::Result<ExitCode> {
    eprintln!("refused: {refusal}");
    Ok(ExitCode::from(CASE_REFUSED))
}

fn print_case(case: &Case, today: NaiveDate) {
    let overdue = if case.is_overdue(today) {
        " OVERDUE"
    } else {
        ""
    };
    let extended = if case.extended_at.is_some() {
        " (extended)"
    } else {
        ""
    };
    let acknowledge = case
        .acknowledge_by
        .map(|date| format!(", acknowledge by {date}"))
        .unwrap_or_default();
    println!(
        "{id}  {kind:<13} {module}/{record:<12} {regime} {status:<17} received {received}, due {due}{extended}{acknowledge}{overdue}",
        id = case.id,
        kind = case.kind.as_str(),
        module = case.module,
        record = case.record_id,
        regime = case.regime.as_str(),
        status = case.status.as_str(),
        received = case.received_on,
        due = case.due_on,
    );
}
