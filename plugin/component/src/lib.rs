//! The Privacy Guard component: binds the consent engine (`privacy-guard-core`) to the
//! `privacy-guard` WIT world.
//!
//! A thin adapter: each exported interface has one module that converts WIT types to the
//! engine's types at the edge, reads facts through the imports, calls the engine, and
//! carries out what it returns (store writes, events, mails). The generated bindings stay
//! in the private [`bindings`] module.
//!
//! | module | exports / role |
//! |---|---|
//! | `configuration` | `configuration`: settings, consent definitions, enabling |
//! | `records` | `records`: the record-change hook, and the record observation the daily run shares |
//! | `sending` | `sending`: the pre-send decision (the hot path) and per-recipient rendering |
//! | `tracking` | `tracking`: whether a tracking event may be kept |
//! | `jobs` | `jobs`: the daily consent run |
//! | `deduplication` | `deduplication`: flagging duplicate contacts and leads (also run by enabling) |
//! | `preferences` | `preferences`: the signed-link preferences page |
//! | `links` | making and opening signed preferences links (shared by the daily run, rendering, confirmations, staff and the page) |
//! | `subjects` | `subjects`: one person's consents, history and recorded decisions |
//! | `notification` | confirmation mails after changes, as the consent notification settings say |
//! | `outgoing` | queuing mail, with message ids keyed to the installation |
//! | `restriction` | stopping processing, lifting it, erasure and its suppression marker (shared by `subjects` and `preferences`) |
//! | `safeguards` | `safeguards` (0.3.3): the safeguard settings, and the dispatch of its other functions to `feedback`, `web_forms` and `link_mail` |
//! | `feedback` | delivery reports: bounces, complaints, unsubscribe mails, and what they suppress |
//! | `web_forms` | the proof a web-form record must carry before it is sent a request: honeypot, form tokens |
//! | `link_mail` | "send me my link again": a fresh preferences link by mail, at most once per interval |
//! | `state` | the plugin's state in the host's store (layout: `privacy_guard_core::storage`) |
//! | `convert` | WIT <-> engine conversions shared by several interfaces |
//! | `logging` | structured, PII-free logs and the fault path (log, then trap) |
//!
//! A fault (stored bytes that cannot be read, a host returning nonsense) traps: the host
//! drops the whole unit of work and, on the hot path, refuses every recipient.

mod bindings;
mod configuration;
mod convert;
mod deduplication;
mod feedback;
mod jobs;
mod link_mail;
mod links;
mod logging;
mod notification;
mod outgoing;
mod preferences;
mod records;
mod restriction;
mod safeguards;
mod sending;
mod state;
mod subjects;
mod tracking;
mod web_forms;

/// The component: implements every exported interface.
// Natively the exports are not generated (see `bindings`), so nothing names the type there.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Plugin;
