//! Many CRM tenants in one host: each tenant is a [`Guard`] of its own (its own database,
//! so its own configuration, keys, people, events, outbox and schedule) and its own API
//! keys. What tenants share is only what holds no tenant's data: the process's async
//! runtime and the compiled plugin (each call gets an instance of the tenant's own, with
//! the tenant's own capabilities). So one tenant can never read or change another's data:
//! there is no query that could name the other's rows.
//!
//! A tenant's guard is opened on first use and closed again once unused for a while
//! ([`TenantGuard`]): a host of ten thousand tenants starts without opening ten thousand
//! databases, and a tenant nobody calls holds no connection, file, thread or cache.
//!
//! API keys are kept as SHA-256 digests only; a request's key is hashed and compared with
//! every tenant's digests in constant time. Each key has a name (`crm-production=sha256:…`;
//! a key configured without one is named after its digest, `key-9f86d081`), and what the
//! API does with a key is recorded as that name's: the actor of every event it writes.
//! Each key has scopes too (`crm-hooks:pre-send=sha256:…`; see [`Scope`]), which each
//! API route checks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub mod config;
mod keys;

use crate::guard::{Guard, GuardError};

pub use self::keys::{ApiKey, KeyDigest, KeyError, Scope, Scopes};

/// The tenant a host serves at `/preferences/...` when none is named in the path.
pub const DEFAULT_TENANT: &str = "default";

/// Why a tenant cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("`{0}` is not a tenant id: use 1-40 lower-case letters, digits or `-`")]
    Id(String),
    #[error("the tenant `{0}` is configured twice")]
    Twice(String),
    #[error("an API key of `{tenant}` is also a key of `{owner}`: every key belongs to one tenant")]
    SharedKey { tenant: String, owner: String },
}

/// How a tenant's guard is opened when it is first used.
type Opener = Box<dyn Fn() -> Result<Guard, GuardError> + Send + Sync>;

/// A tenant's guard: open already, or opened on first use and closed again when nobody
/// used it for a while ([`TenantGuard::close_if_unused`]). Cheap to clone.
#[derive(Clone)]
pub struct TenantGuard(Arc<LazyGuard>);

struct LazyGuard {
    /// The guard while open; locked only for moments (never while opening), so a look
    /// from async code ([`TenantGuard::if_open`]) never waits for a slow opening.
    slot: Mutex<Slot>,
    /// Held while opening, so the guard is opened once however many callers wait for it.
    opening: Mutex<()>,
    /// `None` for a guard open from the start: it is never closed.
    opener: Option<Opener>,
}

struct Slot {
    guard: Option<Arc<Guard>>,
    /// How many times the guard was opened: a worker that saw another count sees a guard
    /// reopened since (its counters started again).
    openings: u64,
    /// When a request last used it; `None` when only the workers did (a worker's visit
    /// keeps no tenant open).
    last_used: Option<Instant>,
}

impl TenantGuard {
    /// A guard that is open already (and stays open).
    pub fn opened(guard: Arc<Guard>) -> TenantGuard {
        TenantGuard(Arc::new(LazyGuard {
            slot: Mutex::new(Slot {
                guard: Some(guard),
                openings: 1,
                last_used: None,
            }),
            opening: Mutex::new(()),
            opener: None,
        }))
    }

    /// A guard `opener` opens on first use. A failed opening is reported to that caller
    /// and tried again by the next.
    pub fn lazy(
        opener: impl Fn() -> Result<Guard, GuardError> + Send + Sync + 'static,
    ) -> TenantGuard {
        TenantGuard(Arc::new(LazyGuard {
            slot: Mutex::new(Slot {
                guard: None,
                openings: 0,
                last_used: None,
            }),
            opening: Mutex::new(()),
            opener: Some(Box::new(opener)),
        }))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.0.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The guard, opened now if it is not open. Blocks while opening: call it where
    /// [`Guard`]'s methods may be called (not on an async worker thread).
    pub fn get(&self) -> Result<Arc<Guard>, GuardError> {
        self.open(true)
    }

    /// [`TenantGuard::get`] for a background worker: its visit does not count as a use, so
    /// a tenant only the workers touch is closed as soon as they let go of it.
    pub fn get_in_background(&self) -> Result<Arc<Guard>, GuardError> {
        self.open(false)
    }

    fn open(&self, used: bool) -> Result<Arc<Guard>, GuardError> {
        if let Some(guard) = self.open_guard(used) {
            return Ok(guard);
        }
        let _opening = self
            .0
            .opening
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Another caller may have opened it while this one waited.
        if let Some(guard) = self.open_guard(used) {
            return Ok(guard);
        }
        let Some(open) = &self.0.opener else {
            unreachable!("a guard without an opener is open from the start and never closed");
        };
        let guard = Arc::new(open()?);
        let mut slot = self.slot();
        slot.guard = Some(guard.clone());
        slot.openings += 1;
        if used {
            slot.last_used = Some(Instant::now());
        }
        Ok(guard)
    }

    /// The open guard, counted as a use when `used`.
    fn open_guard(&self, used: bool) -> Option<Arc<Guard>> {
        let mut slot = self.slot();
        let guard = slot.guard.clone()?;
        if used {
            slot.last_used = Some(Instant::now());
        }
        Some(guard)
    }

    /// The guard if it is open, without opening it or counting as a use.
    pub fn if_open(&self) -> Option<Arc<Guard>> {
        self.slot().guard.clone()
    }

    /// How many times the guard was opened so far.
    pub fn openings(&self) -> u64 {
        self.slot().openings
    }

    /// Closes the guard (its database connections, caches and plugin instances go with
    /// it) when it was opened on first use, nobody holds it and nobody used it for
    /// `idle_for`; it is opened again by its next use. A guard with erased values not yet
    /// purged from its files stays open until they are. Returns whether it closed.
    pub fn close_if_unused(&self, idle_for: Duration) -> bool {
        let mut slot = self.slot();
        let closable = self.0.opener.is_some()
            && slot
                .last_used
                .is_none_or(|last_used| last_used.elapsed() >= idle_for)
            // Only this slot holds it: no request or worker is using it, and none can
            // take it while the slot is locked.
            && slot.guard.as_ref().is_some_and(|guard| Arc::strong_count(guard) == 1);
        if !closable {
            return false;
        }
        if let Some(guard) = &slot.guard
            && let Err(error) = guard.purge_erased_values()
        {
            tracing::warn!(%error, "the tenant stays open: erased values are not purged from its files yet");
            return false;
        }
        let closed = slot.guard.take();
        drop(slot);
        drop(closed);
        true
    }
}

/// One tenant.
pub struct Tenant {
    pub id: String,
    pub guard: TenantGuard,
    keys: Vec<ApiKey>,
}

impl Tenant {
    /// A tenant whose guard is open.
    pub fn new(id: impl Into<String>, guard: Arc<Guard>, keys: Vec<ApiKey>) -> Tenant {
        Tenant::with_guard(id, TenantGuard::opened(guard), keys)
    }

    /// A tenant whose guard may be opened on first use ([`TenantGuard::lazy`]).
    pub fn with_guard(id: impl Into<String>, guard: TenantGuard, keys: Vec<ApiKey>) -> Tenant {
        Tenant {
            id: id.into(),
            guard,
            keys,
        }
    }
}

/// Every tenant of the host.
#[derive(Default)]
pub struct Tenants {
    by_id: BTreeMap<String, Arc<Tenant>>,
    /// Which tenant each key belongs to, for refusing a key configured twice in time
    /// independent of the tenants' number (ten thousand tenants were checked pairwise in a
    /// second). Requests are authenticated by comparing every digest instead
    /// ([`Tenants::authenticate`]).
    key_owners: HashMap<KeyDigest, String>,
    /// The preferences pages' rate limits, one set for the process (`crate::limits`).
    pub page_limits: crate::limits::PageLimits,
}

impl Tenants {
    /// A host with one tenant, [`DEFAULT_TENANT`].
    pub fn single(guard: Arc<Guard>, keys: Vec<ApiKey>) -> Tenants {
        let mut tenants = Tenants::default();
        for key in &keys {
            tenants
                .key_owners
                .insert(key.digest, DEFAULT_TENANT.to_owned());
        }
        tenants.by_id.insert(
            DEFAULT_TENANT.to_owned(),
            Arc::new(Tenant::new(DEFAULT_TENANT, guard, keys)),
        );
        tenants
    }

    /// Adds a tenant; refused when the id is taken, is not a simple name, or one of its
    /// keys already belongs to another tenant.
    pub fn add(&mut self, tenant: Tenant) -> Result<(), TenantError> {
        if !is_tenant_id(&tenant.id) {
            return Err(TenantError::Id(tenant.id));
        }
        if self.by_id.contains_key(&tenant.id) {
            return Err(TenantError::Twice(tenant.id));
        }
        if let Some(owner) = tenant
            .keys
            .iter()
            .find_map(|key| self.key_owners.get(&key.digest))
        {
            return Err(TenantError::SharedKey {
                tenant: tenant.id,
                owner: owner.clone(),
            });
        }
        for key in &tenant.keys {
            self.key_owners.insert(key.digest, tenant.id.clone());
        }
        self.by_id.insert(tenant.id.clone(), Arc::new(tenant));
        Ok(())
    }

    /// The tenant a request's API key belongs to, and the key as configured (its name and
    /// scopes).
    pub fn authenticate(&self, key: &str) -> Option<(Arc<Tenant>, ApiKey)> {
        self.owner_of(&KeyDigest::of_key(key))
    }

    fn owner_of(&self, digest: &KeyDigest) -> Option<(Arc<Tenant>, ApiKey)> {
        // Every digest is compared, so the time taken says nothing about which matched.
        let mut found = None;
        for tenant in self.by_id.values() {
            for key in &tenant.keys {
                if key.digest.matches(digest) && found.is_none() {
                    found = Some((tenant.clone(), key.clone()));
                }
            }
        }
        found
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.by_id.get(id).cloned()
    }

    /// The tenant served without a tenant in the path: [`DEFAULT_TENANT`], or the only
    /// tenant there is.
    pub fn default_tenant(&self) -> Option<Arc<Tenant>> {
        self.get(DEFAULT_TENANT).or_else(|| {
            (self.by_id.len() == 1)
                .then(|| self.by_id.values().next().cloned())
                .flatten()
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }

    /// How many tenants there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// 1-40 lower-case letters, digits or `-`, starting with a letter or digit.
pub fn is_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_of_two_tenants_is_refused_naming_the_tenant_it_belongs_to() {
        let never_opened =
            || TenantGuard::lazy(|| Err(GuardError::Open("not opened in this test".into())));
        let shared = |name: &str| ApiKey {
            name: name.into(),
            digest: KeyDigest::of_key("pgk_shared_key"),
            scopes: Scopes::ADMIN,
        };
        let mut tenants = Tenants::default();
        tenants
            .add(Tenant::with_guard(
                "acme",
                never_opened(),
                vec![shared("crm")],
            ))
            .expect("the first tenant");
        assert_eq!(
            tenants.add(Tenant::with_guard(
                "globex",
                never_opened(),
                vec![shared("crm")]
            )),
            Err(TenantError::SharedKey {
                tenant: "globex".into(),
                owner: "acme".into()
            })
        );
        let (owner, key) = tenants
            .authenticate("pgk_shared_key")
            .expect("the key is acme's");
        assert_eq!((owner.id.as_str(), key.name.as_str()), ("acme", "crm"));
        assert!(tenants.get("globex").is_none());
    }

    #[test]
    fn tenant_ids_are_simple_names() {
        for (id, valid) in [
            ("acme", true),
            ("acme-2", true),
            ("", false),
            ("-acme", false),
            ("Acme", false),
            ("a/b", false),
            (&"a".repeat(41), false),
        ] {
            assert_eq!(is_tenant_id(id), valid, "{id}");
        }
    }
}
