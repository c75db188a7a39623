//! The safeguards' routes (contract 0.3.3): the safeguard settings (`GET` and `PUT
//! /api/v1/safeguards`) and a form token for a web form the CRM serves (`POST
//! /api/v1/form-tokens`). A component without the `safeguards` export is a `422` saying so,
//! not an `unavailable` to retry: see [`offered`].

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::blocking;
use super::error::{ApiError, ApiJson, Authenticated};
use crate::contract::safeguards::{SafeguardSettings, WebFormProof};
use crate::guard::GuardError;

/// The safeguard settings as the API and `privacy-guard safeguards --json` write them. A
/// `PUT` names every one (serde refuses one left out, naming it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeguardsBody {
    pub soft_bounce_limit: u32,
    pub request_interval_hours: u32,
    pub web_forms: WebFormsBody,
    pub link_mail_interval_minutes: u32,
    pub unsubscribe_mailbox: String,
}

/// `web_forms` of [`SafeguardsBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebFormsBody {
    pub source_field: String,
    pub source_value: String,
    pub honeypot_field: String,
    pub token_field: String,
}

impl From<SafeguardSettings> for SafeguardsBody {
    fn from(settings: SafeguardSettings) -> SafeguardsBody {
        let forms = settings.web_forms;
        SafeguardsBody {
            soft_bounce_limit: settings.soft_bounce_limit,
            request_interval_hours: settings.request_interval_hours,
            web_forms: WebFormsBody {
                source_field: forms.source_field,
                source_value: forms.source_value,
                honeypot_field: forms.honeypot_field,
                token_field: forms.token_field,
            },
            link_mail_interval_minutes: settings.link_mail_interval_minutes,
            unsubscribe_mailbox: settings.unsubscribe_mailbox,
        }
    }
}

impl From<SafeguardsBody> for SafeguardSettings {
    fn from(body: SafeguardsBody) -> SafeguardSettings {
        let forms = body.web_forms;
        SafeguardSettings {
            soft_bounce_limit: body.soft_bounce_limit,
            request_interval_hours: body.request_interval_hours,
            web_forms: WebFormProof {
                source_field: forms.source_field,
                source_value: forms.source_value,
                honeypot_field: forms.honeypot_field,
                token_field: forms.token_field,
            },
            link_mail_interval_minutes: body.link_mail_interval_minutes,
            unsubscribe_mailbox: body.unsubscribe_mailbox,
        }
    }
}

/// A component of contract 0.3.2 or earlier offers no safeguards: a 422 saying so (a retry
/// would not help); every other error as usual.
fn offered(error: GuardError) -> ApiError {
    match error {
        GuardError::NotOffered(message) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
        }
        other => ApiError::from(other),
    }
}

/// `GET /api/v1/safeguards`: the settings in force (the defaults until set).
pub(super) async fn get_safeguards(
    tenant: Authenticated,
) -> Result<Json<SafeguardsBody>, ApiError> {
    let settings = blocking(&tenant.0.guard, |guard| guard.safeguard_settings())
        .await
        .map_err(offered)?;
    Ok(Json(settings.into()))
}

/// `PUT /api/v1/safeguards`: replaces every setting; every problem at once (422,
/// `problems`), and nothing changed when there is one.
pub(super) async fn put_safeguards(
    tenant: Authenticated,
    ApiJson(body): ApiJson<SafeguardsBody>,
) -> Result<Json<SafeguardsBody>, ApiError> {
    let settings = SafeguardSettings::from(body);
    let outcome = blocking(&tenant.0.guard, move |guard| {
        Ok(match guard.set_safeguard_settings(&settings)? {
            Ok(()) => Ok(guard.safeguard_settings()?),
            Err(problems) => Err(problems),
        })
    })
    .await
    .map_err(offered)?;
    match outcome {
        Ok(settings) => Ok(Json(settings.into())),
        Err(problems) => Err(ApiError::invalid(
            "the safeguard settings were refused; nothing was changed",
        )
        .with_problems(problems)),
    }
}

/// The answer of `POST /api/v1/form-tokens`.
#[derive(Debug, Serialize)]
pub(super) struct FormTokenBody {
    /// The token, for the hidden field the settings' `web_forms.token_field` names.
    token: String,
    /// That field's name; empty while no token is required.
    field: String,
}

/// `POST /api/v1/form-tokens`: a fresh form token, valid from 3 seconds to 24 hours after
/// now, for the CRM to serve with its web form.
pub(super) async fn form_token(tenant: Authenticated) -> Result<Json<FormTokenBody>, ApiError> {
    let (token, settings) = blocking(&tenant.0.guard, |guard| {
        Ok((guard.form_token()?, guard.safeguard_settings()?))
    })
    .await
    .map_err(offered)?;
    Ok(Json(FormTokenBody {
        token,
        field: settings.web_forms.token_field,
    }))
}
