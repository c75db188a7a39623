//! The reference host as one object: the plugin runtime, storage, mail and schedule put
//! together behind a synchronous API that the CLI, the web server and the tests share.
//!
//! Every operation is one unit of work: the plugin's writes are committed in one
//! transaction after the call (or calls) returned, then queued mail is delivered.
//! Mutating operations are serialised by one writer lock, so two of them never interleave
//! their reads and writes; the pre-send check only reads and runs alongside them.
//!
//! The methods block: call them from ordinary threads, or through
//! `tokio::task::spawn_blocking` from async code.

mod cases;
mod configuration;
mod daily_run;
mod dynamic;
mod export;
pub mod io;
mod mail;
mod people;
mod proof;
mod records;
mod reports;
mod retention;
mod safeguards;
mod sending;
mod webhooks;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use wasmtime::Store;

use crate::capabilities::Capabilities;
use crate::capabilities::HostState;
use crate::clock::Clock;
use crate::contract::Bindings;
use crate::keys::LinkKeys;
use crate::mail::smtp::SmtpSettingsError;
use crate::mail::{DeliveryReport, Outbox, RetryPolicy, Transport};
use crate::runtime::{Fault, LoadError, Runtime, SandboxLimits};
use crate::schedule::DailySchedule;
use crate::storage::{Database, LedgerCheck, StorageError, UnitOfWork};

pub use self::cases::{
    CASE_LIST_LIMIT, CaseListFilter, CaseRefusal, CaseRequest, CompletedCase, Completion,
};
pub use self::configuration::SettingsRefusal;
pub use self::daily_run::{DAILY_RUN_PAGE, DueRun, RunReport};
pub use self::dynamic::{Arguments as ExportArguments, ExportAnswer};
pub use self::records::{EditRejection, ImportReport, ImportedRecord};
pub use self::reports::{BulkAction, BulkItem, BulkOutcome, BulkPage, PEOPLE_PAGE_LIMIT};
pub use self::retention::{RetentionItem, RetentionOutcome, RetentionRequest, RetentionSummary};
pub use self::safeguards::IntakeConfig;
/// The safeguards' types (their report is `contract::safeguards::DeliveryReport`).
pub use crate::contract::safeguards::{
    FeedbackError, FeedbackKind, FeedbackOutcome, LinkMail, SafeguardSettings, WebFormProof,
};

/// How often a unit of work is re-run after another host process committed first.
const CONFLICT_RETRIES: usize = 5;
/// Records handed to the plugin per `records-changed` call during an import.
pub const IMPORT_PAGE: usize = 500;

/// Where the component comes from.
#[derive(Debug, Clone)]
pub enum ComponentSource {
    /// The component built with this host (`cargo build` builds both).
    Embedded,
    /// A component file, loaded unverified: for developing a plugin.
    File(PathBuf),
    /// A signed package (`crate::package`), loaded only once verified against the trust
    /// store: how a plugin release reaches a host.
    Package {
        path: PathBuf,
        trust: crate::package::TrustStore,
    },
}

/// Everything needed to open a host.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// `sqlite://PATH?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// Where compiled components are cached; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    pub component: ComponentSource,
    pub clock: Clock,
    pub limits: SandboxLimits,
    pub transport: Transport,
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    pub schedule: DailySchedule,
}

/// Why a host operation failed. A refusal by the plugin is not an error: it comes back
/// as the operation's own result type.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the plugin failed, nothing was changed: {0}")]
    Plugin(#[from] Fault),
    #[error("the mail transport cannot be set up: {0}")]
    Mail(#[from] SmtpSettingsError),
    #[error("could not start the host's async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the daily consent run was refused: {0}")]
    Job(String),
    /// A tenant's guard, opened on first use, could not be opened (its database, keys or
    /// plugin); the text names the tenant and the cause.
    #[error("{0}")]
    Open(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The component does not offer what was asked (an export of a later contract).
    #[error("{0}")]
    NotOffered(String),
    /// A proof (checkpoint, receipt) could not be made.
    #[error(transparent)]
    Proof(#[from] crate::proof::ProofError),
    /// The thread running a server request's host operation failed.
    #[error("the worker running the request failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

impl GuardError {
    /// The error in one line, for whoever asked: the operator's log has the whole of it.
    pub fn summary(&self) -> String {
        match self {
            GuardError::Plugin(fault) => format!(
                "the plugin failed, nothing was changed: {}",
                fault.summary()
            ),
            other => other
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// The host.
pub struct Guard {
    runtime: Runtime,
    outbox: Outbox,
    schedule: DailySchedule,
    writer: Mutex<()>,
    /// A committed unit erased values that are not purged from the files yet.
    purge_due: AtomicBool,
    /// The tenant's webhook endpoints, when it has any (`guard/webhooks.rs`).
    webhooks: std::sync::OnceLock<crate::webhooks::Webhooks>,
    /// Counts commits that appended events: the webhook worker waits on it.
    events_committed: tokio::sync::watch::Sender<u64>,
    /// The process's async runtime ([`io::runtime`]), shared by every guard.
    tokio: tokio::runtime::Handle,
    /// The people as the whole log says, kept by the last list or report and read on from
    /// its last event by the next (`guard/reports.rs`), so the pages of a list do not each
    /// read the whole log again.
    people_fold: Mutex<Option<reports::KeptFold>>,
    /// The retention schedules' settings, when set at opening (`guard/retention.rs`).
    retention: std::sync::OnceLock<crate::retention::RetentionSettings>,
    /// The Maildir of returned mail a serving host reads, when set (`guard/safeguards.rs`).
    feedback_intake: std::sync::OnceLock<IntakeConfig>,
}

impl Guard {
    /// Opens the database (applying migrations), loads the link keys and the component.
    pub fn open(options: GuardOptions) -> Result<Guard, GuardError> {
        let tokio = io::runtime().map_err(GuardError::Runtime)?;
        let now = options.clock.now_millis();
        let database = tokio.block_on(Database::connect(&options.database_url))?;
        let keys = tokio.block_on(LinkKeys::load_or_create(&database, now))?;
        tokio.block_on(database.load_field_keys(now))?;
        let capabilities = Capabilities::new(
            database.clone(),
            options.clock.clone(),
            keys,
            tokio.handle().clone(),
        );
        let component_bytes: std::borrow::Cow<'static, [u8]> = match &options.component {
            // Borrowed, not copied: the runtime recognises it and hashes it once a process.
            ComponentSource::Embedded => crate::EMBEDDED_COMPONENT.into(),
            ComponentSource::File(path) => {
                tracing::warn!(component = %path.display(), "loading an UNVERIFIED component (no signature, no trust store): for development only; install a signed package instead");
                std::fs::read(path)
                    .map_err(|source| LoadError::Read {
                        path: path.clone(),
                        source,
                    })?
                    .into()
            }
            ComponentSource::Package { path, trust } => {
                let package = std::fs::read(path).map_err(|source| LoadError::Read {
                    path: path.clone(),
                    source,
                })?;
                let verified = crate::package::verify(&package, trust).map_err(|source| {
                    LoadError::Package {
                        path: path.clone(),
                        source,
                    }
                })?;
                tracing::info!(package = %path.display(), id = %verified.manifest.id, version = %verified.manifest.version, publisher = %verified.publisher, key = %verified.manifest.publisher_key_id, "loading a verified package");
                verified.component.into()
            }
        };
        let runtime = Runtime::load(
            &component_bytes,
            options.cache_dir.as_deref(),
            options.limits,
            capabilities,
        )?;
        let outbox = {
            // The SMTP connection pool lives on the runtime that delivers.
            let _runtime = tokio.enter();
            Outbox::new(database, options.transport, options.retry)?
        };
        // Which fields are encrypted is asked of the plugin before the first write (see
        // `unit`), not here: a plugin that cannot answer must not stop the host opening.
        Ok(Guard {
            runtime,
            outbox,
            schedule: options.schedule,
            writer: Mutex::new(()),
            purge_due: AtomicBool::new(false),
            webhooks: std::sync::OnceLock::new(),
            events_committed: tokio::sync::watch::Sender::new(0),
            tokio: tokio.handle().clone(),
            people_fold: Mutex::new(None),
            retention: std::sync::OnceLock::new(),
            feedback_intake: std::sync::OnceLock::new(),
        })
    }

    fn capabilities(&self) -> &Capabilities {
        self.runtime.capabilities()
    }

    /// How many plugin instances this host has made: never more alive at once than the
    /// sandbox's `max_instances`.
    pub fn plugin_instances_made(&self) -> usize {
        self.runtime.instances_made()
    }

    /// The host's clock.
    pub fn clock(&self) -> &Clock {
        self.capabilities().clock()
    }

    /// The database.
    pub fn database(&self) -> &Database {
        self.capabilities().database()
    }

    /// The daily schedule.
    pub fn schedule(&self) -> DailySchedule {
        self.schedule
    }

    /// Runs `future` on the process's runtime and waits for it. Never call it on one of the
    /// runtime's own worker threads (it would panic): async code calls guard methods
    /// through `spawn_blocking`, whose threads may wait.
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.tokio.block_on(future)
    }

    // ---- units of work -------------------------------------------------------------

    /// Runs one read-only call on current state. Anything it wrote is discarded (and
    /// reported).
    fn read<T>(
        &self,
        call: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<T, GuardError> {
        self.block_on(self.database().refresh())?;
        self.read_cached(call)
    }

    /// [`Guard::read`] for the hot path: the cache is checked against other host processes
    /// at most once a second instead of before every call.
    fn read_hot<T>(
        &self,
        call: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<T, GuardError> {
        self.block_on(self.database().refresh_for_read())?;
        self.read_cached(call)
    }

    fn read_cached<T>(
        &self,
        call: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<T, GuardError> {
        let (value, work) = self.runtime.with_instance(UnitOfWork::default(), call)?;
        if !work.is_empty() {
            tracing::warn!("the plugin wrote during a read-only call; the writes were discarded");
        }
        Ok(value)
    }

    /// Runs one call as a unit of work and commits what it wrote.
    fn write<T>(
        &self,
        call: impl Fn(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<T, GuardError> {
        self.unit(|| Ok(self.runtime.with_instance(UnitOfWork::default(), &call)?))
            .map(|(value, _delivered)| value)
    }

    /// Runs `unit` (one or more plugin calls returning what they wrote) under the writer
    /// lock on fresh state, and commits it. When another host process committed first, the
    /// unit is thrown away and run again, so no change is ever made on stale state. Values
    /// the unit erased are purged from the database's files before this returns.
    fn unit<T>(
        &self,
        unit: impl FnMut() -> Result<(T, UnitOfWork), GuardError>,
    ) -> Result<(T, DeliveryReport), GuardError> {
        let outcome = self.unit_deferring_purge(unit)?;
        self.purge_erased_values()?;
        Ok(outcome)
    }

    /// [`Guard::unit`] for one step of a longer operation (a page of the daily run): the
    /// purge of erased values waits for [`Guard::purge_erased_values`] at its end, so a
    /// run that erases in many pages rewrites PostgreSQL's tables once, not per page.
    fn unit_deferring_purge<T>(
        &self,
        mut unit: impl FnMut() -> Result<(T, UnitOfWork), GuardError>,
    ) -> Result<(T, DeliveryReport), GuardError> {
        // Records are written only once the plugin has said which fields are encrypted.
        if !self.database().encrypted_fields_known() {
            self.refresh_encrypted_fields()?;
        }
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut attempt = 1;
        loop {
            self.block_on(self.database().refresh())?;
            // Another process may have classified a field `encrypted` since: ask the plugin
            // again, so this unit never writes that field in plain text.
            if self.database().take_foreign_commit() {
                self.refresh_encrypted_fields()?;
            }
            let (value, work) = unit()?;
            match self.commit(work) {
                Ok(delivered) => return Ok((value, delivered)),
                Err(GuardError::Storage(StorageError::Conflict)) if attempt < CONFLICT_RETRIES => {
                    tracing::info!(
                        attempt,
                        "another host process committed first; running the unit of work again"
                    );
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Commits a unit of work and delivers the mail it queued. A delivery failure leaves
    /// the mail queued for the next delivery pass; it does not undo the commit. The
    /// transport's copies of delivered mail to an address the unit forgot are destroyed,
    /// and erased values are marked for [`Guard::purge_erased_values`].
    fn commit(&self, work: UnitOfWork) -> Result<DeliveryReport, GuardError> {
        let now = self.clock().now_millis();
        let committed = self.block_on(self.database().commit(&work, now))?;
        Ok(self.after_commit(
            &committed,
            work.values_to_purge,
            !work.events.is_empty(),
            !work.mails.is_empty(),
        ))
    }

    /// What follows every commit (a unit's, or a streamed import's): erased values marked
    /// for [`Guard::purge_erased_values`], the webhook worker woken when events were
    /// appended, the transport's copies of mail to a forgotten address destroyed, and the
    /// queued mail delivered.
    fn after_commit(
        &self,
        committed: &crate::storage::Committed,
        values_to_purge: bool,
        appended_events: bool,
        queued_mail: bool,
    ) -> DeliveryReport {
        if values_to_purge {
            self.purge_due.store(true, Ordering::SeqCst);
        }
        if appended_events {
            self.events_committed.send_modify(|commits| *commits += 1);
        }
        for message_id in &committed.forgotten_deliveries {
            if let Err(error) = self.outbox.destroy_delivered_copy(message_id) {
                tracing::error!(
                    message_id,
                    %error,
                    "could not delete the delivered copy of an erased person's mail; delete the file by hand"
                );
            }
        }
        if queued_mail {
            self.deliver_mail_logged()
        } else {
            DeliveryReport::default()
        }
    }

    /// Makes the values erased since the last purge unreadable in the database's files
    /// (see [`Database::purge_erased`]); nothing when no unit erased anything.
    pub fn purge_erased_values(&self) -> Result<(), GuardError> {
        if self.purge_due.swap(false, Ordering::SeqCst)
            && let Err(error) = self.block_on(self.database().purge_erased())
        {
            self.purge_due.store(true, Ordering::SeqCst);
            return Err(error.into());
        }
        Ok(())
    }

    /// Creates a new link-signing key and signs with it from now on. Links signed with
    /// older keys keep working; other host processes sign with it within
    /// [`crate::keys::SIGNING_REFRESH`] and verify its links at once.
    pub fn rotate_link_key(&self) -> Result<String, GuardError> {
        let id = self.block_on(crate::keys::rotate(
            self.database(),
            self.clock().now_millis(),
        ))?;
        self.block_on(self.capabilities().keys().reload(self.database()))?;
        Ok(id)
    }

    /// Whether the host can reach its database (for health checks).
    pub fn check_health(&self) -> Result<(), GuardError> {
        Ok(self.block_on(self.database().refresh())?)
    }

    /// Checks the event log's hash chain.
    pub fn verify_ledger(&self) -> Result<LedgerCheck, GuardError> {
        Ok(self.block_on(self.database().verify_ledger())?)
    }
}
