//! Delivery through an SMTP server: the settings (read from an `smtp://` URL), the lettre
//! transport built from them, and what each kind of SMTP failure means for a queued mail.
//!
//! The password never travels in the URL and never appears in `Debug` output or errors.
//! Server replies may quote addresses, so everything this module reports has them
//! replaced by `<address>` (see [`super::redact_addresses`]).

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Attempt, DeliveryError, MessageError, redact_addresses, render};
use crate::storage::{OutboxEntry, QueuedMail};

/// How long connecting and each SMTP command may take, unless the URL says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest timeout the URL may ask for.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(600);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a relay on the same machine or network; never with a password).
    None,
    /// Plain connection upgraded with STARTTLS; refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl SmtpSecurity {
    fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

/// The login at the SMTP server. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub username: String,
    password: String,
}

impl SmtpCredentials {
    pub fn new(username: String, password: String) -> SmtpCredentials {
        SmtpCredentials { username, password }
    }
}

impl std::fmt::Debug for SmtpCredentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Where and how to hand mail to an SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<SmtpCredentials>,
    /// Limit for connecting and for each command.
    pub timeout: Duration,
    /// A PEM file of certificate authorities trusted for the server's certificate besides
    /// the system's (a relay with a private CA).
    pub ca_file: Option<PathBuf>,
    /// The VERP return path (`return_path=bounces@example.org`): each mail's `MAIL FROM`
    /// names it ([`super::verp`]); none: the sender's address.
    pub return_path: Option<String>,
}

/// Why SMTP settings were refused. No variant carries the password or the whole URL.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmtpSettingsError {
    #[error(
        "`{0}` is not an SMTP URL: write smtp://[USER@]HOST[:PORT][?security=starttls|tls|none]"
    )]
    NotSmtp(String),
    #[error(
        "the SMTP URL does not start with smtp://: write smtp://[USER@]HOST[:PORT][?security=starttls|tls|none]"
    )]
    NoScheme,
    #[error("write smtp://HOST?security=tls for TLS from the first byte (SMTPS), not smtps://")]
    SmtpsScheme,
    #[error(
        "the SMTP URL contains a password: remove it from the URL and give it separately (it would show in process lists and logs)"
    )]
    PasswordInUrl,
    #[error("the SMTP URL names no server: write smtp://HOST or smtp://USER@HOST")]
    NoHost,
    #[error("`{0}` is not a port: write a number from 1 to 65535 after the host, e.g. :587")]
    BadPort(String),
    #[error(
        "the SMTP URL has a path (`{0}`): only ?security=..., ?timeout=... and ?ca_file=... may follow the server"
    )]
    UnexpectedPath(String),
    #[error("`security={0}` is unknown: write security=starttls, security=tls or security=none")]
    BadSecurity(String),
    #[error("`timeout={0}` is not a timeout: write whole seconds from 1 to 600, e.g. timeout=30")]
    BadTimeout(String),
    #[error("`{0}` is not an SMTP URL parameter: the parameters are security, timeout and ca_file")]
    UnknownParameter(String),
    #[error("the SMTP URL has `{0}` twice")]
    RepeatedParameter(String),
    #[error("an SMTP password is given but the SMTP URL names no user: write smtp://USER@HOST")]
    PasswordWithoutUser,
    #[error("the SMTP URL names a user but no SMTP password is given")]
    UserWithoutPassword,
    #[error(
        "refusing to send the SMTP password over an unencrypted connection: use security=starttls or security=tls"
    )]
    PasswordInPlainText,
    #[error(
        "`ca_file` is only used with TLS: use security=starttls or security=tls, or drop ca_file"
    )]
    CaFileWithoutTls,
    #[error("could not read the certificate authorities in {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("the SMTP connection pool needs a tokio runtime: {0}")]
    NoRuntime(String),
    #[error("TLS cannot be set up for the SMTP server `{host}`: {reason}")]
    Tls { host: String, reason: String },
}

impl SmtpSettings {
    /// Reads `smtp://[USER@]HOST[:PORT][?security=starttls|tls|none&timeout=SECONDS&ca_file=PATH&return_path=ADDRESS]`.
    /// The security defaults to `starttls`; the port to 587 for STARTTLS, 465 for TLS and
    /// 25 without security. A user needs `password`, which never comes in the URL.
    pub fn from_url(
        url: &str,
        password: Option<String>,
    ) -> Result<SmtpSettings, SmtpSettingsError> {
        let Some(rest) = url.strip_prefix("smtp://") else {
            if url.starts_with("smtps://") {
                return Err(SmtpSettingsError::SmtpsScheme);
            }
            return Err(match url.split_once("://") {
                Some((scheme, _)) => SmtpSettingsError::NotSmtp(format!("{scheme}://")),
                // Not echoed: without a scheme it may hold anything, a password included.
                None => SmtpSettingsError::NoScheme,
            });
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = location.split_once('/').unwrap_or((location, ""));
        if !path.is_empty() {
            return Err(SmtpSettingsError::UnexpectedPath(format!("/{path}")));
        }
        // The user may itself be an address: the server follows the last `@`.
        let (user, server) = match authority.rsplit_once('@') {
            Some((user, server)) => (Some(user), server),
            None => (None, authority),
        };
        if user.is_some_and(|user| user.contains(':')) {
            return Err(SmtpSettingsError::PasswordInUrl);
        }
        let user = user.map(percent_decode).filter(|user| !user.is_empty());
        let (host, port) = split_host_port(server)?;

        let mut security = None;
        let mut timeout = None;
        let mut return_path = None;
        let mut ca_file = None;
        for parameter in query.split('&').filter(|parameter| !parameter.is_empty()) {
            let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            let value = percent_decode(value);
            let repeated = || SmtpSettingsError::RepeatedParameter(name.to_owned());
            match name {
                "security" => {
                    let parsed = match value.as_str() {
                        "none" => SmtpSecurity::None,
                        "starttls" => SmtpSecurity::StartTls,
                        "tls" => SmtpSecurity::Tls,
                        _ => return Err(SmtpSettingsError::BadSecurity(value)),
                    };
                    if security.replace(parsed).is_some() {
                        return Err(repeated());
                    }
                }
                "timeout" => {
                    let seconds = value
                        .strip_suffix('s')
                        .unwrap_or(&value)
                        .parse::<u64>()
                        .ok()
                        .map(Duration::from_secs)
                        .filter(|timeout| {
                            (Duration::from_secs(1)..=LONGEST_TIMEOUT).contains(timeout)
                        })
                        .ok_or_else(|| SmtpSettingsError::BadTimeout(value.clone()))?;
                    if timeout.replace(seconds).is_some() {
                        return Err(repeated());
                    }
                }
                "ca_file" => {
                    if ca_file.replace(PathBuf::from(value)).is_some() {
                        return Err(repeated());
                    }
                }
                "return_path" => {
                    if !value.contains('@') || value.contains(char::is_whitespace) {
                        return Err(SmtpSettingsError::UnknownParameter(
                            "return_path (not an address)".to_owned(),
                        ));
                    }
                    if return_path.replace(value).is_some() {
                        return Err(repeated());
                    }
                }
                _ => return Err(SmtpSettingsError::UnknownParameter(name.to_owned())),
            }
        }
        let security = security.unwrap_or(SmtpSecurity::StartTls);
        let credentials = match (user, password) {
            (Some(username), Some(password)) => Some(SmtpCredentials::new(username, password)),
            (None, None) => None,
            (None, Some(_)) => return Err(SmtpSettingsError::PasswordWithoutUser),
            (Some(_), None) => return Err(SmtpSettingsError::UserWithoutPassword),
        };
        if credentials.is_some() && security == SmtpSecurity::None {
            return Err(SmtpSettingsError::PasswordInPlainText);
        }
        if ca_file.is_some() && security == SmtpSecurity::None {
            return Err(SmtpSettingsError::CaFileWithoutTls);
        }
        Ok(SmtpSettings {
            port: port.unwrap_or_else(|| security.default_port()),
            host,
            security,
            credentials,
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            ca_file,
            return_path,
        })
    }

    /// `host:port`, for messages.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(server: &str) -> Result<(String, Option<u16>), SmtpSettingsError> {
    let (host, port) = if let Some(bracketed) = server.strip_prefix('[') {
        // An IPv6 literal: [::1]:25
        let (host, after) = bracketed.split_once(']').ok_or(SmtpSettingsError::NoHost)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').unwrap_or(after)),
        };
        (host, port)
    } else {
        match server.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (server, None),
        }
    };
    if host.is_empty() {
        return Err(SmtpSettingsError::NoHost);
    }
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| SmtpSettingsError::BadPort(port.to_owned()))
        })
        .transpose()?;
    Ok((host.to_owned(), port))
}

/// Decodes `%XX` escapes (a user name that is an address: `me%40example.org`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// A connection pool to one SMTP server.
pub(super) struct SmtpSender {
    /// Taken only when dropped.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    server: String,
    /// The VERP return path, if set.
    return_path: Option<String>,
    /// The runtime the pool lives on: dropping the pool starts a task there.
    runtime: tokio::runtime::Handle,
}

impl Drop for SmtpSender {
    fn drop(&mut self) {
        let _runtime = self.runtime.enter();
        drop(self.transport.take());
    }
}

impl SmtpSender {
    /// Builds the transport. Must run inside a tokio runtime (the pool starts a task).
    pub(super) fn new(settings: &SmtpSettings) -> Result<SmtpSender, SmtpSettingsError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|error| SmtpSettingsError::NoRuntime(error.to_string()))?;
        let tls_error = |error: lettre::transport::smtp::Error| SmtpSettingsError::Tls {
            host: settings.host.clone(),
            reason: error.to_string(),
        };
        let tls_parameters = || -> Result<TlsParameters, SmtpSettingsError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(path) = &settings.ca_file {
                let unreadable = |reason: String| SmtpSettingsError::CaFile {
                    path: path.clone(),
                    reason,
                };
                let pem = std::fs::read(path).map_err(|error| unreadable(error.to_string()))?;
                let certificate =
                    Certificate::from_pem(&pem).map_err(|error| unreadable(error.to_string()))?;
                builder = builder.add_root_certificate(certificate);
            }
            builder.build_rustls().map_err(tls_error)
        };
        let tls = match settings.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some(credentials) = &settings.credentials {
            builder = builder.credentials(Credentials::new(
                credentials.username.clone(),
                credentials.password.clone(),
            ));
        }
        Ok(SmtpSender {
            transport: Some(builder.build()),
            server: settings.server(),
            return_path: settings.return_path.clone(),
            runtime,
        })
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        match &self.transport {
            Some(transport) => transport,
            None => unreachable!("the transport is taken only when dropped"),
        }
    }

    /// Checks that the server can be reached and takes the login, before a pass sends
    /// anything: a failure here is the server's, not any one mail's.
    pub(super) async fn ready(&self) -> Result<(), DeliveryError> {
        let reason = match self.transport().test_connection().await {
            Ok(true) => return Ok(()),
            Ok(false) => "the connection test (NOOP) failed".to_owned(),
            Err(error) => describe_server_failure(&error),
        };
        Err(DeliveryError::SmtpServer {
            server: self.server.clone(),
            reason,
        })
    }

    /// Hands a claimed batch to the server, four mails at a time, each over its own pooled
    /// connection, which then carries the next mail, and the next (one connection, many
    /// messages; a small pool of them in parallel): what became of each, in the batch's
    /// order. Once a mail meets
    /// a server that cannot take mail (`Stop`), the mails not started yet are not tried.
    pub(super) async fn send_batch(&self, batch: &[OutboxEntry]) -> Vec<Attempt> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let stopped = std::sync::atomic::AtomicBool::new(false);
        let attempts: std::sync::Mutex<Vec<Option<Attempt>>> =
            std::sync::Mutex::new(batch.iter().map(|_| None).collect());
        let worker = || async {
            use std::sync::atomic::Ordering;
            loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(entry) = batch.get(index) else {
                    return;
                };
                let attempt = if stopped.load(Ordering::SeqCst) {
                    Attempt::NotTried
                } else {
                    match render(&entry.mail, entry.queued_at) {
                        Ok(message) => self.send(&entry.mail, &message).await,
                        Err(problem) => Attempt::Fail(problem.to_string()),
                    }
                };
                if matches!(attempt, Attempt::Stop(_)) {
                    stopped.store(true, Ordering::SeqCst);
                }
                let mut attempts = attempts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                attempts[index] = Some(attempt);
            }
        };
        // Four senders: the pool keeps their connections open between mails.
        tokio::join!(worker(), worker(), worker(), worker());
        attempts
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .into_iter()
            .map(|attempt| attempt.unwrap_or(Attempt::NotTried))
            .collect()
    }

    /// Hands one rendered mail to the server.
    async fn send(&self, mail: &QueuedMail, message: &[u8]) -> Attempt {
        let envelope = match envelope(mail, self.return_path.as_deref()) {
            Ok(envelope) => envelope,
            Err(problem) => return Attempt::Fail(problem.to_string()),
        };
        match self.transport().send_raw(&envelope, message).await {
            Ok(_) => Attempt::Delivered,
            Err(error) if error.is_permanent() => Attempt::Fail(format!(
                "the SMTP server rejected the mail: {}",
                redact_addresses(&error.to_string())
            )),
            Err(error) if error.is_transient() => Attempt::Retry(format!(
                "the SMTP server deferred the mail: {}",
                redact_addresses(&error.to_string())
            )),
            // The client refused before sending (e.g. an address the server cannot take):
            // the same mail would be refused again.
            Err(error) if error.is_client() => Attempt::Fail(format!(
                "the mail cannot be sent to this server: {}",
                redact_addresses(&error.to_string())
            )),
            Err(error) => Attempt::Stop(DeliveryError::SmtpServer {
                server: self.server.clone(),
                reason: describe_server_failure(&error),
            }),
        }
    }
}

fn envelope(mail: &QueuedMail, return_path: Option<&str>) -> Result<Envelope, MessageError> {
    let address = |text: &str| {
        text.parse::<lettre::Address>()
            .map_err(MessageError::EnvelopeAddress)
    };
    let recipients = mail
        .to
        .iter()
        .map(|mailbox| address(&mailbox.address))
        .collect::<Result<Vec<_>, _>>()?;
    let sender = return_path
        .and_then(|return_path| super::verp::verp_address(return_path, &mail.message_id))
        .unwrap_or_else(|| mail.from.address.clone());
    Envelope::new(Some(address(&sender)?), recipients).map_err(MessageError::Envelope)
}

/// What went wrong with the server itself, with a hint at the usual cause.
fn describe_server_failure(error: &lettre::transport::smtp::Error) -> String {
    let text = redact_addresses(&error.to_string());
    let code = error.status().map(|code| code.to_string());
    let hint = if matches!(code.as_deref(), Some("530" | "534" | "535" | "538")) {
        " (the login was refused: check the user in the SMTP URL and the SMTP password)"
    } else if error.is_tls() {
        " (check `security=` and the server's certificate)"
    } else if error.is_timeout() {
        " (timed out)"
    } else {
        ""
    };
    format!("{text}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<SmtpSettings, SmtpSettingsError> {
        SmtpSettings::from_url(url, None)
    }

    #[test]
    fn a_bare_host_means_starttls_on_the_submission_port() {
        assert_eq!(
            parse("smtp://mail.example.org"),
            Ok(SmtpSettings {
                host: "mail.example.org".into(),
                port: 587,
                security: SmtpSecurity::StartTls,
                credentials: None,
                timeout: DEFAULT_TIMEOUT,
                ca_file: None,
                return_path: None,
            })
        );
    }

    #[test]
    fn the_security_chooses_the_default_port_and_an_explicit_port_wins() {
        let port = |url: &str| parse(url).map(|settings| (settings.security, settings.port));
        assert_eq!(
            port("smtp://mail.example.org?security=tls"),
            Ok((SmtpSecurity::Tls, 465))
        );
        assert_eq!(
            port("smtp://127.0.0.1?security=none"),
            Ok((SmtpSecurity::None, 25))
        );
        assert_eq!(
            port("smtp://127.0.0.1:2525?security=none&timeout=5"),
            Ok((SmtpSecurity::None, 2525))
        );
        assert_eq!(
            port("smtp://[::1]:2525?security=none"),
            Ok((SmtpSecurity::None, 2525))
        );
    }

    #[test]
    fn a_user_needs_a_password_given_apart_from_the_url_and_an_encrypted_connection() {
        let settings = SmtpSettings::from_url(
            "smtp://mailer%40example.org@mail.example.org:587?timeout=10s",
            Some("s3cret".into()),
        );
        let credentials = settings
            .as_ref()
            .ok()
            .and_then(|settings| settings.credentials.clone());
        assert_eq!(
            credentials,
            Some(SmtpCredentials::new(
                "mailer@example.org".into(),
                "s3cret".into()
            ))
        );
        assert_eq!(
            settings.map(|settings| settings.timeout),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(
            parse("smtp://mailer:s3cret@mail.example.org"),
            Err(SmtpSettingsError::PasswordInUrl)
        );
        assert_eq!(
            parse("smtp://mailer@mail.example.org"),
            Err(SmtpSettingsError::UserWithoutPassword)
        );
        assert_eq!(
            SmtpSettings::from_url("smtp://mail.example.org", Some("s3cret".into())),
            Err(SmtpSettingsError::PasswordWithoutUser)
        );
        assert_eq!(
            SmtpSettings::from_url(
                "smtp://mailer@mail.example.org?security=none",
                Some("s3cret".into())
            ),
            Err(SmtpSettingsError::PasswordInPlainText)
        );
    }

    #[test]
    fn mistakes_are_named_without_repeating_the_url() {
        let cases = [
            ("http://mail.example.org", "`http://` is not an SMTP URL"),
            ("mail.example.org", "does not start with smtp://"),
            ("smtps://mail.example.org", "write smtp://HOST?security=tls"),
            ("smtp://", "names no server"),
            ("smtp://mail.example.org:99999", "`99999` is not a port"),
            ("smtp://mail.example.org:0", "`0` is not a port"),
            ("smtp://mail.example.org/inbox", "has a path (`/inbox`)"),
            (
                "smtp://mail.example.org?security=ssl",
                "`security=ssl` is unknown",
            ),
            (
                "smtp://mail.example.org?timeout=0",
                "`timeout=0` is not a timeout",
            ),
            ("smtp://mail.example.org?timeout=soon", "`timeout=soon`"),
            (
                "smtp://mail.example.org?tls=required",
                "`tls` is not an SMTP URL parameter",
            ),
            (
                "smtp://mail.example.org?security=tls&security=none",
                "has `security` twice",
            ),
            (
                "smtp://127.0.0.1?security=none&ca_file=/ca.pem",
                "only used with TLS",
            ),
        ];
        for (url, expected) in cases {
            let message = parse(url).err().map(|error| error.to_string());
            assert!(
                message
                    .as_deref()
                    .is_some_and(|message| message.contains(expected)),
                "{url}: {message:?}"
            );
        }
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let settings = SmtpSettings::from_url(
            "smtp://mailer@mail.example.org",
            Some("s3cret-password".into()),
        );
        let shown = format!("{settings:?}");
        assert!(shown.contains("mailer"), "{shown}");
        assert!(!shown.contains("s3cret-password"), "{shown}");
    }
}
