//! The command line as clap reads it: global options, the commands and their arguments.
//! Contract enums are read by their text in [`privacy_guard_host::wire`].

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use privacy_guard_host::capabilities::CallBudget;
use privacy_guard_host::contract::configuration::{
    ConfirmationPolicy, ConsentDefault, FieldClass, IpPolicy, PurposeChange, Translation,
};
use privacy_guard_host::contract::sending::MessageClass;
use privacy_guard_host::contract::types::Regime;
use privacy_guard_host::mail::RetryPolicy;
use privacy_guard_host::wire::Wire;

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
    pub(super) data_dir: PathBuf,
    /// Database URL [default: sqlite://DATA_DIR/privacy-guard.db].
    #[arg(long, global = true, env = "PRIVACY_GUARD_DATABASE_URL")]
    pub(super) database_url: Option<String>,
    /// A component file to load instead of the one built with this host, UNVERIFIED: for
    /// developing a plugin (`serve` also needs --allow-unverified). Releases come as
    /// signed packages (--package, `package install`).
    #[arg(long, global = true, env = "PRIVACY_GUARD_COMPONENT")]
    pub(super) component: Option<PathBuf>,
    /// Memory for the cache of the plugin's state, per tenant, in MiB: the people read
    /// most stay in it; the rest is read from the database again when needed.
    #[arg(long, global = true, env = "PRIVACY_GUARD_STATE_CACHE_MIB", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub(super) state_cache_mib: u32,
    /// Let `serve` load the unverified --component.
    #[arg(long, global = true, env = "PRIVACY_GUARD_ALLOW_UNVERIFIED")]
    pub(super) allow_unverified: bool,
    /// A signed package to load, verified against the trust store first [default: the
    /// package installed with `package install`, else the component built with this host].
    #[arg(long, global = true, env = "PRIVACY_GUARD_PACKAGE")]
    pub(super) package: Option<PathBuf>,
    /// The publishers' keys packages are verified against [default:
    /// DATA_DIR/trusted-keys.toml].
    #[arg(long, global = true, env = "PRIVACY_GUARD_TRUST_STORE")]
    pub(super) trust_store: Option<PathBuf>,
    /// Pretend it is this instant (RFC 3339, e.g. 2026-12-01T10:00:00+01:00); the clock
    /// starts there and runs on. For tests, demos and replays.
    #[arg(long, global = true, env = "PRIVACY_GUARD_NOW")]
    pub(super) now: Option<String>,
    /// Local time of the daily consent run, HH:MM.
    #[arg(
        long,
        global = true,
        env = "PRIVACY_GUARD_RUN_AT",
        default_value = "10:00"
    )]
    pub(super) run_at: String,
    /// Time zone of the daily consent run (IANA name).
    #[arg(
        long,
        global = true,
        env = "PRIVACY_GUARD_TIME_ZONE",
        default_value = "UTC"
    )]
    pub(super) time_zone: String,
    /// Deliver mail through this SMTP server instead of writing `.eml` files to
    /// DATA_DIR/outbox: smtp://[USER@]HOST[:PORT][?security=starttls|tls|none]
    /// [&timeout=SECONDS][&ca_file=PEM]. The password comes from PRIVACY_GUARD_SMTP_PASSWORD
    /// or --smtp-password-file, never from the URL.
    #[arg(long, global = true, env = "PRIVACY_GUARD_SMTP_URL")]
    pub(super) smtp_url: Option<String>,
    /// A file holding the SMTP password (its first line), instead of
    /// PRIVACY_GUARD_SMTP_PASSWORD.
    #[arg(long, global = true, env = "PRIVACY_GUARD_SMTP_PASSWORD_FILE")]
    pub(super) smtp_password_file: Option<PathBuf>,
    /// Push the change feed to this endpoint (http:// or https://), signed; the secret comes
    /// from PRIVACY_GUARD_WEBHOOK_SECRET or --webhook-secret-file, never from the command
    /// line. A configuration file's tenants name their own (`webhooks = [...]`).
    #[arg(long, global = true, env = "PRIVACY_GUARD_WEBHOOK_URL")]
    pub(super) webhook_url: Option<String>,
    /// A file holding the webhook secret (its first line), instead of
    /// PRIVACY_GUARD_WEBHOOK_SECRET.
    #[arg(long, global = true, env = "PRIVACY_GUARD_WEBHOOK_SECRET_FILE")]
    pub(super) webhook_secret_file: Option<PathBuf>,
    /// Delivery attempts per mail before it is marked failed for an operator; the wait
    /// between attempts starts at 1 minute and doubles up to 1 hour.
    #[arg(long, global = true, env = "PRIVACY_GUARD_DELIVERY_ATTEMPTS", default_value_t = RetryPolicy::default().attempts, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(super) delivery_attempts: u32,
    /// A configuration file listing the tenants this host serves (TOML; see
    /// `host/src/tenants/config.rs`). Without one the host serves one tenant from these options.
    #[arg(long, global = true, env = "PRIVACY_GUARD_CONFIG")]
    pub(super) config: Option<PathBuf>,
    /// The tenant of the configuration file an administrative command works on.
    #[arg(long, global = true, env = "PRIVACY_GUARD_TENANT")]
    pub(super) tenant: Option<String>,
    /// Digest (`sha256:...`, from `privacy-guard api-key`) of an API key of the single
    /// tenant served without a configuration file; repeat or separate with commas.
    #[arg(
        long = "api-key-digest",
        global = true,
        env = "PRIVACY_GUARD_API_KEY_DIGESTS",
        value_delimiter = ','
    )]
    pub(super) api_key_digests: Vec<String>,
    /// Who is acting, recorded in every event a staff command writes (record-decision,
    /// restrict, lift-restriction, erase) [default: the operating system's user name].
    #[arg(long, global = true, env = "PRIVACY_GUARD_ACTOR")]
    pub(super) actor: Option<String>,
    /// Calls that may run in the plugin at once, per tenant (each on an instance of its
    /// own, up to 256 MiB); the others wait up to 10 s, then fail closed.
    #[arg(long, global = true, env = "PRIVACY_GUARD_PLUGIN_INSTANCES", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(super) plugin_instances: u16,
    /// NAME=LIMIT, repeatable or comma-separated: what one call may make the host hold
    /// (store-bytes, events, mails, mail-bytes, log-bytes); a call past a limit fails
    /// closed and commits nothing.
    #[arg(long = "plugin-budget", global = true, env = "PRIVACY_GUARD_PLUGIN_BUDGET", value_delimiter = ',', value_parser = budget_limit)]
    pub(super) plugin_budget: Vec<(String, u64)>,
    /// Memory one plugin instance may grow to, in MiB.
    #[arg(long, global = true, env = "PRIVACY_GUARD_PLUGIN_MEMORY_MIB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub(super) plugin_memory_mib: u32,
    /// Wall-clock time one call into the plugin may take, in seconds; past it the call
    /// fails closed.
    #[arg(long, global = true, env = "PRIVACY_GUARD_PLUGIN_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub(super) plugin_timeout_seconds: u32,
    /// Fuel mode: the instructions one call may execute (about one unit each), the same
    /// on every machine; a call past it fails closed [default: off].
    #[arg(long, global = true, env = "PRIVACY_GUARD_PLUGIN_FUEL", value_parser = clap::value_parser!(u64).range(1..))]
    pub(super) plugin_fuel: Option<u64>,
    /// How long each retention class keeps people, over the defaults: CLASS=DAYS|off,
    /// comma-separated (classes unanswered, withdrawn, bounced, inactive; `retention show`
    /// lists them). A configuration file's tenants set theirs in [tenants.retention].
    #[arg(long, global = true, env = "PRIVACY_GUARD_RETENTION", value_parser = privacy_guard_host::retention::RetentionPatch::parse)]
    pub(super) retention: Option<privacy_guard_host::retention::RetentionPatch>,
    /// The Maildir returned mail (bounces, complaints, unsubscribe mails) arrives in, read
    /// by `serve` every --feedback-poll-seconds. A configuration file's tenants set theirs
    /// in [tenants.feedback].
    #[arg(long, global = true, env = "PRIVACY_GUARD_FEEDBACK_MAILDIR")]
    pub(super) feedback_maildir: Option<std::path::PathBuf>,
    /// The VERP return path of the SMTP URL (its `return_path`), for attributing bounces.
    #[arg(long, global = true, env = "PRIVACY_GUARD_FEEDBACK_RETURN_PATH")]
    pub(super) feedback_return_path: Option<String>,
    /// Seconds between reads of --feedback-maildir.
    #[arg(long, global = true, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(super) feedback_poll_seconds: u64,
    /// Log format on standard error.
    #[arg(long, global = true, env = "PRIVACY_GUARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Serve the preferences page and run the daily consent run on schedule.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PRIVACY_GUARD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Seconds between two passes of the delivery worker (queued and retried mail).
        #[arg(long, env = "PRIVACY_GUARD_DELIVERY_INTERVAL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        delivery_interval: u64,
        /// Seconds a client has to send a request's headers; also how long an idle
        /// keep-alive connection stays open.
        #[arg(long, env = "PRIVACY_GUARD_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout: u64,
        /// Seconds from a request's headers to its answer (reading the body included);
        /// slower requests are answered 408.
        #[arg(long, env = "PRIVACY_GUARD_REQUEST_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
        request_timeout: u64,
        /// Connections served at once; more wait until one closes.
        #[arg(long, env = "PRIVACY_GUARD_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        max_connections: u32,
        #[command(flatten)]
        page_limits: super::serve::PageLimitFlags,
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
    Settings(Box<SettingsArgs>),
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
    /// Ask again at the next daily run: a new request about every consent not answered yet,
    /// for one person (`ask-again contacts/42`) or every person of a module
    /// (`ask-again --module contacts [--consent news]`).
    AskAgain {
        /// The person, MODULE/ID.
        #[arg(conflicts_with = "module", required_unless_present = "module")]
        person: Option<String>,
        /// Every person of this module whose consents are unanswered.
        #[arg(long)]
        module: Option<String>,
        /// With --module: only people whose answer to this consent is missing.
        #[arg(long, requires = "module")]
        consent: Option<String>,
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
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Show the mail exactly as each recipient must get it (tracking stripped without
    /// consent, the preferences footer for To, the postal address on marketing mail);
    /// exits with 3 if any recipient is refused.
    Render {
        #[command(flatten)]
        mail: MailArgs,
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
    /// Deliver the webhook batches that are due now and list those not delivered yet
    /// (waiting for their next attempt, or failed: the endpoint's later changes wait).
    Webhooks {
        /// First queue again the batches marked failed (after fixing the endpoint).
        #[arg(long)]
        retry_failed: bool,
    },
    /// Make a new API key: prints the key (give it to the CRM) and its named digest (put
    /// it in the configuration file or --api-key-digest; the host keeps only digests).
    ApiKey {
        /// The key's name, recorded as the actor of everything done with it (e.g.
        /// `crm-production`) [default: named after its digest].
        #[arg(long)]
        name: Option<String>,
        /// What the key may do, one or more of `pre-send` (the CRM's hooks: check-send,
        /// render, record changes, check-edit), `read` (every GET), `staff` (actions on
        /// people; implies read), `admin` (configuration; implies all), joined by `+`
        /// (e.g. `pre-send+read`) [default: admin, as keys written without scopes].
        #[arg(long)]
        scopes: Option<String>,
    },
    /// Rights requests (access, portability, rectification, erasure, restriction,
    /// objection) as cases on the legal clock (GDPR, CCPA, LGPD).
    #[command(subcommand)]
    Case(super::cases::CaseCommand),
    /// Everything held about a person (record, consents and their history, mail, cases),
    /// e.g. `export contacts/42 --format csv --output person.csv`.
    Export {
        person: String,
        #[arg(long, value_enum, default_value_t = super::cases::FormatArg::Json)]
        format: super::cases::FormatArg,
        /// Where to write it [default: standard output].
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Counts per consent by value and per person status, read from the event log, and
    /// their change per day, week or month (UTC).
    Report {
        #[arg(long)]
        json: bool,
        /// The first day (YYYY-MM-DD) whose changes are listed.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// The last day listed; the counts are those at its end [default: now].
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// day, week (ISO) or month.
        #[arg(long, default_value = "day")]
        period: String,
    },
    /// Lists of people by consent value, status and module, read from the event log.
    #[command(subcommand)]
    People(super::reports::PeopleCommand),
    /// A staff action (record-decision, restrict, ask-again) for every person of a filter,
    /// each getting their own event naming --actor; --dry-run lists who would.
    #[command(subcommand)]
    Bulk(super::reports::BulkCommand),
    /// Retention schedules: how long unanswered, withdrawn, bounced and inactive people are
    /// kept before they are erased (`show`), and erasing those whose time ran out (`run`).
    #[command(subcommand)]
    Retention(super::retention::RetentionCommand),
    /// The limits on consent requests and link mails, the web-form proof (`show`, `set`),
    /// and a form token for a web form (`form-token`).
    #[command(subcommand)]
    Safeguards(super::safeguards::SafeguardsCommand),
    /// Bounces, complaints and unsubscribe mails: read a Maildir (`intake`), report one by
    /// hand (`report`), lift a bounce (`lift`).
    #[command(subcommand)]
    Feedback(super::feedback::FeedbackCommand),
    /// The record of processing activities (GDPR Art. 30) made from the configuration,
    /// with what it cannot know marked "to be completed".
    Register {
        #[arg(long, value_enum, default_value_t = super::reports::RegisterFormat::Markdown)]
        format: super::reports::RegisterFormat,
    },
    /// Check the hash chain of the consent event log.
    VerifyEvents,
    /// Print the tenant's public key that signs checkpoints and consent receipts, in the
    /// signed-note verifier-key form `name+id+base64(0x01 || key)`: give it to auditors.
    ProofKey {
        /// Print JSON: {"verifier_key": ..., "name": ..., "origin": ...}.
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint of the consent event log (its size and head hash, as a signed
    /// note) and print it; the latest is also kept in the database.
    Checkpoint {
        /// Write the checkpoint to FILE instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Check the event log against a signed checkpoint: its signature, that the log only
    /// grew since, and that its past still hashes to the checkpoint's hash.
    VerifyLog {
        /// The checkpoint file (`privacy-guard checkpoint --output FILE`) [default: the
        /// latest checkpoint kept in the database, which only an outside copy makes proof].
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The verifier key to check the signature with [default: this tenant's own].
        #[arg(long)]
        key: Option<String>,
    },
    /// Print the signed consent receipt (a JWS) of a person's answer, e.g.
    /// `receipt contacts/42` (the latest answer) or `receipt contacts/42 --event 17`.
    Receipt {
        person: String,
        /// The sequence of the answer's event (`show PERSON --history`) [default: the latest].
        #[arg(long)]
        event: Option<u64>,
        /// Write the receipt to FILE instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Verify a consent receipt offline with the public key alone (no database): any
    /// changed byte fails. Prints the receipt's JSON when it verifies.
    VerifyReceipt {
        /// The receipt file.
        file: PathBuf,
        /// The verifier key (`privacy-guard proof-key`).
        #[arg(long)]
        key: String,
    },
    /// Create a new key for signing preferences links (older links keep working; running
    /// servers sign with it within 30 seconds).
    RotateLinkKey,
    /// Create a new key for encrypting fields at rest (values under older keys keep
    /// decrypting; running servers encrypt with it after a restart).
    RotateFieldKey,
    /// Make, sign, verify and install plugin packages.
    #[command(subcommand)]
    Package(PackageCommand),
    /// Serve the conformance kit's driver protocol on stdin/stdout (JSON lines; see
    /// `conformance/README.md`): a fresh host on a temporary database per `reset`.
    #[command(hide = true)]
    ConformanceDriver,
}

#[derive(Debug, Subcommand)]
pub(super) enum PackageCommand {
    /// Create a publisher's signing key (kept secret) and print the trust-store entry of
    /// its public key (for the hosts that are to trust the publisher).
    Keygen {
        /// Where to write the signing key (created with mode 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// The publisher's name, for the trust-store entry.
        #[arg(long, default_value = "Privacy Guard")]
        name: String,
    },
    /// Build a signed package of a component.
    Build {
        /// The signing key (`package keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the package (`.pgpkg`).
        #[arg(long)]
        out: PathBuf,
        /// The component to package [default: the one built with this host].
        #[arg(long = "wasm")]
        wasm: Option<PathBuf>,
        /// The plugin's id.
        #[arg(long, default_value = "privacy-guard")]
        id: String,
        /// The plugin's version (semver) [default: this host's version].
        #[arg(long = "plugin-version")]
        plugin_version: Option<String>,
        /// The host versions the package supports (a semver requirement) [default: this
        /// host's minor version, e.g. ^0.1].
        #[arg(long)]
        hosts: Option<String>,
    },
    /// Verify a package against the trust store and show its manifest; exit 5 when it is
    /// refused.
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Verify a package and install it: every command and `serve` load it from then on
    /// (the package installed before is kept as DATA_DIR/packages/previous.pgpkg).
    Install {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum FieldCommand {
    /// Classify a field of a module, replacing its earlier class.
    Classify {
        #[arg(long, default_value = "contacts")]
        module: String,
        #[command(flatten)]
        class: ClassArgs,
    },
    /// List a module's field classes and the data consents suggested for it.
    List {
        #[arg(long, default_value = "contacts")]
        module: String,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct SettingsArgs {
    #[command(subcommand)]
    pub(super) show: Option<SettingsCommand>,
    #[arg(long)]
    pub(super) sender_address: Option<String>,
    #[arg(long)]
    pub(super) sender_name: Option<String>,
    #[arg(long)]
    pub(super) organisation: Option<String>,
    /// The postal address printed in every mail's footer.
    #[arg(long)]
    pub(super) postal_address: Option<String>,
    /// Base URL of the preferences page; the signed token is appended [first settings
    /// default: http://127.0.0.1:8080/preferences/].
    #[arg(long)]
    pub(super) preferences_url: Option<String>,
    /// How many days a preferences link stays valid [first settings default: 30].
    #[arg(long)]
    pub(super) link_valid_days: Option<u32>,
    /// Flag a new record whose email address another active record already has as
    /// `Duplicate` (and lock it) when it is created or changed: `--flag-new-duplicates`
    /// or `--flag-new-duplicates=false`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub(super) flag_new_duplicates: Option<bool>,
    /// A field an erasure keeps for a legal obligation (e.g. `name` for invoices);
    /// repeat for several; replaces the list. `email` is always erased.
    #[arg(long = "retain-field", conflicts_with = "retain_nothing")]
    pub(super) retained_fields: Vec<String>,
    /// Retain no field at erasure (empties the list).
    #[arg(long)]
    pub(super) retain_nothing: bool,
    /// Which changes people get a confirmation mail about.
    #[arg(long, value_parser = wire::<ConfirmationPolicy>())]
    pub(super) confirm_changes: Option<ConfirmationPolicy>,
    /// What consent events keep of the IP address of a preferences-page answer.
    #[arg(long, value_parser = wire::<IpPolicy>())]
    pub(super) ip_evidence: Option<IpPolicy>,
    /// A CRM module that holds people and can carry consents (contacts, leads, accounts,
    /// a custom module); repeat for several; replaces the list [default: contacts, leads].
    #[arg(long = "person-module")]
    pub(super) person_modules: Vec<String>,
    /// The field of a person's record whose value picks their legal regime (e.g.
    /// `country`); `--regime-field ''` names none.
    #[arg(long)]
    pub(super) regime_field: Option<String>,
    /// `VALUE=REGIME`: people whose regime field holds VALUE (ignoring case) have REGIME
    /// (opt-in, opt-out, implied-consent), e.g. `--regime US=opt-out`; repeat for
    /// several; replaces the list.
    #[arg(long = "regime", value_parser = regime_value, conflicts_with = "no_regime_values")]
    pub(super) regime_values: Vec<(String, Regime)>,
    /// Map no value to a regime (empties the list).
    #[arg(long)]
    pub(super) no_regime_values: bool,
    /// The regime of everyone whose value is not mapped [first settings default: opt-in].
    #[arg(long, value_parser = wire::<Regime>())]
    pub(super) default_regime: Option<Regime>,
    /// The date field (YYYY-MM-DD) of a person's last purchase: a customer for the soft
    /// opt-in, implied consent for two years; `''` names none.
    #[arg(long)]
    pub(super) purchase_field: Option<String>,
    /// The date field (YYYY-MM-DD) of a person's last enquiry: implied consent for six
    /// months; `''` names none.
    #[arg(long)]
    pub(super) enquiry_field: Option<String>,
    /// A consent (id) for similar products that an existing customer may get marketing of
    /// under opt-in until they object (ePrivacy Art. 13(2)); repeat; replaces the list.
    #[arg(long = "soft-opt-in", conflicts_with = "no_soft_opt_in")]
    pub(super) soft_opt_in: Vec<String>,
    /// Name no consent for the soft opt-in (empties the list).
    #[arg(long)]
    pub(super) no_soft_opt_in: bool,
    /// Days after a request, and after each reminder, until the next reminder (0: none).
    #[arg(long)]
    pub(super) remind_after_days: Option<u32>,
    /// Reminders per request, at most 3 (0: none).
    #[arg(long)]
    pub(super) reminders: Option<u32>,
    /// Days after a request until an unanswered one lapses: its consents are Applicable
    /// again, never granted (0: requests never lapse).
    #[arg(long)]
    pub(super) lapse_after_days: Option<u32>,
    /// Days after a lapse until the daily run asks again, at least 30 (0: only when staff
    /// ask again with `ask-again`).
    #[arg(long)]
    pub(super) ask_again_after_days: Option<u32>,
    /// The record field holding a person's language tag (`de`, `fr-CA`); "" for none.
    #[arg(long)]
    pub(super) language_field: Option<String>,
    /// The language of everyone whose record names none the mails speak: en, de, fr, es.
    #[arg(long)]
    pub(super) default_language: Option<String>,
    /// `LANG=FILE`, repeatable: the tenant's Fluent template over the built-in mails of a
    /// language (replaces the templates given before), checked when saved.
    #[arg(long = "template", value_parser = template_file, conflicts_with = "no_templates")]
    pub(super) templates: Vec<(String, PathBuf)>,
    /// Remove every template: the mails use the built-in words.
    #[arg(long)]
    pub(super) no_templates: bool,
}

/// Reads `LANG=FILE`.
fn template_file(text: &str) -> Result<(String, PathBuf), String> {
    let (language, file) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not LANG=FILE, e.g. de=mails-de.ftl"))?;
    Ok((language.trim().to_owned(), PathBuf::from(file)))
}

/// Reads `NAME=LIMIT` of a call's budget.
fn budget_limit(text: &str) -> Result<(String, u64), String> {
    let (name, limit) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=LIMIT, e.g. mails=10000"))?;
    let limit = limit
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("`{}` is not a whole number", limit.trim()))?;
    CallBudget::default().set(name.trim(), limit)?;
    Ok((name.trim().to_owned(), limit))
}

/// Reads `VALUE=REGIME`.
fn regime_value(text: &str) -> Result<(String, Regime), String> {
    let (value, regime) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}` is not VALUE=REGIME, e.g. US=opt-out"))?;
    let regime = Regime::parse(regime.trim()).ok_or_else(|| {
        format!(
            "`{}` is not a regime: use {}",
            regime.trim(),
            Regime::texts().join(", ")
        )
    })?;
    Ok((value.to_owned(), regime))
}

#[derive(Debug, Subcommand)]
pub(super) enum SettingsCommand {
    /// Print the current settings.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ConsentCommand {
    /// Add a consent or replace the one with the same id.
    Add(ConsentArgs),
    /// List the consents.
    List,
    /// Delete a consent: its values stop being collected, its history stays; a data
    /// consent's field is removed from the layout.
    Delete { id: String },
}

#[derive(Debug, Args)]
pub(super) struct ConsentArgs {
    #[arg(long)]
    pub(super) id: String,
    #[arg(long, default_value = "contacts")]
    pub(super) module: String,
    /// `data:FIELD`, `custom`, `email-tracking` or `document-tracking`.
    #[arg(long)]
    pub(super) kind: String,
    #[arg(long)]
    pub(super) title: String,
    /// The exact text shown to people.
    #[arg(long)]
    pub(super) purpose: String,
    #[arg(long, value_parser = wire::<ConsentDefault>(), default_value = "no")]
    pub(super) default: ConsentDefault,
    /// A condition clause, repeatable, all must hold: `FIELD one-of A,B`,
    /// `FIELD none-of A,B`, `FIELD present`, `FIELD absent`. None: applies to everyone.
    #[arg(long = "when")]
    pub(super) when: Vec<String>,
    /// Needed when the purpose text of an existing consent changes: `correction` (grants
    /// of the earlier text still count) or `material` (people who granted it are asked
    /// again, and marketing to them is refused until they answer).
    #[arg(long, value_parser = wire::<PurposeChange>())]
    pub(super) purpose_change: Option<PurposeChange>,
    /// `LANG|TITLE|PURPOSE`, repeatable: the title and purpose text in another language
    /// (en, de, fr, es). Changing a translated purpose is a change of the purpose text.
    #[arg(long = "translation", value_parser = translation)]
    pub(super) translations: Vec<Translation>,
    /// Months a grant counts, 2 to 120; the daily run asks to renew it 30 days before
    /// (0: until withdrawn).
    #[arg(long, default_value_t = 0)]
    pub(super) max_age_months: u32,
}

/// Reads `LANG|TITLE|PURPOSE`.
fn translation(text: &str) -> Result<Translation, String> {
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(language), Some(title), Some(purpose)) => Ok(Translation {
            language: language.trim().to_owned(),
            title: title.to_owned(),
            purpose: purpose.to_owned(),
        }),
        _ => Err(format!(
            "`{text}` is not LANG|TITLE|PURPOSE, e.g. \"de|Neuigkeiten|Wir senden Ihnen monatlich Neuigkeiten.\""
        )),
    }
}

#[derive(Debug, Args)]
pub(super) struct ClassArgs {
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
}

impl From<ClassArgs> for FieldClass {
    fn from(class: ClassArgs) -> FieldClass {
        FieldClass {
            field: class.field,
            personal: class.personal,
            essential: class.essential,
            sensitive: class.sensitive,
            encrypted: class.encrypted,
        }
    }
}

/// A mail as `check` and `render` name it: its class, purpose and recipients.
#[derive(Debug, Args)]
pub(super) struct MailArgs {
    #[arg(long, value_parser = wire::<MessageClass>())]
    pub(super) class: MessageClass,
    /// The consent the mail relies on (needed for marketing).
    #[arg(long)]
    pub(super) purpose: Option<String>,
    #[arg(long)]
    pub(super) to: Vec<String>,
    #[arg(long)]
    pub(super) cc: Vec<String>,
    #[arg(long)]
    pub(super) bcc: Vec<String>,
}

/// Reads a contract enum by its text in the wire table, and offers the table's values (with
/// their help) in `--help` and in the error for a value that is not one.
#[derive(Clone)]
pub(super) struct WireParser<T>(PhantomData<T>);

/// The parser of `T`'s values, for `#[arg(value_parser = wire::<T>())]`.
pub(super) fn wire<T: Wire>() -> WireParser<T> {
    WireParser(PhantomData)
}

impl<T: Wire> WireParser<T> {
    fn values() -> impl Iterator<Item = PossibleValue> {
        T::TABLE
            .iter()
            .map(|(_, text, help)| PossibleValue::new(*text).help(*help))
    }
}

impl<T: Wire> TypedValueParser for WireParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        command: &clap::Command,
        argument: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = PossibleValuesParser::new(Self::values()).parse_ref(command, argument, value)?;
        T::parse(&text).ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidValue))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(Self::values()))
    }
}
