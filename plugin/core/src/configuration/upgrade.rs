//! Reading configurations stored by older formats, each one step at a time up to today's
//! (see [`crate::storage::decode_configuration`]):
//!
//! | format | released | what the step adds |
//! |---|---|---|
//! | 4 | 29 Nov 2026 (first release) | the confirmation policy (`never`: that release sent no confirmation mails) and the IP policy (`truncate`: what it did), deleted consents (none) |
//! | 5 | 29 Nov 2026 | the person modules (the defaults, contacts and leads) |
//! | 6 | 1 Dec 2026 | the regime rules (none: everyone opt-in, as before), the request policy (off: requests wait for an answer, as before) |
//! | 7 | 1 Dec 2026 | per consent, the version grants count from (1: every grant counts, as before), the earlier texts (none kept), the translations (none: everyone reads the one text, as before) and the maximum age of a grant (none, as before); the language rules (none: everyone in English, as before) |
//! | 8 | today | (the sending index carries the version grants count from) |
//!
//! Formats 1 to 3 were never released and are refused naming their version. Each step
//! keeps what an installation did: an upgrade changes no behaviour an administrator did
//! not choose.

use serde::Deserialize;

use super::languages::LanguageRules;
use super::regimes::RegimeRules;
use super::requests::RequestPolicy;
use super::settings::Settings;
use super::{Configuration, Enablement};
use crate::address::Address;
use crate::classification::FieldClass;
use crate::consent::ConsentDefault;
use crate::definition::{
    Clause, ConsentDefinition, ConsentId, ConsentKind, PurposeVersion, StoredDefinition,
};
use crate::record::Module;
use crate::vocabulary::{ConfirmationPolicy, IpPolicy};

/// The settings as stored by configuration format 4 (before the notification and IP
/// policies).
#[derive(Deserialize)]
pub(crate) struct SettingsV4 {
    sender_address: Address,
    sender_name: String,
    organisation: String,
    postal_address: String,
    preferences_url: String,
    link_valid_days: u32,
    flag_new_duplicates: bool,
    retained_fields: Vec<String>,
}

impl From<SettingsV4> for SettingsV5 {
    fn from(old: SettingsV4) -> SettingsV5 {
        SettingsV5 {
            sender_address: old.sender_address,
            sender_name: old.sender_name,
            organisation: old.organisation,
            postal_address: old.postal_address,
            preferences_url: old.preferences_url,
            link_valid_days: old.link_valid_days,
            flag_new_duplicates: old.flag_new_duplicates,
            retained_fields: old.retained_fields,
            confirm_changes: ConfirmationPolicy::Never,
            ip_evidence: IpPolicy::Truncate,
        }
    }
}

/// The configuration as stored by format 4: no deleted consents.
#[derive(Deserialize)]
pub(crate) struct ConfigurationV4 {
    settings: Option<SettingsV4>,
    consents: Vec<StoredDefinitionV6>,
    enablement: Enablement,
    suppression_salt: Option<Vec<u8>>,
    field_classes: Vec<(Module, FieldClass)>,
}

impl From<ConfigurationV4> for ConfigurationV5 {
    fn from(old: ConfigurationV4) -> ConfigurationV5 {
        ConfigurationV5 {
            settings: old.settings.map(SettingsV5::from),
            consents: old.consents,
            enablement: old.enablement,
            suppression_salt: old.suppression_salt,
            field_classes: old.field_classes,
            deleted: Vec::new(),
        }
    }
}

/// The settings as stored by configuration format 5 (before person modules).
#[derive(Deserialize)]
pub(crate) struct SettingsV5 {
    sender_address: Address,
    sender_name: String,
    organisation: String,
    postal_address: String,
    preferences_url: String,
    link_valid_days: u32,
    flag_new_duplicates: bool,
    retained_fields: Vec<String>,
    confirm_changes: ConfirmationPolicy,
    ip_evidence: IpPolicy,
}

impl From<SettingsV5> for SettingsV6 {
    fn from(old: SettingsV5) -> SettingsV6 {
        SettingsV6 {
            sender_address: old.sender_address,
            sender_name: old.sender_name,
            organisation: old.organisation,
            postal_address: old.postal_address,
            preferences_url: old.preferences_url,
            link_valid_days: old.link_valid_days,
            flag_new_duplicates: old.flag_new_duplicates,
            retained_fields: old.retained_fields,
            confirm_changes: old.confirm_changes,
            ip_evidence: old.ip_evidence,
            person_modules: Module::defaults(),
        }
    }
}

/// The configuration as stored by format 5: no person modules in the settings.
#[derive(Deserialize)]
pub(crate) struct ConfigurationV5 {
    settings: Option<SettingsV5>,
    consents: Vec<StoredDefinitionV6>,
    enablement: Enablement,
    suppression_salt: Option<Vec<u8>>,
    field_classes: Vec<(Module, FieldClass)>,
    deleted: Vec<StoredDefinitionV6>,
}

impl From<ConfigurationV5> for ConfigurationV6 {
    fn from(old: ConfigurationV5) -> ConfigurationV6 {
        ConfigurationV6 {
            settings: old.settings.map(SettingsV6::from),
            consents: old.consents,
            enablement: old.enablement,
            suppression_salt: old.suppression_salt,
            field_classes: old.field_classes,
            deleted: old.deleted,
        }
    }
}

/// The settings as stored by configuration format 6 (before regimes).
#[derive(Deserialize)]
pub(crate) struct SettingsV6 {
    sender_address: Address,
    sender_name: String,
    organisation: String,
    postal_address: String,
    preferences_url: String,
    link_valid_days: u32,
    flag_new_duplicates: bool,
    retained_fields: Vec<String>,
    confirm_changes: ConfirmationPolicy,
    ip_evidence: IpPolicy,
    person_modules: Vec<Module>,
}

impl From<SettingsV6> for SettingsV7 {
    fn from(old: SettingsV6) -> SettingsV7 {
        SettingsV7 {
            sender_address: old.sender_address,
            sender_name: old.sender_name,
            organisation: old.organisation,
            postal_address: old.postal_address,
            preferences_url: old.preferences_url,
            link_valid_days: old.link_valid_days,
            flag_new_duplicates: old.flag_new_duplicates,
            retained_fields: old.retained_fields,
            confirm_changes: old.confirm_changes,
            ip_evidence: old.ip_evidence,
            person_modules: old.person_modules,
            regimes: RegimeRules::default(),
            requests: RequestPolicy::default(),
        }
    }
}

/// The settings as stored by configuration format 7 (before the language rules).
#[derive(Deserialize)]
pub(crate) struct SettingsV7 {
    sender_address: Address,
    sender_name: String,
    organisation: String,
    postal_address: String,
    preferences_url: String,
    link_valid_days: u32,
    flag_new_duplicates: bool,
    retained_fields: Vec<String>,
    confirm_changes: ConfirmationPolicy,
    ip_evidence: IpPolicy,
    person_modules: Vec<Module>,
    regimes: RegimeRules,
    requests: RequestPolicy,
}

impl From<SettingsV7> for Settings {
    fn from(old: SettingsV7) -> Settings {
        Settings {
            sender_address: old.sender_address,
            sender_name: old.sender_name,
            organisation: old.organisation,
            postal_address: old.postal_address,
            preferences_url: old.preferences_url,
            link_valid_days: old.link_valid_days,
            flag_new_duplicates: old.flag_new_duplicates,
            retained_fields: old.retained_fields,
            confirm_changes: old.confirm_changes,
            ip_evidence: old.ip_evidence,
            person_modules: old.person_modules,
            regimes: old.regimes,
            requests: old.requests,
            languages: LanguageRules::default(),
        }
    }
}

/// The configuration as stored by format 6: no regimes in the settings.
#[derive(Deserialize)]
pub(crate) struct ConfigurationV6 {
    settings: Option<SettingsV6>,
    consents: Vec<StoredDefinitionV6>,
    enablement: Enablement,
    suppression_salt: Option<Vec<u8>>,
    field_classes: Vec<(Module, FieldClass)>,
    deleted: Vec<StoredDefinitionV6>,
}

impl From<ConfigurationV6> for ConfigurationV7 {
    fn from(old: ConfigurationV6) -> ConfigurationV7 {
        ConfigurationV7 {
            settings: old.settings.map(SettingsV7::from),
            consents: old.consents,
            enablement: old.enablement,
            suppression_salt: old.suppression_salt,
            field_classes: old.field_classes,
            deleted: old.deleted,
        }
    }
}

/// The configuration as stored by format 7: consents without the version their grants
/// count from.
#[derive(Deserialize)]
pub(crate) struct ConfigurationV7 {
    settings: Option<SettingsV7>,
    consents: Vec<StoredDefinitionV6>,
    enablement: Enablement,
    suppression_salt: Option<Vec<u8>>,
    field_classes: Vec<(Module, FieldClass)>,
    deleted: Vec<StoredDefinitionV6>,
}

impl From<ConfigurationV7> for Configuration {
    fn from(old: ConfigurationV7) -> Configuration {
        Configuration {
            settings: old.settings.map(Settings::from),
            consents: old
                .consents
                .into_iter()
                .map(StoredDefinition::from)
                .collect(),
            enablement: old.enablement,
            suppression_salt: old.suppression_salt,
            field_classes: old.field_classes,
            deleted: old
                .deleted
                .into_iter()
                .map(StoredDefinition::from)
                .collect(),
        }
    }
}

/// A consent as stored by configuration formats 4 to 7: its definition and purpose
/// version, before material changes were told from corrections.
#[derive(Deserialize)]
pub(crate) struct StoredDefinitionV6 {
    definition: ConsentDefinitionV7,
    purpose: PurposeVersion,
}

/// A consent's definition as stored by configuration formats 4 to 7: without
/// translations.
#[derive(Deserialize)]
pub(crate) struct ConsentDefinitionV7 {
    id: ConsentId,
    module: Module,
    kind: ConsentKind,
    title: String,
    purpose: String,
    default: ConsentDefault,
    applies_when: Vec<Clause>,
}

impl From<StoredDefinitionV6> for StoredDefinition {
    /// Every grant counted whatever its version: it still does, until the next material
    /// change; the earlier texts were not kept.
    fn from(old: StoredDefinitionV6) -> StoredDefinition {
        let definition = old.definition;
        StoredDefinition {
            definition: ConsentDefinition {
                id: definition.id,
                module: definition.module,
                kind: definition.kind,
                title: definition.title,
                purpose: definition.purpose,
                default: definition.default,
                applies_when: definition.applies_when,
                translations: Vec::new(),
                max_age_months: 0,
            },
            purpose: old.purpose,
            counts_from: 1,
            earlier_texts: Vec::new(),
        }
    }
}
