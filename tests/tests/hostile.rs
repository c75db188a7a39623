//! A hostile plugin in the real host: the sandbox holds against every way a component can
//! misbehave (tests/hostile: a loop, an allocation bomb, a trap, floods of the store, the
//! event log and the outbox, a log storm, wrong answers). Each is refused as a fault for
//! every recipient, the host's memory stays under a stated bound, and the next call is
//! answered by a fresh instance.
//!
//! One test, run in order: the bound is on the peak memory of this whole process (the
//! host runs in it), which tests running beside it would blur.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use privacy_guard_host::capabilities::CallBudget;
use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::guard::{ComponentSource, Guard};
use privacy_guard_host::runtime::SandboxLimits;
use privacy_guard_tests::TestHost;

const MIB: u64 = 1 << 20;
/// The memory of one instance.
const INSTANCE_MEMORY: u64 = 64 * MIB;
/// Calls in the plugin at once.
const INSTANCES: usize = 2;
/// What one call may make the host hold, at most, of each kind.
const HELD: u64 = 32 * MIB;

fn hostile_host() -> (TestHost, Guard) {
    let mut host = TestHost::new("2026-12-01T10:00:00Z");
    host.limits = SandboxLimits {
        memory_bytes: INSTANCE_MEMORY as usize,
        // Long enough for a flood to pass its budget well before it.
        call_timeout: Duration::from_secs(3),
        max_instances: INSTANCES,
        queue_wait: Duration::from_secs(120),
        budget: CallBudget {
            store_bytes: HELD,
            events: 10_000,
            mails: 100,
            mail_bytes: HELD,
            log_bytes: MIB,
        },
        fuel: None,
    };
    let guard = host
        .open_with(|options| {
            options.component =
                ComponentSource::File(PathBuf::from(env!("PRIVACY_GUARD_HOSTILE_COMPONENT")))
        })
        .expect("the host opens the hostile plugin");
    (host, guard)
}

fn check(guard: &Guard, how: &str, recipients: usize) -> Vec<Decision> {
    let recipients: Vec<Recipient> = (0..recipients)
        .map(|index| Recipient {
            address: if index == 0 {
                format!("{how}@hostile.test")
            } else {
                format!("other{index}@hostile.test")
            },
            role: RecipientRole::To,
            person: None,
        })
        .collect();
    let request = SendRequest {
        class: MessageClass::AdHoc,
        purpose: None,
    };
    guard.check_send(&request, &recipients)
}

/// The detail every recipient was refused with as a plugin fault; panics on an allow.
fn fault_detail(decisions: &[Decision], recipients: usize) -> String {
    assert_eq!(decisions.len(), recipients, "{decisions:?}");
    let details: Vec<&str> = decisions
        .iter()
        .map(|decision| match decision {
            Decision::Refuse(refusal) if refusal.reason == RefusalReason::PluginFault => {
                refusal.detail.as_str()
            }
            other => panic!("a hostile call must be refused as a plugin fault, not {other:?}"),
        })
        .collect();
    assert!(details.iter().all(|detail| *detail == details[0]));
    assert!(!details[0].contains('\n'), "one line: {}", details[0]);
    details[0].to_owned()
}

/// The plugin's ordinary answer: which call of its instance it is.
fn answered_by_call(decisions: &[Decision]) -> String {
    match decisions {
        [Decision::Refuse(refusal)] if refusal.reason == RefusalReason::UnknownRecipient => {
            refusal.detail.clone()
        }
        other => panic!("an ordinary call gets the ordinary answer, not {other:?}"),
    }
}

/// The peak resident memory of this process so far (`VmHWM`), in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib * 1024
}

#[test]
fn a_hostile_plugin_is_contained_and_the_next_call_gets_a_fresh_instance() {
    let (_host, guard) = hostile_host();
    // Warm up: the component compiled and one instance made and used.
    assert_eq!(
        answered_by_call(&check(&guard, "ordinary", 1)),
        "call 1 of this instance"
    );
    assert_eq!(
        answered_by_call(&check(&guard, "ordinary", 1)),
        "call 2 of this instance"
    );
    let baseline = peak_memory();
    // What the host may hold because of the plugin: every instance's memory, what a call
    // may make it hold (the largest budget in bytes, twice: the guest's copy and the
    // host's), and room for the allocator's own keeping.
    let bound = baseline + INSTANCES as u64 * INSTANCE_MEMORY + 2 * HELD + 64 * MIB;

    let cases: [(&str, &str); 9] = [
        ("loop", "time limit"),
        ("alloc", "memory limit"),
        ("trap", "trapped"),
        ("store-flood", "budget of 33554432 store bytes"),
        ("event-flood", "budget of 10000 events"),
        ("mail-flood", "budget of 100 mails"),
        ("log-storm", "budget of 1048576 log bytes"),
        ("too-few", "impossible answer: 0 decisions for 3 recipients"),
        (
            "too-many",
            "impossible answer: 4 decisions for 3 recipients",
        ),
    ];
    for (how, expected) in cases {
        let made = guard.plugin_instances_made();
        let detail = fault_detail(&check(&guard, how, 3), 3);
        assert!(
            peak_memory() < bound,
            "{how}: the host's peak memory {} MiB passed the bound {} MiB",
            peak_memory() / MIB,
            bound / MIB
        );
        assert!(
            detail.contains(expected),
            "{how}: the refusal names what happened ({expected}): {detail}"
        );
        // The faulted instance is gone: the next call is the first of a new one.
        assert_eq!(
            answered_by_call(&check(&guard, "ordinary", 1)),
            "call 1 of this instance",
            "{how}: the call after a fault runs on a fresh instance"
        );
        assert_eq!(guard.plugin_instances_made(), made + 1, "{how}");
    }

    // Eight calls at once that each fill most of their memory and hold it: at most
    // INSTANCES run, so the guest memory the host holds stays under INSTANCES times the cap.
    let guard = Arc::new(guard);
    let bombs: Vec<_> = (0..8)
        .map(|_| {
            let guard = Arc::clone(&guard);
            std::thread::spawn(move || {
                let t = std::time::Instant::now();
                let d = fault_detail(&check(&guard, "hold", 1), 1);
                eprintln!(
                    "DEBUG hold took {:?} peak {}",
                    t.elapsed(),
                    peak_memory() / MIB
                );
                d
            })
        })
        .collect();
    for bomb in bombs {
        let detail = bomb.join().expect("the caller thread ends");
        assert!(detail.contains("trapped"), "{detail}");
    }
    assert!(
        peak_memory() < bound,
        "eight calls holding memory: the host's peak memory {} MiB passed the bound {} MiB",
        peak_memory() / MIB,
        bound / MIB
    );
    assert_eq!(
        answered_by_call(&check(&guard, "ordinary", 1)),
        "call 1 of this instance"
    );
    eprintln!(
        "peak memory: {} MiB at the start, {} MiB after every hostile call (bound {} MiB)",
        baseline / MIB,
        peak_memory() / MIB,
        bound / MIB
    );
}
