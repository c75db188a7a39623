//! The CRM's records: imports, changes, edits the plugin may refuse, and de-duplication.

use super::{Guard, GuardError, IMPORT_PAGE};
use crate::contract::deduplication::{Plan, Report};
use crate::contract::records::{ChangeSummary, EditRefusal};
use crate::contract::types::{Field, RecordRef};
use crate::storage::{RecordRow, UnitOfWork};

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

impl Guard {
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
        tracing::info!(
            module,
            created = report.created,
            updated = report.updated,
            consents_changed = report.consents_changed,
            "import committed"
        );
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
}
