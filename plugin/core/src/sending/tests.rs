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
        Who::Known(status, value, tracking) => (Some(facts(status, value, tracking)), false, false),
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
    let documented = include_str!("../../../../docs/decision-table.md");
    let here = include_str!("../sending.rs");
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

fn recipient(address: &str, role: RecipientRole) -> Recipient<'_> {
    Recipient { address, role }
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
