//! The contract evolves without breaking anyone: a component built against the frozen copy
//! of the previous released contract (`wit/released/0.3.0`) loads in this host, which
//! speaks the current one, and is served by the current implementation of the imports;
//! as a signed package too. The packed pre-send check a 0.3.2 component offers
//! (`sending-packed`) decides exactly as `sending.check-send`, which components without it
//! are still asked.

use std::path::PathBuf;

use privacy_guard_host::contract::CONTRACT;
use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::{ComponentSource, Guard, ImportedRecord};
use privacy_guard_host::package::trust::generate_signing_key;
use privacy_guard_host::package::{self, ComponentInterface, TrustStore};
use privacy_guard_tests::{TestHost, configure, operator};

const FROZEN: &str = env!("PRIVACY_GUARD_FROZEN_0_3_0_COMPONENT");

/// The guest's ordinary answer: which call of its instance it is.
fn ordinary_answer(guard: &Guard) -> String {
    let decisions = guard.check_send(
        &SendRequest {
            class: MessageClass::AdHoc,
            purpose: None,
        },
        &[Recipient {
            address: "ordinary@example.com".into(),
            role: RecipientRole::To,
            person: None,
        }],
    );
    match decisions.as_slice() {
        [Decision::Refuse(refusal)] if refusal.reason == RefusalReason::UnknownRecipient => {
            refusal.detail.clone()
        }
        other => panic!("the guest answers as it was built to, not {other:?}"),
    }
}

#[test]
fn a_component_built_against_the_previous_contract_is_what_it_says_it_is() {
    assert_ne!(
        CONTRACT, "privacy-guard:consent@0.3.0",
        "the host speaks a later contract than the frozen one"
    );
    let interface = ComponentInterface::read(&std::fs::read(FROZEN).expect("the frozen guest"))
        .expect("a component");
    assert_eq!(interface.contracts(), vec!["privacy-guard:consent@0.3.0"]);
    assert!(
        interface
            .imports
            .contains(&"privacy-guard:consent/log@0.3.0".to_owned()),
        "{interface:?}"
    );
    assert!(interface.missing_exports().is_empty(), "{interface:?}");
}

#[test]
fn the_host_loads_a_component_of_the_previous_contract_and_serves_it() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host
        .open_with(|options| options.component = ComponentSource::File(PathBuf::from(FROZEN)))
        .expect("the host loads the 0.3.0 guest");
    assert_eq!(ordinary_answer(&guard), "call 1 of this instance");
    assert_eq!(ordinary_answer(&guard), "call 2 of this instance");
}

#[test]
fn a_signed_package_of_the_previous_contract_is_verified_and_loads() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let key = generate_signing_key();
    let trust = TrustStore::parse(&TrustStore::entry("Privacy Guard", &key.verifying_key()))
        .expect("trust store");
    let component = std::fs::read(FROZEN).expect("the frozen guest");
    let manifest = package::manifest_for(&component, "privacy-guard", "0.9.0", "^0.1", &key)
        .expect("the guest can be packaged");
    assert_eq!(manifest.contract, "privacy-guard:consent@0.3.0");
    let path = host.folder.path().join("previous.pgpkg");
    std::fs::write(&path, package::write(&manifest, &component, Some(&key))).expect("write");
    let guard = host
        .open_with(|options| options.component = ComponentSource::Package { path, trust })
        .expect("a package of the previous contract is verified and loads");
    assert_eq!(ordinary_answer(&guard), "call 1 of this instance");
}

#[test]
fn the_embedded_component_offers_the_packed_pre_send_check() {
    let interface = ComponentInterface::read(privacy_guard_host::EMBEDDED_COMPONENT)
        .expect("the embedded component");
    let (package, version) = CONTRACT.split_once('@').expect("a versioned contract");
    assert!(
        interface
            .exports
            .contains(&format!("{package}/sending-packed@{version}")),
        "{interface:?}"
    );
}

fn contact(id: &str) -> RecordRef {
    RecordRef {
        module: "contacts".into(),
        id: id.into(),
    }
}

#[test]
fn the_packed_pre_send_check_decides_every_recipient_as_check_send_does() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    configure(&guard, "http://127.0.0.1:9/preferences/");
    let records = (1..=6)
        .map(|index| ImportedRecord {
            id: None,
            fields: vec![
                ("firstname".into(), format!("Person {index}")),
                ("email".into(), format!("person-{index}@example.com")),
            ],
            status: None,
            modified_at: None,
        })
        .collect();
    guard
        .import_records("contacts", records, &|_| {})
        .expect("import");
    for (id, grant) in [("2", true), ("3", false)] {
        guard
            .record_decision(&contact(id), "email-marketing", grant, &operator(), "test")
            .expect("call")
            .expect("recorded");
    }
    guard
        .restrict(&contact("4"), &operator(), "Letter of 1 December 2026")
        .expect("call")
        .expect("restricted");
    // An erasure salts the suppression markers: unknown recipients are looked up too.
    guard
        .erase(&contact("5"), &operator(), "Letter of 1 December 2026")
        .expect("call")
        .expect("erased");

    let addresses = [
        "person-1@example.com",
        "  Person-2@Example.COM ",
        "person-3@example.com",
        "person-4@example.com",
        "person-5@example.com",
        "person-6@example.com",
        "stranger@example.net",
        "zoë@exämple.com",
        "not an address",
        "",
        "person-1@example.com",
    ];
    let mut recipients = Vec::new();
    for role in [RecipientRole::To, RecipientRole::Cc, RecipientRole::Bcc] {
        for (index, address) in addresses.iter().enumerate() {
            // Some recipients name a record: the erased one, a live one, one unknown.
            let person = match index % 4 {
                0 => Some(contact("5")),
                1 => Some(contact(&(index % 7).to_string())),
                2 => Some(contact("999")),
                _ => None,
            };
            recipients.push(Recipient {
                address: (*address).to_owned(),
                role,
                person,
            });
        }
    }
    let requests = [
        (MessageClass::Marketing, Some("email-marketing")),
        (MessageClass::Marketing, None),
        (MessageClass::Marketing, Some("no-such-consent")),
        (MessageClass::Workflow, Some("email-marketing")),
        (MessageClass::Workflow, None),
        (MessageClass::AdHoc, None),
        (MessageClass::Transactional, None),
    ];
    for (class, purpose) in requests {
        let request = SendRequest {
            class,
            purpose: purpose.map(str::to_owned),
        };
        let packed = guard.check_send(&request, &recipients);
        let unpacked = guard.check_send_unpacked(&request, &recipients);
        assert_eq!(packed, unpacked, "{request:?}");
        assert!(
            packed.iter().all(|decision| !matches!(decision,
                Decision::Refuse(refusal) if refusal.reason == RefusalReason::PluginFault)),
            "{request:?}: {packed:?}"
        );
        // Every batch size the same, down to none and one (small batches are asked
        // `check-send`, from 16 recipients on the packed check).
        for size in [0, 1, 2, 15, 16, 17] {
            assert_eq!(
                guard.check_send(&request, &recipients[..size]),
                unpacked[..size],
                "{request:?}, {size} recipients"
            );
        }
    }
    // The batch is varied enough to mean something: several kinds of answer.
    let marketing = guard.check_send(
        &SendRequest {
            class: MessageClass::Marketing,
            purpose: Some("email-marketing".into()),
        },
        &recipients,
    );
    let mut reasons: Vec<String> = marketing
        .iter()
        .map(|decision| match decision {
            Decision::Allow(_) => "allow".to_owned(),
            Decision::Refuse(refusal) => format!("{:?}", refusal.reason),
        })
        .collect();
    reasons.sort();
    reasons.dedup();
    assert!(reasons.len() >= 7, "{reasons:?}");
}
