//! Signed preferences links: making them (the daily run's requests, the footer of rendered
//! mail, confirmations, staff's `subjects.preferences-link`) and opening them (the page).
//! The one link format, signed with the host's link key (`keys.sign` / `keys.verify`).
//!
//! A new link names its person by an opaque handle (`privacy_guard_core::link`), never by
//! module or id; the handle's entry (`link-handle/<handle>` → the record) is written here
//! with the record's first link, so every caller that makes a link must be a call whose
//! writes are committed. Links of the first format, which named the record in clear, open
//! until they expire.

use privacy_guard_core::configuration::Settings;
use privacy_guard_core::link::{
    LINK_ID_LEN, LinkError, LinkPayload, LinkSubject, PersonHandle, UnverifiedToken,
    decode_handle_entry, encode_handle_entry, preferences_link, signing_input, token,
};
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::vocabulary::PersonStatus;

use crate::bindings::privacy_guard::consent::keys;
use crate::logging::fault;
use crate::state::{State, StoredPerson};

/// A signed preferences link for one person, and what it says.
pub(crate) struct SignedLink {
    /// The page's address with the token.
    pub(crate) url: String,
    pub(crate) payload: LinkPayload,
}

/// Makes and signs a new preferences link for `record`, valid for the configured lifetime
/// from `now`: the one link format shared by the daily run's request mail and the footer of
/// rendered mail.
pub(crate) fn sign_link(settings: &Settings, record: RecordRef, now: i64) -> SignedLink {
    let handle = handle_of(&record);
    let random = keys::random_bytes(LINK_ID_LEN as u32);
    let payload = LinkPayload::new(handle, now, settings.link_lifetime_ms(), &random)
        .unwrap_or_else(|error| fault("making a preferences link", &error));
    let payload_bytes = payload
        .encode()
        .unwrap_or_else(|error| fault("making a preferences link", &error));
    let mac = keys::sign(&signing_input(&payload_bytes));
    let url = preferences_link(settings.preferences_url(), &token(&payload_bytes, &mac));
    SignedLink { url, payload }
}

/// The verified payload of a link and the person it is for. A link sent to a record that
/// has since been flagged a duplicate opens the record that holds its address now (the
/// primary, whose consents decide mail to it), so an answer given there is never lost on
/// a record nobody mails.
pub(crate) fn open_link(
    state: &State,
    token: &str,
    now: i64,
) -> Result<(LinkPayload, StoredPerson), LinkError> {
    let token = UnverifiedToken::parse(token)?;
    if !keys::verify(&token.signing_input(), &token.mac) {
        return Err(LinkError::Invalid);
    }
    token.payload.check_expiry(now)?;
    let record = match &token.payload.subject {
        LinkSubject::Record(record) => record.clone(),
        LinkSubject::Handle(handle) => {
            let bytes = state.get(&handle.key()).ok_or(LinkError::UnknownPerson)?;
            decode_handle_entry(&bytes)
                .unwrap_or_else(|error| fault("reading a link handle", &error))
        }
    };
    let person = state
        .person(&record)
        .filter(StoredPerson::is_present)
        .ok_or(LinkError::UnknownPerson)?;
    let person = match (&person.snapshot.status, person.location.address()) {
        (PersonStatus::Duplicate { .. }, Some(address)) => state
            .snapshot_at(address)
            .filter(|holder| holder.record != person.snapshot.record)
            .and_then(|holder| state.person(&holder.record))
            .filter(StoredPerson::is_present)
            .unwrap_or(person),
        _ => person,
    };
    Ok((token.payload, person))
}

/// The handle of `record` in its links, its entry written when this is its first link. A
/// handle already naming another record (two records' MACs sharing their first 96 bits) is
/// a fault: no link may open the wrong person.
fn handle_of(record: &RecordRef) -> PersonHandle {
    let mac = keys::sign(&PersonHandle::signing_input(record));
    let handle = PersonHandle::from_mac(&mac)
        .unwrap_or_else(|error| fault("making a preferences link", &error));
    let mut state = State::new();
    let key = handle.key();
    match state.get(&key) {
        Some(bytes) => {
            let named = decode_handle_entry(&bytes)
                .unwrap_or_else(|error| fault("reading a link handle", &error));
            if named != *record {
                fault(
                    "making a preferences link",
                    &"two records share a link handle",
                );
            }
        }
        None => {
            let bytes = encode_handle_entry(record)
                .unwrap_or_else(|error| fault("writing a link handle", &error));
            state.put(&key, &bytes);
        }
    }
    handle
}
