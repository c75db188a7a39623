//! "Send me my link again" (`safeguards.send-link`): the person holding an address, when
//! active, is mailed a fresh preferences link, at most once per `link-mail-interval-minutes`
//! per address (`link-mailed/<MAC of the address>`), and their stream gets a `link-mailed`
//! event with what the host observed of whoever asked. The host answers the asker the same
//! whatever this returns.

use privacy_guard_core::address::Address;
use privacy_guard_core::event::{IpEvidence, LinkMailedEvent, user_agent_evidence};
use privacy_guard_core::link_mail::{LinkMail, link_mail_message_id};
use privacy_guard_core::web_forms::AddressLimit;

use crate::bindings::exports::privacy_guard::consent::safeguards as wit;
use crate::bindings::privacy_guard::consent::{clock, store};
use crate::links::{SignedLink, sign_link};
use crate::logging::{fault, info, warn};
use crate::state::State;
use crate::web_forms::{Admission, admit};

/// Mails the person holding `address` a fresh link, as `safeguards.send-link` says.
pub(crate) fn send_link(address: String, evidence: wit::Evidence) -> wit::LinkMail {
    let now = clock::now();
    let mut state = State::new();
    let configuration = state.configuration();
    let Some(settings) = configuration
        .settings()
        .filter(|_| configuration.is_enabled())
    else {
        return wit::LinkMail::NotSent;
    };
    let Ok(address) = Address::parse(&address) else {
        return wit::LinkMail::NotSent;
    };
    // Erased, or suppressed by a bounce, a complaint or an unsubscribe mail.
    if state.is_suppressed(&configuration, &address)
        || crate::feedback::suppressed(&state, &configuration, &address).is_some()
    {
        return wit::LinkMail::NotSent;
    }
    let Some(person) = state.snapshot_at(&address) else {
        return wit::LinkMail::NotSent;
    };
    if !person.is_active() {
        return wit::LinkMail::NotSent;
    }
    let safeguards = state.safeguards();
    let interval_ms = i64::from(safeguards.link_mail_interval_minutes) * 60_000;
    let admission = admit(&state, AddressLimit::LinkMail, &address, interval_ms, now);
    if let Admission::Held = admission {
        info(
            "link mail held back: one was sent within the interval",
            &[("record", &person.record)],
        );
        return wit::LinkMail::TooSoon;
    }
    let record = person.record.clone();
    let SignedLink { url, payload } = sign_link(settings, record.clone(), now);
    let window = if interval_ms > 0 {
        now / interval_ms
    } else {
        now
    };
    let message_id = link_mail_message_id(&record, window, settings.sender_address());
    let message = LinkMail {
        settings,
        message_id: &message_id,
        to: &address,
        name: &person.name,
        language: person.language(&configuration),
        link: &url,
        link_expires_at: payload.expires_at,
    }
    .to_mail();
    if crate::outgoing::queue(message).is_err() {
        // The host's reason may quote the address: log the record, not the reason.
        warn("link mail rejected", &[("record", &record)]);
        return wit::LinkMail::NotSent;
    }
    admission.sent(&mut state, now);
    let policy = settings.ip_evidence();
    let event = LinkMailedEvent {
        at: now,
        link: payload.link,
        ip: evidence
            .ip
            .as_deref()
            .and_then(|ip| IpEvidence::observe(ip, policy, configuration.suppression_salt())),
        user_agent: evidence.user_agent.as_deref().and_then(user_agent_evidence),
    };
    let json = event
        .to_json()
        .unwrap_or_else(|error| fault("writing an event", &error));
    store::append_event(&record.stream(), &json);
    info("link mailed", &[("record", &record)]);
    wit::LinkMail::Sent
}
