//! `log`: the plugin's structured log lines, forwarded to `tracing` under the target
//! `privacy_guard::plugin`.

use crate::capabilities::HostState;
use crate::capabilities::budget::Spending;
use crate::contract::imports::log;
use crate::contract::imports::types::LogLevel;

impl log::Host for HostState {
    fn log(
        &mut self,
        level: LogLevel,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let bytes = message.len()
            + fields
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>();
        self.spend(Spending::LogBytes, bytes)?;
        let fields = fields
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(" ");
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "privacy_guard::plugin", %fields, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "privacy_guard::plugin", %fields, "{message}")
            }
            LogLevel::Info => tracing::info!(target: "privacy_guard::plugin", %fields, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "privacy_guard::plugin", %fields, "{message}"),
            LogLevel::Error => {
                tracing::error!(target: "privacy_guard::plugin", %fields, "{message}")
            }
        }
        Ok(())
    }

    fn enabled(&mut self, level: LogLevel) -> wasmtime::Result<bool> {
        Ok(match level {
            LogLevel::Trace => {
                tracing::enabled!(target: "privacy_guard::plugin", tracing::Level::TRACE)
            }
            LogLevel::Debug => {
                tracing::enabled!(target: "privacy_guard::plugin", tracing::Level::DEBUG)
            }
            LogLevel::Info => {
                tracing::enabled!(target: "privacy_guard::plugin", tracing::Level::INFO)
            }
            LogLevel::Warn => {
                tracing::enabled!(target: "privacy_guard::plugin", tracing::Level::WARN)
            }
            LogLevel::Error => {
                tracing::enabled!(target: "privacy_guard::plugin", tracing::Level::ERROR)
            }
        })
    }
}
