//! `check` and `render`: the pre-send check and the mail as each recipient must get it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MailContent, Recipient, RecipientRole, Rendering, SendRequest,
};
use privacy_guard_host::guard::Guard;
use privacy_guard_host::wire::{self, Wire};

use super::arguments::MailArgs;

/// Exit code of `check` and `render` when at least one recipient is refused.
const EXIT_REFUSED: u8 = 3;

impl MailArgs {
    /// The request the mail makes: its class and purpose.
    fn request(&self) -> SendRequest {
        SendRequest {
            class: self.class,
            purpose: self.purpose.clone(),
        }
    }

    /// The recipients named on the command line, To first, then CC, then BCC.
    fn recipients(&self) -> anyhow::Result<Vec<Recipient>> {
        let recipients: Vec<Recipient> = [
            (&self.to, RecipientRole::To),
            (&self.cc, RecipientRole::Cc),
            (&self.bcc, RecipientRole::Bcc),
        ]
        .into_iter()
        .flat_map(|(addresses, role)| {
            addresses.iter().map(move |address| Recipient {
                address: address.clone(),
                role,
                person: None,
            })
        })
        .collect();
        if recipients.is_empty() {
            bail!("name at least one recipient with --to, --cc or --bcc");
        }
        Ok(recipients)
    }
}

fn exit_code(refused: bool) -> ExitCode {
    if refused {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    }
}

pub(super) fn render(
    guard: &Guard,
    mail: &MailArgs,
    subject: String,
    message_id: Option<String>,
    text_file: &Path,
    html_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))
    };
    let content = MailContent {
        message_id,
        subject,
        text_body: read(text_file)?,
        html_body: html_file.map(read).transpose()?,
    };
    let recipients = mail.recipients()?;
    let renderings = guard.render(&mail.request(), &content, &recipients);
    let mut refused = false;
    for (recipient, rendering) in recipients.iter().zip(&renderings) {
        let role = recipient.role.text();
        match rendering {
            Rendering::Send(rendered) => {
                println!("=== {} ({role}): send", recipient.address);
                for (name, value) in &rendered.headers {
                    println!("{name}: {value}");
                }
                println!("Subject: {}", rendered.subject);
                println!("--- text ---");
                println!("{}", rendered.text_body.trim_end());
                if let Some(html) = &rendered.html_body {
                    println!("--- html ---");
                    println!("{}", html.trim_end());
                }
            }
            Rendering::Refuse(refusal) => {
                refused = true;
                println!(
                    "=== {} ({role}): refuse {} {}",
                    recipient.address,
                    refusal.reason.text(),
                    refusal.detail
                );
            }
        }
        println!();
    }
    Ok(exit_code(refused))
}

pub(super) fn check(guard: &Guard, mail: &MailArgs) -> anyhow::Result<ExitCode> {
    let recipients = mail.recipients()?;
    let decisions = guard.check_send(&mail.request(), &recipients);
    let mut refused = false;
    for (recipient, decision) in recipients.iter().zip(&decisions) {
        match decision {
            Decision::Allow(allowance) => {
                let awaiting = if allowance.basis == LawfulBasis::LegitimateInterests
                    && allowance.awaiting_consent
                {
                    " (consent requested, not answered yet)"
                } else {
                    ""
                };
                println!(
                    "{}\tallow\tbasis: {}{awaiting}\t{}",
                    recipient.address,
                    allowance.basis.text(),
                    wire::obligation_texts(allowance.obligations).join(", ")
                );
            }
            Decision::Refuse(refusal) => {
                refused = true;
                println!(
                    "{}\trefuse\t{}\t{}",
                    recipient.address,
                    refusal.reason.text(),
                    refusal.detail
                );
            }
        }
    }
    Ok(exit_code(refused))
}
