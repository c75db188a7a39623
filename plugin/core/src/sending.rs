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
//! record*: the recipient names a CRM record the plugin holds as erased. A *regime* is the
//! known person's legal regime ([`Standing`]: the setting `regimes` maps a field of their
//! record to one, else its default), read at the time of the send.
//!
//! | class | condition | decision | source |
//! |---|---|---|---|
//! | any | the address is not a plausible email address | refuse `invalid-address` | (no mail can reach it) |
//! | transactional | unknown, or status active / duplicate | allow, basis `contract` | GDPR Art. 6(1)(b) |
//! | transactional | status restricted | allow, basis `legal-obligation` | GDPR Art. 18(2), 6(1)(c) |
//! | transactional | status erased (or an erased address), and the recipient names the erased record | allow, basis `legal-obligation` | GDPR Art. 17(3)(b) |
//! | transactional | status erased (or an erased address), otherwise | refuse `erased` | GDPR Art. 17(1) |
//! | ad-hoc | status restricted / erased (or an erased address) / duplicate | refuse `processing-restricted` / `erased` / `duplicate` | GDPR Art. 18(2), 17(1); de-duplication |
//! | ad-hoc | unknown, or status active | allow, basis `legitimate-interests` | GDPR Art. 6(1)(f) |
//! | workflow | names a purpose that no consent has | refuse `purpose-unknown` | (a mistake in the CRM's workflow) |
//! | workflow | status restricted / erased (or an erased address) / duplicate | refuse `processing-restricted` / `erased` / `duplicate` | GDPR Art. 18(2), 17(1); de-duplication |
//! | workflow | unknown | allow, basis `legitimate-interests` | GDPR Art. 6(1)(f) |
//! | workflow | the purpose's consent is Not Granted | refuse `consent-refused` | GDPR Art. 7(3), 21(2) |
//! | workflow | the purpose's consent is Granted, for its current text (since its last material change) | allow, basis `consent` | GDPR Art. 6(1)(a) |
//! | workflow | otherwise | allow, basis `legitimate-interests` | GDPR Art. 6(1)(f) |
//! | marketing | consents are not enabled | refuse `consents-not-enabled` | (nothing configured to decide by) |
//! | marketing | no purpose, or no consent has that id | refuse `purpose-unknown` | GDPR Art. 5(1)(b) |
//! | marketing | an erased address | refuse `erased` | GDPR Art. 17(1) |
//! | marketing | unknown | refuse `unknown-recipient` | (an opt-out needs a record to honour it) |
//! | marketing | status restricted / erased / duplicate | refuse `processing-restricted` / `erased` / `duplicate` | GDPR Art. 18(2), 17(1); de-duplication |
//! | marketing | role CC or BCC | refuse `not-a-to-recipient` | CAN-SPAM 15 U.S.C. 7704(a)(3); ePrivacy Art. 13(2): each recipient's own opt-out |
//! | marketing, any regime | purpose consent Granted for a text before its last material change, or longer ago than the consent's maximum age | decided as Applicable below, refused `consent-outdated` where that refuses `consent-not-requested` | GDPR Art. 7(1), Recital 42: consent is to the purpose as stated, and is refreshed at appropriate intervals (EDPB Guidelines 05/2020 on consent) |
//! | marketing, any regime | purpose consent Granted | allow, basis `consent` | GDPR Art. 6(1)(a); CASL s. 6(1)(a) |
//! | marketing, any regime | purpose consent Not Granted (refused, or opted out) | refuse `consent-refused` | GDPR Art. 21(3); CAN-SPAM 7704(a)(4); CASL s. 11(3) |
//! | marketing, opt-out | any other value, none included | allow, basis `legitimate-interests` | CAN-SPAM 15 U.S.C. 7704(a)(3)-(5) |
//! | marketing, implied consent | consent implied today: a purchase in the last two years or an enquiry in the last six months | allow, basis `consent` | CASL s. 10(9)(a), 10(10) |
//! | marketing, opt-in | the settings name the purpose for the soft opt-in, the person has a purchase on record, and the consent is Applicable or Waiting | allow, basis `legitimate-interests` | ePrivacy Art. 13(2); PECR reg. 22(3) |
//! | marketing, opt-in (or implied consent lapsed) | purpose consent Waiting, default *yes* | allow, basis `legitimate-interests`, `awaiting-consent` | GDPR Art. 6(1)(f), Recital 47 |
//! | marketing, opt-in (or implied consent lapsed) | purpose consent Waiting, default *no* | refuse `consent-pending` | GDPR Art. 6(1)(a), 7(1) |
//! | marketing, opt-in (or implied consent lapsed) | purpose consent Applicable | refuse `consent-not-requested` | GDPR Art. 6(1)(a) |
//! | marketing, opt-in (or implied consent lapsed) | purpose consent Not Applicable, or none | refuse `consent-not-applicable` | ePrivacy Art. 13(1) |
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
use crate::calendar::Date;
use crate::configuration::regimes::{ENQUIRY_IMPLIES_MONTHS, PURCHASE_IMPLIES_MONTHS};
use crate::consent::{ConsentDefault, ConsentValue};
use crate::vocabulary::PersonStatus;
use crate::vocabulary::{LawfulBasis, MessageClass, Regime};

use crate::record::RecordRef;
use crate::restriction::suppression_key;
use crate::storage::{
    PersonFacts, RegimeFactsInPlace, RegimeIndex, SendingIndex, StorageError, decode_sending_index,
    person_key, read_person_facts,
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
    /// The person granted the consent for an earlier purpose text, before a material
    /// change: they are asked again about the new one.
    ConsentOutdated,
    ProcessingRestricted,
    Erased,
    Duplicate,
    /// Marketing goes to each person as To, so that each gets an opt-out only they can use.
    NotAToRecipient,
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
        /// The legal regime the decision was made under.
        regime: Regime,
    },
    Refuse(RefusalReason),
}

/// What the regime rules make of a recipient at the time of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub regime: Regime,
    /// Under the implied-consent regime, consent is implied today: a purchase within the
    /// last two years or an enquiry within the last six months (CASL s. 10(10)).
    pub implied: bool,
    /// An existing customer (a purchase on record): the soft opt-in may apply.
    pub customer: bool,
}

impl Standing {
    /// The standing of a person whose snapshot holds `facts`, on `today`, under the
    /// configured rules: what a view shows (the pre-send check reads the same in place).
    pub fn of_snapshot(
        configuration: &crate::configuration::Configuration,
        facts: &crate::configuration::regimes::RegimeFacts,
        today: Date,
    ) -> Standing {
        let none = crate::configuration::RegimeRules::default();
        let rules = configuration
            .settings()
            .map_or(&none, |settings| settings.regimes());
        let index = crate::storage::RegimeIndex::of(rules);
        let purchased = facts.purchased.map(|date| date.to_string());
        let enquired = facts.enquired.map(|date| date.to_string());
        let in_place = crate::storage::RegimeFactsInPlace {
            fields: [
                facts.fields[0].as_deref(),
                facts.fields[1].as_deref(),
                facts.fields[2].as_deref(),
            ],
            region: facts.region.as_deref(),
            purchased: purchased.as_deref(),
            enquired: enquired.as_deref(),
        };
        Standing::of(&index, Some(&in_place), today)
    }

    /// The standing of a person whose snapshot holds `facts`, on the day `today`. Facts
    /// read from other fields than the rules name now are stale: the person stands
    /// opt-in, the strictest reading, until the record is seen again. Nobody known stands
    /// under the default regime.
    pub fn of(
        rules: &RegimeIndex<'_>,
        facts: Option<&RegimeFactsInPlace<'_>>,
        today: Date,
    ) -> Standing {
        let Some(facts) = facts else {
            return Standing {
                regime: rules.default,
                ..Standing::default()
            };
        };
        let named = [rules.field, rules.purchase_field, rules.enquiry_field];
        if facts.fields != named {
            return Standing::default();
        }
        let regime = facts
            .region
            .and_then(|value| rules.values.iter().find(|(known, _)| *known == value))
            .map_or(rules.default, |(_, regime)| *regime);
        let date = |text: Option<&str>| text.and_then(|text| Date::parse(text).ok());
        let purchased = date(facts.purchased);
        let enquired = date(facts.enquired);
        let implied = regime == Regime::ImpliedConsent
            && (purchased.is_some_and(|at| at.add_months(PURCHASE_IMPLIES_MONTHS) >= today)
                || enquired.is_some_and(|at| at.add_months(ENQUIRY_IMPLIES_MONTHS) >= today));
        Standing {
            regime,
            implied,
            customer: purchased.is_some(),
        }
    }
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
    Person(&'a PersonFacts<'a>),
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
    now: i64,
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
    let rules = &policy.index.regimes;
    let soft_opt_in = purpose_id.is_some_and(|id| rules.soft_opt_in.contains(&id));
    let today = Date::of_instant(now);
    let mut decisions = Vec::with_capacity(recipients.len());
    for (index, (recipient, snapshot)) in recipients.iter().zip(snapshots).enumerate() {
        if !looks_like_address(&recipient.address) {
            decisions.push(Decision::Refuse(RefusalReason::InvalidAddress));
            continue;
        }
        let person = match snapshot {
            Some(bytes) => {
                let mut facts = read_person_facts(bytes.as_ref(), purpose_id, &policy.index)?;
                // A grant past its consent's maximum age no longer counts, as one of an
                // outdated text.
                facts.purpose_outdated |= facts
                    .purpose_expires
                    .is_some_and(|expires| today >= expires);
                Some(facts)
            }
            None => None,
        };
        let holder = match &person {
            Some(person) => Holder::Person(person),
            None if erasures.erased_addresses.contains(&index) => Holder::ErasedAddress,
            None => Holder::Nobody,
        };
        let names_erased_record = erasures.naming_erased_records.contains(&index);
        let standing = Standing::of(rules, person.as_ref().map(|person| &person.regime), today);
        decisions.push(decide(
            request.class,
            recipient.role,
            policy.index.enabled,
            purpose,
            holder,
            names_erased_record,
            standing,
            soft_opt_in,
        ));
    }
    Ok(decisions)
}

/// The decision table for a recipient whose address looks like an address. `soft_opt_in`:
/// the settings name the purpose for the soft opt-in.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    class: MessageClass,
    role: RecipientRole,
    consents_enabled: bool,
    purpose: PurposeCheck<'_>,
    holder: Holder<'_>,
    names_erased_record: bool,
    standing: Standing,
    soft_opt_in: bool,
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
    // The person's purpose value counts only when the request names a defined purpose; a
    // grant of a text before the last material change is no grant any more.
    let purpose_value = match (purpose, person) {
        (PurposeCheck::Defined(_), Some(person)) if person.purpose_outdated => {
            Some(ConsentValue::Applicable)
        }
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
                None if role != RecipientRole::To => Err(Refuse::NotAToRecipient),
                None => {
                    let (basis, awaiting) = if person.purpose_outdated {
                        // Decided as if not asked yet, refused as outdated.
                        let (basis, awaiting) = marketing(
                            person
                                .purpose
                                .map(|(_, default)| (ConsentValue::Applicable, default)),
                            standing,
                            soft_opt_in,
                        );
                        let basis = match basis {
                            Err(Refuse::ConsentNotRequested) => Err(Refuse::ConsentOutdated),
                            other => other,
                        };
                        (basis, awaiting)
                    } else {
                        marketing(person.purpose, standing, soft_opt_in)
                    };
                    awaiting_consent = awaiting;
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
            regime: standing.regime,
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

/// Marketing to an active person, as To: what their purpose consent allows under their
/// regime, and whether the send only awaits their answer (waiting, default yes).
fn marketing(
    purpose: Option<(ConsentValue, ConsentDefault)>,
    standing: Standing,
    soft_opt_in: bool,
) -> (Result<LawfulBasis, RefusalReason>, bool) {
    let value = purpose.map(|(value, _)| value);
    match (standing.regime, value) {
        // Every regime: an express grant is consent, a refusal or opt-out is final.
        (_, Some(ConsentValue::Granted)) => (Ok(LawfulBasis::Consent), false),
        (_, Some(ConsentValue::NotGranted)) => (Err(RefusalReason::ConsentRefused), false),
        // CAN-SPAM: commercial mail is allowed until the person opts out.
        (Regime::OptOut, _) => (Ok(LawfulBasis::LegitimateInterests), false),
        // CASL s. 10(9): implied consent counts as consent while it lasts.
        (Regime::ImpliedConsent, _) if standing.implied => (Ok(LawfulBasis::Consent), false),
        // ePrivacy Art. 13(2): an existing customer may get marketing of similar products
        // (a purpose the settings name) until they object; the consent must apply.
        (Regime::OptIn, Some(ConsentValue::Applicable | ConsentValue::Waiting))
            if soft_opt_in && standing.customer =>
        {
            (Ok(LawfulBasis::LegitimateInterests), false)
        }
        // Opt-in, and implied consent once it lapsed: express consent is needed.
        _ => opt_in(purpose),
    }
}

/// Marketing under opt-in: Waiting under default yes sends on legitimate interests, never
/// on consent (nobody has consented yet); everything else short of a grant is refused.
fn opt_in(
    purpose: Option<(ConsentValue, ConsentDefault)>,
) -> (Result<LawfulBasis, RefusalReason>, bool) {
    match purpose {
        Some((ConsentValue::Granted, _)) => (Ok(LawfulBasis::Consent), false),
        Some((ConsentValue::Waiting, ConsentDefault::Yes)) => {
            (Ok(LawfulBasis::LegitimateInterests), true)
        }
        Some((ConsentValue::Waiting, ConsentDefault::No)) => {
            (Err(RefusalReason::ConsentPending), false)
        }
        Some((ConsentValue::Applicable, _)) => (Err(RefusalReason::ConsentNotRequested), false),
        Some((ConsentValue::NotGranted, _)) => (Err(RefusalReason::ConsentRefused), false),
        Some((ConsentValue::NotApplicable, _)) | None => {
            (Err(RefusalReason::ConsentNotApplicable), false)
        }
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
    ) -> PersonFacts<'static> {
        PersonFacts {
            status,
            purpose,
            purpose_outdated: false,
            purpose_expires: None,
            email_tracking: Some(if tracking { Granted } else { Waiting }),
            regime: RegimeFactsInPlace::default(),
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
        decide(
            class,
            role,
            enabled,
            purpose,
            holder,
            named,
            Standing::default(),
            false,
        )
    }

    fn allow(basis: LawfulBasis, footer: bool, strip: bool) -> Decision {
        Decision::Allow {
            basis,
            obligations: Obligations {
                preferences_footer: footer,
                strip_tracking: strip,
            },
            awaiting_consent: false,
            regime: Regime::OptIn,
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
            regime: Regime::OptIn,
        }
    }

    fn refuse(reason: RefusalReason) -> Decision {
        Decision::Refuse(reason)
    }

    const DEFINED: PurposeCheck<'static> = PurposeCheck::Defined("newsletter");
    /// 1 December 2026, 10:00 UTC.
    const NOW: i64 = 1_796_119_200_000;

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
        for heading in [
            "| class | condition | decision | source |",
            "| obligation | when |",
        ] {
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
                refuse(R::NotAToRecipient),
            ),
            (
                Marketing,
                Bcc,
                true,
                DEFINED,
                Who::Known(ACTIVE, Some((Granted, Yes)), true),
                refuse(R::NotAToRecipient),
            ),
            (
                Marketing,
                Cc,
                true,
                DEFINED,
                Who::Unknown,
                refuse(R::UnknownRecipient),
            ),
            (
                Marketing,
                Bcc,
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

    /// A regime cell: the standing, whether the settings name the purpose for the soft
    /// opt-in, the purpose's value, and the decision.
    type RegimeRow = (
        Standing,
        bool,
        Option<(ConsentValue, ConsentDefault)>,
        Decision,
    );

    #[test]
    fn every_regime_cell_of_marketing_decides_as_documented() {
        use RefusalReason as R;
        use Regime::{ImpliedConsent, OptIn, OptOut};
        /// A standing: the regime, whether consent is implied today, whether the person
        /// has a purchase on record.
        fn standing(regime: Regime, implied: bool, customer: bool) -> Standing {
            Standing {
                regime,
                implied,
                customer,
            }
        }
        let allowed = |regime, basis, awaiting| Decision::Allow {
            basis,
            obligations: Obligations {
                preferences_footer: true,
                strip_tracking: true,
            },
            awaiting_consent: awaiting,
            regime,
        };
        // (standing, the purpose is named for the soft opt-in, purpose value, decision)
        let rows: Vec<RegimeRow> = vec![
            // opt-in: consent first.
            (
                standing(OptIn, false, false),
                false,
                Some((Granted, No)),
                allowed(OptIn, Consent, false),
            ),
            (
                standing(OptIn, false, false),
                false,
                Some((NotGranted, Yes)),
                refuse(R::ConsentRefused),
            ),
            (
                standing(OptIn, false, false),
                false,
                Some((Waiting, Yes)),
                allowed(OptIn, LegitimateInterests, true),
            ),
            (
                standing(OptIn, false, false),
                false,
                Some((Waiting, No)),
                refuse(R::ConsentPending),
            ),
            (
                standing(OptIn, false, false),
                false,
                Some((Applicable, No)),
                refuse(R::ConsentNotRequested),
            ),
            (
                standing(OptIn, false, false),
                false,
                Some((NotApplicable, No)),
                refuse(R::ConsentNotApplicable),
            ),
            (
                standing(OptIn, false, false),
                false,
                None,
                refuse(R::ConsentNotApplicable),
            ),
            // opt-in, soft opt-in: a customer, for a purpose the settings name.
            (
                standing(OptIn, false, true),
                true,
                Some((Applicable, No)),
                allowed(OptIn, LegitimateInterests, false),
            ),
            (
                standing(OptIn, false, true),
                true,
                Some((Waiting, No)),
                allowed(OptIn, LegitimateInterests, false),
            ),
            (
                standing(OptIn, false, true),
                true,
                Some((NotGranted, No)),
                refuse(R::ConsentRefused),
            ),
            (
                standing(OptIn, false, true),
                true,
                Some((NotApplicable, No)),
                refuse(R::ConsentNotApplicable),
            ),
            (
                standing(OptIn, false, true),
                false,
                Some((Applicable, No)),
                refuse(R::ConsentNotRequested),
            ),
            (
                standing(OptIn, false, false),
                true,
                Some((Applicable, No)),
                refuse(R::ConsentNotRequested),
            ),
            // opt-out: allowed until the person opts out.
            (
                standing(OptOut, false, false),
                false,
                Some((Granted, No)),
                allowed(OptOut, Consent, false),
            ),
            (
                standing(OptOut, false, false),
                false,
                Some((NotGranted, No)),
                refuse(R::ConsentRefused),
            ),
            (
                standing(OptOut, false, false),
                false,
                Some((Waiting, No)),
                allowed(OptOut, LegitimateInterests, false),
            ),
            (
                standing(OptOut, false, false),
                false,
                Some((Applicable, No)),
                allowed(OptOut, LegitimateInterests, false),
            ),
            (
                standing(OptOut, false, false),
                false,
                Some((NotApplicable, No)),
                allowed(OptOut, LegitimateInterests, false),
            ),
            (
                standing(OptOut, false, false),
                false,
                None,
                allowed(OptOut, LegitimateInterests, false),
            ),
            // implied consent while it lasts, then express consent.
            (
                standing(ImpliedConsent, true, true),
                false,
                Some((Granted, No)),
                allowed(ImpliedConsent, Consent, false),
            ),
            (
                standing(ImpliedConsent, true, true),
                false,
                Some((NotGranted, No)),
                refuse(R::ConsentRefused),
            ),
            (
                standing(ImpliedConsent, true, false),
                false,
                Some((Waiting, No)),
                allowed(ImpliedConsent, Consent, false),
            ),
            (
                standing(ImpliedConsent, true, false),
                false,
                Some((Applicable, No)),
                allowed(ImpliedConsent, Consent, false),
            ),
            (
                standing(ImpliedConsent, true, false),
                false,
                None,
                allowed(ImpliedConsent, Consent, false),
            ),
            (
                standing(ImpliedConsent, false, true),
                false,
                Some((Waiting, No)),
                refuse(R::ConsentPending),
            ),
            (
                standing(ImpliedConsent, false, true),
                false,
                Some((Waiting, Yes)),
                allowed(ImpliedConsent, LegitimateInterests, true),
            ),
            (
                standing(ImpliedConsent, false, true),
                false,
                Some((Applicable, No)),
                refuse(R::ConsentNotRequested),
            ),
            (
                standing(ImpliedConsent, false, true),
                true,
                Some((Applicable, No)),
                refuse(R::ConsentNotRequested),
            ),
            (
                standing(ImpliedConsent, false, false),
                false,
                None,
                refuse(R::ConsentNotApplicable),
            ),
        ];
        for (standing, soft, value, expected) in rows {
            let person = facts(ACTIVE, value, false);
            let decided = decide(
                Marketing,
                To,
                true,
                DEFINED,
                Holder::Person(&person),
                false,
                standing,
                soft,
            );
            assert_eq!(decided, expected, "{standing:?} soft={soft} {value:?}");
        }
        // Whatever the regime, marketing goes to each person as To.
        for regime in Regime::ALL {
            let person = facts(ACTIVE, Some((Granted, No)), false);
            for role in [Cc, Bcc] {
                let decided = decide(
                    Marketing,
                    role,
                    true,
                    DEFINED,
                    Holder::Person(&person),
                    false,
                    standing(*regime, true, true),
                    true,
                );
                assert_eq!(decided, refuse(R::NotAToRecipient), "{regime} {role:?}");
            }
        }
    }

    #[test]
    fn a_grant_of_a_text_before_a_material_change_no_longer_counts() {
        use RefusalReason as R;
        let outdated = PersonFacts {
            purpose_outdated: true,
            ..facts(ACTIVE, Some((Granted, No)), false)
        };
        let decide_outdated = |class, standing| {
            decide(
                class,
                To,
                true,
                DEFINED,
                Holder::Person(&outdated),
                false,
                standing,
                false,
            )
        };
        assert_eq!(
            decide_outdated(Marketing, Standing::default()),
            refuse(R::ConsentOutdated)
        );
        let opt_out = Standing {
            regime: Regime::OptOut,
            ..Standing::default()
        };
        assert!(matches!(
            decide_outdated(Marketing, opt_out),
            Decision::Allow {
                basis: LegitimateInterests,
                regime: Regime::OptOut,
                ..
            }
        ));
        assert_eq!(
            decide_outdated(Workflow, Standing::default()),
            allow(LegitimateInterests, false, true)
        );
    }

    #[test]
    fn a_persons_standing_is_read_from_the_facts_the_current_rules_name() {
        let rules = RegimeIndex {
            field: Some("country"),
            values: vec![("us", Regime::OptOut), ("ca", Regime::ImpliedConsent)],
            default: Regime::OptIn,
            purchase_field: Some("purchased"),
            enquiry_field: Some("asked"),
            soft_opt_in: Vec::new(),
        };
        let fields = [Some("country"), Some("purchased"), Some("asked")];
        let today = Date::parse("2026-12-01").unwrap();
        let facts = |region, purchased, enquired| RegimeFactsInPlace {
            fields,
            region,
            purchased,
            enquired,
        };
        let of = |facts: RegimeFactsInPlace<'_>| Standing::of(&rules, Some(&facts), today);
        assert_eq!(of(facts(Some("us"), None, None)).regime, Regime::OptOut);
        assert_eq!(of(facts(Some("de"), None, None)).regime, Regime::OptIn);
        assert_eq!(of(facts(None, None, None)).regime, Regime::OptIn);
        // Implied consent: two years from a purchase, six months from an enquiry, the
        // last day included.
        let canada = |purchased, enquired| of(facts(Some("ca"), purchased, enquired));
        assert!(canada(Some("2024-12-01"), None).implied);
        assert!(!canada(Some("2024-11-30"), None).implied);
        assert!(canada(None, Some("2026-06-01")).implied);
        assert!(!canada(None, Some("2026-05-31")).implied);
        assert!(canada(Some("2024-11-30"), Some("2026-06-01")).implied);
        assert!(canada(Some("2020-01-01"), None).customer);
        assert!(!canada(Some("not a date"), None).customer);
        // Implied consent only counts under its regime.
        assert!(!of(facts(Some("us"), Some("2026-11-01"), None)).implied);
        // Facts read from other fields than the rules name now: the strictest reading.
        let stale = RegimeFactsInPlace {
            fields: [Some("region"), None, None],
            region: Some("us"),
            purchased: None,
            enquired: None,
        };
        assert_eq!(of(stale), Standing::default());
        assert_eq!(Standing::default().regime, Regime::OptIn);
        // Nobody known: the default regime.
        let opt_out_by_default = RegimeIndex {
            default: Regime::OptOut,
            ..rules.clone()
        };
        assert_eq!(
            Standing::of(&opt_out_by_default, None, today).regime,
            Regime::OptOut
        );
    }

    fn stored_configuration(enabled: bool) -> Vec<u8> {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(
                definition_input("newsletter", "contacts", ConsentKind::Custom),
                None,
            )
            .unwrap();
        configuration
            .put_consent(
                definition_input("tracking", "contacts", ConsentKind::EmailTracking),
                None,
            )
            .unwrap();
        configuration
            .put_consent(
                definition_input("lead-news", "leads", ConsentKind::Custom),
                None,
            )
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
            NOW,
        )
        .unwrap();
        assert_eq!(
            decisions,
            [
                allow(Consent, true, false),
                refuse(R::NotAToRecipient),
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
                NOW,
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
            NOW,
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
                &ErasureFacts::default(),
                NOW,
            )
            .is_err()
        );
        assert!(
            decide_batch::<Vec<u8>>(
                &policy,
                &request,
                &recipients,
                &[],
                &ErasureFacts::default(),
                NOW,
            )
            .is_err()
        );
        assert!(SendingPolicy::decode(Some(&[7])).is_err());
    }
}
