//! Legal regimes through the real component in the real host: every regime × consent value
//! × message class × recipient role, decided from real snapshots at the host's clock
//! (`docs/decision-table.md`, "marketing, <regime>" rows), and the rules changing under
//! people already known.

use privacy_guard_host::contract::configuration::{
    ConditionClause, ConditionOp, ConsentDefault, ConsentDefinition, ConsentKind, RegimeRules,
};
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MessageClass, Obligations, RecipientRole, RefusalReason,
};
use privacy_guard_host::contract::types::{ConsentValue, Regime};
use privacy_guard_host::guard::Guard;
use privacy_guard_host::settings::{RegimesPatch, SettingsPatch};
use privacy_guard_tests::scenario::{contact, decide_for, import_csv};
use privacy_guard_tests::{TestHost, operator, settings};

const PREFERENCES_URL: &str = "http://127.0.0.1:9/preferences/";

/// The newsletter: custom, default no, for every contact but those of the `excluded`
/// segment (for whom it is Not Applicable).
fn newsletter() -> ConsentDefinition {
    ConsentDefinition {
        id: "news".into(),
        module: "contacts".into(),
        kind: ConsentKind::Custom,
        title: "News".into(),
        purpose: "We send news about our products about once a month.".into(),
        default_value: ConsentDefault::No,
        applies_when: vec![ConditionClause {
            field: "segment".into(),
            op: ConditionOp::NoneOf,
            values: vec!["excluded".into()],
        }],
        translations: Vec::new(),
        max_age_months: 0,
    }
}

/// Germany opt-in (the default), the US opt-out, Canada implied consent; the newsletter
/// open to the soft opt-in.
fn rules() -> RegimeRules {
    RegimeRules {
        field: "country".into(),
        values: vec![
            ("US".into(), Regime::OptOut),
            ("CA".into(), Regime::ImpliedConsent),
        ],
        default_regime: Regime::OptIn,
        purchase_field: "last_purchase".into(),
        enquiry_field: "last_enquiry".into(),
        soft_opt_in: vec!["news".into()],
    }
}

/// Who a contact is for the regime rules: country, last purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Germany, no purchase: opt-in.
    OptIn,
    /// Germany with a purchase: opt-in, and the soft opt-in applies.
    Customer,
    /// The US: opt-out.
    OptOut,
    /// Canada, a purchase half a year ago: consent implied.
    Implied,
    /// Canada, a purchase three years ago: implied consent lapsed.
    Lapsed,
}

const KINDS: [Kind; 5] = [
    Kind::OptIn,
    Kind::Customer,
    Kind::OptOut,
    Kind::Implied,
    Kind::Lapsed,
];

const VALUES: [ConsentValue; 5] = [
    ConsentValue::NotApplicable,
    ConsentValue::Applicable,
    ConsentValue::Waiting,
    ConsentValue::Granted,
    ConsentValue::NotGranted,
];

impl Kind {
    fn country_and_purchase(self) -> (&'static str, &'static str) {
        match self {
            Kind::OptIn => ("DE", ""),
            Kind::Customer => ("de", "2026-03-15"),
            Kind::OptOut => ("US", ""),
            Kind::Implied => (" ca ", "2026-06-01"),
            Kind::Lapsed => ("CA", "2023-11-30"),
        }
    }

    fn regime(self) -> Regime {
        match self {
            Kind::OptIn | Kind::Customer => Regime::OptIn,
            Kind::OptOut => Regime::OptOut,
            Kind::Implied | Kind::Lapsed => Regime::ImpliedConsent,
        }
    }
}

/// The contact of one cell: its id, its address.
fn person(kind: Kind, value: ConsentValue) -> (String, String) {
    let k = KINDS.iter().position(|known| *known == kind).unwrap_or(0);
    let v = VALUES.iter().position(|known| *known == value).unwrap_or(0);
    let id = format!("{}", 1 + k * VALUES.len() + v);
    (id.clone(), format!("person{id}@example.com"))
}

/// What the decision table says for marketing to an active person as To.
fn marketing_to(kind: Kind, value: ConsentValue) -> Result<LawfulBasis, RefusalReason> {
    use ConsentValue::*;
    use LawfulBasis::{Consent, LegitimateInterests};
    use RefusalReason::*;
    match (kind, value) {
        (_, Granted) => Ok(Consent),
        (_, NotGranted) => Err(ConsentRefused),
        (Kind::OptOut, _) => Ok(LegitimateInterests),
        (Kind::Implied, _) => Ok(Consent),
        (Kind::Customer, Applicable | Waiting) => Ok(LegitimateInterests),
        (_, Waiting) => Err(ConsentPending),
        (_, Applicable) => Err(ConsentNotRequested),
        (_, NotApplicable) => Err(ConsentNotApplicable),
    }
}

/// A host with the regime rules and the newsletter, and a contact for every regime ×
/// consent value, the values made the way people make them: the condition, the daily
/// run's request, a recorded grant or refusal, and an import after the run.
fn host_with_every_cell() -> (TestHost, Guard) {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    let mut configured = settings(PREFERENCES_URL);
    configured.regimes = RegimeRules {
        soft_opt_in: Vec::new(),
        ..rules()
    };
    guard
        .set_settings(&configured)
        .expect("call")
        .expect("settings with regimes accepted");
    guard
        .put_consent(&newsletter(), None)
        .expect("call")
        .expect("consent");
    configured.regimes = rules();
    guard
        .set_settings(&configured)
        .expect("call")
        .expect("the soft opt-in names a defined consent now");
    guard.enable(true).expect("call").expect("enabled");
    let row = |kind: Kind, value: ConsentValue| {
        let (id, address) = person(kind, value);
        let (country, purchase) = kind.country_and_purchase();
        let segment = if value == ConsentValue::NotApplicable {
            "excluded"
        } else {
            "all"
        };
        format!("{id},{address},{country},{purchase},{segment}\n")
    };
    let header = "id,email,country,last_purchase,segment\n";
    let mut before_run = header.to_owned();
    let mut after_run = header.to_owned();
    for kind in KINDS {
        for value in VALUES {
            if value == ConsentValue::Applicable {
                after_run.push_str(&row(kind, value));
            } else {
                before_run.push_str(&row(kind, value));
            }
        }
    }
    import_csv(&guard, "contacts", &before_run);
    host.set_now("2026-12-01T10:00:00Z");
    guard.run_due().expect("run").expect("due");
    import_csv(&guard, "contacts", &after_run);
    for kind in KINDS {
        for (value, grant) in [
            (ConsentValue::Granted, true),
            (ConsentValue::NotGranted, false),
        ] {
            let (id, _) = person(kind, value);
            guard
                .record_decision(&contact(&id), "news", grant, &operator(), "on the phone")
                .expect("call")
                .expect("recorded");
        }
    }
    (host, guard)
}

#[test]
fn every_regime_consent_value_class_and_role_decides_as_the_table_says() {
    let (_host, guard) = host_with_every_cell();
    for kind in KINDS {
        for value in VALUES {
            let (id, address) = person(kind, value);
            let subject = guard.subject(&contact(&id)).expect("call").expect("known");
            let held = subject
                .consents
                .iter()
                .find(|state| state.consent_id == "news")
                .map_or(ConsentValue::NotApplicable, |state| state.value);
            assert_eq!(held, value, "{kind:?}: the cell's value was made");
            assert_eq!(
                subject.regime,
                kind.regime(),
                "{kind:?}: the view shows the regime"
            );
            for class in [
                MessageClass::Marketing,
                MessageClass::Workflow,
                MessageClass::AdHoc,
                MessageClass::Transactional,
            ] {
                for role in [RecipientRole::To, RecipientRole::Cc, RecipientRole::Bcc] {
                    let purpose = matches!(class, MessageClass::Marketing | MessageClass::Workflow)
                        .then_some("news");
                    let expected: Result<LawfulBasis, RefusalReason> = match class {
                        MessageClass::Marketing if role == RecipientRole::To => {
                            marketing_to(kind, value)
                        }
                        MessageClass::Marketing => Err(RefusalReason::NotAToRecipient),
                        MessageClass::Workflow => match value {
                            ConsentValue::NotGranted => Err(RefusalReason::ConsentRefused),
                            ConsentValue::Granted => Ok(LawfulBasis::Consent),
                            _ => Ok(LawfulBasis::LegitimateInterests),
                        },
                        MessageClass::AdHoc => Ok(LawfulBasis::LegitimateInterests),
                        MessageClass::Transactional => Ok(LawfulBasis::Contract),
                    };
                    let decided = decide_for(&guard, class, purpose, &address, role);
                    let cell = format!("{kind:?} {value:?} {class:?} {role:?}");
                    match (&decided, expected) {
                        (Decision::Allow(allowance), Ok(basis)) => {
                            assert_eq!(allowance.basis, basis, "{cell}");
                            assert_eq!(allowance.regime, kind.regime(), "{cell}");
                            let footer = allowance
                                .obligations
                                .contains(Obligations::PREFERENCES_FOOTER);
                            assert_eq!(
                                footer,
                                role == RecipientRole::To
                                    && matches!(
                                        class,
                                        MessageClass::AdHoc | MessageClass::Marketing
                                    ),
                                "{cell}: the opt-out footer"
                            );
                        }
                        (Decision::Refuse(refusal), Err(reason)) => {
                            assert_eq!(refusal.reason, reason, "{cell}");
                        }
                        (decided, expected) => panic!("{cell}: {decided:?}, expected {expected:?}"),
                    }
                }
            }
        }
    }
}

#[test]
fn the_rules_apply_to_the_next_send_and_stale_facts_count_as_opt_in() {
    let (host, guard) = host_with_every_cell();
    let (_, us_waiting) = person(Kind::OptOut, ConsentValue::Waiting);
    let (_, de_waiting) = person(Kind::OptIn, ConsentValue::Waiting);
    let marketing = |guard: &Guard, address: &str| {
        decide_for(
            guard,
            MessageClass::Marketing,
            Some("news"),
            address,
            RecipientRole::To,
        )
    };
    let allowed = |decision: &Decision| matches!(decision, Decision::Allow(_));
    assert!(allowed(&marketing(&guard, &us_waiting)));
    // The mapping changes: the US is opt-in now, at the next send.
    let change = |regimes: RegimesPatch| {
        guard
            .change_settings(SettingsPatch {
                regimes,
                ..SettingsPatch::default()
            })
            .expect("call")
            .unwrap_or_else(|refusal| panic!("{refusal:?}"))
    };
    change(RegimesPatch {
        values: Some(vec![("US".into(), Regime::OptIn)]),
        ..RegimesPatch::default()
    });
    assert!(!allowed(&marketing(&guard, &us_waiting)));
    // And back; then the regime is read from another field, which no record has been
    // read for yet: everyone stands opt-in until their record is seen again.
    change(RegimesPatch {
        values: Some(vec![
            ("US".into(), Regime::OptOut),
            ("DE".into(), Regime::OptOut),
        ]),
        ..RegimesPatch::default()
    });
    assert!(allowed(&marketing(&guard, &de_waiting)));
    change(RegimesPatch {
        field: Some("region".into()),
        values: Some(vec![("north america".into(), Regime::OptOut)]),
        ..RegimesPatch::default()
    });
    assert!(
        !allowed(&marketing(&guard, &us_waiting)),
        "stale facts: opt-in"
    );
    let (us_id, _) = person(Kind::OptOut, ConsentValue::Waiting);
    import_csv(
        &guard,
        "contacts",
        &format!("id,email,region\n{us_id},{us_waiting},North America\n"),
    );
    let decided = marketing(&guard, &us_waiting);
    assert!(allowed(&decided), "read again: {decided:?}");
    // The implied consent lapses with time, at the host's clock: Canada, a purchase on
    // 1 June 2026, implies consent until 1 June 2028.
    change(RegimesPatch {
        field: Some("country".into()),
        values: Some(rules().values),
        ..RegimesPatch::default()
    });
    let (ca_id, ca_waiting) = person(Kind::Implied, ConsentValue::Waiting);
    import_csv(
        &guard,
        "contacts",
        &format!("id,email,country,last_purchase\n{ca_id},{ca_waiting},CA,2026-06-01\n"),
    );
    host.set_now("2028-06-01T12:00:00Z");
    assert!(allowed(&marketing(&guard, &ca_waiting)), "the last day");
    host.set_now("2028-06-02T12:00:00Z");
    assert!(!allowed(&marketing(&guard, &ca_waiting)), "lapsed");
}

#[test]
fn regime_rules_that_cannot_hold_are_refused_naming_the_problem() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host");
    let mut configured = settings(PREFERENCES_URL);
    configured.link_valid_days = 14;
    configured.regimes = RegimeRules {
        soft_opt_in: vec!["unknown".into()],
        ..rules()
    };
    let problems = guard
        .set_settings(&configured)
        .expect("call")
        .expect_err("refused");
    let at: Vec<&str> = problems.iter().map(|problem| problem.at.as_str()).collect();
    assert_eq!(at, ["link-valid-days"], "{problems:?}");
    assert!(problems[0].message.contains("30 days"), "{problems:?}");
    configured.link_valid_days = 30;
    let problems = guard
        .set_settings(&configured)
        .expect("call")
        .expect_err("refused");
    assert_eq!(problems[0].at, "regimes.soft-opt-in", "{problems:?}");
    assert!(problems[0].message.contains("unknown"), "{problems:?}");
    assert!(
        guard.configuration().expect("call").settings.is_none(),
        "nothing was saved"
    );
}
