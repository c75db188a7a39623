//! Which legal regime applies to whom (setting `regimes`): a field of the person's record
//! whose values (a country, a state) pick a [`Regime`], a default for everyone else, the
//! record fields the implied consent and the soft opt-in are read from, and the consents
//! whose marketing an existing customer may get under the soft opt-in.
//!
//! The rules are part of the configuration's sending index, so a change applies to the
//! next send at once; the facts they read (the field's value, the dates) are kept in each
//! person's snapshot when the record is seen (see [`crate::observation`]).

use serde::{Deserialize, Serialize};

use super::Problem;
use crate::calendar::Date;
use crate::vocabulary::Regime;

/// How long a purchase implies consent under CASL (s. 10(10)(a)): two years.
pub const PURCHASE_IMPLIES_MONTHS: u32 = 24;
/// How long an enquiry implies consent under CASL (s. 10(10)(b)): six months.
pub const ENQUIRY_IMPLIES_MONTHS: u32 = 6;
/// The shortest life of a link in a mail sent under the opt-out regime: CAN-SPAM's
/// opt-out must work for at least 30 days after the mail was sent (15 U.S.C.
/// 7704(a)(3)(A)(ii)).
pub const OPT_OUT_LINK_DAYS: u32 = 30;
/// Most field values mapped to a regime.
pub const MAX_REGIME_VALUES: usize = 300;

/// The regime rules as entered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegimeRulesInput {
    /// The field whose value picks the regime (e.g. `country`); empty: none.
    pub field: String,
    /// Values of that field and their regime (compared trimmed, ignoring case).
    pub values: Vec<(String, Regime)>,
    /// The regime of everyone whose value is not listed (or who has none).
    pub default: Regime,
    /// The date field (`YYYY-MM-DD`) of the person's last purchase; empty: none.
    pub purchase_field: String,
    /// The date field (`YYYY-MM-DD`) of the person's last enquiry; empty: none.
    pub enquiry_field: String,
    /// Consents (ids) for "similar products and services" that an existing customer may
    /// get marketing of under the opt-in regime until they object (ePrivacy Art. 13(2)).
    pub soft_opt_in: Vec<String>,
}

/// The regime rules, validated: values normalised, fields named or absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegimeRules {
    pub field: Option<String>,
    /// Normalised values (trimmed, lower-case), each once.
    pub values: Vec<(String, Regime)>,
    pub default: Regime,
    pub purchase_field: Option<String>,
    pub enquiry_field: Option<String>,
    pub soft_opt_in: Vec<String>,
}

/// A record field's value the way regime values are compared.
pub fn normalise_value(value: &str) -> String {
    value.trim().to_lowercase()
}

impl RegimeRules {
    /// Validates `input` (every problem at once, at `regimes.…`). `link_valid_days` is the
    /// settings' link lifetime, which the opt-out regime needs to be at least
    /// [`OPT_OUT_LINK_DAYS`].
    pub fn validate(
        input: RegimeRulesInput,
        link_valid_days: u32,
        problems: &mut Vec<Problem>,
    ) -> RegimeRules {
        let mut field_name = |at: &str, name: &str| -> Option<String> {
            let name = name.trim();
            if name.is_empty() {
                None
            } else if name
                .chars()
                .any(|character| character.is_whitespace() || character.is_control())
            {
                problems.push(Problem::new(
                    at,
                    "a field name is a single word without blanks",
                ));
                None
            } else {
                Some(name.to_owned())
            }
        };
        let field = field_name("regimes.field", &input.field);
        let purchase_field = field_name("regimes.purchase-field", &input.purchase_field);
        let enquiry_field = field_name("regimes.enquiry-field", &input.enquiry_field);
        let mut values: Vec<(String, Regime)> = Vec::new();
        for (value, regime) in input.values {
            let normalised = normalise_value(&value);
            if normalised.is_empty() || normalised.chars().any(char::is_control) {
                problems.push(Problem::new(
                    "regimes.values",
                    "a value is a non-empty single line",
                ));
            } else if values.iter().any(|(known, _)| *known == normalised) {
                problems.push(Problem::new(
                    "regimes.values",
                    format!("`{}` is given twice", value.trim()),
                ));
            } else {
                values.push((normalised, regime));
            }
        }
        if values.len() > MAX_REGIME_VALUES {
            problems.push(Problem::new(
                "regimes.values",
                format!("at most {MAX_REGIME_VALUES} values"),
            ));
        }
        if !values.is_empty() && field.is_none() {
            problems.push(Problem::new(
                "regimes.field",
                "name the field whose values pick the regime (e.g. country)",
            ));
        }
        let used = |regime: Regime| {
            input.default == regime || values.iter().any(|(_, used)| *used == regime)
        };
        if used(Regime::ImpliedConsent) && purchase_field.is_none() && enquiry_field.is_none() {
            problems.push(Problem::new(
                "regimes.purchase-field",
                "the implied-consent regime needs the purchase or the enquiry field: the dates consent is implied from",
            ));
        }
        if used(Regime::OptOut) && link_valid_days < OPT_OUT_LINK_DAYS {
            problems.push(Problem::new(
                "link-valid-days",
                format!(
                    "must be at least {OPT_OUT_LINK_DAYS} days where the opt-out regime applies: its opt-out must work for 30 days after a mail is sent (CAN-SPAM)"
                ),
            ));
        }
        let mut soft_opt_in: Vec<String> = Vec::new();
        for id in input.soft_opt_in {
            let id = id.trim().to_owned();
            if !id.is_empty() && !soft_opt_in.contains(&id) {
                soft_opt_in.push(id);
            }
        }
        if !soft_opt_in.is_empty() && purchase_field.is_none() {
            problems.push(Problem::new(
                "regimes.purchase-field",
                "the soft opt-in is for existing customers: name the field of the last purchase",
            ));
        }
        RegimeRules {
            field,
            values,
            default: input.default,
            purchase_field,
            enquiry_field,
            soft_opt_in,
        }
    }

    /// Back to the form it was entered in.
    pub fn to_input(&self) -> RegimeRulesInput {
        RegimeRulesInput {
            field: self.field.clone().unwrap_or_default(),
            values: self.values.clone(),
            default: self.default,
            purchase_field: self.purchase_field.clone().unwrap_or_default(),
            enquiry_field: self.enquiry_field.clone().unwrap_or_default(),
            soft_opt_in: self.soft_opt_in.clone(),
        }
    }

    /// Whether any value, or the default, is `regime`.
    pub fn uses(&self, regime: Regime) -> bool {
        self.default == regime || self.values.iter().any(|(_, used)| *used == regime)
    }
}

/// What the regime rules read of one person, kept in the person's snapshot, with the
/// fields they were read from: facts read from fields the rules no longer name do not
/// count (the person has the strictest reading, opt-in, until the record is seen again).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegimeFacts {
    /// The regime, purchase and enquiry fields the rules named when these were read.
    pub fields: [Option<String>; 3],
    /// The regime field's value (normalised), when the record has one.
    pub region: Option<String>,
    /// The date of the last purchase, when the record has a valid one.
    pub purchased: Option<Date>,
    /// The date of the last enquiry, when the record has a valid one.
    pub enquired: Option<Date>,
}

impl RegimeRules {
    /// The fields the rules read, in the order [`RegimeFacts::fields`] keeps them.
    pub fn fields(&self) -> [Option<&str>; 3] {
        [
            self.field.as_deref(),
            self.purchase_field.as_deref(),
            self.enquiry_field.as_deref(),
        ]
    }
}

impl RegimeFacts {
    /// The facts the rules read from a record's fields (`field` gives a field's value).
    pub fn read<'f>(rules: &RegimeRules, field: impl Fn(&str) -> Option<&'f str>) -> RegimeFacts {
        let text = |name: Option<&str>| {
            let value = field(name?)?.trim();
            (!value.is_empty()).then_some(value)
        };
        let date = |name: Option<&str>| text(name).and_then(|value| Date::parse(value).ok());
        let [region, purchase, enquiry] = rules.fields();
        RegimeFacts {
            fields: rules.fields().map(|name| name.map(str::to_owned)),
            region: text(region).map(normalise_value),
            purchased: date(purchase),
            enquired: date(enquiry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RegimeRulesInput {
        RegimeRulesInput {
            field: "country".into(),
            values: vec![
                ("US".into(), Regime::OptOut),
                (" ca ".into(), Regime::ImpliedConsent),
            ],
            default: Regime::OptIn,
            purchase_field: "last_purchase".into(),
            enquiry_field: String::new(),
            soft_opt_in: vec!["news".into(), "news".into()],
        }
    }

    #[test]
    fn rules_are_stored_normalised_and_read_back() {
        let mut problems = Vec::new();
        let rules = RegimeRules::validate(input(), 30, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            rules.values,
            [
                ("us".to_owned(), Regime::OptOut),
                ("ca".to_owned(), Regime::ImpliedConsent)
            ]
        );
        assert_eq!(rules.soft_opt_in, ["news"]);
        assert_eq!(rules.enquiry_field, None);
        let mut again = Vec::new();
        assert_eq!(
            RegimeRules::validate(rules.to_input(), 30, &mut again),
            rules
        );
        assert!(again.is_empty());
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut problems = Vec::new();
        RegimeRules::validate(
            RegimeRulesInput {
                field: String::new(),
                values: vec![
                    ("US".into(), Regime::OptOut),
                    ("us".into(), Regime::OptIn),
                    ("  ".into(), Regime::OptIn),
                ],
                default: Regime::ImpliedConsent,
                purchase_field: "last purchase".into(),
                enquiry_field: String::new(),
                soft_opt_in: vec!["news".into()],
            },
            14,
            &mut problems,
        );
        let at: Vec<&str> = problems.iter().map(|problem| problem.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "regimes.purchase-field",
                "regimes.values",
                "regimes.values",
                "regimes.field",
                "regimes.purchase-field",
                "link-valid-days",
                "regimes.purchase-field"
            ]
        );
        assert!(problems[1].message.contains("`us` is given twice"));
        assert!(problems[5].message.contains("30 days"));
    }

    #[test]
    fn facts_come_from_the_named_fields_and_bad_dates_count_as_none() {
        let mut problems = Vec::new();
        let rules = RegimeRules::validate(
            RegimeRulesInput {
                enquiry_field: "asked".into(),
                ..input()
            },
            30,
            &mut problems,
        );
        let fields = [
            ("country", " US "),
            ("last_purchase", "2025-12-01"),
            ("asked", "yesterday"),
        ];
        let facts = RegimeFacts::read(&rules, |name| {
            fields
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, value)| *value)
        });
        assert_eq!(facts.region.as_deref(), Some("us"));
        assert_eq!(facts.purchased, Some(Date::parse("2025-12-01").unwrap()));
        assert_eq!(facts.enquired, None);
        assert_eq!(
            facts.fields,
            [
                Some("country".to_owned()),
                Some("last_purchase".to_owned()),
                Some("asked".to_owned())
            ]
        );
        assert_eq!(
            RegimeFacts::read(&RegimeRules::default(), |_| Some("x")),
            RegimeFacts::default()
        );
    }
}
