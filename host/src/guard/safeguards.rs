//! The safeguards (`safeguards`, contract 0.3.3): delivery feedback (bounces, complaints,
//! unsubscribe mails) and its lift, the limits on consent requests, web-form tokens and
//! "send me my link again". One method per function of the interface, each one unit of
//! work like every other operation, and failing closed: a fault of the plugin is an error,
//! never a success. A component that does not export `safeguards` (contract 0.3.2 or
//! earlier) makes every method [`GuardError::NotOffered`]. The types they speak are in
//! [`crate::contract::safeguards`].

use wasmtime::Store;

use super::{Guard, GuardError};
use crate::capabilities::HostState;
use crate::contract::configuration::Problem;
use crate::contract::preferences::Evidence;
use crate::contract::safeguards::{
    DeliveryReport, FeedbackError, FeedbackOutcome, Guest, LinkMail, SafeguardSettings,
};
use crate::contract::subjects::StaffActor;
use crate::runtime::Fault;
use crate::storage::UnitOfWork;

impl Guard {
    /// Whether the component offers the safeguards (exports `safeguards`).
    pub fn offers_safeguards(&self) -> bool {
        self.runtime.offers_safeguards()
    }

    /// Records a delivery report (a bounce, a complaint, an unsubscribe mail): the people it
    /// suppressed, the address's soft-bounce count, whether the address is suppressed now.
    /// A refusal (an invalid address, no evidence, a token that does not open) changed
    /// nothing.
    pub fn report_delivery(
        &self,
        report: &DeliveryReport,
    ) -> Result<Result<FeedbackOutcome, FeedbackError>, GuardError> {
        self.write_safeguards(|store, guest| guest.call_report_delivery(store, report))
    }

    /// Lifts the suppression of a bounced address on a staff member's reason: whether it
    /// was suppressed by a bounce (a complaint or an unsubscription is never lifted here).
    pub fn lift_bounce(
        &self,
        address: &str,
        actor: &StaffActor,
        reason: &str,
    ) -> Result<Result<bool, FeedbackError>, GuardError> {
        self.write_safeguards(|store, guest| guest.call_lift_bounce(store, address, actor, reason))
    }

    /// The safeguard settings in force (the defaults until set).
    pub fn safeguard_settings(&self) -> Result<SafeguardSettings, GuardError> {
        self.read_safeguards(|store, guest| guest.call_get_settings(store))
    }

    /// Replaces the safeguard settings; every problem at once, and nothing changed when
    /// there is one.
    pub fn set_safeguard_settings(
        &self,
        settings: &SafeguardSettings,
    ) -> Result<Result<(), Vec<Problem>>, GuardError> {
        self.write_safeguards(|store, guest| guest.call_set_settings(store, settings))
    }

    /// A signed token for the CRM to serve with a web form (the hidden field
    /// `web-forms.token-field` names).
    pub fn form_token(&self) -> Result<String, GuardError> {
        self.read_safeguards(|store, guest| guest.call_form_token(store))
    }

    /// "Send me my link again": mails the person holding `address` a fresh preferences link
    /// when they are active and were not mailed one within the interval. Whoever asked must
    /// be answered the same whatever this returns.
    pub fn send_link(&self, address: &str, evidence: &Evidence) -> Result<LinkMail, GuardError> {
        self.write_safeguards(|store, guest| guest.call_send_link(store, address, evidence))
    }

    /// Gives the host the Maildir its returned mail arrives in (once, before serving):
    /// `serve` reads it every `poll_seconds`. Refused when it has one already.
    pub fn set_feedback_intake(&self, config: IntakeConfig) -> Result<(), GuardError> {
        self.feedback_intake.set(config).map_err(|_| {
            GuardError::Invalid("the returned-mail Maildir of this host is set already".into())
        })
    }

    /// The Maildir of returned mail, when set.
    pub fn feedback_intake(&self) -> Option<&IntakeConfig> {
        self.feedback_intake.get()
    }

    /// One call of `safeguards` as a unit of work, committed.
    fn write_safeguards<T>(
        &self,
        call: impl Fn(&mut Store<HostState>, &Guest) -> wasmtime::Result<T>,
    ) -> Result<T, GuardError> {
        self.require_safeguards()?;
        self.unit(|| self.call_safeguards(UnitOfWork::default(), &call))
            .map(|(value, _delivered)| value)
    }

    /// One read-only call of `safeguards` on current state; anything it wrote is discarded.
    fn read_safeguards<T>(
        &self,
        call: impl FnOnce(&mut Store<HostState>, &Guest) -> wasmtime::Result<T>,
    ) -> Result<T, GuardError> {
        self.require_safeguards()?;
        self.block_on(self.database().refresh())?;
        let (value, work) = self.call_safeguards(UnitOfWork::default(), call)?;
        if !work.is_empty() {
            tracing::warn!("the plugin wrote during a read-only call; the writes were discarded");
        }
        Ok(value)
    }

    fn call_safeguards<T>(
        &self,
        work: UnitOfWork,
        call: impl FnOnce(&mut Store<HostState>, &Guest) -> wasmtime::Result<T>,
    ) -> Result<(T, UnitOfWork), GuardError> {
        match self.runtime.with_safeguards(work, call)? {
            Some(answer) => Ok(answer),
            // Checked before: a component's exports do not change while it is loaded.
            None => Err(GuardError::Plugin(Fault::WrongAnswer(
                "the component no longer offers `safeguards`".to_owned(),
            ))),
        }
    }

    fn require_safeguards(&self) -> Result<(), GuardError> {
        if self.offers_safeguards() {
            Ok(())
        } else {
            Err(GuardError::NotOffered(format!(
                "this component (contract {}) does not offer safeguards; install one of 0.3.3 or later",
                self.runtime.component_contract()
            )))
        }
    }
}

/// The Maildir a serving host reads a tenant's returned mail from (`[tenants.feedback]` of
/// the configuration file, or `--feedback-maildir` for the single tenant).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// The Maildir (its `new/` is read, `cur/` and `rejected/` written).
    pub maildir: std::path::PathBuf,
    /// The VERP return path mail is sent with (the SMTP URL's `return_path`), for
    /// attributing bounces by it.
    #[serde(default)]
    pub return_path: Option<String>,
    /// Seconds between passes (default 60).
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
}

fn default_poll_seconds() -> u64 {
    60
}
