//! The commands of `privacy-guard`: [`run`] opens the host a command needs and hands the
//! command to the module of its group. `arguments` is the command line as clap reads it;
//! `open` wires a host together (tenant, database, clock, schedule, mail transport);
//! `serve` runs the server; the other modules are the command groups.

mod arguments;
mod cases;
mod configuration;
mod conformance;
mod feedback;
mod keys;
mod mail;
mod open;
mod output;
mod package;
mod people;
mod proof;
mod reports;
mod retention;
mod safeguards;
mod sending;
mod serve;
mod webhooks;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use privacy_guard_host::tenants::config::HostConfig;
use privacy_guard_host::tenants::{ApiKey, Tenants};

pub use self::arguments::{Arguments, LogFormat};
use self::arguments::{Command, ConsentCommand, FieldCommand};

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs one command.
pub fn run(arguments: Arguments) -> anyhow::Result<ExitCode> {
    let config = arguments
        .config
        .as_deref()
        .map(HostConfig::load)
        .transpose()?;
    if matches!(arguments.command, Command::Serve { .. })
        && arguments.component.is_some()
        && !arguments.allow_unverified
    {
        anyhow::bail!(
            "serve loads only verified plugins: install a signed package (`privacy-guard package install FILE`) or name one with --package; to serve the unverified --component while developing, add --allow-unverified"
        );
    }
    // The commands that open no host, or every tenant of the configuration file.
    match (&arguments.command, &config) {
        (Command::ApiKey { name, scopes }, _) => {
            return keys::new_api_key(name.as_deref(), scopes.as_deref());
        }
        (Command::ConformanceDriver, _) => return conformance::serve_driver(&arguments),
        (Command::VerifyReceipt { file, key }, _) => return proof::verify_receipt(file, key),
        (Command::Package(command), _) => return package::run(&arguments, command),
        (
            Command::Serve {
                listen,
                delivery_interval,
                header_timeout,
                request_timeout,
                max_connections,
                page_limits,
            },
            Some(config),
        ) => {
            return serve::serve(
                open::open_tenants(&arguments, config)?,
                *listen,
                Duration::from_secs(*delivery_interval),
                serve::limits(*header_timeout, *request_timeout, *max_connections),
                page_limits,
            );
        }
        _ => {}
    }
    let tenant = match &config {
        Some(config) => Some(open::select_tenant(&arguments, config)?),
        None => None,
    };
    let guard = open::open(&arguments, tenant)?;
    let actor = || open::staff_actor(&arguments.actor);
    match arguments.command {
        Command::Serve {
            listen,
            delivery_interval,
            header_timeout,
            request_timeout,
            max_connections,
            page_limits,
        } => {
            let digests = arguments
                .api_key_digests
                .iter()
                .map(|digest| ApiKey::parse(digest))
                .collect::<Result<Vec<_>, _>>()
                .context("--api-key-digest")?;
            serve::serve(
                Tenants::single(Arc::new(guard), digests),
                listen,
                Duration::from_secs(delivery_interval),
                serve::limits(header_timeout, request_timeout, max_connections),
                &page_limits,
            )
        }
        Command::ApiKey { name, scopes } => keys::new_api_key(name.as_deref(), scopes.as_deref()),
        Command::Import { module, file } => people::import(&guard, &module, &file),
        Command::Settings(settings) => configuration::configure_settings(&guard, *settings),
        Command::Consent(ConsentCommand::Add(consent)) => {
            configuration::add_consent(&guard, consent)
        }
        Command::Consent(ConsentCommand::List) => configuration::list_consents(&guard),
        Command::Consent(ConsentCommand::Delete { id }) => {
            configuration::delete_consent(&guard, &id)
        }
        Command::Field(FieldCommand::Classify { module, class }) => {
            configuration::classify_field(&guard, &module, class.into())
        }
        Command::Field(FieldCommand::List { module }) => {
            configuration::list_fields(&guard, &module)
        }
        Command::Enable {
            confirm_deduplication,
        } => configuration::enable(&guard, confirm_deduplication),
        Command::Dedupe { apply } => configuration::dedupe(&guard, apply),
        Command::RunDaily { period } => people::run_daily(&guard, period),
        Command::Edit { person, set } => people::edit(&guard, &person, &set),
        Command::Show { person, history } => people::show(&guard, &person, history),
        Command::Link { person, json } => people::preferences_link(&guard, &person, json),
        Command::RecordDecision {
            person,
            consent,
            grant,
            refuse: _,
            evidence,
        } => people::record_decision(&guard, &actor()?, &person, &consent, grant, &evidence),
        Command::Restrict { person, reason } => {
            people::restrict(&guard, &actor()?, &person, &reason)
        }
        Command::AskAgain {
            person,
            module,
            consent,
        } => people::ask_again(
            &guard,
            &actor()?,
            person.as_deref(),
            module.as_deref(),
            consent.as_deref(),
        ),
        Command::LiftRestriction { person, reason } => {
            people::lift_restriction(&guard, &actor()?, &person, &reason)
        }
        Command::Erase { person, evidence } => people::erase(&guard, &actor()?, &person, &evidence),
        Command::Check { mail } => sending::check(&guard, &mail),
        Command::Render {
            mail,
            subject,
            message_id,
            text_file,
            html_file,
        } => sending::render(
            &guard,
            &mail,
            subject,
            message_id,
            &text_file,
            html_file.as_deref(),
        ),
        Command::Deliver { retry_failed } => mail::deliver(&guard, retry_failed),
        Command::Outbox => mail::list_outbox(&guard),
        Command::Webhooks { retry_failed } => webhooks::deliver(&guard, retry_failed),
        Command::RotateFieldKey => keys::rotate_field_key(&guard),
        Command::RotateLinkKey => keys::rotate_link_key(&guard),
        Command::Report {
            json,
            from,
            to,
            period,
        } => reports::report(&guard, json, from, to, &period),
        Command::People(command) => reports::people(&guard, command),
        Command::Bulk(command) => reports::bulk(&guard, &actor()?, command),
        Command::Register { format } => reports::register(&guard, format),
        Command::Retention(command) => retention::run(&guard, actor, command),
        Command::Safeguards(command) => safeguards::run(&guard, command),
        Command::Feedback(command) => feedback::run(&guard, actor, command),
        Command::Case(command) => cases::run(&guard, actor, command),
        Command::Export {
            person,
            format,
            output,
        } => cases::export(&guard, &person, format, output.as_deref()),
        Command::VerifyEvents => keys::verify_events(&guard),
        Command::ProofKey { json } => proof::proof_key(&guard, json),
        Command::Checkpoint { output } => proof::checkpoint(&guard, output.as_deref()),
        Command::VerifyLog { checkpoint, key } => {
            proof::verify_log(&guard, checkpoint.as_deref(), key.as_deref())
        }
        Command::Receipt {
            person,
            event,
            output,
        } => proof::receipt(&guard, &person, event, output.as_deref()),
        Command::VerifyReceipt { ref file, ref key } => proof::verify_receipt(file, key),
        Command::ConformanceDriver => conformance::serve_driver(&arguments),
        Command::Package(ref command) => package::run(&arguments, command),
    }
}
