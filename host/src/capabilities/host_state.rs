//! The data each plugin instance's `Store` carries between calls.

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Capabilities;
use super::budget::{CallBudget, Spending, Spent};
use crate::storage::UnitOfWork;

/// Per-instance host state: the sandbox's (empty) WASI context, its limits, the shared
/// capabilities, and the unit of work of the call in progress.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    pub(crate) capabilities: Capabilities,
    pub(crate) work: UnitOfWork,
    budget: CallBudget,
    spent: Spent,
}

impl HostState {
    pub(crate) fn new(
        capabilities: Capabilities,
        limits: StoreLimits,
        budget: CallBudget,
    ) -> HostState {
        // Rust's std in the guest imports WASI; grant it nothing: no files, environment,
        // arguments, network or inherited stdio.
        let wasi = WasiCtx::builder().build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            capabilities,
            work: UnitOfWork::default(),
            budget,
            spent: Spent::default(),
        }
    }

    /// Spends `amount` of `what` from the call's budget: a trap past it, so the call
    /// fails closed and its unit of work is dropped.
    pub(crate) fn spend(&mut self, what: Spending, amount: usize) -> wasmtime::Result<()> {
        self.spent
            .spend(&self.budget, what, amount)
            .map_err(wasmtime::Error::new)
    }

    pub(crate) fn limits_mut(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    /// Starts a call that continues `work`, with its whole budget.
    pub(crate) fn begin_call(&mut self, work: UnitOfWork) {
        self.work = work;
        self.spent = Spent::default();
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
