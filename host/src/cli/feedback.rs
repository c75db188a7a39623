//! `feedback intake`, `feedback report` and `feedback lift`: bounces, complaints and
//! unsubscribe mails read from a Maildir, reported by an operator, or a bounce lifted
//! (`privacy_guard_host::feedback`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use privacy_guard_host::contract::safeguards::{DeliveryReport, FeedbackKind};
use privacy_guard_host::contract::subjects::StaffActor;
use privacy_guard_host::feedback::maildir;
use privacy_guard_host::feedback::webhook::refusal_text;
use privacy_guard_host::guard::Guard;

#[derive(Subcommand, Debug)]
pub(super) enum FeedbackCommand {
    /// Read every new message of a Maildir once (DSNs, ARF complaints, unsubscribe mails):
    /// report each, move it to cur/; one that cannot be read goes to rejected/ with the
    /// reason beside it.
    Intake {
        /// The Maildir (with new/ and cur/).
        #[arg(long)]
        maildir: PathBuf,
        /// The VERP return path the host sends with (the SMTP URL's `return_path`, e.g.
        /// bounces@example.org): bounces to `bounces+<message id>@…` are attributed by it.
        #[arg(long)]
        return_path: Option<String>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Report a bounce, complaint or unsubscription an operator learned of.
    Report {
        #[arg(long, value_enum)]
        kind: KindArg,
        #[arg(long)]
        address: String,
        /// What the report said (status, diagnostic, who told you): kept as the evidence.
        #[arg(long)]
        evidence: String,
        /// The Message-ID of the mail it is about.
        #[arg(long)]
        message_id: Option<String>,
    },
    /// Lift the suppression of a bounced address (a complaint or unsubscription is never
    /// lifted here), with the reason.
    Lift {
        #[arg(long)]
        address: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum KindArg {
    HardBounce,
    SoftBounce,
    Complaint,
    Unsubscribe,
}

pub(super) fn run(
    guard: &Guard,
    actor: impl FnOnce() -> anyhow::Result<StaffActor>,
    command: FeedbackCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        FeedbackCommand::Intake {
            maildir,
            return_path,
            json,
        } => {
            let counts =
                maildir::intake(guard, &maildir, return_path.as_deref(), &|name, said| {
                    if !json {
                        eprintln!("{name}: {said}");
                    }
                })?;
            if json {
                println!("{}", serde_json::to_string(&counts)?);
            } else {
                println!(
                    "{} message(s): {} report(s) recorded, {} person(s) suppressed, {} ignored, {} set aside in rejected/, {} left for the next pass",
                    counts.messages,
                    counts.reports,
                    counts.suppressed,
                    counts.ignored,
                    counts.rejected,
                    counts.failed
                );
            }
            Ok(if counts.failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        FeedbackCommand::Report {
            kind,
            address,
            evidence,
            message_id,
        } => {
            let actor = actor()?;
            let report = DeliveryReport {
                kind: match kind {
                    KindArg::HardBounce => FeedbackKind::HardBounce,
                    KindArg::SoftBounce => FeedbackKind::SoftBounce,
                    KindArg::Complaint => FeedbackKind::Complaint,
                    KindArg::Unsubscribe => FeedbackKind::Unsubscribe,
                },
                address,
                source: "admin".into(),
                evidence: format!("{evidence} (reported by {})", actor.name),
                message_id,
                occurred_at: guard.clock().now_millis(),
                token: None,
            };
            match guard.report_delivery(&report).context("reporting")? {
                Ok(outcome) => {
                    println!(
                        "recorded: the address is {}suppressed; {} person(s) stopped by this report; soft bounces counted: {}",
                        if outcome.address_suppressed {
                            ""
                        } else {
                            "not "
                        },
                        outcome.suppressed.len(),
                        outcome.soft_bounces
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => {
                    eprintln!("refused, nothing changed: {}", refusal_text(&refusal));
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        FeedbackCommand::Lift { address, reason } => {
            match guard
                .lift_bounce(&address, &actor()?, &reason)
                .context("lifting")?
            {
                Ok(true) => {
                    println!("lifted: mail to the address is decided as before the bounce");
                    Ok(ExitCode::SUCCESS)
                }
                Ok(false) => {
                    eprintln!(
                        "nothing lifted: the address is not suppressed by a bounce (a complaint or unsubscription stands until the person's own answer)"
                    );
                    Ok(ExitCode::FAILURE)
                }
                Err(refusal) => {
                    eprintln!("refused, nothing changed: {}", refusal_text(&refusal));
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
