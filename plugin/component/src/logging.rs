//! Structured, PII-free logs through the host, and the fault path (log, then trap).
//!
//! Fields carry ids, counts and reasons; never addresses, names or evidence.

use std::fmt::Display;

use crate::bindings::privacy_guard::consent::log;
use crate::bindings::privacy_guard::consent::types::LogLevel;

fn emit(level: LogLevel, message: &str, fields: &[(&str, &dyn Display)]) {
    // Lines the host drops are not built (contract 0.3.1).
    if !log::enabled(level) {
        return;
    }
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.to_string()))
        .collect();
    log::log(level, message, &fields);
}

/// Per page or per batch: the host sums them up at INFO.
pub(crate) fn debug(message: &str, fields: &[(&str, &dyn Display)]) {
    emit(LogLevel::Debug, message, fields);
}

pub(crate) fn info(message: &str, fields: &[(&str, &dyn Display)]) {
    emit(LogLevel::Info, message, fields);
}

pub(crate) fn warn(message: &str, fields: &[(&str, &dyn Display)]) {
    emit(LogLevel::Warn, message, fields);
}

/// Logs a fault and traps, so the host drops the unit of work (and, for a send check,
/// refuses every recipient). Used only where continuing could decide on wrong facts.
pub(crate) fn fault(what: &str, error: &dyn Display) -> ! {
    emit(
        LogLevel::Error,
        "plugin fault",
        &[("what", &what), ("error", error)],
    );
    panic!("privacy guard fault: {what}: {error}")
}
