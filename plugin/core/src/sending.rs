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
//!
//! After the table ([`refuse_suppressed`]): an address a delivery report suppressed
//! ([`crate::feedback`]) is refused marketing and workflow mail the table would allow, a
//! bounced one `invalid-address`, one that complained or unsubscribed by mail
//! `consent-refused`.

use crate::address::{Address, looks_like_address};
use crate::calendar::Date;
use crate::configuration::regimes::{ENQUIRY_IMPLIES_MONTHS, PURCHASE_IMPLIES_MONTHS};
use crate::consent::{ConsentDefault, ConsentValue};
use crate::vocabulary::PersonStatus;
use crate::vocabulary::{LawfulBasis, MessageClass, Regime};

use crate::record::RecordRef;
use crate::restriction::suppression_key;
use crate::storage::{
    PersonFacts, PersonReader, RegimeFactsInPlace, RegimeIndex, SendingIndex, StorageError,
    decode_sending_index, person_key,
};

/// The recipient's place in the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientRole {
    To,
    Cc,
    Bcc,
}

/// One recipient, as the mail names them, borrowing the address from wherever the batch
/// arrived (the host's list, or one packed buffer): a batch costs no allocation per
/// recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient<'a> {
    pub address: &'a str,
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
pub fn person_keys(recipients: &[Recipient<'_>]) -> Vec<String> {
    recipients
        .iter()
        .map(|recipient| person_key(recipient.address))
        .collect()
}

/// The suppression markers to look up: `(recipient index, key)` for every recipient with a
/// usable address and no snapshot, once an erasure has salted the markers. Empty when
/// nobody was ever erased, so the common batch costs nothing more.
pub fn suppression_lookups<S>(
    policy: &SendingPolicy<'_>,
    recipients: &[Recipient<'_>],
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
            let address = Address::parse(recipient.address).ok()?;
            Some((index, suppression_key(salt.as_ref(), &address)))
        })
        .collect()
}

/// The delivery-feedback records to look up ([`crate::feedback::feedback_key`]):
/// `(recipient index, key)` for every recipient of a marketing or workflow mail whose
/// decision allows it, once the markers are salted (an erasure, an IP hash or a delivery
/// report salted them). Empty otherwise, so that transactional and ad-hoc mail, refused
/// recipients and a host that never had a report cost nothing more.
pub fn feedback_lookups(
    policy: &SendingPolicy<'_>,
    class: MessageClass,
    recipients: &[Recipient<'_>],
    decisions: &[Decision],
) -> Vec<(usize, String)> {
    let Some(salt) = &policy.index.suppression_salt else {
        return Vec::new();
    };
    if !matches!(class, MessageClass::Marketing | MessageClass::Workflow) {
        return Vec::new();
    }
    recipients
        .iter()
        .zip(decisions)
        .enumerate()
        .filter(|(_, (_, decision))| matches!(decision, Decision::Allow { .. }))
        .filter_map(|(index, (recipient, _))| {
            let address = Address::parse(recipient.address).ok()?;
            Some((
                index,
                crate::feedback::feedback_key(salt.as_ref(), &address),
            ))
        })
        .collect()
}

/// Refuses, in `decisions`, what a delivery report's suppression refuses: each
/// `(recipient index, suppression)` found under [`feedback_lookups`].
pub fn refuse_suppressed(
    decisions: &mut [Decision],
    class: MessageClass,
    suppressed: &[(usize, crate::feedback::Suppression)],
) {
    for (index, suppression) in suppressed {
        if let (Some(decision @ Decision::Allow { .. }), Some(refusal)) = (
            decisions.get_mut(*index),
            delivery_refusal(class, *suppression),
        ) {
            *decision = Decision::Refuse(refusal);
        }
    }
}

/// The refusal of a send of `class` to an address a delivery report suppressed; `None`
/// where the suppression does not apply (transactional and ad-hoc mail still go).
pub fn delivery_refusal(
    class: MessageClass,
    suppression: crate::feedback::Suppression,
) -> Option<RefusalReason> {
    use crate::feedback::Suppression;
    match class {
        MessageClass::Marketing | MessageClass::Workflow => Some(match suppression {
            Suppression::Bounce => RefusalReason::InvalidAddress,
            Suppression::Complaint | Suppression::Unsubscribe => RefusalReason::ConsentRefused,
        }),
        MessageClass::Transactional | MessageClass::AdHoc => None,
    }
}

/// Decides for every recipient, given the stored snapshot bytes read under
/// [`person_keys`], in recipient order, and what the adapter found about erasures. A
/// snapshot that cannot be read is an error (the adapter traps, and the host refuses the
/// whole mail): never an allowance.
pub fn decide_batch<S: AsRef<[u8]>>(
    policy: &SendingPolicy<'_>,
    request: &SendRequest,
    recipients: &[Recipient<'_>],
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
    let reader = PersonReader::new(purpose_id, &policy.index);
    let mut decisions = Vec::with_capacity(recipients.len());
    for (index, (recipient, snapshot)) in recipients.iter().zip(snapshots).enumerate() {
        if !looks_like_address(recipient.address) {
            decisions.push(Decision::Refuse(RefusalReason::InvalidAddress));
            continue;
        }
        let person = match snapshot {
            Some(bytes) => {
                let mut facts = reader.read(bytes.as_ref())?;
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
mod tests;
