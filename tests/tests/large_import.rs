//! A large import streams through the host in chunks, each written into one open
//! transaction: a bad row near the end of the file leaves nothing imported and names its
//! line, and the chunks' size never changes what is stored, down to the hash chain.
//! SQLite, or PostgreSQL when `PRIVACY_GUARD_TEST_POSTGRES_URL` names a server.

use std::fmt::Write as _;

use privacy_guard_host::contract::configuration::ConsentKind;
use privacy_guard_host::contract::subjects::ConsentValue;
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::Guard;
use privacy_guard_host::import::records;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::scenario::block_on;
use privacy_guard_tests::{TestHost, configure, settings, tracking_consent};
use sqlx::Row;

const PREFERENCES_URL: &str = "http://127.0.0.1:9/preferences/";

/// `firstname,email` for `rows` people with their own addresses.
fn contacts(rows: usize) -> String {
    let mut csv = String::from("firstname,email\n");
    for person in 0..rows {
        writeln!(csv, "Person {person},person{person}@example.com").expect("write to a string");
    }
    csv
}

fn events_in_the_log(guard: &Guard) -> u64 {
    match guard.verify_ledger().expect("check the log") {
        LedgerCheck::Intact { events } => events,
        LedgerCheck::Broken { sequence } => panic!("the chain breaks at event {sequence}"),
    }
}

fn consent_value(guard: &Guard, id: &str) -> ConsentValue {
    let person = RecordRef {
        module: "contacts".into(),
        id: id.into(),
    };
    guard
        .subject(&person)
        .expect("subject read")
        .unwrap_or_else(|| panic!("contacts/{id} is unknown to the plugin"))
        .consents
        .iter()
        .find(|state| state.consent_id == "email-marketing")
        .map(|state| state.value)
        .unwrap_or_else(|| panic!("contacts/{id} has no email-marketing consent"))
}

#[test]
fn a_bad_row_near_the_end_of_a_large_file_leaves_nothing_imported_and_names_its_line() {
    const ROWS: usize = 50_000;
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, PREFERENCES_URL);
    let events_before = events_in_the_log(&guard);

    // Line 1 is the header, so the person on line 49,990 is person 49,988.
    let good = contacts(ROWS);
    let bad = good.replace("person49988@example.com", "person49988-at-example.com");
    let imported = std::cell::Cell::new(0_u64);
    let error = guard
        .import_stream(
            "contacts",
            records(bad.as_bytes()).expect("the header is fine"),
            &|done| imported.set(imported.get() + done),
        )
        .expect_err("a bad row refuses the import");
    let message = error.to_string();
    assert!(
        message.contains("line 49990") && message.contains("person49988-at-example.com"),
        "{message}"
    );
    assert!(
        imported.get() >= 45_000,
        "the rows before it were handed to the plugin ({} were): the failure is late",
        imported.get()
    );
    assert_eq!(guard.record_count("contacts").expect("count"), 0);
    assert_eq!(events_in_the_log(&guard), events_before, "no event kept");
    assert!(host.mails().is_empty(), "no mail");
    assert!(
        guard.undelivered_mail(10).expect("outbox").is_empty(),
        "nothing queued either"
    );
    assert!(
        guard
            .subject(&RecordRef {
                module: "contacts".into(),
                id: "1".into(),
            })
            .expect("subject read")
            .is_none(),
        "the plugin's state was rolled back too"
    );

    // The fixed file imports whole, numbered from 1 as if the failed import never was.
    let report = guard
        .import_stream(
            "contacts",
            records(good.as_bytes()).expect("the header is fine"),
            &|_| {},
        )
        .expect("the fixed file imports");
    assert_eq!((report.created, report.updated), (ROWS as u64, 0));
    assert_eq!(report.consents_changed, ROWS as u64);
    assert_eq!(guard.record_count("contacts").expect("count"), ROWS as u64);
    assert_eq!(
        events_in_the_log(&guard),
        events_before + ROWS as u64,
        "one applicability event per contact, chained"
    );
    for id in (1..=ROWS).step_by(97).chain([ROWS]) {
        assert_eq!(
            consent_value(&guard, &id.to_string()),
            ConsentValue::Applicable,
            "contacts/{id}"
        );
    }
    let last = guard
        .record("contacts", &ROWS.to_string())
        .expect("read")
        .expect("the last row is a record");
    assert_eq!(
        last.field("email"),
        format!("person{}@example.com", ROWS - 1)
    );
}

/// Everything a host stores, in a form two hosts can be compared by: the records, the
/// plugin's state, and the event log with its sequence, time and chain hash.
fn stored_state(host: &TestHost) -> Vec<String> {
    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        let mut lines = Vec::new();
        for (what, query) in [
            (
                "record",
                "SELECT module || '/' || id || ' ' || email || ' ' || fields || ' ' || status || ' ' || CAST(locked AS TEXT) || ' ' || CAST(modified_at AS TEXT) FROM records ORDER BY module, id",
            ),
            (
                "event",
                "SELECT CAST(sequence AS TEXT) || ' ' || stream || ' ' || payload || ' ' || CAST(recorded_at AS TEXT) FROM plugin_events ORDER BY sequence",
            ),
        ] {
            for row in sqlx::query(query)
                .fetch_all(&mut connection)
                .await
                .expect("read")
            {
                lines.push(format!("{what} {}", row.get::<String, _>(0)));
            }
        }
        for row in sqlx::query("SELECT key, value FROM plugin_kv ORDER BY key")
            .fetch_all(&mut connection)
            .await
            .expect("read")
        {
            let value: Vec<u8> = row.get(1);
            lines.push(format!("kv {} {value:?}", row.get::<String, _>(0)));
        }
        for row in sqlx::query("SELECT chain_hash FROM plugin_events ORDER BY sequence")
            .fetch_all(&mut connection)
            .await
            .expect("read")
        {
            let hash: Vec<u8> = row.get(0);
            lines.push(format!("hash {hash:?}"));
        }
        lines
    })
}

/// Ids, duplicates of one address across chunk borders, the CRM's statuses and times, and
/// a second import updating records written by the first one's earlier chunks.
fn people_with_shared_addresses() -> (String, String) {
    let mut first = String::from("id,firstname,email,status,modified_at\n");
    for person in 0..1_200 {
        let status = if person % 50 == 0 { "Customer" } else { "" };
        writeln!(
            first,
            "c{person},Person {person},shared{}@example.com,{status},{}",
            person % 400,
            1_764_000_000_000_i64 + person
        )
        .expect("write to a string");
    }
    let mut second = String::from("id,firstname,email\n");
    for person in (0..1_200).step_by(3) {
        writeln!(
            second,
            "c{person},Renamed {person},moved{person}@example.com"
        )
        .expect("write to a string");
    }
    (first, second)
}

#[test]
fn an_import_in_many_chunks_stores_exactly_what_one_chunk_stores() {
    let (first, second) = people_with_shared_addresses();
    let import_in_chunks = |chunk_rows: usize| {
        let host = TestHost::new("2026-12-01T10:00:00Z");
        let guard = host.open().expect("host opens");
        configure(&guard, PREFERENCES_URL);
        let mut with_flagging = settings(PREFERENCES_URL);
        with_flagging.flag_new_duplicates = true;
        guard
            .set_settings(&with_flagging)
            .expect("call")
            .expect("settings accepted");
        let mut reports = Vec::new();
        for (at, csv) in [
            ("2026-12-01T10:05:00Z", &first),
            ("2026-12-01T10:10:00Z", &second),
        ] {
            host.set_now(at);
            let report = guard
                .import_stream_in_chunks(
                    "contacts",
                    records(csv.as_bytes()).expect("header"),
                    chunk_rows,
                    &|_| {},
                )
                .expect("import");
            reports.push(report);
        }
        (reports, events_in_the_log(&guard), stored_state(&host))
    };
    let (reports_in_one, events_in_one, state_in_one) = import_in_chunks(100_000);
    let (reports_in_many, events_in_many, state_in_many) = import_in_chunks(7);
    assert_eq!(reports_in_many, reports_in_one);
    assert_eq!(events_in_many, events_in_one);
    assert!(
        state_in_one
            .iter()
            .any(|line| line.starts_with("event") && line.contains("\"duplicate\"")),
        "duplicates were flagged across chunks, so the comparison covers them"
    );
    assert_eq!(state_in_many.len(), state_in_one.len());
    for (many, one) in state_in_many.iter().zip(&state_in_one) {
        assert_eq!(many, one);
    }
}

/// A streamed import holds the writers' lock from its first chunk to its commit: another
/// host process writing meanwhile waits for it (SQLite's busy timeout, PostgreSQL's row
/// lock), then finds its state stale, runs its unit again on the imported state and
/// commits after it. Nothing of either is lost, and the chain stays one line.
#[test]
fn another_process_writing_during_an_import_waits_for_it_and_then_runs_on_its_result() {
    const ROWS: usize = 2_000;
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let importer = host.open().expect("host opens");
    configure(&importer, PREFERENCES_URL);
    let events_before = events_in_the_log(&importer);
    let other_process = host.open().expect("a second host process opens");
    let csv = contacts(ROWS);
    let report = std::thread::scope(|scope| {
        let other_write = std::sync::OnceLock::new();
        let report = importer
            .import_stream_in_chunks(
                "contacts",
                records(csv.as_bytes()).expect("header"),
                100,
                &|_| {
                    other_write.get_or_init(|| {
                        let (started, wait_for_start) = std::sync::mpsc::channel();
                        let other_process = &other_process;
                        let writer = scope.spawn(move || {
                            started.send(()).expect("the importer listens");
                            other_process.put_consent(
                                &tracking_consent("email-tracking", ConsentKind::EmailTracking),
                                None,
                            )
                        });
                        wait_for_start.recv().expect("the writer starts");
                        writer
                    });
                },
            )
            .expect("the import commits");
        let written = other_write
            .into_inner()
            .expect("the other process wrote during the import")
            .join()
            .expect("the writer's thread ends");
        written
            .expect("the other process's write is committed after the import")
            .expect("the consent is accepted");
        report
    });
    assert_eq!(report.created, ROWS as u64);
    assert_eq!(
        importer.record_count("contacts").expect("count"),
        ROWS as u64
    );
    let consents = importer.configuration().expect("call").consents;
    assert!(
        consents
            .iter()
            .any(|stored| stored.definition.id == "email-tracking"),
        "the other process's consent is stored"
    );
    assert_eq!(
        events_in_the_log(&importer),
        events_before + ROWS as u64,
        "every imported event once, in one unbroken chain"
    );
}
