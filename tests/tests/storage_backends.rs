//! The storage layer behaves alike on SQLite and PostgreSQL: keys and ids in code-point
//! order whatever the database's collation, one gapless hash chain of events across host
//! processes, a commit on stale state refused, also after waiting for another process's
//! commit; queued mail claimed by one process at a time, only when due, its claim released
//! by whatever becomes of it; and the two migration sets build the same tables.

use std::collections::BTreeSet;

use std::time::Duration;

use privacy_guard_host::storage::{
    ClaimHolder, Database, LedgerCheck, MailboxRow, NewEvent, OutboxEntry, QueuedMail, RecordRow,
    StorageError, UnitOfWork,
};
use privacy_guard_tests::scenario::block_on;
use privacy_guard_tests::{TestDatabase, TestHost, required_postgres_server_url};
use sqlx::{Connection, Row};

/// A host process's storage on `database`, ready to write contacts (no encrypted fields).
async fn storage(database: &TestDatabase) -> Database {
    let storage = Database::connect(&database.url())
        .await
        .unwrap_or_else(|error| panic!("connecting to {}: {error}", database.url()));
    storage.load_field_keys(0).await.expect("field keys");
    storage.set_encrypted_fields(vec![("contacts".into(), Vec::new())]);
    storage
}

fn record(id: &str) -> RecordRow {
    RecordRow {
        module: "contacts".into(),
        id: id.into(),
        fields: vec![("email".into(), format!("{id}@example.com"))],
        status: "Active".into(),
        locked: false,
        modified_at: 0,
    }
}

fn events(streams: &[&str]) -> UnitOfWork {
    let mut work = UnitOfWork::default();
    for stream in streams {
        work.events.push(NewEvent {
            stream: (*stream).into(),
            payload: format!("{{\"stream\":\"{stream}\"}}"),
        });
    }
    work
}

#[test]
fn keys_and_record_ids_are_scanned_and_paged_in_code_point_order() {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    block_on(async {
        let storage = storage(&host.database).await;
        // Upper and lower case, punctuation and a non-ASCII letter order differently under
        // a linguistic collation than by code point.
        let inside = [
            "person/B",
            "person/a",
            "person/a-b",
            "person/a/b",
            "person/ab",
            "person/é",
            "person/z",
        ];
        let outside = ["person", "person0", "persona", "Person/a"];
        let mut work = UnitOfWork::default();
        for key in inside.iter().chain(&outside) {
            work.kv
                .insert((*key).to_owned(), Some(key.as_bytes().to_vec()));
        }
        for id in ["B", "a", "a-b", "a/b", "ab", "é", "10", "9"] {
            work.records
                .insert(("contacts".into(), id.into()), record(id));
        }
        storage.commit(&work, 1).await.expect("commit");

        let mut expected: Vec<&str> = inside.to_vec();
        expected.sort();
        let scanned = storage.kv_scan("person/", None, 100).await.expect("scan");
        let keys: Vec<&str> = scanned.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            keys, expected,
            "every key with the prefix, in code-point order"
        );
        let page = storage
            .kv_scan("person/", Some(expected[1]), 2)
            .await
            .expect("scan");
        let keys: Vec<&str> = page.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, &expected[2..4], "the page after a key");

        let mut expected = vec!["10", "9", "B", "a", "a-b", "a/b", "ab", "é"];
        expected.sort();
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = storage
                .records_page("contacts", after.as_deref(), 3)
                .await
                .expect("page");
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            ids.extend(page.into_iter().map(|record| record.id));
        }
        assert_eq!(
            ids, expected,
            "paging by id visits every record once, in order"
        );
    });
}

#[test]
fn events_of_two_processes_form_one_gapless_chain_and_a_stale_commit_is_refused() {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    block_on(async {
        let first = storage(&host.database).await;
        let second = storage(&host.database).await;
        first
            .commit(&events(&["contacts/1", "contacts/2"]), 10)
            .await
            .expect("first commit");
        // The second process read its state before the first committed: refused.
        let refused = second.commit(&events(&["contacts/1"]), 11).await;
        assert!(
            matches!(
                refused,
                Err(privacy_guard_host::storage::StorageError::Conflict)
            ),
            "{refused:?}"
        );
        // Re-run on fresh state (the refusal refreshed it), it commits after the first.
        second
            .commit(&events(&["contacts/1"]), 12)
            .await
            .expect("second commit");
        first
            .commit(&events(&["contacts/3"]), 13)
            .await
            .expect_err("the first is now behind");
        first.refresh().await.expect("refresh");
        first
            .commit(&events(&["contacts/3", "contacts/1"]), 14)
            .await
            .expect("third commit");

        assert_eq!(
            first.verify_ledger().await.expect("check"),
            LedgerCheck::Intact { events: 5 }
        );
        let ada: Vec<(u64, i64)> = second
            .events("contacts/1", None, 10)
            .await
            .expect("events")
            .iter()
            .map(|event| (event.sequence, event.recorded_at))
            .collect();
        assert_eq!(ada, [(1, 10), (3, 12), (5, 14)]);
        let mut connection = host.database.connect_directly().await.expect("connect");
        let sequences: Vec<i64> =
            sqlx::query_scalar("SELECT sequence FROM plugin_events ORDER BY sequence")
                .fetch_all(&mut connection)
                .await
                .expect("sequences");
        assert_eq!(sequences, [1, 2, 3, 4, 5], "refused commits leave no gaps");
    });
}

#[test]
fn a_commit_that_waited_for_another_processs_commit_is_refused_as_a_conflict() {
    let host = TestHost::new("2026-12-01T10:00:00Z");
    block_on(async {
        let mut other = host.database.connect_directly().await.expect("connect");
        if host.database.is_postgres() {
            // Whatever the server's default isolation, the host works at READ COMMITTED
            // (under REPEATABLE READ the waiting commit would fail instead of conflicting).
            let name: String = sqlx::query_scalar("SELECT current_database()::text")
                .fetch_one(&mut other)
                .await
                .expect("database name");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {name} SET default_transaction_isolation = 'repeatable read'"
            )))
            .execute(&mut other)
            .await
            .expect("set the default isolation");
        }
        let storage = storage(&host.database).await;
        // Another process is committing: it holds the writers' lock.
        let mut transaction = other.begin().await.expect("begin");
        sqlx::query("UPDATE host_state SET value = value + 1 WHERE name = 'generation'")
            .execute(&mut *transaction)
            .await
            .expect("the other process's commit starts");
        let waiting = tokio::spawn(async move {
            let outcome = storage.commit(&events(&["contacts/1"]), 1).await;
            (storage, outcome)
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "the commit waits for the other process's"
        );
        transaction
            .commit()
            .await
            .expect("the other process commits");
        let (storage, outcome) = waiting.await.expect("task");
        assert!(
            matches!(outcome, Err(StorageError::Conflict)),
            "{outcome:?}"
        );
        assert_eq!(
            storage.verify_ledger().await.expect("check"),
            LedgerCheck::Intact { events: 0 },
            "the refused commit wrote nothing"
        );
        storage
            .commit(&events(&["contacts/1"]), 2)
            .await
            .expect("re-run on fresh state, it commits");
    });
}

/// Tables with their columns, indexes and triggers, by name.
#[derive(Debug, PartialEq, Eq)]
struct Schema {
    columns: BTreeSet<(String, String)>,
    indexes: BTreeSet<String>,
    triggers: BTreeSet<String>,
}

async fn names(connection: &mut sqlx::AnyConnection, query: &'static str) -> BTreeSet<String> {
    sqlx::query(query)
        .fetch_all(&mut *connection)
        .await
        .unwrap_or_else(|error| panic!("{query}: {error}"))
        .iter()
        .map(|row| row.try_get::<String, _>(0).expect("name"))
        .collect()
}

async fn schema(database: &TestDatabase) -> Schema {
    drop(storage(database).await);
    let mut connection = database.connect_directly().await.expect("connect");
    let (columns, indexes, triggers) = if database.is_postgres() {
        (
            "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'",
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%\\_pkey' AND tablename NOT LIKE '\\_sqlx%'",
            "SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal",
        )
    } else {
        (
            "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
            "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        )
    };
    Schema {
        columns: names(&mut connection, columns)
            .await
            .into_iter()
            .map(|column| {
                let (table, column) = column.split_once('.').expect("table.column");
                (table.to_owned(), column.to_owned())
            })
            .collect(),
        indexes: names(&mut connection, indexes).await,
        triggers: names(&mut connection, triggers).await,
    }
}

fn queued_mail(message_id: &str) -> QueuedMail {
    QueuedMail {
        message_id: message_id.into(),
        from: MailboxRow {
            address: "privacy@example.org".into(),
            name: None,
        },
        to: vec![MailboxRow {
            address: "ada@example.com".into(),
            name: None,
        }],
        subject: "Your privacy preferences".into(),
        text_body: "Hello".into(),
        html_body: None,
        headers: Vec::new(),
    }
}

fn claimed_ids(entries: Vec<OutboxEntry>) -> Vec<String> {
    entries
        .into_iter()
        .map(|entry| entry.mail.message_id)
        .collect()
}

#[test]
fn mail_is_claimed_only_when_due_and_not_failed_and_every_outcome_releases_the_claim() {
    const LEASE: i64 = 10 * 60 * 1000;
    let host = TestHost::new("2026-12-01T10:00:00Z");
    block_on(async {
        let first = storage(&host.database).await;
        let second = storage(&host.database).await;
        let mut work = UnitOfWork::default();
        for id in ["a@example.org", "b@example.org", "c@example.org"] {
            work.mails.push(queued_mail(id));
        }
        first.commit(&work, 1_000).await.expect("queue");
        let claim = |storage: &Database, claimant: &'static str, now: i64| {
            let storage = storage.clone();
            async move {
                claimed_ids(
                    storage
                        .claim_pending_mail(&ClaimHolder::named(claimant), now, now + LEASE, 100)
                        .await
                        .expect("claim"),
                )
            }
        };

        assert_eq!(
            claim(&first, "first", 1_000).await,
            ["a@example.org", "b@example.org", "c@example.org"]
        );
        assert!(
            claim(&second, "second", 2_000).await.is_empty(),
            "claimed mail is left to its claimant"
        );
        // a: the server deferred it for a minute; b: rejected for good; c: still in hand.
        first
            .defer_mail("a@example.org", "451 try again later", 61_000)
            .await
            .expect("defer");
        first
            .mark_mail_failed("b@example.org", "550 no such user", 2_000)
            .await
            .expect("fail");
        let mut connection = host.database.connect_directly().await.expect("connect");
        let claimants: Vec<(String, Option<String>)> =
            sqlx::query("SELECT message_id, claimed_by FROM outbox ORDER BY message_id")
                .fetch_all(&mut connection)
                .await
                .expect("claims")
                .iter()
                .map(|row| {
                    (
                        row.try_get(0).expect("id"),
                        row.try_get(1).expect("claimant"),
                    )
                })
                .collect();
        assert_eq!(
            claimants,
            [
                ("a@example.org".to_owned(), None),
                ("b@example.org".to_owned(), None),
                ("c@example.org".to_owned(), Some("first".to_owned())),
            ],
            "deferring and failing release the claim"
        );

        assert!(
            claim(&second, "second", 30_000).await.is_empty(),
            "a waits, b failed, c is claimed"
        );
        assert_eq!(
            claim(&second, "second", 61_000).await,
            ["a@example.org"],
            "a deferred mail is due when its wait is over, for any process"
        );
        second
            .mark_delivered("a@example.org", 62_000)
            .await
            .expect("delivered");
        assert_eq!(
            claim(&second, "second", 1_000 + LEASE + 1).await,
            ["c@example.org"],
            "the first process's claim lapsed"
        );
        second
            .mark_delivered("c@example.org", 1_000 + LEASE + 2)
            .await
            .expect("delivered");
        assert!(
            claim(&first, "first", 10 * LEASE).await.is_empty(),
            "failed mail waits for an operator"
        );
        assert_eq!(
            second
                .requeue_failed_mail(10 * LEASE)
                .await
                .expect("requeue"),
            1
        );
        assert_eq!(claim(&first, "first", 10 * LEASE).await, ["b@example.org"]);
        first
            .mark_delivered("b@example.org", 10 * LEASE)
            .await
            .expect("delivered");
        assert!(first.undelivered_mail(10).await.expect("outbox").is_empty());
        let a = first
            .mail_delivery("a@example.org")
            .await
            .expect("read")
            .expect("queued");
        assert_eq!((a.attempts, a.delivered_at), (2, Some(62_000)), "{a:?}");
        let claimed_left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL")
                .fetch_one(&mut connection)
                .await
                .expect("claims");
        assert_eq!(claimed_left, 0);
    });
}

#[test]
fn a_claim_names_its_holder_and_a_renewed_lease_keeps_others_off_until_it_lapses() {
    const LEASE: i64 = 60 * 1000;
    let host = TestHost::new("2026-12-01T10:00:00Z");
    block_on(async {
        let first = storage(&host.database).await;
        let second = storage(&host.database).await;
        let mut work = UnitOfWork::default();
        work.mails.push(queued_mail("a@example.org"));
        first.commit(&work, 1_000).await.expect("queue");
        let holder = ClaimHolder {
            claim_id: "first".into(),
            host: Some("mail-1".into()),
            pid: Some(4242),
            process_start: Some(77),
        };
        let claimed = first
            .claim_pending_mail(&holder, 1_000, 1_000 + LEASE, 10)
            .await
            .expect("claim");
        assert_eq!(claimed_ids(claimed), ["a@example.org"]);
        let holders = second
            .mail_claim_holders_on("mail-1", "second", 2_000)
            .await
            .expect("holders");
        assert_eq!(holders, [(holder.clone(), 1)]);
        assert!(
            second
                .mail_claim_holders_on("mail-2", "second", 2_000)
                .await
                .expect("holders")
                .is_empty(),
            "only the claims of the host asked about"
        );
        let shown = second
            .mail_delivery("a@example.org")
            .await
            .expect("read")
            .and_then(|mail| mail.claim)
            .expect("held");
        assert_eq!((shown.holder, shown.until), (holder, 1_000 + LEASE));

        // The heartbeat moved the lease on: the first lease's end no longer frees it.
        assert_eq!(
            first
                .renew_mail_claims("first", 1_000 + 3 * LEASE)
                .await
                .expect("renew"),
            1
        );
        let second_holder = ClaimHolder::named("second");
        assert!(
            second
                .claim_pending_mail(&second_holder, 1_000 + 2 * LEASE, 1_000 + 3 * LEASE, 10)
                .await
                .expect("claim")
                .is_empty()
        );
        assert_eq!(
            claimed_ids(
                second
                    .claim_pending_mail(&second_holder, 2_000 + 3 * LEASE, 2_000 + 4 * LEASE, 10)
                    .await
                    .expect("claim")
            ),
            ["a@example.org"],
            "a lapsed lease is taken over"
        );
        second
            .mark_delivered("a@example.org", 2_000 + 3 * LEASE)
            .await
            .expect("delivered");
        let delivered = second
            .mail_delivery("a@example.org")
            .await
            .expect("read")
            .expect("queued");
        assert_eq!(delivered.claim, None, "delivering releases the claim");
    });
}

#[test]
#[ignore = "needs a PostgreSQL server: run with --include-ignored and PRIVACY_GUARD_TEST_POSTGRES_URL (scripts/test.sh)"]
fn the_postgresql_migrations_build_the_tables_the_sqlite_migrations_build() {
    required_postgres_server_url();
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let sqlite = TestDatabase::Sqlite {
        path: host.folder.path().join("schema.db"),
    };
    block_on(async {
        let sqlite = schema(&sqlite).await;
        let mut postgres = schema(&host.database).await;
        assert!(
            postgres
                .triggers
                .remove("plugin_events_are_append_only_truncate"),
            "PostgreSQL refuses TRUNCATE, which SQLite does not have: {:?}",
            postgres.triggers
        );
        assert!(sqlite.columns.len() > 30, "{sqlite:?}");
        assert_eq!(postgres, sqlite);
    });
}
