//! The host's clock: the audited time the plugin reads through `clock.now`.
//!
//! Three kinds, so tests, demos and replays can run at any date:
//! - [`Clock::system`]: the machine's time.
//! - [`Clock::starting_at`]: starts at a given instant and runs on in real time
//!   (`--now` / `PRIVACY_GUARD_NOW` on the command line).
//! - [`Clock::manual`]: stands still until it is set or advanced (tests).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// A source of "now", in unix milliseconds.
#[derive(Debug, Clone)]
pub struct Clock(ClockKind);

#[derive(Debug, Clone)]
enum ClockKind {
    System,
    Offset(i64),
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// The machine's clock.
    pub fn system() -> Clock {
        Clock(ClockKind::System)
    }

    /// A clock that reads `start` now and then runs on in real time.
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock(ClockKind::Offset(
            start.timestamp_millis() - Utc::now().timestamp_millis(),
        ))
    }

    /// A clock that stands still at `at` until set or advanced.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock(ClockKind::Manual(Arc::new(AtomicI64::new(
            at.timestamp_millis(),
        ))))
    }

    /// Now, in unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        match &self.0 {
            ClockKind::System => Utc::now().timestamp_millis(),
            ClockKind::Offset(offset) => Utc::now().timestamp_millis() + offset,
            ClockKind::Manual(at) => at.load(Ordering::SeqCst),
        }
    }

    /// Now, as a date-time.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_millis()).unwrap_or_default()
    }

    /// Sets a manual clock; returns false (and changes nothing) for other clocks.
    pub fn set(&self, at: DateTime<Utc>) -> bool {
        match &self.0 {
            ClockKind::Manual(now) => {
                now.store(at.timestamp_millis(), Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_set() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .map(|at| at.to_utc())
            .unwrap_or_default();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        let later = start + chrono::Duration::hours(2);
        assert!(clock.set(later));
        assert_eq!(clock.now(), later);
    }

    #[test]
    fn a_clock_started_in_the_past_reads_that_past() {
        let start = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .map(|at| at.to_utc())
            .unwrap_or_default();
        let clock = Clock::starting_at(start);
        let drift = clock.now_millis() - start.timestamp_millis();
        assert!((0..60_000).contains(&drift), "drift {drift} ms");
        assert!(!clock.set(start));
    }
}
