//! Configuring the plugin: settings, consents, enabling, field classes and field keys.

use std::sync::PoisonError;

use super::{Guard, GuardError};
use crate::contract::configuration::{
    ConsentDefinition, FieldClass, Prerequisite, Problem, PurposeChange, Settings, Snapshot,
    StoredDefinition,
};
use crate::settings::{MissingOptions, SettingsPatch};
use crate::storage::UnitOfWork;

/// Why a change of settings was not saved.
#[derive(Debug, Clone)]
pub enum SettingsRefusal {
    /// No settings exist yet and the change does not give the options they need.
    Missing(MissingOptions),
    /// The plugin refused the settings the change would make.
    Invalid(Vec<Problem>),
}

impl Guard {
    /// Replaces the organisation-wide settings.
    pub fn set_settings(
        &self,
        settings: &Settings,
    ) -> Result<Result<(), Vec<Problem>>, GuardError> {
        let outcome = self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_configuration()
                .call_set_settings(store, settings)
        })?;
        if outcome.is_ok() {
            // The modules that hold people may have changed.
            self.refresh_encrypted_fields()?;
        }
        Ok(outcome)
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
        if outcome.is_ok() {
            // The modules that hold people may have changed.
            self.refresh_encrypted_fields()?;
        }
        Ok(outcome)
    }

    /// Adds or replaces a consent definition.
    ///
    /// A changed purpose text needs `change`: a correction, or a material change after which
    /// grants of earlier texts stop counting.
    pub fn put_consent(
        &self,
        definition: &ConsentDefinition,
        change: Option<PurposeChange>,
    ) -> Result<Result<StoredDefinition, Vec<Problem>>, GuardError> {
        self.write(|store, plugin| {
            let configuration = plugin.privacy_guard_consent_configuration();
            match change {
                None => configuration.call_put_consent(store, definition),
                Some(change) => configuration.call_revise_consent(store, definition, change),
            }
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

    /// Asks the plugin which fields are encrypted in every module that holds people (its
    /// configuration says which) and in every module the host keeps records of (a module
    /// that stopped holding people keeps its records, and the plugin its classes), and
    /// tells storage. Storage refuses records of any other module rather than write them
    /// in plain text, so this runs again whenever the answer may have changed: after a
    /// change of settings or of a field's class, before an import, and after another host
    /// process committed.
    pub(super) fn refresh_encrypted_fields(&self) -> Result<(), GuardError> {
        let stored_modules = self.block_on(self.database().record_modules())?;
        let by_module = self.read(|store, plugin| {
            let configuration = plugin.privacy_guard_consent_configuration();
            let mut modules = configuration.call_get(&mut *store)?.person_modules;
            for module in stored_modules {
                if !modules.contains(&module) {
                    modules.push(module);
                }
            }
            let mut by_module = Vec::with_capacity(modules.len());
            for module in modules {
                let encrypted: Vec<String> = configuration
                    .call_field_classes(&mut *store, &module)?
                    .into_iter()
                    .filter(|class| class.encrypted)
                    .map(|class| class.field)
                    .collect();
                by_module.push((module, encrypted));
            }
            Ok(by_module)
        })?;
        self.database().set_encrypted_fields(by_module);
        Ok(())
    }

    /// The whole configuration.
    pub fn configuration(&self) -> Result<Snapshot, GuardError> {
        self.read(|store, plugin| plugin.privacy_guard_consent_configuration().call_get(store))
    }
}
