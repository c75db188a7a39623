//! The Privacy Guard reference host: a wasmtime embedding that loads the consent
//! component, supplies what it imports (storage, the CRM's records, mail, the clock,
//! keys, logs) and serves the contact-facing preferences page and a command line.
//!
//! Start at [`guard::Guard`]: it puts the pieces together. The host knows the plugin only
//! through `wit/`; [`contract`] re-exports the WIT types its API speaks.

pub mod api;
pub mod capabilities;
pub mod clock;
pub mod config;
pub mod field_encryption;
pub mod guard;
pub mod import;
pub mod keys;
pub mod mail;
pub mod runtime;
pub mod schedule;
pub mod settings;
pub mod storage;
pub mod tenants;
pub mod web;
pub mod worker;

/// The component built together with this host (see `build.rs`).
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("PRIVACY_GUARD_COMPONENT"));

/// The types of the WIT contract (`privacy-guard:consent@0.1.0`) that the host's API
/// speaks: a change of the contract is a compile error in every caller.
pub mod contract {
    pub use crate::runtime::bindings::exports::privacy_guard::consent::{
        configuration, deduplication, jobs, preferences, records, sending, subjects, tracking,
    };
    pub use crate::runtime::bindings::privacy_guard::consent::types;
}
