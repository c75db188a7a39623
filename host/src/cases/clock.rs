//! The statutory clocks of rights requests: pure date arithmetic, no IO and no clock of
//! its own (the day of receipt comes in, the deadlines come out).
//!
//! All dates are UTC calendar dates. A deadline is a day: the answer is on time when it is
//! given on or before that day, and the case is overdue from the start of the next day.
//!
//! | regime | first answer due | extension (once) | acknowledgement |
//! |---|---|---|---|
//! | GDPR (Art. 12(3)) | one calendar month after receipt | two further months, notice within the first month | — |
//! | CCPA (§ 7021) | 45 calendar days after receipt | 45 further days, notice within the first 45 | 10 business days |
//! | LGPD (Art. 19) | 15 calendar days after receipt | none | — |
//!
//! A calendar month is the same day of the next month, or that month's last day when it is
//! shorter (31 January → 28 or 29 February). Business days are Monday to Friday; public
//! holidays are not counted as holidays (they differ per state and year), so an
//! acknowledgement deadline over a holiday falls a day earlier than a lawyer's count: the
//! stricter side.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// The law whose clock a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regime {
    Gdpr,
    Ccpa,
    Lgpd,
}

impl Regime {
    pub const ALL: [Regime; 3] = [Regime::Gdpr, Regime::Ccpa, Regime::Lgpd];

    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Gdpr => "gdpr",
            Regime::Ccpa => "ccpa",
            Regime::Lgpd => "lgpd",
        }
    }

    pub fn parse(text: &str) -> Option<Regime> {
        Regime::ALL
            .into_iter()
            .find(|regime| regime.as_str() == text)
    }

    /// The deadlines of a request received on `received_on`.
    pub fn deadlines(self, received_on: NaiveDate) -> Deadlines {
        match self {
            Regime::Gdpr => Deadlines {
                due_on: add_calendar_months(received_on, 1),
                extended_due_on: Some(add_calendar_months(received_on, 3)),
                acknowledge_by: None,
            },
            Regime::Ccpa => Deadlines {
                due_on: add_days(received_on, 45),
                extended_due_on: Some(add_days(received_on, 90)),
                acknowledge_by: Some(add_business_days(received_on, 10)),
            },
            Regime::Lgpd => Deadlines {
                due_on: add_days(received_on, 15),
                extended_due_on: None,
                acknowledge_by: None,
            },
        }
    }
}

/// When a request must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// The last day of the first period: the answer, or the notice of an extension, is due.
    pub due_on: NaiveDate,
    /// The last day after the one extension the law allows; `None`: no extension.
    pub extended_due_on: Option<NaiveDate>,
    /// The last day to confirm receipt (CCPA).
    pub acknowledge_by: Option<NaiveDate>,
}

/// Why an extension is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionRefused {
    #[error("the {0} clock allows no extension: answer by the due date")]
    NotAllowed(&'static str),
    #[error("the case was extended already (to {0}); the law allows one extension")]
    AlreadyExtended(NaiveDate),
    #[error(
        "an extension must be notified within the first period, which ended on {due_on}; today is {today}: answer now"
    )]
    TooLate { due_on: NaiveDate, today: NaiveDate },
}

/// The new deadline if a case of `regime` received on `received_on` is extended on `today`
/// (`already_extended` when it was extended before).
pub fn extension(
    regime: Regime,
    received_on: NaiveDate,
    today: NaiveDate,
    already_extended: Option<NaiveDate>,
) -> Result<NaiveDate, ExtensionRefused> {
    if let Some(until) = already_extended {
        return Err(ExtensionRefused::AlreadyExtended(until));
    }
    let deadlines = regime.deadlines(received_on);
    let Some(extended) = deadlines.extended_due_on else {
        return Err(ExtensionRefused::NotAllowed(regime.as_str()));
    };
    if today > deadlines.due_on {
        return Err(ExtensionRefused::TooLate {
            due_on: deadlines.due_on,
            today,
        });
    }
    Ok(extended)
}

/// `date` plus `months` calendar months: the same day of the month, or the last day of a
/// shorter month.
pub fn add_calendar_months(date: NaiveDate, months: u32) -> NaiveDate {
    // chrono clamps to the month's last day; past the end of its calendar (year 262143) it
    // has no date, and the latest date it has is as close as an answer can get.
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// `date` plus `days` calendar days.
pub fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

/// The `days`-th business day (Monday to Friday, holidays not counted) after `date`.
pub fn add_business_days(date: NaiveDate, days: u32) -> NaiveDate {
    let mut day = date;
    let mut counted = 0;
    while counted < days {
        day = add_days(day, 1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            counted += 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
    }

    #[test]
    fn a_calendar_month_is_the_same_day_next_month_clamped_to_the_months_end() {
        let table = [
            ("2026-12-01", 1, "2027-01-01"),
            ("2027-01-31", 1, "2027-02-28"),
            ("2028-01-31", 1, "2028-02-29"),
            ("2027-03-31", 1, "2027-04-30"),
            ("2026-12-15", 3, "2027-03-15"),
            ("2026-11-30", 3, "2027-02-28"),
        ];
        for (from, months, expected) in table {
            assert_eq!(
                add_calendar_months(date(from), months),
                date(expected),
                "{from} + {months} months"
            );
        }
    }

    #[test]
    fn business_days_skip_saturdays_and_sundays_and_start_the_day_after() {
        // 2026-12-04 is a Friday.
        let table = [
            ("2026-12-04", 1, "2026-12-07"),
            ("2026-12-04", 10, "2026-12-18"),
            ("2026-12-05", 10, "2026-12-18"),
            ("2026-12-07", 10, "2026-12-21"),
            ("2026-12-02", 0, "2026-12-02"),
        ];
        for (from, days, expected) in table {
            assert_eq!(
                add_business_days(date(from), days),
                date(expected),
                "{from} + {days} business days"
            );
        }
    }

    #[test]
    fn each_regime_has_its_deadlines() {
        let received = date("2026-12-01");
        assert_eq!(
            Regime::Gdpr.deadlines(received),
            Deadlines {
                due_on: date("2027-01-01"),
                extended_due_on: Some(date("2027-03-01")),
                acknowledge_by: None,
            }
        );
        assert_eq!(
            Regime::Ccpa.deadlines(received),
            Deadlines {
                due_on: date("2027-01-15"),
                extended_due_on: Some(date("2027-03-01")),
                acknowledge_by: Some(date("2026-12-15")),
            }
        );
        assert_eq!(
            Regime::Lgpd.deadlines(received),
            Deadlines {
                due_on: date("2026-12-16"),
                extended_due_on: None,
                acknowledge_by: None,
            }
        );
    }

    #[test]
    fn an_extension_is_allowed_once_within_the_first_period_and_never_under_lgpd() {
        let received = date("2026-12-01");
        assert_eq!(
            extension(Regime::Gdpr, received, date("2027-01-01"), None),
            Ok(date("2027-03-01"))
        );
        assert_eq!(
            extension(Regime::Gdpr, received, date("2027-01-02"), None),
            Err(ExtensionRefused::TooLate {
                due_on: date("2027-01-01"),
                today: date("2027-01-02"),
            })
        );
        assert_eq!(
            extension(
                Regime::Gdpr,
                received,
                date("2026-12-10"),
                Some(date("2027-03-01"))
            ),
            Err(ExtensionRefused::AlreadyExtended(date("2027-03-01")))
        );
        assert_eq!(
            extension(Regime::Ccpa, received, date("2027-01-15"), None),
            Ok(date("2027-03-01"))
        );
        assert_eq!(
            extension(Regime::Lgpd, received, date("2026-12-02"), None),
            Err(ExtensionRefused::NotAllowed("lgpd"))
        );
    }

    #[test]
    fn regimes_read_back_from_their_text() {
        for regime in Regime::ALL {
            assert_eq!(Regime::parse(regime.as_str()), Some(regime));
        }
        assert_eq!(Regime::parse("GDPR"), None);
    }
}
