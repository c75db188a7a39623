//! Loads the Privacy Guard component and runs calls into it inside a sandbox.
//!
//! - The component is compiled once per process and shared by every tenant running the
//!   same bytes ([`shared`]: one engine, one epoch ticker, one `InstancePre`); the compiled
//!   artifact is cached on disk, keyed by the component's hash, wasmtime's version and the
//!   engine configuration.
//! - Instances are made from the shared `InstancePre` with the tenant's own capabilities
//!   and kept warm per tenant: each pooled instance owns one `Store` that is reused across
//!   that tenant's calls, never another's. At most [`shared::PARKED_INSTANCES`] wait
//!   parked across all tenants; past that an instance is dropped after its call.
//! - Each call runs under a memory cap and an epoch deadline. A trap, timeout or limit hit
//!   becomes a [`Fault`], the instance is dropped (a trapped instance can never be entered
//!   again) and the next call gets a fresh one.
//!
//! The runtime knows the plugin only through `wit/`: nothing here links the plugin's code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};

use self::gate::Gate;
use self::shared::SharedComponent;
use crate::capabilities::{BudgetExceeded, CallBudget, Capabilities, HostFailure, HostState};

mod gate;
mod shared;
use crate::contract::{Bindings, CONTRACT, safeguards};
use crate::storage::UnitOfWork;

/// How often the epoch ticker advances; call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sandbox limits for every call into the plugin.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Largest linear memory an instance may grow to.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call; rounded up to the ticker's 10 ms granularity.
    /// Zero makes every call time out at once (used to prove the fail-closed path).
    pub call_timeout: Duration,
    /// What one call may make the host hold or do.
    pub budget: CallBudget,
    /// Calls that may run in the plugin at once (each on an instance of its own): guest
    /// memory stays under `memory_bytes` × this.
    pub max_instances: usize,
    /// How long a call waits for a free instance before it is refused.
    pub queue_wait: Duration,
    /// Fuel mode: the instructions one call may execute (wasmtime's fuel, roughly one
    /// unit per instruction), a budget that, unlike the wall-clock deadline, gives the same
    /// answer on every machine. Off (`None`) by default: counting costs some speed.
    pub fuel: Option<u64>,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(30),
            budget: CallBudget::default(),
            max_instances: 8,
            queue_wait: Duration::from_secs(10),
            fuel: None,
        }
    }
}

/// Why a call into the plugin produced no answer. Never an answer of "allowed".
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("the plugin ran past its {0:?} time limit")]
    Timeout(Duration),
    #[error("the plugin hit its memory limit of {0} bytes")]
    MemoryLimit(usize),
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("a host capability failed during the call: {0}")]
    Host(String),
    #[error("the plugin exceeded its budget: {0}")]
    Budget(BudgetExceeded),
    #[error("all {0} plugin instances stayed busy for {1:?}: try again later")]
    Busy(usize, Duration),
    #[error("the plugin ran out of fuel ({0} units for one call)")]
    OutOfFuel(u64),
    #[error("the plugin gave an impossible answer: {0}")]
    WrongAnswer(String),
}

/// An answer no correct plugin gives (a decision count unlike the recipients'...): the
/// caller returns it from its call to make the call a fault, and the instance that gave it
/// is never used again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WrongAnswer(pub String);

impl Fault {
    /// The fault in one line, for whoever asked (a CRM, an API client): the operator's log
    /// has the whole of it.
    pub fn summary(&self) -> String {
        const LONGEST: usize = 200;
        let text = self.to_string();
        let line = text.lines().next().unwrap_or_default().trim_end();
        let line = line.strip_suffix(':').unwrap_or(line);
        match line.char_indices().nth(LONGEST) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_owned(),
        }
    }
}

/// Why the component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not read the component {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refused the package {}: {source}", path.display())]
    Package {
        path: PathBuf,
        source: crate::package::PackageError,
    },
    #[error("could not compile the component: {0}")]
    Compile(String),
    #[error(
        "the component does not implement {contract}, the contract this host speaks (a plugin built for another version?): {0}",
        contract = CONTRACT
    )]
    WorldMismatch(String),
    #[error("could not set up the wasmtime engine: {0}")]
    Engine(String),
}

/// One tenant's way into the plugin: the shared compiled component, the tenant's sandbox
/// limits and capabilities, and its pool of warm instances.
pub struct Runtime {
    shared: Arc<SharedComponent>,
    limits: SandboxLimits,
    capabilities: Capabilities,
    idle: Mutex<Vec<Instance>>,
    /// Calls running in the plugin now, at most `limits.max_instances`.
    gate: Gate,
    /// Instances made since the start (each call beyond the warm ones makes one).
    instantiated: AtomicUsize,
}

/// One instance with the store it lives in.
pub(crate) struct Instance {
    store: Store<HostState>,
    bindings: Bindings,
    /// The same instance untyped, for calls of an export by name ([`Runtime::with_dynamic_instance`]).
    raw: wasmtime::component::Instance,
    /// Its `safeguards` export, where the component offers it ([`Runtime::with_safeguards`]).
    safeguards: Option<safeguards::Guest>,
}

impl Runtime {
    /// The component compiled (or loaded from `cache_dir`, or shared with another runtime
    /// of this process that runs the same bytes) and linked against the host's imports,
    /// with `capabilities` serving this runtime's calls.
    pub fn load(
        component_bytes: &[u8],
        cache_dir: Option<&Path>,
        limits: SandboxLimits,
        capabilities: Capabilities,
    ) -> Result<Runtime, LoadError> {
        let shared = shared::shared_component(component_bytes, cache_dir, limits.fuel.is_some())?;
        Ok(Runtime {
            shared,
            limits,
            capabilities,
            idle: Mutex::new(Vec::new()),
            gate: Gate::default(),
            instantiated: AtomicUsize::new(0),
        })
    }

    /// The capabilities the plugin's imports are served from.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Runs `call` on a warm instance under the sandbox limits. Blocking: call it from a
    /// thread that may block (not from inside an async task).
    ///
    /// The call starts from `work` (empty for a call of its own, or what earlier calls of
    /// the same unit wrote) and hands back what it holds afterwards; committing is the
    /// caller's business (see [`crate::guard`]).
    pub(crate) fn with_instance<T>(
        &self,
        work: UnitOfWork,
        call: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<(T, UnitOfWork), Fault> {
        self.run(work, |instance| {
            call(&mut instance.store, &instance.bindings)
        })
    }

    /// [`Runtime::with_instance`] for a call of an export by name, with values built from
    /// the function's types (the conformance kit's driver): the same sandbox, limits and
    /// budget, the untyped instance instead of the generated bindings.
    pub(crate) fn with_dynamic_instance<T>(
        &self,
        work: UnitOfWork,
        call: impl FnOnce(&mut Store<HostState>, &wasmtime::component::Instance) -> wasmtime::Result<T>,
    ) -> Result<(T, UnitOfWork), Fault> {
        self.run(work, |instance| call(&mut instance.store, &instance.raw))
    }

    /// The contract the component's exports name, e.g. `privacy-guard:consent@0.3.2`.
    pub fn component_contract(&self) -> &str {
        &self.shared.contract
    }

    /// Whether the component exports `safeguards` (contract 0.3.3 and later).
    pub(crate) fn offers_safeguards(&self) -> bool {
        self.shared.safeguards.is_some()
    }

    /// [`Runtime::with_instance`] for a call of the `safeguards` export: the same sandbox,
    /// limits and budget. `None` (and no call) where the component does not offer it.
    pub(crate) fn with_safeguards<T>(
        &self,
        work: UnitOfWork,
        call: impl FnOnce(&mut Store<HostState>, &safeguards::Guest) -> wasmtime::Result<T>,
    ) -> Result<Option<(T, UnitOfWork)>, Fault> {
        if !self.offers_safeguards() {
            return Ok(None);
        }
        self.run(work, |instance| match &instance.safeguards {
            Some(guest) => call(&mut instance.store, guest),
            None => Err(wasmtime::Error::new(WrongAnswer(
                "the instance lost its `safeguards` export".to_owned(),
            ))),
        })
        .map(Some)
    }

    fn run<T>(
        &self,
        work: UnitOfWork,
        call: impl FnOnce(&mut Instance) -> wasmtime::Result<T>,
    ) -> Result<(T, UnitOfWork), Fault> {
        let _place = self
            .gate
            .enter(self.limits.max_instances, self.limits.queue_wait)
            .ok_or(Fault::Busy(
                self.limits.max_instances,
                self.limits.queue_wait,
            ))?;
        let mut instance = match self.take_idle() {
            Some(instance) => instance,
            None => self.instantiate()?,
        };
        instance.store.data_mut().begin_call(work);
        let ticks = self
            .limits
            .call_timeout
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis()) as u64;
        instance.store.set_epoch_deadline(ticks);
        if let Some(fuel) = self.limits.fuel {
            instance.store.set_fuel(fuel).map_err(|error| {
                Fault::Host(format!("could not set the call's fuel: {error:#}"))
            })?;
        }
        let outcome = call(&mut instance);
        match outcome {
            Ok(value) => {
                let work = instance.store.data_mut().take_work();
                // Past the process's bound on parked instances it is dropped here instead.
                if self.shared.reserve_parking() {
                    self.idle
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(instance);
                }
                Ok((value, work))
            }
            // The instance is dropped here: after a trap it can never be entered again.
            Err(error) => Err(self.classify(error)),
        }
    }

    fn take_idle(&self) -> Option<Instance> {
        let instance = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if instance.is_some() {
            self.shared.release_parking(1);
        }
        instance
    }

    /// How many instances this runtime has made: at most `max_instances` are ever alive.
    pub fn instances_made(&self) -> usize {
        self.instantiated.load(Ordering::Relaxed)
    }

    fn instantiate(&self) -> Result<Instance, Fault> {
        self.instantiated.fetch_add(1, Ordering::Relaxed);
        let state = HostState::new(
            self.capabilities.clone(),
            self.store_limits(),
            self.limits.budget,
        );
        let mut store = Store::new(&self.shared.engine, state);
        store.limiter(|state| state.limits_mut());
        if let Some(fuel) = self.limits.fuel {
            store.set_fuel(fuel).map_err(|error| {
                Fault::Host(format!("could not set the call's fuel: {error:#}"))
            })?;
        }
        store.set_epoch_deadline(
            self.limits
                .call_timeout
                .as_millis()
                .div_ceil(EPOCH_TICK.as_millis()) as u64,
        );
        let raw = self
            .shared
            .pre
            .instance_pre()
            .instantiate(&mut store)
            .map_err(|error| self.classify(error))?;
        let bindings = Bindings::new(&mut store, &raw).map_err(|error| self.classify(error))?;
        let safeguards = match &self.shared.safeguards {
            Some(indices) => Some(
                indices
                    .load(&mut store, &raw)
                    .map_err(|error| self.classify(error))?,
            ),
            None => None,
        };
        Ok(Instance {
            store,
            bindings,
            raw,
            safeguards,
        })
    }

    fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(16)
            .tables(64)
            .memories(16)
            .table_elements(100_000)
            .trap_on_grow_failure(true)
            .build()
    }

    fn classify(&self, error: wasmtime::Error) -> Fault {
        if let Some(host_failure) = error.downcast_ref::<HostFailure>() {
            return Fault::Host(host_failure.to_string());
        }
        if let Some(exceeded) = error.downcast_ref::<BudgetExceeded>() {
            return Fault::Budget(exceeded.clone());
        }
        if let Some(WrongAnswer(what)) = error.downcast_ref::<WrongAnswer>() {
            return Fault::WrongAnswer(what.clone());
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Fault::Timeout(self.limits.call_timeout),
            Some(Trap::OutOfFuel) => Fault::OutOfFuel(self.limits.fuel.unwrap_or_default()),
            Some(Trap::AllocationTooLarge) => Fault::MemoryLimit(self.limits.memory_bytes),
            _ => {
                let text = format!("{error:#}");
                if text.contains("memory") && text.contains("limit")
                    || text.contains("forcing trap when growing memory")
                {
                    Fault::MemoryLimit(self.limits.memory_bytes)
                } else {
                    Fault::Trap(text)
                }
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let parked = self
            .idle
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        self.shared.release_parking(parked);
    }
}

/// Compiles the component, or loads the artifact this host compiled earlier.
fn compile_cached(
    engine: &Engine,
    component_bytes: &[u8],
    component_hash: &[u8; 32],
    cache_dir: Option<&Path>,
) -> Result<Component, LoadError> {
    let Some(cache_dir) = cache_dir else {
        return Component::new(engine, component_bytes)
            .map_err(|error| LoadError::Compile(format!("{error:#}")));
    };
    let artifact = cache_dir.join(format!("{}.cwasm", artifact_key(engine, component_hash)));
    if artifact.is_file() {
        // Mapped, not read: a short-lived command (`check`) then touches only the pages
        // it runs instead of copying the whole artifact first.
        // SAFETY: the artifact was written by `precompile_component` of this same host
        // (the file name binds the component hash, wasmtime's version and the engine
        // configuration) into the host's own data directory, by an atomic rename, and is
        // never written in place.
        match unsafe { Component::deserialize_file(engine, &artifact) } {
            Ok(component) => return Ok(component),
            Err(error) => {
                tracing::warn!(artifact = %artifact.display(), error = %format!("{error:#}"), "ignoring an unusable compiled artifact")
            }
        }
    }
    let compiled = engine
        .precompile_component(component_bytes)
        .map_err(|error| LoadError::Compile(format!("{error:#}")))?;
    if let Err(error) = write_atomically(&artifact, &compiled) {
        tracing::warn!(artifact = %artifact.display(), %error, "could not cache the compiled component; it will be compiled again next start");
    }
    // SAFETY: `compiled` was produced just now by this engine.
    unsafe { Component::deserialize(engine, &compiled) }
        .map_err(|error| LoadError::Compile(format!("{error:#}")))
}

fn artifact_key(engine: &Engine, component_hash: &[u8; 32]) -> String {
    use std::hash::{Hash, Hasher};
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(Sha256::new());
    hasher.write(component_hash);
    hasher.write(env!("CARGO_PKG_VERSION").as_bytes());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_summed_up_in_one_short_line() {
        let trap = Fault::Trap(
            "error while executing at wasm backtrace:\n    0: 0x1234 - plugin!alloc\n    1: 0x5678 - plugin!main"
                .into(),
        );
        assert_eq!(
            trap.summary(),
            "the plugin trapped: error while executing at wasm backtrace"
        );
        let long = Fault::Host("x".repeat(500));
        assert_eq!(long.summary().chars().count(), 201);
        assert_eq!(
            Fault::Timeout(Duration::from_secs(30)).summary(),
            "the plugin ran past its 30s time limit"
        );
    }
}
