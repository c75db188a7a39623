//! The contact-facing preferences page.
//!
//! `GET /preferences/{token}` shows the page a signed link opens; `POST` to the same
//! address applies the choices. Stopping processing (GDPR Art. 18) and erasure (Art. 17)
//! take a confirming step: `GET` (or a `POST` without `confirm=yes`) of
//! `/preferences/{token}/stop-processing` or `/preferences/{token}/erase` shows what the
//! action does and asks to confirm, changing nothing; only a `POST` with `confirm=yes`
//! acts. A link scanner that follows every link therefore never stops or erases anyone. `POST /preferences/{token}/unsubscribe/{consent}` with the body
//! `List-Unsubscribe=One-Click` is the one-click unsubscription of RFC 8058 (the URL the
//! `List-Unsubscribe` header of a marketing mail names): it withdraws that consent at once;
//! a `GET` of it only shows the page. The token is the only credential, so responses are
//! never cached or sent on as a referrer.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::blocking;
use crate::contract::preferences::{Choice, Evidence, LinkError, Page, SubmitError};
use crate::contract::types::ConsentValue;
use crate::guard::{Guard, GuardError};

/// One tenant's preferences pages: its host, and the path prefix they are served under
/// (empty for the default tenant, `/t/<tenant>` for every tenant).
#[derive(Clone)]
struct Site {
    guard: Arc<Guard>,
    base: String,
}

/// Why links to `url` would not reach the preferences pages a server listening on
/// `listen` serves for a tenant whose pages are under `base` (`""` for the default tenant,
/// `/t/<tenant>`): none when they would, or when the URL names a host by a name other
/// than `localhost` (a proxy may forward it here, which this server cannot see).
pub fn preferences_url_problem(url: &str, listen: SocketAddr, base: &str) -> Option<String> {
    let expected = format!("{base}/preferences/");
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return Some(format!("the preferences URL `{url}` is not a URL"));
    };
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    let ip = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip,
        Err(_) if host.eq_ignore_ascii_case("localhost") => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        Err(_) => return None,
    };
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    let same_ip = listen.ip().is_unspecified()
        || listen.ip() == ip
        || (listen.ip().is_loopback() && ip.is_loopback());
    let same_path = uri.path().trim_end_matches('/') == expected.trim_end_matches('/');
    (!same_ip || port != listen.port() || !same_path).then(|| {
        format!(
            "links in mail point at {url}, but this server serves the preferences pages at http://{listen}{expected}: people who open them reach nothing here. Set `privacy-guard settings --preferences-url http://{listen}{expected}` (or the address a proxy forwards here)"
        )
    })
}

/// One tenant's preferences pages, under `base`.
pub(super) fn preferences(guard: Arc<Guard>, base: String) -> Router {
    let site = Site { guard, base };
    Router::new()
        .route(
            "/preferences/{token}",
            get(show_preferences).post(save_preferences),
        )
        .route(
            "/preferences/{token}/stop-processing",
            get(confirm_stop_processing).post(stop_processing),
        )
        .route("/preferences/{token}/erase", get(confirm_erase).post(erase))
        .route(
            "/preferences/{token}/unsubscribe/{consent}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .with_state(site)
}

async fn show_preferences(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
) -> Response {
    let opened = token.clone();
    let outcome = blocking(&guard, move |guard| guard.open_preferences(&opened)).await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(page)) => render(
            StatusCode::OK,
            PreferencesPage::form(organisation, &base, &token, &page, None),
        ),
        Ok(Err(error)) => render(
            link_status(&error),
            PreferencesPage::problem(organisation, link_problem(&error)),
        ),
        Err(error) => server_error(&error),
    }
}

async fn save_preferences(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let mut choices = Vec::with_capacity(form.len());
    for (consent_id, answer) in form {
        let grant = match answer.as_str() {
            "grant" => true,
            "refuse" => false,
            _ => {
                return render(
                    StatusCode::BAD_REQUEST,
                    PreferencesPage::problem(
                        organisation(&guard).await,
                        format!("The answer for “{consent_id}” must be grant or refuse."),
                    ),
                );
            }
        };
        choices.push(Choice { consent_id, grant });
    }
    let evidence = evidence_of(peer, &headers);
    let submitted_token = token.clone();
    let outcome = blocking(&guard, move |guard| {
        guard.submit_preferences(&submitted_token, &choices, &evidence)
    })
    .await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(page)) => render(
            StatusCode::OK,
            PreferencesPage::form(
                organisation,
                &base,
                &token,
                &page,
                Some("Your choices were saved. Thank you.".into()),
            ),
        ),
        Ok(Err(SubmitError::Link(error))) => render(
            link_status(&error),
            PreferencesPage::problem(organisation, link_problem(&error)),
        ),
        Ok(Err(SubmitError::ProcessingRestricted)) => render(
            StatusCode::CONFLICT,
            PreferencesPage::problem(organisation, RESTRICTED_PROBLEM.into()),
        ),
        Ok(Err(SubmitError::UnknownConsent(id) | SubmitError::NotChangeable(id))) => {
            let opened = token.clone();
            let page = blocking(&guard, move |guard| guard.open_preferences(&opened)).await;
            let problem = format!(
                "“{id}” cannot be changed here. Nothing was changed; please check your choices and save again."
            );
            match page {
                Ok(Ok(page)) => render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    PreferencesPage {
                        problem: Some(problem),
                        ..PreferencesPage::form(organisation, &base, &token, &page, None)
                    },
                ),
                _ => render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    PreferencesPage::problem(organisation, problem),
                ),
            }
        }
        Err(error) => server_error(&error),
    }
}

const RESTRICTED_PROBLEM: &str = "You asked us to stop processing your data, so your choices cannot be changed now. Nothing was changed. Please contact us to lift the restriction.";

fn evidence_of(peer: SocketAddr, headers: &HeaderMap) -> Evidence {
    Evidence {
        ip: Some(peer.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned),
    }
}

/// The one-click POST body RFC 8058 prescribes.
const ONE_CLICK: (&str, &str) = ("List-Unsubscribe", "One-Click");

/// RFC 8058 one-click unsubscription: withdraws the consent at once, answering in plain
/// text (a mail client, not a person, makes the request).
async fn unsubscribe(
    State(Site { guard, .. }): State<Site>,
    Path((token, consent)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let one_click = form
        .iter()
        .any(|(name, value)| (name.as_str(), value.as_str()) == ONE_CLICK);
    if !one_click {
        return plain(
            StatusCode::BAD_REQUEST,
            "a one-click unsubscription must post List-Unsubscribe=One-Click (RFC 8058)",
        );
    }
    let evidence = evidence_of(peer, &headers);
    let choice = Choice {
        consent_id: consent,
        grant: false,
    };
    let outcome = blocking(&guard, move |guard| {
        guard.submit_preferences(&token, &[choice], &evidence)
    })
    .await;
    match outcome {
        Ok(Ok(_)) => plain(StatusCode::OK, "unsubscribed"),
        Ok(Err(SubmitError::Link(error))) => plain(link_status(&error), "this link is not valid"),
        Ok(Err(SubmitError::UnknownConsent(_) | SubmitError::NotChangeable(_))) => {
            plain(StatusCode::NOT_FOUND, "there is no such subscription")
        }
        Ok(Err(SubmitError::ProcessingRestricted)) => plain(
            StatusCode::CONFLICT,
            "processing of your data is stopped: nothing is sent to you but what the law requires",
        ),
        Err(error) => server_error(&error),
    }
}

/// A `GET` of the one-click URL (a person opening it) changes nothing: it shows the page.
async fn unsubscribe_page(
    State(Site { base, .. }): State<Site>,
    Path((token, _consent)): Path<(String, String)>,
) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("{base}/preferences/{token}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The form value that confirms a serious action.
const CONFIRMED: (&str, &str) = ("confirm", "yes");

fn confirmed(form: &[(String, String)]) -> bool {
    form.iter()
        .any(|(name, value)| (name.as_str(), value.as_str()) == CONFIRMED)
}

/// The confirming step of a serious action, for the person the link is for.
async fn confirmation(guard: Arc<Guard>, base: String, token: String, action: Serious) -> Response {
    let opened = token.clone();
    let outcome = blocking(&guard, move |guard| guard.open_preferences(&opened)).await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(page)) if action == Serious::StopProcessing && page.restricted => render(
            StatusCode::CONFLICT,
            PreferencesPage::problem(
                organisation,
                "Processing of your data is already stopped. Nothing was changed.".into(),
            ),
        ),
        Ok(Ok(_)) => render(
            StatusCode::OK,
            PreferencesPage::confirm(organisation, &base, &token, action),
        ),
        Ok(Err(error)) => render(
            link_status(&error),
            PreferencesPage::problem(organisation, link_problem(&error)),
        ),
        Err(error) => server_error(&error),
    }
}

async fn confirm_stop_processing(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
) -> Response {
    confirmation(guard, base, token, Serious::StopProcessing).await
}

async fn confirm_erase(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
) -> Response {
    confirmation(guard, base, token, Serious::Erase).await
}

async fn stop_processing(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !confirmed(&form) {
        return confirmation(guard, base, token, Serious::StopProcessing).await;
    }
    let evidence = evidence_of(peer, &headers);
    let submitted = token.clone();
    let outcome = blocking(&guard, move |guard| {
        guard.stop_processing(&submitted, &evidence)
    })
    .await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(page)) => render(
            StatusCode::OK,
            PreferencesPage::form(
                organisation,
                &base,
                &token,
                &page,
                Some("We stopped processing your data. We will only send you what the law requires (such as invoices).".into()),
            ),
        ),
        Ok(Err(SubmitError::Link(error))) => render(
            link_status(&error),
            PreferencesPage::problem(organisation, link_problem(&error)),
        ),
        Ok(Err(_)) => render(
            StatusCode::CONFLICT,
            PreferencesPage::problem(organisation, "Processing of your data is already stopped. Nothing was changed.".into()),
        ),
        Err(error) => server_error(&error),
    }
}

async fn erase(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !confirmed(&form) {
        return confirmation(guard, base, token, Serious::Erase).await;
    }
    let evidence = evidence_of(peer, &headers);
    let outcome = blocking(&guard, move |guard| {
        guard.erase_from_page(&token, &evidence)
    })
    .await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(())) => render(
            StatusCode::OK,
            PreferencesPage {
                notice: Some("Your data were erased. We keep only what the law requires, and a record that you asked for erasure, so we never contact you again.".into()),
                ..PreferencesPage::problem(organisation, String::new())
            },
        ),
        Ok(Err(SubmitError::Link(error))) => render(
            link_status(&error),
            PreferencesPage::problem(organisation, link_problem(&error)),
        ),
        Ok(Err(_)) => render(
            StatusCode::CONFLICT,
            PreferencesPage::problem(organisation, "Your data cannot be erased from here. Nothing was changed.".into()),
        ),
        Err(error) => server_error(&error),
    }
}

async fn organisation(guard: &Arc<Guard>) -> String {
    blocking(guard, |guard| guard.configuration())
        .await
        .ok()
        .and_then(|snapshot| snapshot.settings)
        .map(|settings| settings.organisation)
        .unwrap_or_default()
}

fn link_status(error: &LinkError) -> StatusCode {
    match error {
        LinkError::Invalid => StatusCode::NOT_FOUND,
        LinkError::Expired | LinkError::UnknownPerson => StatusCode::GONE,
    }
}

fn link_problem(error: &LinkError) -> String {
    match error {
        LinkError::Invalid => "This link is not valid. Please use the link from your most recent email exactly as it was sent.".into(),
        LinkError::Expired => "This link has expired. You will receive a new one with our next email, or you can ask us for one.".into(),
        LinkError::UnknownPerson => "We no longer hold any data about you, so there is nothing to choose.".into(),
    }
}

fn server_error(error: &GuardError) -> Response {
    tracing::error!(%error, "the preferences page failed");
    render(StatusCode::SERVICE_UNAVAILABLE, PreferencesPage::problem(String::new(), "Your preferences cannot be shown right now. Nothing was changed; please try again in a few minutes.".into()))
}

fn render(status: StatusCode, page: PreferencesPage) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
                ),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "could not render the preferences page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesPage {
    organisation: String,
    notice: Option<String>,
    problem: Option<String>,
    form: Option<FormView>,
    confirm: Option<ConfirmView>,
}

/// An action on the page that cannot be taken back by the person: it takes a confirming
/// step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serious {
    StopProcessing,
    Erase,
}

/// The confirming step of a [`Serious`] action.
struct ConfirmView {
    title: &'static str,
    consequences: &'static [&'static str],
    action_url: String,
    button: &'static str,
    back_url: String,
}

struct FormView {
    name: String,
    restricted: bool,
    save_url: String,
    stop_url: String,
    erase_url: String,
    consents: Vec<ConsentRow>,
    expires: String,
}

struct ConsentRow {
    id: String,
    title: String,
    purpose: String,
    version: u32,
    value_code: &'static str,
    value_label: &'static str,
    changeable: bool,
    granted: bool,
    refused: bool,
    /// The earlier text the person agreed to, shown under the new one.
    agreed: Option<AgreedRow>,
}

struct AgreedRow {
    version: u32,
    purpose: String,
    still_counts: bool,
}

impl PreferencesPage {
    fn form(
        organisation: String,
        base: &str,
        token: &str,
        page: &Page,
        notice: Option<String>,
    ) -> PreferencesPage {
        let consents = page
            .consents
            .iter()
            .map(|consent| {
                let (value_code, value_label) = value_text(consent.value);
                ConsentRow {
                    id: consent.id.clone(),
                    title: consent.title.clone(),
                    purpose: consent.purpose.clone(),
                    version: consent.purpose_version,
                    value_code,
                    value_label,
                    changeable: consent.changeable,
                    granted: consent.value == ConsentValue::Granted,
                    refused: consent.value == ConsentValue::NotGranted,
                    agreed: consent.agreed.as_ref().map(|agreed| AgreedRow {
                        version: agreed.purpose_version,
                        purpose: agreed.purpose.clone(),
                        still_counts: agreed.still_counts,
                    }),
                }
            })
            .collect();
        let expires = chrono::DateTime::from_timestamp_millis(page.link_expires_at)
            .map(|at| at.format("%-d %B %Y, %H:%M UTC").to_string())
            .unwrap_or_default();
        let organisation = if page.organisation.is_empty() {
            organisation
        } else {
            page.organisation.clone()
        };
        PreferencesPage {
            organisation,
            notice,
            problem: None,
            confirm: None,
            form: Some(FormView {
                name: page.name.clone(),
                restricted: page.restricted,
                save_url: format!("{base}/preferences/{token}"),
                stop_url: format!("{base}/preferences/{token}/stop-processing"),
                erase_url: format!("{base}/preferences/{token}/erase"),
                consents,
                expires,
            }),
        }
    }

    fn problem(organisation: String, problem: String) -> PreferencesPage {
        PreferencesPage {
            organisation,
            notice: None,
            problem: (!problem.is_empty()).then_some(problem),
            form: None,
            confirm: None,
        }
    }

    fn confirm(organisation: String, base: &str, token: &str, action: Serious) -> PreferencesPage {
        let page = format!("{base}/preferences/{token}");
        let confirm = match action {
            Serious::StopProcessing => ConfirmView {
                title: "Stop processing your data?",
                consequences: &[
                    "We stop using your personal data (GDPR Art. 18): no newsletters, no campaigns, no automated mail.",
                    "We still send what the law requires of us, such as invoices.",
                    "Your choices on this page cannot be changed until we lift the restriction; we tell you by email before we do.",
                ],
                action_url: format!("{page}/stop-processing"),
                button: "Yes, stop processing my data",
                back_url: page,
            },
            Serious::Erase => ConfirmView {
                title: "Erase your data?",
                consequences: &[
                    "We erase your personal data (GDPR Art. 17), except what the law requires us to keep, such as data on invoices.",
                    "This cannot be undone. This link stops working, and we never contact you again at this address.",
                    "We keep only a record that you asked for erasure, without your address, so that we can honour it.",
                ],
                action_url: format!("{page}/erase"),
                button: "Yes, erase my data",
                back_url: page,
            },
        };
        PreferencesPage {
            organisation,
            notice: None,
            problem: None,
            form: None,
            confirm: Some(confirm),
        }
    }
}

/// The value's code (for machines) and its label (for the person).
fn value_text(value: ConsentValue) -> (&'static str, &'static str) {
    match value {
        ConsentValue::NotApplicable => ("not-applicable", "Does not apply to you"),
        ConsentValue::Applicable => ("applicable", "Not asked yet"),
        ConsentValue::Waiting => ("waiting", "Waiting for your answer"),
        ConsentValue::Granted => ("granted", "You agreed"),
        ConsentValue::NotGranted => ("not-granted", "You did not agree"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preferences_url_that_misses_this_server_is_named() {
        let listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let anywhere: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        let cases: &[(&str, SocketAddr, &str, bool)] = &[
            ("http://127.0.0.1:8080/preferences/", listen, "", false),
            ("http://localhost:8080/preferences", listen, "", false),
            ("http://127.0.0.1:8081/preferences/", listen, "", true),
            ("http://127.0.0.1:8080/prefs/", listen, "", true),
            (
                "http://127.0.0.1:8080/preferences/",
                listen,
                "/t/acme",
                true,
            ),
            (
                "http://127.0.0.1:8080/t/acme/preferences/",
                listen,
                "/t/acme",
                false,
            ),
            ("http://10.0.0.5:9000/preferences/", anywhere, "", false),
            ("http://10.0.0.5:80/preferences/", anywhere, "", true),
            ("http://10.0.0.5:8080/preferences/", listen, "", true),
            ("https://crm.example.org/preferences/", listen, "", false),
            ("not a url", listen, "", true),
        ];
        for (url, listen, base, warned) in cases {
            let problem = preferences_url_problem(url, *listen, base);
            assert_eq!(
                problem.is_some(),
                *warned,
                "{url} on {listen}{base}: {problem:?}"
            );
        }
    }
}
