//! The data-protection officer's routes: rights requests as cases (`/api/v1/cases...`,
//! see `crate::cases` and `guard/cases.rs`) and the export of everything held about a
//! person (`/api/v1/subjects/{module}/{id}/export`, JSON, or CSV with `?format=csv`).
//! Every action names the API key as its actor.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use super::blocking;
use super::error::{ApiError, ApiJson, Authenticated};
use crate::cases::{Case, CaseKind, CaseStatus, Closing, Regime};
use crate::contract::types::RecordRef;
use crate::guard::{CaseListFilter, CaseRefusal, CaseRequest, Completion};

/// `POST /api/v1/cases`: a request to record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OpenCaseRequest {
    kind: String,
    module: String,
    id: String,
    #[serde(default)]
    regime: Option<String>,
    /// `YYYY-MM-DD` (UTC) [default: today].
    #[serde(default)]
    received_on: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeRequest {
    code: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReasonRequest {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CompleteRequest {
    #[serde(default)]
    note: String,
    /// A rectification's corrections: field name to new value.
    #[serde(default)]
    corrections: BTreeMap<String, String>,
}

pub(super) async fn open_case(
    tenant: Authenticated,
    ApiJson(request): ApiJson<OpenCaseRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let kind = CaseKind::parse(&request.kind).ok_or_else(|| {
        ApiError::invalid(format!(
            "`kind` must be one of access, portability, rectification, erasure, restriction, objection; got `{}`",
            request.kind
        ))
    })?;
    let regime = match request.regime.as_deref() {
        None => Regime::Gdpr,
        Some(text) => Regime::parse(text).ok_or_else(|| {
            ApiError::invalid(format!("`regime` must be gdpr, ccpa or lgpd; got `{text}`"))
        })?,
    };
    let received_on = request
        .received_on
        .as_deref()
        .map(|text| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                ApiError::invalid(format!(
                    "`received_on` must be a date, YYYY-MM-DD; got `{text}`"
                ))
            })
        })
        .transpose()?;
    let case_request = CaseRequest {
        kind,
        person: RecordRef {
            module: request.module,
            id: request.id,
        },
        regime,
        received_on,
    };
    let actor = tenant.1.clone();
    let case = blocking(&tenant.0.guard, move |guard| {
        guard.open_case(&case_request, &actor)
    })
    .await?
    .map_err(case_refusal)?;
    Ok(Json(serde_json::json!({ "case": case })))
}

pub(super) async fn list_cases(
    tenant: Authenticated,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::invalid(format!("the query string cannot be read: {rejection}"))
    })?;
    let mut filter = CaseListFilter::default();
    for (name, value) in &query {
        match name.as_str() {
            "status" => {
                filter.status = Some(CaseStatus::parse(value).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "`status` must be identity-pending, identity-verified, completed, refused or withdrawn; got `{value}`"
                    ))
                })?);
            }
            "overdue" => {
                filter.overdue = parse_bool(name, value)?;
            }
            "due_within" => {
                let days = value
                    .trim_end_matches('d')
                    .parse::<u32>()
                    .ok()
                    .filter(|days| *days <= 3660)
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "`due_within` must be a number of days (e.g. 7), at most 3660; got `{value}`"
                        ))
                    })?;
                filter.due_within_days = Some(days);
            }
            "person" => {
                let Some((module, id)) = value
                    .split_once('/')
                    .filter(|(module, id)| !module.is_empty() && !id.is_empty())
                else {
                    return Err(ApiError::invalid(format!(
                        "`person` must be MODULE/ID, e.g. contacts/42; got `{value}`"
                    )));
                };
                filter.person = Some(RecordRef {
                    module: module.to_owned(),
                    id: id.to_owned(),
                });
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "`{other}` is no parameter of this route: use status, overdue, due_within and person"
                )));
            }
        }
    }
    if filter.overdue && filter.due_within_days.is_some() {
        return Err(ApiError::invalid(
            "`overdue` and `due_within` exclude each other: an overdue case is due no more",
        ));
    }
    let cases = blocking(&tenant.0.guard, move |guard| guard.cases(&filter)).await?;
    Ok(Json(serde_json::json!({ "cases": cases })))
}

pub(super) async fn get_case(
    tenant: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let found = blocking(&tenant.0.guard, move |guard| {
        let Some(case) = guard.case(&id)? else {
            return Ok(Err(id));
        };
        let events = guard.case_events(&case)?;
        Ok(Ok((case, events)))
    })
    .await?;
    let (case, events) = found.map_err(|id| case_refusal(CaseRefusal::UnknownCase(id)))?;
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|event| {
            serde_json::json!({
                "sequence": event.sequence,
                "recorded_at": event.recorded_at,
                "event": serde_json::from_str::<serde_json::Value>(&event.payload)
                    .unwrap_or_else(|_| serde_json::Value::from(event.payload.clone())),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "case": case, "events": events })))
}

pub(super) async fn verify_case(
    tenant: Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = tenant.1.clone();
    answer(
        blocking(&tenant.0.guard, move |guard| {
            guard.verify_case(&id, &request.code, &actor)
        })
        .await?,
    )
}

pub(super) async fn resend_case_code(
    tenant: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = tenant.1.clone();
    answer(
        blocking(&tenant.0.guard, move |guard| {
            guard.resend_case_code(&id, &actor)
        })
        .await?,
    )
}

pub(super) async fn extend_case(
    tenant: Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReasonRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = tenant.1.clone();
    answer(
        blocking(&tenant.0.guard, move |guard| {
            guard.extend_case(&id, &request.reason, &actor)
        })
        .await?,
    )
}

pub(super) async fn refuse_case(
    tenant: Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReasonRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    close(tenant, id, Closing::Refused, request.reason).await
}

pub(super) async fn withdraw_case(
    tenant: Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReasonRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    close(tenant, id, Closing::Withdrawn, request.reason).await
}

async fn close(
    tenant: Authenticated,
    id: String,
    closing: Closing,
    reason: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = tenant.1.clone();
    answer(
        blocking(&tenant.0.guard, move |guard| {
            guard.close_case(&id, closing, &reason, &actor)
        })
        .await?,
    )
}

/// Completes the case; an access or portability case answers the export it handed over.
pub(super) async fn complete_case(
    tenant: Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CompleteRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = tenant.1.clone();
    let completion = Completion {
        note: request.note,
        corrections: request.corrections.into_iter().collect(),
    };
    let completed = blocking(&tenant.0.guard, move |guard| {
        guard.complete_case(&id, &completion, &actor)
    })
    .await?
    .map_err(case_refusal)?;
    Ok(Json(serde_json::json!({
        "case": completed.case,
        "export": completed.export.map(|export| export.document),
    })))
}

/// `GET /api/v1/subjects/{module}/{id}/export[?format=json|csv]`.
pub(super) async fn export_subject(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::invalid(format!("the query string cannot be read: {rejection}"))
    })?;
    let csv = match (query.get("format").map(String::as_str), query.len()) {
        (None, 0) | (Some("json"), 1) => false,
        (Some("csv"), 1) => true,
        _ => {
            return Err(ApiError::invalid(
                "the only parameter is `format`, json (the default) or csv",
            ));
        }
    };
    let person = RecordRef { module, id };
    let export = blocking(&tenant.0.guard, move |guard| guard.export_person(&person)).await?;
    if csv {
        let text = export.csv().map_err(|error| {
            ApiError::internal(format!("the export could not be written as CSV: {error}"))
        })?;
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            text,
        )
            .into_response())
    } else {
        Ok(Json(export.document).into_response())
    }
}

fn answer(outcome: Result<Case, CaseRefusal>) -> Result<Json<serde_json::Value>, ApiError> {
    let case = outcome.map_err(case_refusal)?;
    Ok(Json(serde_json::json!({ "case": case })))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "`{name}` must be true or false; got `{value}`"
        ))),
    }
}

/// A refused case operation: 404 for what does not exist, 422 for what the request lacks,
/// 409 `case_refused` for what the case's state or the plugin does not allow.
fn case_refusal(refusal: CaseRefusal) -> ApiError {
    let message = refusal.to_string();
    match refusal {
        CaseRefusal::UnknownCase(_) | CaseRefusal::UnknownPerson(_) => ApiError::not_found(message),
        CaseRefusal::NoAddress(_)
        | CaseRefusal::SenderNotConfigured
        | CaseRefusal::ReceivedInTheFuture { .. }
        | CaseRefusal::CorrectionsMissing => ApiError::invalid(message),
        CaseRefusal::Transition(_)
        | CaseRefusal::ConsentAction(_)
        | CaseRefusal::CorrectionRefused(_) => ApiError::refused("case_refused", message),
    }
}
