//! The serious actions of the page, stopping processing (GDPR Art. 18) and erasure
//! (Art. 17): a `GET`, or a `POST` without `confirm=yes`, shows what the action does and
//! asks to confirm, changing nothing; only a `POST` with `confirm=yes` acts.

use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::shield::Client;
use super::view::{PreferencesPage, Serious};
use super::words::Words;
use super::{
    Site, blocking, evidence_of, link_refused, organisation, refused, render, server_error,
};
use crate::contract::preferences::SubmitError;
use crate::tenants::TenantGuard;

/// The form value that confirms a serious action.
const CONFIRMED: (&str, &str) = ("confirm", "yes");

fn confirmed(form: &[(String, String)]) -> bool {
    form.iter()
        .any(|(name, value)| (name.as_str(), value.as_str()) == CONFIRMED)
}

/// The confirming step of a serious action, for the person the link is for.
async fn confirmation(
    guard: TenantGuard,
    base: String,
    token: String,
    headers: HeaderMap,
    action: Serious,
) -> Response {
    let opened = token.clone();
    let outcome = blocking(&guard, move |guard| guard.open_preferences(&opened)).await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(page)) => {
            let words = Words::of(&page.language);
            if action == Serious::StopProcessing && page.restricted {
                let problem = words.get("problem-already-stopped");
                return render(
                    StatusCode::CONFLICT,
                    PreferencesPage::problem(words, organisation, problem),
                );
            }
            render(
                StatusCode::OK,
                PreferencesPage::confirm(words, organisation, &base, &token, action),
            )
        }
        Ok(Err(error)) => link_refused(&headers, organisation, &base, &error),
        Err(error) => server_error(&headers, &error),
    }
}

pub(super) async fn confirm_stop_processing(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    confirmation(guard, base, token, headers, Serious::StopProcessing).await
}

pub(super) async fn confirm_erase(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    confirmation(guard, base, token, headers, Serious::Erase).await
}

pub(super) async fn stop_processing(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !confirmed(&form) {
        return confirmation(guard, base, token, headers, Serious::StopProcessing).await;
    }
    let evidence = evidence_of(client, &headers);
    let submitted = token.clone();
    let outcome = blocking(&guard, move |guard| {
        guard.stop_processing(&submitted, &evidence)
    })
    .await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(page)) => render(
            StatusCode::OK,
            PreferencesPage::form(organisation, &base, &token, &page, Some("notice-stopped")),
        ),
        Ok(Err(SubmitError::Link(error))) => link_refused(&headers, organisation, &base, &error),
        Ok(Err(_)) => refused(
            &headers,
            StatusCode::CONFLICT,
            organisation,
            "problem-already-stopped",
        ),
        Err(error) => server_error(&headers, &error),
    }
}

pub(super) async fn erase(
    State(Site { guard, base }): State<Site>,
    Path(token): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !confirmed(&form) {
        return confirmation(guard, base, token, headers, Serious::Erase).await;
    }
    let evidence = evidence_of(client, &headers);
    // The person's language, read before they are gone: the answer is in it.
    let opened = token.clone();
    let words = match blocking(&guard, move |guard| guard.open_preferences(&opened)).await {
        Ok(Ok(page)) => Words::of(&page.language),
        _ => Words::negotiate(&headers),
    };
    let outcome = blocking(&guard, move |guard| {
        guard.erase_from_page(&token, &evidence)
    })
    .await;
    let organisation = organisation(&guard).await;
    match outcome {
        Ok(Ok(())) => render(
            StatusCode::OK,
            PreferencesPage {
                notice: Some(words.get("notice-erased")),
                ..PreferencesPage::problem(words, organisation, String::new())
            },
        ),
        Ok(Err(SubmitError::Link(error))) => link_refused(&headers, organisation, &base, &error),
        Ok(Err(_)) => render(
            StatusCode::CONFLICT,
            PreferencesPage::problem(words, organisation, words.get("problem-cannot-erase")),
        ),
        Err(error) => server_error(&headers, &error),
    }
}
