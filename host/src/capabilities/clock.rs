//! `clock`: the audited time.

use crate::runtime::HostState;
use crate::runtime::bindings::privacy_guard::consent::clock;

impl clock::Host for HostState {
    fn now(&mut self) -> wasmtime::Result<i64> {
        Ok(self.capabilities.clock().now_millis())
    }
}
