//! `GET /health`: whether every open tenant's database answers.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::blocking;
use crate::tenants::Tenants;

/// `200 {"status": "ok", "tenants": {...}}` when every tenant's database answers, `503`
/// with `"degraded"` and the failing tenants marked `unavailable` otherwise (the cause is
/// logged, not shown). A tenant not opened yet (opened on first use) is `idle` and not
/// opened for this: a check must not open ten thousand databases.
pub(super) async fn health(tenants: Arc<Tenants>) -> Response {
    let mut states = serde_json::Map::new();
    let mut healthy = true;
    for tenant in tenants.iter() {
        if tenant.guard.if_open().is_none() {
            states.insert(tenant.id.clone(), "idle".into());
            continue;
        }
        let state = match blocking(&tenant.guard, |guard| guard.check_health()).await {
            Ok(()) => "ok",
            Err(error) => {
                tracing::error!(tenant = %tenant.id, %error, "health check: the database does not answer");
                "unavailable"
            }
        };
        healthy &= state == "ok";
        states.insert(tenant.id.clone(), state.into());
    }
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "degraded" },
        "tenants": states,
    });
    (status, Json(body)).into_response()
}
