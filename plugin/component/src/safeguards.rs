//! The `safeguards` export (contract 0.3.3): the safeguard settings, read and written here,
//! and the dispatch of the other functions to their rooms: delivery reports to
//! [`crate::feedback`], form tokens to [`crate::web_forms`], "send me my link again" to
//! [`crate::link_mail`].

use privacy_guard_core::configuration::Problem;
use privacy_guard_core::safeguards::{SAFEGUARDS_KEY, SafeguardSettings, WebFormProof};

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::safeguards as wit;
use crate::logging::{fault, info};
use crate::state::State;

impl wit::Guest for Plugin {
    fn report_delivery(
        report: wit::DeliveryReport,
    ) -> Result<wit::FeedbackOutcome, wit::FeedbackError> {
        crate::feedback::report_delivery(report)
    }

    fn lift_bounce(
        address: String,
        actor: wit::StaffActor,
        reason: String,
    ) -> Result<bool, wit::FeedbackError> {
        crate::feedback::lift_bounce(address, actor, reason)
    }

    fn set_settings(settings: wit::SafeguardSettings) -> Result<(), Vec<wit::Problem>> {
        let settings = settings_input(settings).validated().map_err(problems)?;
        let bytes = settings
            .encode()
            .unwrap_or_else(|error| fault("writing the safeguard settings", &error));
        State::new().put(SAFEGUARDS_KEY, &bytes);
        info("safeguard settings replaced", &[]);
        Ok(())
    }

    fn get_settings() -> wit::SafeguardSettings {
        settings_output(State::new().safeguards())
    }

    fn form_token() -> String {
        crate::web_forms::form_token()
    }

    fn send_link(address: String, evidence: wit::Evidence) -> wit::LinkMail {
        crate::link_mail::send_link(address, evidence)
    }
}

fn settings_input(settings: wit::SafeguardSettings) -> SafeguardSettings {
    let forms = settings.web_forms;
    SafeguardSettings {
        soft_bounce_limit: settings.soft_bounce_limit,
        request_interval_hours: settings.request_interval_hours,
        web_forms: WebFormProof {
            source_field: forms.source_field,
            source_value: forms.source_value,
            honeypot_field: forms.honeypot_field,
            token_field: forms.token_field,
        },
        link_mail_interval_minutes: settings.link_mail_interval_minutes,
        unsubscribe_mailbox: settings.unsubscribe_mailbox,
    }
}

fn settings_output(settings: SafeguardSettings) -> wit::SafeguardSettings {
    let forms = settings.web_forms;
    wit::SafeguardSettings {
        soft_bounce_limit: settings.soft_bounce_limit,
        request_interval_hours: settings.request_interval_hours,
        web_forms: wit::WebFormProof {
            source_field: forms.source_field,
            source_value: forms.source_value,
            honeypot_field: forms.honeypot_field,
            token_field: forms.token_field,
        },
        link_mail_interval_minutes: settings.link_mail_interval_minutes,
        unsubscribe_mailbox: settings.unsubscribe_mailbox,
    }
}

fn problems(problems: Vec<Problem>) -> Vec<wit::Problem> {
    problems
        .into_iter()
        .map(|problem| wit::Problem {
            at: problem.at,
            message: problem.message,
        })
        .collect()
}
