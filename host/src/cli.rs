//! The commands of `privacy-guard`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use privacy_guard_host::clock::Clock;
use privacy_guard_host::config::{HostConfig, TenantConfig};
use privacy_guard_host::contract::configuration::{
    ConditionClause, ConditionOp, ConfirmationPolicy, ConsentDefault, ConsentDefinition,
    ConsentKind, FieldClass, IpPolicy, Prerequisite, Problem,
};
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MailContent, MessageClass, Obligations, Recipient, RecipientRole,
    RefusalReason, Rendering, SendRequest,
};
use privacy_guard_host::contract::subjects::{PersonStatus, RecordError, StaffActor, StaffChannel};
use privacy_guard_host::contract::types::{ConsentValue, RecordRef};
use privacy_guard_host::guard::{
    ComponentSource, DueRun, EditRejection, Guard, GuardOptions, SettingsRefusal,
};
use privacy_guard_host::mail::smtp::SmtpSettings;
use privacy_guard_host::mail::{RetryPolicy, Transport};
use privacy_guard_host::runtime::SandboxLimits;
use privacy_guard_host::schedule::DailySchedule;
use privacy_guard_host::settings::SettingsPatch;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Tenant, Tenants};
use privacy_guard_host::worker;
use tracing::Instrument;

/// Exit code of `check` when at least one recipient is refused.
const EXIT_REFUSED: u8 = 3;

/// Privacy Guard: GDPR / CAN-SPAM consent for CRMs. The reference host.
#[derive(Debug, Parser)]
#[command(name = "privacy-guard", version, about, long_about = None)]
pub struct Arguments {
    /// Folder for the database, the mail outbox and the compiled-component cache.
    #[arg(
        long,
        global = true,
        env = "PRIVACY_GUARD_DATA_DIR",
        default_value = "privacy-guard-data"
    )]
    data_dir: PathBuf,
    /// Database URL [default: sqlite://DATA_DIR/privacy-guard.db].
    #[arg(long, global = true, env = "PRIVACY_GUARD_DATABASE_URL")]
    database_url: Option<String>,
    /// A component file to load instead of the one built with this host.
    #[arg(long, global = true, env = "PRIVACY_GUARD_COMPONENT")]
    component: Option<PathBuf>,
    /// Pretend it is this instant (RFC 3339, e.g. 2026-12-01T10:00:00+01:00); the clock
    /// starts there and runs on. For tests, demos and replays.
    #[arg(long, global = true, env = "PRIVACY_GUARD_NOW")]
    now: Option<String>,
    /// Local time of the daily consent run, HH:MM.
    #[arg(
        long,
        global = true,
        env = "PRIVACY_GUARD_RUN_AT",
        default_value = "10:00"
    )]
    run_at: String,
    /// Time zone of the daily consent run (IANA name).
    #[arg(
        long,
        global = true,
        env = "PRIVACY_GUARD_TIME_ZONE",
        default_value = "UTC"
    )]
    time_zone: String,
    /// Deliver mail through this SMTP server instead of writing `.eml` files to
    /// DATA_DIR/outbox: smtp://[USER@]HOST[:PORT][?security=starttls|tls|none]
    /// [&timeout=SECONDS][&ca_file=PEM]. The password comes from PRIVACY_GUARD_SMTP_PASSWORD
    /// or --smtp-password-file, never from the URL.
    #[arg(long, global = true, env = "PRIVACY_GUARD_SMTP_URL")]
    smtp_url: Option<String>,
    /// A file holding the SMTP password (its first line), instead of
    /// PRIVACY_GUARD_SMTP_PASSWORD.
    #[arg(long, global = true, env = "PRIVACY_GUARD_SMTP_PASSWORD_FILE")]
    smtp_password_file: Option<PathBuf>,
    /// Delivery attempts per mail before it is marked failed for an operator; the wait
    /// between attempts starts at 1 minute and doubles up to 1 hour.
    #[arg(long, global = true, env = "PRIVACY_GUARD_DELIVERY_ATTEMPTS", default_value_t = RetryPolicy::default().attempts, value_parser = clap::value_parser!(u32).range(1..=1000))]
    delivery_attempts: u32,
    /// A configuration file listing the tenants this host serves (TOML; see
    /// `host/src/config.rs`). Without one the host serves one tenant from these options.
    #[arg(long, global = true, env = "PRIVACY_GUARD_CONFIG")]
    config: Option<PathBuf>,
    /// The tenant of the configuration file an administrative command works on.
    #[arg(long, global = true, env = "PRIVACY_GUARD_TENANT")]
    tenant: Option<String>,
    /// Digest (`sha256:...`, from `privacy-guard api-key`) of an API key of the single
    /// tenant served without a configuration file; repeat or separate with commas.
    #[arg(
        long = "api-key-digest",
        global = true,
        env = "PRIVACY_GUARD_API_KEY_DIGESTS",
        value_delimiter = ','
    )]
    api_key_digests: Vec<String>,
    /// Who is acting, recorded in every event a staff command writes (record-decision,
    /// restrict, lift-restriction, erase) [default: the operating system's user name].
    #[arg(long, global = true, env = "PRIVACY_GUARD_ACTOR")]
    actor: Option<String>,
    /// Log format on standard error.
    #[arg(long, global = true, env = "PRIVACY_GUARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the preferences page and run the daily consent run on schedule.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PRIVACY_GUARD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Seconds between two passes of the delivery worker (queued and retried mail).
        #[arg(long, env = "PRIVACY_GUARD_DELIVERY_INTERVAL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        delivery_interval: u64,
    },
    /// Import people from a CSV file (first line: field names, with an `email` column).
    Import {
        /// The module the records belong to.
        #[arg(long, default_value = "contacts")]
        module: String,
        file: PathBuf,
    },
    /// Change organisation-wide settings: only the options given change, the others keep
    /// their values (`settings show` prints them all).
    Settings(SettingsArgs),
    /// Define consents.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Classify fields as personal data, and list the classes.
    #[command(subcommand)]
    Field(FieldCommand),
    /// Enable consents (needs the sender, a consent, and the de-duplication confirmation).
    Enable {
        /// Confirm that duplicate contacts and leads may be flagged `Duplicate`.
        #[arg(long)]
        confirm_deduplication: bool,
    },
    /// Show which contacts and leads share an email address and which record of each group
    /// is kept; with --apply, flag the others `Duplicate` and lock them.
    Dedupe {
        /// Flag the duplicates (overwrites their status with `Duplicate`); without it,
        /// nothing is changed.
        #[arg(long)]
        apply: bool,
    },
    /// Run the daily consent run now (each period runs once, whatever is asked).
    RunDaily {
        /// The period (local date, YYYY-MM-DD) [default: the period due now].
        #[arg(long)]
        period: Option<String>,
    },
    /// Print a person's current preferences link (signed now, valid for the configured
    /// days), e.g. for someone who lost the mail with theirs: `link contacts/42`.
    Link {
        person: String,
        /// Print JSON: {"person": ..., "link": ...}.
        #[arg(long)]
        json: bool,
    },
    /// Show a person's consents, e.g. `show contacts/42`.
    Show {
        person: String,
        /// Also print every consent event (the proof).
        #[arg(long)]
        history: bool,
    },
    /// Record a consent decision obtained outside the preferences page.
    RecordDecision {
        person: String,
        #[arg(long)]
        consent: String,
        #[arg(long, conflicts_with = "refuse", required_unless_present = "refuse")]
        grant: bool,
        #[arg(long)]
        refuse: bool,
        /// Where the decision comes from (a call on 1 Dec, a signed form, ...).
        #[arg(long)]
        evidence: String,
    },
    /// Stop processing a person's data (GDPR Art. 18): locked, no mail but transactional.
    Restrict {
        person: String,
        /// Why (the person's request, a dispute, ...).
        #[arg(long)]
        reason: String,
    },
    /// Lift a restriction; the reason is recorded and sent to the person.
    LiftRestriction {
        person: String,
        #[arg(long)]
        reason: String,
    },
    /// Erase a person's data (GDPR Art. 17), keeping the settings' retained fields.
    Erase {
        person: String,
        /// The request this erasure answers (a letter of 1 Dec, a ticket, ...).
        #[arg(long)]
        evidence: String,
    },
    /// Edit a record as a CRM user would, e.g. `edit contacts/42 --set phone=+4420...`:
    /// refused (exit 4, nothing saved) when Privacy Guard does not allow editing a field.
    Edit {
        person: String,
        /// `FIELD=VALUE`, repeatable; an empty value empties the field.
        #[arg(long, required = true)]
        set: Vec<String>,
    },
    /// Ask the pre-send check about a mail; exits with 3 if any recipient is refused.
    Check {
        #[arg(long, value_enum)]
        class: ClassArg,
        /// The consent the mail relies on (needed for marketing).
        #[arg(long)]
        purpose: Option<String>,
        #[arg(long)]
        to: Vec<String>,
        #[arg(long)]
        cc: Vec<String>,
        #[arg(long)]
        bcc: Vec<String>,
    },
    /// Show the mail exactly as each recipient must get it (tracking stripped without
    /// consent, the preferences footer for To, the postal address on marketing mail);
    /// exits with 3 if any recipient is refused.
    Render {
        #[arg(long, value_enum)]
        class: ClassArg,
        /// The consent the mail relies on (needed for marketing).
        #[arg(long)]
        purpose: Option<String>,
        #[arg(long)]
        to: Vec<String>,
        #[arg(long)]
        cc: Vec<String>,
        #[arg(long)]
        bcc: Vec<String>,
        #[arg(long)]
        subject: String,
        /// The CRM's id of the mail (e.g. an invoice number), recorded with each send on a
        /// legal ground to a restricted or erased person.
        #[arg(long)]
        message_id: Option<String>,
        /// The plain-text body.
        #[arg(long)]
        text_file: PathBuf,
        /// The HTML body, tracking marked with `data-pg-tracking` (pixels) and
        /// `data-pg-original-href` (tracked links).
        #[arg(long)]
        html_file: Option<PathBuf>,
    },
    /// Deliver queued mail that is due now (mail waiting after a failed attempt goes when
    /// its wait is over).
    Deliver {
        /// First queue again the mail marked failed (after fixing the cause).
        #[arg(long)]
        retry_failed: bool,
    },
    /// List mail not delivered yet: waiting for its next attempt, or failed.
    Outbox,
    /// Make a new API key: prints the key (give it to the CRM) and its named digest (put
    /// it in the configuration file or --api-key-digest; the host keeps only digests).
    ApiKey {
        /// The key's name, recorded as the actor of everything done with it (e.g.
        /// `crm-production`) [default: named after its digest].
        #[arg(long)]
        name: Option<String>,
    },
    /// Check the hash chain of the consent event log.
    VerifyEvents,
    /// Create a new key for signing preferences links (older links keep working; running
    /// servers sign with it within 30 seconds).
    RotateLinkKey,
    /// Create a new key for encrypting fields at rest (values under older keys keep
    /// decrypting; running servers encrypt with it after a restart).
    RotateFieldKey,
}

#[derive(Debug, Subcommand)]
enum FieldCommand {
    /// Classify a field of a module, replacing its earlier class.
    Classify {
        #[arg(long, default_value = "contacts")]
        module: String,
        #[arg(long)]
        field: String,
        /// The field holds personal data (needed by every other flag).
        #[arg(long)]
        personal: bool,
        /// Needed for operations (invoices, orders), not only marketing.
        #[arg(long)]
        essential: bool,
        /// Sensitive personal data: suggested for a data consent unless essential.
        #[arg(long)]
        sensitive: bool,
        /// Store the field's values encrypted (at most 5 fields per module; not `email`).
        #[arg(long)]
        encrypted: bool,
    },
    /// List a module's field classes and the data consents suggested for it.
    List {
        #[arg(long, default_value = "contacts")]
        module: String,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SettingsArgs {
    #[command(subcommand)]
    show: Option<SettingsCommand>,
    #[arg(long)]
    sender_address: Option<String>,
    #[arg(long)]
    sender_name: Option<String>,
    #[arg(long)]
    organisation: Option<String>,
    /// The postal address printed in every mail's footer.
    #[arg(long)]
    postal_address: Option<String>,
    /// Base URL of the preferences page; the signed token is appended [first settings
    /// default: http://127.0.0.1:8080/preferences/].
    #[arg(long)]
    preferences_url: Option<String>,
    /// How many days a preferences link stays valid [first settings default: 30].
    #[arg(long)]
    link_valid_days: Option<u32>,
    /// Flag a new record whose email address another active record already has as
    /// `Duplicate` (and lock it) when it is created or changed: `--flag-new-duplicates`
    /// or `--flag-new-duplicates=false`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    flag_new_duplicates: Option<bool>,
    /// A field an erasure keeps for a legal obligation (e.g. `name` for invoices);
    /// repeat for several; replaces the list. `email` is always erased.
    #[arg(long = "retain-field", conflicts_with = "retain_nothing")]
    retained_fields: Vec<String>,
    /// Retain no field at erasure (empties the list).
    #[arg(long)]
    retain_nothing: bool,
    /// Which changes people get a confirmation mail about.
    #[arg(long, value_enum)]
    confirm_changes: Option<ConfirmArg>,
    /// What consent events keep of the IP address of a preferences-page answer.
    #[arg(long, value_enum)]
    ip_evidence: Option<IpArg>,
    /// A CRM module that holds people and can carry consents (contacts, leads, accounts,
    /// a custom module); repeat for several; replaces the list [default: contacts, leads].
    #[arg(long = "person-module")]
    person_modules: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum SettingsCommand {
    /// Print the current settings.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ConfirmArg {
    /// No confirmation mails.
    Never,
    /// Changes the person made on the preferences page.
    OwnChanges,
    /// Also decisions recorded by an administrator, an import or the API.
    EveryChange,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum IpArg {
    /// The whole address.
    Keep,
    /// The network only (/24, /48).
    Truncate,
    /// A salted SHA-256 of the address.
    Hash,
    /// Nothing.
    Drop,
}

#[derive(Debug, Subcommand)]
enum ConsentCommand {
    /// Add a consent or replace the one with the same id.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "contacts")]
        module: String,
        /// `data:FIELD`, `custom`, `email-tracking` or `document-tracking`.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        title: String,
        /// The exact text shown to people.
        #[arg(long)]
        purpose: String,
        #[arg(long, value_enum, default_value_t = DefaultArg::No)]
        default: DefaultArg,
        /// A condition clause, repeatable, all must hold: `FIELD one-of A,B`,
        /// `FIELD none-of A,B`, `FIELD present`, `FIELD absent`. None: applies to everyone.
        #[arg(long = "when")]
        when: Vec<String>,
    },
    /// List the consents.
    List,
    /// Delete a consent: its values stop being collected, its history stays; a data
    /// consent's field is removed from the layout.
    Delete { id: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DefaultArg {
    Yes,
    No,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ClassArg {
    AdHoc,
    Workflow,
    Marketing,
    Transactional,
}

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

pub fn run(arguments: Arguments) -> anyhow::Result<ExitCode> {
    let config = arguments
        .config
        .as_deref()
        .map(HostConfig::load)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if let Command::ApiKey { name } = &arguments.command {
        return new_api_key(name.as_deref());
    }
    if let (
        Command::Serve {
            listen,
            delivery_interval,
        },
        Some(config),
    ) = (&arguments.command, &config)
    {
        return serve(
            open_tenants(&arguments, config)?,
            *listen,
            Duration::from_secs(*delivery_interval),
        );
    }
    let tenant = match &config {
        Some(config) => Some(select_tenant(&arguments, config)?),
        None => None,
    };
    let guard = open(&arguments, tenant)?;
    match arguments.command {
        Command::Serve {
            listen,
            delivery_interval,
        } => {
            let digests = arguments
                .api_key_digests
                .iter()
                .map(|digest| ApiKey::parse(digest))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| anyhow::anyhow!("--api-key-digest: {error}"))?;
            serve(
                Tenants::single(Arc::new(guard), digests),
                listen,
                Duration::from_secs(delivery_interval),
            )
        }
        Command::ApiKey { name } => new_api_key(name.as_deref()),
        Command::Import { module, file } => import(&guard, &module, &file),
        Command::Settings(settings) => configure_settings(&guard, settings),
        Command::Consent(ConsentCommand::Add {
            id,
            module,
            kind,
            title,
            purpose,
            default,
            when,
        }) => add_consent(&guard, id, module, &kind, title, purpose, default, &when),
        Command::Consent(ConsentCommand::List) => list_consents(&guard),
        Command::Consent(ConsentCommand::Delete { id }) => match guard.delete_consent(&id)? {
            Ok(deleted) => {
                print!(
                    "consent `{}` deleted; its history stays",
                    deleted.definition.id
                );
                match &deleted.definition.kind {
                    ConsentKind::Data(field) => println!(
                        "; field `{field}` removed from the {} layout",
                        deleted.definition.module
                    ),
                    _ => println!(),
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(problem) => bail!("not deleted: {}: {}", problem.at, problem.message),
        },
        Command::Edit { person, set } => edit(&guard, &person, &set),
        Command::Enable {
            confirm_deduplication,
        } => enable(&guard, confirm_deduplication),
        Command::Dedupe { apply } => dedupe(&guard, apply),
        Command::RunDaily { period } => run_daily(&guard, period),
        Command::Show { person, history } => show(&guard, &person, history),
        Command::Link { person, json } => preferences_link(&guard, &person, json),
        Command::RecordDecision {
            person,
            consent,
            grant,
            refuse: _,
            evidence,
        } => record_decision(
            &guard,
            &staff_actor(&arguments.actor)?,
            &person,
            &consent,
            grant,
            &evidence,
        ),
        Command::Restrict { person, reason } => {
            let person = parse_person(&person)?;
            match guard.restrict(&person, &staff_actor(&arguments.actor)?, &reason)? {
                Ok(_) => println!(
                    "processing restricted: {}/{} (record locked)",
                    person.module, person.id
                ),
                Err(error) => bail!("not restricted: {}", record_error(&error)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::LiftRestriction { person, reason } => {
            let person = parse_person(&person)?;
            match guard.lift_restriction(&person, &staff_actor(&arguments.actor)?, &reason)? {
                Ok(_) => println!(
                    "restriction lifted: {}/{} (record unlocked, the person was told by mail)",
                    person.module, person.id
                ),
                Err(error) => bail!("not lifted: {}", record_error(&error)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Erase { person, evidence } => {
            let person = parse_person(&person)?;
            match guard.erase(&person, &staff_actor(&arguments.actor)?, &evidence)? {
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
        Command::Check {
            class,
            purpose,
            to,
            cc,
            bcc,
        } => check(&guard, class, purpose, &to, &cc, &bcc),
        Command::Render {
            class,
            purpose,
            to,
            cc,
            bcc,
            subject,
            message_id,
            text_file,
            html_file,
        } => {
            let read = |path: &PathBuf| {
                std::fs::read_to_string(path)
                    .with_context(|| format!("could not read {}", path.display()))
            };
            let mail = MailContent {
                message_id,
                subject,
                text_body: read(&text_file)?,
                html_body: html_file.as_ref().map(read).transpose()?,
            };
            render(&guard, class, purpose, &mail, &to, &cc, &bcc)
        }
        Command::Deliver { retry_failed } => deliver(&guard, retry_failed),
        Command::Outbox => list_outbox(&guard),
        Command::Field(FieldCommand::Classify {
            module,
            field,
            personal,
            essential,
            sensitive,
            encrypted,
        }) => {
            let class = FieldClass {
                field,
                personal,
                essential,
                sensitive,
                encrypted,
            };
            match guard.classify_field(&module, &class)? {
                Ok(()) => {
                    println!("{module}.{}: {}", class.field, describe_class(&class));
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => bail!(
                    "the field was not classified:\n{}",
                    list_problems(&problems)
                ),
            }
        }
        Command::Field(FieldCommand::List { module }) => list_fields(&guard, &module),
        Command::RotateFieldKey => {
            let id = guard.rotate_field_key()?;
            println!(
                "new field key {id} created; values encrypted with older keys keep decrypting"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::RotateLinkKey => {
            let id = guard.rotate_link_key()?;
            println!(
                "new link key {id} created; running hosts sign with it within 30 s, links signed with older keys keep working"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::VerifyEvents => match guard.verify_ledger()? {
            LedgerCheck::Intact { events } => {
                println!("the event log is intact: {events} event(s), hash chain verified");
                Ok(ExitCode::SUCCESS)
            }
            LedgerCheck::Broken { sequence } => {
                bail!("the event log was changed: the hash chain breaks at event {sequence}")
            }
        },
    }
}

/// The tenant of the configuration file a command works on: `--tenant`, or the only one.
fn select_tenant<'c>(
    arguments: &Arguments,
    config: &'c HostConfig,
) -> anyhow::Result<&'c TenantConfig> {
    let names = || {
        config
            .tenants
            .iter()
            .map(|tenant| tenant.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &arguments.tenant {
        Some(id) => config.tenant(id).with_context(|| {
            format!(
                "no tenant `{id}` in the configuration; there are: {}",
                names()
            )
        }),
        None if config.tenants.len() == 1 => Ok(&config.tenants[0]),
        None => bail!("name the tenant with --tenant (one of: {})", names()),
    }
}

/// Opens every tenant of the configuration file.
fn open_tenants(arguments: &Arguments, config: &HostConfig) -> anyhow::Result<Tenants> {
    let mut tenants = Tenants::default();
    for tenant in &config.tenants {
        let guard = open(arguments, Some(tenant))
            .with_context(|| format!("tenant `{}` could not be opened", tenant.id))?;
        let digests = tenant.key_digests().map_err(anyhow::Error::msg)?;
        tenants
            .add(Tenant::new(tenant.id.clone(), Arc::new(guard), digests))
            .map_err(anyhow::Error::msg)?;
        tracing::info!(tenant = %tenant.id, "tenant opened");
    }
    Ok(tenants)
}

fn new_api_key(name: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut secret = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    let key = format!("pgk_{}", hex::encode(secret));
    let digest = KeyDigest::of_key(&key).to_text();
    let named = match name {
        Some(name) => ApiKey::parse(&format!("{name}={digest}")),
        None => ApiKey::parse(&digest),
    }
    .map_err(|error| anyhow::anyhow!("--name: {error}"))?;
    println!("API key (give it to the CRM; it is not stored): {key}");
    println!(
        "digest (for api_keys or --api-key-digest): {}",
        named.to_text()
    );
    Ok(ExitCode::SUCCESS)
}

/// The staff member a command acts as: --actor, else the operating system's user (from
/// the environment, else `id -un`).
fn staff_actor(actor: &Option<String>) -> anyhow::Result<StaffActor> {
    let os_user = || {
        ["USER", "LOGNAME", "USERNAME"]
            .into_iter()
            .find_map(|variable| std::env::var(variable).ok())
            .filter(|name| !name.trim().is_empty())
            .or_else(|| {
                std::process::Command::new("id")
                    .arg("-un")
                    .output()
                    .ok()
                    .filter(|output| output.status.success())
                    .and_then(|output| String::from_utf8(output.stdout).ok())
                    .map(|name| name.trim().to_owned())
            })
    };
    let name = actor
        .clone()
        .or_else(os_user)
        .filter(|name| !name.trim().is_empty())
        .context("say who is acting with --actor NAME (or PRIVACY_GUARD_ACTOR): every staff action names its actor")?;
    Ok(StaffActor {
        channel: StaffChannel::Admin,
        name,
    })
}

/// Opens the host: the single tenant of the command line, or `tenant` of the configuration
/// file in its own folder (`DATA_DIR/tenants/<id>`), with its own schedule.
fn open(arguments: &Arguments, tenant: Option<&TenantConfig>) -> anyhow::Result<Guard> {
    let data_dir = match tenant {
        Some(tenant) => tenant.folder(&arguments.data_dir),
        None => arguments.data_dir.clone(),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("could not create the data folder {}", data_dir.display()))?;
    let database_url = tenant
        .and_then(|tenant| tenant.database_url.clone())
        .or_else(|| {
            // --database-url names one database: it serves the single tenant only.
            tenant
                .is_none()
                .then(|| arguments.database_url.clone())
                .flatten()
        })
        .unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("privacy-guard.db").display()
            )
        });
    let clock = match &arguments.now {
        Some(now) => Clock::starting_at(
            chrono::DateTime::parse_from_rfc3339(now)
                .with_context(|| {
                    format!(
                        "--now `{now}` is not an RFC 3339 instant such as 2026-12-01T10:00:00+01:00"
                    )
                })?
                .to_utc(),
        ),
        None => Clock::system(),
    };
    let run_at = tenant
        .and_then(|tenant| tenant.run_at.as_deref())
        .unwrap_or(&arguments.run_at);
    let time_zone = tenant
        .and_then(|tenant| tenant.time_zone.as_deref())
        .unwrap_or(&arguments.time_zone);
    let schedule = DailySchedule::parse(run_at, time_zone).map_err(anyhow::Error::msg)?;
    let options = GuardOptions {
        database_url,
        cache_dir: Some(arguments.data_dir.join("cache")),
        component: arguments
            .component
            .clone()
            .map_or(ComponentSource::Embedded, ComponentSource::File),
        clock,
        limits: SandboxLimits::default(),
        transport: transport(arguments, &data_dir, tenant)?,
        retry: RetryPolicy {
            attempts: arguments.delivery_attempts,
            ..RetryPolicy::default()
        },
        schedule,
    };
    Guard::open(options).context("could not open the host")
}

/// Where `tenant`'s mail goes: the tenant's own SMTP server (`smtp_url` in the
/// configuration file, the password from the environment variable `smtp_password_env`
/// names), else the host's (--smtp-url with its password), else `.eml` files in the
/// tenant's outbox folder (`data_dir/outbox`).
fn transport(
    arguments: &Arguments,
    data_dir: &Path,
    tenant: Option<&TenantConfig>,
) -> anyhow::Result<Transport> {
    if let Some(tenant) = tenant
        && let Some(url) = &tenant.smtp_url
    {
        let password = tenant
            .smtp_password_env
            .as_deref()
            .map(|variable| {
                std::env::var(variable)
                    .ok()
                    .filter(|password| !password.is_empty())
                    .with_context(|| {
                        format!(
                            "tenant `{}`: the environment variable {variable} (smtp_password_env) holds no SMTP password",
                            tenant.id
                        )
                    })
            })
            .transpose()?;
        let settings = SmtpSettings::from_url(url, password).with_context(|| {
            format!(
                "tenant `{}`: the SMTP settings (smtp_url, password from smtp_password_env) are not valid",
                tenant.id
            )
        })?;
        tracing::debug!(tenant = %tenant.id, server = %settings.server(), security = ?settings.security, "the tenant's mail goes through its own SMTP server");
        return Ok(Transport::Smtp(settings));
    }
    let from_environment = std::env::var("PRIVACY_GUARD_SMTP_PASSWORD")
        .ok()
        .filter(|password| !password.is_empty());
    let from_file = arguments
        .smtp_password_file
        .as_ref()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("could not read the SMTP password file {}", path.display())
            })?;
            let password = text.lines().next().unwrap_or_default().to_owned();
            if password.is_empty() {
                bail!("the SMTP password file {} is empty", path.display());
            }
            Ok(password)
        })
        .transpose()?;
    let password = match (from_environment, from_file) {
        (Some(_), Some(_)) => bail!(
            "the SMTP password is given twice: set PRIVACY_GUARD_SMTP_PASSWORD or --smtp-password-file, not both"
        ),
        (password, None) | (None, password) => password,
    };
    let Some(url) = &arguments.smtp_url else {
        if password.is_some() {
            bail!(
                "an SMTP password is given but no SMTP server: set --smtp-url (PRIVACY_GUARD_SMTP_URL) too"
            );
        }
        return Ok(Transport::Directory(data_dir.join("outbox")));
    };
    let settings = SmtpSettings::from_url(url, password).context(
        "the SMTP settings (--smtp-url / PRIVACY_GUARD_SMTP_URL, password from PRIVACY_GUARD_SMTP_PASSWORD or --smtp-password-file) are not valid",
    )?;
    tracing::debug!(server = %settings.server(), security = ?settings.security, "mail goes through SMTP");
    Ok(Transport::Smtp(settings))
}

fn deliver(guard: &Guard, retry_failed: bool) -> anyhow::Result<ExitCode> {
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

/// Lists the mail not delivered yet, by message id (no addresses).
fn list_outbox(guard: &Guard) -> anyhow::Result<ExitCode> {
    const SHOWN: u32 = 1000;
    let undelivered = guard.undelivered_mail(SHOWN)?;
    let time = |millis: i64| {
        chrono::DateTime::from_timestamp_millis(millis)
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    for mail in &undelivered {
        let state = match mail.failed_at {
            Some(at) => format!("failed {}", time(at)),
            None if mail.attempts == 0 => "queued".to_owned(),
            None => format!("next attempt {}", time(mail.next_attempt_at)),
        };
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
        "{} message(s) not delivered{}, {failed} failed{}",
        undelivered.len(),
        if undelivered.len() == SHOWN as usize {
            " (the oldest shown)"
        } else {
            ""
        },
        if failed > 0 {
            ": fix the cause, then run `privacy-guard deliver --retry-failed`"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn serve(
    tenants: Tenants,
    listen: SocketAddr,
    delivery_interval: Duration,
) -> anyhow::Result<ExitCode> {
    let tenants = Arc::new(tenants);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the server runtime")?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("could not listen on {listen}: is another server using it?"))?;
        tracing::info!(address = %listen, "serving the preferences pages at /preferences/{{token}} and /t/{{tenant}}/preferences/{{token}}, the JSON API at /api/v1, health at /health");
        warn_about_preferences_urls(&tenants, listen).await;
        // Each tenant has its scheduler and its delivery worker; their logs carry the tenant.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut background = Vec::new();
        for tenant in tenants.iter() {
            let span = tracing::info_span!("tenant", tenant = %tenant.id);
            background.push((
                "scheduler",
                tenant.id.clone(),
                tokio::spawn(run_schedule(tenant.guard.clone(), stopped.clone()).instrument(span.clone())),
            ));
            background.push((
                "delivery worker",
                tenant.id.clone(),
                tokio::spawn(worker::deliver_periodically(tenant.guard.clone(), delivery_interval, stopped.clone()).instrument(span)),
            ));
        }
        drop(stopped);
        let app = privacy_guard_host::web::app(tenants).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("the server failed");
        // Requests are done; let every scheduler and delivery worker finish its pass.
        stop.send_replace(true);
        for (name, tenant, task) in background {
            if let Err(error) = task.await {
                tracing::error!(%error, task = name, %tenant, "a background task failed while stopping");
            }
        }
        served?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Warns, per tenant, when the links its mail carries would not reach this server.
async fn warn_about_preferences_urls(tenants: &Arc<Tenants>, listen: SocketAddr) {
    let default = tenants.default_tenant().map(|tenant| tenant.id.clone());
    for tenant in tenants.iter() {
        let guard = tenant.guard.clone();
        let configuration = tokio::task::spawn_blocking(move || guard.configuration()).await;
        let Ok(Ok(configuration)) = configuration else {
            tracing::warn!(tenant = %tenant.id, "could not read the settings to check the preferences URL");
            continue;
        };
        let Some(settings) = configuration.settings else {
            continue;
        };
        let bases: Vec<String> = if default.as_deref() == Some(tenant.id.as_str()) {
            vec![String::new(), format!("/t/{}", tenant.id)]
        } else {
            vec![format!("/t/{}", tenant.id)]
        };
        let problems: Vec<String> = bases
            .iter()
            .filter_map(|base| {
                privacy_guard_host::web::preferences_url_problem(
                    &settings.preferences_url,
                    listen,
                    base,
                )
            })
            .collect();
        // Served under several paths, the URL is fine when one of them matches.
        if problems.len() == bases.len()
            && let Some(problem) = problems.first()
        {
            tracing::warn!(tenant = %tenant.id, "{problem}");
        }
    }
}

/// Runs the daily consent run when due, every half minute. Mail goes through the delivery
/// worker.
async fn run_schedule(guard: Arc<Guard>, stop: tokio::sync::watch::Receiver<bool>) {
    worker::repeat_until_stopped(Duration::from_secs(30), stop, move || match guard.run_due() {
        Ok(Some(report)) => {
            tracing::info!(period = %report.period, people = report.people, requests = report.requests, "daily consent run finished")
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the scheduled run failed; it is retried at the next tick")
        }
    })
    .await;
}

/// Starts listening for SIGINT and SIGTERM at once, before the server says it is ready (a
/// signal sent right after must stop it gracefully, not kill it), and resolves when one
/// arrives. Call it inside the runtime.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let listeners = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match listeners {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {},
                    _ = terminate.recv() => {},
                }
            }
            (interrupt, terminate) => {
                let error = interrupt.err().or(terminate.err());
                tracing::warn!(error = ?error, "cannot listen for SIGTERM; stop with Ctrl-C");
                let _interrupted = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _interrupted = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}

fn import(guard: &Guard, module: &str, file: &PathBuf) -> anyhow::Result<ExitCode> {
    let input =
        std::fs::File::open(file).with_context(|| format!("could not open {}", file.display()))?;
    let records = privacy_guard_host::import::read_records(input)
        .with_context(|| format!("{} was not imported (nothing was changed)", file.display()))?;
    let bar = ProgressBar::new(records.len() as u64)
        .with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} records ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
        .with_message("importing");
    let report = guard.import_records(module, records, &|done| bar.inc(done))?;
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

/// Exit code of an edit the plugin refused.
const EDIT_REFUSED: u8 = 4;

fn edit(guard: &Guard, person: &str, set: &[String]) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    let changes = set
        .iter()
        .map(|assignment| match assignment.split_once('=') {
            Some((field, value)) if !field.trim().is_empty() => {
                Ok((field.trim().to_owned(), value.to_owned()))
            }
            _ => bail!("--set `{assignment}` must be FIELD=VALUE"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
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

fn configure_settings(guard: &Guard, settings: SettingsArgs) -> anyhow::Result<ExitCode> {
    if let Some(SettingsCommand::Show { json }) = settings.show {
        return show_settings(guard, json);
    }
    let patch = SettingsPatch {
        sender_address: settings.sender_address,
        sender_name: settings.sender_name,
        organisation: settings.organisation,
        postal_address: settings.postal_address,
        preferences_url: settings.preferences_url,
        link_valid_days: settings.link_valid_days,
        flag_new_duplicates: settings.flag_new_duplicates,
        retained_fields: match (settings.retain_nothing, settings.retained_fields) {
            (true, _) => Some(Vec::new()),
            (false, fields) if fields.is_empty() => None,
            (false, fields) => Some(fields),
        },
        confirm_changes: settings.confirm_changes.map(|policy| match policy {
            ConfirmArg::Never => ConfirmationPolicy::Never,
            ConfirmArg::OwnChanges => ConfirmationPolicy::OwnChanges,
            ConfirmArg::EveryChange => ConfirmationPolicy::EveryChange,
        }),
        ip_evidence: settings.ip_evidence.map(|policy| match policy {
            IpArg::Keep => IpPolicy::Keep,
            IpArg::Truncate => IpPolicy::Truncate,
            IpArg::Hash => IpPolicy::Hash,
            IpArg::Drop => IpPolicy::Drop,
        }),
        person_modules: (!settings.person_modules.is_empty()).then_some(settings.person_modules),
    };
    if patch.is_empty() {
        bail!(
            "no option given: name the settings to change (see `privacy-guard settings --help`), or `settings show` to print them"
        );
    }
    match guard.change_settings(patch)? {
        Ok(_) => {
            println!("settings saved (see `privacy-guard settings show`)");
            Ok(ExitCode::SUCCESS)
        }
        Err(SettingsRefusal::Missing(missing)) => bail!("the settings were not saved: {missing}"),
        Err(SettingsRefusal::Invalid(problems)) => {
            bail!("the settings were not saved:\n{}", list_problems(&problems))
        }
    }
}

/// Prints the current settings, as text or JSON.
fn show_settings(guard: &Guard, json: bool) -> anyhow::Result<ExitCode> {
    let configuration = guard.configuration()?;
    let Some(settings) = configuration.settings else {
        if json {
            println!(
                "{}",
                serde_json::json!({ "settings": null, "person_modules": configuration.person_modules })
            );
        } else {
            println!(
                "no settings are configured yet: set them with `privacy-guard settings --sender-address ...`"
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let confirm = match settings.confirm_changes {
        ConfirmationPolicy::Never => "never",
        ConfirmationPolicy::OwnChanges => "own-changes",
        ConfirmationPolicy::EveryChange => "every-change",
    };
    let ip = match settings.ip_evidence {
        IpPolicy::Keep => "keep",
        IpPolicy::Truncate => "truncate",
        IpPolicy::Hash => "hash",
        IpPolicy::Drop => "drop",
    };
    let rows: Vec<(&str, serde_json::Value)> = vec![
        ("sender-address", settings.sender_address.into()),
        ("sender-name", settings.sender_name.into()),
        ("organisation", settings.organisation.into()),
        ("postal-address", settings.postal_address.into()),
        ("preferences-url", settings.preferences_url.into()),
        ("link-valid-days", settings.link_valid_days.into()),
        ("flag-new-duplicates", settings.flag_new_duplicates.into()),
        ("retained-fields", settings.retained_fields.into()),
        ("confirm-changes", confirm.into()),
        ("ip-evidence", ip.into()),
        ("person-modules", configuration.person_modules.into()),
    ];
    if json {
        let object: serde_json::Map<String, serde_json::Value> = rows
            .into_iter()
            .map(|(name, value)| (name.replace('-', "_"), value))
            .collect();
        println!("{}", serde_json::Value::Object(object));
    } else {
        for (name, value) in rows {
            let text = match value {
                serde_json::Value::String(text) => text.replace('\n', "\n    "),
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            println!("{name}: {text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a person's freshly signed preferences link.
fn preferences_link(guard: &Guard, person: &str, json: bool) -> anyhow::Result<ExitCode> {
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

#[allow(clippy::too_many_arguments)]
fn add_consent(
    guard: &Guard,
    id: String,
    module: String,
    kind: &str,
    title: String,
    purpose: String,
    default: DefaultArg,
    when: &[String],
) -> anyhow::Result<ExitCode> {
    let kind = match kind {
        "custom" => ConsentKind::Custom,
        "email-tracking" => ConsentKind::EmailTracking,
        "document-tracking" => ConsentKind::DocumentTracking,
        other => match other.strip_prefix("data:") {
            Some(field) if !field.is_empty() => ConsentKind::Data(field.to_owned()),
            _ => bail!(
                "--kind `{other}` is not a kind: use data:FIELD, custom, email-tracking or document-tracking"
            ),
        },
    };
    let applies_when = when
        .iter()
        .map(|clause| parse_clause(clause))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let definition = ConsentDefinition {
        id,
        module,
        kind,
        title,
        purpose,
        default_value: match default {
            DefaultArg::Yes => ConsentDefault::Yes,
            DefaultArg::No => ConsentDefault::No,
        },
        applies_when,
    };
    match guard.put_consent(&definition)? {
        Ok(stored) => {
            println!(
                "consent `{}` saved (purpose text version {}, sha256 {})",
                stored.definition.id, stored.purpose_version, stored.purpose_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => bail!("the consent was not saved:\n{}", list_problems(&problems)),
    }
}

fn parse_clause(clause: &str) -> anyhow::Result<ConditionClause> {
    let mut parts = clause.splitn(3, ' ');
    let (Some(field), Some(op)) = (parts.next(), parts.next()) else {
        bail!(
            "--when `{clause}` must be `FIELD one-of A,B`, `FIELD none-of A,B`, `FIELD present` or `FIELD absent`"
        );
    };
    let values: Vec<String> = parts
        .next()
        .map(|values| {
            values
                .split(',')
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let op = match op {
        "one-of" => ConditionOp::OneOf,
        "none-of" => ConditionOp::NoneOf,
        "present" => ConditionOp::Present,
        "absent" => ConditionOp::Absent,
        other => bail!(
            "--when `{clause}`: `{other}` is not an operator; use one-of, none-of, present or absent"
        ),
    };
    Ok(ConditionClause {
        field: field.to_owned(),
        op,
        values,
    })
}

fn list_fields(guard: &Guard, module: &str) -> anyhow::Result<ExitCode> {
    let classes = guard.field_classes(module)?;
    if classes.is_empty() {
        println!("no field of {module} is classified");
    }
    for class in &classes {
        println!("{module}.{}: {}", class.field, describe_class(class));
    }
    let suggested = guard.suggested_data_consents(module)?;
    if suggested.is_empty() {
        println!("suggested data consents: none");
    } else {
        println!("suggested data consents: {}", suggested.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `personal, sensitive, encrypted` or `not personal`.
fn describe_class(class: &FieldClass) -> String {
    if !class.personal {
        return "not personal".to_owned();
    }
    let mut words = vec!["personal"];
    words.push(if class.essential {
        "essential"
    } else {
        "non-essential"
    });
    if class.sensitive {
        words.push("sensitive");
    }
    if class.encrypted {
        words.push("encrypted");
    }
    words.join(", ")
}

fn list_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  - {}: {}", problem.at, problem.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn list_consents(guard: &Guard) -> anyhow::Result<ExitCode> {
    let snapshot = guard.configuration()?;
    println!(
        "consents are {}",
        if snapshot.enabled {
            "enabled"
        } else {
            "not enabled"
        }
    );
    for stored in &snapshot.consents {
        let definition = &stored.definition;
        let kind = match &definition.kind {
            ConsentKind::Data(field) => format!("data:{field}"),
            ConsentKind::Custom => "custom".into(),
            ConsentKind::EmailTracking => "email-tracking".into(),
            ConsentKind::DocumentTracking => "document-tracking".into(),
        };
        println!(
            "{}\t{}\t{}\tv{}\t{}",
            definition.id, definition.module, kind, stored.purpose_version, definition.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn enable(guard: &Guard, confirmed: bool) -> anyhow::Result<ExitCode> {
    match guard.enable(confirmed)? {
        Ok(()) => {
            if confirmed {
                println!(
                    "contacts and leads sharing an address were de-duplicated (see `privacy-guard dedupe`)"
                );
            }
            println!(
                "consents are enabled; the daily consent run sends the first requests at its next scheduled time"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(missing) => {
            let lines: Vec<&str> = missing
                .iter()
                .map(|prerequisite| match prerequisite {
                    Prerequisite::DeduplicationNotConfirmed => {
                        "confirm de-duplication with --confirm-deduplication"
                    }
                    Prerequisite::SenderNotConfigured => {
                        "set the sender with `privacy-guard settings`"
                    }
                    Prerequisite::NoConsentDefined => {
                        "define a consent with `privacy-guard consent add`"
                    }
                })
                .collect();
            bail!(
                "consents were not enabled; first:\n  - {}\nthen run `privacy-guard enable --confirm-deduplication` again",
                lines.join("\n  - ")
            )
        }
    }
}

fn dedupe(guard: &Guard, apply: bool) -> anyhow::Result<ExitCode> {
    if apply {
        let report = guard.deduplicate()?;
        println!(
            "{} group(s) of records sharing an address: {} duplicate(s) newly flagged, {} already flagged, {} address(es) given to their primary",
            report.groups, report.newly_flagged, report.already_flagged, report.owners_changed
        );
        return Ok(ExitCode::SUCCESS);
    }
    let plan = guard.deduplication_preview()?;
    let record = |record: &RecordRef| format!("{}/{}", record.module, record.id);
    for group in &plan.groups {
        println!("{}", group.address);
        println!("  keep   {} (modified last)", record(&group.primary));
        for duplicate in &group.duplicates {
            println!("  flag   {}", record(duplicate));
        }
    }
    println!(
        "{} record(s) looked at: {} group(s), {} duplicate(s) to flag; nothing was changed (run `privacy-guard dedupe --apply` to flag them)",
        plan.records,
        plan.groups.len(),
        plan.duplicates
    );
    Ok(ExitCode::SUCCESS)
}

fn run_daily(guard: &Guard, period: Option<String>) -> anyhow::Result<ExitCode> {
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
    let bar = ProgressBar::new_spinner().with_message(format!("daily consent run {period}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    let report = guard.run_daily(&period, &|report| {
        bar.set_message(format!(
            "daily consent run {}: {} people, {} requests",
            report.period, report.people, report.requests
        ))
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

fn parse_person(text: &str) -> anyhow::Result<RecordRef> {
    match text.split_once('/') {
        Some((module, id)) if !module.is_empty() && !id.is_empty() => Ok(RecordRef {
            module: module.to_owned(),
            id: id.to_owned(),
        }),
        _ => bail!("`{text}` is not a record: write MODULE/ID, e.g. contacts/42"),
    }
}

fn show(guard: &Guard, person: &str, history: bool) -> anyhow::Result<ExitCode> {
    let person = parse_person(person)?;
    let Some(subject) = guard.subject(&person)? else {
        bail!(
            "no consents are known for {}/{}: is it imported, and does its module have consents?",
            person.module,
            person.id
        );
    };
    let status = match subject.status {
        PersonStatus::Active => "active",
        PersonStatus::Restricted => "restricted (processing stopped)",
        PersonStatus::Erased => "erased",
        PersonStatus::Duplicate => "duplicate",
    };
    println!(
        "{}/{} <{}> {status}",
        subject.person.module, subject.person.id, subject.address
    );
    for consent in &subject.consents {
        let since = chrono::DateTime::from_timestamp_millis(consent.since)
            .map(|at| at.to_rfc3339())
            .unwrap_or_default();
        println!(
            "  {}\t{}\tsince {}\t(purpose v{})",
            consent.consent_id,
            value_name(consent.value),
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

fn value_name(value: ConsentValue) -> &'static str {
    match value {
        ConsentValue::NotApplicable => "not-applicable",
        ConsentValue::Applicable => "applicable",
        ConsentValue::Waiting => "waiting",
        ConsentValue::Granted => "granted",
        ConsentValue::NotGranted => "not-granted",
    }
}

fn reason_name(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::ConsentsNotEnabled => "consents-not-enabled",
        RefusalReason::PurposeUnknown => "purpose-unknown",
        RefusalReason::InvalidAddress => "invalid-address",
        RefusalReason::UnknownRecipient => "unknown-recipient",
        RefusalReason::ConsentNotApplicable => "consent-not-applicable",
        RefusalReason::ConsentNotRequested => "consent-not-requested",
        RefusalReason::ConsentPending => "consent-pending",
        RefusalReason::ConsentRefused => "consent-refused",
        RefusalReason::ProcessingRestricted => "processing-restricted",
        RefusalReason::Erased => "erased",
        RefusalReason::Duplicate => "duplicate",
        RefusalReason::PluginFault => "plugin-fault",
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn record_error(error: &RecordError) -> String {
    match error {
        RecordError::UnknownPerson(person) => {
            format!("the plugin does not know {}/{}", person.module, person.id)
        }
        RecordError::UnknownConsent(id) => format!("no consent `{id}`"),
        RecordError::NotApplicable(id) => format!("`{id}` does not apply to this person"),
        RecordError::EvidenceRequired => {
            "a reason or evidence is required (it is recorded)".to_owned()
        }
        RecordError::StatusRefused(why) => why.clone(),
        RecordError::ActorRequired => {
            "say who is acting with --actor NAME: every staff action names its actor".to_owned()
        }
    }
}

fn record_decision(
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

fn message_class(class: ClassArg) -> MessageClass {
    match class {
        ClassArg::AdHoc => MessageClass::AdHoc,
        ClassArg::Workflow => MessageClass::Workflow,
        ClassArg::Marketing => MessageClass::Marketing,
        ClassArg::Transactional => MessageClass::Transactional,
    }
}

/// The recipients named on the command line, To first, then CC, then BCC.
fn recipients(to: &[String], cc: &[String], bcc: &[String]) -> anyhow::Result<Vec<Recipient>> {
    let recipients: Vec<Recipient> = [
        (to, RecipientRole::To),
        (cc, RecipientRole::Cc),
        (bcc, RecipientRole::Bcc),
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

fn render(
    guard: &Guard,
    class: ClassArg,
    purpose: Option<String>,
    mail: &MailContent,
    to: &[String],
    cc: &[String],
    bcc: &[String],
) -> anyhow::Result<ExitCode> {
    let recipients = recipients(to, cc, bcc)?;
    let request = SendRequest {
        class: message_class(class),
        purpose,
    };
    let renderings = guard.render(&request, mail, &recipients);
    let mut refused = false;
    for (recipient, rendering) in recipients.iter().zip(&renderings) {
        let role = match recipient.role {
            RecipientRole::To => "to",
            RecipientRole::Cc => "cc",
            RecipientRole::Bcc => "bcc",
        };
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
                    reason_name(refusal.reason),
                    refusal.detail
                );
            }
        }
        println!();
    }
    Ok(if refused {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

fn check(
    guard: &Guard,
    class: ClassArg,
    purpose: Option<String>,
    to: &[String],
    cc: &[String],
    bcc: &[String],
) -> anyhow::Result<ExitCode> {
    let class = message_class(class);
    let recipients = recipients(to, cc, bcc)?;
    let decisions = guard.check_send(&SendRequest { class, purpose }, &recipients);
    let mut refused = false;
    for (recipient, decision) in recipients.iter().zip(&decisions) {
        match decision {
            Decision::Allow(allowance) => {
                let mut obligations = Vec::new();
                if allowance
                    .obligations
                    .contains(Obligations::PREFERENCES_FOOTER)
                {
                    obligations.push("add the preferences footer");
                }
                if allowance.obligations.contains(Obligations::STRIP_TRACKING) {
                    obligations.push("strip tracking");
                }
                let basis = match allowance.basis {
                    LawfulBasis::Consent => "consent",
                    LawfulBasis::Contract => "contract",
                    LawfulBasis::LegalObligation => "legal obligation",
                    LawfulBasis::LegitimateInterests if allowance.awaiting_consent => {
                        "legitimate interests (consent requested, not answered yet)"
                    }
                    LawfulBasis::LegitimateInterests => "legitimate interests",
                };
                println!(
                    "{}\tallow\tbasis: {basis}\t{}",
                    recipient.address,
                    obligations.join(", ")
                );
            }
            Decision::Refuse(refusal) => {
                refused = true;
                println!(
                    "{}\trefuse\t{}\t{}",
                    recipient.address,
                    reason_name(refusal.reason),
                    refusal.detail
                );
            }
        }
    }
    Ok(if refused {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}
