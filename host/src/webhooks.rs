//! Signed webhooks: the change feed ([`crate::changes`]) pushed to a tenant's endpoints in
//! order, in batches, each a JSON `POST` with a signature and an idempotency key.
//!
//! A pass claims each endpoint's next batch ([`Database::claim_webhook_batch`]; the batch
//! is durable, so a restart or a second host process neither loses nor re-opens it), builds
//! its body from the log (the same bytes on every attempt: the log is append-only), posts
//! it, and records what became of it: a 2xx answer delivers it, anything else (another
//! status, a refused connection, a timeout) makes it wait like queued mail (1 min doubling
//! to 1 h, [`RetryPolicy`]) and, after the last attempt, fails it for an operator
//! (`privacy-guard webhooks`, `--retry-failed`). The next batch is opened only after the
//! last one was delivered, so an endpoint sees the feed in order, at least once.
//!
//! Each request carries `Privacy-Guard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>." + body under the endpoint's secret>` and `Idempotency-Key: <delivery id>`; the
//! body is `{"delivery", "after", "next", "changes"}`. Secrets never reach the database,
//! the logs or `Debug`; logs name an endpoint without its query.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use sha2::Sha256;

use crate::changes::{Change, cursor_text, read_changes};
use crate::mail::RetryPolicy;
use crate::storage::{Database, StorageError, WebhookBatch, WebhookClaim};

/// Most changes in one delivery.
pub const WEBHOOK_BATCH: usize = 100;

/// How long one request may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a claim keeps other host processes off a batch.
const CLAIM_LEASE: Duration = Duration::from_secs(10 * 60);

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Privacy-Guard-Signature";

/// A webhook secret: never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> WebhookSecret {
        WebhookSecret(secret.into())
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WebhookSecret(..)")
    }
}

/// Why a webhook endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "the webhook URL `{0}` is not an http:// or https:// URL with a host: write it as https://crm.example/privacy-guard/changes"
    )]
    Url(String),
    #[error("the webhook URL `{0}` names the same endpoint twice: give each endpoint once")]
    Twice(String),
    #[error("the webhook secret of {0} is empty: give a secret of at least 16 characters")]
    EmptySecret(String),
    #[error(
        "the webhook secret of {0} is shorter than 16 characters: use a long random secret (e.g. `openssl rand -hex 32`)"
    )]
    ShortSecret(String),
    #[error("the TLS settings for https:// webhooks could not be made: {0}")]
    Tls(String),
}

/// An endpoint: where the feed goes and the secret its requests are signed with.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    url: String,
    uri: Uri,
    secret: WebhookSecret,
}

impl WebhookEndpoint {
    /// An endpoint at `url` (http:// or https://), signed with `secret`.
    pub fn new(url: &str, secret: WebhookSecret) -> Result<WebhookEndpoint, WebhookError> {
        let uri: Uri = url.parse().map_err(|_| WebhookError::Url(url.to_owned()))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        if !scheme_ok || uri.host().is_none_or(str::is_empty) {
            return Err(WebhookError::Url(url.to_owned()));
        }
        let endpoint = WebhookEndpoint {
            url: url.to_owned(),
            uri,
            secret,
        };
        if endpoint.secret.0.is_empty() {
            return Err(WebhookError::EmptySecret(endpoint.label()));
        }
        if endpoint.secret.0.len() < 16 {
            return Err(WebhookError::ShortSecret(endpoint.label()));
        }
        Ok(endpoint)
    }

    /// The URL, which names the endpoint's deliveries in the database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without its query, for logs.
    fn label(&self) -> String {
        format!(
            "{}://{}{}",
            self.uri.scheme_str().unwrap_or_default(),
            self.uri.authority().map(|a| a.as_str()).unwrap_or_default(),
            self.uri.path()
        )
    }
}

/// `v1` of the signature: hex HMAC-SHA256 of `"<timestamp>." + body` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `Privacy-Guard-Signature` header's value.
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// A batch's body.
#[derive(Debug, Serialize)]
struct Body<'a> {
    delivery: &'a str,
    /// The feed cursor the batch starts after…
    after: String,
    /// …and the cursor after it (what `GET /api/v1/changes?after=` takes next).
    next: String,
    changes: Vec<Change>,
}

/// What one pass did, in batches.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebhookReport {
    pub delivered: u64,
    pub deferred: u64,
    pub failed: u64,
}

/// A tenant's webhook endpoints and their delivery.
pub struct Webhooks {
    endpoints: Vec<WebhookEndpoint>,
    retry: RetryPolicy,
    /// Who this process is when claiming batches.
    claimant: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// One pass at a time in this process.
    pass: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Webhooks")
            .field("endpoints", &self.endpoints.len())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// The endpoints, retried as `retry` says. The TLS roots (the system's) are loaded only
    /// when an endpoint is https://.
    pub fn new(
        endpoints: Vec<WebhookEndpoint>,
        retry: RetryPolicy,
    ) -> Result<Webhooks, WebhookError> {
        for (index, endpoint) in endpoints.iter().enumerate() {
            if endpoints[..index]
                .iter()
                .any(|other| other.url == endpoint.url)
            {
                return Err(WebhookError::Twice(endpoint.label()));
            }
        }
        let tls = endpoints
            .iter()
            .any(|endpoint| endpoint.uri.scheme_str() == Some("https"))
            .then(tls_config)
            .transpose()?;
        Ok(Webhooks {
            endpoints,
            retry,
            claimant: uuid::Uuid::now_v7().simple().to_string(),
            tls,
            pass: tokio::sync::Mutex::new(()),
        })
    }

    pub fn endpoints(&self) -> &[WebhookEndpoint] {
        &self.endpoints
    }

    /// Delivers, endpoint by endpoint, every batch due at `now`, until each endpoint is
    /// caught up or waits after a failed attempt.
    pub async fn deliver_pending(
        &self,
        database: &Database,
        now: i64,
    ) -> Result<WebhookReport, StorageError> {
        let _pass = self.pass.lock().await;
        let mut report = WebhookReport::default();
        for endpoint in &self.endpoints {
            self.deliver_endpoint(database, endpoint, now, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn deliver_endpoint(
        &self,
        database: &Database,
        endpoint: &WebhookEndpoint,
        now: i64,
        report: &mut WebhookReport,
    ) -> Result<(), StorageError> {
        let claimed_until = now.saturating_add(CLAIM_LEASE.as_millis() as i64);
        loop {
            let claim = database
                .claim_webhook_batch(&endpoint.url, &self.claimant, now, claimed_until)
                .await?;
            let batch = match claim {
                WebhookClaim::Blocked => return Ok(()),
                WebhookClaim::Batch(batch) => batch,
                WebhookClaim::Open { position } => {
                    let page = read_changes(database, position, WEBHOOK_BATCH, None).await?;
                    if page.changes.is_empty() {
                        return Ok(());
                    }
                    let id = uuid::Uuid::now_v7().simple().to_string();
                    let opened = database
                        .open_webhook_batch(
                            &endpoint.url,
                            position,
                            page.next,
                            page.changes.len() as u64,
                            &id,
                            &self.claimant,
                            now,
                            claimed_until,
                        )
                        .await?;
                    match opened {
                        Some(batch) => batch,
                        // Another process opened it: its claim decides.
                        None => return Ok(()),
                    }
                }
            };
            if !self
                .attempt(database, endpoint, &batch, now, report)
                .await?
            {
                return Ok(());
            }
        }
    }

    /// Posts one batch and records the outcome; whether it was delivered.
    async fn attempt(
        &self,
        database: &Database,
        endpoint: &WebhookEndpoint,
        batch: &WebhookBatch,
        now: i64,
        report: &mut WebhookReport,
    ) -> Result<bool, StorageError> {
        let page = read_changes(
            database,
            batch.after_sequence,
            usize::MAX,
            Some(batch.through_sequence),
        )
        .await?;
        let body = Body {
            delivery: &batch.delivery_id,
            after: cursor_text(batch.after_sequence),
            next: cursor_text(batch.through_sequence),
            changes: page.changes,
        };
        let body = serde_json::to_string(&body).map_err(|error| StorageError::Database {
            operation: "encoding a webhook delivery",
            source: sqlx::Error::Encode(error.into()),
        })?;
        let outcome = tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.post(endpoint, &batch.delivery_id, body, now),
        )
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {} seconds",
                REQUEST_TIMEOUT.as_secs()
            ))
        });
        let attempt = batch.attempts + 1;
        let problem = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                database
                    .mark_webhook_delivered(&batch.delivery_id, now)
                    .await?;
                tracing::debug!(endpoint = %endpoint.label(), delivery = %batch.delivery_id, through = batch.through_sequence, "webhook delivered");
                report.delivered += 1;
                return Ok(true);
            }
            Ok(status) => format!("the endpoint answered {status}"),
            Err(problem) => problem,
        };
        match self.retry.wait_after(attempt) {
            Some(wait) => {
                let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                database
                    .record_webhook_failure(
                        &batch.delivery_id,
                        &problem,
                        Some(now.saturating_add(wait_ms)),
                        now,
                    )
                    .await?;
                tracing::warn!(endpoint = %endpoint.label(), delivery = %batch.delivery_id, attempt, retry_in_seconds = wait.as_secs(), %problem, "webhook not delivered; it is tried again later");
                report.deferred += 1;
            }
            None => {
                let problem = format!("{problem} (gave up after {attempt} attempts)");
                database
                    .record_webhook_failure(&batch.delivery_id, &problem, None, now)
                    .await?;
                tracing::error!(endpoint = %endpoint.label(), delivery = %batch.delivery_id, attempt, %problem, "webhook not delivered and not tried again: the endpoint's later changes wait; fix it, then run `privacy-guard webhooks --retry-failed`");
                report.failed += 1;
            }
        }
        Ok(false)
    }

    /// Posts `body` to the endpoint; the status, or why there was none.
    async fn post(
        &self,
        endpoint: &WebhookEndpoint,
        delivery_id: &str,
        body: String,
        now: i64,
    ) -> Result<u16, String> {
        let uri = &endpoint.uri;
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let timestamp = now.div_euclid(1000);
        let request = hyper::Request::post(uri.path_and_query().map_or("/", |path| path.as_str()))
            .header(
                hyper::header::HOST,
                uri.authority().map(|a| a.as_str()).unwrap_or(host),
            )
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("privacy-guard/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                SIGNATURE_HEADER,
                signature_header(&endpoint.secret.0, timestamp, body.as_bytes()),
            )
            .header("Idempotency-Key", delivery_id)
            .body(body)
            .map_err(|error| format!("the request could not be made: {error}"))?;
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|error| format!("could not connect: {error}"))?;
        match (&self.tls, https) {
            (Some(tls), true) => {
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|error| format!("not a TLS server name: {error}"))?;
                let stream = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|error| format!("TLS failed: {error}"))?;
                send(TokioIo::new(stream), request).await
            }
            (None, true) => Err("no TLS settings for an https:// endpoint".to_owned()),
            (_, false) => send(TokioIo::new(tcp), request).await,
        }
    }
}

/// Sends `request` over a fresh HTTP/1.1 connection on `io`; the status.
async fn send<I>(io: I, request: hyper::Request<String>) -> Result<u16, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| format!("HTTP handshake failed: {error}"))?;
    let connection = tokio::spawn(connection);
    let response = sender.send_request(request).await;
    connection.abort();
    response
        .map(|response| response.status().as_u16())
        .map_err(|error| format!("the request failed: {error}"))
}

/// TLS with the system's root certificates (ring, as lettre's SMTP uses).
fn tls_config() -> Result<Arc<rustls::ClientConfig>, WebhookError> {
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(WebhookError::Tls(format!(
            "no usable root certificate was found on this system ({ignored} unusable, {} errors); install the CA certificates (e.g. the ca-certificates package)",
            loaded.errors.len()
        )));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| WebhookError::Tls(error.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_time_dot_body() {
        // Computed independently:
        // `printf 1.x | openssl dgst -sha256 -hmac Jefe`.
        assert_eq!(
            signature(b"Jefe", 1, b"x"),
            "2f7ccbd0f043456ad29514b2d24a8aa345ec6673a5db1b44e91c8ac99d1841e3"
        );
        let header = signature_header(b"secret", 1_764_000_000, b"{}");
        assert!(header.starts_with("t=1764000000,v1="), "{header}");
        assert_ne!(
            signature(b"secret", 1, b"{}"),
            signature(b"secret", 2, b"{}")
        );
    }

    #[test]
    fn endpoints_are_http_urls_with_long_secrets_and_keep_them_out_of_debug() {
        let secret = || WebhookSecret::new("0123456789abcdef0123");
        let endpoint = WebhookEndpoint::new("https://crm.example/hook?token=x", secret()).unwrap();
        assert_eq!(endpoint.label(), "https://crm.example/hook");
        assert!(!format!("{endpoint:?}").contains("0123456789abcdef"));
        for wrong in ["ftp://crm.example/", "crm.example/hook", "http:///x", ""] {
            assert!(WebhookEndpoint::new(wrong, secret()).is_err(), "{wrong}");
        }
        let short = WebhookEndpoint::new("http://crm.example/", WebhookSecret::new("short"));
        assert!(matches!(short, Err(WebhookError::ShortSecret(_))));
        let twice = Webhooks::new(
            vec![
                WebhookEndpoint::new("http://crm.example/", secret()).unwrap(),
                WebhookEndpoint::new("http://crm.example/", secret()).unwrap(),
            ],
            RetryPolicy::default(),
        );
        assert!(matches!(twice, Err(WebhookError::Twice(_))));
    }
}
