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

mod regimes;
mod stored_batches;

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
