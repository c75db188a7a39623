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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use wasmtime::Store;

use crate::capabilities::Capabilities;
use crate::capabilities::HostState;
use crate::clock::Clock;
use crate::contract::Bindings;
use crate::contract::configuration::{
    ConsentDefinition, FieldClass, Prerequisite, Problem, Settings, Snapshot, StoredDefinition,
};
use crate::contract::deduplication::{Plan, Report};
use crate::contract::jobs::JobError;
use crate::contract::preferences::{Choice, Evidence, LinkError, Page, SubmitError};
use crate::contract::records::{ChangeSummary, EditRefusal};
use crate::contract::sending::{
    Decision, MailContent, Recipient, Refusal, RefusalReason, Rendering, SendRequest,
};
use crate::contract::subjects::{ErasureReport, RecordError, StaffActor, SubjectView};
use crate::contract::tracking::TrackingKind;
use crate::contract::types::{Field, RecordRef};
use crate::keys::LinkKeys;
use crate::mail::smtp::SmtpSettingsError;
use crate::mail::{DeliveryError, DeliveryReport, Outbox, RetryPolicy, Transport};
use crate::runtime::{Fault, LoadError, Runtime, SandboxLimits};
use crate::schedule::{DAILY_CONSENT_RUN, DailySchedule, period_key};
use crate::settings::{MissingOptions, SettingsPatch};
use crate::storage::{
    Database, JobProgress, LedgerCheck, MailDelivery, RecordRow, StorageError, UnitOfWork,
};

/// The modules whose fields the plugin classifies.
const ENCRYPTABLE_MODULES: [&str; 2] = ["contacts", "leads"];
/// How often a unit of work is re-run after another host process committed first.
const CONFLICT_RETRIES: usize = 5;
/// Records handed to the plugin per `records-changed` call during an import.
const IMPORT_PAGE: usize = 500;
/// People handled per page of the daily run; each page commits on its own.
const DAILY_RUN_PAGE: u32 = 200;

/// Where the component comes from.
#[derive(Debug, Clone)]
pub enum ComponentSource {
    /// The component built with this host (`cargo build` builds both).
    Embedded,
    /// A component file, e.g. a newer plugin release.
    File(PathBuf),
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
    #[error("invalid input: {0}")]
    Invalid(String),
}

/// A record to import: its id if the source has one, its fields, and what the CRM says of
/// it (its status, when it last modified it), which de-duplication relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRecord {
    pub id: Option<String>,
    pub fields: Vec<(String, String)>,
    /// The CRM's status; a new record without one is `Active`, an existing one keeps its.
    pub status: Option<String>,
    /// When the CRM last modified the record (unix ms); the import's time when not given.
    pub modified_at: Option<i64>,
}

/// Why a change of settings was not saved.
#[derive(Debug, Clone)]
pub enum SettingsRefusal {
    /// No settings exist yet and the change does not give the options they need.
    Missing(MissingOptions),
    /// The plugin refused the settings the change would make.
    Invalid(Vec<Problem>),
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub consents_changed: u64,
    /// Columns not imported because their field was removed from the layout.
    pub ignored_fields: Vec<String>,
}

/// Why a user's edit of a record was not saved.
#[derive(Debug, Clone)]
pub enum EditRejection {
    /// No record with this module and id.
    NotFound,
    /// The plugin refused these fields (the record-change refusal hook); nothing was saved.
    Refused(Vec<EditRefusal>),
}

/// Which daily consent run is due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueRun {
    /// Consents are not enabled: no run is due.
    NotEnabled,
    /// Consents are enabled, but their first scheduled run has not come yet.
    NotYet {
        first: chrono::DateTime<chrono::Utc>,
    },
    /// The run of this period (`YYYY-MM-DD`) is due (it may have run already).
    Period(String),
}

/// What a daily run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub period: String,
    /// False when the period had already been run to the end: nothing was done.
    pub ran: bool,
    pub people: u64,
    pub requests: u64,
    pub mail: DeliveryReport,
}

/// The host.
pub struct Guard {
    runtime: Runtime,
    outbox: Outbox,
    schedule: DailySchedule,
    writer: Mutex<()>,
    /// A committed unit erased values that are not purged from the files yet.
    purge_due: AtomicBool,
    tokio: Option<tokio::runtime::Runtime>,
}

impl Guard {
    /// Opens the database (applying migrations), loads the link keys and the component.
    pub fn open(options: GuardOptions) -> Result<Guard, GuardError> {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("privacy-guard-io")
            .enable_all()
            .build()
            .map_err(GuardError::Runtime)?;
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
        let component_bytes = match &options.component {
            ComponentSource::Embedded => crate::EMBEDDED_COMPONENT.to_vec(),
            ComponentSource::File(path) => {
                std::fs::read(path).map_err(|source| LoadError::Read {
                    path: path.clone(),
                    source,
                })?
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
            tokio: Some(tokio),
        })
    }

    fn capabilities(&self) -> &Capabilities {
        self.runtime.capabilities()
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

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        match &self.tokio {
            Some(tokio) => tokio.block_on(future),
            // `tokio` is only taken in `drop`.
            None => unreachable!("the guard's runtime is gone only while dropping"),
        }
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
        let queued_mail = !work.mails.is_empty();
        let now = self.clock().now_millis();
        let committed = self.block_on(self.database().commit(&work, now))?;
        if work.values_to_purge {
            self.purge_due.store(true, Ordering::SeqCst);
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
        Ok(if queued_mail {
            self.deliver_mail_logged()
        } else {
            DeliveryReport::default()
        })
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

    fn deliver_mail_logged(&self) -> DeliveryReport {
        match self.deliver_mail() {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(%error, "mail delivery stopped; the mail stays queued and is retried");
                DeliveryReport::default()
            }
        }
    }

    /// Delivers every queued mail that is due now (see [`crate::mail`] for retries).
    pub fn deliver_mail(&self) -> Result<DeliveryReport, DeliveryError> {
        self.block_on(self.outbox.deliver_pending(self.clock().now_millis()))
    }

    /// Mail not delivered yet, waiting for an attempt or failed for good, oldest first.
    pub fn undelivered_mail(&self, limit: u32) -> Result<Vec<MailDelivery>, GuardError> {
        Ok(self.block_on(self.database().undelivered_mail(limit))?)
    }

    /// The delivery state of one queued mail.
    pub fn mail_delivery(&self, message_id: &str) -> Result<Option<MailDelivery>, GuardError> {
        Ok(self.block_on(self.database().mail_delivery(message_id))?)
    }

    /// Queues every mail that failed for good again, due now with a fresh count of
    /// attempts (after an operator fixed the cause). Returns how many.
    pub fn retry_failed_mail(&self) -> Result<u64, GuardError> {
        let now = self.clock().now_millis();
        Ok(self.block_on(self.database().requeue_failed_mail(now))?)
    }

    // ---- configuration -------------------------------------------------------------

    /// Replaces the organisation-wide settings.
    pub fn set_settings(
        &self,
        settings: &Settings,
    ) -> Result<Result<(), Vec<Problem>>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_set_settings(store, settings)
        })
    }

    /// Changes the options `patch` gives and keeps the others, in one unit of work;
    /// returns the settings as saved.
    pub fn change_settings(
        &self,
        patch: SettingsPatch,
    ) -> Result<Result<Settings, SettingsRefusal>, GuardError> {
        let (outcome, _delivered) = self.unit(|| {
            let (current, work) = self
                .runtime
                .with_instance(UnitOfWork::default(), |store, plugin| {
                    plugin.privacy_guard_consent_configuration().call_get(store)
                })?;
            let settings = match patch.clone().apply(current.settings) {
                Ok(settings) => settings,
                Err(missing) => {
                    return Ok((
                        Err(SettingsRefusal::Missing(missing)),
                        UnitOfWork::default(),
                    ));
                }
            };
            let (saved, work) = self.runtime.with_instance(work, |store, plugin| {
                plugin
                    .privacy_guard_consent_configuration()
                    .call_set_settings(store, &settings)
            })?;
            if let Err(problems) = saved {
                return Ok((
                    Err(SettingsRefusal::Invalid(problems)),
                    UnitOfWork::default(),
                ));
            }
            let (after, work) = self.runtime.with_instance(work, |store, plugin| {
                plugin.privacy_guard_consent_configuration().call_get(store)
            })?;
            Ok((
                after.settings.ok_or(SettingsRefusal::Invalid(Vec::new())),
                work,
            ))
        })?;
        Ok(outcome)
    }

    /// Adds or replaces a consent definition.
    pub fn put_consent(
        &self,
        definition: &ConsentDefinition,
    ) -> Result<Result<StoredDefinition, Vec<Problem>>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_put_consent(store, definition)
        })
    }

    /// Deletes a consent: its values stop being collected, its history stays, and a data
    /// consent's field is removed from the layout.
    pub fn delete_consent(
        &self,
        id: &str,
    ) -> Result<Result<StoredDefinition, Problem>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_delete_consent(store, id)
        })
    }

    /// The fields removed from `module`'s layout.
    pub fn removed_layout_fields(&self, module: &str) -> Result<Vec<String>, GuardError> {
        Ok(self.block_on(self.database().removed_layout_fields(module))?)
    }

    /// Enables consents, given the administrator's de-duplication confirmation.
    pub fn enable(
        &self,
        deduplication_confirmed: bool,
    ) -> Result<Result<(), Vec<Prerequisite>>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_enable(store, deduplication_confirmed)
        })
    }

    /// Classifies a field of `module` (personal, essential, sensitive, encrypted). Values
    /// a field newly classified `encrypted` already holds are encrypted before this
    /// returns.
    pub fn classify_field(
        &self,
        module: &str,
        class: &FieldClass,
    ) -> Result<Result<(), Vec<Problem>>, GuardError> {
        let outcome = self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_classify_field(store, module, class)
        })?;
        self.refresh_encrypted_fields()?;
        if outcome.is_ok() && class.encrypted {
            let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let sealed = self.block_on(self.database().seal_plain_values(module))?;
            tracing::info!(
                module,
                records = sealed,
                "stored values of a newly encrypted field encrypted"
            );
        }
        Ok(outcome)
    }

    /// The classified fields of `module`.
    pub fn field_classes(&self, module: &str) -> Result<Vec<FieldClass>, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_field_classes(store, module)
        })
    }

    /// The sensitive, non-essential personal fields of `module` without a data consent.
    pub fn suggested_data_consents(&self, module: &str) -> Result<Vec<String>, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_suggested_data_consents(store, module)
        })
    }

    /// Creates a new field-encryption key: values written from now on are encrypted with
    /// it; values under older keys keep decrypting.
    pub fn rotate_field_key(&self) -> Result<String, GuardError> {
        Ok(self.block_on(self.database().add_field_key(self.clock().now_millis()))?)
    }

    /// Asks the plugin which fields are encrypted and tells storage.
    fn refresh_encrypted_fields(&self) -> Result<(), GuardError> {
        let mut by_module = Vec::with_capacity(ENCRYPTABLE_MODULES.len());
        for module in ENCRYPTABLE_MODULES {
            let encrypted: Vec<String> = self
                .field_classes(module)?
                .into_iter()
                .filter(|class| class.encrypted)
                .map(|class| class.field)
                .collect();
            by_module.push((module.to_owned(), encrypted));
        }
        self.database().set_encrypted_fields(by_module);
        Ok(())
    }

    /// The whole configuration.
    pub fn configuration(&self) -> Result<Snapshot, GuardError> {
        self.read(|store, plugin| plugin.privacy_guard_consent_configuration().call_get(store))
    }

    // ---- records ---------------------------------------------------------------------

    /// Creates or updates records and lets the plugin evaluate them, all in one unit of
    /// work: either every record and every consent change is stored, or none.
    pub fn import_records(
        &self,
        module: &str,
        records: Vec<ImportedRecord>,
        progress: &dyn Fn(u64),
    ) -> Result<ImportReport, GuardError> {
        let person_modules = self.configuration()?.person_modules;
        if !person_modules.iter().any(|known| known == module) {
            return Err(GuardError::Invalid(format!(
                "`{module}` is not a module that holds people; they are: {} (change them with `settings --person-module`)",
                person_modules.join(", ")
            )));
        }
        // Another host process may have classified fields since: encrypt as it says.
        self.refresh_encrypted_fields()?;
        let removed = self.removed_layout_fields(module)?;
        let ignored_fields: Vec<String> = removed
            .iter()
            .filter(|field| {
                records
                    .iter()
                    .any(|record| record.fields.iter().any(|(name, _)| name == *field))
            })
            .cloned()
            .collect();
        let now = self.clock().now_millis();
        let without_id = records.iter().filter(|record| record.id.is_none()).count() as u64;
        let first_id = if without_id > 0 {
            self.block_on(
                self.database()
                    .reserve_ids(&format!("records/{module}"), without_id),
            )?
        } else {
            0
        };
        let (report, _delivered) = self.unit(|| {
            let given_ids: Vec<&str> = records
                .iter()
                .filter_map(|record| record.id.as_deref())
                .collect();
            let mut existing = self.block_on(self.database().records_by_ids(module, &given_ids))?;
            let mut next_id = first_id;
            let mut report = ImportReport {
                ignored_fields: ignored_fields.clone(),
                ..ImportReport::default()
            };
            let mut work = UnitOfWork::default();
            let mut changed: Vec<RecordRow> = Vec::with_capacity(records.len());
            for imported in &records {
                let id = imported.id.clone().unwrap_or_else(|| {
                    next_id += 1;
                    (next_id - 1).to_string()
                });
                let key = (module.to_owned(), id.clone());
                let previous = work.records.remove(&key).or_else(|| existing.remove(&id));
                let mut record = match previous {
                    Some(previous) => {
                        report.updated += 1;
                        previous
                    }
                    None => {
                        report.created += 1;
                        RecordRow {
                            module: module.to_owned(),
                            id,
                            fields: Vec::new(),
                            status: "Active".into(),
                            locked: false,
                            modified_at: now,
                        }
                    }
                };
                for (name, value) in &imported.fields {
                    if !removed.contains(name) {
                        record.set_field(name, value);
                    }
                }
                if let Some(status) = &imported.status {
                    record.status = status.clone();
                }
                record.modified_at = imported.modified_at.unwrap_or(now);
                work.records.insert(key, record.clone());
                changed.push(record);
            }
            for page in changed.chunks(IMPORT_PAGE) {
                let people: Vec<_> = page
                    .iter()
                    .cloned()
                    .map(crate::capabilities::person_record)
                    .collect();
                let (summary, page_work) = self.runtime.with_instance(work, |store, plugin| {
                    plugin
                        .privacy_guard_consent_records()
                        .call_records_changed(store, &people)
                })?;
                work = page_work;
                report.consents_changed += u64::from(summary.consents_changed);
                progress(page.len() as u64);
            }
            Ok((report, work))
        })?;
        Ok(report)
    }

    /// Tells the plugin that records changed in the CRM (a form, an edit, an API call).
    pub fn records_changed(&self, records: Vec<RecordRow>) -> Result<ChangeSummary, GuardError> {
        let people: Vec<_> = records
            .into_iter()
            .map(crate::capabilities::person_record)
            .collect();
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_records()
                .call_records_changed(store, &people)
        })
    }

    /// The record-change refusal hook: the fields of an edit the plugin refuses (empty:
    /// the edit may be saved). An error means no answer: refuse the edit.
    pub fn check_edit(
        &self,
        person: &RecordRef,
        changes: &[Field],
    ) -> Result<Vec<EditRefusal>, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_records()
                .call_check_edit(store, person, changes)
        })
    }

    /// A user's edit of one record: asks the refusal hook first and saves nothing if any
    /// field is refused; otherwise saves the fields and lets the plugin re-evaluate the
    /// record, in one unit of work. Fails closed: a plugin fault saves nothing.
    pub fn edit_record(
        &self,
        person: &RecordRef,
        changes: &[(String, String)],
    ) -> Result<Result<ChangeSummary, EditRejection>, GuardError> {
        let removed = self.removed_layout_fields(&person.module)?;
        for (name, _) in changes {
            if let Some(problem) = crate::capabilities::field_name_problem(name) {
                return Err(GuardError::Invalid(problem));
            }
            if removed.contains(name) {
                return Err(GuardError::Invalid(format!(
                    "`{name}` was removed from the {} layout (its consent was deleted)",
                    person.module
                )));
            }
        }
        let fields: Vec<Field> = changes
            .iter()
            .map(|(name, value)| Field {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        let (outcome, _delivered) = self.unit(|| {
            let Some(mut record) =
                self.block_on(self.database().record(&person.module, &person.id))?
            else {
                return Ok((Err(EditRejection::NotFound), UnitOfWork::default()));
            };
            let (refusals, work) =
                self.runtime
                    .with_instance(UnitOfWork::default(), |store, plugin| {
                        plugin
                            .privacy_guard_consent_records()
                            .call_check_edit(store, person, &fields)
                    })?;
            if !refusals.is_empty() {
                return Ok((Err(EditRejection::Refused(refusals)), UnitOfWork::default()));
            }
            for (name, value) in changes {
                record.set_field(name, value);
            }
            record.modified_at = self.clock().now_millis();
            let mut work = work;
            work.records
                .insert((record.module.clone(), record.id.clone()), record.clone());
            let people = [crate::capabilities::person_record(record)];
            let (summary, work) = self.runtime.with_instance(work, |store, plugin| {
                plugin
                    .privacy_guard_consent_records()
                    .call_records_changed(store, &people)
            })?;
            Ok((Ok(summary), work))
        })?;
        Ok(outcome)
    }

    /// The record as the host (playing the CRM) keeps it.
    pub fn record(&self, module: &str, id: &str) -> Result<Option<RecordRow>, GuardError> {
        Ok(self.block_on(self.database().record(module, id))?)
    }

    // ---- de-duplication ------------------------------------------------------------------

    /// Which contacts and leads share an address, and which of each group would be kept;
    /// changes nothing.
    pub fn deduplication_preview(&self) -> Result<Plan, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_deduplication()
                .call_preview(store)
        })
    }

    /// Flags duplicate contacts and leads (CRM status `Duplicate`, locked) and gives each
    /// shared address to its primary, in one unit of work. Running it again changes nothing.
    pub fn deduplicate(&self) -> Result<Report, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_deduplication()
                .call_apply(store)
        })
    }

    // ---- sending -----------------------------------------------------------------------

    /// The pre-send decision for every recipient, in order. Fails closed: when the plugin
    /// faults, every recipient is refused with `plugin-fault` and the fault as detail.
    pub fn check_send(&self, request: &SendRequest, recipients: &[Recipient]) -> Vec<Decision> {
        let outcome = self.read_hot(|store, plugin| {
            plugin
                .privacy_guard_consent_sending()
                .call_check_send(store, request, recipients)
        });
        match outcome {
            Ok(decisions) if decisions.len() == recipients.len() => decisions,
            Ok(decisions) => refuse_all(
                recipients.len(),
                &format!(
                    "the plugin answered {} decisions for {} recipients",
                    decisions.len(),
                    recipients.len()
                ),
            ),
            Err(fault) => {
                tracing::error!(%fault, recipients = recipients.len(), "pre-send check failed; refusing every recipient");
                refuse_all(recipients.len(), &fault.to_string())
            }
        }
    }

    /// The mail exactly as each recipient must get it, in order: tracking removed unless
    /// they consented to it, their own preferences footer when due, the postal address on
    /// marketing mail; or the refusal `check_send` would give. Reads current state (not
    /// the hot path's cache) and commits the one thing the plugin records here: the legal
    /// ground of each transactional send to a restricted or erased person. Fails closed:
    /// when the plugin faults (or the ground cannot be committed), every recipient is
    /// refused with `plugin-fault` and the fault as detail.
    pub fn render(
        &self,
        request: &SendRequest,
        mail: &MailContent,
        recipients: &[Recipient],
    ) -> Vec<Rendering> {
        let outcome = self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_sending()
                .call_render(store, request, mail, recipients)
        });
        let refused = |detail: &str| {
            refuse_all(recipients.len(), detail)
                .into_iter()
                .filter_map(|decision| match decision {
                    Decision::Refuse(refusal) => Some(Rendering::Refuse(refusal)),
                    Decision::Allow(_) => None,
                })
                .collect()
        };
        match outcome {
            Ok(renderings) if renderings.len() == recipients.len() => renderings,
            Ok(renderings) => refused(&format!(
                "the plugin answered {} renderings for {} recipients",
                renderings.len(),
                recipients.len()
            )),
            Err(fault) => {
                tracing::error!(%fault, recipients = recipients.len(), "rendering failed; refusing every recipient");
                refused(&fault.to_string())
            }
        }
    }

    /// Whether a tracking event (an email open, a document view) for `address` may be
    /// kept: only with that person's granted tracking consent. Fails closed: a fault is
    /// `false`, and the event must be dropped.
    pub fn accept_tracking_event(&self, kind: TrackingKind, address: &str) -> bool {
        let outcome = self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_tracking()
                .call_accept_tracking_event(store, kind, address)
        });
        outcome.unwrap_or_else(|fault| {
            tracing::error!(%fault, "the tracking check failed; dropping the event");
            false
        })
    }

    // ---- the daily consent run ---------------------------------------------------------

    /// Runs the daily consent run for `period` (`YYYY-MM-DD`) to its end, page by page;
    /// each page commits with its progress, so an interrupted run resumes where it stopped
    /// (in this process or another) and never sends twice. A finished period does nothing.
    pub fn run_daily(
        &self,
        period: &str,
        progress: &dyn Fn(&RunReport),
    ) -> Result<RunReport, GuardError> {
        let mut report = RunReport {
            period: period.to_owned(),
            ..RunReport::default()
        };
        let outcome = self.run_daily_pages(period, &mut report, progress);
        // Values the run erased (fields whose consent went waiting under default no) are
        // purged once, at the end, whether or not it finished.
        let purged = self.purge_erased_values();
        outcome.and(purged).map(|()| report)
    }

    fn run_daily_pages(
        &self,
        period: &str,
        report: &mut RunReport,
        progress: &dyn Fn(&RunReport),
    ) -> Result<(), GuardError> {
        loop {
            let (page, delivered) = self.unit_deferring_purge(|| {
                let recorded = self.block_on(self.database().job_run(DAILY_CONSENT_RUN, period))?;
                let (people, requests, cursor) = match recorded {
                    Some(run) if run.finished => return Ok((None, UnitOfWork::default())),
                    Some(run) => (run.people, run.requests, run.cursor),
                    None => (0, 0, None),
                };
                let (page, mut work) =
                    self.runtime
                        .with_instance(UnitOfWork::default(), |store, plugin| {
                            plugin.privacy_guard_consent_jobs().call_daily_consent_run(
                                store,
                                period,
                                cursor.as_deref(),
                                DAILY_RUN_PAGE,
                            )
                        })?;
                let page = page.map_err(job_refusal)?;
                let finished = page.next_cursor.is_none();
                work.job_progress = Some(JobProgress {
                    job: DAILY_CONSENT_RUN.into(),
                    period: period.to_owned(),
                    cursor: page.next_cursor.clone(),
                    finished,
                    people: people + u64::from(page.people),
                    requests: requests + u64::from(page.requests_sent),
                });
                Ok((Some((page, finished)), work))
            })?;
            let Some((page, finished)) = page else {
                return Ok(());
            };
            report.ran = true;
            report.people += u64::from(page.people);
            report.requests += u64::from(page.requests_sent);
            report.mail.add(delivered);
            progress(report);
            if finished {
                return Ok(());
            }
        }
    }

    /// Which period of the daily consent run is due now. Before consents are enabled none
    /// is; the first period due is the first whose scheduled time comes at or after
    /// enabling, never one whose time had passed before (enabling at 09:00 mails at 10:00
    /// that day; enabling at 10:30, at 10:00 the next day).
    pub fn due_run(&self) -> Result<DueRun, GuardError> {
        let configuration = self.configuration()?;
        let Some(enabled_at) = configuration.enabled_at.filter(|_| configuration.enabled) else {
            return Ok(DueRun::NotEnabled);
        };
        let due_period = self.schedule.due_period(self.clock().now());
        let due_at = self.schedule.due_at(due_period);
        if due_at.timestamp_millis() < enabled_at {
            let enabled = chrono::DateTime::from_timestamp_millis(enabled_at).unwrap_or(due_at);
            let first = match self.schedule.due_at(self.schedule.due_period(enabled)) {
                at if at.timestamp_millis() >= enabled_at => at,
                _ => self.schedule.next_due_after(enabled),
            };
            return Ok(DueRun::NotYet { first });
        }
        Ok(DueRun::Period(period_key(due_period)))
    }

    /// Runs the daily consent run if its current period has not run yet. Returns `None`
    /// when nothing was due (see [`Guard::due_run`]).
    pub fn run_due(&self) -> Result<Option<RunReport>, GuardError> {
        let DueRun::Period(period) = self.due_run()? else {
            return Ok(None);
        };
        let report = self.run_daily(&period, &|_| {})?;
        Ok(report.ran.then_some(report))
    }

    // ---- the preferences page ----------------------------------------------------------

    /// The page a signed link opens.
    pub fn open_preferences(&self, token: &str) -> Result<Result<Page, LinkError>, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_preferences()
                .call_open(store, token)
        })
    }

    /// Applies a person's choices from the page.
    pub fn submit_preferences(
        &self,
        token: &str,
        choices: &[Choice],
        evidence: &Evidence,
    ) -> Result<Result<Page, SubmitError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_preferences()
                .call_submit(store, token, choices, evidence)
        })
    }

    /// The person stops processing from the page (GDPR Art. 18).
    pub fn stop_processing(
        &self,
        token: &str,
        evidence: &Evidence,
    ) -> Result<Result<Page, SubmitError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_preferences()
                .call_stop_processing(store, token, evidence)
        })
    }

    /// The person asks for erasure from the page (GDPR Art. 17).
    pub fn erase_from_page(
        &self,
        token: &str,
        evidence: &Evidence,
    ) -> Result<Result<(), SubmitError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_preferences()
                .call_erase(store, token, evidence)
        })
    }

    // ---- people ----------------------------------------------------------------------------

    /// Staff restrict processing of a person, with evidence.
    pub fn restrict(
        &self,
        person: &RecordRef,
        actor: &StaffActor,
        evidence: &str,
    ) -> Result<Result<SubjectView, RecordError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_restrict(store, person, actor, evidence)
        })
    }

    /// Staff lift a restriction, with a recorded reason; the person is told.
    pub fn lift_restriction(
        &self,
        person: &RecordRef,
        actor: &StaffActor,
        reason: &str,
    ) -> Result<Result<SubjectView, RecordError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_lift_restriction(store, person, actor, reason)
        })
    }

    /// Staff erase a person's data, with evidence of the request. Mail to the address is
    /// cancelled, its copies destroyed, and the erased values purged from the database's
    /// files before this returns.
    pub fn erase(
        &self,
        person: &RecordRef,
        actor: &StaffActor,
        evidence: &str,
    ) -> Result<Result<ErasureReport, RecordError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_erase(store, person, actor, evidence)
        })
    }

    /// The person's current preferences link, freshly signed (for staff to hand over).
    pub fn preferences_link(
        &self,
        person: &RecordRef,
    ) -> Result<Result<String, RecordError>, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_preferences_link(store, person)
        })
    }

    /// A person's consents.
    pub fn subject(&self, person: &RecordRef) -> Result<Option<SubjectView>, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_get(store, person)
        })
    }

    /// A person's consent events (JSON), oldest first.
    pub fn history(&self, person: &RecordRef) -> Result<Vec<String>, GuardError> {
        self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_history(store, person)
        })
    }

    /// Records a decision obtained outside the preferences page, with its evidence, as
    /// the staff actor's.
    pub fn record_decision(
        &self,
        person: &RecordRef,
        consent_id: &str,
        grant: bool,
        actor: &StaffActor,
        evidence: &str,
    ) -> Result<Result<SubjectView, RecordError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_record_decision(store, person, consent_id, grant, actor, evidence)
        })
    }

    /// How many records of `module` the host keeps.
    pub fn record_count(&self, module: &str) -> Result<u64, GuardError> {
        Ok(self.block_on(self.database().record_count(module))?)
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

impl Drop for Guard {
    fn drop(&mut self) {
        // The guard may be dropped from async code (the web server's tasks hold it);
        // shutting the runtime down in the background never blocks there.
        if let Some(tokio) = self.tokio.take() {
            tokio.shutdown_background();
        }
    }
}

fn job_refusal(error: JobError) -> GuardError {
    GuardError::Job(match error {
        JobError::NotEnabled => "consents are not enabled: configure the sender and consents, then run `privacy-guard enable --confirm-deduplication`".into(),
        JobError::InvalidPeriod(period) => format!("`{period}` is not a period: use YYYY-MM-DD"),
    })
}

fn refuse_all(count: usize, detail: &str) -> Vec<Decision> {
    (0..count)
        .map(|_| {
            Decision::Refuse(Refusal {
                reason: RefusalReason::PluginFault,
                detail: detail.to_owned(),
            })
        })
        .collect()
}
