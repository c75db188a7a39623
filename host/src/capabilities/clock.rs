//! `clock`: the audited time.

use crate::capabilities::HostState;
use crate::contract::imports::clock;

impl clock::Host for HostState {
    fn now(&mut self) -> wasmtime::Result<i64> {
        Ok(self.capabilities.clock().now_millis())
    }
}
