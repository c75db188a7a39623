//! The Privacy Guard reference host: a wasmtime embedding that loads the consent
//! component, supplies what it imports (storage, the CRM's records, mail, the clock,
//! keys, logs) and serves the contact-facing preferences page and a command line.
//!
//! Start at [`guard::Guard`]: it puts the pieces together. The host knows the plugin only
//! through `wit/`; [`contract`] re-exports the WIT types its API speaks.

pub mod capabilities;
pub mod cases;
pub mod changes;
pub mod clock;
pub mod conformance;
pub mod contract;
pub mod export;
pub mod feedback;
pub mod guard;
pub mod http;
pub mod import;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod package;
pub mod proof;
pub mod register;
pub mod reports;
pub mod retention;
pub mod runtime;
pub mod schedule;
pub mod settings;
pub mod storage;
pub mod tenants;
pub mod webhooks;
pub mod wire;
pub mod worker;

/// The component built together with this host (see `build.rs`).
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("PRIVACY_GUARD_EMBEDDED_COMPONENT_PATH"));

/// The SHA-256 of [`EMBEDDED_COMPONENT`] in hex, computed by `build.rs`.
pub const EMBEDDED_COMPONENT_SHA256: &str = env!("PRIVACY_GUARD_EMBEDDED_COMPONENT_SHA256");
