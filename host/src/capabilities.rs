//! What the host supplies to the plugin: one module per imported WIT interface, each an
//! `impl Host` on the instance's [`HostState`](crate::capabilities::HostState).
//!
//! Reads consult the call's unit of work first, then storage; writes go only into the
//! unit of work, which the caller commits when the call returns.

mod budget;
mod clock;
mod crm;
mod host_state;
mod keys;
mod log;
mod mail;
mod store;

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;

pub use self::budget::{BudgetExceeded, CallBudget};
pub(crate) use self::crm::{field_name_problem, person_record};
pub use self::host_state::HostState;

use crate::clock::Clock;
use crate::contract::imports::types;
use crate::keys::LinkKeys;
use crate::storage::{Database, StorageError};

/// The shared services behind the imports.
#[derive(Clone)]
pub struct Capabilities(Arc<Shared>);

struct Shared {
    database: Database,
    clock: Clock,
    keys: LinkKeys,
    tokio: Handle,
}

impl Capabilities {
    /// Bundles the services; `tokio` runs the database's futures for the (synchronous)
    /// imports.
    pub fn new(database: Database, clock: Clock, keys: LinkKeys, tokio: Handle) -> Capabilities {
        Capabilities(Arc::new(Shared {
            database,
            clock,
            keys,
            tokio,
        }))
    }

    pub fn database(&self) -> &Database {
        &self.0.database
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    pub fn keys(&self) -> &LinkKeys {
        &self.0.keys
    }

    /// Runs a storage future to completion from a plugin call (a blocking thread), and
    /// turns a failure into a trap so the call's unit of work is dropped.
    pub(crate) fn block_on<T>(
        &self,
        future: impl Future<Output = Result<T, StorageError>>,
    ) -> wasmtime::Result<T> {
        self.0
            .tokio
            .block_on(future)
            .map_err(|error| wasmtime::Error::new(HostFailure(error.to_string())))
    }
}

/// A host capability failed during a call; raised as a trap so nothing is committed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostFailure(pub String);

impl types::Host for HostState {}
