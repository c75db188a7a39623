//! The JSON shapes of the API's requests and answers, and their one conversion each from
//! and to the contract's types. Enums are the wire table's texts ([`Api`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ApiError;
use super::BATCH_LIMIT;
use crate::contract::configuration::{self as config, ConditionOp, ConsentDefault};
use crate::contract::records::{EditRefusal, EditRefusalReason};
use crate::contract::sending::{
    self as send, LawfulBasis, MessageClass, RecipientRole, RefusalReason,
};
use crate::contract::subjects::{self as subj, PersonStatus};
use crate::contract::types::{ConsentValue, RecordRef, Regime};
use crate::wire::{self, Api};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRefDto {
    pub module: String,
    pub id: String,
}

impl From<RecordRefDto> for RecordRef {
    fn from(reference: RecordRefDto) -> RecordRef {
        RecordRef {
            module: reference.module,
            id: reference.id,
        }
    }
}

impl From<RecordRef> for RecordRefDto {
    fn from(reference: RecordRef) -> RecordRefDto {
        RecordRefDto {
            module: reference.module,
            id: reference.id,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProblemDto {
    pub(super) at: String,
    pub(super) message: String,
}

impl From<config::Problem> for ProblemDto {
    fn from(problem: config::Problem) -> ProblemDto {
        ProblemDto {
            at: problem.at,
            message: problem.message,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientDto {
    pub(super) address: String,
    pub(super) role: Api<RecipientRole>,
    #[serde(default)]
    pub(super) person: Option<RecordRefDto>,
}

pub(super) fn recipients(recipients: Vec<RecipientDto>) -> Result<Vec<send::Recipient>, ApiError> {
    if recipients.is_empty() || recipients.len() > BATCH_LIMIT {
        return Err(ApiError::invalid(format!(
            "`recipients` must list 1 to {BATCH_LIMIT} recipients; got {}",
            recipients.len()
        )));
    }
    Ok(recipients
        .into_iter()
        .map(|recipient| send::Recipient {
            address: recipient.address,
            role: recipient.role.0,
            person: recipient.person.map(RecordRef::from),
        })
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSendRequest {
    pub(super) class: Api<MessageClass>,
    #[serde(default)]
    pub(super) purpose: Option<String>,
    pub(super) recipients: Vec<RecipientDto>,
}

#[derive(Debug, Serialize)]
pub struct DecisionDto {
    pub(super) address: String,
    pub(super) allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) basis: Option<Api<LawfulBasis>>,
    /// True when a marketing send relies on legitimate interests only because its consent
    /// awaits the person's answer (waiting, default yes).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) awaiting_consent: bool,
    /// `preferences_footer`, `strip_tracking`.
    pub(super) obligations: Vec<String>,
    /// The legal regime an allowed send was decided under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) regime: Option<Api<Regime>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<Api<RefusalReason>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) detail: String,
}

impl DecisionDto {
    pub(super) fn of(address: String, decision: send::Decision) -> DecisionDto {
        match decision {
            send::Decision::Allow(allowance) => DecisionDto {
                address,
                allowed: true,
                basis: Some(allowance.basis.into()),
                awaiting_consent: allowance.awaiting_consent,
                obligations: obligations(allowance.obligations),
                regime: Some(allowance.regime.into()),
                reason: None,
                detail: String::new(),
            },
            send::Decision::Refuse(refusal) => DecisionDto {
                address,
                allowed: false,
                basis: None,
                awaiting_consent: false,
                obligations: Vec::new(),
                regime: None,
                reason: Some(refusal.reason.into()),
                detail: refusal.detail,
            },
        }
    }
}

pub(super) fn obligations(flags: send::Obligations) -> Vec<String> {
    wire::obligation_texts(flags)
        .into_iter()
        .map(|text| text.replace('-', "_"))
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailDto {
    #[serde(default)]
    pub(super) message_id: Option<String>,
    pub(super) subject: String,
    pub(super) text_body: String,
    #[serde(default)]
    pub(super) html_body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    pub(super) class: Api<MessageClass>,
    #[serde(default)]
    pub(super) purpose: Option<String>,
    pub(super) mail: MailDto,
    pub(super) recipients: Vec<RecipientDto>,
}

#[derive(Debug, Serialize)]
pub struct RenderingDto {
    pub(super) address: String,
    pub(super) send: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) html_body: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<Api<RefusalReason>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) detail: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordDto {
    /// The CRM's id of the record.
    pub(super) id: String,
    /// Every field the CRM holds for the record, including `email`.
    pub(super) fields: BTreeMap<String, String>,
    /// The CRM's status of the record (e.g. `Active`, `Duplicate`); kept when left out.
    #[serde(default)]
    pub(super) status: Option<String>,
    /// When the CRM last modified the record, unix milliseconds; now when left out.
    #[serde(default)]
    pub(super) modified_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsRequest {
    pub(super) records: Vec<RecordDto>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckEditRequest {
    pub(super) changes: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct EditRefusalDto {
    pub(super) field: String,
    pub(super) reason: Api<EditRefusalReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) consent_id: Option<String>,
    pub(super) detail: String,
}

impl From<EditRefusal> for EditRefusalDto {
    fn from(refusal: EditRefusal) -> EditRefusalDto {
        EditRefusalDto {
            field: refusal.field,
            reason: Api(refusal.reason),
            consent_id: refusal.consent_id,
            detail: refusal.detail,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClauseDto {
    pub(super) field: String,
    pub(super) op: Api<ConditionOp>,
    #[serde(default)]
    pub(super) values: Vec<String>,
}

/// A consent as the API reads and writes it. `kind` is `data`, `custom`,
/// `email_tracking` or `document_tracking`; `field` names a data consent's field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDto {
    #[serde(default, skip_deserializing)]
    pub(super) id: String,
    pub(super) module: String,
    pub(super) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) field: Option<String>,
    pub(super) title: String,
    pub(super) purpose: String,
    pub(super) default_value: Api<ConsentDefault>,
    #[serde(default)]
    pub(super) applies_when: Vec<ClauseDto>,
    /// The title and purpose in other languages.
    #[serde(default)]
    pub(super) translations: Vec<TranslationDto>,
    /// Months a grant counts (0: until withdrawn).
    #[serde(default)]
    pub(super) max_age_months: u32,
    #[serde(default, skip_deserializing)]
    pub(super) purpose_version: u32,
    #[serde(default, skip_deserializing)]
    pub(super) purpose_hash: String,
    #[serde(default, skip_deserializing)]
    pub(super) counts_from_version: u32,
    /// Needed when the purpose text of an existing consent changes: `correction` or
    /// `material`. Never written back.
    #[serde(default, skip_serializing)]
    pub(super) purpose_change: Option<Api<config::PurposeChange>>,
}

/// A consent's title and purpose in one language.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationDto {
    language: String,
    title: String,
    purpose: String,
}

impl ConsentDto {
    /// What the client says the change of the purpose text is, if it says.
    pub(super) fn purpose_change(&self) -> Option<config::PurposeChange> {
        self.purpose_change.map(|change| change.0)
    }

    pub(super) fn definition(self, id: String) -> Result<config::ConsentDefinition, ApiError> {
        // The API writes the kinds' names in snake_case.
        let name = wire::CONSENT_KINDS
            .iter()
            .map(|(name, _)| *name)
            .find(|name| name.replace('-', "_") == self.kind)
            .unwrap_or_default();
        let kind = match wire::kind_of(name, self.field) {
            Ok(kind) => kind,
            Err(wire::KindError::FieldMissing) => {
                return Err(ApiError::invalid(
                    "a `data` consent names its `field`, e.g. \"field\": \"phone\"",
                ));
            }
            Err(wire::KindError::FieldNotExpected(_)) => {
                return Err(ApiError::invalid(format!(
                    "only a `data` consent names a `field`, not `{}`",
                    self.kind
                )));
            }
            Err(wire::KindError::Unknown(_)) => {
                let known: Vec<String> = wire::CONSENT_KINDS
                    .iter()
                    .map(|(name, _)| format!("`{}`", name.replace('-', "_")))
                    .collect();
                return Err(ApiError::invalid(format!(
                    "`kind` is one of {}, not `{}`",
                    known.join(", "),
                    self.kind
                )));
            }
        };
        Ok(config::ConsentDefinition {
            id,
            module: self.module,
            kind,
            title: self.title,
            purpose: self.purpose,
            default_value: self.default_value.0,
            applies_when: self
                .applies_when
                .into_iter()
                .map(|clause| config::ConditionClause {
                    field: clause.field,
                    op: clause.op.0,
                    values: clause.values,
                })
                .collect(),
            translations: self
                .translations
                .into_iter()
                .map(|translation| config::Translation {
                    language: translation.language,
                    title: translation.title,
                    purpose: translation.purpose,
                })
                .collect(),
            max_age_months: self.max_age_months,
        })
    }
}

impl From<config::StoredDefinition> for ConsentDto {
    fn from(stored: config::StoredDefinition) -> ConsentDto {
        let definition = stored.definition;
        let kind = wire::kind_name(&definition.kind).replace('-', "_");
        let field = match definition.kind {
            config::ConsentKind::Data(field) => Some(field),
            _ => None,
        };
        ConsentDto {
            id: definition.id,
            module: definition.module,
            kind,
            field,
            title: definition.title,
            purpose: definition.purpose,
            default_value: definition.default_value.into(),
            applies_when: definition
                .applies_when
                .into_iter()
                .map(|clause| ClauseDto {
                    field: clause.field,
                    op: clause.op.into(),
                    values: clause.values,
                })
                .collect(),
            translations: definition
                .translations
                .into_iter()
                .map(|translation| TranslationDto {
                    language: translation.language,
                    title: translation.title,
                    purpose: translation.purpose,
                })
                .collect(),
            max_age_months: definition.max_age_months,
            purpose_version: stored.purpose_version,
            purpose_hash: stored.purpose_hash,
            counts_from_version: stored.counts_from_version,
            purpose_change: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldClassDto {
    #[serde(default, skip_deserializing)]
    pub(super) field: String,
    pub(super) personal: bool,
    #[serde(default)]
    pub(super) essential: bool,
    #[serde(default)]
    pub(super) sensitive: bool,
    #[serde(default)]
    pub(super) encrypted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    pub(super) confirm_deduplication: bool,
}

#[derive(Debug, Serialize)]
pub struct SubjectDto {
    pub(super) person: RecordRefDto,
    pub(super) address: String,
    pub(super) status: Api<PersonStatus>,
    pub(super) consents: Vec<ConsentStateDto>,
    /// The legal regime the person's marketing is decided under today.
    pub(super) regime: Api<Regime>,
    /// The language the person is written to in.
    pub(super) language: String,
}

#[derive(Debug, Serialize)]
pub struct ConsentStateDto {
    pub(super) consent_id: String,
    pub(super) value: Api<ConsentValue>,
    pub(super) since: i64,
    pub(super) purpose_version: u32,
}

impl From<subj::SubjectView> for SubjectDto {
    fn from(view: subj::SubjectView) -> SubjectDto {
        SubjectDto {
            person: view.person.into(),
            address: view.address,
            status: view.status.into(),
            consents: view
                .consents
                .into_iter()
                .map(|state| ConsentStateDto {
                    consent_id: state.consent_id,
                    value: state.value.into(),
                    since: state.since,
                    purpose_version: state.purpose_version,
                })
                .collect(),
            regime: view.regime.into(),
            language: view.language,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub(super) consent_id: String,
    pub(super) grant: bool,
    /// Only `api`, the channel it arrives by: a caller cannot claim that the person
    /// answered on the page, or that the daily run did anything.
    #[serde(default)]
    pub(super) source: Option<String>,
    pub(super) evidence: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub(super) reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    pub(super) evidence: String,
}
