//! "Send me my link again": `GET /preferences/link` shows a form for an address, and a
//! `POST` asks the plugin (`Guard::send_link`) to mail a fresh link to the person holding
//! it. The answer is the same page, status and bytes whether a link was sent, nobody
//! active holds the address, or one was sent a moment ago, and it leaves no sooner than
//! [`ANSWER_FLOOR`] after the request arrived, so neither its words nor its timing say
//! whether an address is known. Requests are limited per client here (`link_mail` of
//! [`crate::http::PageLimits`]) and per address in the plugin.

use std::time::Duration;

use axum::extract::{Extension, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::shield::Client;
use super::view::PreferencesPage;
use super::words::Words;
use super::{Site, blocking, evidence_of, organisation, render, server_error};
use crate::guard::LinkMail;

/// The shortest time a request for a link is answered in. Sending takes a plugin call, a
/// mail and a commit, not sending only the call: a few milliseconds apart, well under this.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(250);

/// The longest address there is (RFC 5321's path limit less its brackets).
const LONGEST_ADDRESS: usize = 254;

pub(super) async fn link_form(
    State(Site { guard, base }): State<Site>,
    headers: HeaderMap,
) -> Response {
    let words = Words::negotiate(&headers);
    render(
        StatusCode::OK,
        PreferencesPage::link_form(words, organisation(&guard).await, &base, None, None),
    )
}

pub(super) async fn send_link(
    State(Site { guard, base }): State<Site>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let arrived = tokio::time::Instant::now();
    let words = Words::negotiate(&headers);
    let address = form
        .iter()
        .find(|(name, _)| name == "address")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    if !plausible_address(&address) {
        return render(
            StatusCode::BAD_REQUEST,
            PreferencesPage::link_form(
                words,
                organisation(&guard).await,
                &base,
                None,
                Some("problem-link-address"),
            ),
        );
    }
    let evidence = evidence_of(client, &headers);
    let outcome = blocking(&guard, move |guard| guard.send_link(&address, &evidence)).await;
    let organisation = organisation(&guard).await;
    tokio::time::sleep_until(arrived + ANSWER_FLOOR).await;
    match outcome {
        Ok(outcome) => {
            let outcome = match outcome {
                LinkMail::Sent => "sent",
                LinkMail::NotSent => "not sent",
                LinkMail::TooSoon => "too soon",
            };
            tracing::info!(outcome, "a link was asked for again");
            render(
                StatusCode::OK,
                PreferencesPage::link_form(
                    words,
                    organisation,
                    &base,
                    Some("notice-link-sent"),
                    None,
                ),
            )
        }
        Err(error) => server_error(&headers, &error),
    }
}

/// Something that can be an address: `local@domain`, no blanks, not too long. Whether it
/// is anyone's is the plugin's to say, and nobody's to learn from the answer.
fn plausible_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && address.len() <= LONGEST_ADDRESS
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_could_be_an_address_is_asked_about() {
        for address in ["ada@example.com", "a.b+c@mail.example.org"] {
            assert!(plausible_address(address), "{address}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for address in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a da@x.org",
            &long,
        ] {
            assert!(!plausible_address(address), "{address}");
        }
    }
}
