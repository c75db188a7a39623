//! What every tenant of a process shares: one wasmtime engine per engine configuration
//! (with its one epoch ticker thread) and one compiled component, linked once into an
//! `InstancePre`, per component. A host with ten thousand tenants compiles and holds the
//! component once, not ten thousand times; what stays per tenant is cheap (its limits, its
//! capabilities, its few warm instances: see [`super::Runtime`]).
//!
//! Components are found by their hash, so a tenant given a component of its own (another
//! package) gets its own compiled copy, and every tenant with the same bytes shares it. A
//! compiled component is kept while some tenant's runtime holds it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread;

use sha2::{Digest, Sha256};
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::{EPOCH_TICK, LoadError, compile_cached};
use crate::capabilities::HostState;
use crate::contract::{Bindings, BindingsPre, safeguards};

/// Warm instances parked at once across every tenant sharing one compiled component. An
/// instance is a Store with the guest's memory (a few MiB): parked per tenant without a
/// bound, ten thousand tenants called once each would hold ten thousand of them. Past this
/// bound an instance is dropped after its call and the next call makes a new one from the
/// shared `InstancePre` (microseconds).
pub(crate) const PARKED_INSTANCES: usize = 64;

/// A compiled component linked against the host's imports, shared by every runtime that
/// runs the same bytes under the same engine configuration.
pub(crate) struct SharedComponent {
    pub(super) engine: Engine,
    pub(super) pre: BindingsPre<HostState>,
    /// Where the component exports `safeguards` (contract 0.3.3): its functions' indices.
    pub(super) safeguards: Option<safeguards::GuestIndices>,
    /// The contract its exports name, e.g. `privacy-guard:consent@0.3.2`.
    pub(super) contract: String,
    /// Instances parked in the idle pools of all runtimes using this component.
    parked: AtomicUsize,
}

impl SharedComponent {
    /// Reserves a place for one more parked instance; false when [`PARKED_INSTANCES`] are
    /// parked already (then the instance is dropped).
    pub(super) fn reserve_parking(&self) -> bool {
        self.parked
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |parked| {
                (parked < PARKED_INSTANCES).then_some(parked + 1)
            })
            .is_ok()
    }

    /// Gives back the places of `count` instances that left a pool (taken or dropped).
    pub(super) fn release_parking(&self, count: usize) {
        self.parked.fetch_sub(count, Ordering::AcqRel);
    }
}

/// The engines of this process, by whether fuel is counted (the only setting that differs
/// between tenants and changes the compiled code). Each lives as long as the process, with
/// its one epoch ticker.
static ENGINES: Mutex<[Option<Engine>; 2]> = Mutex::new([None, None]);

/// A compiled component's key: whether its engine counts fuel, and the component's hash.
type ComponentKey = (bool, [u8; 32]);

/// The compiled components of this process.
static COMPONENTS: Mutex<Option<HashMap<ComponentKey, Weak<SharedComponent>>>> = Mutex::new(None);

/// The compiled component for `component_bytes` under the engine `fuel` asks for: the one
/// another runtime of this process already holds, else compiled (or loaded from
/// `cache_dir`) now and linked.
pub(crate) fn shared_component(
    component_bytes: &[u8],
    cache_dir: Option<&Path>,
    fuel: bool,
) -> Result<Arc<SharedComponent>, LoadError> {
    let hash = component_hash(component_bytes);
    // Held while compiling: two tenants opening at once compile the component once.
    let mut components = COMPONENTS.lock().unwrap_or_else(PoisonError::into_inner);
    let components = components.get_or_insert_with(HashMap::new);
    if let Some(shared) = components.get(&(fuel, hash)).and_then(Weak::upgrade) {
        return Ok(shared);
    }
    components.retain(|_, shared| shared.strong_count() > 0);
    let engine = engine(fuel)?;
    let component = compile_cached(&engine, component_bytes, &hash, cache_dir)?;
    let mut linker: Linker<HostState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|error| LoadError::Engine(format!("{error:#}")))?;
    Bindings::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        &mut linker,
        |state| state,
    )
    .map_err(|error| LoadError::Engine(format!("{error:#}")))?;
    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(|error| LoadError::WorldMismatch(format!("{error:#}")))?;
    let pre = BindingsPre::new(instance_pre)
        .map_err(|error| LoadError::WorldMismatch(format!("{error:#}")))?;
    let exports: Vec<String> = component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let safeguards = safeguards_indices(&pre, &exports)?;
    let contract = exported_contract(&exports);
    let shared = Arc::new(SharedComponent {
        engine,
        pre,
        safeguards,
        contract,
        parked: AtomicUsize::new(0),
    });
    components.insert((fuel, hash), Arc::downgrade(&shared));
    Ok(shared)
}

/// The indices of the component's `safeguards` export; `None` when it exports none (a
/// component of contract 0.3.2 or earlier), a mismatch when it exports one of other types.
fn safeguards_indices(
    pre: &BindingsPre<HostState>,
    exports: &[String],
) -> Result<Option<safeguards::GuestIndices>, LoadError> {
    let exported = exports.iter().any(|name| is_safeguards_export(name));
    if !exported {
        return Ok(None);
    }
    safeguards::GuestIndices::new(pre.instance_pre())
        .map(Some)
        .map_err(|error| LoadError::WorldMismatch(format!("its `safeguards` export: {error:#}")))
}

/// Whether an export's name is the contract's `safeguards` interface, of any version.
fn is_safeguards_export(name: &str) -> bool {
    name.split('@').next() == Some("privacy-guard:consent/safeguards")
}

/// The contract a component's exports name (`privacy-guard:consent@0.3.2`), from its
/// `sending` export, which every version has.
fn exported_contract(exports: &[String]) -> String {
    exports
        .iter()
        .find_map(|name| name.strip_prefix("privacy-guard:consent/sending@"))
        .map(|version| format!("privacy-guard:consent@{version}"))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The SHA-256 of `component_bytes`; the embedded component's (the same in every tenant)
/// was computed when the host was built, so no process hashes it at start.
fn component_hash(component_bytes: &[u8]) -> [u8; 32] {
    if std::ptr::eq(component_bytes, crate::EMBEDDED_COMPONENT) {
        let mut hash = [0; 32];
        if hex::decode_to_slice(crate::EMBEDDED_COMPONENT_SHA256, &mut hash).is_ok() {
            return hash;
        }
    }
    Sha256::digest(component_bytes).into()
}

/// The process's engine for `fuel`, made (with its epoch ticker) on first use.
fn engine(fuel: bool) -> Result<Engine, LoadError> {
    let mut engines = ENGINES.lock().unwrap_or_else(PoisonError::into_inner);
    let slot = &mut engines[usize::from(fuel)];
    if let Some(engine) = slot {
        return Ok(engine.clone());
    }
    let mut config = Config::new();
    // Part of the compiled code (and of the cached artifact's key): only when asked for.
    config.consume_fuel(fuel);
    // Sync calls cost 2.5-3.6x more with the component-model concurrency machinery on,
    // and nothing here needs WASI p3.
    config.concurrency_support(false);
    config.epoch_interruption(true);
    config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Disable);
    // `perf` can name the plugin's functions when this is set (for profiling sessions).
    if std::env::var_os("PRIVACY_GUARD_PERF_MAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config).map_err(|error| LoadError::Engine(format!("{error:#}")))?;
    spawn_epoch_ticker(engine.clone());
    *slot = Some(engine.clone());
    Ok(engine)
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] for the rest of the process: one thread
/// per engine, whatever the number of tenants.
fn spawn_epoch_ticker(engine: Engine) {
    let spawned = thread::Builder::new()
        .name("privacy-guard-epoch".into())
        .spawn(move || {
            loop {
                thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    if let Err(error) = spawned {
        // Without a ticker no call can time out by wall clock; calls still end at their
        // deadline of zero ticks (immediately) if configured so, and memory caps hold.
        tracing::error!(%error, "could not start the epoch ticker thread: call timeouts are not enforced");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_component_is_found_to_offer_safeguards_and_the_packed_check() {
        let shared = shared_component(crate::EMBEDDED_COMPONENT, None, false).expect("loads");
        assert!(shared.safeguards.is_some());
        assert_eq!(shared.contract, crate::contract::CONTRACT);
        // The packed check is looked up by its 0.3.2 name: a later compatible version of
        // the export answers to it.
        let component = shared.pre.instance_pre().component();
        assert!(
            component
                .get_export_index(None, crate::contract::sending_packed::INTERFACE)
                .is_some()
        );
    }

    #[test]
    fn only_the_contracts_safeguards_interface_counts_as_the_export() {
        assert!(is_safeguards_export(
            "privacy-guard:consent/safeguards@0.3.3"
        ));
        assert!(is_safeguards_export(
            "privacy-guard:consent/safeguards@0.4.0"
        ));
        assert!(!is_safeguards_export(
            "privacy-guard:consent/safeguards-extra@0.3.3"
        ));
        assert!(!is_safeguards_export("other:consent/safeguards@0.3.3"));
    }
}
