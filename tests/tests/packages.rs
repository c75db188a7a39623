//! Signed packages in the real host: a package verified against the trust store loads and
//! answers; every kind of bad package is refused with its own error before anything is
//! compiled (the host's cache of compiled components stays empty).

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use privacy_guard_host::contract::sending::{
    Decision, MessageClass, Recipient, RecipientRole, SendRequest,
};
use privacy_guard_host::guard::{ComponentSource, GuardError};
use privacy_guard_host::package::trust::generate_signing_key;
use privacy_guard_host::package::{self, Manifest, PackageError, TrustStore};
use privacy_guard_host::runtime::LoadError;
use privacy_guard_host::{EMBEDDED_COMPONENT, contract::CONTRACT};
use privacy_guard_tests::TestHost;

/// `privacy-guard:consent/<interface>@<the host's contract version>`.
fn at_contract(interface: &str) -> String {
    let (package, version) = CONTRACT.split_once('@').expect("a versioned contract");
    format!("{package}/{interface}@{version}")
}

struct Publisher {
    key: SigningKey,
    trust: TrustStore,
}

fn publisher() -> Publisher {
    let key = generate_signing_key();
    let trust = TrustStore::parse(&TrustStore::entry("Privacy Guard", &key.verifying_key()))
        .expect("the entry keygen prints is a trust store");
    Publisher { key, trust }
}

fn manifest(publisher: &Publisher) -> Manifest {
    package::manifest_for(
        EMBEDDED_COMPONENT,
        "privacy-guard",
        "0.1.0",
        "^0.1",
        &publisher.key,
    )
    .expect("the embedded component can be packaged")
}

/// Opens a host on the package `bytes`; the refusal if it is refused.
fn open(host: &TestHost, bytes: &[u8], trust: &TrustStore) -> Result<(), PackageError> {
    let path: PathBuf = host.folder.path().join("plugin.pgpkg");
    std::fs::write(&path, bytes).expect("write the package");
    let trust = trust.clone();
    match host.open_with(|options| options.component = ComponentSource::Package { path, trust }) {
        Ok(guard) => {
            // It is the plugin, and it works: ad-hoc mail to a stranger is allowed.
            let decisions = guard.check_send(
                &SendRequest {
                    class: MessageClass::AdHoc,
                    purpose: None,
                },
                &[Recipient {
                    address: "ada@example.com".into(),
                    role: RecipientRole::To,
                    person: None,
                }],
            );
            assert!(matches!(decisions[0], Decision::Allow(_)), "{decisions:?}");
            Ok(())
        }
        Err(error) => match error.downcast::<GuardError>() {
            Ok(GuardError::Load(LoadError::Package { source, .. })) => {
                let cache = host.folder.path().join("cache");
                let compiled = std::fs::read_dir(&cache).map_or(0, |entries| entries.count());
                assert_eq!(compiled, 0, "nothing was compiled before the refusal");
                Err(source)
            }
            Ok(other) => panic!("refused for another reason: {other}"),
            Err(other) => panic!("refused for another reason: {other:#}"),
        },
    }
}

#[test]
fn a_signed_package_from_a_trusted_publisher_loads_and_answers() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let publisher = publisher();
    let manifest = manifest(&publisher);
    assert_eq!(manifest.contract, CONTRACT);
    assert!(manifest.capabilities.contains(&at_contract("store")));
    let bytes = package::write(&manifest, EMBEDDED_COMPONENT, Some(&publisher.key));
    assert_eq!(open(&host, &bytes, &publisher.trust), Ok(()));
}

#[test]
fn an_unsigned_package_or_one_signed_by_an_unknown_key_is_refused() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let publisher = publisher();
    let unsigned = package::write(&manifest(&publisher), EMBEDDED_COMPONENT, None);
    assert_eq!(
        open(&host, &unsigned, &publisher.trust),
        Err(PackageError::Unsigned)
    );

    let stranger = self::publisher();
    let theirs = package::write(
        &manifest(&stranger),
        EMBEDDED_COMPONENT,
        Some(&stranger.key),
    );
    let refusal = open(&host, &theirs, &publisher.trust).unwrap_err();
    assert!(
        matches!(&refusal, PackageError::UntrustedKey { key_id } if *key_id == manifest(&stranger).publisher_key_id),
        "{refusal}"
    );
    assert_eq!(refusal.kind(), "untrusted-key");

    // A manifest naming the trusted key but signed with another one.
    let forged = package::write(
        &manifest(&publisher),
        EMBEDDED_COMPONENT,
        Some(&stranger.key),
    );
    assert!(matches!(
        open(&host, &forged, &publisher.trust),
        Err(PackageError::BadSignature { .. })
    ));
}

#[test]
fn a_package_changed_after_signing_is_refused() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let publisher = publisher();
    let signed = package::write(
        &manifest(&publisher),
        EMBEDDED_COMPONENT,
        Some(&publisher.key),
    );

    // The manifest edited in the archive (a version raised), the signature kept.
    let text = String::from_utf8_lossy(&signed);
    let at = text
        .find("\"version\": \"0.1.0\"")
        .expect("the manifest is in the archive as text");
    let mut tampered = signed.clone();
    tampered[at + 15] = b'9';
    let refusal = open(&host, &tampered, &publisher.trust).unwrap_err();
    assert!(
        matches!(refusal, PackageError::BadSignature { .. }),
        "{refusal}"
    );

    // The component changed, the signed manifest kept.
    let mut component = EMBEDDED_COMPONENT.to_vec();
    let middle = component.len() / 2;
    component[middle] ^= 0xff;
    let swapped = package::write(&manifest(&publisher), &component, Some(&publisher.key));
    let refusal = open(&host, &swapped, &publisher.trust).unwrap_err();
    assert!(
        matches!(refusal, PackageError::HashMismatch { .. }),
        "{refusal}"
    );
    assert_eq!(refusal.kind(), "hash-mismatch");

    // Not an archive at all.
    assert!(matches!(
        open(&host, b"MZ this is no package", &publisher.trust),
        Err(PackageError::Malformed(_))
    ));
}

#[test]
fn a_package_asking_for_more_than_it_declares_or_than_the_host_grants_is_refused() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let publisher = publisher();

    // The component imports the store, its manifest keeps quiet about it.
    let mut quiet = manifest(&publisher);
    quiet
        .capabilities
        .retain(|capability| *capability != at_contract("store"));
    let bytes = package::write(&quiet, EMBEDDED_COMPONENT, Some(&publisher.key));
    assert_eq!(
        open(&host, &bytes, &publisher.trust),
        Err(PackageError::UndeclaredImports(vec![at_contract("store")]))
    );

    // The manifest asks for the network and the file system.
    let mut greedy = manifest(&publisher);
    greedy.capabilities.push("wasi:sockets/tcp@0.2.6".into());
    greedy
        .capabilities
        .push("wasi:filesystem/preopens@0.2.6".into());
    let bytes = package::write(&greedy, EMBEDDED_COMPONENT, Some(&publisher.key));
    let refusal = open(&host, &bytes, &publisher.trust).unwrap_err();
    assert_eq!(
        refusal,
        PackageError::NotGranted(vec![
            "wasi:sockets/tcp@0.2.6".to_owned(),
            "wasi:filesystem/preopens@0.2.6".to_owned()
        ])
    );
    assert_eq!(refusal.kind(), "not-granted");
}

#[test]
fn a_package_of_another_world_or_for_other_hosts_is_refused() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let publisher = publisher();

    // A component that exports nothing of the world, under a correctly signed manifest.
    let empty = b"\0asm\x0d\x00\x01\x00";
    let mut manifest_of_empty = manifest(&publisher);
    manifest_of_empty.component.sha256 = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(empty))
    };
    manifest_of_empty.component.size = empty.len() as u64;
    manifest_of_empty.capabilities.clear();
    let bytes = package::write(&manifest_of_empty, empty, Some(&publisher.key));
    let refusal = open(&host, &bytes, &publisher.trust).unwrap_err();
    let PackageError::WrongWorld { missing, .. } = &refusal else {
        panic!("{refusal}")
    };
    assert_eq!(missing.len(), 8, "{refusal}");
    assert!(
        refusal.to_string().contains(&at_contract("sending")),
        "{refusal}"
    );

    // A manifest claiming another contract.
    let mut older = manifest(&publisher);
    older.contract = "privacy-guard:consent@0.2.0".into();
    let bytes = package::write(&older, EMBEDDED_COMPONENT, Some(&publisher.key));
    assert!(matches!(
        open(&host, &bytes, &publisher.trust),
        Err(PackageError::WrongWorld { .. })
    ));

    // A package for hosts to come.
    let mut future = manifest(&publisher);
    future.hosts = ">=2.0".into();
    let bytes = package::write(&future, EMBEDDED_COMPONENT, Some(&publisher.key));
    assert_eq!(
        open(&host, &bytes, &publisher.trust),
        Err(PackageError::UnsupportedHost {
            requirement: ">=2.0".into(),
            host: env!("CARGO_PKG_VERSION").into()
        })
    );
}
