//! `POST /api/v1/feedback/{provider}`: bounces and complaints as the sending services post
//! them (`ses` through SNS, `sendgrid`, `postmark`, `mailgun`: see
//! [`crate::feedback::webhook`]), each recorded through the plugin's `report-delivery`.
//!
//! The services cannot send a bearer header, but all of them can call a URL with basic
//! authentication in it (`https://feedback:KEY@host/api/v1/feedback/ses`): the password is
//! a key of scope `pre-send` (`Authorization: Basic`, or `Bearer` for a caller that can).
//! The body is read whatever its content type (SNS posts JSON as `text/plain`).
//!
//! The answer is `200` with what was recorded, ignored and refused, so that a service does
//! not retry a report that will never change; `422` when the body is not the provider's
//! shape (nothing recorded), `404` for a provider this host does not read.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;

use super::blocking;
use super::error::{ApiError, Authenticated};
use crate::feedback::webhook::{PROVIDERS, read_webhook, refusal_text};

pub(super) async fn feedback(
    tenant: Authenticated,
    Path(provider): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "`{provider}` is no provider this host reads; use one of {}",
                PROVIDERS.join(", ")
            ),
        ));
    }
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::invalid("the body is not UTF-8 text; nothing was recorded"))?;
    let answer = blocking(&tenant.0.guard, move |guard| {
        let received_at = guard.clock().now_millis();
        let (found, ignored) = match read_webhook(&provider, &body, received_at) {
            Ok(reading) => reading,
            Err(reason) => return Ok(Err(reason)),
        };
        let (mut recorded, mut suppressed, mut refused) = (0, 0, Vec::new());
        for found in &found {
            let Some(report) = found.report() else {
                refused.push("a report without the recipient's address".to_owned());
                continue;
            };
            match guard.report_delivery(&report)? {
                Ok(outcome) => {
                    recorded += 1;
                    suppressed += outcome.suppressed.len();
                }
                Err(refusal) => refused.push(refusal_text(&refusal)),
            }
        }
        Ok(Ok(serde_json::json!({
            "recorded": recorded,
            "suppressed": suppressed,
            "ignored": ignored,
            "refused": refused,
        })))
    })
    .await?;
    match answer {
        Ok(answer) => Ok(Json(answer)),
        Err(reason) => Err(ApiError::invalid(format!(
            "the body is not a webhook of this provider: {reason}; nothing was recorded"
        ))),
    }
}
