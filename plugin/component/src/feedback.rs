//! Delivery reports (bounces, complaints, unsubscribe mails) and the lift of a bounce: the
//! `safeguards` functions `report-delivery` and `lift-bounce`; and the lift of a complaint or
//! unsubscription by the person's own grant on the preferences page ([`lift_by_answer`],
//! called by `preferences.submit` in its unit of work). What a report does is the
//! engine's ([`privacy_guard_core::feedback`]); here the address's record is read and
//! written under its salted key, and the people holding the address get their event.
//!
//! The pre-send check reads the same records (`sending.rs`), and the daily run asks
//! [`suppressed`] before it mails a request.

use privacy_guard_core::address::Address;
use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::event::{
    ActorName, DeliveryFeedbackEvent, FeedbackWord, PageAnswer, Statement,
};
use privacy_guard_core::feedback::{
    Applied, FeedbackKind, FeedbackRecord, Suppression, decode_feedback, encode_feedback,
    evidence_text, feedback_key, source_word,
};
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::restriction::SALT_LEN;
use privacy_guard_core::safeguards::{SAFEGUARDS_KEY, SafeguardSettings};
use privacy_guard_core::vocabulary::PersonStatus;

use crate::bindings::exports::privacy_guard::consent::safeguards as wit;
use crate::bindings::exports::privacy_guard::consent::subjects::StaffChannel;
use crate::bindings::privacy_guard::consent::{clock, keys, store};
use crate::convert::wit_record_ref;
use crate::logging::{fault, info};
use crate::state::{State, StoredPerson};

pub(crate) fn report_delivery(
    report: wit::DeliveryReport,
) -> Result<wit::FeedbackOutcome, wit::FeedbackError> {
    let evidence = evidence_text(&report.evidence).ok_or(wit::FeedbackError::EvidenceRequired)?;
    let now = clock::now();
    let mut state = State::new();
    let kind = feedback_kind(report.kind);
    let address = match (&report.token, kind) {
        (Some(token), FeedbackKind::Unsubscribe) => {
            let (_, person) = crate::links::open_link(&state, token, now)
                .map_err(|_| wit::FeedbackError::InvalidToken)?;
            person
                .location
                .address()
                .cloned()
                .ok_or(wit::FeedbackError::InvalidToken)?
        }
        _ => Address::parse(&report.address)
            .map_err(|_| wit::FeedbackError::InvalidAddress(report.address.clone()))?,
    };
    let configuration = salted_configuration(&mut state);
    if state.is_suppressed(&configuration, &address) {
        // An erased address stays erased: nothing more to record.
        return Ok(outcome(Vec::new(), 0, true));
    }
    let key = key_of(&configuration, &address);
    let mut record = read_record(&state, &key);
    // Read here, not through `crate::safeguards` (which dispatches to this module).
    let limit = SafeguardSettings::decode(state.get(SAFEGUARDS_KEY).as_deref())
        .unwrap_or_else(|error| fault("reading the safeguard settings", &error))
        .soft_bounce_limit;
    let applied = record.apply(kind, report.message_id.as_deref(), limit, now);
    if applied != Applied::Repeated {
        write_record(&mut state, &key, &record);
    }
    let Applied::Suppressed(_) = applied else {
        let suppressed = record.suppressed.is_some();
        return Ok(outcome(Vec::new(), record.soft_bounces, suppressed));
    };
    let event = DeliveryFeedbackEvent {
        at: now,
        feedback: match kind {
            FeedbackKind::HardBounce => FeedbackWord::HardBounce,
            FeedbackKind::SoftBounce => FeedbackWord::SoftBounce,
            FeedbackKind::Complaint => FeedbackWord::Complaint,
            FeedbackKind::Unsubscribe => FeedbackWord::Unsubscribe,
        },
        source: source_word(&report.source),
        actor: DeliveryFeedbackEvent::REPORT_ACTOR.to_owned(),
        evidence,
        message_id: report
            .message_id
            .as_deref()
            .and_then(evidence_text)
            .filter(|id| id.len() <= 250),
        occurred_at: Some(report.occurred_at.min(now)),
        answer: None,
    };
    let people = record_event(&state, &address, &event);
    info(
        "delivery report suppressed an address",
        &[("report", &kind.as_str()), ("people", &people.len())],
    );
    Ok(outcome(people, record.soft_bounces, true))
}

pub(crate) fn lift_bounce(
    address: String,
    actor: wit::StaffActor,
    reason: String,
) -> Result<bool, wit::FeedbackError> {
    let name = ActorName::parse(&actor.name).map_err(|_| wit::FeedbackError::ActorRequired)?;
    let reason = Statement::parse(&reason).map_err(|_| wit::FeedbackError::EvidenceRequired)?;
    let address =
        Address::parse(&address).map_err(|_| wit::FeedbackError::InvalidAddress(address))?;
    let mut state = State::new();
    let configuration = state.configuration();
    if configuration.suppression_salt().is_none() {
        return Ok(false);
    }
    let key = key_of(&configuration, &address);
    let mut record = read_record(&state, &key);
    if !record.lift() {
        return Ok(false);
    }
    write_record(&mut state, &key, &record);
    let event = DeliveryFeedbackEvent {
        at: clock::now(),
        feedback: FeedbackWord::BounceLifted,
        source: match actor.channel {
            StaffChannel::Admin => "admin",
            StaffChannel::BulkImport => "import",
            StaffChannel::Api => "api",
        }
        .to_owned(),
        actor: name.as_str().to_owned(),
        evidence: reason.as_str().to_owned(),
        message_id: None,
        occurred_at: None,
        answer: None,
    };
    let people = record_event(&state, &address, &event);
    info("bounce lifted", &[("people", &people.len())]);
    Ok(true)
}

/// The person granted a consent themselves on the preferences page (`answer`: what the page
/// observed, kept as the answer's own consent events keep it): a complaint or unsubscription
/// of their address is lifted, and their stream says so. A bounce stays; a restricted or
/// erased person never gets here (the page refuses their answer). Whether one was lifted.
pub(crate) fn lift_by_answer(
    state: &mut State,
    configuration: &Configuration,
    person: &StoredPerson,
    answer: PageAnswer,
    now: i64,
) -> bool {
    let Some(address) = person.location.address() else {
        return false;
    };
    if configuration.suppression_salt().is_none() {
        return false;
    }
    let key = key_of(configuration, address);
    let mut record = read_record(state, &key);
    let Some(lifted) = record.lift_by_answer() else {
        return false;
    };
    write_record(state, &key, &record);
    let what = match lifted {
        Suppression::Complaint => "complaint",
        Suppression::Unsubscribe => "unsubscription",
        Suppression::Bounce => fault(
            "lifting a suppression",
            &"a bounce is never lifted by a grant",
        ),
    };
    let event = DeliveryFeedbackEvent {
        at: now,
        feedback: FeedbackWord::SuppressionLifted,
        source: DeliveryFeedbackEvent::PAGE_SOURCE.to_owned(),
        actor: DeliveryFeedbackEvent::PAGE_ACTOR.to_owned(),
        evidence: format!("{what} lifted by the person's own grant on the preferences page"),
        message_id: None,
        occurred_at: None,
        answer: Some(answer),
    };
    let payload = event
        .to_json()
        .unwrap_or_else(|error| fault("writing an event", &error));
    store::append_event(&person.snapshot.record.stream(), &payload);
    info(
        "the person's own grant lifted a suppression",
        &[("record", &person.snapshot.record), ("lifted", &what)],
    );
    true
}

/// The suppression a delivery report put on `address`, if any (the daily run sends such an
/// address no request).
pub(crate) fn suppressed(
    state: &State,
    configuration: &Configuration,
    address: &Address,
) -> Option<Suppression> {
    configuration.suppression_salt()?;
    let record = read_record(state, &key_of(configuration, address));
    record.suppressed.map(|(suppression, _)| suppression)
}

/// Appends `event` to the stream of the person holding `address` (not one erased): the
/// people it names.
fn record_event(state: &State, address: &Address, event: &DeliveryFeedbackEvent) -> Vec<RecordRef> {
    let payload = event
        .to_json()
        .unwrap_or_else(|error| fault("writing an event", &error));
    let holders: Vec<RecordRef> = state
        .snapshot_at(address)
        .filter(|snapshot| !matches!(snapshot.status, PersonStatus::Erased { .. }))
        .map(|snapshot| snapshot.record)
        .into_iter()
        .collect();
    for record in &holders {
        store::append_event(&record.stream(), &payload);
    }
    holders
}

fn outcome(people: Vec<RecordRef>, soft_bounces: u32, suppressed: bool) -> wit::FeedbackOutcome {
    wit::FeedbackOutcome {
        suppressed: people.iter().map(wit_record_ref).collect(),
        soft_bounces,
        address_suppressed: suppressed,
    }
}

fn key_of(configuration: &Configuration, address: &Address) -> String {
    let salt = configuration
        .suppression_salt()
        .unwrap_or_else(|| fault("reading delivery feedback", &"no suppression salt"));
    feedback_key(salt, address)
}

fn read_record(state: &State, key: &str) -> FeedbackRecord {
    state
        .get(key)
        .map(|bytes| {
            decode_feedback(&bytes)
                .unwrap_or_else(|error| fault("reading delivery feedback", &error))
        })
        .unwrap_or_default()
}

fn write_record(state: &mut State, key: &str, record: &FeedbackRecord) {
    if record.is_empty() {
        state.delete(key);
        return;
    }
    let bytes =
        encode_feedback(record).unwrap_or_else(|error| fault("writing delivery feedback", &error));
    state.put(key, &bytes);
}

/// The configuration with the salt of suppression markers, made now if no erasure, IP hash
/// or report made it before.
fn salted_configuration(state: &mut State) -> Configuration {
    let mut configuration = state.configuration();
    if configuration.suppression_salt().is_none()
        && configuration.set_suppression_salt(keys::random_bytes(SALT_LEN))
    {
        state.save_configuration(&configuration);
    }
    configuration
}

fn feedback_kind(kind: wit::FeedbackKind) -> FeedbackKind {
    match kind {
        wit::FeedbackKind::HardBounce => FeedbackKind::HardBounce,
        wit::FeedbackKind::SoftBounce => FeedbackKind::SoftBounce,
        wit::FeedbackKind::Complaint => FeedbackKind::Complaint,
        wit::FeedbackKind::Unsubscribe => FeedbackKind::Unsubscribe,
    }
}
