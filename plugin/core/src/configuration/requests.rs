//! How long a consent request lives (setting `requests`): reminders to people who have not
//! answered, the lapse of a request nobody answered, and when the daily run asks again.
//!
//! Every part is off by default (0), which is what an installation did before the setting
//! existed: a request waits until it is answered. `docs/consent-rules.md` says why and
//! what a business usually chooses.

use serde::{Deserialize, Serialize};

use super::Problem;

/// Most reminders per request.
pub const MAX_REMINDERS: u32 = 3;
/// The fewest days before the daily run asks again after a request lapsed: at most one
/// new request a month.
pub const MIN_ASK_AGAIN_DAYS: u32 = 30;
/// The most days any part may be set to.
pub const MAX_DAYS: u32 = 730;

/// The request policy; all days counted from the day of the request (its period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestPolicy {
    /// Days after the request (and after each reminder) until the next reminder; 0: none.
    pub remind_after_days: u32,
    /// Reminders per request, at most [`MAX_REMINDERS`].
    pub reminders: u32,
    /// Days after the request until an unanswered one lapses (its consents are Applicable
    /// again, not requested); 0: requests never lapse.
    pub lapse_after_days: u32,
    /// Days after a lapse until the daily run asks again; 0: only when staff ask again.
    pub ask_again_after_days: u32,
}

impl RequestPolicy {
    /// Validates the policy (every problem at once, at `requests.…`).
    pub fn validate(self, problems: &mut Vec<Problem>) -> RequestPolicy {
        for (at, days) in [
            ("requests.remind-after-days", self.remind_after_days),
            ("requests.lapse-after-days", self.lapse_after_days),
            ("requests.ask-again-after-days", self.ask_again_after_days),
        ] {
            if days > MAX_DAYS {
                problems.push(Problem::new(at, format!("at most {MAX_DAYS} days")));
            }
        }
        if self.reminders > MAX_REMINDERS {
            problems.push(Problem::new(
                "requests.reminders",
                format!("at most {MAX_REMINDERS} reminders per request"),
            ));
        }
        if self.reminders > 0 && self.remind_after_days == 0 {
            problems.push(Problem::new(
                "requests.remind-after-days",
                "reminders need the days between them",
            ));
        }
        if self.lapse_after_days > 0
            && self.reminders > 0
            && self.remind_after_days.saturating_mul(self.reminders) >= self.lapse_after_days
        {
            problems.push(Problem::new(
                "requests.lapse-after-days",
                "a request must lapse after its last reminder",
            ));
        }
        if self.ask_again_after_days > 0 && self.ask_again_after_days < MIN_ASK_AGAIN_DAYS {
            problems.push(Problem::new(
                "requests.ask-again-after-days",
                format!(
                    "at least {MIN_ASK_AGAIN_DAYS} days: people who did not answer are asked again at most once a month"
                ),
            ));
        }
        if self.ask_again_after_days > 0 && self.lapse_after_days == 0 {
            problems.push(Problem::new(
                "requests.ask-again-after-days",
                "only a request that lapses is asked again: set lapse-after-days",
            ));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_checked_whole() {
        let mut problems = Vec::new();
        let usual = RequestPolicy {
            remind_after_days: 7,
            reminders: 2,
            lapse_after_days: 30,
            ask_again_after_days: 180,
        };
        assert_eq!(usual.validate(&mut problems), usual);
        assert!(problems.is_empty(), "{problems:?}");
        RequestPolicy::default().validate(&mut problems);
        assert!(problems.is_empty(), "off is a valid policy");
        RequestPolicy {
            remind_after_days: 0,
            reminders: 4,
            lapse_after_days: 10,
            ask_again_after_days: 7,
        }
        .validate(&mut problems);
        let at: Vec<&str> = problems.iter().map(|problem| problem.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "requests.reminders",
                "requests.remind-after-days",
                "requests.ask-again-after-days"
            ]
        );
        let mut problems = Vec::new();
        RequestPolicy {
            remind_after_days: 10,
            reminders: 3,
            lapse_after_days: 30,
            ask_again_after_days: 0,
        }
        .validate(&mut problems);
        assert_eq!(problems[0].at, "requests.lapse-after-days");
    }
}
