//! `GET /api/v1/changes`: the change feed ([`crate::changes`]) page by page, for a CRM that
//! keeps its own opt-out fields in sync without asking about each person.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::error::{ApiError, Authenticated};
use super::{BATCH_LIMIT, blocking};
use crate::changes::{cursor_text, parse_cursor};
use crate::contract::configuration as config;

/// Changes per page when the request names no `limit`.
pub const DEFAULT_CHANGES_LIMIT: usize = 100;

/// `?after=CURSOR&limit=N`: the changes after the cursor (from the start without one), at
/// most `limit`; `next` is the cursor to pass next, `more` whether the log held more.
pub(super) async fn list_changes(
    tenant: Authenticated,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::invalid(format!(
            "the query string cannot be read: {rejection}; write it as ?after=CURSOR&limit=N"
        ))
    })?;
    let mut problems = Vec::new();
    for name in query.keys() {
        if name != "after" && name != "limit" {
            problems.push(problem(
                name,
                "is no parameter of this route: use `after` and `limit`",
            ));
        }
    }
    let after = match query.get("after") {
        None => 0,
        Some(text) => parse_cursor(text).unwrap_or_else(|| {
            problems.push(problem(
                "after",
                "is not a cursor: pass the `next` of the page before, as it was given",
            ));
            0
        }),
    };
    let limit = match query.get("limit") {
        None => DEFAULT_CHANGES_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=BATCH_LIMIT).contains(&limit) => limit,
            _ => {
                problems.push(problem(
                    "limit",
                    &format!("must be a whole number from 1 to {BATCH_LIMIT}"),
                ));
                DEFAULT_CHANGES_LIMIT
            }
        },
    };
    if !problems.is_empty() {
        return Err(ApiError::invalid("the change feed was not read").with_problems(problems));
    }
    let page = blocking(&tenant.0.guard, move |guard| guard.changes(after, limit))
        .await?
        .map_err(|ahead| {
            ApiError::invalid(ahead.to_string())
                .with_problems(vec![problem("after", "is past the end of the change feed")])
        })?;
    Ok(Json(serde_json::json!({
        "changes": page.changes,
        "next": cursor_text(page.next),
        "more": page.more,
    })))
}

fn problem(at: &str, message: &str) -> config::Problem {
    config::Problem {
        at: at.to_owned(),
        message: message.to_owned(),
    }
}
