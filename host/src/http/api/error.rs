//! The API's errors (`{"error": {"code", "message", "problems"}}` with the status the code
//! implies), its JSON body extractor, and authentication by API key with the scope the
//! route requires.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::BODY_LIMIT;
use super::dto::ProblemDto;
use crate::contract::configuration as config;
use crate::contract::subjects as subj;
use crate::guard::GuardError;
use crate::tenants::{Scope, Tenant, Tenants};

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
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub(super) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(super) fn refused(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub(super) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub(super) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub(super) fn with_problems(mut self, problems: Vec<config::Problem>) -> ApiError {
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
                    format!("{}; retry later", error.summary()),
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

/// A JSON object body whose rejection is an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<Object<T>>::from_request(request, state).await {
            Ok(Json(Object(value))) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `T` read from a JSON object only. Serde's derived structs also take an array, their
/// fields by position (`[null, null]` was a valid settings patch); every body of the API is
/// an object with named fields, as docs/openapi.json says, so anything else is refused.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
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

/// The scope a route requires, put into the request's extensions by the route table
/// (`api.rs`) for [`Authenticated`] to check.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequiredScope(pub(super) Scope);

/// The tenant the request's API key belongs to, and the key as the actor of what the
/// request does (every event it writes names the key). Extracting it refuses a key that
/// lacks the scope the route requires.
pub struct Authenticated(pub(super) Arc<Tenant>, pub(super) subj::StaffActor);

impl FromRequestParts<Arc<Tenants>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        tenants: &Arc<Tenants>,
    ) -> Result<Self, ApiError> {
        // The scheme is case-insensitive (RFC 9110 §11.1). Basic authentication's
        // password is a key too, for senders that can only put credentials in a URL (the
        // mail services' webhooks, `api/feedback.rs`).
        let basic = basic_password(&parts.headers);
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .or(basic.as_deref())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send the tenant's API key as `Authorization: Bearer <key>`",
                )
            })?;
        let (tenant, api_key) = tenants.authenticate(key).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the API key is not valid for any tenant",
            )
        })?;
        // A route the table gave no scope is refused to every key: failing closed.
        let Some(RequiredScope(required)) = parts.extensions.get::<RequiredScope>().copied() else {
            tracing::error!(path = %parts.uri.path(), "an API route has no required scope");
            return Err(ApiError::internal(
                "this route names no required scope, so no key may call it; report this as a bug",
            ));
        };
        if !api_key.scopes.grants(required) {
            return Err(ApiError::forbidden(format!(
                "{} {} needs the scope `{required}`; the key `{}` has {} (give it a key with `{required}`, written `NAME:{required}=sha256:…`)",
                parts.method,
                parts.uri.path(),
                api_key.name,
                api_key.scopes,
            )));
        }
        let actor = subj::StaffActor {
            channel: subj::StaffChannel::Api,
            name: api_key.name,
        };
        Ok(Authenticated(tenant, actor))
    }
}

/// The password of `Authorization: Basic` (base64 of `user:password`), if that is what the
/// request sent.
fn basic_password(headers: &axum::http::HeaderMap) -> Option<String> {
    use base64::Engine;
    let (scheme, encoded) = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_, password) = decoded.split_once(':')?;
    Some(password.to_owned())
}

pub(super) fn record_error(error: subj::RecordError) -> ApiError {
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
