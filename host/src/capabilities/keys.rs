//! `keys`: MACs under host-held link keys, and secure random bytes.

use rand::RngCore;

use super::HostFailure;
use crate::runtime::HostState;
use crate::runtime::bindings::privacy_guard::consent::keys;

/// The most random bytes one call may ask for.
const MAX_RANDOM_BYTES: u32 = 1024;

impl keys::Host for HostState {
    fn sign(&mut self, data: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.capabilities.keys().sign(&data))
    }

    fn verify(&mut self, data: Vec<u8>, mac: Vec<u8>) -> wasmtime::Result<bool> {
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
