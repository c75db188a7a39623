//! Benchmark of the pre-send decision (not a timed test): the real component in the real
//! host, warm instance, 100,000 contacts in SQLite, for one recipient and for batches of
//! 10,000; and, in the same run, the same core compiled natively on the same stored state,
//! for the wasm/native ratio.
//!
//! The component is asked the packed check (`sending-packed.check-send-packed`), as the host
//! asks it; `check-send` over the same batch is measured beside it.
//!
//! Last, the same warm marketing batch and a workflow batch (all allowed) before and after
//! the tenant's first delivery report (one hard bounce, for an address outside the batch):
//! from then on every recipient a marketing or workflow mail would go to is looked up in
//! the delivery-feedback records, and the ratio after / before is that look-up's cost.
//!
//! Run: `cargo bench -p privacy-guard-tests --bench pre_send` (results go to stdout;
//! `docs/benchmarks.md` records them).

use std::hint::black_box;
use std::time::{Duration, Instant};

use privacy_guard_core as core;
use privacy_guard_host::contract::safeguards::{DeliveryReport, FeedbackKind};
use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::ImportedRecord;
use privacy_guard_tests::{TestHost, configure, operator};

const BATCH: usize = 10_000;
const SINGLE_SAMPLES: usize = 20_000;

fn address(index: usize) -> String {
    format!("contact-{index:06}@example.com")
}

fn main() {
    // The number of contacts can be lowered for a quick look (e.g. under a profiler).
    let contacts: usize = std::env::var("PRIVACY_GUARD_BENCH_CONTACTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(100_000);
    let granted = contacts / 50;
    let rounds: usize = std::env::var("PRIVACY_GUARD_BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(30);
    let host = TestHost::new("2026-12-01T10:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, "http://127.0.0.1:9/preferences/");

    let started = Instant::now();
    let records: Vec<ImportedRecord> = (0..contacts)
        .map(|index| ImportedRecord {
            id: None,
            fields: vec![
                ("firstname".into(), format!("Person {index}")),
                ("email".into(), address(index)),
            ],
            status: None,
            modified_at: None,
        })
        .collect();
    guard
        .import_records("contacts", records, &|_| {})
        .expect("import");
    eprintln!("seeded {contacts} contacts in {:.1?}", started.elapsed());
    let started = Instant::now();
    for index in (0..contacts).step_by(contacts / granted) {
        let person = RecordRef {
            module: "contacts".into(),
            id: (index + 1).to_string(),
        };
        guard
            .record_decision(
                &person,
                "email-marketing",
                true,
                &operator(),
                "benchmark seed",
            )
            .expect("call")
            .expect("recorded");
    }
    eprintln!("granted {granted} consents in {:.1?}", started.elapsed());

    // Recipients: contacts spread over the whole table, one in twenty unknown.
    let batch: Vec<Recipient> = (0..BATCH)
        .map(|index| {
            let address = if index % 20 == 0 {
                format!("stranger-{index}@example.net")
            } else {
                address((index * 7919) % contacts)
            };
            Recipient {
                address,
                role: RecipientRole::To,
                person: None,
            }
        })
        .collect();
    let request = SendRequest {
        class: MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };

    // Cold: the host's cache is empty, every person is read from SQLite.
    let started = Instant::now();
    let cold = guard.check_send(&request, &batch);
    let cold_time = started.elapsed();
    let allowed = cold
        .iter()
        .filter(|decision| matches!(decision, Decision::Allow(_)))
        .count();
    assert!(
        allowed > 0 && allowed < BATCH,
        "a mix of allowed ({allowed}) and refused"
    );

    // Warm batches through the component: the packed check the host calls (contract
    // 0.3.2), and `check-send` as a host of 0.3.1 called it, for comparison.
    assert_eq!(
        guard.check_send_unpacked(&request, &batch),
        cold,
        "the packed check decides as check-send"
    );
    let wasm_batch = measure(rounds, || {
        black_box(guard.check_send(&request, &batch));
    });
    let unpacked_batch = measure(rounds, || {
        black_box(guard.check_send_unpacked(&request, &batch));
    });

    // The same core, native, on the same stored bytes and the same host cache.
    let database = guard.database().clone();
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config_bytes = io
        .block_on(database.kv_get_many(&[core::CONFIG_KEY]))
        .expect("config")[0]
        .clone()
        .expect("config stored");
    let native_request = core::sending::SendRequest {
        class: core::vocabulary::MessageClass::Marketing,
        purpose: Some("email-marketing".into()),
    };
    let native_batch = measure(rounds, || {
        // The same inputs the component gets: the host's recipients, turned into the
        // core's (borrowing the addresses, as the component borrows them from the one
        // buffer the boundary copies them into).
        let native_recipients: Vec<core::sending::Recipient> = batch
            .iter()
            .map(|recipient| core::sending::Recipient {
                address: &recipient.address,
                role: core::sending::RecipientRole::To,
            })
            .collect();
        let policy =
            core::sending::SendingPolicy::decode(Some(&config_bytes)).expect("config decodes");
        let keys = core::sending::person_keys(&native_recipients);
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let snapshots = io
            .block_on(database.kv_get_many(&key_refs))
            .expect("snapshots");
        let views: Vec<Option<&[u8]>> = snapshots
            .iter()
            .map(|snapshot| snapshot.as_deref())
            .collect();
        black_box(
            core::sending::decide_batch(
                &policy,
                &native_request,
                &native_recipients,
                &views,
                &core::sending::ErasureFacts::default(),
                host.clock.now_millis(),
            )
            .expect("decisions"),
        );
    });

    // The same warm batches in fuel mode (`--plugin-fuel`): a second host on the same
    // database whose engine counts every instruction; fuel enough never to run out.
    let fueled = host
        .open_with(|options| options.limits.fuel = Some(u64::MAX / 2))
        .expect("host opens in fuel mode");
    assert_eq!(
        fueled.check_send(&request, &batch),
        cold,
        "fuel changes no decision"
    );
    let fuel_batch = measure(rounds, || {
        black_box(fueled.check_send(&request, &batch));
    });
    drop(fueled);

    // One recipient, end to end, warm.
    let one = [batch[1].clone()];
    let mut samples: Vec<Duration> = Vec::with_capacity(SINGLE_SAMPLES);
    for _ in 0..SINGLE_SAMPLES {
        let started = Instant::now();
        black_box(guard.check_send(&request, &one));
        samples.push(started.elapsed());
    }
    samples.sort();

    // Delivery feedback: the same warm batches before and after one hard bounce.
    let feedback = measure_feedback(&guard, &host, rounds, &request, &batch, &cold);

    let percentile = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];

    let per_second = |time: Duration| BATCH as f64 / time.as_secs_f64();
    println!(
        "pre-send benchmark: {contacts} contacts in SQLite, batch of {BATCH} ({allowed} allowed), {rounds} rounds"
    );
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| batch of {BATCH}, cold cache (reads SQLite) | {:.2} ms ({:.0} decisions/s) |",
        ms(cold_time),
        per_second(cold_time)
    );
    println!(
        "| batch of {BATCH}, warm, wasm component (median) | {:.2} ms ({:.0} decisions/s) |",
        ms(wasm_batch),
        per_second(wasm_batch)
    );
    println!(
        "| batch of {BATCH}, warm, wasm component, unpacked check-send (median) | {:.2} ms ({:.0} decisions/s) |",
        ms(unpacked_batch),
        per_second(unpacked_batch)
    );
    println!(
        "| batch of {BATCH}, warm, native core (median) | {:.2} ms ({:.0} decisions/s) |",
        ms(native_batch),
        per_second(native_batch)
    );
    println!(
        "| wasm / native on batches | {:.2} |",
        wasm_batch.as_secs_f64() / native_batch.as_secs_f64()
    );
    // The fastest rounds, in the order measured: wasm, unpacked, native, fuel.
    let fastest = FASTEST.with(|fastest| fastest.borrow().clone());
    let (wasm_fastest, unpacked_fastest, native_fastest) = (fastest[0], fastest[1], fastest[2]);
    println!(
        "| fastest rounds: wasm / unpacked check-send / native | {:.2} ms ({:.0}/s) / {:.2} ms / {:.2} ms ({:.0}/s) |",
        ms(wasm_fastest),
        per_second(wasm_fastest),
        ms(unpacked_fastest),
        ms(native_fastest),
        per_second(native_fastest)
    );
    println!(
        "| wasm / native on the fastest rounds | {:.2} |",
        wasm_fastest.as_secs_f64() / native_fastest.as_secs_f64()
    );
    println!(
        "| batch of {BATCH}, warm, wasm component in fuel mode (median) | {:.2} ms ({:.0} decisions/s) |",
        ms(fuel_batch),
        per_second(fuel_batch)
    );
    println!(
        "| fuel mode / plain on batches | {:.2} |",
        fuel_batch.as_secs_f64() / wasm_batch.as_secs_f64()
    );
    feedback.print(per_second);
    println!(
        "| one recipient end to end, p50 | {:.1} µs |",
        micros(percentile(0.50))
    );
    println!(
        "| one recipient end to end, p99 | {:.1} µs |",
        micros(percentile(0.99))
    );
}

/// The warm batches before and after the tenant's first delivery report (medians).
struct FeedbackCost {
    workflow_allowed: usize,
    marketing_before: Duration,
    workflow_before: Duration,
    marketing_after: Duration,
    workflow_after: Duration,
}

impl FeedbackCost {
    fn print(&self, per_second: impl Fn(Duration) -> f64) {
        let rows = [
            (
                "marketing",
                "before any delivery report",
                self.marketing_before,
            ),
            ("marketing", "after one hard bounce", self.marketing_after),
            (
                "workflow",
                "before any delivery report",
                self.workflow_before,
            ),
            ("workflow", "after one hard bounce", self.workflow_after),
        ];
        for (class, when, time) in rows {
            println!(
                "| batch of {BATCH}, warm, {class}, {when} (median) | {:.2} ms ({:.0} decisions/s) |",
                ms(time),
                per_second(time)
            );
        }
        println!(
            "| delivery-feedback look-up: marketing after / before | {:.2} |",
            self.marketing_after.as_secs_f64() / self.marketing_before.as_secs_f64()
        );
        println!(
            "| delivery-feedback look-up: workflow ({} allowed) after / before | {:.2} |",
            self.workflow_allowed,
            self.workflow_after.as_secs_f64() / self.workflow_before.as_secs_f64()
        );
    }
}

/// Measures the warm marketing batch and a workflow batch on the same purpose, reports one
/// hard bounce for an address outside the batch (the tenant's first delivery report, which
/// salts the markers and turns the look-up on), checks that no decision of the batch
/// changed while the bounced address is refused, and measures both batches again.
fn measure_feedback(
    guard: &privacy_guard_host::guard::Guard,
    host: &privacy_guard_tests::TestHost,
    rounds: usize,
    marketing: &SendRequest,
    batch: &[Recipient],
    marketing_decisions: &[Decision],
) -> FeedbackCost {
    let workflow = SendRequest {
        class: MessageClass::Workflow,
        purpose: marketing.purpose.clone(),
    };
    let workflow_decisions = guard.check_send(&workflow, batch);
    let workflow_allowed = workflow_decisions
        .iter()
        .filter(|decision| matches!(decision, Decision::Allow(_)))
        .count();
    let marketing_before = measure(rounds, || {
        black_box(guard.check_send(marketing, batch));
    });
    let workflow_before = measure(rounds, || {
        black_box(guard.check_send(&workflow, batch));
    });

    let bounced = "bounced-000001@example.net";
    assert!(
        batch.iter().all(|recipient| recipient.address != bounced),
        "the bounced address is outside the batch"
    );
    let outcome = guard
        .report_delivery(&DeliveryReport {
            kind: FeedbackKind::HardBounce,
            address: bounced.into(),
            source: "dsn".into(),
            evidence: "Status: 5.1.1; Diagnostic-Code: smtp; 550 5.1.1 user unknown".into(),
            message_id: None,
            occurred_at: host.clock.now_millis() - 60_000,
            token: None,
        })
        .expect("call")
        .expect("the bounce is recorded");
    assert!(outcome.address_suppressed, "the bounce suppresses");
    let refused = guard.check_send(
        &workflow,
        &[Recipient {
            address: bounced.into(),
            role: RecipientRole::To,
            person: None,
        }],
    );
    assert!(
        matches!(&refused[0], Decision::Refuse(refusal) if refusal.reason == RefusalReason::InvalidAddress),
        "the bounced address is refused workflow mail, not {refused:?}"
    );
    assert_eq!(
        guard.check_send(marketing, batch),
        marketing_decisions,
        "a bounce outside the batch changes none of its marketing decisions"
    );
    assert_eq!(
        guard.check_send(&workflow, batch),
        workflow_decisions,
        "a bounce outside the batch changes none of its workflow decisions"
    );

    let marketing_after = measure(rounds, || {
        black_box(guard.check_send(marketing, batch));
    });
    let workflow_after = measure(rounds, || {
        black_box(guard.check_send(&workflow, batch));
    });
    FeedbackCost {
        workflow_allowed,
        marketing_before,
        workflow_before,
        marketing_after,
        workflow_after,
    }
}

/// The median of `rounds` timed runs (after one warm-up run); the fastest is kept beside it
/// in [`FASTEST`], for a machine too busy for medians.
fn measure(rounds: usize, mut run: impl FnMut()) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    FASTEST.with(|fastest| fastest.borrow_mut().push(times[0]));
    times[rounds / 2]
}

thread_local! {
    /// The fastest round of each [`measure`], in the order measured.
    static FASTEST: std::cell::RefCell<Vec<Duration>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}

fn micros(time: Duration) -> f64 {
    time.as_secs_f64() * 1e6
}
