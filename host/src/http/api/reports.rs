//! The data-protection officer's routes: the consent report and the list of people (read
//! from the event log, [`crate::reports`]), bulk staff actions over a filter (each person
//! through the single-person action, named by the API key), and the record of processing
//! ([`crate::register`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use chrono::NaiveDate;
use serde::Deserialize;

use super::blocking;
use super::error::{ApiError, ApiJson, Authenticated};
use crate::contract::configuration as config;
use crate::guard::{BulkAction, BulkPage, PEOPLE_PAGE_LIMIT};
use crate::reports::{
    PeopleFilter, PeopleFilterError, PeopleSelection, Period, ReportWindow, parse_person_cursor,
};

/// People per page when the request names no `limit`.
const DEFAULT_PEOPLE_LIMIT: usize = 100;

fn problem(at: &str, message: impl Into<String>) -> config::Problem {
    config::Problem {
        at: at.to_owned(),
        message: message.into(),
    }
}

/// The query's parameters, refusing any not in `known`.
fn query_of(
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    known: &[&str],
    problems: &mut Vec<config::Problem>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::invalid(format!("the query string cannot be read: {rejection}"))
    })?;
    for name in query.keys() {
        if !known.contains(&name.as_str()) {
            problems.push(problem(
                name,
                format!("is no parameter of this route: use {}", known.join(", ")),
            ));
        }
    }
    Ok(query)
}

fn date(
    query: &BTreeMap<String, String>,
    name: &str,
    problems: &mut Vec<config::Problem>,
) -> Option<NaiveDate> {
    let text = query.get(name)?;
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| problems.push(problem(name, "must be a day written YYYY-MM-DD")))
        .ok()
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD&period=day|week|month`.
pub(super) async fn consent_report(
    tenant: Authenticated,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut problems = Vec::new();
    let query = query_of(query, &["from", "to", "period"], &mut problems)?;
    let from = date(&query, "from", &mut problems);
    let to = date(&query, "to", &mut problems);
    let period = match query.get("period") {
        None => Period::Day,
        Some(text) => Period::parse(text).unwrap_or_else(|| {
            problems.push(problem("period", "must be day, week or month"));
            Period::Day
        }),
    };
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        problems.push(problem("from", "is after `to`"));
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid("the report was not made").with_problems(problems));
    }
    let window = ReportWindow { from, to, period };
    let report = blocking(&tenant.0.guard, move |guard| guard.consent_report(&window)).await?;
    Ok(Json(serde_json::to_value(report).map_err(|error| {
        ApiError::internal(format!("the report cannot be written as JSON: {error}"))
    })?))
}

/// The filter of `consent`, `value`, `status` and `module`, its problems added (`at` the
/// parameter at fault, under `prefix`: `filter.` in a body).
fn filter_of(
    consent: Option<&str>,
    value: Option<&str>,
    status: Option<&str>,
    module: Option<&str>,
    prefix: &str,
    problems: &mut Vec<config::Problem>,
) -> PeopleFilter {
    PeopleFilter::new(consent, value, status, module).unwrap_or_else(|error| {
        let at = match error {
            PeopleFilterError::Status(_) => "status",
            PeopleFilterError::Cursor(_) => "after",
            PeopleFilterError::Value(_) | PeopleFilterError::ValueWithoutConsent => "value",
        };
        problems.push(problem(&format!("{prefix}{at}"), error.to_string()));
        PeopleFilter::default()
    })
}

fn limit_of(text: Option<&String>, problems: &mut Vec<config::Problem>) -> usize {
    match text {
        None => DEFAULT_PEOPLE_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=PEOPLE_PAGE_LIMIT).contains(&limit) => limit,
            _ => {
                problems.push(problem(
                    "limit",
                    format!("must be a whole number from 1 to {PEOPLE_PAGE_LIMIT}"),
                ));
                DEFAULT_PEOPLE_LIMIT
            }
        },
    }
}

fn cursor_of(text: Option<&str>, problems: &mut Vec<config::Problem>) -> Option<(String, String)> {
    parse_person_cursor(text?)
        .map_err(|error| problems.push(problem("after", error.to_string())))
        .ok()
}

/// `?consent=ID&value=granted&status=active&module=contacts&limit=N&after=CURSOR`.
pub(super) async fn list_people(
    tenant: Authenticated,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut problems = Vec::new();
    let query = query_of(
        query,
        &["consent", "value", "status", "module", "limit", "after"],
        &mut problems,
    )?;
    let text = |name: &str| query.get(name).map(String::as_str);
    let filter = filter_of(
        text("consent"),
        text("value"),
        text("status"),
        text("module"),
        "",
        &mut problems,
    );
    let limit = limit_of(query.get("limit"), &mut problems);
    let after = cursor_of(text("after"), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid("the list was not read").with_problems(problems));
    }
    let page = blocking(&tenant.0.guard, move |guard| {
        guard.people_page(&filter, after.as_ref(), limit)
    })
    .await?;
    Ok(Json(serde_json::to_value(page).map_err(|error| {
        ApiError::internal(format!("the list cannot be written as JSON: {error}"))
    })?))
}

/// Which people a bulk action is for.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterDto {
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    module: Option<String>,
}

/// What every bulk action takes besides its own fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    #[serde(default)]
    filter: FilterDto,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    /// `decisions` only.
    #[serde(default)]
    consent_id: Option<String>,
    #[serde(default)]
    grant: Option<bool>,
    #[serde(default)]
    evidence: Option<String>,
    /// `restrict` only.
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/bulk/decisions`.
pub(super) async fn bulk_decisions(
    tenant: Authenticated,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<Json<BulkPage>, ApiError> {
    let mut problems = Vec::new();
    let consent_id = request.consent_id.clone().unwrap_or_else(|| {
        problems.push(problem("consent_id", "is required: the consent decided"));
        String::new()
    });
    let grant = request.grant.unwrap_or_else(|| {
        problems.push(problem(
            "grant",
            "is required: true to grant, false to refuse",
        ));
        false
    });
    let evidence = request.evidence.clone().unwrap_or_default();
    let action = BulkAction::RecordDecision {
        consent_id,
        grant,
        evidence,
    };
    bulk(tenant, request, action, &["reason"], problems).await
}

/// `POST /api/v1/bulk/restrict`.
pub(super) async fn bulk_restrict(
    tenant: Authenticated,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<Json<BulkPage>, ApiError> {
    let reason = request.reason.clone().unwrap_or_default();
    let action = BulkAction::Restrict { reason };
    bulk(
        tenant,
        request,
        action,
        &["consent_id", "grant", "evidence"],
        Vec::new(),
    )
    .await
}

/// `POST /api/v1/bulk/ask-again`.
pub(super) async fn bulk_ask_again(
    tenant: Authenticated,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<Json<BulkPage>, ApiError> {
    let foreign = ["consent_id", "grant", "evidence", "reason"];
    bulk(tenant, request, BulkAction::AskAgain, &foreign, Vec::new()).await
}

/// Runs `action` for a page of the request's filter; `foreign` are the fields other bulk
/// actions take, refused here.
async fn bulk(
    tenant: Authenticated,
    request: BulkRequest,
    action: BulkAction,
    foreign: &[&str],
    mut problems: Vec<config::Problem>,
) -> Result<Json<BulkPage>, ApiError> {
    let given = [
        ("consent_id", request.consent_id.is_some()),
        ("grant", request.grant.is_some()),
        ("evidence", request.evidence.is_some()),
        ("reason", request.reason.is_some()),
    ];
    for (name, _) in given
        .iter()
        .filter(|(name, given)| *given && foreign.contains(name))
    {
        problems.push(problem(
            name,
            format!("is no field of bulk {}", action.name()),
        ));
    }
    let filter = &request.filter;
    let filter = filter_of(
        filter.consent.as_deref(),
        filter.value.as_deref(),
        filter.status.as_deref(),
        filter.module.as_deref(),
        "filter.",
        &mut problems,
    );
    let limit = limit_of(
        request.limit.map(|limit| limit.to_string()).as_ref(),
        &mut problems,
    );
    let after = cursor_of(request.after.as_deref(), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid("nothing was done").with_problems(problems));
    }
    let actor = tenant.1.clone();
    let dry_run = request.dry_run;
    let page = blocking(&tenant.0.guard, move |guard| {
        let selection = PeopleSelection {
            filter,
            after,
            limit,
        };
        guard.bulk_action(&action, &selection, &actor, dry_run, &|_, _| {})
    })
    .await?;
    Ok(Json(page))
}

/// `GET /api/v1/register`: the record of processing, structured, as Markdown and as CSV.
pub(super) async fn register(tenant: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let register = blocking(&tenant.0.guard, |guard| guard.processing_register()).await?;
    let markdown = register.to_markdown();
    let csv = register.to_csv().map_err(|error| {
        ApiError::internal(format!("the register cannot be written as CSV: {error}"))
    })?;
    Ok(Json(serde_json::json!({
        "register": register,
        "markdown": markdown,
        "csv": csv,
    })))
}
