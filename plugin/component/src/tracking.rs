//! The `tracking` export: whether an email-open or document-view event may be kept.
//! Read-only: the person's snapshot under their address and the configuration.

use privacy_guard_core::address::Address;
use privacy_guard_core::tracking::{TrackingKind, accepts_tracking_event};

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::tracking as wit;
use crate::state::State;

impl wit::Guest for Plugin {
    fn accept_tracking_event(kind: wit::TrackingKind, address: String) -> bool {
        let Ok(address) = Address::parse(&address) else {
            return false;
        };
        let kind = match kind {
            wit::TrackingKind::EmailOpen => TrackingKind::EmailOpen,
            wit::TrackingKind::DocumentView => TrackingKind::DocumentView,
        };
        let state = State::new();
        let person = state.snapshot_at(&address);
        accepts_tracking_event(&state.configuration(), person.as_ref(), kind)
    }
}
