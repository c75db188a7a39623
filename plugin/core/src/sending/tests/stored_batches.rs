//! The batch over stored bytes: decisions read from the encoded configuration and
//! snapshots (as the component reads them) in recipient order, and a corrupt or short
//! batch an error, never an allowance.

use super::*;

fn stored_configuration(enabled: bool) -> Vec<u8> {
    let mut configuration = Configuration::default();
    configuration.set_settings(settings_input()).unwrap();
    configuration
        .put_consent(
            definition_input("newsletter", "contacts", ConsentKind::Custom),
            None,
        )
        .unwrap();
    configuration
        .put_consent(
            definition_input("tracking", "contacts", ConsentKind::EmailTracking),
            None,
        )
        .unwrap();
    configuration
        .put_consent(
            definition_input("lead-news", "leads", ConsentKind::Custom),
            None,
        )
        .unwrap();
    if enabled {
        configuration.enable(true, 1).unwrap();
    }
    encode_configuration(&configuration).unwrap()
}

fn stored_person(module: Module, states: &[(&str, ConsentValue, ConsentDefault)]) -> Vec<u8> {
    let mut snapshot = PersonSnapshot::new(RecordRef::new(module, "1"), "Ada".to_owned());
    snapshot.consents = states
        .iter()
        .map(|(id, value, default)| ConsentState {
            consent: ConsentId::parse(id).unwrap(),
            value: *value,
            since: 1,
            purpose_version: 1,
            default: *default,
        })
        .collect();
    snapshot.consents.sort_by(|a, b| a.consent.cmp(&b.consent));
    encode_person(&snapshot).unwrap()
}

fn recipient(address: &str, role: RecipientRole) -> Recipient<'_> {
    Recipient { address, role }
}

#[test]
fn a_batch_is_decided_from_stored_bytes_in_recipient_order() {
    use RefusalReason as R;
    let config = stored_configuration(true);
    let policy = SendingPolicy::decode(Some(&config)).unwrap();
    let request = SendRequest {
        class: Marketing,
        purpose: Some("newsletter".to_owned()),
    };
    let granted_tracked = stored_person(
        Module::Contacts,
        &[("newsletter", Granted, No), ("tracking", Granted, No)],
    );
    let granted = stored_person(Module::Contacts, &[("newsletter", Granted, No)]);
    let lead = stored_person(Module::Leads, &[("lead-news", Granted, No)]);
    let recipients = [
        recipient("ada@example.org", To),
        recipient("bob@example.org", Cc),
        recipient("not an address", To),
        recipient("eve@example.org", To),
        recipient("lee@example.org", To),
    ];
    assert_eq!(
        person_keys(&recipients),
        [
            "person/ada@example.org",
            "person/bob@example.org",
            "person/not an address",
            "person/eve@example.org",
            "person/lee@example.org"
        ]
    );
    let snapshots = [
        Some(granted_tracked.as_slice()),
        Some(granted.as_slice()),
        None,
        None,
        Some(lead.as_slice()),
    ];
    let decisions = decide_batch(
        &policy,
        &request,
        &recipients,
        &snapshots,
        &ErasureFacts::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(
        decisions,
        [
            allow(Consent, true, false),
            refuse(R::NotAToRecipient),
            refuse(R::InvalidAddress),
            refuse(R::UnknownRecipient),
            refuse(R::ConsentNotApplicable),
        ]
    );
}

#[test]
fn nothing_configured_refuses_marketing_and_allows_ad_hoc_mail() {
    let policy = SendingPolicy::decode(None).unwrap();
    let recipients = [recipient("ada@example.org", To)];
    let cases = [
        (Marketing, refuse(RefusalReason::ConsentsNotEnabled)),
        (AdHoc, allow(LegitimateInterests, false, true)),
    ];
    for (class, expected) in cases {
        let request = SendRequest {
            class,
            purpose: Some("newsletter".to_owned()),
        };
        let decided = decide_batch::<Vec<u8>>(
            &policy,
            &request,
            &recipients,
            &[None],
            &ErasureFacts::default(),
            NOW,
        )
        .unwrap();
        assert_eq!(decided, [expected], "{class:?}");
    }
    let disabled = stored_configuration(false);
    let policy = SendingPolicy::decode(Some(&disabled)).unwrap();
    let request = SendRequest {
        class: Marketing,
        purpose: Some("newsletter".to_owned()),
    };
    let decided = decide_batch::<Vec<u8>>(
        &policy,
        &request,
        &recipients,
        &[None],
        &ErasureFacts::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(decided, [refuse(RefusalReason::ConsentsNotEnabled)]);
}

#[test]
fn a_corrupt_snapshot_or_a_short_batch_is_an_error_never_an_allowance() {
    let config = stored_configuration(true);
    let policy = SendingPolicy::decode(Some(&config)).unwrap();
    let request = SendRequest {
        class: AdHoc,
        purpose: None,
    };
    let recipients = [recipient("ada@example.org", To)];
    assert!(
        decide_batch(
            &policy,
            &request,
            &recipients,
            &[Some(vec![9_u8, 9, 9])],
            &ErasureFacts::default(),
            NOW,
        )
        .is_err()
    );
    assert!(
        decide_batch::<Vec<u8>>(
            &policy,
            &request,
            &recipients,
            &[],
            &ErasureFacts::default(),
            NOW,
        )
        .is_err()
    );
    assert!(SendingPolicy::decode(Some(&[7])).is_err());
}
