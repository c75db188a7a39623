//! What one call into the plugin may make the host hold or do: bytes written to the
//! store, events appended, mails queued (count and bytes), log bytes. The sandbox bounds
//! the guest's own memory and time; this bounds what it asks of the host. Spending past a
//! limit traps the call: it fails closed, and its unit of work is dropped.

/// The limits of one call (each counted from zero at the call's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    /// Keys and values written or deleted (`store.put`, `store.delete`) and events'
    /// streams and payloads.
    pub store_bytes: u64,
    /// Events appended.
    pub events: u64,
    /// Mails queued.
    pub mails: u64,
    /// Subjects, bodies and headers of the mails queued.
    pub mail_bytes: u64,
    /// Log messages and their fields.
    pub log_bytes: u64,
}

impl Default for CallBudget {
    /// Far above what the heaviest legitimate call writes (a page of the daily run, 500
    /// imported records, de-duplicating a large CRM), far below what a runaway guest
    /// would make the host hold.
    fn default() -> CallBudget {
        CallBudget {
            store_bytes: 1 << 30,
            events: 4_000_000,
            mails: 1_000_000,
            mail_bytes: 1 << 30,
            log_bytes: 16 << 20,
        }
    }
}

impl CallBudget {
    /// The limits by name, as the command line takes them.
    pub const NAMES: [&'static str; 5] =
        ["store-bytes", "events", "mails", "mail-bytes", "log-bytes"];

    /// Sets the limit named `name` (one of [`CallBudget::NAMES`]).
    pub fn set(&mut self, name: &str, limit: u64) -> Result<(), String> {
        let slot = match name {
            "store-bytes" => &mut self.store_bytes,
            "events" => &mut self.events,
            "mails" => &mut self.mails,
            "mail-bytes" => &mut self.mail_bytes,
            "log-bytes" => &mut self.log_bytes,
            other => {
                return Err(format!(
                    "`{other}` is no budget of a call: use {}",
                    CallBudget::NAMES.join(", ")
                ));
            }
        };
        *slot = limit;
        Ok(())
    }
}

/// What a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spending {
    StoreBytes,
    Events,
    Mails,
    MailBytes,
    LogBytes,
}

impl Spending {
    fn name(self) -> &'static str {
        match self {
            Spending::StoreBytes => "store bytes",
            Spending::Events => "events",
            Spending::Mails => "mails",
            Spending::MailBytes => "mail bytes",
            Spending::LogBytes => "log bytes",
        }
    }
}

/// A call spent past a limit of its budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the call spent more than its budget of {limit} {what}")]
pub struct BudgetExceeded {
    pub what: &'static str,
    pub limit: u64,
}

/// What a call has spent so far, against its budget.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spent {
    store_bytes: u64,
    events: u64,
    mails: u64,
    mail_bytes: u64,
    log_bytes: u64,
}

impl Spent {
    /// Spends `amount` of `what`; an error once past `budget`.
    pub fn spend(
        &mut self,
        budget: &CallBudget,
        what: Spending,
        amount: usize,
    ) -> Result<(), BudgetExceeded> {
        let (spent, limit) = match what {
            Spending::StoreBytes => (&mut self.store_bytes, budget.store_bytes),
            Spending::Events => (&mut self.events, budget.events),
            Spending::Mails => (&mut self.mails, budget.mails),
            Spending::MailBytes => (&mut self.mail_bytes, budget.mail_bytes),
            Spending::LogBytes => (&mut self.log_bytes, budget.log_bytes),
        };
        *spent = spent.saturating_add(amount as u64);
        if *spent > limit {
            return Err(BudgetExceeded {
                what: what.name(),
                limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_past_a_limit_is_refused_naming_it_and_each_limit_counts_alone() {
        let budget = CallBudget {
            store_bytes: 10,
            events: 2,
            mails: 1,
            mail_bytes: 100,
            log_bytes: 5,
        };
        let mut spent = Spent::default();
        assert_eq!(spent.spend(&budget, Spending::StoreBytes, 10), Ok(()));
        assert_eq!(spent.spend(&budget, Spending::Events, 2), Ok(()));
        assert_eq!(spent.spend(&budget, Spending::Mails, 1), Ok(()));
        let exceeded = spent.spend(&budget, Spending::StoreBytes, 1).unwrap_err();
        assert_eq!(
            exceeded.to_string(),
            "the call spent more than its budget of 10 store bytes"
        );
        assert!(spent.spend(&budget, Spending::Mails, 1).is_err());
        assert!(
            Spent::default()
                .spend(&budget, Spending::LogBytes, 6)
                .is_err()
        );
    }
}
