//! The record of processing activities (GDPR Art. 30(1)) as far as the configuration
//! knows it, written as Markdown and CSV a data-protection officer can complete and hand to
//! an auditor.
//!
//! Made from the plugin's configuration snapshot and the field classification only (the
//! host asks the plugin through [`crate::guard::Guard::processing_register`]): one
//! activity per consent (its purpose text by version and hash, consent as lawful basis, the
//! data it covers, how long a grant counts), the mail sent on other grounds (contract,
//! legal obligation, the soft opt-in, opt-out regimes), and the proof of consent itself.
//! What the configuration cannot know (the controller's representative, the DPO's contact,
//! recipients beyond the host, transfers to third countries, most security measures) is
//! written [`TO_BE_COMPLETED`] and listed, never guessed.

mod writing;

use serde::Serialize;

use crate::contract::configuration::{
    ConsentKind, FieldClass, IpPolicy, Settings, Snapshot, StoredDefinition,
};
use crate::contract::types::Regime;
use crate::wire::Wire;

pub use self::writing::CSV_COLUMNS;

/// What the register writes where the configuration cannot know the answer.
pub const TO_BE_COMPLETED: &str = "to be completed";

/// The controller (Art. 30(1)(a)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Controller {
    pub name: String,
    pub postal_address: String,
    pub contact: String,
    pub representative: String,
    pub data_protection_officer: String,
}

/// One processing activity (Art. 30(1)(b)-(g)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub name: String,
    /// Where it comes from in the configuration (`consent news v2 sha256:…`).
    pub source: String,
    pub purpose: String,
    pub lawful_basis: String,
    pub data_subjects: String,
    pub data_categories: Vec<String>,
    /// Special categories (Art. 9): fields classified sensitive.
    pub special_categories: Vec<String>,
    pub recipients: String,
    pub transfers: String,
    pub retention: String,
}

/// The personal data of a module, from the field classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleData {
    pub module: String,
    pub personal: Vec<String>,
    pub essential: Vec<String>,
    pub sensitive: Vec<String>,
    pub encrypted: Vec<String>,
    /// Kept by an erasure for a legal obligation (`retained-fields`).
    pub retained_on_erasure: Vec<String>,
}

/// The record of processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessingRegister {
    /// The day it was made (the host's clock, UTC).
    pub generated_on: String,
    pub controller: Controller,
    pub activities: Vec<Activity>,
    pub data: Vec<ModuleData>,
    /// Art. 32 measures the host itself takes, and what is left to describe.
    pub security_measures: Vec<String>,
    /// Every field of the register written [`TO_BE_COMPLETED`], by where it is.
    pub to_be_completed: Vec<String>,
}

impl ProcessingRegister {
    /// The register of `snapshot`, with the field classes of each person module.
    pub fn of(
        snapshot: &Snapshot,
        classes: &[(String, Vec<FieldClass>)],
        generated_on: String,
    ) -> ProcessingRegister {
        let settings = snapshot.settings.as_ref();
        let known = |text: Option<&str>| {
            text.map(str::trim)
                .filter(|text| !text.is_empty())
                .map_or_else(|| TO_BE_COMPLETED.to_owned(), str::to_owned)
        };
        let controller = Controller {
            name: known(settings.map(|settings| settings.organisation.as_str())),
            postal_address: known(settings.map(|settings| settings.postal_address.as_str())),
            contact: known(settings.map(|settings| settings.sender_address.as_str())),
            representative: TO_BE_COMPLETED.to_owned(),
            data_protection_officer: TO_BE_COMPLETED.to_owned(),
        };
        let retained = settings.map_or_else(Vec::new, |settings| settings.retained_fields.clone());
        let data: Vec<ModuleData> = classes
            .iter()
            .map(|(module, fields)| {
                let named = |wanted: fn(&FieldClass) -> bool| -> Vec<String> {
                    fields
                        .iter()
                        .filter(|class| wanted(class))
                        .map(|class| class.field.clone())
                        .collect()
                };
                ModuleData {
                    module: module.clone(),
                    personal: personal_of(module, named(|class| class.personal), snapshot),
                    essential: named(|class| class.essential),
                    sensitive: named(|class| class.sensitive),
                    encrypted: named(|class| class.encrypted),
                    retained_on_erasure: retained.clone(),
                }
            })
            .collect();
        let mut activities: Vec<Activity> = snapshot
            .consents
            .iter()
            .map(|stored| consent_activity(stored, &data))
            .collect();
        activities.extend(settings.map(|settings| other_grounds_activity(settings, &data)));
        activities.push(proof_activity(settings, &snapshot.person_modules));
        let mut security_measures = vec![
            "consent events are kept in an append-only, hash-chained log (updates and deletes refused by the database; `privacy-guard verify-events` checks the chain)".to_owned(),
            "preferences links are signed and expire".to_owned(),
            "API keys are kept as SHA-256 digests only and scoped (pre-send, read, staff, admin)".to_owned(),
        ];
        let encrypted: Vec<String> = data
            .iter()
            .flat_map(|module| {
                module
                    .encrypted
                    .iter()
                    .map(move |field| format!("{}.{field}", module.module))
            })
            .collect();
        if !encrypted.is_empty() {
            security_measures.push(format!(
                "encrypted at rest (XChaCha20-Poly1305, rotating keys): {}",
                encrypted.join(", ")
            ));
        }
        security_measures.push(format!(
            "the organisation's other technical and organisational measures (access control, backups, hosting): {TO_BE_COMPLETED}"
        ));
        let mut register = ProcessingRegister {
            generated_on,
            controller,
            activities,
            data,
            security_measures,
            to_be_completed: Vec::new(),
        };
        register.to_be_completed = register.blanks();
        register
    }

    /// Where the register says [`TO_BE_COMPLETED`].
    fn blanks(&self) -> Vec<String> {
        let mut blanks = Vec::new();
        let controller = &self.controller;
        for (field, value) in [
            ("controller name", &controller.name),
            ("controller postal address", &controller.postal_address),
            ("controller contact", &controller.contact),
            (
                "controller's representative (Art. 27)",
                &controller.representative,
            ),
            (
                "data-protection officer's contact",
                &controller.data_protection_officer,
            ),
        ] {
            if value.contains(TO_BE_COMPLETED) {
                blanks.push(field.to_owned());
            }
        }
        for activity in &self.activities {
            for (field, value) in [
                ("categories of data", &activity.data_categories.join("; ")),
                ("recipients", &activity.recipients),
                ("transfers to third countries", &activity.transfers),
                ("retention", &activity.retention),
            ] {
                if value.contains(TO_BE_COMPLETED) {
                    blanks.push(format!("{}: {field}", activity.name));
                }
            }
        }
        if self
            .security_measures
            .iter()
            .any(|measure| measure.contains(TO_BE_COMPLETED))
        {
            blanks.push("security measures (Art. 32)".to_owned());
        }
        blanks
    }
}

/// A module's personal fields: the email address (every person has one; people are found
/// by it), those classified personal, and those a data consent covers.
fn personal_of(module: &str, classified: Vec<String>, snapshot: &Snapshot) -> Vec<String> {
    let covered = snapshot
        .consents
        .iter()
        .filter(|stored| stored.definition.module == module)
        .filter_map(|stored| match &stored.definition.kind {
            ConsentKind::Data(field) => Some(field.clone()),
            _ => None,
        });
    let mut personal = vec!["email".to_owned()];
    for field in classified.into_iter().chain(covered) {
        if !personal.contains(&field) {
            personal.push(field);
        }
    }
    personal
}

fn subjects_of(module: &str) -> String {
    format!("people held in the CRM's `{module}`")
}

fn personal_fields(data: &[ModuleData], module: &str) -> (Vec<String>, Vec<String>) {
    data.iter()
        .find(|data| data.module == module)
        .map_or_else(Default::default, |data| {
            (data.personal.clone(), data.sensitive.clone())
        })
}

fn consent_activity(stored: &StoredDefinition, data: &[ModuleData]) -> Activity {
    let definition = &stored.definition;
    let (personal, sensitive) = personal_fields(data, &definition.module);
    let mut categories = vec!["email address".to_owned()];
    let mut special = Vec::new();
    match &definition.kind {
        ConsentKind::Data(field) => {
            categories.push(format!("`{field}`"));
            if sensitive.contains(field) {
                special.push(format!("`{field}`"));
            }
        }
        // The purpose text says what it uses; the configuration does not.
        ConsentKind::Custom => {
            let fields: Vec<String> = personal
                .iter()
                .filter(|field| *field != "email")
                .map(|field| format!("`{field}`"))
                .collect();
            categories.push(format!(
                "which of the module's personal fields ({}) the purpose uses: {TO_BE_COMPLETED}",
                if fields.is_empty() {
                    "none classified".to_owned()
                } else {
                    fields.join(", ")
                }
            ));
        }
        ConsentKind::EmailTracking => {
            categories.push("whether and when a mail was opened, links followed".to_owned());
        }
        ConsentKind::DocumentTracking => {
            categories.push("whether and when a shared document was viewed".to_owned());
        }
    }
    let retention = if definition.max_age_months == 0 {
        "while the consent is granted; the data it covers is erased when it is withdrawn or refused"
            .to_owned()
    } else {
        format!(
            "a grant counts {} months (renewal asked 30 days before); the data it covers is erased when it is withdrawn or refused",
            definition.max_age_months
        )
    };
    Activity {
        name: definition.title.clone(),
        source: format!(
            "consent `{}` (purpose version {}, sha256:{})",
            definition.id, stored.purpose_version, stored.purpose_hash
        ),
        purpose: definition.purpose.clone(),
        lawful_basis: "consent, GDPR Art. 6(1)(a) (Art. 9(2)(a) for special categories)".to_owned(),
        data_subjects: subjects_of(&definition.module),
        data_categories: categories,
        special_categories: special,
        recipients: format!("the controller's CRM users; the mail service: {TO_BE_COMPLETED}"),
        transfers: TO_BE_COMPLETED.to_owned(),
        retention,
    }
}

/// Mail sent without consent: on a contract or legal obligation, the soft opt-in, or where
/// an opt-out or implied-consent regime decides.
fn other_grounds_activity(settings: &Settings, data: &[ModuleData]) -> Activity {
    let mut bases = vec![
        "contract, Art. 6(1)(b), and legal obligation, Art. 6(1)(c): transactional mail".to_owned(),
    ];
    let rules = &settings.regimes;
    if !rules.soft_opt_in.is_empty() {
        bases.push(format!(
            "legitimate interests, Art. 6(1)(f) with ePrivacy Art. 13(2) (soft opt-in to existing customers until they object) for {}",
            rules.soft_opt_in.join(", ")
        ));
    }
    let mut regimes: Vec<String> = rules
        .values
        .iter()
        .filter(|(_, regime)| *regime != Regime::OptIn)
        .map(|(value, regime)| format!("{} where `{}` is {value}", regime.text(), rules.field))
        .collect();
    if rules.default_regime != Regime::OptIn {
        regimes.push(format!("{} for everyone else", rules.default_regime.text()));
    }
    if !regimes.is_empty() {
        bases.push(format!("marketing under {}", regimes.join("; ")));
    }
    let modules: Vec<&str> = data.iter().map(|data| data.module.as_str()).collect();
    Activity {
        name: "Mail sent on grounds other than consent".to_owned(),
        source: "settings `regimes`; the pre-send check's lawful basis per mail".to_owned(),
        purpose: "mail a contract or the law requires, and marketing where the applicable law does not require consent first".to_owned(),
        lawful_basis: bases.join("; "),
        data_subjects: modules.iter().map(|module| subjects_of(module)).collect::<Vec<_>>().join("; "),
        data_categories: vec!["email address".to_owned(), "name".to_owned()],
        special_categories: Vec::new(),
        recipients: format!("the mail service: {TO_BE_COMPLETED}"),
        transfers: TO_BE_COMPLETED.to_owned(),
        retention: TO_BE_COMPLETED.to_owned(),
    }
}

/// Keeping the proof of consent (Art. 7(1)).
fn proof_activity(settings: Option<&Settings>, modules: &[String]) -> Activity {
    let ip = match settings.map(|settings| settings.ip_evidence) {
        Some(IpPolicy::Keep) => Some("the whole IP address of a page answer"),
        Some(IpPolicy::Truncate) => Some("the network of a page answer's IP address (/24, /48)"),
        Some(IpPolicy::Hash) => Some("a salted hash of a page answer's IP address"),
        Some(IpPolicy::Drop) | None => None,
    };
    let mut categories = vec![
        "record reference, consent answers with time, channel and evidence".to_owned(),
        "browser user agent of a page answer".to_owned(),
    ];
    categories.extend(ip.map(str::to_owned));
    Activity {
        name: "Proof of consent and of rights requests".to_owned(),
        source: format!(
            "the event log; setting `ip-evidence` {}",
            settings.map_or("(no settings)", |settings| settings.ip_evidence.text())
        ),
        purpose:
            "demonstrating that people consented, withdrew, restricted or had their data erased"
                .to_owned(),
        lawful_basis: "legal obligation, GDPR Art. 6(1)(c) with Art. 7(1) and Art. 5(2)".to_owned(),
        data_subjects: modules
            .iter()
            .map(|module| subjects_of(module))
            .collect::<Vec<_>>()
            .join("; "),
        data_categories: categories,
        special_categories: Vec::new(),
        recipients: "supervisory authorities and courts on request".to_owned(),
        transfers: TO_BE_COMPLETED.to_owned(),
        retention: format!(
            "kept append-only as proof, without names or addresses (an erasure empties those in the CRM): the period: {TO_BE_COMPLETED}"
        ),
    }
}
