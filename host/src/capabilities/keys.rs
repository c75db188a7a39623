//! `keys`: MACs under host-held link keys, and secure random bytes.

use rand::RngCore;

use super::HostFailure;
use crate::capabilities::HostState;
use crate::contract::imports::keys;
use crate::keys::{SIGNING_REFRESH, VERIFY_REFRESH};

/// The most random bytes one call may ask for.
const MAX_RANDOM_BYTES: u32 = 1024;

impl HostState {
    /// Reads the link keys again (another process may have created or rotated one).
    fn reload_link_keys(&mut self) -> wasmtime::Result<()> {
        let keys = self.capabilities.keys().clone();
        let database = self.capabilities.database().clone();
        self.capabilities
            .block_on(async move { keys.reload(&database).await })
    }
}

impl keys::Host for HostState {
    fn sign(&mut self, data: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        if self.capabilities.keys().older_than(SIGNING_REFRESH) {
            self.reload_link_keys()?;
        }
        Ok(self.capabilities.keys().sign(&data))
    }

    fn verify(&mut self, data: Vec<u8>, mac: Vec<u8>) -> wasmtime::Result<bool> {
        let keys = self.capabilities.keys();
        if keys.verify(&data, &mac) {
            return Ok(true);
        }
        // Perhaps signed with a key another process created since; a forged link costs at
        // most one read per VERIFY_REFRESH.
        if !keys.older_than(VERIFY_REFRESH) {
            return Ok(false);
        }
        self.reload_link_keys()?;
        Ok(self.capabilities.keys().verify(&data, &mac))
    }

    fn random_bytes(&mut self, len: u32) -> wasmtime::Result<Vec<u8>> {
        if len > MAX_RANDOM_BYTES {
            return Err(wasmtime::Error::new(HostFailure(format!(
                "random-bytes asked for {len} bytes; at most {MAX_RANDOM_BYTES} per call"
            ))));
        }
        let mut bytes = vec![0u8; len as usize];
        rand::rng().fill_bytes(&mut bytes);
        Ok(bytes)
    }
}
