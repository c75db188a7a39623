//! `serve`: the preferences pages and the JSON API over HTTP, the daily consent runs on
//! schedule and the delivery of mail for every tenant (one task each), and the webhook
//! worker of each tenant with webhooks, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::http::server::Limits;
use privacy_guard_host::http::{PageLimits, Rate};
use privacy_guard_host::tenants::{Tenant, Tenants};
use privacy_guard_host::worker;
use tracing::Instrument;

pub(super) fn serve(
    mut tenants: Tenants,
    listen: SocketAddr,
    delivery_interval: Duration,
    limits: Limits,
    page_limits: &PageLimitFlags,
) -> anyhow::Result<ExitCode> {
    tenants.page_limits = page_limits.limits()?;
    let tenants = Arc::new(tenants);
    // The one runtime of the process: the guards' IO, the server and the workers.
    let runtime =
        privacy_guard_host::guard::io::runtime().context("could not start the server runtime")?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("could not listen on {listen}: is another server using it?"))?;
        tracing::info!(address = %listen, "serving the preferences pages at /preferences/{{token}} and /t/{{tenant}}/preferences/{{token}}, the JSON API at /api/v1, health at /health");
        // One scheduler and one delivery worker for all tenants (their logs name the tenant
        // at hand); a webhook worker per tenant with webhooks, woken by its commits. The
        // scheduler's first check of a tenant opens it and checks its preferences URL.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let default_tenant = tenants.default_tenant().map(|tenant| tenant.id.clone());
        let mut background = vec![
            (
                "scheduler",
                String::from("all"),
                tokio::spawn(worker::run_schedules(tenants.clone(), stopped.clone(), move |tenant, guard| {
                    warn_about_preferences_url(tenant, guard, default_tenant.as_deref(), listen)
                })),
            ),
            (
                "delivery worker",
                String::from("all"),
                tokio::spawn(worker::deliver_all_periodically(tenants.clone(), delivery_interval, stopped.clone())),
            ),
        ];
        for tenant in tenants.iter() {
            // Tenants with webhooks or returned mail to read are opened at start
            // (`open::open_tenants`).
            let Some(guard) = tenant.guard.if_open() else {
                continue;
            };
            if let Some(feedback) = guard.feedback_intake() {
                let span = tracing::info_span!("tenant", tenant = %tenant.id);
                background.push((
                    "returned mail reader",
                    tenant.id.clone(),
                    tokio::spawn(privacy_guard_host::worker::intake_periodically(guard.clone(), feedback.clone(), stopped.clone()).instrument(span)),
                ));
            }
            if guard.webhooks().is_some() {
                let span = tracing::info_span!("tenant", tenant = %tenant.id);
                background.push((
                    "webhook worker",
                    tenant.id.clone(),
                    tokio::spawn(worker::deliver_webhooks_periodically(guard.clone(), delivery_interval, stopped.clone()).instrument(span)),
                ));
            }
        }
        drop(stopped);
        let app = privacy_guard_host::http::app(tenants);
        privacy_guard_host::http::server::serve(listener, app, limits, shutdown).await;
        // Requests are done; let every scheduler and delivery worker finish its pass.
        stop.send_replace(true);
        for (name, tenant, task) in background {
            if let Err(error) = task.await {
                tracing::error!(%error, task = name, %tenant, "a background task failed while stopping");
            }
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The serve flags' limits on slow and idle clients (see [`Limits`]).
pub(super) fn limits(header_timeout: u64, request_timeout: u64, max_connections: u32) -> Limits {
    Limits {
        header_timeout: Duration::from_secs(header_timeout),
        request_timeout: Duration::from_secs(request_timeout),
        max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
    }
}

/// The serve flags' rate limits of the preferences pages (`PageLimits`; see "The page
/// under attack" in `docs/consent-rules.md`). A rate is COUNT/SECONDS, 0 for none.
#[derive(Debug, clap::Args)]
pub(super) struct PageLimitFlags {
    /// Requests of the preferences pages per client.
    #[arg(long, env = "PRIVACY_GUARD_PAGE_CLIENT_RATE", default_value_t = PageLimits::recommended().client)]
    page_client_rate: Rate,
    /// Refused links (not genuine, expired, nobody's) per client; once spent, the client's
    /// requests with a link are refused 429 until it refills.
    #[arg(long, env = "PRIVACY_GUARD_PAGE_REFUSED_LINK_RATE", default_value_t = PageLimits::recommended().refused_links)]
    page_refused_link_rate: Rate,
    /// Requests with one link, whoever makes them.
    #[arg(long, env = "PRIVACY_GUARD_PAGE_LINK_RATE", default_value_t = PageLimits::recommended().link)]
    page_link_rate: Rate,
    /// "Send me my link again" requests per client.
    #[arg(long, env = "PRIVACY_GUARD_PAGE_LINK_MAIL_RATE", default_value_t = PageLimits::recommended().link_mail)]
    page_link_mail_rate: Rate,
    /// The header a trusted reverse proxy puts the client's address in (e.g.
    /// X-Forwarded-For, whose last entry counts, or Forwarded). Without it the connection's
    /// address is the client's and such headers are ignored: set it only when clients
    /// cannot reach this server but through the proxy.
    #[arg(long, env = "PRIVACY_GUARD_TRUSTED_PROXY_HEADER")]
    trusted_proxy_header: Option<String>,
}

impl PageLimitFlags {
    fn limits(&self) -> anyhow::Result<PageLimits> {
        let forwarded_header = self
            .trusted_proxy_header
            .as_deref()
            .map(|name| {
                axum::http::HeaderName::try_from(name.trim().to_ascii_lowercase()).with_context(
                    || format!("--trusted-proxy-header `{name}` is not a header name"),
                )
            })
            .transpose()?;
        Ok(PageLimits {
            client: self.page_client_rate,
            refused_links: self.page_refused_link_rate,
            link: self.page_link_rate,
            link_mail: self.page_link_mail_rate,
            forwarded_header,
            ..PageLimits::recommended()
        })
    }
}

/// Warns when the links `tenant`'s mail carries would not reach this server.
fn warn_about_preferences_url(
    tenant: &Tenant,
    guard: &Guard,
    default_tenant: Option<&str>,
    listen: SocketAddr,
) {
    let Ok(configuration) = guard.configuration() else {
        tracing::warn!("could not read the settings to check the preferences URL");
        return;
    };
    let Some(settings) = configuration.settings else {
        return;
    };
    let bases: Vec<String> = if default_tenant == Some(tenant.id.as_str()) {
        vec![String::new(), format!("/t/{}", tenant.id)]
    } else {
        vec![format!("/t/{}", tenant.id)]
    };
    let problems: Vec<String> = bases
        .iter()
        .filter_map(|base| {
            privacy_guard_host::http::preferences_url_problem(
                &settings.preferences_url,
                listen,
                base,
            )
        })
        .collect();
    // Served under several paths, the URL is fine when one of them matches.
    if problems.len() == bases.len()
        && let Some(problem) = problems.first()
    {
        tracing::warn!("{problem}");
    }
}

/// Starts listening for SIGINT and SIGTERM at once, before the server says it is ready (a
/// signal sent right after must stop it gracefully, not kill it), and resolves when one
/// arrives. Call it inside the runtime.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let listeners = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match listeners {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {},
                    _ = terminate.recv() => {},
                }
            }
            (interrupt, terminate) => {
                let error = interrupt.err().or(terminate.err());
                tracing::warn!(error = ?error, "cannot listen for SIGTERM; stop with Ctrl-C");
                let _interrupted = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _interrupted = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
