//! Delivering the queued mail and reading the outbox's state.

use super::{Guard, GuardError};
use crate::mail::{DeliveryError, DeliveryReport};
use crate::storage::MailDelivery;

impl Guard {
    pub(super) fn deliver_mail_logged(&self) -> DeliveryReport {
        match self.deliver_mail() {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(%error, "mail delivery stopped; the mail stays queued and is retried");
                DeliveryReport::default()
            }
        }
    }

    /// Delivers every queued mail that is due now (see [`crate::mail`] for retries).
    pub fn deliver_mail(&self) -> Result<DeliveryReport, DeliveryError> {
        self.block_on(self.outbox.deliver_pending(self.clock().now_millis()))
    }

    /// Mail not delivered yet, waiting for an attempt or failed for good, oldest first.
    pub fn undelivered_mail(&self, limit: u32) -> Result<Vec<MailDelivery>, GuardError> {
        Ok(self.block_on(self.database().undelivered_mail(limit))?)
    }

    /// The delivery state of one queued mail.
    pub fn mail_delivery(&self, message_id: &str) -> Result<Option<MailDelivery>, GuardError> {
        Ok(self.block_on(self.database().mail_delivery(message_id))?)
    }

    /// Queues every mail that failed for good again, due now with a fresh count of
    /// attempts (after an operator fixed the cause). Returns how many.
    pub fn retry_failed_mail(&self) -> Result<u64, GuardError> {
        let now = self.clock().now_millis();
        Ok(self.block_on(self.database().requeue_failed_mail(now))?)
    }
}
