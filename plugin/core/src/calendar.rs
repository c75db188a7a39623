//! Calendar dates without a clock: job periods (`YYYY-MM-DD`) and the UTC date of a time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A calendar date, e.g. the period key of a daily job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// The text is not a `YYYY-MM-DD` calendar date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a calendar date written YYYY-MM-DD")]
pub struct InvalidDate(pub String);

impl Date {
    /// The date written `YYYY-MM-DD` (exactly ten characters, a real calendar day).
    pub fn parse(text: &str) -> Result<Date, InvalidDate> {
        let invalid = || InvalidDate(text.to_owned());
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(invalid());
        }
        let number = |range: std::ops::Range<usize>| -> Option<u16> {
            let digits = text.get(range)?;
            if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        };
        let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10))
        else {
            return Err(invalid());
        };
        let month = u8::try_from(month).map_err(|_| invalid())?;
        let day = u8::try_from(day).map_err(|_| invalid())?;
        if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(invalid());
        }
        Ok(Date { year, month, day })
    }

    /// The UTC date of the instant `at` (unix milliseconds).
    pub fn of_instant(at: i64) -> Date {
        civil_from_days(at.div_euclid(DAY_MS))
    }

    /// The first instant of the day, UTC (unix milliseconds).
    pub fn start_ms(self) -> i64 {
        days_from_civil(self) * DAY_MS
    }

    /// The day `days` days later.
    pub fn add_days(self, days: u32) -> Date {
        civil_from_days(days_from_civil(self) + i64::from(days))
    }

    /// The day `days` days earlier.
    pub fn add_days_back(self, days: u32) -> Date {
        civil_from_days(days_from_civil(self) - i64::from(days))
    }

    /// The same day `months` calendar months later; the month's last day when it is
    /// shorter (31 August + 6 months is 28 or 29 February).
    pub fn add_months(self, months: u32) -> Date {
        let index = u32::from(self.year) * 12 + u32::from(self.month - 1) + months;
        let year = u16::try_from(index / 12).unwrap_or(u16::MAX).min(9999);
        let month = (index % 12) as u8 + 1;
        Date {
            year,
            month,
            day: self.day.min(days_in_month(year, month)),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        )
    }
}

impl FromStr for Date {
    type Err = InvalidDate;

    fn from_str(text: &str) -> Result<Date, InvalidDate> {
        Date::parse(text)
    }
}

impl TryFrom<String> for Date {
    type Error = InvalidDate;

    fn try_from(text: String) -> Result<Date, InvalidDate> {
        Date::parse(&text)
    }
}

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.to_string()
    }
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to `date` (Howard Hinnant's algorithm, the inverse of
/// [`civil_from_days`]).
fn days_from_civil(date: Date) -> i64 {
    let month = i64::from(date.month);
    let year = i64::from(date.year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(date.day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` days after 1970-01-01 (Howard Hinnant's algorithm),
/// clamped to the years 1..=9999 that a `Date` can print.
fn civil_from_days(days: i64) -> Date {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    match u16::try_from(year) {
        Ok(year) if (1..=9999).contains(&year) => Date {
            year,
            // Both are in range by construction of the algorithm.
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        },
        _ if year < 1 => Date {
            year: 1,
            month: 1,
            day: 1,
        },
        _ => Date {
            year: 9999,
            month: 12,
            day: 31,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_added_across_months_years_and_leap_days() {
        let date = |text: &str| Date::parse(text).unwrap();
        assert_eq!(date("2026-12-01").add_days(7), date("2026-12-08"));
        assert_eq!(date("2026-12-25").add_days(30), date("2027-01-24"));
        assert_eq!(date("2028-02-28").add_days(1), date("2028-02-29"));
        assert_eq!(date("1970-01-01").add_days(0), date("1970-01-01"));
        assert_eq!(Date::of_instant(0).add_days(19_692), date("2023-12-01"));
        for text in ["1999-12-31", "2000-02-29", "2026-06-30"] {
            assert_eq!(civil_from_days(days_from_civil(date(text))), date(text));
        }
    }

    #[test]
    fn months_are_added_by_the_calendar_ending_at_a_shorter_months_last_day() {
        let date = |text: &str| Date::parse(text).unwrap();
        assert_eq!(date("2026-11-30").add_months(6), date("2027-05-30"));
        assert_eq!(date("2026-08-31").add_months(6), date("2027-02-28"));
        assert_eq!(date("2027-08-31").add_months(6), date("2028-02-29"));
        assert_eq!(date("2026-02-28").add_months(24), date("2028-02-28"));
        assert_eq!(date("2026-12-15").add_months(1), date("2027-01-15"));
    }

    #[test]
    fn periods_must_be_real_calendar_days_written_yyyy_mm_dd() {
        let cases: &[(&str, bool)] = &[
            ("2024-05-01", true),
            ("2024-02-29", true),
            ("2000-02-29", true),
            ("2023-02-29", false),
            ("1900-02-29", false),
            ("2024-04-31", false),
            ("2024-13-01", false),
            ("2024-00-10", false),
            ("2024-01-00", false),
            ("0000-01-01", false),
            ("2024-5-01", false),
            ("2024/05/01", false),
            ("2024-05-01 ", false),
            ("+202-05-01", false),
            ("", false),
            ("yesterday", false),
        ];
        for (text, expected) in cases {
            assert_eq!(Date::parse(text).is_ok(), *expected, "{text:?}");
        }
    }

    #[test]
    fn a_date_prints_as_it_was_parsed() {
        assert_eq!(Date::parse("2024-05-01").unwrap().to_string(), "2024-05-01");
    }

    #[test]
    fn the_utc_date_of_an_instant_is_computed_without_a_clock() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01"),
            (DAY_MS - 1, "1970-01-01"),
            (-1, "1969-12-31"),
            (951_782_400_000, "2000-02-29"),
            (1_709_164_800_000, "2024-02-29"),
            (1_735_689_599_999, "2024-12-31"),
            (1_735_689_600_000, "2025-01-01"),
        ];
        for (at, expected) in cases {
            assert_eq!(Date::of_instant(*at).to_string(), *expected, "{at}");
        }
    }
}
