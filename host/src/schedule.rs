//! When the daily consent run is due.
//!
//! A daily job runs at a local time in a time zone (default 10:00). Its *period* is the
//! local date of the most recent due time: a host that was down over several due times
//! runs once for the latest period when it comes back (the others' requests are still
//! Applicable then, so nothing is lost), and a restart after a finished run repeats nothing
//! because runs are recorded by period.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// The job name under which daily consent runs are recorded.
pub const DAILY_CONSENT_RUN: &str = "daily-consent-run";

/// A job that is due once a day at a local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailySchedule {
    pub at: NaiveTime,
    pub zone: Tz,
}

impl Default for DailySchedule {
    fn default() -> Self {
        DailySchedule {
            at: NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default(),
            zone: Tz::UTC,
        }
    }
}

/// Why a schedule's time or zone cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{0}` is not a time of day: write it as HH:MM, e.g. 10:00")]
    TimeOfDay(String),
    #[error("`{0}` is not a time zone: use an IANA name such as Europe/Berlin or UTC")]
    TimeZone(String),
}

impl DailySchedule {
    /// Parses `HH:MM` and an IANA zone name (e.g. `Europe/Berlin`).
    pub fn parse(at: &str, zone: &str) -> Result<DailySchedule, ScheduleError> {
        let at = NaiveTime::parse_from_str(at, "%H:%M")
            .map_err(|_| ScheduleError::TimeOfDay(at.to_owned()))?;
        let zone = zone
            .parse::<Tz>()
            .map_err(|_| ScheduleError::TimeZone(zone.to_owned()))?;
        Ok(DailySchedule { at, zone })
    }

    /// The period (local date) of the most recent due time at or before `now`.
    pub fn due_period(&self, now: DateTime<Utc>) -> NaiveDate {
        let local = now.with_timezone(&self.zone);
        if local.time() >= self.at {
            local.date_naive()
        } else {
            local
                .date_naive()
                .checked_sub_days(Days::new(1))
                .unwrap_or(local.date_naive())
        }
    }

    /// When the run of `period` falls due, in UTC (a local time in a daylight-saving gap
    /// falls due at the end of the gap's day start, i.e. the earliest instant after it).
    pub fn due_at(&self, period: NaiveDate) -> DateTime<Utc> {
        let local = period.and_time(self.at);
        match local.and_local_timezone(self.zone).earliest() {
            Some(due) => due.with_timezone(&Utc),
            // In a gap: an hour later is always past it.
            None => (local + chrono::Duration::hours(1))
                .and_local_timezone(self.zone)
                .earliest()
                .map_or_else(|| local.and_utc(), |due| due.with_timezone(&Utc)),
        }
    }

    /// The first due time strictly after `now`, in UTC.
    pub fn next_due_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let period = self.due_period(now);
        let mut date = period.checked_add_days(Days::new(1)).unwrap_or(period);
        // A local time can fall into a daylight-saving gap; look at the next days then.
        for _ in 0..3 {
            if let Some(due) = date
                .and_time(self.at)
                .and_local_timezone(self.zone)
                .earliest()
            {
                return due.with_timezone(&Utc);
            }
            date = date.checked_add_days(Days::new(1)).unwrap_or(date);
        }
        now + chrono::Duration::hours(24)
    }
}

/// Formats a period key as the plugin expects it.
pub fn period_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.to_utc())
            .unwrap_or_default()
    }

    #[test]
    fn due_period_is_the_latest_local_date_whose_run_time_has_passed() {
        let berlin = DailySchedule::parse("10:00", "Europe/Berlin").unwrap_or_default();
        let cases = [
            // (now in UTC, expected period)
            ("2026-12-01T08:59:59Z", "2026-11-30"), // 09:59:59 in Berlin: today's run is not due yet
            ("2026-12-01T09:00:00Z", "2026-12-01"), // 10:00 in Berlin
            ("2026-12-01T23:30:00Z", "2026-12-01"), // 00:30 on the 2nd in Berlin: still the 1st's run
        ];
        for (now, expected) in cases {
            assert_eq!(period_key(berlin.due_period(at(now))), expected, "at {now}");
        }
    }

    #[test]
    fn next_due_time_follows_daylight_saving() {
        let berlin = DailySchedule::parse("10:00", "Europe/Berlin").unwrap_or_default();
        // Summer time: 10:00 in Berlin is 08:00 UTC.
        assert_eq!(
            berlin.next_due_after(at("2026-07-01T12:00:00Z")),
            at("2026-07-02T08:00:00Z")
        );
        // Winter time: 09:00 UTC.
        assert_eq!(
            berlin.next_due_after(at("2026-12-01T12:00:00Z")),
            at("2026-12-02T09:00:00Z")
        );
    }

    #[test]
    fn bad_times_and_zones_are_refused_with_what_to_write() {
        assert!(
            DailySchedule::parse("25:00", "UTC")
                .unwrap_err()
                .to_string()
                .contains("HH:MM")
        );
        assert!(
            DailySchedule::parse("10:00", "Mars/Olympus")
                .unwrap_err()
                .to_string()
                .contains("IANA")
        );
    }
}
