//! The host's cache of plugin state is bounded in bytes, and a small cache changes no
//! answer: evicted state is read again from the database.

use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, SendRequest,
};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::import::read_records;
use privacy_guard_tests::{TestHost, configure, operator};

const PEOPLE: usize = 400;
/// Room for a few dozen people's state, far less than the 400 the test reads.
const SMALL: usize = 32 << 10;

fn marketing(guard: &privacy_guard_host::guard::Guard) -> Vec<Decision> {
    let recipients: Vec<Recipient> = (0..PEOPLE + 10)
        .map(|index| Recipient {
            address: format!("person{index}@example.com"),
            role: RecipientRole::To,
            person: None,
        })
        .collect();
    guard.check_send(
        &SendRequest {
            class: MessageClass::Marketing,
            purpose: Some("email-marketing".into()),
        },
        &recipients,
    )
}

#[test]
fn a_cache_far_smaller_than_the_state_stays_in_its_budget_and_changes_no_answer() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    guard.database().set_kv_cache_budget(SMALL);
    configure(&guard, "http://127.0.0.1:9/preferences/");
    let mut csv = String::from("name,email\n");
    for index in 0..PEOPLE {
        csv.push_str(&format!("Person {index},person{index}@example.com\n"));
    }
    guard
        .import_records(
            "contacts",
            read_records(csv.as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");
    for index in (0..PEOPLE).step_by(7) {
        let person = RecordRef {
            module: "contacts".into(),
            id: (index + 1).to_string(),
        };
        guard
            .record_decision(
                &person,
                "email-marketing",
                index % 2 == 0,
                &operator(),
                "Phone call",
            )
            .expect("call")
            .expect("recorded");
    }
    host.set_now("2026-12-01T10:00:00Z");
    let run = guard.run_due().expect("run").expect("due");
    assert!(run.requests > 0);
    assert!(
        guard.database().kv_cache_bytes() <= SMALL,
        "after a sweep over every person: {} bytes",
        guard.database().kv_cache_bytes()
    );

    let small = marketing(&guard);
    assert!(guard.database().kv_cache_bytes() <= SMALL);
    drop(guard);
    // The same database through a host with the default cache, which holds everything.
    let roomy = host.open().expect("host re-opens");
    let answers = marketing(&roomy);
    assert!(
        roomy.database().kv_cache_bytes() > SMALL,
        "the default cache holds more"
    );
    assert_eq!(small, answers, "a small cache changes no decision");
    let allowed = answers
        .iter()
        .filter(|decision| matches!(decision, Decision::Allow(_)))
        .count();
    assert!(allowed > 0 && allowed < PEOPLE, "{allowed} allowed: a mix");
}
