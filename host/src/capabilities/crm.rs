//! `crm`: the person records the reference host keeps, playing the CRM.

use crate::capabilities::HostState;
use crate::contract::imports::crm::{self, CrmError, RecordPage};
use crate::contract::imports::types::{Field, PersonRecord, RecordRef};
use crate::storage::{RecordRow, normalise_email};

/// The largest page `list-records` returns, whatever the plugin asks for.
const MAX_PAGE: u32 = 1000;

impl HostState {
    /// The record as this call sees it: its own changes first, then storage.
    fn current_record(&mut self, reference: &RecordRef) -> wasmtime::Result<Option<RecordRow>> {
        let key = (reference.module.clone(), reference.id.clone());
        if let Some(pending) = self.work.records.get(&key) {
            return Ok(Some(pending.clone()));
        }
        let database = self.work.reads(self.capabilities.database());
        self.capabilities
            .block_on(async { database.record(&reference.module, &reference.id).await })
    }

    /// Applies `change` to the record, keeping the result in the unit of work.
    fn change_record(
        &mut self,
        reference: RecordRef,
        change: impl FnOnce(&mut RecordRow),
    ) -> wasmtime::Result<Result<(), CrmError>> {
        let Some(mut record) = self.current_record(&reference)? else {
            return Ok(Err(CrmError::NotFound(reference)));
        };
        change(&mut record);
        record.modified_at = self.capabilities.clock().now_millis();
        self.work
            .records
            .insert((reference.module, reference.id), record);
        Ok(Ok(()))
    }
}

impl crm::Host for HostState {
    fn get_record(
        &mut self,
        reference: RecordRef,
    ) -> wasmtime::Result<Result<PersonRecord, CrmError>> {
        Ok(match self.current_record(&reference)? {
            Some(record) => Ok(person_record(record)),
            None => Err(CrmError::NotFound(reference)),
        })
    }

    fn find_by_email(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Vec<RecordRef>, CrmError>> {
        let wanted = normalise_email(&address);
        let database = self.work.reads(self.capabilities.database());
        let stored = self
            .capabilities
            .block_on(async { database.records_by_email(&wanted).await })?;
        let mut found: Vec<(String, String)> = stored
            .into_iter()
            .filter(|key| {
                self.work
                    .records
                    .get(key)
                    .is_none_or(|pending| pending.normalised_email() == wanted)
            })
            .collect();
        for (key, pending) in &self.work.records {
            if pending.normalised_email() == wanted && !found.contains(key) {
                found.push(key.clone());
            }
        }
        found.sort();
        Ok(Ok(found
            .into_iter()
            .map(|(module, id)| RecordRef { module, id })
            .collect()))
    }

    fn list_records(
        &mut self,
        module: String,
        cursor: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<RecordPage, CrmError>> {
        let limit = limit.clamp(1, MAX_PAGE);
        let database = self.work.reads(self.capabilities.database());
        let stored = self.capabilities.block_on(async {
            database
                .records_page(&module, cursor.as_deref(), limit)
                .await
        })?;
        let mut page: std::collections::BTreeMap<String, RecordRow> = stored
            .into_iter()
            .map(|record| (record.id.clone(), record))
            .collect();
        for ((pending_module, id), record) in &self.work.records {
            if *pending_module == module
                && cursor.as_deref().is_none_or(|cursor| id.as_str() > cursor)
            {
                page.insert(id.clone(), record.clone());
            }
        }
        let records: Vec<RecordRow> = page.into_values().take(limit as usize).collect();
        let next_cursor = (records.len() == limit as usize)
            .then(|| records.last().map(|record| record.id.clone()))
            .flatten();
        Ok(Ok(RecordPage {
            records: records.into_iter().map(person_record).collect(),
            next_cursor,
        }))
    }

    fn update_field(
        &mut self,
        reference: RecordRef,
        name: String,
        value: String,
    ) -> wasmtime::Result<Result<(), CrmError>> {
        if let Some(problem) = field_name_problem(&name) {
            return Ok(Err(CrmError::Invalid(problem)));
        }
        self.change_record(reference, |record| record.set_field(&name, &value))
    }

    fn erase_field(
        &mut self,
        reference: RecordRef,
        name: String,
    ) -> wasmtime::Result<Result<(), CrmError>> {
        if let Some(problem) = field_name_problem(&name) {
            return Ok(Err(CrmError::Invalid(problem)));
        }
        let mut erased_a_value = false;
        let changed = self.change_record(reference, |record| {
            erased_a_value = !record.field(&name).is_empty();
            record.set_field(&name, "");
        })?;
        // The old value must not stay readable in the database's files either.
        self.work.values_to_purge |= erased_a_value;
        Ok(changed)
    }

    fn set_status(
        &mut self,
        reference: RecordRef,
        status: String,
    ) -> wasmtime::Result<Result<(), CrmError>> {
        self.change_record(reference, |record| record.status = status)
    }

    fn set_locked(
        &mut self,
        reference: RecordRef,
        locked: bool,
    ) -> wasmtime::Result<Result<(), CrmError>> {
        self.change_record(reference, |record| record.locked = locked)
    }

    fn remove_layout_field(
        &mut self,
        module: String,
        field: String,
    ) -> wasmtime::Result<Result<(), CrmError>> {
        if let Some(problem) = field_name_problem(&field) {
            return Ok(Err(CrmError::Invalid(problem)));
        }
        self.work.removed_layout_fields.insert((module, field));
        Ok(Ok(()))
    }
}

pub(crate) fn field_name_problem(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!valid).then(|| format!("`{name}` is not a field name: use 1-64 letters, digits, `_` or `-`"))
}

/// The WIT form of a stored record.
pub(crate) fn person_record(record: RecordRow) -> PersonRecord {
    PersonRecord {
        ref_: RecordRef {
            module: record.module,
            id: record.id,
        },
        fields: record
            .fields
            .into_iter()
            .map(|(name, value)| Field { name, value })
            .collect(),
        status: record.status,
        locked: record.locked,
        modified_at: record.modified_at,
    }
}
