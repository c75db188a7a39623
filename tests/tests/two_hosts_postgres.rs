//! Two host processes sharing one PostgreSQL database run the daily consent run: each
//! contact gets exactly one request per day, whether both run it at once or one stops
//! half-way and the other resumes; mail one committed but could not deliver goes out once,
//! from the other. (Two `Guard`s in threads, each with its own pool, cache, clock reader
//! and outbox folder, as two processes would have.)
//!
//! Needs a PostgreSQL server (`PRIVACY_GUARD_TEST_POSTGRES_URL`): ignored in a plain
//! `cargo test`, which says so; `scripts/test.sh` runs them in its PostgreSQL pass.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Barrier;

use privacy_guard_host::guard::{DAILY_RUN_PAGE, Guard, RunReport};
use privacy_guard_host::import::read_records;
use privacy_guard_host::mail::Transport;
use privacy_guard_host::schedule::DAILY_CONSENT_RUN;
use privacy_guard_host::storage::{ClaimHolder, JobRun, LedgerCheck};
use privacy_guard_tests::scenario::block_on;
use privacy_guard_tests::{TestHost, configure, read_outbox, required_postgres_server_url};
use sqlx::Row;

/// People per page of the daily run.
const PAGE: usize = DAILY_RUN_PAGE as usize;

const PERIOD: &str = "2026-12-01";

fn address(index: usize) -> String {
    format!("person{index:04}@example.com")
}

/// A host with the first journey configured and `contacts` contacts imported; its clock
/// stands after the run's due time on [`PERIOD`].
fn host_with_contacts(contacts: usize) -> (TestHost, Guard) {
    let host = TestHost::new("2026-12-01T10:30:00Z");
    let guard = open_with_outbox(&host, &host.folder.path().join("outbox-first"));
    configure(&guard, "http://127.0.0.1:9/preferences/");
    let mut csv = String::from("email\n");
    for index in 0..contacts {
        csv.push_str(&address(index));
        csv.push('\n');
    }
    let report = guard
        .import_records(
            "contacts",
            read_records(csv.as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");
    assert_eq!(report.created, contacts as u64);
    (host, guard)
}

/// A host process on the test host's database, delivering into its own outbox folder.
fn open_with_outbox(host: &TestHost, outbox: &Path) -> Guard {
    let outbox = outbox.to_owned();
    host.open_with(|options| options.transport = Transport::Directory(outbox))
        .expect("host opens")
}

/// Every request delivered into `outboxes`, counted per recipient address.
fn requests_per_recipient(outboxes: &[&Path]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for outbox in outboxes {
        for mail in read_outbox(outbox) {
            assert_eq!(mail.to.len(), 1, "one recipient per request: {:?}", mail.to);
            *counts.entry(mail.to[0].clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// Asserts every one of `contacts` contacts got exactly one request, naming who did not.
fn assert_one_request_each(counts: &BTreeMap<String, usize>, contacts: usize) {
    let missing: Vec<String> = (0..contacts)
        .map(address)
        .filter(|address| !counts.contains_key(address))
        .collect();
    let repeated: Vec<(&String, &usize)> = counts.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        missing.is_empty() && repeated.is_empty() && counts.len() == contacts,
        "{} contacts got no request ({:?}...), {} got more than one ({:?}...), {} addresses mailed in all",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        repeated.len(),
        repeated.iter().take(5).collect::<Vec<_>>(),
        counts.len()
    );
}

fn recorded_run(guard: &Guard) -> JobRun {
    block_on(guard.database().job_run(DAILY_CONSENT_RUN, PERIOD))
        .expect("read the job run")
        .expect("the run is recorded")
}

/// Asserts the event log is one intact hash chain numbered 1, 2, 3, ... without gaps.
fn assert_one_gapless_chain(host: &TestHost, guard: &Guard) {
    let LedgerCheck::Intact { events } = guard.verify_ledger().expect("check") else {
        panic!("the event log's hash chain is broken")
    };
    let (first, last, count) = block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        let row = sqlx::query("SELECT MIN(sequence), MAX(sequence), COUNT(*) FROM plugin_events")
            .fetch_one(&mut connection)
            .await
            .expect("sequence range");
        (
            row.try_get::<i64, _>(0).expect("min"),
            row.try_get::<i64, _>(1).expect("max"),
            row.try_get::<i64, _>(2).expect("count"),
        )
    });
    assert_eq!(count as u64, events);
    assert_eq!(
        (first, last),
        (1, count),
        "event numbers run from 1 to the number of events"
    );
}

/// Runs the daily run on `guard` and stops it (as if the process died) right after its
/// first page committed; returns what that page did.
fn run_first_page_then_stop(guard: Guard) -> RunReport {
    println!("the first host stops after its first page (a panic in its progress callback):");
    let first_page = std::sync::Mutex::new(None);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        guard.run_daily(PERIOD, &|report| {
            *first_page.lock().expect("lock") = Some(report.clone());
            panic!("the first host stops here");
        })
    }));
    assert!(outcome.is_err(), "the run was stopped after its first page");
    drop(guard);
    first_page
        .into_inner()
        .expect("lock")
        .expect("one page ran")
}

#[test]
#[ignore = "needs a PostgreSQL server: run with --include-ignored and PRIVACY_GUARD_TEST_POSTGRES_URL (scripts/test.sh)"]
fn two_hosts_running_the_same_days_run_at_once_send_each_contact_one_request() {
    required_postgres_server_url();
    // Five pages: enough for the two hosts' pages to interleave.
    const CONTACTS: usize = 5 * PAGE;
    let (host, first) = host_with_contacts(CONTACTS);
    let first_outbox = host.folder.path().join("outbox-first");
    let second_outbox = host.folder.path().join("outbox-second");
    let second = open_with_outbox(&host, &second_outbox);

    let start = Barrier::new(2);
    let run = |guard: &Guard| {
        start.wait();
        guard.run_daily(PERIOD, &|_| {})
    };
    let (first_report, second_report) = std::thread::scope(|scope| {
        let first_run = scope.spawn(|| run(&first));
        let second_run = scope.spawn(|| run(&second));
        (
            first_run.join().expect("first host's thread"),
            second_run.join().expect("second host's thread"),
        )
    });
    let first_report = first_report.expect("the first host's run");
    let second_report = second_report.expect("the second host's run");
    println!(
        "requests sent by the first host: {}, by the second: {}",
        first_report.requests, second_report.requests
    );

    assert_eq!(
        first_report.requests + second_report.requests,
        CONTACTS as u64,
        "the pages the two hosts committed add up to one request per contact"
    );
    let counts = requests_per_recipient(&[&first_outbox, &second_outbox]);
    assert_one_request_each(&counts, CONTACTS);
    let run = recorded_run(&first);
    assert!(run.finished, "{run:?}");
    assert_eq!(
        (run.people, run.requests),
        (CONTACTS as u64, CONTACTS as u64)
    );
    assert_one_gapless_chain(&host, &first);

    // The day is done for both.
    for guard in [&first, &second] {
        let again = guard.run_daily(PERIOD, &|_| {}).expect("run again");
        assert!(!again.ran, "a finished day runs no more: {again:?}");
    }
    assert_eq!(
        requests_per_recipient(&[&first_outbox, &second_outbox]),
        counts
    );
}

#[test]
#[ignore = "needs a PostgreSQL server: run with --include-ignored and PRIVACY_GUARD_TEST_POSTGRES_URL (scripts/test.sh)"]
fn a_run_stopped_after_its_first_page_resumes_in_the_other_host_without_sending_again() {
    required_postgres_server_url();
    // Three pages: two full ones and a half.
    const CONTACTS: usize = 5 * PAGE / 2;
    let (host, first) = host_with_contacts(CONTACTS);
    let first_outbox = host.folder.path().join("outbox-first");
    let second_outbox = host.folder.path().join("outbox-second");
    let second = open_with_outbox(&host, &second_outbox);

    let first_page = run_first_page_then_stop(first);
    assert_eq!(first_page.requests, PAGE as u64, "{first_page:?}");
    assert_eq!(read_outbox(&first_outbox).len(), PAGE);
    let stopped = recorded_run(&second);
    assert!(
        !stopped.finished && stopped.cursor.is_some() && stopped.requests == PAGE as u64,
        "{stopped:?}"
    );

    let resumed = second.run_daily(PERIOD, &|_| {}).expect("the run resumes");
    assert!(resumed.ran);
    assert_eq!(
        resumed.requests,
        (CONTACTS - PAGE) as u64,
        "only the people the first host had not reached"
    );
    assert_eq!(read_outbox(&first_outbox).len(), PAGE);
    assert_eq!(read_outbox(&second_outbox).len(), CONTACTS - PAGE);
    assert_one_request_each(
        &requests_per_recipient(&[&first_outbox, &second_outbox]),
        CONTACTS,
    );
    let run = recorded_run(&second);
    assert!(run.finished, "{run:?}");
    assert_eq!(
        (run.people, run.requests),
        (CONTACTS as u64, CONTACTS as u64)
    );
    assert_one_gapless_chain(&host, &second);
}

#[test]
#[ignore = "needs a PostgreSQL server: run with --include-ignored and PRIVACY_GUARD_TEST_POSTGRES_URL (scripts/test.sh)"]
fn mail_a_stopped_host_committed_but_never_delivered_goes_out_once_from_the_other() {
    required_postgres_server_url();
    const CONTACTS: usize = 5 * PAGE / 2;
    let (host, configuring) = host_with_contacts(CONTACTS);
    drop(configuring);
    // The first host's outbox cannot be created (its parent is a file): its pages commit,
    // their mail stays queued.
    let blocked = host.folder.path().join("a-file");
    std::fs::write(&blocked, "not a folder").expect("write");
    let first = open_with_outbox(&host, &blocked.join("outbox"));
    let second_outbox: PathBuf = host.folder.path().join("outbox-second");
    let second = open_with_outbox(&host, &second_outbox);

    let first_page = run_first_page_then_stop(first);
    assert_eq!(
        (first_page.requests, first_page.mail.delivered),
        (PAGE as u64, 0),
        "{first_page:?}"
    );

    // The first host tried one mail before it found its folder unusable: that mail waits
    // for its next attempt (a minute), the others are due and unclaimed again.
    let waiting: Vec<_> = second
        .undelivered_mail(1_000)
        .expect("outbox")
        .into_iter()
        .filter(|mail| mail.attempts > 0)
        .collect();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(waiting[0].failed_at.is_none(), "{waiting:?}");

    // A third process, on a host not known here, claimed the due mail and died while
    // delivering it: nobody else delivers it until its claim lapses.
    let now = host.clock.now_millis();
    let claimed = block_on(second.database().claim_pending_mail(
        &ClaimHolder::named("a host process that died"),
        now,
        now + 10 * 60 * 1000,
        1_000,
    ))
    .expect("claim");
    assert_eq!(
        claimed.len(),
        PAGE - 1,
        "the first page's requests are queued; the one tried is not due yet"
    );

    let resumed = second.run_daily(PERIOD, &|_| {}).expect("the run resumes");
    assert_eq!(resumed.requests, (CONTACTS - PAGE) as u64);
    assert_eq!(
        read_outbox(&second_outbox).len(),
        CONTACTS - PAGE,
        "mail claimed by another process is left to it"
    );

    host.set_now("2026-12-01T10:41:00Z");
    let delivered = second.deliver_mail().expect("delivery");
    assert_eq!(
        delivered.delivered, PAGE as u64,
        "the lapsed claims' mail and the mail whose wait is over"
    );
    assert_one_request_each(&requests_per_recipient(&[&second_outbox]), CONTACTS);
    assert_eq!(
        second.deliver_mail().expect("delivery").delivered,
        0,
        "nothing is delivered twice"
    );
}
