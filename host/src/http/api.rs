//! The JSON HTTP API, for CRMs that do not embed wasmtime (Vtiger and most CRMs are PHP).
//!
//! Every route is listed once (see [`routes`]); `docs/openapi.json` describes the same routes
//! and a test checks the two against each other and against the running server. Requests
//! carry `Authorization: Bearer <key>`; the key names the tenant (see [`crate::tenants`]),
//! so a request can only ever reach its own tenant's data. Bodies are JSON, at most
//! [`BODY_LIMIT`] bytes, at most [`BATCH_LIMIT`] recipients or records per request.
//!
//! Each route requires a scope of the key ([`Scope`], the table's third column): a key
//! without it gets `403 forbidden` naming the scope it lacks.
//!
//! Errors are JSON: `{"error": {"code": "...", "message": "...", "problems": [...]}}` with
//! the HTTP status the code implies ([`ApiError`]). The pre-send check and rendering fail
//! closed: a plugin fault is a `200` whose every recipient is refused with `plugin_fault`,
//! so a client that only reads decisions never sends on a fault.

mod cases;
mod changes;
mod dto;
mod error;
mod feedback;
mod proof;
mod reports;
mod retention;
mod safeguards;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use axum::{Extension, Json, Router};

pub use self::changes::DEFAULT_CHANGES_LIMIT;
use self::dto::*;
pub use self::error::{ApiError, ApiJson, Authenticated};
use self::error::{RequiredScope, record_error};
pub use self::safeguards::{SafeguardsBody, WebFormsBody};
use super::blocking;
use crate::contract::configuration as config;
use crate::contract::deduplication::{Plan, Report};
use crate::contract::sending as send;
use crate::contract::subjects as subj;
use crate::contract::types::{self, RecordRef};
use crate::guard::{Guard, GuardError, ImportedRecord, SettingsRefusal};
use crate::settings::{SettingsPatch, SettingsView};
use crate::tenants::{Scope, Tenants};
use crate::wire::Wire;

/// Largest request body, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Most recipients (check, render) or records (record changes) in one request.
pub const BATCH_LIMIT: usize = 1000;

/// Every route of the API: method, path (axum syntax, as `docs/openapi.json` writes it),
/// the scope a key needs to call it (`x-required-scope` in the document; see [`Scope`]:
/// `pre-send` the CRM's hooks, `read` every GET, `staff` actions on people, `admin`
/// configuration changes) and handler. The one list the router, [`routes`] and
/// [`route_scopes`] are made from.
type Route = (
    &'static str,
    &'static str,
    Scope,
    MethodRouter<Arc<Tenants>>,
);

// One row per route, so the table reads as one.
#[rustfmt::skip]
fn table() -> Vec<Route> {
    vec![
        ("POST",   "/api/v1/check-send",                           Scope::PreSend, post(check_send)),
        ("POST",   "/api/v1/render",                               Scope::PreSend, post(render)),
        ("POST",   "/api/v1/records/{module}",                     Scope::PreSend, post(records_changed)),
        ("POST",   "/api/v1/records/{module}/{id}/check-edit",     Scope::PreSend, post(check_edit)),
        ("GET",    "/api/v1/settings",                             Scope::Read,    get(get_settings)),
        ("PUT",    "/api/v1/settings",                             Scope::Admin,   put(put_settings)),
        ("PATCH",  "/api/v1/settings",                             Scope::Admin,   patch(patch_settings)),
        ("GET",    "/api/v1/consents",                             Scope::Read,    get(list_consents)),
        ("PUT",    "/api/v1/consents/{id}",                        Scope::Admin,   put(put_consent)),
        ("DELETE", "/api/v1/consents/{id}",                        Scope::Admin,   delete(delete_consent)),
        ("POST",   "/api/v1/enable",                               Scope::Admin,   post(enable)),
        ("GET",    "/api/v1/fields/{module}",                      Scope::Read,    get(list_fields)),
        ("PUT",    "/api/v1/fields/{module}/{field}",              Scope::Admin,   put(classify_field)),
        ("GET",    "/api/v1/deduplication",                        Scope::Read,    get(deduplication_preview)),
        ("POST",   "/api/v1/deduplication",                        Scope::Admin,   post(deduplicate)),
        ("GET",    "/api/v1/subjects/{module}/{id}",               Scope::Read,    get(subject)),
        ("GET",    "/api/v1/subjects/{module}/{id}/link",          Scope::Staff,   get(preferences_link)),
        ("POST",   "/api/v1/subjects/{module}/{id}/ask-again",     Scope::Staff,   post(ask_again)),
        ("GET",    "/api/v1/subjects/{module}/{id}/history",       Scope::Read,    get(history)),
        ("POST",   "/api/v1/subjects/{module}/{id}/decisions",     Scope::Staff,   post(record_decision)),
        ("POST",   "/api/v1/subjects/{module}/{id}/restrict",      Scope::Staff,   post(restrict)),
        ("POST",   "/api/v1/subjects/{module}/{id}/lift-restriction", Scope::Staff,   post(lift_restriction)),
        ("POST",   "/api/v1/subjects/{module}/{id}/erase",         Scope::Staff,   post(erase)),
        ("GET",    "/api/v1/changes",                              Scope::Read,    get(changes::list_changes)),
        ("POST",   "/api/v1/feedback/{provider}",                  Scope::PreSend, post(feedback::feedback)),
        ("GET",    "/api/v1/subjects/{module}/{id}/export",        Scope::Staff,   get(cases::export_subject)),
        ("GET",    "/api/v1/cases",                                Scope::Read,    get(cases::list_cases)),
        ("POST",   "/api/v1/cases",                                Scope::Staff,   post(cases::open_case)),
        ("GET",    "/api/v1/cases/{id}",                           Scope::Read,    get(cases::get_case)),
        ("POST",   "/api/v1/cases/{id}/verify",                    Scope::Staff,   post(cases::verify_case)),
        ("POST",   "/api/v1/cases/{id}/resend-code",               Scope::Staff,   post(cases::resend_case_code)),
        ("POST",   "/api/v1/cases/{id}/extend",                    Scope::Staff,   post(cases::extend_case)),
        ("POST",   "/api/v1/cases/{id}/complete",                  Scope::Staff,   post(cases::complete_case)),
        ("POST",   "/api/v1/cases/{id}/refuse",                    Scope::Staff,   post(cases::refuse_case)),
        ("POST",   "/api/v1/cases/{id}/withdraw",                  Scope::Staff,   post(cases::withdraw_case)),
        ("GET",    "/api/v1/reports/consents",                     Scope::Read,    get(reports::consent_report)),
        ("GET",    "/api/v1/people",                               Scope::Read,    get(reports::list_people)),
        ("POST",   "/api/v1/bulk/decisions",                       Scope::Staff,   post(reports::bulk_decisions)),
        ("POST",   "/api/v1/bulk/restrict",                        Scope::Staff,   post(reports::bulk_restrict)),
        ("POST",   "/api/v1/bulk/ask-again",                       Scope::Staff,   post(reports::bulk_ask_again)),
        ("GET",    "/api/v1/register",                             Scope::Read,    get(reports::register)),
        ("GET",    "/api/v1/retention",                            Scope::Read,    get(retention::retention)),
        ("POST",   "/api/v1/retention/run",                        Scope::Admin,   post(retention::run)),
        ("GET",    "/api/v1/safeguards",                           Scope::Read,    get(safeguards::get_safeguards)),
        ("PUT",    "/api/v1/safeguards",                           Scope::Admin,   put(safeguards::put_safeguards)),
        ("POST",   "/api/v1/form-tokens",                          Scope::PreSend, post(safeguards::form_token)),
        ("GET",    "/api/v1/proof/key",                            Scope::Read,    get(proof::proof_key)),
        ("GET",    "/api/v1/proof/checkpoint",                     Scope::Read,    get(proof::checkpoint)),
        ("GET",    "/api/v1/proof/receipts/{module}/{id}",         Scope::Read,    get(proof::receipt)),
    ]
}

/// Every route of the API as (method, path), for comparing with `docs/openapi.json`.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    table()
        .into_iter()
        .map(|(method, path, _, _)| (method, path))
        .collect()
}

/// Every route of the API with the scope it requires, for comparing with
/// `docs/openapi.json` and for testing every route with every scope.
pub fn route_scopes() -> Vec<(&'static str, &'static str, Scope)> {
    table()
        .into_iter()
        .map(|(method, path, scope, _)| (method, path, scope))
        .collect()
}

/// The API's routes for `tenants`.
pub fn router(tenants: Arc<Tenants>) -> Router {
    // Methods sharing a path are merged into one route.
    let mut by_path: BTreeMap<&str, MethodRouter<Arc<Tenants>>> = BTreeMap::new();
    for (_, path, scope, handler) in table() {
        // Authentication (`Authenticated`) reads the route's scope from the request.
        let handler = handler.layer(Extension(RequiredScope(scope)));
        let merged = match by_path.remove(path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(path, merged);
    }
    let mut router = Router::new();
    for (path, route) in by_path {
        router = router.route(path, route);
    }
    router
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such API route: see docs/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(tenants)
}

// ---- handlers ----------------------------------------------------------------------------------

async fn check_send(
    tenant: Authenticated,
    ApiJson(request): ApiJson<CheckSendRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let recipients = recipients(request.recipients)?;
    let send_request = send::SendRequest {
        class: request.class.0,
        purpose: request.purpose,
    };
    let addresses: Vec<String> = recipients.iter().map(|r| r.address.clone()).collect();
    let decisions = blocking(&tenant.0.guard, move |guard| {
        Ok(guard.check_send(&send_request, &recipients))
    })
    .await?;
    let decisions: Vec<DecisionDto> = addresses
        .into_iter()
        .zip(decisions)
        .map(|(address, decision)| DecisionDto::of(address, decision))
        .collect();
    Ok(Json(serde_json::json!({ "decisions": decisions })))
}

async fn render(
    tenant: Authenticated,
    ApiJson(request): ApiJson<RenderRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let recipients = recipients(request.recipients)?;
    let send_request = send::SendRequest {
        class: request.class.0,
        purpose: request.purpose,
    };
    let mail = send::MailContent {
        message_id: request.mail.message_id,
        subject: request.mail.subject,
        text_body: request.mail.text_body,
        html_body: request.mail.html_body,
    };
    let addresses: Vec<String> = recipients.iter().map(|r| r.address.clone()).collect();
    let renderings = blocking(&tenant.0.guard, move |guard| {
        Ok(guard.render(&send_request, &mail, &recipients))
    })
    .await?;
    let renderings: Vec<RenderingDto> = addresses
        .into_iter()
        .zip(renderings)
        .map(|(address, rendering)| match rendering {
            send::Rendering::Send(mail) => RenderingDto {
                address,
                send: true,
                subject: Some(mail.subject),
                text_body: Some(mail.text_body),
                html_body: mail.html_body,
                headers: mail.headers,
                reason: None,
                detail: String::new(),
            },
            send::Rendering::Refuse(refusal) => RenderingDto {
                address,
                send: false,
                subject: None,
                text_body: None,
                html_body: None,
                headers: Vec::new(),
                reason: Some(refusal.reason.into()),
                detail: refusal.detail,
            },
        })
        .collect();
    Ok(Json(serde_json::json!({ "renderings": renderings })))
}

async fn records_changed(
    tenant: Authenticated,
    Path(module): Path<String>,
    ApiJson(request): ApiJson<RecordsRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if request.records.is_empty() || request.records.len() > BATCH_LIMIT {
        return Err(ApiError::invalid(format!(
            "`records` must list 1 to {BATCH_LIMIT} records; got {}",
            request.records.len()
        )));
    }
    let records: Vec<ImportedRecord> = request
        .records
        .into_iter()
        .map(|record| ImportedRecord {
            id: Some(record.id),
            fields: record.fields.into_iter().collect(),
            status: record.status,
            modified_at: record.modified_at,
        })
        .collect();
    let report = blocking(&tenant.0.guard, move |guard| {
        guard.import_records(&module, records, &|_| {})
    })
    .await?;
    Ok(Json(serde_json::json!({
        "created": report.created,
        "updated": report.updated,
        "consents_changed": report.consents_changed,
        "ignored_fields": report.ignored_fields,
    })))
}

async fn check_edit(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
    ApiJson(request): ApiJson<CheckEditRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reference = person(module, id);
    let changes: Vec<types::Field> = request
        .changes
        .into_iter()
        .map(|(name, value)| types::Field { name, value })
        .collect();
    let refusals = blocking(&tenant.0.guard, move |guard| {
        guard.check_edit(&reference, &changes)
    })
    .await?;
    let refusals: Vec<EditRefusalDto> = refusals.into_iter().map(EditRefusalDto::from).collect();
    Ok(Json(serde_json::json!({
        "allowed": refusals.is_empty(),
        "refusals": refusals,
    })))
}

async fn get_settings(tenant: Authenticated) -> Result<Json<SettingsView>, ApiError> {
    let snapshot = blocking(&tenant.0.guard, |guard| guard.configuration()).await?;
    snapshot
        .settings
        .map(|settings| Json(SettingsView::from(settings)))
        .ok_or_else(|| ApiError::not_found("no settings are configured yet: PUT them first"))
}

/// Replaces every setting: each option must be given.
async fn put_settings(
    tenant: Authenticated,
    ApiJson(settings): ApiJson<SettingsPatch>,
) -> Result<Json<SettingsView>, ApiError> {
    let left_out = settings.left_out();
    if !left_out.is_empty() {
        return Err(ApiError::invalid(format!(
            "PUT replaces every setting, so it names each one; missing: {} (PATCH changes only the options it names)",
            left_out.join(", ")
        )));
    }
    change_settings(&tenant, settings).await
}

/// Changes the options given; the others keep their values.
async fn patch_settings(
    tenant: Authenticated,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> Result<Json<SettingsView>, ApiError> {
    change_settings(&tenant, patch).await
}

/// Applies `patch` to the current settings in one unit of work and answers the result.
async fn change_settings(
    tenant: &Authenticated,
    patch: SettingsPatch,
) -> Result<Json<SettingsView>, ApiError> {
    let saved = blocking(&tenant.0.guard, move |guard| guard.change_settings(patch)).await?;
    match saved {
        Ok(settings) => Ok(Json(SettingsView::from(settings))),
        Err(SettingsRefusal::Missing(missing)) => Err(ApiError::invalid(missing.to_string())
            .with_problems(
                missing
                    .0
                    .iter()
                    .map(|option| config::Problem {
                        at: (*option).to_owned(),
                        message: "is required".to_owned(),
                    })
                    .collect(),
            )),
        Err(SettingsRefusal::Invalid(problems)) => {
            Err(ApiError::invalid("the settings were not saved").with_problems(problems))
        }
    }
}

async fn list_consents(tenant: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let snapshot = blocking(&tenant.0.guard, |guard| guard.configuration()).await?;
    let consents: Vec<ConsentDto> = snapshot
        .consents
        .into_iter()
        .map(ConsentDto::from)
        .collect();
    Ok(Json(serde_json::json!({
        "enabled": snapshot.enabled,
        "enabled_at": snapshot.enabled_at,
        "consents": consents,
    })))
}

async fn put_consent(
    tenant: Authenticated,
    Path(id): Path<String>,
    ApiJson(consent): ApiJson<ConsentDto>,
) -> Result<Json<ConsentDto>, ApiError> {
    let change = consent.purpose_change();
    let definition = consent.definition(id)?;
    let stored = blocking(&tenant.0.guard, move |guard| {
        guard.put_consent(&definition, change)
    })
    .await?
    .map_err(|problems| ApiError::invalid("the consent was not saved").with_problems(problems))?;
    Ok(Json(ConsentDto::from(stored)))
}

async fn delete_consent(
    tenant: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ConsentDto>, ApiError> {
    let deleted = blocking(&tenant.0.guard, move |guard| guard.delete_consent(&id))
        .await?
        .map_err(|problem| ApiError::not_found(format!("{}: {}", problem.at, problem.message)))?;
    Ok(Json(ConsentDto::from(deleted)))
}

async fn enable(
    tenant: Authenticated,
    ApiJson(request): ApiJson<EnableRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let confirmed = request.confirm_deduplication;
    match blocking(&tenant.0.guard, move |guard| guard.enable(confirmed)).await? {
        Ok(()) => Ok(Json(serde_json::json!({ "enabled": true }))),
        Err(unmet) => {
            let names: Vec<String> = unmet.iter().map(|unmet| unmet.api_text()).collect();
            Err(ApiError::refused(
                "prerequisites_unmet",
                format!(
                    "consents were not enabled; unmet prerequisites: {}",
                    names.join(", ")
                ),
            )
            .with_problems(
                unmet
                    .into_iter()
                    .map(|prerequisite| config::Problem {
                        at: prerequisite.api_text(),
                        message: prerequisite.help().to_owned(),
                    })
                    .collect(),
            ))
        }
    }
}

async fn list_fields(
    tenant: Authenticated,
    Path(module): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (classes, suggested) = blocking(&tenant.0.guard, move |guard| {
        Ok((
            guard.field_classes(&module)?,
            guard.suggested_data_consents(&module)?,
        ))
    })
    .await?;
    let classes: Vec<FieldClassDto> = classes
        .into_iter()
        .map(|class| FieldClassDto {
            field: class.field,
            personal: class.personal,
            essential: class.essential,
            sensitive: class.sensitive,
            encrypted: class.encrypted,
        })
        .collect();
    Ok(Json(serde_json::json!({
        "fields": classes,
        "suggested_data_consents": suggested,
    })))
}

async fn classify_field(
    tenant: Authenticated,
    Path((module, field)): Path<(String, String)>,
    ApiJson(class): ApiJson<FieldClassDto>,
) -> Result<Json<FieldClassDto>, ApiError> {
    let contract = config::FieldClass {
        field: field.clone(),
        personal: class.personal,
        essential: class.essential,
        sensitive: class.sensitive,
        encrypted: class.encrypted,
    };
    blocking(&tenant.0.guard, move |guard| {
        guard.classify_field(&module, &contract)
    })
    .await?
    .map_err(|problems| {
        ApiError::invalid("the field was not classified").with_problems(problems)
    })?;
    Ok(Json(FieldClassDto { field, ..class }))
}

fn plan_json(plan: Plan) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = plan
        .groups
        .into_iter()
        .map(|group| {
            serde_json::json!({
                "address": group.address,
                "primary": RecordRefDto::from(group.primary),
                "duplicates": group.duplicates.into_iter().map(RecordRefDto::from).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "records": plan.records,
        "duplicates": plan.duplicates,
        "groups": groups,
    })
}

fn report_json(report: Report) -> serde_json::Value {
    serde_json::json!({
        "groups": report.groups,
        "newly_flagged": report.newly_flagged,
        "already_flagged": report.already_flagged,
        "owners_changed": report.owners_changed,
    })
}

async fn deduplication_preview(tenant: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let plan = blocking(&tenant.0.guard, |guard| guard.deduplication_preview()).await?;
    Ok(Json(plan_json(plan)))
}

async fn deduplicate(tenant: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let report = blocking(&tenant.0.guard, |guard| guard.deduplicate()).await?;
    Ok(Json(report_json(report)))
}

async fn subject(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
) -> Result<Json<SubjectDto>, ApiError> {
    let reference = person(module, id);
    let shown = reference.clone();
    blocking(&tenant.0.guard, move |guard| guard.subject(&reference))
        .await?
        .map(|view| Json(SubjectDto::from(view)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no consents are known for {}/{}",
                shown.module, shown.id
            ))
        })
}

async fn history(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reference = person(module, id);
    let events = blocking(&tenant.0.guard, move |guard| guard.history(&reference)).await?;
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|event| serde_json::from_str(event).unwrap_or(serde_json::Value::Null))
        .collect();
    Ok(Json(serde_json::json!({ "events": events })))
}

/// Runs a change of one person (a decision, a restriction, its lifting) and answers the
/// person after it.
async fn change_subject(
    tenant: &Authenticated,
    (module, id): (String, String),
    change: impl FnOnce(
        &Guard,
        &RecordRef,
    ) -> Result<Result<subj::SubjectView, subj::RecordError>, GuardError>
    + Send
    + 'static,
) -> Result<Json<SubjectDto>, ApiError> {
    let reference = person(module, id);
    let view = blocking(&tenant.0.guard, move |guard| change(guard, &reference))
        .await?
        .map_err(record_error)?;
    Ok(Json(SubjectDto::from(view)))
}

async fn record_decision(
    tenant: Authenticated,
    Path(person): Path<(String, String)>,
    ApiJson(request): ApiJson<DecisionRequest>,
) -> Result<Json<SubjectDto>, ApiError> {
    if let Some(source) = request.source.as_deref().filter(|source| *source != "api") {
        return Err(ApiError::invalid(format!(
            "the source `{source}` is not the API's to claim: decisions recorded through the API are recorded as `api`, named by the API key; answers on the preferences page come only from the page"
        ))
        .with_problems(vec![config::Problem {
            at: "source".to_owned(),
            message: "must be `api` or left out".to_owned(),
        }]));
    }
    let actor = tenant.1.clone();
    change_subject(&tenant, person, move |guard, reference| {
        guard.record_decision(
            reference,
            &request.consent_id,
            request.grant,
            &actor,
            &request.evidence,
        )
    })
    .await
}

async fn restrict(
    tenant: Authenticated,
    Path(person): Path<(String, String)>,
    ApiJson(request): ApiJson<ReasonRequest>,
) -> Result<Json<SubjectDto>, ApiError> {
    let actor = tenant.1.clone();
    change_subject(&tenant, person, move |guard, reference| {
        guard.restrict(reference, &actor, &request.reason)
    })
    .await
}

async fn lift_restriction(
    tenant: Authenticated,
    Path(person): Path<(String, String)>,
    ApiJson(request): ApiJson<ReasonRequest>,
) -> Result<Json<SubjectDto>, ApiError> {
    let actor = tenant.1.clone();
    change_subject(&tenant, person, move |guard, reference| {
        guard.lift_restriction(reference, &actor, &request.reason)
    })
    .await
}

/// Asks the person again at the next daily run: `{"asked": false}` when every consent is
/// answered.
async fn ask_again(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reference = person(module, id);
    let actor = tenant.1.clone();
    let asked = blocking(&tenant.0.guard, move |guard| {
        guard.ask_again(&reference, &actor)
    })
    .await?
    .map_err(record_error)?;
    Ok(Json(serde_json::json!({ "asked": asked })))
}

async fn preferences_link(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reference = person(module, id);
    let link = blocking(&tenant.0.guard, move |guard| {
        guard.preferences_link(&reference)
    })
    .await?
    .map_err(record_error)?;
    Ok(Json(serde_json::json!({ "link": link })))
}

async fn erase(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
    ApiJson(request): ApiJson<EvidenceRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reference = person(module, id);
    let actor = tenant.1.clone();
    let report = blocking(&tenant.0.guard, move |guard| {
        guard.erase(&reference, &actor, &request.evidence)
    })
    .await?
    .map_err(record_error)?;
    Ok(Json(serde_json::json!({
        "erased_fields": report.erased_fields,
        "retained_fields": report.retained_fields,
    })))
}

fn person(module: String, id: String) -> RecordRef {
    RecordRef { module, id }
}
