//! Short hands for scenarios: naming records, importing CSV text, asking the pre-send
//! check about one address, reading a person's history as JSON.

use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::{Guard, ImportReport};
use privacy_guard_host::import::read_records;

/// `contacts/<id>`.
pub fn contact(id: &str) -> RecordRef {
    record("contacts", id)
}

/// `leads/<id>`.
pub fn lead(id: &str) -> RecordRef {
    record("leads", id)
}

/// `<module>/<id>`.
pub fn record(module: &str, id: &str) -> RecordRef {
    RecordRef {
        module: module.into(),
        id: id.into(),
    }
}

/// Imports CSV text into `module` as `privacy-guard import` would; panics on a refusal.
pub fn import_csv(guard: &Guard, module: &str, csv: &str) -> ImportReport {
    guard
        .import_records(module, read_records(csv.as_bytes()).expect("CSV"), &|_| {})
        .expect("import")
}

/// The pre-send decision for one recipient in `role`, naming no CRM record.
pub fn decide_for(
    guard: &Guard,
    class: MessageClass,
    purpose: Option<&str>,
    address: &str,
    role: RecipientRole,
) -> Decision {
    let request = SendRequest {
        class,
        purpose: purpose.map(str::to_owned),
    };
    let recipient = Recipient {
        address: address.into(),
        role,
        person: None,
    };
    guard.check_send(&request, &[recipient]).remove(0)
}

/// The refusal's reason; none for an allowance.
pub fn refusal_of(decision: &Decision) -> Option<RefusalReason> {
    match decision {
        Decision::Refuse(refusal) => Some(refusal.reason),
        Decision::Allow(_) => None,
    }
}

/// The allowance's basis; none for a refusal.
pub fn basis_of(decision: &Decision) -> Option<LawfulBasis> {
    match decision {
        Decision::Allow(allowance) => Some(allowance.basis),
        Decision::Refuse(_) => None,
    }
}

/// A person's events, oldest first, as JSON values.
pub fn history_of(guard: &Guard, person: &RecordRef) -> Vec<serde_json::Value> {
    guard
        .history(person)
        .expect("history")
        .iter()
        .map(|event| serde_json::from_str(event).expect("event JSON"))
        .collect()
}

/// Every log line of a test process, host and plugin, at every level, captured in memory:
/// what an operator's log would hold.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// The capture of this process's log, installed by the first call: the subscriber is
    /// global, as interest in a log call site is cached process-wide.
    pub fn process() -> &'static LogCapture {
        static CAPTURE: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = LogCapture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("the process's log subscriber");
            capture
        })
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Forgets what was logged so far.
    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clear();
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `future` to its end on a runtime of its own: for tests that reach the database
/// directly, as someone with access to it would.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}
