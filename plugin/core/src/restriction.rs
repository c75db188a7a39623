//! Stopping processing (GDPR Art. 18) and erasure (Art. 17), and the suppression marker an
//! erasure leaves behind.
//!
//! | from | restrict | lift | erase | suppress (re-added address) |
//! |---|---|---|---|---|
//! | active | restricted | refused: not restricted | erased | erased |
//! | duplicate | restricted | refused: not restricted | erased | erased |
//! | restricted | refused: already restricted | active (reason required) | erased | erased |
//! | erased | refused: erased | refused: erased | refused: erased | unchanged, no event |
//!
//! An erasure refuses every consent of the person's module (an event per change), empties
//! `email` and every field a data consent names, except fields the setting
//! `retained-fields` keeps for a legal obligation (`email` can never be kept), and records
//! in its status event which fields were emptied and which were kept, by name only.
//!
//! The snapshot no longer lives under `person/<address>`: the adapter keeps a
//! [`SuppressionMarker`] under [`suppression_key`] instead, a salted hash of the normalised
//! address. A record that later brings the address back is recognised by it and
//! [`suppress`]ed: every consent refused, status erased, so mail to the address is refused
//! with `erased` and the person is never asked again.

use crate::vocabulary::{Language, PersonStatus};
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::configuration::regimes::RegimeFacts;
use crate::configuration::{Configuration, Settings};
use crate::consent::ConsentValue;
use crate::definition::ConsentKind;
use crate::digest::sha256_hex;
use crate::event::{
    Cause, ConsentEvent, IpEvidence, LinkId, Staff, Statement, StatusEvent, StatusEvidence,
    StatusSource,
};
use crate::localisation::Texts;
use crate::mail::{Body, Format, MailMessage, Mailbox, stable_message_id};
use crate::person::PersonSnapshot;
use crate::record::RecordRef;
use crate::storage::{Location, StorageError};

/// The field holding the address: always erased.
pub const EMAIL_FIELD: &str = "email";
/// Format version of `suppressed/` values.
pub const SUPPRESSION_FORMAT: u8 = 1;
/// Bytes of salt the adapter asks `keys.random-bytes` for.
pub const SALT_LEN: u32 = 32;
const SUPPRESSION_PREFIX: &str = "suppressed/";

/// A status change that the person's status does not allow; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("processing is already restricted")]
    AlreadyRestricted,
    #[error("processing is not restricted")]
    NotRestricted,
    #[error("the person's data were erased")]
    Erased,
}

/// Who asked for a status change, with their evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The person, on the preferences page opened with `link`.
    Page {
        link: LinkId,
        ip: Option<IpEvidence>,
        user_agent: Option<String>,
    },
    /// Staff, named, through a channel, with a reason or evidence.
    Staff(Staff),
}

impl Actor {
    fn source(&self) -> StatusSource {
        match self {
            Actor::Page { .. } => StatusSource::PreferencesPage,
            Actor::Staff(staff) => staff.status_source(),
        }
    }

    fn evidence(&self) -> StatusEvidence {
        match self {
            Actor::Page {
                link,
                ip,
                user_agent,
            } => StatusEvidence::page(*link, ip.clone(), user_agent.clone()),
            Actor::Staff(staff) => staff.evidence(),
        }
    }

    fn cause(&self) -> Cause {
        match self {
            Actor::Page {
                link,
                ip,
                user_agent,
            } => Cause::PreferencesPage {
                link: *link,
                ip: ip.clone(),
                user_agent: user_agent.clone(),
                seconds_since_request: None,
            },
            Actor::Staff(staff) => staff.cause(),
        }
    }
}

fn changed(event: Option<StatusEvent>) -> Result<StatusEvent, TransitionError> {
    // Every caller checked that the status changes, so an event is always made.
    event.ok_or(TransitionError::AlreadyRestricted)
}

/// Restricts processing: an active person (or a duplicate) becomes restricted.
pub fn restrict(
    snapshot: &mut PersonSnapshot,
    actor: &Actor,
    now: i64,
) -> Result<StatusEvent, TransitionError> {
    match snapshot.status {
        PersonStatus::Restricted { .. } => Err(TransitionError::AlreadyRestricted),
        PersonStatus::Erased { .. } => Err(TransitionError::Erased),
        PersonStatus::Active | PersonStatus::Duplicate { .. } => {
            changed(snapshot.change_status_with(
                PersonStatus::Restricted { since: now },
                actor.source(),
                None,
                actor.evidence(),
                now,
            ))
        }
    }
}

/// Lifts a restriction, with the staff member's recorded reason: the person is active.
pub fn lift_restriction(
    snapshot: &mut PersonSnapshot,
    staff: &Staff,
    now: i64,
) -> Result<StatusEvent, TransitionError> {
    match snapshot.status {
        PersonStatus::Restricted { .. } => changed(snapshot.change_status_with(
            PersonStatus::Active,
            staff.status_source(),
            None,
            staff.evidence(),
            now,
        )),
        PersonStatus::Erased { .. } => Err(TransitionError::Erased),
        PersonStatus::Active | PersonStatus::Duplicate { .. } => {
            Err(TransitionError::NotRestricted)
        }
    }
}

/// Which of a record's fields an erasure empties and which it keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPlan {
    /// `email` and every field a data consent of the module names, that the record has.
    pub erase: Vec<String>,
    /// Of those, the ones the setting `retained-fields` keeps.
    pub retain: Vec<String>,
}

/// The fields of a record of `record`'s module with the field names `present` that an
/// erasure empties and keeps.
pub fn plan_fields(
    configuration: &Configuration,
    record: &RecordRef,
    present: &[String],
) -> FieldPlan {
    let retained = configuration
        .settings()
        .map(Settings::retained_fields)
        .unwrap_or_default();
    // The address, every field a data consent covers (deleted consents too: their values
    // may still be held), and every field classified personal.
    let mut candidates = vec![EMAIL_FIELD.to_owned()];
    let consents = configuration
        .consents_of(&record.module)
        .chain(configuration.deleted_consents_of(&record.module));
    let data_fields = consents.filter_map(|stored| match &stored.definition.kind {
        ConsentKind::Data { field } => Some(field.clone()),
        _ => None,
    });
    let personal_fields = configuration
        .field_classes(&record.module)
        .filter(|class| class.personal)
        .map(|class| class.field.clone());
    for field in data_fields.chain(personal_fields) {
        if !candidates.contains(&field) {
            candidates.push(field);
        }
    }
    let mut plan = FieldPlan::default();
    for field in candidates {
        if !present.contains(&field) {
            continue;
        }
        let kept = field != EMAIL_FIELD
            && retained
                .iter()
                .any(|name| name.eq_ignore_ascii_case(&field));
        if kept {
            plan.retain.push(field);
        } else {
            plan.erase.push(field);
        }
    }
    plan
}

/// Refuses every consent of the person's module that is not refused yet.
fn refuse_every_consent(
    snapshot: &mut PersonSnapshot,
    configuration: &Configuration,
    cause: &Cause,
    now: i64,
) -> Vec<ConsentEvent> {
    let mut events = Vec::new();
    for stored in snapshot.held_consents(configuration) {
        let from = snapshot.value_of(stored.id().as_str());
        if from == ConsentValue::NotGranted {
            continue;
        }
        let event = ConsentEvent {
            at: now,
            consent: stored.id().clone(),
            from,
            to: ConsentValue::NotGranted,
            purpose: stored.purpose.clone(),
            default: stored.definition.default,
            cause: cause.clone(),
        };
        snapshot.commit(&event);
        events.push(event);
    }
    events
}

/// What an erasure does: the events to append and the fields to empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub consent_events: Vec<ConsentEvent>,
    pub status_event: StatusEvent,
    pub fields: FieldPlan,
}

/// Erases a person: every consent refused, the fields of [`plan_fields`] to empty, status
/// erased. The snapshot forgets the name.
pub fn erase(
    snapshot: &mut PersonSnapshot,
    configuration: &Configuration,
    present: &[String],
    actor: &Actor,
    now: i64,
) -> Result<Erasure, TransitionError> {
    if matches!(snapshot.status, PersonStatus::Erased { .. }) {
        return Err(TransitionError::Erased);
    }
    let fields = plan_fields(configuration, &snapshot.record, present);
    let consent_events = refuse_every_consent(snapshot, configuration, &actor.cause(), now);
    let mut evidence = actor.evidence();
    evidence.erased_fields = fields.erase.clone();
    evidence.retained_fields = fields.retain.clone();
    let status_event = changed(snapshot.change_status_with(
        PersonStatus::Erased { since: now },
        actor.source(),
        None,
        evidence,
        now,
    ))?;
    snapshot.name.clear();
    snapshot.regime_facts = RegimeFacts::default();
    snapshot.language = None;
    Ok(Erasure {
        consent_events,
        status_event,
        fields,
    })
}

/// What an erasure does to the address the person had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressErasure {
    /// The address erased: its suppression marker is written, the host forgets its mail
    /// (`mail.forget`), and every other record holding it is suppressed ([`suppress`]): to
    /// the plugin they are the same person.
    pub erased: Option<Address>,
    /// The `person/` key the person held: deleted.
    pub released: Option<Address>,
    /// Where the person's consents live from now on: apart, without an address.
    pub location: Location,
}

/// What an erasure does to the address of a person whose consents lived at `location`.
pub fn erase_address(location: &Location) -> AddressErasure {
    AddressErasure {
        erased: location.address().cloned(),
        released: match location {
            Location::Person(held) => Some(held.clone()),
            Location::Record { .. } => None,
        },
        location: Location::Record { address: None },
    }
}

/// Suppresses a record that brings back an erased address: every consent refused, status
/// erased (`suppressed`). Nothing for a person already erased.
pub fn suppress(
    snapshot: &mut PersonSnapshot,
    configuration: &Configuration,
    now: i64,
) -> Option<(Vec<ConsentEvent>, StatusEvent)> {
    if matches!(snapshot.status, PersonStatus::Erased { .. }) {
        return None;
    }
    let events = refuse_every_consent(snapshot, configuration, &Cause::RecordChange, now);
    let evidence = StatusEvidence {
        suppressed: true,
        ..StatusEvidence::default()
    };
    let status = snapshot.change_status_with(
        PersonStatus::Erased { since: now },
        StatusSource::RecordChange,
        None,
        evidence,
        now,
    )?;
    Some((events, status))
}

/// The key of the suppression marker of `address` (normalised) under `salt`:
/// `suppressed/` and the hex SHA-256 of the salt and the address.
pub fn suppression_key(salt: &[u8], address: &Address) -> String {
    let digest = sha256_hex(&[
        b"privacy-guard/suppression\0",
        salt,
        b"\0",
        address.as_str().as_bytes(),
    ]);
    format!("{SUPPRESSION_PREFIX}{digest}")
}

/// What the marker of an erased address holds: which record was erased, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionMarker {
    pub record: RecordRef,
    pub since: i64,
}

pub fn encode_marker(marker: &SuppressionMarker) -> Result<Vec<u8>, StorageError> {
    postcard::to_extend(marker, vec![SUPPRESSION_FORMAT]).map_err(|source| StorageError::Encode {
        what: "suppression marker",
        source,
    })
}

pub fn decode_marker(bytes: &[u8]) -> Result<SuppressionMarker, StorageError> {
    const WHAT: &str = "suppression marker";
    match bytes.split_first() {
        None => Err(StorageError::Empty { what: WHAT }),
        Some((&SUPPRESSION_FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|source| StorageError::Decode { what: WHAT, source })
        }
        Some((&version, _)) => Err(StorageError::UnknownFormat {
            what: WHAT,
            version,
            oldest: SUPPRESSION_FORMAT,
            newest: SUPPRESSION_FORMAT,
        }),
    }
}

/// The stable id of the notice that a restriction of `record` lifted at `at` was lifted.
pub fn lift_notice_message_id(record: &RecordRef, at: i64, sender: &Address) -> String {
    stable_message_id(
        "restriction-lifted",
        &[
            record.module.as_str().as_bytes(),
            record.id.as_bytes(),
            at.to_string().as_bytes(),
        ],
        sender,
    )
}

/// The notice telling the person that the restriction of processing was lifted (GDPR
/// Art. 18(3)), with the recorded reason.
pub fn lift_notice(
    settings: &Settings,
    record: &RecordRef,
    to: &Address,
    name: &str,
    language: Language,
    reason: &Statement,
    at: i64,
) -> MailMessage {
    let texts = Texts::of(language, settings.languages().template(language));
    let organisation = settings.organisation();
    let name = name.trim();
    let mut body = Body::new(&texts, Format::Text);
    body.greeting(name);
    body.paragraph("lift-intro", &[("organisation", organisation)]);
    body.lines(&[reason.as_str().to_owned()]);
    body.paragraph("lift-outro", &[]);
    body.signature(settings);
    MailMessage {
        message_id: lift_notice_message_id(record, at, settings.sender_address()),
        from: Mailbox {
            address: settings.sender_address().to_string(),
            name: Some(settings.sender_name().to_owned()),
        },
        to: vec![Mailbox {
            address: to.to_string(),
            name: (!name.is_empty()).then(|| name.to_owned()),
        }],
        subject: texts.text("lift-subject", &[("organisation", organisation)]),
        text_body: body.finish(),
        html_body: None,
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::vocabulary::IpPolicy;

    use crate::event::StreamEvent;
    use crate::event::tests::link;
    use crate::lifecycle::reevaluate;
    use crate::person::fold_stream;
    use crate::record::Module;
    use crate::record::tests::fields;

    fn configuration() -> Configuration {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        for (id, kind) in [
            (
                "email-marketing",
                ConsentKind::Data {
                    field: "email".into(),
                },
            ),
            (
                "phone",
                ConsentKind::Data {
                    field: "phone".into(),
                },
            ),
            (
                "street",
                ConsentKind::Data {
                    field: "street".into(),
                },
            ),
            ("news", ConsentKind::Custom),
        ] {
            configuration
                .put_consent(definition_input(id, "contacts", kind), None)
                .unwrap();
        }
        configuration
    }

    fn staff(text: &str) -> Staff {
        Staff {
            channel: crate::event::StaffChannel::Admin,
            name: crate::event::ActorName::parse("alice").unwrap(),
            statement: Statement::parse(text).unwrap(),
        }
    }

    fn admin(text: &str) -> Actor {
        Actor::Staff(staff(text))
    }

    fn page() -> Actor {
        Actor::Page {
            link: link(3),
            ip: IpEvidence::observe("203.0.113.9", IpPolicy::Truncate, None),
            user_agent: Some("Mozilla/5.0".into()),
        }
    }

    fn contact() -> RecordRef {
        RecordRef::new(Module::Contacts, "1")
    }

    #[test]
    fn transitions_are_allowed_and_refused_as_the_table_says() {
        use PersonStatus::*;
        type Case = (
            PersonStatus,
            Result<PersonStatus, TransitionError>,
            Result<PersonStatus, TransitionError>,
        );
        let cases: [Case; 4] = [
            (
                Active,
                Ok(Restricted { since: 9 }),
                Err(TransitionError::NotRestricted),
            ),
            (
                Duplicate { since: 1 },
                Ok(Restricted { since: 9 }),
                Err(TransitionError::NotRestricted),
            ),
            (
                Restricted { since: 1 },
                Err(TransitionError::AlreadyRestricted),
                Ok(Active),
            ),
            (
                Erased { since: 1 },
                Err(TransitionError::Erased),
                Err(TransitionError::Erased),
            ),
        ];
        for (before, restricted, lifted) in cases {
            let mut snapshot = PersonSnapshot::new(contact(), String::new());
            snapshot.status = before;
            let result = restrict(&mut snapshot, &page(), 9).map(|event| event.to);
            assert_eq!(result, restricted, "restrict {before:?}");
            if restricted.is_err() {
                assert_eq!(snapshot.status, before, "unchanged {before:?}");
            }
            let mut snapshot = PersonSnapshot::new(contact(), String::new());
            snapshot.status = before;
            let result = lift_restriction(&mut snapshot, &staff("court order ended"), 9)
                .map(|event| event.to);
            assert_eq!(result, lifted, "lift {before:?}");
            let mut snapshot = PersonSnapshot::new(contact(), String::new());
            snapshot.status = before;
            let erased = erase(&mut snapshot, &configuration(), &[], &admin("letter"), 9);
            assert_eq!(
                erased.is_ok(),
                !matches!(before, Erased { .. }),
                "erase {before:?}"
            );
        }
    }

    #[test]
    fn an_erasure_empties_the_email_and_data_fields_and_keeps_the_retained_ones() {
        // settings_input retains `name` and `street`.
        let present = |names: &[&str]| {
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>()
        };
        let cases: [(&[&str], &[&str], &[&str]); 3] = [
            (
                &["name", "email", "phone", "street", "city"],
                &["email", "phone"],
                &["street"],
            ),
            (&["email"], &["email"], &[]),
            (&["name", "city"], &[], &[]),
        ];
        for (fields, erased, retained) in cases {
            let plan = plan_fields(&configuration(), &contact(), &present(fields));
            assert_eq!(plan.erase, erased, "{fields:?}");
            assert_eq!(plan.retain, retained, "{fields:?}");
        }
        let mut input = settings_input();
        input.retained_fields = vec!["EMAIL".into()];
        assert!(Configuration::default().set_settings(input).is_err());

        // Fields classified personal, and the field of a deleted data consent, are
        // personal data too; a field classified essential is kept only if retained.
        let mut configuration = configuration();
        configuration.delete_consent("phone").unwrap();
        for (field, essential) in [("birthday", false), ("invoice_no", true), ("name", true)] {
            configuration
                .classify_field(
                    "contacts",
                    crate::classification::FieldClass {
                        field: field.into(),
                        personal: true,
                        essential,
                        sensitive: false,
                        encrypted: false,
                    },
                )
                .unwrap();
        }
        let plan = plan_fields(
            &configuration,
            &contact(),
            &present(&["name", "email", "phone", "birthday", "invoice_no", "city"]),
        );
        assert_eq!(plan.erase, ["email", "phone", "birthday", "invoice_no"]);
        assert_eq!(plan.retain, ["name"]);
    }

    #[test]
    fn the_suppression_key_is_stable_across_case_and_whitespace_and_depends_on_the_salt() {
        let key = |salt: &[u8], raw: &str| suppression_key(salt, &Address::parse(raw).unwrap());
        let first = key(b"salt", "ada@example.org");
        for variant in [
            " ADA@Example.org ",
            "Ada@EXAMPLE.ORG",
            "\tada@example.org\n",
        ] {
            assert_eq!(key(b"salt", variant), first, "{variant:?}");
        }
        assert!(first.starts_with("suppressed/"));
        assert!(!first.contains("ada"));
        assert_ne!(key(b"other", "ada@example.org"), first);
        assert_ne!(key(b"salt", "grace@example.org"), first);
        let marker = SuppressionMarker {
            record: contact(),
            since: 5,
        };
        assert_eq!(
            decode_marker(&encode_marker(&marker).unwrap()).unwrap(),
            marker
        );
    }

    #[test]
    fn folding_the_events_of_restriction_lifting_and_erasure_rebuilds_the_same_snapshot() {
        let configuration = configuration();
        let mut snapshot = PersonSnapshot::new(contact(), "Ada".into());
        let mut stream: Vec<StreamEvent> = Vec::new();
        let record = fields(&[
            ("email", "ada@example.org"),
            ("phone", "123"),
            ("street", "Main St 1"),
        ]);
        stream.extend(
            reevaluate(&mut snapshot, &configuration, &record, 1)
                .into_iter()
                .map(StreamEvent::Consent),
        );
        stream.push(StreamEvent::Status(
            restrict(&mut snapshot, &page(), 2).unwrap(),
        ));
        stream.push(StreamEvent::Status(
            lift_restriction(&mut snapshot, &staff("legal claim settled"), 3).unwrap(),
        ));
        let present: Vec<String> = ["email", "phone", "street"].map(String::from).to_vec();
        let erasure = erase(
            &mut snapshot,
            &configuration,
            &present,
            &admin("letter of 2026-11-30"),
            4,
        )
        .unwrap();
        assert_eq!(erasure.consent_events.len(), 4);
        assert!(
            snapshot
                .consents
                .iter()
                .all(|state| state.value == ConsentValue::NotGranted)
        );
        stream.extend(
            erasure
                .consent_events
                .iter()
                .cloned()
                .map(StreamEvent::Consent),
        );
        stream.push(StreamEvent::Status(erasure.status_event.clone()));
        let json: Vec<String> = stream
            .iter()
            .map(|event| event.to_json().unwrap())
            .collect();
        let read: Vec<StreamEvent> = json
            .iter()
            .map(|text| StreamEvent::from_json(text).unwrap())
            .collect();
        let folded = fold_stream(contact(), String::new(), &read).unwrap();
        assert_eq!(folded, snapshot);
        let erased: serde_json::Value = serde_json::from_str(json.last().unwrap()).unwrap();
        assert_eq!(erased["to"], "erased");
        assert_eq!(
            erased["erased-fields"],
            serde_json::json!(["email", "phone"])
        );
        assert_eq!(erased["retained-fields"], serde_json::json!(["street"]));
        assert_eq!(erased["retained-because"], RETENTION_BASIS_JSON);
        for value in ["ada@example.org", "123", "Main St 1", "Ada"] {
            assert!(json.iter().all(|event| !event.contains(value)), "{value}");
        }
        // A suppressed record re-adding the address: refused, erased, and only once.
        let mut again = PersonSnapshot::new(RecordRef::new(Module::Contacts, "2"), String::new());
        reevaluate(&mut again, &configuration, &record, 5);
        let (events, status) = suppress(&mut again, &configuration, 6).unwrap();
        assert_eq!(events.len(), 4);
        assert!(status.evidence.suppressed);
        assert_eq!(again.status, PersonStatus::Erased { since: 6 });
        assert!(suppress(&mut again, &configuration, 7).is_none());
    }

    const RETENTION_BASIS_JSON: &str = crate::event::RETENTION_BASIS;

    #[test]
    fn the_lift_notice_has_a_stable_id_and_names_the_reason() {
        let configuration = configuration();
        let settings = configuration.settings().unwrap();
        let to = Address::parse("ada@example.org").unwrap();
        let reason = Statement::parse("Your objection was decided").unwrap();
        let mail = lift_notice(
            settings,
            &contact(),
            &to,
            "Ada",
            Language::English,
            &reason,
            7,
        );
        assert_eq!(
            mail.message_id,
            lift_notice(
                settings,
                &contact(),
                &to,
                "Ada",
                Language::English,
                &reason,
                7
            )
            .message_id
        );
        assert_ne!(
            mail.message_id,
            lift_notice_message_id(&contact(), 8, settings.sender_address())
        );
        assert!(mail.text_body.contains("Your objection was decided"));
        assert_eq!(mail.to[0].address, "ada@example.org");
    }
}
