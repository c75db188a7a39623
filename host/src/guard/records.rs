//! The CRM's records: imports (streamed in chunks into one open commit), changes, edits
//! the plugin may refuse, and de-duplication.

use std::collections::BTreeSet;
use std::sync::PoisonError;

use super::{CONFLICT_RETRIES, Guard, GuardError, IMPORT_PAGE};
use crate::contract::deduplication::{Plan, Report};
use crate::contract::records::{ChangeSummary, EditRefusal};
use crate::contract::types::{Field, RecordRef};
use crate::storage::{OpenCommit, RecordRow, StorageError, UnitOfWork};

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

/// Rows an import reads, hands to the plugin and writes into its open commit at a time:
/// what bounds its memory, whatever the file's size.
const IMPORT_CHUNK_ROWS: usize = 5_000;

/// What an import carries from one chunk to the next.
struct ImportProgress<'a> {
    module: &'a str,
    removed: &'a [String],
    now: i64,
    report: ImportReport,
    /// Removed layout fields the rows had.
    ignored: BTreeSet<String>,
    /// Something the chunks wrote needs work after the commit.
    values_to_purge: bool,
    appended_events: bool,
    queued_mail: bool,
}

impl Guard {
    /// Creates or updates records and lets the plugin evaluate them, all in one unit of
    /// work: either every record and every consent change is stored, or none.
    pub fn import_records(
        &self,
        module: &str,
        records: Vec<ImportedRecord>,
        progress: &dyn Fn(u64),
    ) -> Result<ImportReport, GuardError> {
        self.import_stream(
            module,
            records.into_iter().map(Ok::<_, std::convert::Infallible>),
            progress,
        )
    }

    /// [`Guard::import_records`] for records read as they come (a CSV file of any size):
    /// read, handed to the plugin (pages of [`IMPORT_PAGE`]) and written in chunks into
    /// one open commit, which holds the writers' lock from the first chunk to the last.
    /// A row that is an error (named in the error) rolls everything back: the import is
    /// all-or-nothing. Another host process committing first is noticed before the first
    /// row is read, and the import begins again; once begun, other writers wait for it.
    pub fn import_stream<E: std::fmt::Display>(
        &self,
        module: &str,
        records: impl IntoIterator<Item = Result<ImportedRecord, E>>,
        progress: &dyn Fn(u64),
    ) -> Result<ImportReport, GuardError> {
        self.import_stream_in_chunks(module, records, IMPORT_CHUNK_ROWS, progress)
    }

    /// [`Guard::import_stream`] in chunks of `chunk_rows` rows (at least one). The result
    /// does not depend on it; tests import in small chunks to cross many chunk borders.
    pub fn import_stream_in_chunks<E: std::fmt::Display>(
        &self,
        module: &str,
        records: impl IntoIterator<Item = Result<ImportedRecord, E>>,
        chunk_rows: usize,
        progress: &dyn Fn(u64),
    ) -> Result<ImportReport, GuardError> {
        let started = std::time::Instant::now();
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
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock().now_millis();
        let mut open = self.begin_commit(now)?;
        let mut import = ImportProgress {
            module,
            removed: &removed,
            now,
            report: ImportReport::default(),
            ignored: BTreeSet::new(),
            values_to_purge: false,
            appended_events: false,
            queued_mail: false,
        };
        let mut rows = records.into_iter();
        let chunk_rows = chunk_rows.max(1);
        let written = loop {
            let chunk: Result<Vec<ImportedRecord>, GuardError> = rows
                .by_ref()
                .take(chunk_rows)
                .map(|row| row.map_err(|error| GuardError::Invalid(error.to_string())))
                .collect();
            match chunk {
                Ok(chunk) if chunk.is_empty() => break Ok(()),
                Ok(chunk) => {
                    if let Err(error) = self.import_chunk(&mut open, &mut import, chunk, progress) {
                        break Err(error);
                    }
                }
                Err(error) => break Err(error),
            }
        };
        if let Err(error) = written {
            if let Err(rollback) = self.block_on(open.abandon()) {
                tracing::warn!(%rollback, "the failed import's transaction is rolled back when its connection closes");
            }
            return Err(error);
        }
        let committed = self.block_on(open.finish())?;
        self.after_commit(
            &committed,
            import.values_to_purge,
            import.appended_events,
            import.queued_mail,
        );
        drop(writer);
        self.purge_erased_values()?;
        let mut report = import.report;
        report.ignored_fields = removed
            .iter()
            .filter(|field| import.ignored.contains(*field))
            .cloned()
            .collect();
        tracing::info!(
            module,
            created = report.created,
            updated = report.updated,
            consents_changed = report.consents_changed,
            seconds = started.elapsed().as_secs_f64(),
            "import committed"
        );
        Ok(report)
    }

    /// Opens the import's commit on fresh state: when another host process committed
    /// since this one last looked, refresh and try again.
    fn begin_commit(&self, now: i64) -> Result<OpenCommit, GuardError> {
        let mut attempt = 1;
        loop {
            self.block_on(self.database().refresh())?;
            // Another process may have classified a field `encrypted` since: ask again, so
            // the import never writes that field in plain text.
            if self.database().take_foreign_commit() {
                self.refresh_encrypted_fields()?;
            }
            match self.block_on(self.database().begin_commit(now)) {
                Ok(open) => return Ok(open),
                Err(StorageError::Conflict) if attempt < CONFLICT_RETRIES => {
                    tracing::info!(
                        attempt,
                        "another host process committed first; beginning the import again"
                    );
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// One chunk of an import: its records created or updated, the plugin's evaluation of
    /// them page by page, all written into the open commit.
    fn import_chunk(
        &self,
        open: &mut OpenCommit,
        import: &mut ImportProgress<'_>,
        chunk: Vec<ImportedRecord>,
        progress: &dyn Fn(u64),
    ) -> Result<(), GuardError> {
        let module = import.module;
        for record in &chunk {
            for (name, _) in &record.fields {
                if import.removed.contains(name) && !import.ignored.contains(name) {
                    import.ignored.insert(name.clone());
                }
            }
        }
        let without_id = chunk.iter().filter(|record| record.id.is_none()).count() as u64;
        let mut next_id = if without_id > 0 {
            self.block_on(open.reserve_ids(&format!("records/{module}"), without_id))?
        } else {
            0
        };
        let given_ids: Vec<&str> = chunk
            .iter()
            .filter_map(|record| record.id.as_deref())
            .collect();
        let mut existing = self.block_on(open.records_by_ids(module, &given_ids))?;
        let mut work = UnitOfWork::reading_through(open.reads());
        let mut changed: Vec<RecordRow> = Vec::with_capacity(chunk.len());
        for imported in chunk {
            let id = imported.id.unwrap_or_else(|| {
                next_id += 1;
                (next_id - 1).to_string()
            });
            let key = (module.to_owned(), id.clone());
            let previous = work.records.remove(&key).or_else(|| existing.remove(&id));
            let mut record = match previous {
                Some(previous) => {
                    import.report.updated += 1;
                    previous
                }
                None => {
                    import.report.created += 1;
                    RecordRow {
                        module: module.to_owned(),
                        id,
                        fields: Vec::new(),
                        status: "Active".into(),
                        locked: false,
                        modified_at: import.now,
                    }
                }
            };
            for (name, value) in &imported.fields {
                if !import.removed.contains(name) {
                    record.set_field(name, value);
                }
            }
            if let Some(status) = imported.status {
                record.status = status;
            }
            record.modified_at = imported.modified_at.unwrap_or(import.now);
            work.records.insert(key, record.clone());
            changed.push(record);
        }
        let mut changed = changed.into_iter().peekable();
        while changed.peek().is_some() {
            let people: Vec<_> = changed
                .by_ref()
                .take(IMPORT_PAGE)
                .map(crate::capabilities::person_record)
                .collect();
            let (summary, page_work) = self.runtime.with_instance(work, |store, plugin| {
                plugin
                    .privacy_guard_consent_records()
                    .call_records_changed(store, &people)
            })?;
            work = page_work;
            import.report.consents_changed += u64::from(summary.consents_changed);
            progress(people.len() as u64);
        }
        import.values_to_purge |= work.values_to_purge;
        import.appended_events |= !work.events.is_empty();
        import.queued_mail |= !work.mails.is_empty();
        self.block_on(open.write(&work))?;
        Ok(())
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
}
