//! Serving the routes over TCP with limits, so slow or idle clients cannot starve the
//! others: a connection must send its request headers within the header timeout (which
//! hyper also applies while a keep-alive connection waits for its next request, so it is
//! the idle keep-alive timeout too), a request's body must arrive and its answer be ready
//! within the request timeout (else 408), and at most `max_connections` connections are
//! served at once (further ones wait in the listen backlog). Stopping waits for requests
//! in flight and closes idle connections.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How long clients may take and how many may be connected at once.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to send a request's headers, and the longest a keep-alive connection stays
    /// open waiting for its next request.
    pub header_timeout: Duration,
    /// Time from the headers to the answer: reading the body and handling the request.
    pub request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then waits for the
/// requests in flight. Handlers see the peer's address as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let request_timeout = limits.request_timeout;
        let service = hyper::service::service_fn(move |request| {
            answer(app.clone(), request, peer, request_timeout)
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One request through the routes, answered 408 when it takes longer than `timeout`.
async fn answer(
    app: Router,
    mut request: hyper::Request<Incoming>,
    peer: SocketAddr,
    timeout: Duration,
) -> Result<Response, Infallible> {
    request.extensions_mut().insert(ConnectInfo(peer));
    match tokio::time::timeout(timeout, app.oneshot(request)).await {
        Ok(response) => response,
        Err(_elapsed) => Ok((
            StatusCode::REQUEST_TIMEOUT,
            [(axum::http::header::CONNECTION, "close")],
            "the request took too long\n",
        )
            .into_response()),
    }
}
