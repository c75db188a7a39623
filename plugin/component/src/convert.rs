//! WIT <-> engine conversions shared by several interfaces.

use privacy_guard_core::consent::ConsentValue;
use privacy_guard_core::record::{Field, Fields, RecordRef};
use privacy_guard_core::vocabulary::Regime;

use crate::bindings::privacy_guard::consent::types;

/// The engine's record ref, if the WIT ref names a module that holds people.
pub(crate) fn record_ref(reference: &types::RecordRef) -> Option<RecordRef> {
    RecordRef::parse(&reference.module, &reference.id)
}

pub(crate) fn wit_record_ref(reference: &RecordRef) -> types::RecordRef {
    types::RecordRef {
        module: reference.module.as_str().to_owned(),
        id: reference.id.clone(),
    }
}

pub(crate) fn fields(fields: Vec<types::Field>) -> Fields {
    Fields::new(
        fields
            .into_iter()
            .map(|field| Field {
                name: field.name,
                value: field.value,
            })
            .collect(),
    )
}

pub(crate) fn consent_value(value: ConsentValue) -> types::ConsentValue {
    match value {
        ConsentValue::NotApplicable => types::ConsentValue::NotApplicable,
        ConsentValue::Applicable => types::ConsentValue::Applicable,
        ConsentValue::Waiting => types::ConsentValue::Waiting,
        ConsentValue::Granted => types::ConsentValue::Granted,
        ConsentValue::NotGranted => types::ConsentValue::NotGranted,
    }
}

pub(crate) fn regime(regime: types::Regime) -> Regime {
    match regime {
        types::Regime::OptIn => Regime::OptIn,
        types::Regime::OptOut => Regime::OptOut,
        types::Regime::ImpliedConsent => Regime::ImpliedConsent,
    }
}

pub(crate) fn wit_regime(regime: Regime) -> types::Regime {
    match regime {
        Regime::OptIn => types::Regime::OptIn,
        Regime::OptOut => types::Regime::OptOut,
        Regime::ImpliedConsent => types::Regime::ImpliedConsent,
    }
}
