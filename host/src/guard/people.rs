//! What happens to one person: the preferences page's answers, restriction, erasure,
//! decisions staff record, the person's view and history.

use super::{Guard, GuardError};
use crate::contract::preferences::{Choice, Evidence, LinkError, Page, SubmitError};
use crate::contract::subjects::{ErasureReport, RecordError, StaffActor, SubjectView};
use crate::contract::types::{ConsentValue, RecordRef};

impl Guard {
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

    /// The person's current preferences link, freshly signed (for staff to hand over). A
    /// write: the record's first link stores the way back from its opaque handle.
    pub fn preferences_link(
        &self,
        person: &RecordRef,
    ) -> Result<Result<String, RecordError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_preferences_link(store, person)
        })
    }

    /// Asks the person again at the next daily run (see `subjects.ask-again`): whether
    /// there was anything unanswered to ask.
    pub fn ask_again(
        &self,
        person: &RecordRef,
        actor: &StaffActor,
    ) -> Result<Result<bool, RecordError>, GuardError> {
        self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_subjects()
                .call_ask_again(store, person, actor)
        })
    }

    /// Asks again every person of `module` whose consents are unanswered (only those whose
    /// `consent` is, when one is named), skipping whom the plugin refuses (restricted,
    /// erased, duplicates): how many will be asked.
    pub fn ask_again_all(
        &self,
        module: &str,
        consent: Option<&str>,
        actor: &StaffActor,
    ) -> Result<u64, GuardError> {
        const PAGE: u32 = 500;
        let mut asked = 0;
        let mut after: Option<String> = None;
        loop {
            let page =
                self.block_on(self.database().records_page(module, after.as_deref(), PAGE))?;
            for record in &page {
                let person = RecordRef {
                    module: record.module.clone(),
                    id: record.id.clone(),
                };
                if let Some(consent) = consent {
                    let unanswered = self.subject(&person)?.is_some_and(|subject| {
                        subject.consents.iter().any(|state| {
                            state.consent_id == consent
                                && matches!(
                                    state.value,
                                    ConsentValue::Applicable | ConsentValue::Waiting
                                )
                        })
                    });
                    if !unanswered {
                        continue;
                    }
                }
                if let Ok(true) = self.ask_again(&person, actor)? {
                    asked += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = Some(last.id.clone()),
                _ => return Ok(asked),
            }
        }
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
}
