//! `safeguards show`, `safeguards set` and `safeguards form-token`: the limits that keep
//! consent requests from becoming unwanted mail (the request and link-mail intervals per
//! address, the web-form proof, the soft-bounce limit, the unsubscribe mailbox), and a form
//! token for a web form the CRM serves.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use privacy_guard_host::contract::safeguards::SafeguardSettings;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::http::api::SafeguardsBody;

use super::output::list_problems;

#[derive(Subcommand, Debug)]
pub(super) enum SafeguardsCommand {
    /// Show the safeguard settings in force (the defaults until set).
    Show {
        /// Print JSON, as `GET /api/v1/safeguards` answers.
        #[arg(long)]
        json: bool,
    },
    /// Change the settings given; the others keep their values. Every problem is named,
    /// and nothing changes when there is one.
    Set {
        /// Soft bounces in a row that suppress an address (1..=50).
        #[arg(long)]
        soft_bounce_limit: Option<u32>,
        /// At most one consent request mail to an address in this many hours (0..=720; 0:
        /// no limit).
        #[arg(long)]
        request_interval_hours: Option<u32>,
        /// At most one "send me my link again" mail to an address in this many minutes
        /// (1..=1440).
        #[arg(long)]
        link_mail_interval_minutes: Option<u32>,
        /// The mailbox the host reads for unsubscribe mails; "" for none.
        #[arg(long)]
        unsubscribe_mailbox: Option<String>,
        /// The field marking a web-form record; "" for none (no record is one).
        #[arg(long)]
        web_form_field: Option<String>,
        /// The value that field holds on web-form records (trimmed, any case).
        #[arg(long)]
        web_form_value: Option<String>,
        /// The field the form hides from people: a web-form record with a value in it is
        /// sent no request. "" for none.
        #[arg(long)]
        honeypot_field: Option<String>,
        /// The field carrying the form token (`safeguards form-token`); "" for none.
        #[arg(long)]
        form_token_field: Option<String>,
        /// Print the settings saved as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A signed token for a web form's hidden field, valid from 3 seconds to 24 hours
    /// from now. A CRM asks for one each time it serves the form.
    FormToken {
        /// Print JSON: {"token": ..., "field": ...}.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(guard: &Guard, command: SafeguardsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SafeguardsCommand::Show { json } => {
            print(&guard.safeguard_settings()?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        SafeguardsCommand::Set {
            soft_bounce_limit,
            request_interval_hours,
            link_mail_interval_minutes,
            unsubscribe_mailbox,
            web_form_field,
            web_form_value,
            honeypot_field,
            form_token_field,
            json,
        } => {
            let mut settings = guard.safeguard_settings()?;
            let forms = &mut settings.web_forms;
            for (value, target) in [
                (web_form_field, &mut forms.source_field),
                (web_form_value, &mut forms.source_value),
                (honeypot_field, &mut forms.honeypot_field),
                (form_token_field, &mut forms.token_field),
                (unsubscribe_mailbox, &mut settings.unsubscribe_mailbox),
            ] {
                if let Some(value) = value {
                    *target = value;
                }
            }
            for (value, target) in [
                (soft_bounce_limit, &mut settings.soft_bounce_limit),
                (request_interval_hours, &mut settings.request_interval_hours),
                (
                    link_mail_interval_minutes,
                    &mut settings.link_mail_interval_minutes,
                ),
            ] {
                if let Some(value) = value {
                    *target = value;
                }
            }
            if let Err(problems) = guard.set_safeguard_settings(&settings)? {
                bail!(
                    "the safeguard settings were not saved:\n{}",
                    list_problems(&problems)
                );
            }
            print(&guard.safeguard_settings()?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        SafeguardsCommand::FormToken { json } => {
            let token = guard.form_token()?;
            if json {
                let field = guard.safeguard_settings()?.web_forms.token_field;
                println!("{}", serde_json::json!({ "token": token, "field": field }));
            } else {
                println!("{token}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print(settings: &SafeguardSettings, json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string(&SafeguardsBody::from(settings.clone()))?
        );
        return Ok(());
    }
    let or_none = |text: &str| {
        if text.is_empty() {
            "(none)".to_owned()
        } else {
            text.to_owned()
        }
    };
    let forms = &settings.web_forms;
    println!("soft-bounce limit           {}", settings.soft_bounce_limit);
    println!(
        "request interval            {} hour(s){}",
        settings.request_interval_hours,
        if settings.request_interval_hours == 0 {
            " (no limit)"
        } else {
            ""
        }
    );
    println!(
        "link-mail interval          {} minute(s)",
        settings.link_mail_interval_minutes
    );
    println!(
        "unsubscribe mailbox         {}",
        or_none(&settings.unsubscribe_mailbox)
    );
    if forms.source_field.is_empty() {
        println!("web forms                   (none: no record is a web-form record)");
    } else {
        println!(
            "web-form records            {} = {}",
            forms.source_field, forms.source_value
        );
        println!(
            "honeypot field              {}",
            or_none(&forms.honeypot_field)
        );
        println!(
            "form token field            {}",
            or_none(&forms.token_field)
        );
    }
    Ok(())
}
