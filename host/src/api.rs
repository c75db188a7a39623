//! The JSON HTTP API, for CRMs that do not embed wasmtime (Vtiger and most CRMs are PHP).
//!
//! Every route is listed once (see [`routes`]); `docs/openapi.json` describes the same routes
//! and a test checks the two against each other and against the running server. Requests
//! carry `Authorization: Bearer <key>`; the key names the tenant (see [`crate::tenants`]),
//! so a request can only ever reach its own tenant's data. Bodies are JSON, at most
//! [`BODY_LIMIT`] bytes, at most [`BATCH_LIMIT`] recipients or records per request.
//!
//! Errors are JSON: `{"error": {"code": "...", "message": "...", "problems": [...]}}` with
//! the HTTP status the code implies ([`ApiError`]). The pre-send check and rendering fail
//! closed: a plugin fault is a `200` whose every recipient is refused with `plugin_fault`,
//! so a client that only reads decisions never sends on a fault.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::contract::configuration as config;
use crate::contract::deduplication::{Plan, Report};
use crate::contract::records::EditRefusal;
use crate::contract::sending as send;
use crate::contract::subjects as subj;
use crate::contract::types::{self, RecordRef};
use crate::guard::{Guard, GuardError, ImportedRecord, SettingsRefusal};
use crate::settings::{SettingsPatch, SettingsView};
use crate::tenants::{Tenant, Tenants};
use crate::wire::{self, Api, Wire};
use config::{ConditionOp, ConsentDefault};
use send::{LawfulBasis, MessageClass, RecipientRole, RefusalReason};
use subj::PersonStatus;
use types::ConsentValue;

/// Largest request body, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Most recipients (check, render) or records (record changes) in one request.
pub const BATCH_LIMIT: usize = 1000;

/// Every route of the API: method, path (axum syntax, as `docs/openapi.json` writes it)
/// and handler. The one list both the router and [`routes`] are made from.
fn table() -> Vec<(&'static str, &'static str, MethodRouter<Arc<Tenants>>)> {
    vec![
        ("POST", "/api/v1/check-send", post(check_send)),
        ("POST", "/api/v1/render", post(render)),
        ("POST", "/api/v1/records/{module}", post(records_changed)),
        (
            "POST",
            "/api/v1/records/{module}/{id}/check-edit",
            post(check_edit),
        ),
        ("GET", "/api/v1/settings", get(get_settings)),
        ("PUT", "/api/v1/settings", put(put_settings)),
        ("PATCH", "/api/v1/settings", patch(patch_settings)),
        ("GET", "/api/v1/consents", get(list_consents)),
        ("PUT", "/api/v1/consents/{id}", put(put_consent)),
        ("DELETE", "/api/v1/consents/{id}", delete(delete_consent)),
        ("POST", "/api/v1/enable", post(enable)),
        ("GET", "/api/v1/fields/{module}", get(list_fields)),
        (
            "PUT",
            "/api/v1/fields/{module}/{field}",
            put(classify_field),
        ),
        ("GET", "/api/v1/deduplication", get(deduplication_preview)),
        ("POST", "/api/v1/deduplication", post(deduplicate)),
        ("GET", "/api/v1/subjects/{module}/{id}", get(subject)),
        (
            "GET",
            "/api/v1/subjects/{module}/{id}/link",
            get(preferences_link),
        ),
        (
            "GET",
            "/api/v1/subjects/{module}/{id}/history",
            get(history),
        ),
        (
            "POST",
            "/api/v1/subjects/{module}/{id}/decisions",
            post(record_decision),
        ),
        (
            "POST",
            "/api/v1/subjects/{module}/{id}/restrict",
            post(restrict),
        ),
        (
            "POST",
            "/api/v1/subjects/{module}/{id}/lift-restriction",
            post(lift_restriction),
        ),
        ("POST", "/api/v1/subjects/{module}/{id}/erase", post(erase)),
    ]
}

/// Every route of the API as (method, path), for comparing with `docs/openapi.json`.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The API's routes for `tenants`.
pub fn router(tenants: Arc<Tenants>) -> Router {
    // Methods sharing a path are merged into one route.
    let mut by_path: BTreeMap<&str, MethodRouter<Arc<Tenants>>> = BTreeMap::new();
    for (_, path, handler) in table() {
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

// ---- errors ------------------------------------------------------------------------------

/// An API error: a status, a stable code, a sentence, and the problems of the input.
#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<ProblemDto>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn refused(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    fn with_problems(mut self, problems: Vec<config::Problem>) -> ApiError {
        self.problems = problems.into_iter().map(ProblemDto::from).collect();
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, Json(serde_json::json!({ "error": self }))).into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        response
    }
}

impl From<GuardError> for ApiError {
    fn from(error: GuardError) -> ApiError {
        match &error {
            GuardError::Invalid(message) => ApiError::invalid(message.clone()),
            GuardError::Plugin(_) => {
                tracing::error!(%error, "an API call failed in the plugin; nothing was changed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "plugin_fault",
                    format!("{error}; retry later"),
                )
            }
            _ => {
                tracing::error!(%error, "an API call failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("{error}; nothing was changed, retry later"),
                )
            }
        }
    }
}

/// A JSON body whose rejection is an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        _ => "invalid_json",
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than {BODY_LIMIT} bytes; send smaller batches")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "send the body as JSON with `Content-Type: application/json`".to_owned()
        }
        _ => rejection.body_text(),
    };
    ApiError::new(status, code, message)
}

// ---- authentication ------------------------------------------------------------------------

/// The tenant the request's API key belongs to, and the key as the actor of what the
/// request does (every event it writes names the key).
pub struct Authenticated(Arc<Tenant>, subj::StaffActor);

impl FromRequestParts<Arc<Tenants>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        tenants: &Arc<Tenants>,
    ) -> Result<Self, ApiError> {
        // The scheme is case-insensitive (RFC 9110 §11.1).
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send the tenant's API key as `Authorization: Bearer <key>`",
                )
            })?;
        let actor = |name: String| subj::StaffActor {
            channel: subj::StaffChannel::Api,
            name,
        };
        tenants
            .authenticate(key)
            .map(|(tenant, name)| Authenticated(tenant, actor(name)))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the API key is not valid for any tenant",
                )
            })
    }
}

/// Runs a blocking host operation off the async workers.
async fn blocking<T: Send + 'static>(
    tenant: &Authenticated,
    work: impl FnOnce(&Guard) -> Result<T, GuardError> + Send + 'static,
) -> Result<T, ApiError> {
    let guard = tenant.0.guard.clone();
    tokio::task::spawn_blocking(move || work(&guard))
        .await
        .map_err(|join_error| {
            ApiError::internal(format!("the request's worker failed: {join_error}"))
        })?
        .map_err(ApiError::from)
}

// ---- JSON shapes -----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRefDto {
    pub module: String,
    pub id: String,
}

impl From<RecordRefDto> for RecordRef {
    fn from(reference: RecordRefDto) -> RecordRef {
        RecordRef {
            module: reference.module,
            id: reference.id,
        }
    }
}

impl From<RecordRef> for RecordRefDto {
    fn from(reference: RecordRef) -> RecordRefDto {
        RecordRefDto {
            module: reference.module,
            id: reference.id,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProblemDto {
    at: String,
    message: String,
}

impl From<config::Problem> for ProblemDto {
    fn from(problem: config::Problem) -> ProblemDto {
        ProblemDto {
            at: problem.at,
            message: problem.message,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientDto {
    address: String,
    role: Api<RecipientRole>,
    #[serde(default)]
    person: Option<RecordRefDto>,
}

fn recipients(recipients: Vec<RecipientDto>) -> Result<Vec<send::Recipient>, ApiError> {
    if recipients.is_empty() || recipients.len() > BATCH_LIMIT {
        return Err(ApiError::invalid(format!(
            "`recipients` must list 1 to {BATCH_LIMIT} recipients; got {}",
            recipients.len()
        )));
    }
    Ok(recipients
        .into_iter()
        .map(|recipient| send::Recipient {
            address: recipient.address,
            role: recipient.role.0,
            person: recipient.person.map(RecordRef::from),
        })
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSendRequest {
    class: Api<MessageClass>,
    #[serde(default)]
    purpose: Option<String>,
    recipients: Vec<RecipientDto>,
}

#[derive(Debug, Serialize)]
pub struct DecisionDto {
    address: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    basis: Option<Api<LawfulBasis>>,
    /// True when a marketing send relies on legitimate interests only because its consent
    /// awaits the person's answer (waiting, default yes).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    awaiting_consent: bool,
    /// `preferences_footer`, `strip_tracking`.
    obligations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Api<RefusalReason>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    detail: String,
}

impl DecisionDto {
    fn of(address: String, decision: send::Decision) -> DecisionDto {
        match decision {
            send::Decision::Allow(allowance) => DecisionDto {
                address,
                allowed: true,
                basis: Some(allowance.basis.into()),
                awaiting_consent: allowance.awaiting_consent,
                obligations: obligations(allowance.obligations),
                reason: None,
                detail: String::new(),
            },
            send::Decision::Refuse(refusal) => DecisionDto {
                address,
                allowed: false,
                basis: None,
                awaiting_consent: false,
                obligations: Vec::new(),
                reason: Some(refusal.reason.into()),
                detail: refusal.detail,
            },
        }
    }
}

fn obligations(flags: send::Obligations) -> Vec<String> {
    wire::obligation_texts(flags)
        .into_iter()
        .map(|text| text.replace('-', "_"))
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailDto {
    #[serde(default)]
    message_id: Option<String>,
    subject: String,
    text_body: String,
    #[serde(default)]
    html_body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    class: Api<MessageClass>,
    #[serde(default)]
    purpose: Option<String>,
    mail: MailDto,
    recipients: Vec<RecipientDto>,
}

#[derive(Debug, Serialize)]
pub struct RenderingDto {
    address: String,
    send: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    html_body: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Api<RefusalReason>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    detail: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordDto {
    /// The CRM's id of the record.
    id: String,
    /// Every field the CRM holds for the record, including `email`.
    fields: BTreeMap<String, String>,
    /// The CRM's status of the record (e.g. `Active`, `Duplicate`); kept when left out.
    #[serde(default)]
    status: Option<String>,
    /// When the CRM last modified the record, unix milliseconds; now when left out.
    #[serde(default)]
    modified_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsRequest {
    records: Vec<RecordDto>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckEditRequest {
    changes: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct EditRefusalDto {
    field: String,
    reason: Api<crate::contract::records::EditRefusalReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consent_id: Option<String>,
    detail: String,
}

impl From<EditRefusal> for EditRefusalDto {
    fn from(refusal: EditRefusal) -> EditRefusalDto {
        EditRefusalDto {
            field: refusal.field,
            reason: Api(refusal.reason),
            consent_id: refusal.consent_id,
            detail: refusal.detail,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClauseDto {
    field: String,
    op: Api<ConditionOp>,
    #[serde(default)]
    values: Vec<String>,
}

/// A consent as the API reads and writes it. `kind` is `data`, `custom`,
/// `email_tracking` or `document_tracking`; `field` names a data consent's field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDto {
    #[serde(default, skip_deserializing)]
    id: String,
    module: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    title: String,
    purpose: String,
    default_value: Api<ConsentDefault>,
    #[serde(default)]
    applies_when: Vec<ClauseDto>,
    #[serde(default, skip_deserializing)]
    purpose_version: u32,
    #[serde(default, skip_deserializing)]
    purpose_hash: String,
}

impl ConsentDto {
    fn definition(self, id: String) -> Result<config::ConsentDefinition, ApiError> {
        // The API writes the kinds' names in snake_case.
        let name = wire::CONSENT_KINDS
            .iter()
            .map(|(name, _)| *name)
            .find(|name| name.replace('-', "_") == self.kind)
            .unwrap_or_default();
        let kind = match wire::kind_of(name, self.field) {
            Ok(kind) => kind,
            Err(wire::KindError::FieldMissing) => {
                return Err(ApiError::invalid(
                    "a `data` consent names its `field`, e.g. \"field\": \"phone\"",
                ));
            }
            Err(wire::KindError::FieldNotExpected(_)) => {
                return Err(ApiError::invalid(format!(
                    "only a `data` consent names a `field`, not `{}`",
                    self.kind
                )));
            }
            Err(wire::KindError::Unknown(_)) => {
                let known: Vec<String> = wire::CONSENT_KINDS
                    .iter()
                    .map(|(name, _)| format!("`{}`", name.replace('-', "_")))
                    .collect();
                return Err(ApiError::invalid(format!(
                    "`kind` is one of {}, not `{}`",
                    known.join(", "),
                    self.kind
                )));
            }
        };
        Ok(config::ConsentDefinition {
            id,
            module: self.module,
            kind,
            title: self.title,
            purpose: self.purpose,
            default_value: self.default_value.0,
            applies_when: self
                .applies_when
                .into_iter()
                .map(|clause| config::ConditionClause {
                    field: clause.field,
                    op: clause.op.0,
                    values: clause.values,
                })
                .collect(),
        })
    }
}

impl From<config::StoredDefinition> for ConsentDto {
    fn from(stored: config::StoredDefinition) -> ConsentDto {
        let definition = stored.definition;
        let kind = wire::kind_name(&definition.kind).replace('-', "_");
        let field = match definition.kind {
            config::ConsentKind::Data(field) => Some(field),
            _ => None,
        };
        ConsentDto {
            id: definition.id,
            module: definition.module,
            kind,
            field,
            title: definition.title,
            purpose: definition.purpose,
            default_value: definition.default_value.into(),
            applies_when: definition
                .applies_when
                .into_iter()
                .map(|clause| ClauseDto {
                    field: clause.field,
                    op: clause.op.into(),
                    values: clause.values,
                })
                .collect(),
            purpose_version: stored.purpose_version,
            purpose_hash: stored.purpose_hash,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldClassDto {
    #[serde(default, skip_deserializing)]
    field: String,
    personal: bool,
    #[serde(default)]
    essential: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    encrypted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    confirm_deduplication: bool,
}

#[derive(Debug, Serialize)]
pub struct SubjectDto {
    person: RecordRefDto,
    address: String,
    status: Api<PersonStatus>,
    consents: Vec<ConsentStateDto>,
}

#[derive(Debug, Serialize)]
pub struct ConsentStateDto {
    consent_id: String,
    value: Api<ConsentValue>,
    since: i64,
    purpose_version: u32,
}

impl From<subj::SubjectView> for SubjectDto {
    fn from(view: subj::SubjectView) -> SubjectDto {
        SubjectDto {
            person: view.person.into(),
            address: view.address,
            status: view.status.into(),
            consents: view
                .consents
                .into_iter()
                .map(|state| ConsentStateDto {
                    consent_id: state.consent_id,
                    value: state.value.into(),
                    since: state.since,
                    purpose_version: state.purpose_version,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    consent_id: String,
    grant: bool,
    /// Only `api`, the channel it arrives by: a caller cannot claim that the person
    /// answered on the page, or that the daily run did anything.
    #[serde(default)]
    source: Option<String>,
    evidence: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    evidence: String,
}

fn record_error(error: subj::RecordError) -> ApiError {
    match error {
        subj::RecordError::UnknownPerson(reference) => ApiError::not_found(format!(
            "no person {}/{} is known to Privacy Guard",
            reference.module, reference.id
        )),
        subj::RecordError::UnknownConsent(id) => {
            ApiError::not_found(format!("no consent `{id}` is defined"))
        }
        subj::RecordError::NotApplicable(id) => ApiError::refused(
            "consent_not_applicable",
            format!("the consent `{id}` does not apply to this person"),
        ),
        subj::RecordError::EvidenceRequired => ApiError::invalid(
            "say where the decision or request comes from: the evidence or reason is empty",
        ),
        subj::RecordError::StatusRefused(why) => ApiError::refused("status_refused", why),
        subj::RecordError::ActorRequired => {
            ApiError::internal("the API key has no name to record as the actor")
        }
    }
}

fn person(module: String, id: String) -> RecordRef {
    RecordRef { module, id }
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
    let decisions = blocking(&tenant, move |guard| {
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
    let renderings = blocking(&tenant, move |guard| {
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
    let report = blocking(&tenant, move |guard| {
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
    let refusals = blocking(&tenant, move |guard| guard.check_edit(&reference, &changes)).await?;
    let refusals: Vec<EditRefusalDto> = refusals.into_iter().map(EditRefusalDto::from).collect();
    Ok(Json(serde_json::json!({
        "allowed": refusals.is_empty(),
        "refusals": refusals,
    })))
}

async fn get_settings(tenant: Authenticated) -> Result<Json<SettingsView>, ApiError> {
    let snapshot = blocking(&tenant, |guard| guard.configuration()).await?;
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
    let saved = blocking(tenant, move |guard| guard.change_settings(patch)).await?;
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
    let snapshot = blocking(&tenant, |guard| guard.configuration()).await?;
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
    let definition = consent.definition(id)?;
    let stored = blocking(&tenant, move |guard| guard.put_consent(&definition))
        .await?
        .map_err(|problems| {
            ApiError::invalid("the consent was not saved").with_problems(problems)
        })?;
    Ok(Json(ConsentDto::from(stored)))
}

async fn delete_consent(
    tenant: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ConsentDto>, ApiError> {
    let deleted = blocking(&tenant, move |guard| guard.delete_consent(&id))
        .await?
        .map_err(|problem| ApiError::not_found(format!("{}: {}", problem.at, problem.message)))?;
    Ok(Json(ConsentDto::from(deleted)))
}

async fn enable(
    tenant: Authenticated,
    ApiJson(request): ApiJson<EnableRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let confirmed = request.confirm_deduplication;
    match blocking(&tenant, move |guard| guard.enable(confirmed)).await? {
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
    let (classes, suggested) = blocking(&tenant, move |guard| {
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
    blocking(&tenant, move |guard| {
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
    let plan = blocking(&tenant, |guard| guard.deduplication_preview()).await?;
    Ok(Json(plan_json(plan)))
}

async fn deduplicate(tenant: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let report = blocking(&tenant, |guard| guard.deduplicate()).await?;
    Ok(Json(report_json(report)))
}

async fn subject(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
) -> Result<Json<SubjectDto>, ApiError> {
    let reference = person(module, id);
    let shown = reference.clone();
    blocking(&tenant, move |guard| guard.subject(&reference))
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
    let events = blocking(&tenant, move |guard| guard.history(&reference)).await?;
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
    let view = blocking(tenant, move |guard| change(guard, &reference))
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

async fn preferences_link(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reference = person(module, id);
    let link = blocking(&tenant, move |guard| guard.preferences_link(&reference))
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
    let report = blocking(&tenant, move |guard| {
        guard.erase(&reference, &actor, &request.evidence)
    })
    .await?
    .map_err(record_error)?;
    Ok(Json(serde_json::json!({
        "erased_fields": report.erased_fields,
        "retained_fields": report.retained_fields,
    })))
}
