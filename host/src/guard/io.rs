//! The process's one async runtime: every guard's database, mail and webhook IO runs on
//! it, and `serve` runs its server and background tasks on it too. Two worker threads
//! whatever the number of tenants; before, each tenant's guard built a runtime of its own
//! (two threads and a driver per tenant).

use std::sync::{Mutex, OnceLock, PoisonError};

/// Worker threads of the runtime: the host's work is IO and waits, and the blocking
/// plugin calls run on tokio's blocking pool, not on these.
const WORKER_THREADS: usize = 2;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The process's async runtime, started on first use.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, std::io::Error> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    // Only one thread builds it; a failed build is reported and tried again next time.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _building = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("privacy-guard-io")
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| runtime))
}
