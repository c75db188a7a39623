//! State survives an upgrade: the database a released host left (real bytes, written by
//! that release's own binary: `tests/fixtures/upgrade/make.sh` says how) opens in today's
//! host, which migrates the schema, reads every stored format of the plugin (configuration,
//! people, records, suppression markers, events) and keeps every promise the release made
//! to the people in it: answers given, a refusal, a restriction, an erasure, a link mailed.
//!
//! The fixtures are SQLite files; they run whatever backend the suite is on, since what is
//! upgraded is the plugin's stored formats (the same bytes on PostgreSQL) and the schema
//! (the same migrations, held equal between the backends by `storage_backends.rs`).

use std::path::{Path, PathBuf};

use privacy_guard_host::contract::CONTRACT;
use privacy_guard_host::contract::configuration::{ConfirmationPolicy, ConsentKind, IpPolicy};
use privacy_guard_host::contract::preferences::{Choice, Evidence};
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MessageClass, RecipientRole, RefusalReason,
};
use privacy_guard_host::contract::subjects::PersonStatus;
use privacy_guard_host::contract::types::{ConsentValue, RecordRef};
use privacy_guard_host::guard::{ComponentSource, Guard};
use privacy_guard_host::settings::SettingsPatch;
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::scenario::{basis_of, block_on, contact, decide_for, lead, refusal_of};
use privacy_guard_tests::{TestDatabase, TestHost, read_outbox};

/// The releases whose databases today's host must open, by folder under
/// `tests/fixtures/upgrade/`: the configuration format each wrote, and which changes it
/// confirmed by mail (the first release sent no confirmations; an upgrade keeps that).
const RELEASES: [(&str, u8, ConfirmationPolicy); 3] = [
    ("2026-11-29-e9a9756", 4, ConfirmationPolicy::Never),
    ("2026-11-29-033b898", 5, ConfirmationPolicy::OwnChanges),
    // The last release of contract 0.3.0 (issue 10): its component's state is read by the
    // component of 0.3.1.
    ("2026-12-01-69803fb", 8, ConfirmationPolicy::OwnChanges),
];

/// The configuration format today's plugin writes.
const CONFIG_FORMAT: u8 = 8;

fn fixture(release: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/upgrade")
        .join(release)
}

/// A host of today on a copy of the release's database, the day after the release's story.
fn open_release(release: &str) -> (TestHost, Guard) {
    let mut host = TestHost::new("2026-12-01T09:00:00Z");
    let path = host.folder.path().join("privacy-guard.db");
    std::fs::copy(fixture(release).join("privacy-guard.db"), &path)
        .unwrap_or_else(|error| panic!("{release}: copying the fixture: {error}"));
    host.database = TestDatabase::Sqlite { path };
    let guard = host
        .open()
        .unwrap_or_else(|error| panic!("{release}: today's host opens the database: {error:#}"));
    (host, guard)
}

/// The first byte of the stored configuration: its format.
fn stored_config_format(host: &TestHost) -> u8 {
    block_on(async {
        let mut connection = host.database.connect_directly().await.expect("connect");
        let value: Vec<u8> = sqlx::query_scalar("SELECT value FROM plugin_kv WHERE key = 'config'")
            .fetch_one(&mut connection)
            .await
            .expect("the configuration is stored");
        value[0]
    })
}

fn marketing(guard: &Guard, address: &str) -> Decision {
    decide_for(
        guard,
        MessageClass::Marketing,
        Some("news"),
        address,
        RecipientRole::To,
    )
}

fn value_of(guard: &Guard, person: &RecordRef, consent: &str) -> ConsentValue {
    guard
        .subject(person)
        .expect("subject")
        .unwrap_or_else(|| panic!("{}/{} is known", person.module, person.id))
        .consents
        .into_iter()
        .find(|state| state.consent_id == consent)
        .map_or(ConsentValue::NotApplicable, |state| state.value)
}

#[test]
fn every_release_database_opens_in_todays_host_with_its_promises_kept() {
    for (release, format, confirmations) in RELEASES {
        let (host, guard) = open_release(release);
        assert_eq!(
            stored_config_format(&host),
            format,
            "{release}: the fixture holds the release's own configuration format"
        );

        // The configuration as the release left it.
        let configuration = guard.configuration().expect("configuration");
        let settings = configuration.settings.expect("settings");
        assert_eq!(settings.organisation, "Example Ltd", "{release}");
        assert_eq!(settings.retained_fields, ["name"], "{release}");
        assert_eq!(settings.confirm_changes, confirmations, "{release}");
        assert_eq!(settings.ip_evidence, IpPolicy::Truncate, "{release}");
        assert!(configuration.enabled, "{release}");
        assert_eq!(
            configuration.person_modules,
            ["contacts", "leads"],
            "{release}"
        );
        let kinds: Vec<(String, ConsentKind)> = configuration
            .consents
            .iter()
            .map(|stored| (stored.definition.id.clone(), stored.definition.kind.clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("news".to_owned(), ConsentKind::Custom),
                ("phone".to_owned(), ConsentKind::Data("phone".into()))
            ],
            "{release}"
        );

        // Every answer and status the release recorded still decides the sends.
        assert_eq!(
            basis_of(&marketing(&guard, "ada@example.com")),
            Some(LawfulBasis::Consent),
            "{release}: Ada granted news"
        );
        assert_eq!(
            refusal_of(&marketing(&guard, "grace@example.com")),
            Some(RefusalReason::ConsentRefused),
            "{release}: Grace refused news"
        );
        assert_eq!(
            refusal_of(&marketing(&guard, "linus@example.com")),
            Some(RefusalReason::ConsentPending),
            "{release}: Linus was asked"
        );
        assert_eq!(
            refusal_of(&marketing(&guard, "alan@example.com")),
            Some(RefusalReason::ProcessingRestricted),
            "{release}: Alan is restricted"
        );
        assert_eq!(
            refusal_of(&marketing(&guard, "mary@example.com")),
            Some(RefusalReason::Erased),
            "{release}: Mary was erased"
        );
        for class in [MessageClass::AdHoc, MessageClass::Workflow] {
            assert_eq!(
                refusal_of(&decide_for(
                    &guard,
                    class,
                    None,
                    "mary@example.com",
                    RecipientRole::To
                )),
                Some(RefusalReason::Erased),
                "{release}: no mail of any class reaches an erased address"
            );
        }
        assert_eq!(
            basis_of(&decide_for(
                &guard,
                MessageClass::Transactional,
                None,
                "alan@example.com",
                RecipientRole::To
            )),
            Some(LawfulBasis::LegalObligation),
            "{release}"
        );

        // People, records and their encrypted field as they were.
        let ada = guard.subject(&contact("1")).expect("subject").expect("Ada");
        assert_eq!(ada.status, PersonStatus::Active, "{release}");
        assert_eq!(
            value_of(&guard, &contact("1"), "news"),
            ConsentValue::Granted,
            "{release}"
        );
        let ada_record = guard
            .record("contacts", "1")
            .expect("record")
            .expect("Ada's record");
        assert_eq!(
            ada_record.field("phone"),
            "+44 20 1111111",
            "{release}: the encrypted field decrypts"
        );
        let lead = guard
            .subject(&lead("1"))
            .expect("subject")
            .expect("the lead");
        assert_eq!(lead.status, PersonStatus::Duplicate, "{release}");
        let mary = guard
            .record("contacts", "4")
            .expect("record")
            .expect("Mary's record");
        assert_eq!(
            mary.field("email"),
            "",
            "{release}: Mary's address stays erased"
        );
        assert_eq!(
            mary.field("name"),
            "Mary Somerville",
            "{release}: a retained field stays"
        );
        let history = guard.history(&contact("1")).expect("history");
        assert!(
            history.iter().any(|event| event.contains("granted")),
            "{release}: the release's events read: {history:?}"
        );
        let LedgerCheck::Intact { events } = guard.verify_ledger().expect("check") else {
            panic!("{release}: the release's event log is intact");
        };

        // The link the release mailed Linus still opens his page, and his answer counts.
        let mails = read_outbox(&fixture(release).join("outbox"));
        let link = mails
            .iter()
            .find(|mail| mail.to.iter().any(|to| to == "linus@example.com"))
            .and_then(|mail| mail.link("http://127.0.0.1:9/preferences/"))
            .unwrap_or_else(|| panic!("{release}: Linus's request mail carries his link"));
        let token = link.trim_start_matches("http://127.0.0.1:9/preferences/");
        let page = guard
            .open_preferences(token)
            .expect("call")
            .unwrap_or_else(|error| panic!("{release}: the mailed link opens: {error:?}"));
        assert!(
            page.consents.iter().any(|consent| consent.id == "news"),
            "{release}"
        );
        guard
            .submit_preferences(
                token,
                &[Choice {
                    consent_id: "news".into(),
                    grant: true,
                }],
                &Evidence {
                    ip: Some("192.0.2.10".into()),
                    user_agent: Some("upgrade test".into()),
                },
            )
            .expect("call")
            .unwrap_or_else(|error| panic!("{release}: Linus answers: {error:?}"));
        assert_eq!(
            basis_of(&marketing(&guard, "linus@example.com")),
            Some(LawfulBasis::Consent),
            "{release}"
        );

        // Today's host writes on: the next change stores today's format, the chain goes on
        // from the release's last event, and the next daily run runs.
        guard
            .change_settings(SettingsPatch {
                flag_new_duplicates: Some(true),
                ..SettingsPatch::default()
            })
            .expect("call")
            .expect("saved");
        assert_eq!(stored_config_format(&host), CONFIG_FORMAT, "{release}");
        let report = guard
            .run_daily("2026-12-01", &|_| {})
            .expect("the next daily run");
        assert!(report.ran, "{release}");
        let LedgerCheck::Intact { events: now } = guard.verify_ledger().expect("check") else {
            panic!("{release}: the chain goes on intact");
        };
        assert!(now > events, "{release}: new events were chained on");
        drop(guard);

        // And the upgraded database opens again.
        let guard = host.open().expect("re-opens");
        assert_eq!(
            basis_of(&marketing(&guard, "ada@example.com")),
            Some(LawfulBasis::Consent),
            "{release}"
        );
    }
}

/// A vendor who installs a plugin built for another contract (here: a component that
/// implements nothing of it) gets an error naming the contract this host speaks, not a
/// host that runs without its rules.
#[test]
fn a_component_of_another_contract_is_refused_naming_the_contract_the_host_speaks() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let component = host.folder.path().join("other.wasm");
    // The smallest valid component: the magic number and the component layer's version.
    std::fs::write(&component, b"\0asm\x0d\x00\x01\x00").expect("write");
    let error = host
        .open_with(|options| options.component = ComponentSource::File(component))
        .err()
        .map(|error| format!("{error:#}"))
        .expect("the host refuses the component");
    assert!(
        error.contains(&format!("does not implement {CONTRACT}")),
        "{error}"
    );
}
