//! The change feed and the webhooks of a host: reading the feed, delivering its batches,
//! and the operator's view of deliveries not made yet.

use tokio::sync::watch;

use super::{Guard, GuardError};
use crate::changes::{ChangePage, read_changes};
use crate::storage::WebhookDelivery;
use crate::webhooks::{WebhookReport, Webhooks};

/// A feed cursor past the end of the log: not one this host's log gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the cursor {cursor} is past the end of the change feed (its last event is {last}): it was not given by this tenant's host, or the database was restored from an older backup; read again from the start (leave `after` out) and reconcile"
)]
pub struct CursorAhead {
    pub cursor: u64,
    pub last: u64,
}

impl Guard {
    /// The changes after the cursor `after`, at most `limit` (a page never splits an
    /// event), or [`CursorAhead`] for a cursor this log never gave.
    pub fn changes(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Result<ChangePage, CursorAhead>, GuardError> {
        let database = self.database();
        let last = self.block_on(database.last_event_sequence())?;
        if after > last {
            return Ok(Err(CursorAhead {
                cursor: after,
                last,
            }));
        }
        Ok(Ok(
            self.block_on(read_changes(database, after, limit, None))?
        ))
    }

    /// Gives the host its webhook endpoints (once, before serving). Refused when it has
    /// them already.
    pub fn set_webhooks(&self, webhooks: Webhooks) -> Result<(), GuardError> {
        self.webhooks.set(webhooks).map_err(|_| {
            GuardError::Invalid("the webhooks of this host are set already".to_owned())
        })
    }

    /// The host's webhooks, if it has any.
    pub fn webhooks(&self) -> Option<&Webhooks> {
        self.webhooks.get()
    }

    /// Changes whenever a commit appended events: what the webhook worker waits on.
    pub fn events_committed(&self) -> watch::Receiver<u64> {
        self.events_committed.subscribe()
    }

    /// Delivers every webhook batch due now (nothing without webhooks).
    pub fn deliver_webhooks(&self) -> Result<WebhookReport, GuardError> {
        let Some(webhooks) = self.webhooks.get() else {
            return Ok(WebhookReport::default());
        };
        let now = self.clock().now_millis();
        Ok(self.block_on(webhooks.deliver_pending(self.database(), now))?)
    }

    /// Webhook batches not delivered yet, waiting or failed, oldest first.
    pub fn undelivered_webhooks(&self) -> Result<Vec<WebhookDelivery>, GuardError> {
        Ok(self.block_on(self.database().undelivered_webhooks())?)
    }

    /// Puts every failed webhook batch back, due now (the endpoint is fixed). How many.
    pub fn retry_failed_webhooks(&self) -> Result<u64, GuardError> {
        let now = self.clock().now_millis();
        Ok(self.block_on(self.database().requeue_failed_webhooks(now))?)
    }
}
