//! The contract evolves without breaking anyone: a component built against the frozen copy
//! of the previous released contract (`wit/released/0.3.0`) loads in this host, which
//! speaks the current one, and is served by the current implementation of the imports;
//! as a signed package too.

use std::path::PathBuf;

use privacy_guard_host::contract::CONTRACT;
use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
};
use privacy_guard_host::guard::{ComponentSource, Guard};
use privacy_guard_host::package::trust::generate_signing_key;
use privacy_guard_host::package::{self, ComponentInterface, TrustStore};
use privacy_guard_tests::TestHost;

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
