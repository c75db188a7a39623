//! How many calls may run in the plugin at once: each holds an instance (up to the
//! memory cap), so the bound on concurrent calls bounds guest memory at cap × calls. A
//! call beyond it waits for a free place, then is refused (fails closed).

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A counting gate: at most `places` holders at once.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    held: Mutex<usize>,
    freed: Condvar,
}

/// A place in the gate, given back when dropped.
pub(crate) struct Place<'g> {
    gate: &'g Gate,
}

impl Gate {
    /// A place among `places`, waiting at most `wait` for one to free up; none when the
    /// wait ran out.
    pub(crate) fn enter(&self, places: usize, wait: Duration) -> Option<Place<'_>> {
        let deadline = Instant::now() + wait;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while *held >= places.max(1) {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (guard, _) = self
                .freed
                .wait_timeout(held, left)
                .unwrap_or_else(PoisonError::into_inner);
            held = guard;
        }
        *held += 1;
        Some(Place { gate: self })
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut held = self
            .gate
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_sub(1);
        self.gate.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gate_refuses_after_the_wait_and_admits_once_a_place_is_free() {
        let gate = Gate::default();
        let first = gate.enter(1, Duration::ZERO).expect("a free place");
        assert!(gate.enter(1, Duration::from_millis(20)).is_none());
        drop(first);
        assert!(gate.enter(1, Duration::ZERO).is_some());
        // A waiter is admitted as soon as the holder leaves.
        let held = gate.enter(1, Duration::ZERO).expect("a free place");
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| gate.enter(1, Duration::from_secs(30)).is_some());
            drop(held);
            assert!(waiter.join().expect("the waiter"));
        });
    }
}
