//! Many tenants on one host (issue 12, part 8): two hundred tenants (fifty on PostgreSQL), each opened on first
//! use, share the process's runtime and the compiled plugin, yet each API key sees only
//! its own tenant's people, a daily run in one tenant mails only its people, a tenant
//! nobody called answers its first call, and the process's threads do not grow with the
//! tenants (a runtime, an engine or a ticker per tenant would add hundreds).
//!
//! One test on purpose: the thread count is the whole process's, so no other test of this
//! binary may run beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use privacy_guard_host::guard::GuardError;
use privacy_guard_host::import::read_records;
use privacy_guard_host::tenants::{ApiKey, KeyDigest, Scopes, Tenant, TenantGuard, Tenants};
use privacy_guard_tests::{TestHost, WebServer, configure, http_call, http_get};
use serde_json::Value;

/// Tenants on SQLite: a file each, so as many as the test likes.
const TENANTS_ON_SQLITE: usize = 200;
/// Tenants on PostgreSQL: a database each on the one test server, whose 300 connections
/// 200 open tenants (a pool each, a connection or two open while the tenant is) would
/// exhaust. Still far more than the threads a runtime per tenant would show.
const TENANTS_ON_POSTGRES: usize = 50;

/// Threads the process may gain beyond those it had with one tenant open, whatever the
/// number of tenants: tokio's blocking pool for the requests in flight and a connection
/// thread per SQLite connection not yet closed as idle. A runtime per tenant adds two
/// threads per tenant (400 here), an engine per tenant one epoch ticker each.
const THREADS_BEYOND_ONE_TENANT: usize = 16;

fn threads_of_this_process() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("a Threads line")
}

fn key_of(index: usize) -> String {
    format!("pgk_tenant_{index:03}_0123456789")
}

fn id_of(index: usize) -> String {
    format!("tenant-{index:03}")
}

/// GET `path` with tenant `index`'s key: the status and the JSON body.
fn get(server: &WebServer, index: usize, path: &str) -> (u16, Value) {
    let authorization = format!("Bearer {}", key_of(index));
    let response = http_call(
        "GET",
        &format!("http://{}{path}", server.address),
        &[("Authorization", authorization.as_str())],
        None,
    )
    .expect("the API answers");
    let body = serde_json::from_str(&response.body)
        .unwrap_or_else(|_| panic!("GET {path}: not JSON: {}", response.body));
    (response.status, body)
}

#[test]
fn hundreds_of_tenants_share_the_process_each_seeing_only_its_own_people_in_a_constant_number_of_threads()
 {
    let tenant_count = if privacy_guard_tests::postgres_server_url().is_some() {
        TENANTS_ON_POSTGRES
    } else {
        TENANTS_ON_SQLITE
    };
    let hosts: Arc<Vec<TestHost>> = Arc::new(
        (0..tenant_count)
            .map(|_| TestHost::new("2026-12-01T09:00:00Z"))
            .collect(),
    );
    let mut tenants = Tenants::default();
    for index in 0..tenant_count {
        let hosts = hosts.clone();
        let guard = TenantGuard::lazy(move || {
            hosts[index]
                .open()
                .map_err(|error| GuardError::Open(format!("{error:#}")))
        });
        let key = ApiKey {
            name: format!("{}-crm", id_of(index)),
            digest: KeyDigest::of_key(&key_of(index)),
            scopes: Scopes::ADMIN,
        };
        tenants
            .add(Tenant::with_guard(id_of(index), guard, vec![key]))
            .expect("a new tenant");
    }
    let tenants = Arc::new(tenants);
    let server = WebServer::serve(privacy_guard_host::http::app(tenants.clone())).expect("server");

    // Nothing is opened before it is used: /health says so instead of opening them all.
    let health = http_get(&format!("http://{}/health", server.address)).expect("/health");
    assert_eq!(health.status, 200, "{}", health.body);
    let health: Value = serde_json::from_str(&health.body).expect("JSON");
    assert_eq!(health["tenants"][id_of(0)], "idle", "{health}");
    assert!(
        tenants
            .iter()
            .all(|tenant| tenant.guard.if_open().is_none())
    );

    // One tenant open and called: the threads of a host with one tenant.
    let guard_of = |index: usize| {
        tenants
            .get(&id_of(index))
            .expect("the tenant")
            .guard
            .get()
            .expect("the tenant opens")
    };
    let preferences_url =
        |index: usize| format!("http://{}/t/{}/preferences/", server.address, id_of(index));
    let contacts = |index: usize| {
        format!(
            "id,firstname,lastname,email,country\nc{index},Person,Number{index},person-{index}@tenant-{index}.example,DE\n"
        )
    };
    let open_and_import = |index: usize| {
        let guard = guard_of(index);
        configure(&guard, &preferences_url(index));
        let records = read_records(contacts(index).as_bytes()).expect("CSV");
        let report = guard
            .import_records("contacts", records, &|_| {})
            .expect("import");
        assert_eq!(report.created, 1, "tenant {index}");
    };
    open_and_import(0);
    assert_eq!(get(&server, 0, "/api/v1/subjects/contacts/c0").0, 200);
    let threads_with_one_tenant = threads_of_this_process();

    // Every tenant but the last opened, configured and given one person of its own.
    for index in 1..tenant_count - 1 {
        open_and_import(index);
    }

    // Each key sees its own person and nobody else's.
    for index in 0..tenant_count - 1 {
        let own = format!("/api/v1/subjects/contacts/c{index}");
        let (status, subject) = get(&server, index, &own);
        assert_eq!(status, 200, "tenant {index}: {subject}");
        let other = format!(
            "/api/v1/subjects/contacts/c{}",
            (index + 1) % (tenant_count - 1)
        );
        let (status, error) = get(&server, index, &other);
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (404, Some("not_found")),
            "tenant {index} must not see another tenant's person"
        );
    }

    // A daily run in one tenant mails only that tenant's person.
    let runner = 7;
    hosts[runner].set_now("2026-12-01T10:00:00Z");
    let run = guard_of(runner)
        .run_due()
        .expect("the daily run")
        .expect("the run was due");
    assert_eq!(run.requests, 1);
    let mails = hosts[runner].mails();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .to
            .contains(&format!("person-{runner}@tenant-{runner}.example")),
        "{:?}",
        mails[0].to
    );
    for (index, host) in hosts.iter().enumerate() {
        if index != runner {
            assert!(host.mails().is_empty(), "tenant {index} was mailed");
        }
    }

    // The last tenant, never used, answers its first call (and is opened by it).
    let last = tenant_count - 1;
    assert!(
        tenants
            .get(&id_of(last))
            .is_some_and(|tenant| tenant.guard.if_open().is_none())
    );
    let (status, error) = get(&server, last, "/api/v1/settings");
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found")),
        "an unconfigured tenant has no settings yet: {error}"
    );
    assert!(
        tenants
            .get(&id_of(last))
            .is_some_and(|tenant| tenant.guard.if_open().is_some())
    );

    // Every tenant opened on first use closes once unused (its connections, caches and
    // instances go), and its next call opens it again on what it stored.
    let closed = tenants
        .iter()
        .filter(|tenant| tenant.guard.close_if_unused(Duration::ZERO))
        .count();
    assert_eq!(closed, tenant_count);
    let reopened = 3;
    let (status, subject) = get(
        &server,
        reopened,
        &format!("/api/v1/subjects/contacts/c{reopened}"),
    );
    assert_eq!(status, 200, "{subject}");
    assert_eq!(
        tenants
            .get(&id_of(reopened))
            .map(|tenant| tenant.guard.openings()),
        Some(2)
    );

    // The threads: once the database connections opened for the calls above are closed as
    // idle, as many as with one tenant, give or take the pools' working threads.
    let bound = threads_with_one_tenant + THREADS_BEYOND_ONE_TENANT;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut threads = threads_of_this_process();
    while threads > bound && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        threads = threads_of_this_process();
    }
    assert!(
        threads <= bound,
        "{threads} threads with {tenant_count} tenants open, {threads_with_one_tenant} with one: the threads grow with the tenants"
    );
}
