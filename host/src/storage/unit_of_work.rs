//! What one call into the plugin wrote, held in memory until the call returns.
//!
//! The runtime gives every call a fresh [`UnitOfWork`]; the capabilities record writes in
//! it instead of touching the database, reads consult it first, and
//! [`crate::storage::Database::commit`] makes all of it durable in one transaction. A
//! call that traps simply drops it: nothing half-written ever reaches storage. A unit
//! written into an open commit (an import's chunk) reads through that commit's
//! transaction, so it sees what the commit's earlier units wrote.

use std::collections::{BTreeMap, BTreeSet};

use super::open_commit::{OpenTransaction, StorageReads};
use super::{Database, RecordRow};

/// Everything a call (or a host operation spanning several calls) wrote.
#[derive(Debug, Default)]
pub struct UnitOfWork {
    /// Plugin key-value writes; `None` deletes the key.
    pub kv: BTreeMap<String, Option<Vec<u8>>>,
    /// Plugin events in the order they were appended.
    pub events: Vec<NewEvent>,
    /// Mails to queue, in order; ids are unique within the unit.
    pub mails: Vec<QueuedMail>,
    /// Person records created or changed, in their complete new form.
    pub records: BTreeMap<(String, String), RecordRow>,
    /// Progress of a scheduled job, committed with the page that made it.
    pub job_progress: Option<JobProgress>,
    /// Fields removed from the layout, as (module, field).
    pub removed_layout_fields: BTreeSet<(String, String)>,
    /// Erased addresses (normalised) whose mail is cancelled and whose stored copies are
    /// destroyed at commit.
    pub forgotten_addresses: BTreeSet<String>,
    /// A value was erased (a field emptied, an address forgotten): after the commit the
    /// database's files are purged of the old bytes ([`crate::storage::Database::purge_erased`]).
    pub values_to_purge: bool,
    /// Rights-request cases created or changed, in their complete new form
    /// (`crate::cases`), written with the events of their streams.
    pub rights_requests: Vec<super::RightsRequestRow>,
    /// The open commit this unit will be written into, whose transaction its reads go
    /// through; `None`: reads see committed state.
    pub reading_through: Option<OpenTransaction>,
}

/// An event appended during the call.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub stream: String,
    pub payload: String,
}

/// A mail queued during the call.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct QueuedMail {
    pub message_id: String,
    pub from: MailboxRow,
    pub to: Vec<MailboxRow>,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// A mailbox in a queued mail.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct MailboxRow {
    pub address: String,
    pub name: Option<String>,
}

/// Where a scheduled job stands after the page committed with it.
#[derive(Debug, Clone)]
pub struct JobProgress {
    pub job: String,
    pub period: String,
    pub cursor: Option<String>,
    pub finished: bool,
    pub people: u64,
    pub requests: u64,
}

impl UnitOfWork {
    /// An empty unit whose calls read through an open commit's transaction.
    pub fn reading_through(transaction: OpenTransaction) -> UnitOfWork {
        UnitOfWork {
            reading_through: Some(transaction),
            ..UnitOfWork::default()
        }
    }

    /// The storage reads of this unit's calls (after their own writes, which they check
    /// first): through its open commit if it has one, else committed state.
    pub fn reads(&self, database: &Database) -> StorageReads {
        StorageReads::new(database, self.reading_through.as_ref())
    }

    /// Whether the unit wrote nothing at all.
    pub fn is_empty(&self) -> bool {
        self.kv.is_empty()
            && self.events.is_empty()
            && self.mails.is_empty()
            && self.records.is_empty()
            && self.job_progress.is_none()
            && self.removed_layout_fields.is_empty()
            && self.forgotten_addresses.is_empty()
            && self.rights_requests.is_empty()
    }

    /// Cancels every mail to `address` (normalised) that is not delivered, and destroys
    /// the stored copies of those that were, when the unit commits.
    pub fn forget_mail_to(&mut self, address: String) {
        self.forgotten_addresses.insert(address);
        self.values_to_purge = true;
    }

    /// Queues a mail unless one with the same id is queued already.
    pub fn queue_mail(&mut self, mail: QueuedMail) {
        if !self
            .mails
            .iter()
            .any(|queued| queued.message_id == mail.message_id)
        {
            self.mails.push(mail);
        }
    }
}
