//! The retention schedules' routes: the settings with a dry run (`GET /api/v1/retention`)
//! and a run (`POST /api/v1/retention/run`), a page of at most [`PEOPLE_PAGE_LIMIT`]
//! people due at a time, continued with `after`. People by record reference only.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;

use super::blocking;
use super::error::{ApiError, ApiJson, Authenticated};
use crate::contract::configuration as config;
use crate::guard::{PEOPLE_PAGE_LIMIT, RetentionRequest};
use crate::reports::parse_person_cursor;
use crate::retention::CLASSES;

/// People due per page when the request names no `limit`.
const DEFAULT_LIMIT: u64 = 100;

fn problem(at: &str, message: impl Into<String>) -> config::Problem {
    config::Problem {
        at: at.to_owned(),
        message: message.into(),
    }
}

fn limit_of(limit: Option<&str>, problems: &mut Vec<config::Problem>) -> u64 {
    let Some(text) = limit else {
        return DEFAULT_LIMIT;
    };
    match text.parse::<u64>() {
        Ok(limit) if (1..=PEOPLE_PAGE_LIMIT as u64).contains(&limit) => limit,
        _ => {
            problems.push(problem(
                "limit",
                format!("must be a whole number from 1 to {PEOPLE_PAGE_LIMIT}"),
            ));
            DEFAULT_LIMIT
        }
    }
}

fn after_of(after: Option<&str>, problems: &mut Vec<config::Problem>) -> Option<(String, String)> {
    parse_person_cursor(after?)
        .map_err(|error| problems.push(problem("after", error.to_string())))
        .ok()
}

/// Runs (or dry-runs) a page of the schedules as the key, and answers the settings, the
/// people due and the summary.
async fn page(
    tenant: Authenticated,
    dry_run: bool,
    after: Option<(String, String)>,
    limit: u64,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = RetentionRequest {
        dry_run,
        after,
        limit: Some(limit),
        run_by: format!("API key {}", tenant.1.name),
    };
    let (settings, people, summary) = blocking(&tenant.0.guard, move |guard| {
        let settings = guard.retention_settings();
        let mut people = Vec::new();
        let summary = guard.run_retention(
            &settings,
            &request,
            &mut |item| people.push(item.clone()),
            &|_, _| {},
        )?;
        Ok((settings, people, summary))
    })
    .await?;
    let classes: Vec<_> = CLASSES
        .iter()
        .map(|(class, default, reason)| {
            serde_json::json!({
                "class": class,
                "keep": settings.keep(*class),
                "default": default,
                "reason": reason,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "classes": classes,
        "people": people,
        "summary": summary,
    })))
}

/// `GET /api/v1/retention?limit=N&after=CURSOR`: the settings and a dry run.
pub(super) async fn retention(
    tenant: Authenticated,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::invalid(format!("the query string cannot be read: {rejection}"))
    })?;
    let mut problems = Vec::new();
    for name in query.keys() {
        if !["limit", "after"].contains(&name.as_str()) {
            problems.push(problem(
                name,
                "is no parameter of this route: use limit, after",
            ));
        }
    }
    let limit = limit_of(query.get("limit").map(String::as_str), &mut problems);
    let after = after_of(query.get("after").map(String::as_str), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid("the dry run was not made").with_problems(problems));
    }
    page(tenant, true, after, limit).await
}

/// The body of `POST /api/v1/retention/run`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
}

/// `POST /api/v1/retention/run`: erases a page of the people due.
pub(super) async fn run(
    tenant: Authenticated,
    ApiJson(request): ApiJson<RunRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut problems = Vec::new();
    let limit = limit_of(
        request.limit.map(|limit| limit.to_string()).as_deref(),
        &mut problems,
    );
    let after = after_of(request.after.as_deref(), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid("nobody was erased").with_problems(problems));
    }
    page(tenant, request.dry_run, after, limit).await
}
