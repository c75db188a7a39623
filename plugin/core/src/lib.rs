//! Privacy Guard's consent engine: pure, deterministic, no IO, no clock, no randomness.
//!
//! The engine decides; the adapter (`privacy-guard-plugin`) reads facts through the host's
//! imports, passes them in with the audited time `now` (unix ms), and carries out what comes
//! back: snapshots to store, events to append, mails to queue. The engine knows nothing of
//! WIT, of the host, or of how bytes reach storage.
//!
//! # Module map
//!
//! | module | what it holds |
//! |---|---|
//! | [`vocabulary`] | the words many modules share: message class, lawful basis, person status, IP and confirmation policies (a leaf) |
//! | [`address`] | normalising and checking email addresses |
//! | [`record`] | CRM modules, record refs, the fields the engine reads (`email`, name) |
//! | [`consent`] | the five consent values and the default a request is made under |
//! | [`definition`] | consent definitions, their conditions, versioned purpose texts |
//! | [`classification`] | personal-data classes of fields: personal, essential, sensitive, encrypted |
//! | [`configuration`] | settings and definitions validated from input, enabling consents |
//! | [`person`] | the person snapshot, its status, and the fold that rebuilds it from events |
//! | [`event`] | consent events (the proof), their causes and evidence, their JSON form |
//! | [`observation`] | observing a CRM record: where its consents go, what changes, what the CRM and the host must do |
//! | [`lifecycle`] | transitions: applicability, requests, answers; each returns its events |
//! | [`editing`] | which fields may be edited (the consent table's data-field column, locked people) and which values a change erases |
//! | [`notification`] | consent notification settings and the confirmation mail after a change |
//! | [`deduplication`] | grouping contacts and leads by address, choosing each group's primary, flagging duplicates |
//! | [`restriction`] | stopping processing (Art. 18), erasure (Art. 17), suppression markers of erased addresses, the lift notice |
//! | [`safeguards`] | the safeguard settings: soft-bounce limit, request and link-mail intervals, web-form proof, the unsubscribe mailbox |
//! | [`sending`] | the pre-send decision table, the hot path |
//! | [`link`] | signed preferences link tokens (format, opaque person handles, parsing, expiry) |
//! | [`web_forms`] | requests that could be unwanted mail: web-form proof, form tokens, per-address limits |
//! | [`link_mail`] | the "send me my link again" mail |
//! | [`preferences`] | the preferences page as the person sees it |
//! | [`mail`] | the consent request mail and its stable message id |
//! | [`rendering`] | per-recipient rendering: removing marked tracking, the footer |
//! | [`tracking`] | whether a tracking event (email open, document view) may be kept |
//! | [`calendar`] | job periods (`YYYY-MM-DD`) and UTC dates without a clock |
//! | [`storage`] | the storage layout: keys, stored bytes, in-place reads for the hot path |
//!
//! # The hot path, for native benchmarks
//!
//! `sending.check-send` in the component does exactly this, so a native benchmark in the
//! same process does the same work as the wasm one:
//!
//! ```
//! use privacy_guard_core::sending::{
//!     decide_batch, person_keys, suppression_lookups, ErasureFacts, Recipient, RecipientRole,
//!     SendRequest, SendingPolicy,
//! };
//! use privacy_guard_core::vocabulary::MessageClass;
//!
//! // 1. the stored `config` value (one `store.get`), read once per batch, in place
//! let config: Option<Vec<u8>> = None;
//! let policy = SendingPolicy::decode(config.as_deref()).unwrap();
//! // 2. the keys of the recipients' snapshots (one `store.get-many`)
//! let recipients = vec![Recipient { address: "ada@example.org", role: RecipientRole::To }];
//! let keys: Vec<String> = person_keys(&recipients);
//! let stored: Vec<Option<Vec<u8>>> = keys.iter().map(|_| None).collect();
//! // 3. only once someone was erased: the suppression markers of unknown recipients (one
//! //    more `store.get-many`); nothing here, as nothing was ever erased
//! assert!(suppression_lookups(&policy, &recipients, &stored).is_empty());
//! // 4. one decision per recipient, in order, at the time of the send (`clock.now`)
//! let request = SendRequest { class: MessageClass::AdHoc, purpose: None };
//! let now = 1_796_119_200_000;
//! let decisions =
//!     decide_batch(&policy, &request, &recipients, &stored, &ErasureFacts::default(), now)
//!         .unwrap();
//! assert_eq!(decisions.len(), 1);
//! ```
//!
//! Exact signatures:
//! - `SendingPolicy::decode(config: Option<&[u8]>) -> Result<SendingPolicy<'_>, StorageError>`
//! - `person_keys(recipients: &[Recipient]) -> Vec<String>` (and
//!   `person_key(address: &str) -> String` for one address; the config key is
//!   [`CONFIG_KEY`], both re-exported here from [`storage`])
//! - `suppression_lookups<S>(policy: &SendingPolicy<'_>, recipients: &[Recipient],
//!   snapshots: &[Option<S>]) -> Vec<(usize, String)>`
//! - `decide_batch<S: AsRef<[u8]>>(policy: &SendingPolicy<'_>, request: &SendRequest,
//!   recipients: &[Recipient], snapshots: &[Option<S>], erasures: &ErasureFacts,
//!   now: i64) -> Result<Vec<Decision>, StorageError>`
//!
//! To build stored bytes natively: [`configuration::Configuration`] (`set_settings`,
//! `put_consent`, `enable`) with [`storage::encode_configuration`], and
//! [`person::PersonSnapshot`] (driven by [`lifecycle`]) with [`storage::encode_person`].
#![forbid(unsafe_code)]

pub mod address;
pub mod calendar;
pub mod classification;
pub mod configuration;
pub mod consent;
pub mod deduplication;
pub mod definition;
mod digest;
pub mod editing;
pub mod event;
pub mod feedback;
pub mod lifecycle;
pub mod link;
pub mod link_mail;
pub mod localisation;
pub mod mail;
pub mod notification;
pub mod observation;
pub mod person;
pub mod preferences;
pub mod record;
pub mod rendering;
pub mod restriction;
pub mod safeguards;
pub mod sending;
pub mod storage;
pub mod tracking;
pub mod vocabulary;
pub mod web_forms;

pub use storage::{CONFIG_KEY, person_key};
