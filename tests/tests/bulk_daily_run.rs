//! The daily run in bulk over SMTP: pages larger than a delivery batch go to a real
//! aiosmtpd server over a few pooled connections in parallel, each carrying many
//! messages, and every message arrives exactly once, recorded delivered.

use std::collections::{BTreeMap, BTreeSet};

use privacy_guard_host::import::read_records;
use privacy_guard_host::mail::{DeliveryReport, RetryPolicy};
use privacy_guard_tests::{SmtpServer, TestHost, configure};

const PREFERENCES: &str = "https://privacy.example.org/preferences/";
const START: &str = "2026-12-01T09:30:00Z";
const RUN: &str = "2026-12-01T10:00:00Z";

/// More people than a page of the daily run and a delivery batch hold.
const PEOPLE: usize = 1_500;

/// aiosmtpd's Maildir handler that also notes the client port of each message's
/// connection, one line per message, in `connections.log` beside the Maildir.
const COUNTING_HANDLER: &str = r#"
import os
from aiosmtpd.handlers import Mailbox

class Counting(Mailbox):
    def __init__(self, maildir):
        super().__init__(maildir)
        self.log = os.path.join(os.path.dirname(os.path.abspath(maildir)), "connections.log")

    async def handle_DATA(self, server, session, envelope):
        with open(self.log, "a") as log:
            log.write("%d\n" % session.peer[1])
        return await super().handle_DATA(server, session, envelope)
"#;

#[test]
fn a_large_run_over_smtp_arrives_once_per_message_over_a_few_reused_connections() {
    let server = SmtpServer::start_with_handler(COUNTING_HANDLER, "Counting")
        .unwrap_or_else(|error| panic!("{error:#}"));
    let mut host = TestHost::new(START);
    host.transport = server.transport();
    host.retry = RetryPolicy::default();
    let guard = host.open().expect("host opens");
    configure(&guard, PREFERENCES);
    let rows: String = (0..PEOPLE)
        .map(|person| format!("P{person},p{person}@example.com\n"))
        .collect();
    guard
        .import_records(
            "contacts",
            read_records(format!("firstname,email\n{rows}").as_bytes()).expect("valid CSV"),
            &|_| {},
        )
        .expect("import");

    host.set_now(RUN);
    let run = guard
        .run_due()
        .expect("daily run")
        .expect("the run was due");
    assert_eq!((run.people, run.requests), (PEOPLE as u64, PEOPLE as u64));
    assert_eq!(
        run.mail,
        DeliveryReport {
            delivered: PEOPLE as u64,
            deferred: 0,
            failed: 0
        }
    );

    let mails = server.mails();
    assert_eq!(mails.len(), PEOPLE, "one message per person arrived");
    let mut arrivals: BTreeMap<&str, usize> = BTreeMap::new();
    for mail in &mails {
        *arrivals.entry(mail.message_id.as_str()).or_default() += 1;
    }
    assert_eq!(arrivals.len(), PEOPLE, "each person's own message id");
    assert!(arrivals.values().all(|count| *count == 1), "none twice");
    let recipients: BTreeSet<&str> = mails.iter().map(|mail| mail.to[0].as_str()).collect();
    assert_eq!(recipients.len(), PEOPLE);
    for message_id in arrivals.keys().step_by(97) {
        let delivery = guard
            .mail_delivery(message_id)
            .expect("outbox")
            .unwrap_or_else(|| panic!("no queued mail {message_id}"));
        assert_eq!(
            (delivery.delivered_at.is_some(), delivery.attempts),
            (true, 1)
        );
    }
    assert!(guard.undelivered_mail(10).expect("outbox").is_empty());

    let log = std::fs::read_to_string(server.folder().join("connections.log"))
        .expect("the handler noted each message's connection");
    let connections: BTreeSet<&str> = log.lines().collect();
    assert_eq!(log.lines().count(), PEOPLE);
    assert!(
        (2..=12).contains(&connections.len()),
        "a few connections in parallel, each carrying many messages: {} connections for {PEOPLE} messages",
        connections.len()
    );
}
