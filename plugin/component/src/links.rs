//! Signed preferences links: making them (the daily run's requests, the footer of rendered
//! mail, confirmations, staff's `subjects.preferences-link`) and opening them (the page).
//! The one link format, signed with the host's link key (`keys.sign` / `keys.verify`).

use privacy_guard_core::configuration::Settings;
use privacy_guard_core::link::{
    LINK_ID_LEN, LinkError, LinkPayload, UnverifiedToken, preferences_link, signing_input, token,
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
    let random = keys::random_bytes(LINK_ID_LEN as u32);
    let payload = LinkPayload::new(record, now, settings.link_lifetime_ms(), &random)
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
    let person = state
        .person(&token.payload.record)
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
