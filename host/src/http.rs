//! The host's HTTP side: the contact-facing preferences pages ([`page`]), the JSON API for
//! CRMs ([`api`]) and the health check ([`health`]), each tenant's under its own path.
//! Handlers run host operations, which block, through [`blocking`].

pub mod api;
mod health;
mod page;
pub mod server;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub use self::page::preferences_url_problem;
use crate::guard::{Guard, GuardError};
pub use crate::limits::{self, PageLimits, Rate};
use crate::tenants::{TenantGuard, Tenants};

/// The routes of a host with one tenant: the preferences page, the health check and the
/// API (which answers no key until keys are configured; see [`app`]).
pub fn router(guard: Arc<Guard>) -> Router {
    app(Arc::new(Tenants::single(guard, Vec::new())))
}

/// Every route of the host: `/health`; each tenant's preferences pages under
/// `/t/<tenant>/preferences/...`, the default tenant's also under `/preferences/...`; and
/// the JSON API under `/api/v1` (see [`crate::api`]).
pub fn app(tenants: Arc<Tenants>) -> Router {
    let checked = tenants.clone();
    let limiter = Arc::new(limits::Limiter::new(tenants.page_limits.clone()));
    let mut app = Router::new().route("/health", get(move || health::health(checked.clone())));
    if let Some(tenant) = tenants.default_tenant() {
        app = app.merge(page::preferences(
            tenant.guard.clone(),
            String::new(),
            limiter.clone(),
        ));
    }
    for tenant in tenants.iter() {
        let base = format!("/t/{}", tenant.id);
        app = app.nest(
            &base,
            page::preferences(tenant.guard.clone(), base.clone(), limiter.clone()),
        );
    }
    app.merge(api::router(tenants))
}

/// Runs a blocking host operation off the async workers (opening the tenant's guard first
/// if this is its first use).
pub(crate) async fn blocking<T: Send + 'static>(
    guard: &TenantGuard,
    work: impl FnOnce(&Guard) -> Result<T, GuardError> + Send + 'static,
) -> Result<T, GuardError> {
    let guard = guard.clone();
    tokio::task::spawn_blocking(move || work(&*guard.get()?)).await?
}
