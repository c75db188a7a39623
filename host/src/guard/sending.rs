//! The pre-send check and rendering, which fail closed, and tracking events.

use super::Guard;
use crate::contract::sending::{
    Decision, MailContent, Recipient, Refusal, RefusalReason, Rendering, SendRequest,
};
use crate::contract::tracking::TrackingKind;
use crate::runtime::WrongAnswer;

impl Guard {
    /// The pre-send decision for every recipient, in order. Fails closed: when the plugin
    /// faults, every recipient is refused with `plugin-fault` and the fault as detail.
    pub fn check_send(&self, request: &SendRequest, recipients: &[Recipient]) -> Vec<Decision> {
        let outcome = self.read_hot(|store, plugin| {
            plugin
                .privacy_guard_consent_sending()
                .call_check_send(store, request, recipients)
                .and_then(|decisions| one_each(decisions, recipients, "decisions"))
        });
        match outcome {
            Ok(decisions) => decisions,
            Err(fault) => {
                tracing::error!(%fault, recipients = recipients.len(), "pre-send check failed; refusing every recipient");
                refuse_all(recipients.len(), &fault.summary())
            }
        }
    }

    /// The mail exactly as each recipient must get it, in order: tracking removed unless
    /// they consented to it, their own preferences footer when due, the postal address on
    /// marketing mail; or the refusal `check_send` would give. Reads current state (not
    /// the hot path's cache) and commits the one thing the plugin records here: the legal
    /// ground of each transactional send to a restricted or erased person. Fails closed:
    /// when the plugin faults (or the ground cannot be committed), every recipient is
    /// refused with `plugin-fault` and the fault as detail.
    pub fn render(
        &self,
        request: &SendRequest,
        mail: &MailContent,
        recipients: &[Recipient],
    ) -> Vec<Rendering> {
        // A wrong count fails the call, so that nothing it wrote is committed.
        let outcome = self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_sending()
                .call_render(store, request, mail, recipients)
                .and_then(|renderings| one_each(renderings, recipients, "renderings"))
        });
        let refused = |detail: &str| {
            refuse_all(recipients.len(), detail)
                .into_iter()
                .filter_map(|decision| match decision {
                    Decision::Refuse(refusal) => Some(Rendering::Refuse(refusal)),
                    Decision::Allow(_) => None,
                })
                .collect()
        };
        match outcome {
            Ok(renderings) => renderings,
            Err(fault) => {
                tracing::error!(%fault, recipients = recipients.len(), "rendering failed; refusing every recipient");
                refused(&fault.summary())
            }
        }
    }

    /// Whether a tracking event (an email open, a document view) for `address` may be
    /// kept: only with that person's granted tracking consent. Fails closed: a fault is
    /// `false`, and the event must be dropped.
    pub fn accept_tracking_event(&self, kind: TrackingKind, address: &str) -> bool {
        let outcome = self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_tracking()
                .call_accept_tracking_event(store, kind, address)
        });
        outcome.unwrap_or_else(|fault| {
            tracing::error!(%fault, "the tracking check failed; dropping the event");
            false
        })
    }
}

/// The plugin's answers when there is one per recipient; else a wrong answer, which
/// fails the call and retires the instance that gave it.
fn one_each<T>(answers: Vec<T>, recipients: &[Recipient], what: &str) -> wasmtime::Result<Vec<T>> {
    if answers.len() == recipients.len() {
        Ok(answers)
    } else {
        Err(wasmtime::Error::new(WrongAnswer(format!(
            "{} {what} for {} recipients",
            answers.len(),
            recipients.len()
        ))))
    }
}

fn refuse_all(count: usize, detail: &str) -> Vec<Decision> {
    (0..count)
        .map(|_| {
            Decision::Refuse(Refusal {
                reason: RefusalReason::PluginFault,
                detail: detail.to_owned(),
            })
        })
        .collect()
}
