//! The consent event log is the proof: the database (SQLite or PostgreSQL) refuses to
//! change or delete events, and an edit made behind its back breaks the hash chain that
//! `verify-events` walks.

use privacy_guard_host::import::read_records;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::scenario::block_on;
use privacy_guard_tests::{TestHost, configure};

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

    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        let mut refused = vec![
            "UPDATE plugin_events SET payload = '{}' WHERE sequence = 2",
            "DELETE FROM plugin_events WHERE sequence = 2",
        ];
        if host.database.is_postgres() {
            // TRUNCATE fires no row triggers on PostgreSQL: the schema refuses it on its own.
            refused.push("TRUNCATE plugin_events");
        }
        for statement in refused {
            let error = sqlx::query(statement)
                .execute(&mut connection)
                .await
                .expect_err("the database refuses");
            assert!(
                error.to_string().contains("append-only"),
                "{statement}: {error}"
            );
        }
        // Someone with full access (the file's owner; PostgreSQL's superuser) switches the
        // guard off and rewrites an event.
        let switch_off = if host.database.is_postgres() {
            "ALTER TABLE plugin_events DISABLE TRIGGER plugin_events_are_append_only_update"
        } else {
            "DROP TRIGGER plugin_events_are_append_only_update"
        };
        sqlx::query(switch_off)
            .execute(&mut connection)
            .await
            .expect("switch the trigger off");
        sqlx::query("UPDATE plugin_events SET payload = replace(payload, 'waiting', 'granted') WHERE sequence = 3")
            .execute(&mut connection)
            .await
            .expect("tamper");
    });

    let guard = host.open().expect("host re-opens");
    assert_eq!(
        guard.verify_ledger().expect("check"),
        LedgerCheck::Broken { sequence: 3 }
    );
}

/// A last chain hash that is not 32 bytes (a restore gone wrong, a hand edit) used to be
/// read as zeros, and the next event chained onto them as if the log began there. Now the
/// commit is refused naming the event, nothing of the unit is saved, and `verify-events`
/// reports where the chain breaks.
#[test]
fn a_corrupt_stored_chain_hash_refuses_the_next_commit_naming_the_event() {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, "http://127.0.0.1:9/preferences/");
    guard
        .import_records(
            "contacts",
            read_records("email\nada@example.com\n".as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");
    let LedgerCheck::Intact { events } = guard.verify_ledger().expect("check") else {
        panic!("a fresh log is intact")
    };
    drop(guard);

    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        let switch_off = if host.database.is_postgres() {
            "ALTER TABLE plugin_events DISABLE TRIGGER plugin_events_are_append_only_update"
        } else {
            "DROP TRIGGER plugin_events_are_append_only_update"
        };
        sqlx::query(switch_off)
            .execute(&mut connection)
            .await
            .expect("switch the trigger off");
        sqlx::query("UPDATE plugin_events SET chain_hash = $1 WHERE sequence = $2")
            .bind(vec![0xAB_u8; 7])
            .bind(events as i64)
            .execute(&mut connection)
            .await
            .expect("truncate the last hash");
    });

    let guard = host.open().expect("host re-opens");
    let error = guard
        .import_records(
            "contacts",
            read_records("email\ngrace@example.com\n".as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect_err("nothing is chained onto a corrupt hash");
    let message = error.to_string();
    assert!(
        message.contains(&format!("event {events} has a chain hash of 7 bytes")),
        "{message}"
    );
    assert_eq!(
        guard.record_count("contacts").expect("count"),
        1,
        "nothing of the import was saved"
    );
    assert_eq!(
        guard.verify_ledger().expect("check"),
        LedgerCheck::Broken { sequence: events }
    );
}
