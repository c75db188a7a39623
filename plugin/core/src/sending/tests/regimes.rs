//! The regime dimension of the marketing decision: every cell of the regime table, a
//! grant outdated by a material change, and a person's standing read from their facts.

use super::*;

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
