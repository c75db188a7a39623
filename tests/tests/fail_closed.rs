//! The plugin fails closed: a timeout, a trap or a limit hit is never "allowed to send",
//! a faulted call commits nothing, and the next call gets a fresh instance.

use std::time::Duration;

use privacy_guard_host::capabilities::CallBudget;
use privacy_guard_host::contract::sending::{
    Decision, MailContent, MessageClass, Recipient, RecipientRole, RefusalReason, Rendering,
    SendRequest,
};
use privacy_guard_host::contract::tracking::TrackingKind;
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::{GuardError, IMPORT_PAGE};
use privacy_guard_host::import::read_records;
use privacy_guard_host::runtime::{Fault, SandboxLimits};
use privacy_guard_tests::{TestHost, settings};

fn ad_hoc() -> SendRequest {
    // Ad-hoc mail to a stranger is allowed when the plugin works: the refusals below
    // can only come from the fault.
    SendRequest {
        class: MessageClass::AdHoc,
        purpose: None,
    }
}

fn to(address: &str) -> Recipient {
    Recipient {
        address: address.into(),
        role: RecipientRole::To,
        person: None,
    }
}

fn all_refused_as_fault(decisions: &[Decision]) -> bool {
    decisions.iter().all(|decision| matches!(decision, Decision::Refuse(refusal) if refusal.reason == RefusalReason::PluginFault && !refusal.detail.is_empty()))
}

#[test]
fn a_plugin_that_times_out_refuses_every_recipient() {
    let mut host = TestHost::new("2026-12-01T10:00:00Z");
    // A deadline of zero ticks interrupts the plugin at its first check.
    host.limits = SandboxLimits {
        call_timeout: Duration::ZERO,
        ..SandboxLimits::default()
    };
    let guard = host.open().expect("host opens");
    let decisions = guard.check_send(&ad_hoc(), &[to("ada@example.com"), to("grace@example.com")]);
    assert_eq!(decisions.len(), 2);
    assert!(all_refused_as_fault(&decisions), "{decisions:?}");
    match &decisions[0] {
        Decision::Refuse(refusal) => {
            assert!(refusal.detail.contains("time limit"), "{}", refusal.detail)
        }
        Decision::Allow(_) => unreachable!(),
    }
}

#[test]
fn a_plugin_that_times_out_renders_a_refusal_for_everyone_and_accepts_no_tracking_event() {
    let mut host = TestHost::new("2026-12-01T10:00:00Z");
    host.limits = SandboxLimits {
        call_timeout: Duration::ZERO,
        ..SandboxLimits::default()
    };
    let guard = host.open().expect("host opens");
    let mail = MailContent {
        message_id: None,
        subject: "Hello".into(),
        text_body: "Hello".into(),
        html_body: None,
    };
    let renderings = guard.render(
        &ad_hoc(),
        &mail,
        &[to("ada@example.com"), to("grace@example.com")],
    );
    assert_eq!(renderings.len(), 2);
    assert!(
        renderings.iter().all(|rendering| matches!(rendering, Rendering::Refuse(refusal) if refusal.reason == RefusalReason::PluginFault && !refusal.detail.is_empty())),
        "{renderings:?}"
    );
    assert!(!guard.accept_tracking_event(TrackingKind::EmailOpen, "ada@example.com"));
}

#[test]
fn a_plugin_that_hits_its_memory_limit_refuses_the_batch_and_recovers_on_a_fresh_instance() {
    let mut host = TestHost::new("2026-12-01T10:00:00Z");
    host.limits = SandboxLimits {
        memory_bytes: 8 << 20,
        ..SandboxLimits::default()
    };
    let guard = host.open().expect("host opens");

    let working = guard.check_send(&ad_hoc(), &[to("ada@example.com")]);
    assert!(
        matches!(working[0], Decision::Allow(_)),
        "a small batch fits: {working:?}"
    );

    // 200,000 recipients do not fit in 8 MiB of guest memory: the call traps.
    let huge: Vec<Recipient> = (0..200_000)
        .map(|index| to(&format!("person-{index:06}@example.com")))
        .collect();
    let decisions = guard.check_send(&ad_hoc(), &huge);
    assert_eq!(decisions.len(), huge.len());
    assert!(all_refused_as_fault(&decisions));

    // The trapped instance was dropped; the next call runs on a fresh one.
    let recovered = guard.check_send(&ad_hoc(), &[to("ada@example.com")]);
    assert!(matches!(recovered[0], Decision::Allow(_)), "{recovered:?}");
}

#[test]
fn an_import_faulted_half_way_commits_nothing_of_the_pages_before() {
    // An import of two plugin pages: the first page's records are known and unchanged
    // (no event), the second's are new (an event each). With a budget of 10 events a call,
    // the first call succeeds and its work goes into the import's open commit; the second
    // spends past its budget half-way through its page. Nothing of either may remain.
    let page = |numbers: std::ops::RangeInclusive<usize>, email: bool| -> String {
        numbers
            .map(|n| match email {
                true => format!("{n},Person {n},person{n}@example.com\n"),
                false => format!("{n},Person {n},\n"),
            })
            .collect()
    };
    let known = format!("id,name,email\n{}", page(1..=IMPORT_PAGE, false));
    let both = format!("{known}{}", page(IMPORT_PAGE + 1..=2 * IMPORT_PAGE, true));
    let mut host = TestHost::new("2026-12-01T09:00:00Z");
    {
        let guard = host.open().expect("host opens");
        privacy_guard_tests::configure(&guard, "http://127.0.0.1:9/preferences/");
        guard
            .import_records(
                "contacts",
                read_records(known.as_bytes()).expect("csv"),
                &|_| {},
            )
            .expect("the first page's records");
    }
    host.limits = SandboxLimits {
        budget: CallBudget {
            events: 10,
            ..CallBudget::default()
        },
        ..SandboxLimits::default()
    };
    let guard = host.open().expect("host opens with a budget of 10 events");
    let events_before = guard.verify_ledger().expect("check");
    // Half-way, not at the start: the first page alone stays within the budget.
    guard
        .import_records(
            "contacts",
            read_records(known.as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("the known page alone is within the budget");
    let outcome = guard.import_records(
        "contacts",
        read_records(both.as_bytes()).expect("csv"),
        &|_| {},
    );
    assert!(
        matches!(&outcome, Err(GuardError::Plugin(Fault::Budget(exceeded))) if exceeded.what == "events"),
        "the second page spends past the budget: {outcome:?}"
    );
    drop(guard);

    host.limits = SandboxLimits::default();
    let guard = host.open().expect("host re-opens");
    assert_eq!(
        guard.record_count("contacts").expect("count"),
        IMPORT_PAGE as u64,
        "no record of the faulted import was stored"
    );
    assert_eq!(
        guard.verify_ledger().expect("check"),
        events_before,
        "no event of the faulted import was appended"
    );
    let new_person = RecordRef {
        module: "contacts".into(),
        id: (IMPORT_PAGE + 1).to_string(),
    };
    assert_eq!(
        guard.subject(&new_person).expect("read"),
        None,
        "no consent state of the second page was stored"
    );
    // The same file imports whole once the budget allows it.
    let imported = guard
        .import_records(
            "contacts",
            read_records(both.as_bytes()).expect("csv"),
            &|_| {},
        )
        .expect("import");
    assert_eq!(imported.created, IMPORT_PAGE as u64, "{imported:?}");
    assert!(guard.subject(&new_person).expect("read").is_some());
}

/// A host whose calls may queue at most `mails` mails and append at most `events` events.
fn host_with_budget(mails: u64, events: u64) -> TestHost {
    let mut host = TestHost::new("2026-12-01T09:00:00Z");
    host.limits = SandboxLimits {
        budget: CallBudget {
            mails,
            events,
            ..CallBudget::default()
        },
        ..SandboxLimits::default()
    };
    host
}

#[test]
fn a_call_that_queues_more_mail_than_its_budget_fails_closed_and_commits_nothing() {
    let host = host_with_budget(2, CallBudget::default().events);
    let guard = host.open().expect("host opens");
    privacy_guard_tests::configure(&guard, "http://127.0.0.1:9/preferences/");
    guard
        .import_records(
            "contacts",
            read_records(
                "name,email\nAda,ada@example.com\nGrace,grace@example.com\nLinus,linus@example.com\n"
                    .as_bytes(),
            )
            .expect("csv"),
            &|_| {},
        )
        .expect("three contacts");
    host.set_now("2026-12-01T10:00:00Z");
    // The day's run would queue three requests in one call: the call traps at the third.
    let outcome = guard.run_due();
    let Err(GuardError::Plugin(Fault::Budget(exceeded))) = &outcome else {
        panic!("the budget stops the run: {outcome:?}");
    };
    assert_eq!(
        exceeded.to_string(),
        "the call spent more than its budget of 2 mails"
    );
    assert!(
        host.mails().is_empty(),
        "nothing of the failed call was delivered"
    );
    let subject = guard
        .subject(&RecordRef {
            module: "contacts".into(),
            id: "1".into(),
        })
        .expect("call")
        .expect("known");
    assert!(
        subject
            .consents
            .iter()
            .all(|state| state.value != privacy_guard_host::contract::types::ConsentValue::Waiting),
        "no request was recorded: {subject:?}"
    );
    // A check still answers (fresh instance), and with the default budget the run goes on.
    assert!(matches!(
        guard.check_send(&ad_hoc(), &[to("ada@example.com")])[0],
        Decision::Allow(_)
    ));
    drop(guard);
    let mut host = host;
    host.limits = SandboxLimits::default();
    let guard = host.open().expect("host re-opens");
    assert_eq!(guard.run_due().expect("run").expect("due").requests, 3);
    assert_eq!(host.mails().len(), 3);
}

#[test]
fn an_import_that_appends_more_events_than_its_budget_imports_nothing() {
    let host = host_with_budget(CallBudget::default().mails, 3);
    let guard = host.open().expect("host opens");
    privacy_guard_tests::configure(&guard, "http://127.0.0.1:9/preferences/");
    let outcome = guard.import_records(
        "contacts",
        read_records("name,email\nAda,ada@example.com\nGrace,grace@example.com\nLinus,linus@example.com\nMary,mary@example.com\n".as_bytes())
            .expect("csv"),
        &|_| {},
    );
    assert!(
        matches!(&outcome, Err(GuardError::Plugin(Fault::Budget(exceeded))) if exceeded.what == "events"),
        "{outcome:?}"
    );
    assert!(
        guard
            .subject(&RecordRef {
                module: "contacts".into(),
                id: "1".into(),
            })
            .expect("call")
            .is_none(),
        "the import is all or nothing"
    );
}

#[test]
fn a_call_past_its_store_or_log_budget_fails_closed_naming_the_budget() {
    // The plugin builds only the lines the host keeps (`log.enabled`): keep INFO, as
    // `serve` does.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_test_writer();
    if subscriber.try_init().is_err() {
        // Another test of this binary installed one first.
    }
    for (budget, what) in [
        (
            CallBudget {
                store_bytes: 64,
                ..CallBudget::default()
            },
            "store bytes",
        ),
        (
            CallBudget {
                log_bytes: 8,
                ..CallBudget::default()
            },
            "log bytes",
        ),
    ] {
        let mut host = TestHost::new("2026-12-01T09:00:00Z");
        host.limits = SandboxLimits {
            budget,
            ..SandboxLimits::default()
        };
        let guard = host.open().expect("host opens");
        // Saving the settings writes the configuration (well over 64 bytes) and logs it.
        let outcome = guard.set_settings(&settings("http://127.0.0.1:9/preferences/"));
        assert!(
            matches!(&outcome, Err(GuardError::Plugin(Fault::Budget(exceeded))) if exceeded.what == what),
            "{what}: {outcome:?}"
        );
        assert!(
            guard.configuration().expect("call").settings.is_none(),
            "{what}: nothing was saved"
        );
    }
}

#[test]
fn concurrent_calls_queue_for_a_bounded_number_of_instances() {
    let mut host = TestHost::new("2026-12-01T10:00:00Z");
    host.limits = SandboxLimits {
        max_instances: 2,
        queue_wait: Duration::from_secs(120),
        ..SandboxLimits::default()
    };
    let guard = std::sync::Arc::new(host.open().expect("host opens"));
    let batch: Vec<Recipient> = (0..2_000)
        .map(|index| to(&format!("person-{index:04}@example.com")))
        .collect();
    std::thread::scope(|scope| {
        let callers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..5).all(|_| {
                        guard
                            .check_send(&ad_hoc(), &batch)
                            .iter()
                            .all(|decision| matches!(decision, Decision::Allow(_)))
                    })
                })
            })
            .collect();
        for caller in callers {
            assert!(caller.join().expect("a caller"), "every call was answered");
        }
    });
    // Eight callers at once, yet never more than two instances: guest memory stays under
    // twice the cap.
    assert!(
        (1..=2).contains(&guard.plugin_instances_made()),
        "{} instances",
        guard.plugin_instances_made()
    );
}

#[test]
fn in_fuel_mode_the_plugin_works_within_its_fuel_and_a_call_past_it_fails_closed() {
    let mut host = TestHost::new("2026-12-01T09:00:00Z");
    host.limits = SandboxLimits {
        fuel: Some(2_000_000_000),
        ..SandboxLimits::default()
    };
    let guard = host.open().expect("host opens in fuel mode");
    privacy_guard_tests::configure(&guard, "http://127.0.0.1:9/preferences/");
    guard
        .import_records(
            "contacts",
            read_records("name,email\nAda,ada@example.com\nGrace,grace@example.com\n".as_bytes())
                .expect("csv"),
            &|_| {},
        )
        .expect("an import within its fuel");
    host.set_now("2026-12-01T10:00:00Z");
    assert_eq!(guard.run_due().expect("run").expect("due").requests, 2);
    assert!(matches!(
        guard.check_send(&ad_hoc(), &[to("ada@example.com")])[0],
        Decision::Allow(_)
    ));
    drop(guard);

    // The same host with fuel for a few thousand instructions: every call runs out.
    host.limits.fuel = Some(5_000);
    let guard = host.open().expect("host re-opens");
    let decisions = guard.check_send(&ad_hoc(), &[to("ada@example.com"), to("grace@example.com")]);
    assert!(all_refused_as_fault(&decisions), "{decisions:?}");
    let Decision::Refuse(refusal) = &decisions[0] else {
        unreachable!()
    };
    assert!(
        refusal.detail.contains("ran out of fuel (5000 units"),
        "{}",
        refusal.detail
    );
}
