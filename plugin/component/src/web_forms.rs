//! Requests that could be unwanted mail, in the adapter: form tokens (`safeguards.form-token`),
//! the web-form proof a new record is checked for when the plugin first sees it, and the
//! per-address limit on consent request mail the daily run keeps. The rules are
//! `privacy_guard_core::web_forms`'; here they meet the store, the clock and the keys.

use privacy_guard_core::address::Address;
use privacy_guard_core::event::RequestWithheldEvent;
use privacy_guard_core::record::Fields;
use privacy_guard_core::safeguards::{SafeguardSettings, WebFormProof};
use privacy_guard_core::web_forms::{
    AddressLimit, FORM_TOKEN_RANDOM_LEN, LIMIT_FORMAT, check_proof, decode_sent_at, encode_sent_at,
    form_signing_input, form_token_payload, too_soon, withheld_key,
};

use crate::bindings::privacy_guard::consent::{clock, keys, store};
use crate::logging::{fault, info};
use crate::state::{State, StoredPerson};

/// A new form token, issued now: `safeguards.form-token`.
pub(crate) fn form_token() -> String {
    let random = keys::random_bytes(FORM_TOKEN_RANDOM_LEN as u32);
    let payload = form_token_payload(clock::now(), &random)
        .unwrap_or_else(|| fault("making a form token", &"the host gave too few random bytes"));
    let mac = keys::sign(&form_signing_input(&payload));
    privacy_guard_core::web_forms::form_token(&payload, &mac)
}

/// Whether the record of `person` is a web-form record kept from consent requests. A record
/// the plugin sees for the first time (`new`) is checked now: without the form's proof it is
/// marked, and its stream gets a `request-withheld` event naming why. Records that are not
/// web-form records cost nothing here.
pub(crate) fn withheld(
    state: &mut State,
    proof: &WebFormProof,
    person: &StoredPerson,
    fields: &Fields,
    new: bool,
    now: i64,
) -> bool {
    if !proof.is_web_form_record(|name| Some(fields.get(name))) {
        return false;
    }
    let record = &person.snapshot.record;
    let key = withheld_key(record);
    if !new {
        return state.get(&key).is_some();
    }
    if !person.snapshot.is_active() {
        return false;
    }
    let checked = check_proof(proof, |name| Some(fields.get(name)), now, keys::verify);
    let Err(reason) = checked else {
        return false;
    };
    let event = RequestWithheldEvent { at: now, reason };
    let payload = event
        .to_json()
        .unwrap_or_else(|error| fault("writing an event", &error));
    store::append_event(&record.stream(), &payload);
    state.put(&key, &[LIMIT_FORMAT, reason_byte(reason)]);
    info(
        "request withheld from a web-form record",
        &[("record", record), ("reason", &reason.as_str())],
    );
    true
}

fn reason_byte(reason: privacy_guard_core::event::WithheldReason) -> u8 {
    use privacy_guard_core::event::WithheldReason;
    match reason {
        WithheldReason::HoneypotFilled => 1,
        WithheldReason::FormTokenMissing => 2,
        WithheldReason::FormTokenInvalid => 3,
        WithheldReason::FormTokenTooFresh => 4,
        WithheldReason::FormTokenExpired => 5,
    }
}

/// What the per-address limit says of one mail.
pub(crate) enum Admission {
    /// No limit is set.
    Unlimited,
    /// The mail may go; once it is queued, [`Admission::sent`] records it under this key.
    Allowed(String),
    /// The address was mailed within the interval: the mail waits for a later run.
    Held,
}

impl Admission {
    /// Records that the admitted mail was queued at `now`.
    pub(crate) fn sent(self, state: &mut State, now: i64) {
        if let Admission::Allowed(key) = self {
            state.put(&key, &encode_sent_at(now));
        }
    }
}

/// Whether a mail of `limit` may go to `address` at `now` under an interval of
/// `interval_ms` (0: no limit): one MAC and one read, only when a limit is set.
pub(crate) fn admit(
    state: &State,
    limit: AddressLimit,
    address: &Address,
    interval_ms: i64,
    now: i64,
) -> Admission {
    if interval_ms <= 0 {
        return Admission::Unlimited;
    }
    let key = limit.key(&keys::sign(&AddressLimit::signing_input(address)));
    let last = state.get(&key).map(|bytes| {
        decode_sent_at(&bytes).unwrap_or_else(|error| fault("reading an address limit", &error))
    });
    if too_soon(last, now, interval_ms) {
        Admission::Held
    } else {
        Admission::Allowed(key)
    }
}

/// The request interval of the safeguard settings, in ms.
pub(crate) fn request_interval_ms(settings: &SafeguardSettings) -> i64 {
    i64::from(settings.request_interval_hours) * 3_600_000
}
