//! Delivers the mail the plugin queued, after the unit of work that queued it committed.
//!
//! Two transports: an SMTP server ([`smtp`]), or, by default, an outbox folder with one
//! `<message-id>.eml` file per message. Both get the same bytes ([`render`]): the headers
//! the plugin gave, and the stable message id as `Message-ID`, so a copy delivered twice
//! (a crash after the server accepted it and before that was recorded) is recognisable.
//! A file that already exists is recorded as delivered, not written again.
//!
//! Delivery is at most once per message id across host processes: a process delivers
//! only mail it has claimed ([`Database::claim_pending_mail`]), so two processes sharing
//! a database never both deliver a message. Recording what became of a mail (delivered,
//! waiting, failed) releases its claim. A claim names its holder: host name, process id
//! and that process's start time ([`holder`]). A pass first takes over the claims of
//! processes on its own host that are gone (killed mid-delivery), at once; a claim of
//! another host is a short lease ([`CLAIM_LEASE`]) that the pass holding it renews while
//! it works ([`HEARTBEAT`]), so a dead host's claims lapse within a minute.
//!
//! A failed attempt that is worth repeating (the server deferred the mail, could not be
//! reached, timed out) makes the mail wait, the wait doubling at each attempt up to a
//! limit ([`RetryPolicy`]); after the last attempt, or at once when the server rejected
//! the mail for good (5xx), the mail is marked failed for an operator. Logs name mails by
//! message id only, and failure texts have addresses replaced by `<address>`.

mod folder;
pub mod holder;
pub mod smtp;
pub mod verp;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use self::smtp::{SmtpSender, SmtpSettings, SmtpSettingsError};
use crate::storage::{ClaimHolder, Database, MailboxRow, OutboxEntry, QueuedMail, StorageError};

/// Mails claimed, delivered and recorded together: one claim, one sync of the outbox
/// folder (or one round of SMTP sends over the pooled connections), one statement
/// recording what was delivered.
const DELIVERY_BATCH: u32 = 1000;

/// How long a claim on queued mail keeps other host processes off it unless its holder
/// renews it. A process that dies while delivering leaves its claimed mail to the other
/// hosts after this long (to those on its own host at once).
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// How often a working delivery pass renews its claims: well within [`CLAIM_LEASE`].
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Write `.eml` files into this folder.
    Directory(PathBuf),
    /// Hand mail to an SMTP server.
    Smtp(SmtpSettings),
}

/// How often, and how far apart, a mail is tried again after failures worth repeating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; it doubles after each further one.
    pub first_wait: Duration,
    /// The longest wait between two attempts.
    pub longest_wait: Duration,
    /// Attempts in all; after the last one fails the mail is marked failed.
    pub attempts: u32,
}

impl Default for RetryPolicy {
    /// 1 minute doubling up to 1 hour, 20 attempts: about 15 hours of retries.
    fn default() -> RetryPolicy {
        RetryPolicy {
            first_wait: Duration::from_secs(60),
            longest_wait: Duration::from_secs(60 * 60),
            attempts: 20,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempt`-th failed attempt (counting from 1), or `None` when no
    /// attempt is left.
    pub fn wait_after(&self, attempt: i64) -> Option<Duration> {
        if attempt >= i64::from(self.attempts) {
            return None;
        }
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(31);
        let wait = self.first_wait.saturating_mul(1 << doublings);
        Some(wait.min(self.longest_wait).max(Duration::from_millis(1)))
    }
}

/// Why delivery stopped. The mail stays queued and is tried again.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "could not write to the outbox folder {path}: {source}; check that it exists and is writable"
    )]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the SMTP server {server} cannot take mail now: {reason}")]
    SmtpServer { server: String, reason: String },
}

/// Why a queued mail cannot be made into a message. Retrying would not help: the mail is
/// marked failed with this reason.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("address `{address}`: {source}")]
    Address {
        address: String,
        #[source]
        source: lettre::address::AddressError,
    },
    #[error("header name `{name}`: {source}")]
    HeaderName {
        name: String,
        #[source]
        source: lettre::message::header::InvalidHeaderName,
    },
    #[error("could not build message {message_id}: {source}")]
    Build {
        message_id: String,
        #[source]
        source: lettre::error::Error,
    },
    #[error("a mailbox is not a valid address: {0}")]
    EnvelopeAddress(#[source] lettre::address::AddressError),
    #[error("the mail has no valid envelope: {0}")]
    Envelope(#[source] lettre::error::Error),
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Accepted by the server (or written to the folder).
    pub delivered: u64,
    /// Tried and waiting for a later attempt.
    pub deferred: u64,
    /// Given up: waiting for an operator.
    pub failed: u64,
}

impl DeliveryReport {
    /// Adds another pass's counts.
    pub fn add(&mut self, other: DeliveryReport) {
        self.delivered += other.delivered;
        self.deferred += other.deferred;
        self.failed += other.failed;
    }
}

/// What one attempt at one mail came to.
enum Attempt {
    Delivered,
    /// Worth repeating later; the other mails still go.
    Retry(String),
    /// Repeating would not help: the mail is marked failed.
    Fail(String),
    /// Nothing can go now (the server is unreachable, the folder unwritable): this mail
    /// waits as after `Retry`, and the pass stops.
    Stop(DeliveryError),
    /// The pass stopped before this mail: its claim is released for the next pass.
    NotTried,
}

enum Sender {
    Directory(PathBuf),
    Smtp(SmtpSender),
}

/// Delivers queued mail through a transport.
pub struct Outbox {
    database: Database,
    sender: Sender,
    retry: RetryPolicy,
    /// Who this outbox is when claiming mail: a claim id unique to it, and its process.
    holder: ClaimHolder,
    /// One delivery pass at a time in this process, so no two passes send the same mail.
    pass: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Outbox")
            .field("retry", &self.retry)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// An outbox delivering through `transport`. For SMTP this must run inside a tokio
    /// runtime, the one that later runs the deliveries (the connection pool lives there).
    pub fn new(
        database: Database,
        transport: Transport,
        retry: RetryPolicy,
    ) -> Result<Outbox, SmtpSettingsError> {
        let sender = match transport {
            Transport::Directory(folder) => Sender::Directory(folder),
            Transport::Smtp(settings) => Sender::Smtp(SmtpSender::new(&settings)?),
        };
        Ok(Outbox {
            database,
            sender,
            retry,
            holder: holder::this_process(),
            pass: tokio::sync::Mutex::new(()),
        })
    }

    /// Destroys this transport's own copy of a delivered mail whose recipient was erased:
    /// the `.eml` file of the folder transport (a server that accepted a mail keeps what it
    /// keeps; this host keeps nothing more). A copy already gone is not an error.
    pub fn destroy_delivered_copy(&self, message_id: &str) -> std::io::Result<()> {
        match &self.sender {
            Sender::Directory(folder) => {
                match std::fs::remove_file(folder::message_path(folder, message_id)) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
                    _ => Ok(()),
                }
            }
            Sender::Smtp(_) => Ok(()),
        }
    }

    /// Delivers every mail due at `now`. A mail that cannot be delivered waits for its
    /// next attempt or is marked failed; the others still go. When nothing can go (the
    /// server is unreachable) the due mail waits and the error is returned. Only mail this
    /// process claimed is delivered; claims the pass leaves (it stopped early) are
    /// released for the next delivery, here or in another host process.
    pub async fn deliver_pending(&self, now: i64) -> Result<DeliveryReport, DeliveryError> {
        let _pass = self.pass.lock().await;
        let mut report = DeliveryReport::default();
        let started = tokio::time::Instant::now();
        // The heartbeat renews this pass's claims for as long as it works, and no longer.
        let result = tokio::select! {
            result = self.deliver_claimed(now, started, &mut report) => result,
            never = self.renew_claims(now, started) => match never {},
        };
        if result.is_err()
            && let Err(error) = self
                .database
                .release_mail_claims(&self.holder.claim_id)
                .await
        {
            tracing::warn!(%error, lapse_in_seconds = CLAIM_LEASE.as_secs(), "claims on queued mail could not be released; they lapse");
        }
        result.map(|()| report)
    }

    /// Renews this pass's claims every [`HEARTBEAT`]; never ends.
    async fn renew_claims(
        &self,
        now: i64,
        started: tokio::time::Instant,
    ) -> std::convert::Infallible {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let claimed_until = lease_end(now, started);
            if let Err(error) = self
                .database
                .renew_mail_claims(&self.holder.claim_id, claimed_until)
                .await
            {
                tracing::warn!(%error, "claims on queued mail could not be renewed; other hosts may take the mail over when they lapse");
            }
        }
    }

    /// Releases the claims of processes on this host that are gone (killed while
    /// delivering), so their mail goes now rather than when their lease lapses.
    async fn take_over_from_gone_processes(&self, now: i64) -> Result<(), DeliveryError> {
        let Some(host) = &self.holder.host else {
            return Ok(());
        };
        let holders = self
            .database
            .mail_claim_holders_on(host, &self.holder.claim_id, now)
            .await?;
        for (gone, mails) in holders.iter().filter(|(other, _)| holder::is_gone(other)) {
            self.database.release_mail_claims(&gone.claim_id).await?;
            tracing::warn!(pid = gone.pid, claim = %gone.claim_id, mails, "taking over the mail claimed by a delivery that is gone (the process ended while delivering)");
        }
        Ok(())
    }

    async fn deliver_claimed(
        &self,
        now: i64,
        started: tokio::time::Instant,
        report: &mut DeliveryReport,
    ) -> Result<(), DeliveryError> {
        self.take_over_from_gone_processes(now).await?;
        loop {
            let pending = self
                .database
                .claim_pending_mail(&self.holder, now, lease_end(now, started), DELIVERY_BATCH)
                .await?;
            if pending.is_empty() {
                return Ok(());
            }
            if let Err(error) = self.ready().await {
                tracing::warn!(%error, mails = pending.len(), "mail cannot be delivered now; it waits for its next attempt");
                for entry in &pending {
                    self.retry_later(entry, &error.to_string(), now, report)
                        .await?;
                }
                return Err(error);
            }
            // Every mail of the batch leaves the due set (delivered, waiting or failed),
            // and its claim is released as that is recorded.
            let (pending, attempts) = self.attempt_batch(pending).await?;
            self.record_batch(&pending, attempts, now, report).await?;
            if pending.len() < DELIVERY_BATCH as usize {
                return Ok(());
            }
        }
    }

    /// Whether mail can go at all now.
    async fn ready(&self) -> Result<(), DeliveryError> {
        match &self.sender {
            Sender::Directory(_) => Ok(()),
            Sender::Smtp(sender) => sender.ready().await,
        }
    }

    /// Tries every mail of a claimed batch: what became of each, in the batch's order.
    async fn attempt_batch(
        &self,
        batch: Vec<OutboxEntry>,
    ) -> Result<(Vec<OutboxEntry>, Vec<Attempt>), DeliveryError> {
        match &self.sender {
            Sender::Directory(folder) => {
                // File system work blocks: the whole batch goes to one blocking thread.
                let writing_folder = folder.clone();
                tokio::task::spawn_blocking(move || {
                    let attempts = folder::write_batch(&writing_folder, &batch);
                    (batch, attempts)
                })
                .await
                // The writing thread panicked: nothing is recorded, the claims are released
                // and the files it wrote are found by the next pass.
                .map_err(|error| DeliveryError::Folder {
                    path: folder.clone(),
                    source: std::io::Error::other(error.to_string()),
                })
            }
            Sender::Smtp(sender) => {
                let attempts = sender.send_batch(&batch).await;
                Ok((batch, attempts))
            }
        }
    }

    /// Records what became of a batch: the delivered mail in one statement first, then
    /// each mail that waits or failed. A `Stop` is returned once all is recorded.
    async fn record_batch(
        &self,
        batch: &[OutboxEntry],
        attempts: Vec<Attempt>,
        now: i64,
        report: &mut DeliveryReport,
    ) -> Result<(), DeliveryError> {
        let delivered: Vec<&str> = batch
            .iter()
            .zip(&attempts)
            .filter(|(_, attempt)| matches!(attempt, Attempt::Delivered))
            .map(|(entry, _)| entry.mail.message_id.as_str())
            .collect();
        // Recorded right after the batch was accepted or made durable: a crash before
        // this is the only way to a second copy, which carries the same Message-ID (and
        // an `.eml` file already there is recorded, not written again).
        self.database.mark_delivered_all(&delivered, now).await?;
        for message_id in &delivered {
            tracing::debug!(message_id, "mail delivered");
        }
        report.delivered += delivered.len() as u64;
        let mut stopped = None;
        for (entry, attempt) in batch.iter().zip(attempts) {
            match attempt {
                Attempt::Delivered | Attempt::NotTried => {}
                Attempt::Retry(problem) => {
                    self.retry_later(entry, &problem, now, report).await?;
                }
                Attempt::Fail(problem) => {
                    self.give_up(entry, &problem, now, report).await?;
                }
                Attempt::Stop(error) => {
                    // This mail waits; the rest of the batch is released by the caller.
                    self.retry_later(entry, &error.to_string(), now, report)
                        .await?;
                    stopped.get_or_insert(error);
                }
            }
        }
        stopped.map_or(Ok(()), Err)
    }

    async fn retry_later(
        &self,
        entry: &OutboxEntry,
        problem: &str,
        now: i64,
        report: &mut DeliveryReport,
    ) -> Result<(), DeliveryError> {
        let attempt = entry.attempts + 1;
        let problem = redact_addresses(problem);
        let Some(wait) = self.retry.wait_after(attempt) else {
            let problem = format!("{problem} (gave up after {attempt} attempts)");
            return self.give_up(entry, &problem, now, report).await;
        };
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        self.database
            .defer_mail(
                &entry.mail.message_id,
                &problem,
                now.saturating_add(wait_ms),
            )
            .await?;
        tracing::warn!(message_id = %entry.mail.message_id, attempt, retry_in_seconds = wait.as_secs(), %problem, "mail not delivered; it is tried again later");
        report.deferred += 1;
        Ok(())
    }

    async fn give_up(
        &self,
        entry: &OutboxEntry,
        problem: &str,
        now: i64,
        report: &mut DeliveryReport,
    ) -> Result<(), DeliveryError> {
        let problem = redact_addresses(problem);
        self.database
            .mark_mail_failed(&entry.mail.message_id, &problem, now)
            .await?;
        tracing::error!(message_id = %entry.mail.message_id, attempts = entry.attempts + 1, %problem, "mail not delivered and not tried again: an operator must look at it (privacy-guard outbox)");
        report.failed += 1;
        Ok(())
    }
}

/// When a claim made or renewed now lapses: `now` is the pass's clock at its start (the
/// guard's clock, which tests set), moved on by the time the pass has been working.
fn lease_end(now: i64, started: tokio::time::Instant) -> i64 {
    let working = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    now.saturating_add(working)
        .saturating_add(CLAIM_LEASE.as_millis() as i64)
}

/// Replaces every word containing `@` (an address, in whatever brackets) by `<address>`:
/// server replies quote recipients, and failure texts go to logs and the outbox table.
pub fn redact_addresses(text: &str) -> String {
    fn flush(word: &mut String, redacted: &mut String) {
        if word.contains('@') {
            redacted.push_str("<address>");
        } else {
            redacted.push_str(word);
        }
        word.clear();
    }
    let mut redacted = String::with_capacity(text.len());
    let mut word = String::new();
    for character in text.chars() {
        if character.is_whitespace() || matches!(character, ',' | ';') {
            flush(&mut word, &mut redacted);
            redacted.push(character);
        } else {
            word.push(character);
        }
    }
    flush(&mut word, &mut redacted);
    redacted
}

/// Renders a queued mail as an RFC 5322 message.
pub fn render(mail: &QueuedMail, queued_at: i64) -> Result<Vec<u8>, MessageError> {
    let date = SystemTime::UNIX_EPOCH + Duration::from_millis(queued_at.max(0) as u64);
    let mut builder = lettre::Message::builder()
        .message_id(Some(format!("<{}>", mail.message_id)))
        .date(date)
        .from(mailbox(&mail.from)?)
        .subject(mail.subject.clone());
    for recipient in &mail.to {
        builder = builder.to(mailbox(recipient)?);
    }
    for (name, value) in &mail.headers {
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|source| {
            MessageError::HeaderName {
                name: name.clone(),
                source,
            }
        })?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let message = match &mail.html_body {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            mail.text_body.clone(),
            html.clone(),
        )),
        None => builder.body(mail.text_body.clone()),
    }
    .map_err(|source| MessageError::Build {
        message_id: mail.message_id.clone(),
        source,
    })?;
    Ok(message.formatted())
}

fn mailbox(row: &MailboxRow) -> Result<Mailbox, MessageError> {
    let address = row
        .address
        .parse()
        .map_err(|source| MessageError::Address {
            address: row.address.clone(),
            source,
        })?;
    Ok(Mailbox::new(row.name.clone(), address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> QueuedMail {
        QueuedMail {
            message_id: "abc123@example.org".into(),
            from: MailboxRow {
                address: "privacy@example.org".into(),
                name: Some("Example Privacy".into()),
            },
            to: vec![MailboxRow {
                address: "ada@example.com".into(),
                name: Some("Ada Lovelace".into()),
            }],
            subject: "Your privacy preferences".into(),
            text_body: "Hello".into(),
            html_body: Some("<p>Hello</p>".into()),
            headers: vec![("X-Privacy-Guard".into(), "consent-request".into())],
        }
    }

    #[test]
    fn a_rendered_mail_carries_its_stable_id_sender_and_both_bodies() {
        let rendered = String::from_utf8(render(&mail(), 1_764_000_000_000).unwrap_or_default())
            .unwrap_or_default();
        assert!(
            rendered.contains("Message-ID: <abc123@example.org>"),
            "{rendered}"
        );
        assert!(
            rendered.contains("From: \"Example Privacy\" <privacy@example.org>"),
            "{rendered}"
        );
        assert!(
            rendered.contains("X-Privacy-Guard: consent-request"),
            "{rendered}"
        );
        assert!(rendered.contains("multipart/alternative"), "{rendered}");
        assert!(rendered.contains("<p>Hello</p>"), "{rendered}");
    }

    #[test]
    fn the_wait_doubles_from_the_first_up_to_the_longest_then_the_mail_fails() {
        let policy = RetryPolicy {
            first_wait: Duration::from_secs(60),
            longest_wait: Duration::from_secs(3600),
            attempts: 9,
        };
        let minutes: Vec<Option<u64>> = (1..=9)
            .map(|attempt| policy.wait_after(attempt).map(|wait| wait.as_secs() / 60))
            .collect();
        assert_eq!(
            minutes,
            [
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(60),
                Some(60),
                None
            ]
        );
        assert_eq!(RetryPolicy::default().wait_after(1_000_000), None);
        let huge = RetryPolicy {
            attempts: u32::MAX,
            ..policy
        };
        assert_eq!(huge.wait_after(200), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn addresses_in_failure_texts_are_replaced() {
        assert_eq!(
            redact_addresses(
                "permanent error (550): 5.1.1 <ada@example.com>: Recipient rejected, bob@x.org"
            ),
            "permanent error (550): 5.1.1 <address> Recipient rejected, <address>"
        );
        assert_eq!(redact_addresses("connection refused"), "connection refused");
    }

    #[test]
    fn file_names_keep_ids_readable_and_drop_path_characters() {
        assert_eq!(
            folder::file_stem("a1.b-c_d@example.org"),
            "a1.b-c_d@example.org"
        );
        assert_eq!(folder::file_stem("../etc/passwd@x"), ".._etc_passwd@x");
    }
}
