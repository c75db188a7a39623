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
//!
//! After an answer the page links the signed receipt of each answer given through this
//! link (`crate::proof`): `GET /preferences/{token}/receipts/{sequence}` serves it, only for
//! a link the plugin verifies and only an answer that came through that very link.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use self::serious::{confirm_erase, confirm_stop_processing, erase, stop_processing};
use self::shield::{Client, Shield};
use self::view::PreferencesPage;
use self::words::Words;
use super::blocking;
use crate::contract::preferences::{Choice, Evidence, LinkError, SubmitError};
use crate::guard::GuardError;
use crate::limits::Limiter;
use crate::tenants::TenantGuard;

mod diff;
mod link_again;
mod serious;
mod shield;
mod view;
mod words;

/// One tenant's preferences pages: its host, and the path prefix they are served under
/// (empty for the default tenant, `/t/<tenant>` for every tenant).
#[derive(Clone)]
struct Site {
    guard: TenantGuard,
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

/// One tenant's preferences pages, under `base`, within the process's `limiter`.
pub(super) fn preferences(guard: TenantGuard, base: String, limiter: Arc<Limiter>) -> Router {
    let shield = Shield {
        limiter,
        guard: guard.clone(),
        base: base.clone(),
    };
    let site = Site { guard, base };
    Router::new()
        .route(
            "/preferences/link",
            get(link_again::link_form).post(link_again::send_link),
        )
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
        .route(
            "/preferences/{token}/receipts/{sequence}",
            get(download_receipt),
        )
        .with_state(site)
        .layer(axum::middleware::from_fn_with_state(shield, shield::shield))
        .layer(axum::middleware::map_response(private_answer))
}

/// Every answer of the page, a redirect or an error included, is about one person and
/// its URL holds their token: never cached, never sent on as a referrer, never sniffed
/// into another type. One layer, so no route can forget it.
async fn private_answer(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn show_preferences(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let opened = token.clone();
    let outcome = blocking(&guard, move |guard| {
        guard.open_preferences_with_receipts(&opened)
    })
    .await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok((page, receipts))) => render(
            StatusCode::OK,
            PreferencesPage::form(organisation, &base, &token, &page, None).with_receipts(
                &base,
                &token,
                &receipt_links(&receipts),
            ),
        ),
        Ok(Err(error)) => link_refused(&headers, organisation, &base, &error),
        Err(error) => server_error(&headers, &error),
    }
}

/// The page for a link refused with `error`, in the browser's language; for a link that
/// is not genuine or has expired, it offers to send a new one.
fn link_refused(
    headers: &HeaderMap,
    organisation: String,
    base: &str,
    error: &LinkError,
) -> Response {
    let words = Words::negotiate(headers);
    let page = PreferencesPage::problem(words, organisation, link_problem(words, error));
    let page = match error {
        LinkError::Invalid | LinkError::Expired => page.offering_a_new_link(base),
        LinkError::UnknownPerson => page,
    };
    render(link_status(error), page)
}

/// A page that says `problem` (a message id) in the browser's language.
fn refused(
    headers: &HeaderMap,
    status: StatusCode,
    organisation: String,
    problem: &str,
) -> Response {
    let words = Words::negotiate(headers);
    render(
        status,
        PreferencesPage::problem(words, organisation, words.get(problem)),
    )
}

async fn save_preferences(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let mut choices = Vec::with_capacity(form.len());
    for (consent_id, answer) in form {
        let grant = match answer.as_str() {
            "grant" => true,
            "refuse" => false,
            _ => {
                let words = Words::negotiate(&headers);
                return render(
                    StatusCode::BAD_REQUEST,
                    PreferencesPage::problem(
                        words,
                        organisation(&guard).await,
                        words.arg("problem-answer", "consent", &consent_id),
                    ),
                );
            }
        };
        choices.push(Choice { consent_id, grant });
    }
    let evidence = evidence_of(client, &headers);
    let submitted_token = token.clone();
    let outcome = blocking(&guard, move |guard| {
        guard.submit_preferences_noting_receipts(&submitted_token, &choices, &evidence)
    })
    .await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok((page, receipts))) => render(
            StatusCode::OK,
            PreferencesPage::form(organisation, &base, &token, &page, Some("notice-saved"))
                .with_receipts(&base, &token, &receipt_links(&receipts)),
        ),
        Ok(Err(SubmitError::Link(error))) => link_refused(&headers, organisation, &base, &error),
        Ok(Err(SubmitError::ProcessingRestricted)) => refused(
            &headers,
            StatusCode::CONFLICT,
            organisation,
            "problem-restricted",
        ),
        Ok(Err(SubmitError::UnknownConsent(id) | SubmitError::NotChangeable(id))) => {
            let opened = token.clone();
            let page = blocking(&guard, move |guard| guard.open_preferences(&opened)).await;
            match page {
                Ok(Ok(page)) => {
                    let form = PreferencesPage::form(organisation, &base, &token, &page, None);
                    let problem = form.words.arg("problem-not-changeable", "consent", &id);
                    render(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        PreferencesPage {
                            problem: Some(problem),
                            ..form
                        },
                    )
                }
                _ => {
                    let words = Words::negotiate(&headers);
                    let problem = words.arg("problem-not-changeable", "consent", &id);
                    render(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        PreferencesPage::problem(words, organisation, problem),
                    )
                }
            }
        }
        Err(error) => server_error(&headers, &error),
    }
}

/// The evidence of an answer: the client's address (the connection's, or a trusted
/// proxy's header's) and browser.
fn evidence_of(Client(client): Client, headers: &HeaderMap) -> Evidence {
    Evidence {
        ip: client.map(|client| client.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned),
    }
}

/// (sequence, consent) of each receipt, for the page's links.
fn receipt_links(receipts: &[crate::proof::SignedReceipt]) -> Vec<(u64, String)> {
    receipts
        .iter()
        .map(|receipt| (receipt.sequence, receipt.consent.clone()))
        .collect()
}

/// The signed receipt of one answer given through this link, as a file to keep. Any other
/// sequence (another person's answer, or this person's through another channel) is
/// answered exactly like one that does not exist.
async fn download_receipt(
    State(Site { guard, .. }): State<Site>,
    Path((token, sequence)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok(sequence) = sequence.parse::<u64>() else {
        return plain(StatusCode::NOT_FOUND, "there is no such receipt");
    };
    let outcome = blocking(&guard, move |guard| {
        guard.open_preferences_with_receipts(&token)
    })
    .await;
    match outcome {
        Ok(Ok((_page, receipts))) => {
            match receipts
                .into_iter()
                .find(|receipt| receipt.sequence == sequence)
            {
                Some(receipt) => {
                    let mut response = plain(StatusCode::OK, receipt.jws);
                    let headers = response.headers_mut();
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/jose; charset=utf-8"),
                    );
                    if let Ok(disposition) = HeaderValue::from_str(&format!(
                        "attachment; filename=\"consent-receipt-{sequence}.jws\""
                    )) {
                        headers.insert(header::CONTENT_DISPOSITION, disposition);
                    }
                    response
                }
                None => plain(StatusCode::NOT_FOUND, "there is no such receipt"),
            }
        }
        Ok(Err(error)) => plain(link_status(&error), "this link is not valid"),
        Err(error) => server_error(&headers, &error),
    }
}

/// The one-click POST body RFC 8058 prescribes.
const ONE_CLICK: (&str, &str) = ("List-Unsubscribe", "One-Click");

/// RFC 8058 one-click unsubscription: withdraws the consent at once, answering in plain
/// text (a mail client, not a person, makes the request).
async fn unsubscribe(
    State(Site { guard, .. }): State<Site>,
    Path((token, consent)): Path<(String, String)>,
    Extension(client): Extension<Client>,
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
    let evidence = evidence_of(client, &headers);
    let choice = Choice {
        consent_id: consent,
        grant: false,
    };
    let outcome = blocking(&guard, move |guard| {
        guard.submit_preferences_noting_receipts(&token, &[choice], &evidence)
    })
    .await;
    match outcome {
        Ok(Ok((page, _receipts))) => plain(
            StatusCode::OK,
            Words::of(&page.language).get("unsubscribed"),
        ),
        Ok(Err(SubmitError::Link(error))) => plain(link_status(&error), "this link is not valid"),
        Ok(Err(SubmitError::UnknownConsent(_) | SubmitError::NotChangeable(_))) => {
            plain(StatusCode::NOT_FOUND, "there is no such subscription")
        }
        Ok(Err(SubmitError::ProcessingRestricted)) => plain(
            StatusCode::CONFLICT,
            "processing of your data is stopped: nothing is sent to you but what the law requires",
        ),
        Err(error) => server_error(&headers, &error),
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

fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    let text: String = text.into();
    (status, text).into_response()
}

async fn organisation(guard: &TenantGuard) -> String {
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

fn link_problem(words: Words, error: &LinkError) -> String {
    words.get(match error {
        LinkError::Invalid => "problem-link-invalid",
        LinkError::Expired => "problem-link-expired",
        LinkError::UnknownPerson => "problem-unknown-person",
    })
}

fn server_error(headers: &HeaderMap, error: &GuardError) -> Response {
    tracing::error!(%error, "the preferences page failed");
    refused(
        headers,
        StatusCode::SERVICE_UNAVAILABLE,
        String::new(),
        "problem-unavailable",
    )
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
