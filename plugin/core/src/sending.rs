//! The pre-send decision, the hot path: one decision per recipient of one mail.
//!
//! A batch is decided from the stored bytes only: the configuration's sending index (read
//! in place from `config`) and each recipient's stored snapshot (`person/<address>`, read in
//! place). The adapter reads storage twice per call whatever the batch size
//! ([`SendingPolicy::decode`], [`person_keys`]), a third time only when recipients are
//! unknown and an erasure ever happened ([`suppression_lookups`]: is the address erased?),
//! and then asks [`decide_batch`].
//!
//! # Decision table
//!
//! Checked top to bottom; the first row that matches decides. "Known" means a snapshot is
//! stored under the recipient's normalised address; "status" is the known person's status.
//! That snapshot is the one of the record owning the address: after de-duplication the
//! primary ([`crate::deduplication`]), so a shared address is decided by the primary's
//! consents, and `duplicate` is refused only when the owner itself is flagged. An *erased
//! address* is one nobody holds any more whose suppression marker an erasure left
//! ([`crate::restriction::suppression_key`]); it counts as status erased. *Names the erased
//! record*: the recipient names a CRM record the plugin holds as erased.
//!
//! | class | condition | decision |
//! |---|---|---|
//! | any | the address is not a plausible email address | refuse `invalid-address` |
//! | transactional | unknown, or status active / duplicate | allow, basis `contract` |
//! | transactional | status restricted | allow, basis `legal-obligation` |
//! | transactional | status erased (or an erased address), and the recipient names the erased record | allow, basis `legal-obligation` |
//! | transactional | status erased (or an erased address), otherwise | refuse `erased` |
//! | ad-hoc | status restricted / erased (or an erased address) / duplicate | refuse `processing-restricted` / `erased` / `duplicate` |
//! | ad-hoc | unknown, or status active | allow, basis `legitimate-interests` |
//! | workflow | names a purpose that no consent has | refuse `purpose-unknown` |
//! | workflow | status restricted / erased (or an erased address) / duplicate | refuse `processing-restricted` / `erased` / `duplicate` |
//! | workflow | unknown | allow, basis `legitimate-interests` |
//! | workflow | the purpose's consent is Not Granted | refuse `consent-refused` |
//! | workflow | the purpose's consent is Granted | allow, basis `consent` |
//! | workflow | otherwise | allow, basis `legitimate-interests` |
//! | marketing | consents are not enabled | refuse `consents-not-enabled` |
//! | marketing | no purpose, or no consent has that id | refuse `purpose-unknown` |
//! | marketing | an erased address | refuse `erased` |
//! | marketing | unknown | refuse `unknown-recipient` |
//! | marketing | status restricted / erased / duplicate | refuse `processing-restricted` / `erased` / `duplicate` |
//! | marketing | purpose consent Granted | allow, basis `consent` |
//! | marketing | purpose consent Waiting, default *yes* | allow, basis `legitimate-interests`, `awaiting-consent` |
//! | marketing | purpose consent Waiting, default *no* | refuse `consent-pending` |
//! | marketing | purpose consent Applicable | refuse `consent-not-requested` |
//! | marketing | purpose consent Not Granted | refuse `consent-refused` |
//! | marketing | purpose consent Not Applicable, or none | refuse `consent-not-applicable` |
//!
//! Obligations of an allowed send:
//!
//! | obligation | when |
//! |---|---|
//! | `preferences-footer` | ad-hoc or marketing mail, role **To**, known person. Never for CC or BCC: each recipient gets the rendering meant for them. |
//! | `strip-tracking` | the person's email-tracking consent is not Granted, including unknown recipients and modules without an email-tracking consent: no consent, no pixel and no tracked link. |
//!
//! Refusals carry no detail on the hot path: the reason says it all.

use crate::address::{Address, looks_like_address};
use crate::consent::{ConsentDefault, ConsentValue};
use crate::vocabulary::PersonStatus;
use crate::vocabulary::{LawfulBasis, MessageClass};

use crate::record::RecordRef;
use crate::restriction::suppression_key;
use crate::storage::{
    PersonFacts, SendingIndex, StorageError, decode_sending_index, person_key, read_person_facts,
};

/// The recipient's place in the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientRole {
    To,
    Cc,
    Bcc,
}

/// One recipient, as the mail names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    pub role: RecipientRole,
}

/// The mail being sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub class: MessageClass,
    /// The consent (definition id) the mail relies on.
    pub purpose: Option<String>,
}

/// What the host must do to the mail for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Obligations {
    pub preferences_footer: bool,
    pub strip_tracking: bool,
}

/// Why a send is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    ConsentsNotEnabled,
    PurposeUnknown,
    InvalidAddress,
    UnknownRecipient,
    ConsentNotApplicable,
    ConsentNotRequested,
    ConsentPending,
    ConsentRefused,
    ProcessingRestricted,
    Erased,
    Duplicate,
}

/// The decision for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow {
        basis: LawfulBasis,
        obligations: Obligations,
        /// The send relies on legitimate interests only while the purpose's consent awaits
        /// the person's answer (waiting, default yes): nobody has consented yet.
        awaiting_consent: bool,
    },
    Refuse(RefusalReason),
}

/// The purpose a request names, resolved against the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurposeCheck<'a> {
    /// The request names no purpose.
    None,
    /// The request names a purpose no consent has.
    Undefined,
    /// The request names the consent with this id.
    Defined(&'a str),
}

/// Who holds a recipient's address, as far as a send decision is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    /// Nobody: no snapshot and no suppression marker under the address.
    Nobody,
    /// Nobody any more: the address was erased (its suppression marker is stored).
    ErasedAddress,
    /// The person whose snapshot is stored under the address.
    Person(&'a PersonFacts),
}

impl Holder<'_> {
    /// The holder's status, an erased address counting as erased.
    fn status(&self) -> Option<PersonStatus> {
        match self {
            Holder::Nobody => None,
            Holder::ErasedAddress => Some(PersonStatus::Erased { since: 0 }),
            Holder::Person(person) => Some(person.status),
        }
    }
}

/// What the adapter found out about erasures in a batch, by recipient index; both lists
/// are empty unless someone was erased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureFacts {
    /// Recipients without a snapshot whose address carries a suppression marker.
    pub erased_addresses: Vec<usize>,
    /// Recipients naming a CRM record the plugin holds as erased.
    pub naming_erased_records: Vec<usize>,
}

/// The configuration as the hot path needs it, borrowed from the stored `config` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendingPolicy<'a> {
    index: SendingIndex<'a>,
}

impl<'a> SendingPolicy<'a> {
    /// Reads the policy in place from the stored `config` value (none: nothing configured).
    pub fn decode(config: Option<&'a [u8]>) -> Result<SendingPolicy<'a>, StorageError> {
        decode_sending_index(config).map(|index| SendingPolicy { index })
    }

    pub fn consents_enabled(&self) -> bool {
        self.index.enabled
    }

    /// Resolves the purpose a request names.
    pub fn check_purpose<'p>(&self, purpose: Option<&'p str>) -> PurposeCheck<'p> {
        match purpose {
            None => PurposeCheck::None,
            Some(id) if self.index.consents.iter().any(|consent| consent.id == id) => {
                PurposeCheck::Defined(id)
            }
            Some(_) => PurposeCheck::Undefined,
        }
    }
}

/// The store keys to read for `recipients`, in their order (`person/<normalised address>`).
pub fn person_keys(recipients: &[Recipient]) -> Vec<String> {
    recipients
        .iter()
        .map(|recipient| person_key(&recipient.address))
        .collect()
}

/// The suppression markers to look up: `(recipient index, key)` for every recipient with a
/// usable address and no snapshot, once an erasure has salted the markers. Empty when
/// nobody was ever erased, so the common batch costs nothing more.
pub fn suppression_lookups<S>(
    policy: &SendingPolicy<'_>,
    recipients: &[Recipient],
    snapshots: &[Option<S>],
) -> Vec<(usize, String)> {
    let Some(salt) = &policy.index.suppression_salt else {
        return Vec::new();
    };
    recipients
        .iter()
        .zip(snapshots)
        .enumerate()
        .filter(|(_, (_, snapshot))| snapshot.is_none())
        .filter_map(|(index, (recipient, _))| {
            let address = Address::parse(&recipient.address).ok()?;
            Some((index, suppression_key(salt.as_ref(), &address)))
        })
        .collect()
}

/// Decides for every recipient, given the stored snapshot bytes read under
/// [`person_keys`], in recipient order, and what the adapter found about erasures. A
/// snapshot that cannot be read is an error (the adapter traps, and the host refuses the
/// whole mail): never an allowance.
pub fn decide_batch<S: AsRef<[u8]>>(
    policy: &SendingPolicy<'_>,
    request: &SendRequest,
    recipients: &[Recipient],
    snapshots: &[Option<S>],
    erasures: &ErasureFacts,
) -> Result<Vec<Decision>, StorageError> {
    if recipients.len() != snapshots.len() {
        return Err(StorageError::BatchMismatch {
            recipients: recipients.len(),
            snapshots: snapshots.len(),
        });
    }
    let purpose = policy.check_purpose(request.purpose.as_deref());
    let purpose_id = match purpose {
        PurposeCheck::Defined(id) => Some(id),
        PurposeCheck::None | PurposeCheck::Undefined => None,
    };
    let mut decisions = Vec::with_capacity(recipients.len());
    for (index, (recipient, snapshot)) in recipients.iter().zip(snapshots).enumerate() {
        if !looks_like_address(&recipient.address) {
            decisions.push(Decision::Refuse(RefusalReason::InvalidAddress));
            continue;
        }
        let person = match snapshot {
            Some(bytes) => Some(read_person_facts(
                bytes.as_ref(),
                purpose_id,
                &policy.index,
            )?),
            None => None,
        };
        let holder = match &person {
            Some(person) => Holder::Person(person),
            None if erasures.erased_addresses.contains(&index) => Holder::ErasedAddress,
            None => Holder::Nobody,
        };
        let names_erased_record = erasures.naming_erased_records.contains(&index);
        decisions.push(decide(
            request.class,
            recipient.role,
            policy.index.enabled,
            purpose,
            holder,
            names_erased_record,
        ));
    }
    Ok(decisions)
}

/// The decision table for a recipient whose address looks like an address.
pub fn decide(
    class: MessageClass,
    role: RecipientRole,
    consents_enabled: bool,
    purpose: PurposeCheck<'_>,
    holder: Holder<'_>,
    names_erased_record: bool,
) -> Decision {
    use RefusalReason as Refuse;
    let status_refusal = match holder.status() {
        None | Some(PersonStatus::Active) => None,
        Some(PersonStatus::Restricted { .. }) => Some(Refuse::ProcessingRestricted),
        Some(PersonStatus::Erased { .. }) => Some(Refuse::Erased),
        Some(PersonStatus::Duplicate { .. }) => Some(Refuse::Duplicate),
    };
    let person = match holder {
        Holder::Person(person) => Some(person),
        Holder::Nobody | Holder::ErasedAddress => None,
    };
    // The person's purpose value counts only when the request names a defined purpose.
    let purpose_value = match (purpose, person) {
        (PurposeCheck::Defined(_), Some(person)) => person.purpose.map(|(value, _)| value),
        _ => None,
    };
    let mut awaiting_consent = false;
    let verdict = match class {
        MessageClass::Transactional => match holder.status() {
            Some(PersonStatus::Restricted { .. }) => Ok(LawfulBasis::LegalObligation),
            Some(PersonStatus::Erased { .. }) if names_erased_record => {
                Ok(LawfulBasis::LegalObligation)
            }
            Some(PersonStatus::Erased { .. }) => Err(Refuse::Erased),
            None | Some(PersonStatus::Active | PersonStatus::Duplicate { .. }) => {
                Ok(LawfulBasis::Contract)
            }
        },
        MessageClass::AdHoc => match status_refusal {
            Some(refusal) => Err(refusal),
            None => Ok(LawfulBasis::LegitimateInterests),
        },
        MessageClass::Workflow => match (purpose, status_refusal, person) {
            (PurposeCheck::Undefined, _, _) => Err(Refuse::PurposeUnknown),
            (_, Some(refusal), _) => Err(refusal),
            (_, None, None) => Ok(LawfulBasis::LegitimateInterests),
            (_, None, Some(_)) => match purpose_value {
                Some(ConsentValue::NotGranted) => Err(Refuse::ConsentRefused),
                Some(ConsentValue::Granted) => Ok(LawfulBasis::Consent),
                _ => Ok(LawfulBasis::LegitimateInterests),
            },
        },
        MessageClass::Marketing => match (consents_enabled, purpose, holder) {
            (false, _, _) => Err(Refuse::ConsentsNotEnabled),
            (true, PurposeCheck::None | PurposeCheck::Undefined, _) => Err(Refuse::PurposeUnknown),
            (true, PurposeCheck::Defined(_), Holder::ErasedAddress) => Err(Refuse::Erased),
            (true, PurposeCheck::Defined(_), Holder::Nobody) => Err(Refuse::UnknownRecipient),
            (true, PurposeCheck::Defined(_), Holder::Person(person)) => match status_refusal {
                Some(refusal) => Err(refusal),
                None => {
                    let basis = marketing_consent(person.purpose);
                    awaiting_consent = matches!(
                        person.purpose,
                        Some((ConsentValue::Waiting, ConsentDefault::Yes))
                    );
                    basis
                }
            },
        },
    };
    match verdict {
        Err(reason) => Decision::Refuse(reason),
        Ok(basis) => Decision::Allow {
            basis,
            obligations: Obligations {
                preferences_footer: role == RecipientRole::To
                    && person.is_some()
                    && matches!(class, MessageClass::AdHoc | MessageClass::Marketing),
                strip_tracking: person.and_then(|person| person.email_tracking)
                    != Some(ConsentValue::Granted),
            },
            awaiting_consent,
        },
    }
}

/// Whose history records a send the decision allowed on a legal obligation (a
/// transactional mail to a restricted or erased person): the erased record the recipient
/// named, else the person holding the address. None for every other decision.
pub fn legal_ground_subject(
    decision: &Decision,
    named_erased: Option<&RecordRef>,
    holder: Option<&RecordRef>,
) -> Option<RecordRef> {
    match decision {
        Decision::Allow {
            basis: LawfulBasis::LegalObligation,
            ..
        } => named_erased.or(holder).cloned(),
        _ => None,
    }
}

/// Marketing to an active person: what their purpose consent allows. Waiting under default
/// yes sends on legitimate interests, never on consent: nobody has consented yet.
fn marketing_consent(
    purpose: Option<(ConsentValue, ConsentDefault)>,
) -> Result<LawfulBasis, RefusalReason> {
    match purpose {
        Some((ConsentValue::Granted, _)) => Ok(LawfulBasis::Consent),
        Some((ConsentValue::Waiting, ConsentDefault::Yes)) => Ok(LawfulBasis::LegitimateInterests),
        Some((ConsentValue::Waiting, ConsentDefault::No)) => Err(RefusalReason::ConsentPending),
        Some((ConsentValue::Applicable, _)) => Err(RefusalReason::ConsentNotRequested),
        Some((ConsentValue::NotGranted, _)) => Err(RefusalReason::ConsentRefused),
        Some((ConsentValue::NotApplicable, _)) | None => Err(RefusalReason::ConsentNotApplicable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Configuration;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::definition::{ConsentId, ConsentKind};
    use crate::person::{ConsentState, PersonSnapshot};
    use crate::record::{Module, RecordRef};
    use crate::storage::{encode_configuration, encode_person};
    use ConsentDefault::{No, Yes};
    use ConsentValue::*;
    use LawfulBasis::*;
    use MessageClass::*;
    use RecipientRole::*;

    /// A recipient in the decision table: unknown; an erased address (whether the
    /// recipient names the erased record); or a known person's status, purpose consent
    /// value and whether tracking is granted (and whether the recipient names an erased
    /// record).
    #[derive(Clone, Copy, Debug)]
    enum Who {
        Unknown,
        ErasedAddress { named: bool },
        Known(PersonStatus, Option<(ConsentValue, ConsentDefault)>, bool),
        KnownNamed(PersonStatus),
    }

    const ACTIVE: PersonStatus = PersonStatus::Active;
    const RESTRICTED: PersonStatus = PersonStatus::Restricted { since: 1 };
    const ERASED: PersonStatus = PersonStatus::Erased { since: 1 };
    const DUPLICATE: PersonStatus = PersonStatus::Duplicate { since: 1 };

    fn active(purpose: Option<(ConsentValue, ConsentDefault)>) -> Who {
        Who::Known(ACTIVE, purpose, false)
    }

    fn facts(
        status: PersonStatus,
        purpose: Option<(ConsentValue, ConsentDefault)>,
        tracking: bool,
    ) -> PersonFacts {
        PersonFacts {
            status,
            purpose,
            email_tracking: Some(if tracking { Granted } else { Waiting }),
        }
    }

    /// Decides one cell: the recipient `who` turned into the decision's inputs.
    fn decide_cell(
        class: MessageClass,
        role: RecipientRole,
        enabled: bool,
        purpose: PurposeCheck<'_>,
        who: Who,
    ) -> Decision {
        let (person, erased_address, named) = match who {
            Who::Unknown => (None, false, false),
            Who::ErasedAddress { named } => (None, true, named),
            Who::Known(status, value, tracking) => {
                (Some(facts(status, value, tracking)), false, false)
            }
            Who::KnownNamed(status) => (Some(facts(status, None, false)), false, true),
        };
        let holder = match (&person, erased_address) {
            (Some(person), _) => Holder::Person(person),
            (None, true) => Holder::ErasedAddress,
            (None, false) => Holder::Nobody,
        };
        decide(class, role, enabled, purpose, holder, named)
    }

    fn allow(basis: LawfulBasis, footer: bool, strip: bool) -> Decision {
        Decision::Allow {
            basis,
            obligations: Obligations {
                preferences_footer: footer,
                strip_tracking: strip,
            },
            awaiting_consent: false,
        }
    }

    /// An allowance on legitimate interests while the purpose's consent awaits an answer.
    fn allow_awaiting(footer: bool, strip: bool) -> Decision {
        Decision::Allow {
            basis: LegitimateInterests,
            obligations: Obligations {
                preferences_footer: footer,
                strip_tracking: strip,
            },
            awaiting_consent: true,
        }
    }

    fn refuse(reason: RefusalReason) -> Decision {
        Decision::Refuse(reason)
    }

    const DEFINED: PurposeCheck<'static> = PurposeCheck::Defined("newsletter");

    /// The rows of the first table after `heading` in `text` (lines starting with `|`),
    /// without a leading `//! `.
    fn table_rows(text: &str, heading: &str) -> Vec<String> {
        let rows: Vec<String> = text
            .lines()
            .map(|line| line.trim_start_matches("//!").trim())
            .skip_while(|line| *line != heading)
            .take_while(|line| line.starts_with('|'))
            .map(str::to_owned)
            .collect();
        assert!(!rows.is_empty(), "no table headed {heading}");
        rows
    }

    #[test]
    fn the_documented_decision_table_is_the_one_this_module_implements() {
        let documented = include_str!("../../../docs/decision-table.md");
        let here = include_str!("sending.rs");
        for heading in ["| class | condition | decision |", "| obligation | when |"] {
            assert_eq!(
                table_rows(documented, heading),
                table_rows(here, heading),
                "docs/decision-table.md and the module documentation differ: the cell-by-cell test below proves the module's"
            );
        }
    }

    #[test]
    fn every_cell_of_the_decision_table_decides_as_documented() {
        use RefusalReason as R;
        let rows: Vec<(
            MessageClass,
            RecipientRole,
            bool,
            PurposeCheck<'static>,
            Who,
            Decision,
        )> = vec![
            // transactional: always allowed; the ground depends on the status.
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                Who::Unknown,
                allow(Contract, false, true),
            ),
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                active(None),
                allow(Contract, false, true),
            ),
            (
                Transactional,
                To,
                false,
                PurposeCheck::Undefined,
                active(Some((NotGranted, No))),
                allow(Contract, false, true),
            ),
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                Who::Known(ACTIVE, None, true),
                allow(Contract, false, false),
            ),
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                Who::Known(RESTRICTED, None, false),
                allow(LegalObligation, false, true),
            ),
            (
                Transactional,
                Cc,
                true,
                PurposeCheck::None,
                Who::Known(ERASED, None, false),
                refuse(RefusalReason::Erased),
            ),
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                Who::KnownNamed(ERASED),
                allow(LegalObligation, false, true),
            ),
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                Who::ErasedAddress { named: false },
                refuse(RefusalReason::Erased),
            ),
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                Who::ErasedAddress { named: true },
                allow(LegalObligation, false, true),
            ),
            (
                Transactional,
                To,
                true,
                PurposeCheck::None,
                Who::KnownNamed(ACTIVE),
                allow(Contract, false, true),
            ),
            (
                Transactional,
                Bcc,
                true,
                PurposeCheck::None,
                Who::Known(DUPLICATE, None, true),
                allow(Contract, false, false),
            ),
            // ad-hoc: allowed for unknown and active people; footer only for a known To.
            (
                AdHoc,
                To,
                false,
                PurposeCheck::None,
                Who::Unknown,
                allow(LegitimateInterests, false, true),
            ),
            (
                AdHoc,
                To,
                false,
                PurposeCheck::None,
                active(None),
                allow(LegitimateInterests, true, true),
            ),
            (
                AdHoc,
                Cc,
                false,
                PurposeCheck::None,
                active(None),
                allow(LegitimateInterests, false, true),
            ),
            (
                AdHoc,
                Bcc,
                true,
                PurposeCheck::None,
                Who::Known(ACTIVE, None, true),
                allow(LegitimateInterests, false, false),
            ),
            (
                AdHoc,
                To,
                true,
                DEFINED,
                active(Some((NotGranted, No))),
                allow(LegitimateInterests, true, true),
            ),
            (
                AdHoc,
                To,
                true,
                PurposeCheck::None,
                Who::Known(RESTRICTED, None, true),
                refuse(R::ProcessingRestricted),
            ),
            (
                AdHoc,
                To,
                true,
                PurposeCheck::None,
                Who::Known(ERASED, None, true),
                refuse(R::Erased),
            ),
            (
                AdHoc,
                To,
                true,
                PurposeCheck::None,
                Who::ErasedAddress { named: true },
                refuse(R::Erased),
            ),
            (
                AdHoc,
                Cc,
                true,
                PurposeCheck::None,
                Who::Known(DUPLICATE, None, true),
                refuse(R::Duplicate),
            ),
            // workflow: allowed unless the purpose's consent was refused.
            (
                Workflow,
                To,
                false,
                PurposeCheck::Undefined,
                Who::Unknown,
                refuse(R::PurposeUnknown),
            ),
            (
                Workflow,
                To,
                false,
                PurposeCheck::Undefined,
                active(None),
                refuse(R::PurposeUnknown),
            ),
            (
                Workflow,
                To,
                false,
                PurposeCheck::None,
                Who::Unknown,
                allow(LegitimateInterests, false, true),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                Who::Unknown,
                allow(LegitimateInterests, false, true),
            ),
            (
                Workflow,
                To,
                true,
                PurposeCheck::None,
                active(None),
                allow(LegitimateInterests, false, true),
            ),
            (
                Workflow,
                To,
                true,
                PurposeCheck::None,
                Who::Known(ACTIVE, Some((NotGranted, No)), true),
                allow(LegitimateInterests, false, false),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                active(Some((NotGranted, Yes))),
                refuse(R::ConsentRefused),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                active(Some((Granted, No))),
                allow(Consent, false, true),
            ),
            (
                Workflow,
                Cc,
                true,
                DEFINED,
                active(Some((Waiting, No))),
                allow(LegitimateInterests, false, true),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                active(Some((Applicable, No))),
                allow(LegitimateInterests, false, true),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                active(Some((NotApplicable, No))),
                allow(LegitimateInterests, false, true),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                active(None),
                allow(LegitimateInterests, false, true),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                Who::Known(RESTRICTED, Some((Granted, No)), true),
                refuse(R::ProcessingRestricted),
            ),
            (
                Workflow,
                To,
                true,
                DEFINED,
                Who::Known(ERASED, Some((Granted, No)), true),
                refuse(R::Erased),
            ),
            (
                Workflow,
                To,
                true,
                PurposeCheck::None,
                Who::ErasedAddress { named: false },
                refuse(R::Erased),
            ),
            (
                Workflow,
                To,
                true,
                PurposeCheck::None,
                Who::Known(DUPLICATE, None, true),
                refuse(R::Duplicate),
            ),
            // marketing: needs consents enabled, a purpose, a known active person, and consent.
            (
                Marketing,
                To,
                false,
                DEFINED,
                active(Some((Granted, No))),
                refuse(R::ConsentsNotEnabled),
            ),
            (
                Marketing,
                To,
                false,
                PurposeCheck::None,
                Who::Unknown,
                refuse(R::ConsentsNotEnabled),
            ),
            (
                Marketing,
                To,
                true,
                PurposeCheck::None,
                active(Some((Granted, No))),
                refuse(R::PurposeUnknown),
            ),
            (
                Marketing,
                To,
                true,
                PurposeCheck::Undefined,
                active(Some((Granted, No))),
                refuse(R::PurposeUnknown),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                Who::Unknown,
                refuse(R::UnknownRecipient),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                Who::Known(RESTRICTED, Some((Granted, No)), true),
                refuse(R::ProcessingRestricted),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                Who::Known(ERASED, Some((Granted, No)), true),
                refuse(R::Erased),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                Who::ErasedAddress { named: false },
                refuse(R::Erased),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                Who::Known(DUPLICATE, Some((Granted, No)), true),
                refuse(R::Duplicate),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                active(Some((Granted, No))),
                allow(Consent, true, true),
            ),
            (
                Marketing,
                Cc,
                true,
                DEFINED,
                active(Some((Granted, No))),
                allow(Consent, false, true),
            ),
            (
                Marketing,
                Bcc,
                true,
                DEFINED,
                Who::Known(ACTIVE, Some((Granted, Yes)), true),
                allow(Consent, false, false),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                Who::Known(ACTIVE, Some((Granted, Yes)), true),
                allow(Consent, true, false),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                active(Some((Waiting, Yes))),
                allow_awaiting(true, true),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                active(Some((Waiting, No))),
                refuse(R::ConsentPending),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                active(Some((Applicable, Yes))),
                refuse(R::ConsentNotRequested),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                active(Some((NotGranted, Yes))),
                refuse(R::ConsentRefused),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                active(Some((NotApplicable, Yes))),
                refuse(R::ConsentNotApplicable),
            ),
            (
                Marketing,
                To,
                true,
                DEFINED,
                active(None),
                refuse(R::ConsentNotApplicable),
            ),
        ];
        for (class, role, enabled, purpose, who, expected) in rows {
            let decided = decide_cell(class, role, enabled, purpose, who);
            assert_eq!(
                decided, expected,
                "{class:?} {role:?} enabled={enabled} {purpose:?} {who:?}"
            );
        }
    }

    fn stored_configuration(enabled: bool) -> Vec<u8> {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(definition_input(
                "newsletter",
                "contacts",
                ConsentKind::Custom,
            ))
            .unwrap();
        configuration
            .put_consent(definition_input(
                "tracking",
                "contacts",
                ConsentKind::EmailTracking,
            ))
            .unwrap();
        configuration
            .put_consent(definition_input("lead-news", "leads", ConsentKind::Custom))
            .unwrap();
        if enabled {
            configuration.enable(true, 1).unwrap();
        }
        encode_configuration(&configuration).unwrap()
    }

    fn stored_person(module: Module, states: &[(&str, ConsentValue, ConsentDefault)]) -> Vec<u8> {
        let mut snapshot = PersonSnapshot::new(RecordRef::new(module, "1"), "Ada".to_owned());
        snapshot.consents = states
            .iter()
            .map(|(id, value, default)| ConsentState {
                consent: ConsentId::parse(id).unwrap(),
                value: *value,
                since: 1,
                purpose_version: 1,
                default: *default,
            })
            .collect();
        snapshot.consents.sort_by(|a, b| a.consent.cmp(&b.consent));
        encode_person(&snapshot).unwrap()
    }

    fn recipient(address: &str, role: RecipientRole) -> Recipient {
        Recipient {
            address: address.to_owned(),
            role,
        }
    }

    #[test]
    fn a_batch_is_decided_from_stored_bytes_in_recipient_order() {
        use RefusalReason as R;
        let config = stored_configuration(true);
        let policy = SendingPolicy::decode(Some(&config)).unwrap();
        let request = SendRequest {
            class: Marketing,
            purpose: Some("newsletter".to_owned()),
        };
        let granted_tracked = stored_person(
            Module::Contacts,
            &[("newsletter", Granted, No), ("tracking", Granted, No)],
        );
        let granted = stored_person(Module::Contacts, &[("newsletter", Granted, No)]);
        let lead = stored_person(Module::Leads, &[("lead-news", Granted, No)]);
        let recipients = [
            recipient("ada@example.org", To),
            recipient("bob@example.org", Cc),
            recipient("not an address", To),
            recipient("eve@example.org", To),
            recipient("lee@example.org", To),
        ];
        assert_eq!(
            person_keys(&recipients),
            [
                "person/ada@example.org",
                "person/bob@example.org",
                "person/not an address",
                "person/eve@example.org",
                "person/lee@example.org"
            ]
        );
        let snapshots = [
            Some(granted_tracked.as_slice()),
            Some(granted.as_slice()),
            None,
            None,
            Some(lead.as_slice()),
        ];
        let decisions = decide_batch(
            &policy,
            &request,
            &recipients,
            &snapshots,
            &ErasureFacts::default(),
        )
        .unwrap();
        assert_eq!(
            decisions,
            [
                allow(Consent, true, false),
                allow(Consent, false, true),
                refuse(R::InvalidAddress),
                refuse(R::UnknownRecipient),
                refuse(R::ConsentNotApplicable),
            ]
        );
    }

    #[test]
    fn nothing_configured_refuses_marketing_and_allows_ad_hoc_mail() {
        let policy = SendingPolicy::decode(None).unwrap();
        let recipients = [recipient("ada@example.org", To)];
        let cases = [
            (Marketing, refuse(RefusalReason::ConsentsNotEnabled)),
            (AdHoc, allow(LegitimateInterests, false, true)),
        ];
        for (class, expected) in cases {
            let request = SendRequest {
                class,
                purpose: Some("newsletter".to_owned()),
            };
            let decided = decide_batch::<Vec<u8>>(
                &policy,
                &request,
                &recipients,
                &[None],
                &ErasureFacts::default(),
            )
            .unwrap();
            assert_eq!(decided, [expected], "{class:?}");
        }
        let disabled = stored_configuration(false);
        let policy = SendingPolicy::decode(Some(&disabled)).unwrap();
        let request = SendRequest {
            class: Marketing,
            purpose: Some("newsletter".to_owned()),
        };
        let decided = decide_batch::<Vec<u8>>(
            &policy,
            &request,
            &recipients,
            &[None],
            &ErasureFacts::default(),
        )
        .unwrap();
        assert_eq!(decided, [refuse(RefusalReason::ConsentsNotEnabled)]);
    }

    #[test]
    fn a_corrupt_snapshot_or_a_short_batch_is_an_error_never_an_allowance() {
        let config = stored_configuration(true);
        let policy = SendingPolicy::decode(Some(&config)).unwrap();
        let request = SendRequest {
            class: AdHoc,
            purpose: None,
        };
        let recipients = [recipient("ada@example.org", To)];
        assert!(
            decide_batch(
                &policy,
                &request,
                &recipients,
                &[Some(vec![9_u8, 9, 9])],
                &ErasureFacts::default()
            )
            .is_err()
        );
        assert!(
            decide_batch::<Vec<u8>>(
                &policy,
                &request,
                &recipients,
                &[],
                &ErasureFacts::default()
            )
            .is_err()
        );
        assert!(SendingPolicy::decode(Some(&[7])).is_err());
    }
}
