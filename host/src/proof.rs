//! Proof a third party can check: signed checkpoints of the event log and signed consent
//! receipts, under the tenant's own Ed25519 key (`docs/proof.md` has the formats and how an
//! auditor verifies them).
//!
//! - `signing.rs` — the key, its published verifier key and the signed-note form;
//! - `checkpoint.rs` — the log's size and head hash as a transparency-log checkpoint;
//! - `receipt.rs` — a receipt per answer, as a JWS signed with `EdDSA`.
//!
//! The hash chain alone proves only that nobody changed the log *without recomputing every
//! later hash*; whoever holds the database can do that. A checkpoint the tenant signed and
//! handed out fixes the hash at a size, so a past rewritten later no longer hashes to it
//! ([`verify_log`]). Everything here reads the committed event log and the configuration;
//! it knows the events' JSON, never the plugin's code, and it knows nothing of the guard,
//! the CLI or HTTP (they call it).

mod checkpoint;
mod receipt;
mod signing;

use sha2::{Digest, Sha256};

use crate::contract::configuration::Snapshot;
use crate::contract::types::Regime;
use crate::storage::proof::ChainedEvent;
use crate::storage::{Database, RecordRow, StorageError};

pub use self::checkpoint::{Checkpoint, origin_of};
pub use self::receipt::{Answer, Controller, RECEIPT_VERSION, ReceiptContext, answer_of};
pub use self::signing::{ProofKey, VerifierKey};

/// Why a proof could not be made or did not verify; each says what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "the verifier key is not one: {why}. It is written `name+id+base64(0x01 || key)`, as `privacy-guard proof-key` prints it"
    )]
    VerifierKey { why: String },
    #[error("the signed note is malformed: {why}")]
    NoteMalformed { why: String },
    #[error(
        "it is not signed by the key {key}: check that you were given this tenant's key (`privacy-guard proof-key`)"
    )]
    NotSignedByKey { key: String },
    #[error("the signature by {key} does not verify: the signed text was changed after signing")]
    BadSignature { key: String },
    #[error("the checkpoint is malformed: {why}")]
    CheckpointMalformed { why: String },
    #[error("the checkpoint is of the log `{found}`, not of this tenant's log `{expected}`")]
    WrongOrigin { found: String, expected: String },
    #[error(
        "the event log has {log} event(s), fewer than the {checkpoint} the checkpoint covers: events were removed since it was signed. Restore the database from a backup"
    )]
    LogShrunk { checkpoint: u64, log: u64 },
    #[error(
        "the event log's first {size} event(s) no longer hash to the checkpoint's hash: the past was rewritten after the checkpoint was signed (even if every later chain hash was recomputed). Restore the database from a backup taken before the change"
    )]
    PastRewritten { size: u64 },
    #[error(
        "the event log's hash chain breaks at event {sequence}: a stored chain hash is not the hash of its event (`privacy-guard verify-events`). Restore the database from a backup"
    )]
    ChainBroken { sequence: u64 },
    #[error("the receipt is malformed: {why}")]
    ReceiptMalformed { why: String },
    #[error(
        "the receipt's event does not hash to the chain hash it states: the event in it was changed"
    )]
    ReceiptEventMismatch,
    #[error(
        "{person} has no answer in the event log (a grant, refusal or withdrawal given on the page or recorded by staff); `privacy-guard show {person} --history` lists its events"
    )]
    NoAnswer { person: String },
    #[error(
        "event {sequence} is not an answer of {person}: name one of its answers (`privacy-guard show {person} --history`), or leave --event out for the latest"
    )]
    NotAnAnswer { sequence: u64, person: String },
}

/// The tenant's proof key, made and stored on first use.
pub async fn proof_key(database: &Database, now: i64) -> Result<ProofKey, ProofError> {
    let mut fresh = [0u8; 32];
    rand::fill(&mut fresh);
    let seed = database.proof_key_seed(&fresh, now).await?;
    Ok(ProofKey::from_seed(&seed))
}

/// A checkpoint and its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: String,
}

/// Signs a checkpoint of the log as it is now and keeps it, once the log is consistent
/// with the latest checkpoint kept: it has not shrunk, and its stored chain hash at that
/// checkpoint's size is still the signed one. That check reads one row: a past rewritten
/// with its later hashes recomputed changes that row's hash, and one rewritten without
/// them breaks the chain, which [`verify_log`] (and `verify-events`) walk. So the host
/// never signs a history that contradicts what it signed before.
pub async fn sign_checkpoint(
    database: &Database,
    key: &ProofKey,
    now: i64,
) -> Result<SignedCheckpoint, ProofError> {
    let head = database.log_head().await?;
    if let Some((_, latest)) = database.latest_checkpoint().await? {
        let latest = Checkpoint::open(&latest, &key.verifier())?;
        if head.size < latest.size {
            return Err(ProofError::LogShrunk {
                checkpoint: latest.size,
                log: head.size,
            });
        }
        let stored = match latest.size {
            0 => Some([0; 32]),
            size => database
                .chained_event(size)
                .await?
                .map(|event| event.chain_hash),
        };
        if stored != Some(latest.hash) {
            return Err(ProofError::PastRewritten { size: latest.size });
        }
    }
    let checkpoint = Checkpoint {
        origin: origin_of(&key.verifier()),
        size: head.size,
        hash: head.hash,
    };
    let note = checkpoint.sign(key);
    database.store_checkpoint(head.size, &note, now).await?;
    Ok(SignedCheckpoint { checkpoint, note })
}

/// What [`verify_log`] found when the log is consistent with the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConsistency {
    pub checkpoint: Checkpoint,
    /// The log's size now (at least the checkpoint's).
    pub log_size: u64,
}

/// Checks a signed checkpoint against the log: its signature by `verifier`, that the log
/// has only grown since, that its first `size` events (their contents, every hash
/// recomputed) still hash to the checkpoint's hash, and that the whole chain is intact.
pub async fn verify_log(
    database: &Database,
    note: &str,
    verifier: &VerifierKey,
) -> Result<LogConsistency, ProofError> {
    let checkpoint = Checkpoint::open(note, verifier)?;
    let walk = database.walk_log(checkpoint.size).await?;
    if walk.size < checkpoint.size {
        return Err(ProofError::LogShrunk {
            checkpoint: checkpoint.size,
            log: walk.size,
        });
    }
    if walk.recomputed_at_size != Some(checkpoint.hash) {
        return Err(ProofError::PastRewritten {
            size: checkpoint.size,
        });
    }
    if let Some(sequence) = walk.first_broken {
        return Err(ProofError::ChainBroken { sequence });
    }
    Ok(LogConsistency {
        checkpoint,
        log_size: walk.size,
    })
}

/// A signed receipt of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    pub sequence: u64,
    pub consent: String,
    /// `granted`, `withdrawn` or `refused`.
    pub answer: &'static str,
    /// The JWS, ending in a newline: the file a person or auditor keeps.
    pub jws: String,
}

/// The answers of `person` (`module/id`) in the log, oldest first.
pub async fn answers(
    database: &Database,
    person: &str,
) -> Result<Vec<(ChainedEvent, Answer)>, ProofError> {
    let mut answers = Vec::new();
    for sequence in database.stream_sequences(person).await? {
        if let Some(event) = database.chained_event(sequence).await?
            && let Some(answer) = answer_of(&event.payload)
        {
            answers.push((event, answer));
        }
    }
    Ok(answers)
}

/// The signed receipt of `person`'s answer at `sequence`, or of their latest answer.
pub async fn receipt(
    database: &Database,
    key: &ProofKey,
    configuration: &Snapshot,
    person: &str,
    sequence: Option<u64>,
    now: i64,
) -> Result<SignedReceipt, ProofError> {
    let answers = answers(database, person).await?;
    let chosen = match sequence {
        Some(sequence) => answers
            .into_iter()
            .find(|(event, _)| event.sequence == sequence)
            .ok_or_else(|| ProofError::NotAnAnswer {
                sequence,
                person: person.to_owned(),
            })?,
        None => answers
            .into_iter()
            .last()
            .ok_or_else(|| ProofError::NoAnswer {
                person: person.to_owned(),
            })?,
    };
    signed(database, key, configuration, chosen, now).await
}

/// The answers given through the preferences link `token` (none before its first
/// answer), oldest first. The link must have been verified by the plugin first.
pub async fn page_answers(
    database: &Database,
    token: &str,
) -> Result<Vec<(ChainedEvent, Answer)>, ProofError> {
    let Some((stream, link)) = database.page_link(&token_sha256(token)).await? else {
        return Ok(Vec::new());
    };
    Ok(answers(database, &stream)
        .await?
        .into_iter()
        .filter(|(_, answer)| {
            answer.source == "preferences-page" && answer.link.as_deref() == Some(link.as_str())
        })
        .collect())
}

/// The signed receipts of `answers` (from [`answers`] or [`page_answers`]).
pub async fn sign_answers(
    database: &Database,
    key: &ProofKey,
    configuration: &Snapshot,
    answers: Vec<(ChainedEvent, Answer)>,
    now: i64,
) -> Result<Vec<SignedReceipt>, ProofError> {
    let mut receipts = Vec::with_capacity(answers.len());
    for answer in answers {
        receipts.push(signed(database, key, configuration, answer, now).await?);
    }
    Ok(receipts)
}

/// Notes which stream and link id the answers a page submission committed (`events`:
/// stream and payload) were written with, so the link's receipts can be served to it.
pub async fn remember_page_answers(
    database: &Database,
    token: &str,
    events: &[(String, String)],
    now: i64,
) -> Result<(), ProofError> {
    let answered = events.iter().find_map(|(stream, payload)| {
        let answer = answer_of(payload)?;
        (answer.source == "preferences-page").then_some((stream, answer.link?))
    });
    if let Some((stream, link)) = answered {
        database
            .remember_page_link(&token_sha256(token), stream, &link, now)
            .await?;
    }
    Ok(())
}

fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

async fn signed(
    database: &Database,
    key: &ProofKey,
    configuration: &Snapshot,
    (event, answer): (ChainedEvent, Answer),
    now: i64,
) -> Result<SignedReceipt, ProofError> {
    let record = match event.stream.split_once('/') {
        Some((module, id)) => database.record(module, id).await?,
        None => None,
    };
    let context = context_of(configuration, record.as_ref(), &event, &answer, now);
    Ok(SignedReceipt {
        sequence: event.sequence,
        consent: answer.consent.clone(),
        answer: answer.answer,
        jws: receipt::sign(key, &event, &answer, &context),
    })
}

/// What the configuration and the record add to an answer's receipt.
fn context_of(
    configuration: &Snapshot,
    record: Option<&RecordRow>,
    event: &ChainedEvent,
    answer: &Answer,
    now: i64,
) -> ReceiptContext {
    let module = event
        .stream
        .split_once('/')
        .map_or("", |(module, _)| module);
    let definition = configuration.consents.iter().find(|stored| {
        stored.definition.id == answer.consent && stored.definition.module == module
    });
    let purpose = definition
        .filter(|stored| Some(u64::from(stored.purpose_version)) == answer.purpose_version)
        .map(|stored| stored.definition.purpose.clone());
    let settings = configuration.settings.as_ref();
    let regime = settings.map_or(Regime::OptIn, |settings| {
        let rules = &settings.regimes;
        let value = record
            .map_or("", |record| record.field(&rules.field))
            .trim();
        rules
            .values
            .iter()
            .find(|(listed, _)| !value.is_empty() && listed.trim().eq_ignore_ascii_case(value))
            .map_or(rules.default_regime, |(_, regime)| *regime)
    });
    let address = record
        .map(|record| record.field("email").trim().to_lowercase())
        .filter(|address| !address.is_empty());
    ReceiptContext {
        controller: settings.map(|settings| Controller {
            pii_controller: settings.organisation.clone(),
            contact: settings.sender_name.clone(),
            address: settings.postal_address.clone(),
            email: settings.sender_address.clone(),
            phone: String::new(),
        }),
        jurisdiction: jurisdiction(regime).to_owned(),
        title: definition.map(|stored| stored.definition.title.clone()),
        purpose,
        address_sha256: address.map(|address| hex::encode(Sha256::digest(address.as_bytes()))),
        issued_at: now,
    }
}

/// The law a regime stands for, as a receipt names it.
fn jurisdiction(regime: Regime) -> &'static str {
    match regime {
        Regime::OptIn => {
            "EU/EEA: GDPR Art. 6(1)(a) and 7, ePrivacy Directive Art. 13 (consent first)"
        }
        Regime::OptOut => "US: CAN-SPAM Act, 15 U.S.C. 7704 (until the person opts out)",
        Regime::ImpliedConsent => {
            "CA: CASL s. 10 (implied consent for a while, then express consent)"
        }
    }
}

/// Verifies a receipt file offline with the public key alone; answers its JSON.
pub fn verify_receipt(
    file: &[u8],
    verifier: &VerifierKey,
) -> Result<serde_json::Value, ProofError> {
    receipt::verify(file, verifier)
}
