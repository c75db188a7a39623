//! What completing a case does beyond closing it: the consent action its kind means,
//! called into the case's unit of work (erase, restrict, the refusals an objection means,
//! a rectification's edit), each with the case's actor, so the plugin writes its own events.

use serde_json::json;

use super::{CaseOutcome, CaseRefusal, Completion, reference};
use crate::cases::{Case, CaseKind};
use crate::contract::subjects::{RecordError, StaffActor};
use crate::contract::types::{ConsentValue, Field, RecordRef};
use crate::guard::{Guard, GuardError};
use crate::storage::UnitOfWork;

/// A call of the plugin's `subjects` interface answering what it did, or its refusal.
type SubjectsCall<'a> = &'a dyn Fn(
    &mut wasmtime::Store<crate::capabilities::HostState>,
    &crate::contract::Bindings,
) -> wasmtime::Result<Result<serde_json::Value, RecordError>>;

impl Guard {
    /// The consent action a completed case means, called into `work`; what it did, for
    /// the completion event.
    pub(super) fn carry_out(
        &self,
        case: &Case,
        person: &RecordRef,
        completion: &Completion,
        evidence: &str,
        actor: &StaffActor,
        work: &mut UnitOfWork,
    ) -> CaseOutcome<serde_json::Value> {
        match case.kind {
            CaseKind::Access | CaseKind::Portability => Ok(Ok(json!("export"))),
            CaseKind::Erasure => self.subjects_call(work, &|store, plugin| {
                let erased = plugin
                    .privacy_guard_consent_subjects()
                    .call_erase(store, person, actor, evidence)?;
                Ok(erased.map(|report| {
                    json!({
                        "erased-fields": report.erased_fields,
                        "retained-fields": report.retained_fields,
                    })
                }))
            }),
            CaseKind::Restriction => self.subjects_call(work, &|store, plugin| {
                let restricted = plugin
                    .privacy_guard_consent_subjects()
                    .call_restrict(store, person, actor, evidence)?;
                Ok(restricted.map(|_| json!("restricted")))
            }),
            CaseKind::Objection => {
                // Every consent the person has not refused yet is refused: an objection
                // ends processing on consent, and nothing unanswered is asked again.
                let (subject, written) =
                    self.runtime
                        .with_instance(std::mem::take(work), |store, plugin| {
                            plugin
                                .privacy_guard_consent_subjects()
                                .call_get(store, person)
                        })?;
                *work = written;
                let Some(subject) = subject else {
                    return Ok(Err(CaseRefusal::UnknownPerson(reference(person))));
                };
                let consents: Vec<String> = subject
                    .consents
                    .iter()
                    .filter(|state| {
                        matches!(
                            state.value,
                            ConsentValue::Granted
                                | ConsentValue::Waiting
                                | ConsentValue::Applicable
                        )
                    })
                    .map(|state| state.consent_id.clone())
                    .collect();
                for consent in &consents {
                    let refused = self.subjects_call(work, &|store, plugin| {
                        let recorded = plugin
                            .privacy_guard_consent_subjects()
                            .call_record_decision(store, person, consent, false, actor, evidence)?;
                        Ok(recorded.map(|_| json!(null)))
                    })?;
                    if let Err(refusal) = refused {
                        return Ok(Err(refusal));
                    }
                }
                Ok(Ok(json!({ "refused-consents": consents })))
            }
            CaseKind::Rectification => self.correct(person, completion, work),
        }
    }

    /// One call of the plugin's `subjects` into `work`; its refusal as the case's.
    fn subjects_call(
        &self,
        work: &mut UnitOfWork,
        call: SubjectsCall<'_>,
    ) -> CaseOutcome<serde_json::Value> {
        let (answer, written) = self.runtime.with_instance(std::mem::take(work), call)?;
        *work = written;
        Ok(answer.map_err(|error| CaseRefusal::ConsentAction(record_error_text(&error))))
    }

    /// A rectification's corrections as a CRM user's edit, into `work`: refused whole
    /// when the plugin refuses a field.
    fn correct(
        &self,
        person: &RecordRef,
        completion: &Completion,
        work: &mut UnitOfWork,
    ) -> Result<Result<serde_json::Value, CaseRefusal>, GuardError> {
        if completion.corrections.is_empty() {
            return Ok(Err(CaseRefusal::CorrectionsMissing));
        }
        for (name, _) in &completion.corrections {
            if let Some(problem) = crate::capabilities::field_name_problem(name) {
                return Err(GuardError::Invalid(problem));
            }
        }
        let Some(mut record) = self.record(&person.module, &person.id)? else {
            return Ok(Err(CaseRefusal::UnknownPerson(reference(person))));
        };
        let fields: Vec<Field> = completion
            .corrections
            .iter()
            .map(|(name, value)| Field {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        let (refusals, written) =
            self.runtime
                .with_instance(std::mem::take(work), |store, plugin| {
                    plugin
                        .privacy_guard_consent_records()
                        .call_check_edit(store, person, &fields)
                })?;
        *work = written;
        if !refusals.is_empty() {
            return Ok(Err(CaseRefusal::CorrectionRefused(refusals)));
        }
        for (name, value) in &completion.corrections {
            record.set_field(name, value);
        }
        record.modified_at = self.clock().now_millis();
        work.records
            .insert((record.module.clone(), record.id.clone()), record.clone());
        let people = [crate::capabilities::person_record(record)];
        let (_summary, written) =
            self.runtime
                .with_instance(std::mem::take(work), |store, plugin| {
                    plugin
                        .privacy_guard_consent_records()
                        .call_records_changed(store, &people)
                })?;
        *work = written;
        let corrected: Vec<&str> = completion
            .corrections
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        Ok(Ok(json!({ "corrected-fields": corrected })))
    }
}

/// A refusal of the plugin in words.
fn record_error_text(error: &RecordError) -> String {
    match error {
        RecordError::UnknownPerson(person) => {
            format!("the plugin does not know {}", reference(person))
        }
        RecordError::UnknownConsent(id) => format!("no consent `{id}`"),
        RecordError::NotApplicable(id) => format!("`{id}` does not apply to this person"),
        RecordError::EvidenceRequired => "evidence is required".to_owned(),
        RecordError::StatusRefused(why) => why.clone(),
        RecordError::ActorRequired => "the case's actor has no name".to_owned(),
    }
}
