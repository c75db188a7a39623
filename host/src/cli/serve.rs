//! `serve`: the preferences pages and the JSON API over HTTP, and per tenant the daily
//! consent run on schedule, the delivery worker and (with webhooks) the webhook worker,
//! until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::http::server::Limits;
use privacy_guard_host::tenants::Tenants;
use privacy_guard_host::worker;
use tracing::Instrument;

pub(super) fn serve(
    tenants: Tenants,
    listen: SocketAddr,
    delivery_interval: Duration,
    limits: Limits,
) -> anyhow::Result<ExitCode> {
    let tenants = Arc::new(tenants);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the server runtime")?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("could not listen on {listen}: is another server using it?"))?;
        tracing::info!(address = %listen, "serving the preferences pages at /preferences/{{token}} and /t/{{tenant}}/preferences/{{token}}, the JSON API at /api/v1, health at /health");
        warn_about_preferences_urls(&tenants, listen).await;
        // Each tenant has its scheduler and its delivery worker; their logs carry the tenant.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut background = Vec::new();
        for tenant in tenants.iter() {
            let span = tracing::info_span!("tenant", tenant = %tenant.id);
            background.push((
                "scheduler",
                tenant.id.clone(),
                tokio::spawn(run_schedule(tenant.guard.clone(), stopped.clone()).instrument(span.clone())),
            ));
            background.push((
                "delivery worker",
                tenant.id.clone(),
                tokio::spawn(worker::deliver_periodically(tenant.guard.clone(), delivery_interval, stopped.clone()).instrument(span.clone())),
            ));
            if tenant.guard.webhooks().is_some() {
                background.push((
                    "webhook worker",
                    tenant.id.clone(),
                    tokio::spawn(worker::deliver_webhooks_periodically(tenant.guard.clone(), delivery_interval, stopped.clone()).instrument(span)),
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

/// Warns, per tenant, when the links its mail carries would not reach this server.
async fn warn_about_preferences_urls(tenants: &Arc<Tenants>, listen: SocketAddr) {
    let default = tenants.default_tenant().map(|tenant| tenant.id.clone());
    for tenant in tenants.iter() {
        let guard = tenant.guard.clone();
        let configuration = tokio::task::spawn_blocking(move || guard.configuration()).await;
        let Ok(Ok(configuration)) = configuration else {
            tracing::warn!(tenant = %tenant.id, "could not read the settings to check the preferences URL");
            continue;
        };
        let Some(settings) = configuration.settings else {
            continue;
        };
        let bases: Vec<String> = if default.as_deref() == Some(tenant.id.as_str()) {
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
            tracing::warn!(tenant = %tenant.id, "{problem}");
        }
    }
}

/// Runs the daily consent run when due, every half minute. Mail goes through the delivery
/// worker.
async fn run_schedule(guard: Arc<Guard>, stop: tokio::sync::watch::Receiver<bool>) {
    worker::repeat_until_stopped(Duration::from_secs(30), stop, move || match guard.run_due() {
        Ok(Some(report)) => {
            tracing::info!(period = %report.period, people = report.people, requests = report.requests, "daily consent run finished")
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the scheduled run failed; it is retried at the next tick")
        }
    })
    .await;
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
