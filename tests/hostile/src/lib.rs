//! A hostile plugin: the containment tests (`tests/tests/hostile.rs`) load it in the real
//! host in place of Privacy Guard to prove the sandbox holds.
//!
//! It implements the whole `privacy-guard` world, but only `sending.check-send` does
//! anything: the local part of the first recipient's address says how to misbehave.
//!
//! | address        | what the call does                                       |
//! |----------------|----------------------------------------------------------|
//! | `loop@…`       | runs forever                                             |
//! | `alloc@…`      | allocates (and touches) 1 MiB after 1 MiB without end    |
//! | `hold@…`       | fills three quarters of its memory cap, holds it 300 ms, traps |
//! | `trap@…`       | traps                                                    |
//! | `store-flood@…`| writes 1 MiB values to the store without end             |
//! | `event-flood@…`| appends events without end                               |
//! | `mail-flood@…` | queues 64 KiB mails without end                          |
//! | `log-storm@…`  | logs 64 KiB warnings without end                         |
//! | `too-few@…`    | answers no decision at all                               |
//! | `too-many@…`   | answers one decision more than there are recipients      |
//! | anything else  | refuses every recipient, the detail naming how many calls this instance has answered (`call N of this instance`), so a test can tell a fresh instance |
//!
//! Every other export traps: a host must treat that as a fault, like any other.
//!
//! Built with the feature `frozen-0-3-0`, it is the same plugin against the frozen copy of
//! contract 0.3.0 (`wit/released/0.3.0`): the guest that proves a host of a later
//! compatible contract still loads components built for the earlier one.

use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(feature = "frozen-0-3-0"))]
wit_bindgen::generate!({
    path: "../../wit",
    world: "privacy-guard",
});

#[cfg(feature = "frozen-0-3-0")]
wit_bindgen::generate!({
    path: "../../wit/released/0.3.0",
    world: "privacy-guard",
});

#[cfg(target_arch = "wasm32")]
export!(Hostile);

use exports::privacy_guard::consent::{
    configuration, deduplication, jobs, preferences, records, sending, subjects, tracking,
};
use privacy_guard::consent::{log, mail, store, types};

struct Hostile;

/// Calls this instance has answered.
static CALLS: AtomicU32 = AtomicU32::new(0);

const MIB: usize = 1 << 20;

fn misbehave(how: &str, recipients: usize) -> Vec<sending::Decision> {
    match how {
        "loop" => loop {
            std::hint::black_box(CALLS.load(Ordering::Relaxed));
        },
        "alloc" => {
            let mut held: Vec<Vec<u8>> = Vec::new();
            loop {
                held.push(vec![1; MIB]);
                std::hint::black_box(&held);
            }
        }
        "hold" => {
            // The cap is 64 MiB in the containment test.
            let held = vec![1u8; 48 * MIB];
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(300) {
                std::hint::black_box(&held);
            }
            panic!("the hostile plugin held its memory, then trapped")
        }
        "trap" => panic!("the hostile plugin traps on request"),
        "store-flood" => {
            let value = vec![7; MIB];
            for index in 0.. {
                store::put(&format!("flood/{index}"), &value);
            }
            unreachable!("the host stops a store flood")
        }
        "event-flood" => {
            let payload = "e".repeat(1024);
            loop {
                store::append_event("flood", &payload);
            }
        }
        "mail-flood" => {
            let body = "m".repeat(64 << 10);
            for index in 0.. {
                let message = mail::Message {
                    message_id: format!("flood-{index}@hostile.test"),
                    sender: mail::Mailbox {
                        address: "hostile@hostile.test".into(),
                        name: None,
                    },
                    to: vec![mail::Mailbox {
                        address: "victim@hostile.test".into(),
                        name: None,
                    }],
                    subject: "flood".into(),
                    text_body: body.clone(),
                    html_body: None,
                    headers: Vec::new(),
                };
                let _refused = mail::send(&message);
            }
            unreachable!("the host stops a mail flood")
        }
        "log-storm" => {
            let line = "w".repeat(64 << 10);
            loop {
                log::log(types::LogLevel::Warn, &line, &[]);
            }
        }
        "too-few" => Vec::new(),
        "too-many" => answer(recipients + 1),
        _ => answer(recipients),
    }
}

fn answer(count: usize) -> Vec<sending::Decision> {
    let call = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    (0..count)
        .map(|_| {
            sending::Decision::Refuse(sending::Refusal {
                reason: sending::RefusalReason::UnknownRecipient,
                detail: format!("call {call} of this instance"),
            })
        })
        .collect()
}

fn only_check_send() -> ! {
    panic!("the hostile plugin answers sending.check-send only")
}

impl sending::Guest for Hostile {
    fn check_send(
        _request: sending::SendRequest,
        recipients: Vec<sending::Recipient>,
    ) -> Vec<sending::Decision> {
        let how = recipients
            .first()
            .and_then(|recipient| recipient.address.split_once('@'))
            .map(|(local, _)| local.to_owned())
            .unwrap_or_default();
        misbehave(&how, recipients.len())
    }

    fn render(
        _request: sending::SendRequest,
        _mail: sending::MailContent,
        _recipients: Vec<sending::Recipient>,
    ) -> Vec<sending::Rendering> {
        only_check_send()
    }
}

impl configuration::Guest for Hostile {
    fn set_settings(_settings: configuration::Settings) -> Result<(), Vec<configuration::Problem>> {
        only_check_send()
    }
    fn put_consent(
        _definition: configuration::ConsentDefinition,
    ) -> Result<configuration::StoredDefinition, Vec<configuration::Problem>> {
        only_check_send()
    }
    fn revise_consent(
        _definition: configuration::ConsentDefinition,
        _change: configuration::PurposeChange,
    ) -> Result<configuration::StoredDefinition, Vec<configuration::Problem>> {
        only_check_send()
    }
    fn delete_consent(
        _id: String,
    ) -> Result<configuration::StoredDefinition, configuration::Problem> {
        only_check_send()
    }
    fn enable(_deduplication_confirmed: bool) -> Result<(), Vec<configuration::Prerequisite>> {
        only_check_send()
    }
    fn get() -> configuration::Snapshot {
        only_check_send()
    }
    fn classify_field(
        _module: String,
        _class: configuration::FieldClass,
    ) -> Result<(), Vec<configuration::Problem>> {
        only_check_send()
    }
    fn field_classes(_module: String) -> Vec<configuration::FieldClass> {
        only_check_send()
    }
    fn suggested_data_consents(_module: String) -> Vec<String> {
        only_check_send()
    }
}

impl records::Guest for Hostile {
    fn records_changed(_records: Vec<records::PersonRecord>) -> records::ChangeSummary {
        only_check_send()
    }
    fn check_edit(
        _reference: records::RecordRef,
        _changes: Vec<records::Field>,
    ) -> Vec<records::EditRefusal> {
        only_check_send()
    }
}

impl tracking::Guest for Hostile {
    fn accept_tracking_event(_kind: tracking::TrackingKind, _address: String) -> bool {
        only_check_send()
    }
}

impl deduplication::Guest for Hostile {
    fn preview() -> deduplication::Plan {
        only_check_send()
    }
    fn apply() -> deduplication::Report {
        only_check_send()
    }
}

impl jobs::Guest for Hostile {
    fn daily_consent_run(
        _period: String,
        _cursor: Option<String>,
        _limit: u32,
    ) -> Result<jobs::RunPage, jobs::JobError> {
        only_check_send()
    }
}

impl preferences::Guest for Hostile {
    fn open(_token: String) -> Result<preferences::Page, preferences::LinkError> {
        only_check_send()
    }
    fn submit(
        _token: String,
        _choices: Vec<preferences::Choice>,
        _evidence: preferences::Evidence,
    ) -> Result<preferences::Page, preferences::SubmitError> {
        only_check_send()
    }
    fn stop_processing(
        _token: String,
        _evidence: preferences::Evidence,
    ) -> Result<preferences::Page, preferences::SubmitError> {
        only_check_send()
    }
    fn erase(
        _token: String,
        _evidence: preferences::Evidence,
    ) -> Result<(), preferences::SubmitError> {
        only_check_send()
    }
}

impl subjects::Guest for Hostile {
    fn get(_person: subjects::RecordRef) -> Option<subjects::SubjectView> {
        only_check_send()
    }
    fn history(_person: subjects::RecordRef) -> Vec<String> {
        only_check_send()
    }
    fn record_decision(
        _person: subjects::RecordRef,
        _consent_id: String,
        _grant: bool,
        _actor: subjects::StaffActor,
        _evidence: String,
    ) -> Result<subjects::SubjectView, subjects::RecordError> {
        only_check_send()
    }
    fn restrict(
        _person: subjects::RecordRef,
        _actor: subjects::StaffActor,
        _evidence: String,
    ) -> Result<subjects::SubjectView, subjects::RecordError> {
        only_check_send()
    }
    fn lift_restriction(
        _person: subjects::RecordRef,
        _actor: subjects::StaffActor,
        _reason: String,
    ) -> Result<subjects::SubjectView, subjects::RecordError> {
        only_check_send()
    }
    fn preferences_link(_person: subjects::RecordRef) -> Result<String, subjects::RecordError> {
        only_check_send()
    }
    fn ask_again(
        _person: subjects::RecordRef,
        _actor: subjects::StaffActor,
    ) -> Result<bool, subjects::RecordError> {
        only_check_send()
    }
    fn erase(
        _person: subjects::RecordRef,
        _actor: subjects::StaffActor,
        _evidence: String,
    ) -> Result<subjects::ErasureReport, subjects::RecordError> {
        only_check_send()
    }
}
