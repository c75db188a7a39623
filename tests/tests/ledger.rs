//! The consent event log is the proof: the database refuses to change or delete events,
//! and an edit made behind its back breaks the hash chain that `verify-events` walks.

use privacy_guard_host::import::read_records;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::{TestHost, configure};
use sqlx::Connection;

#[test]
fn events_cannot_be_changed_and_an_edit_behind_the_databases_back_is_detected() {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, "http://127.0.0.1:9/preferences/");
    let contacts = "email\nada@example.com\ngrace@example.com\n";
    guard
        .import_records(
            "contacts",
            read_records(contacts.as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");
    guard.run_daily("2026-12-01", &|_| {}).expect("run");
    let LedgerCheck::Intact { events } = guard.verify_ledger().expect("check") else {
        panic!("a fresh log is intact")
    };
    assert_eq!(events, 4, "applicable and waiting, for two people");
    drop(guard);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let url = format!("sqlite://{}", host.database_path().display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("connect");
        for statement in ["UPDATE plugin_events SET payload = '{}' WHERE sequence = 2", "DELETE FROM plugin_events WHERE sequence = 2"] {
            let error = sqlx::query(statement).execute(&mut connection).await.expect_err("the database refuses");
            assert!(error.to_string().contains("append-only"), "{statement}: {error}");
        }
        // Someone with full access drops the guard and rewrites an event.
        sqlx::query("DROP TRIGGER plugin_events_are_append_only_update").execute(&mut connection).await.expect("drop trigger");
        sqlx::query("UPDATE plugin_events SET payload = replace(payload, 'waiting', 'granted') WHERE sequence = 3").execute(&mut connection).await.expect("tamper");
    });

    let guard = host.open().expect("host re-opens");
    assert_eq!(
        guard.verify_ledger().expect("check"),
        LedgerCheck::Broken { sequence: 3 }
    );
}
