//! The data each plugin instance's `Store` carries between calls.

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Capabilities;
use crate::storage::UnitOfWork;

/// Per-instance host state: the sandbox's (empty) WASI context, its limits, the shared
/// capabilities, and the unit of work of the call in progress.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    pub(crate) capabilities: Capabilities,
    pub(crate) work: UnitOfWork,
}

impl HostState {
    pub(crate) fn new(capabilities: Capabilities, limits: StoreLimits) -> HostState {
        // Rust's std in the guest imports WASI; grant it nothing: no files, environment,
        // arguments, network or inherited stdio.
        let wasi = WasiCtx::builder().build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            capabilities,
            work: UnitOfWork::default(),
        }
    }

    pub(crate) fn limits_mut(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    /// Starts a call that continues `work`.
    pub(crate) fn begin_call(&mut self, work: UnitOfWork) {
        self.work = work;
    }

    /// Hands over what the finished call wrote.
    pub(crate) fn take_work(&mut self) -> UnitOfWork {
        std::mem::take(&mut self.work)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
