//! Confirmation mails after changes, as the consent notification settings say
//! (`privacy_guard_core::notification`).

use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::notification::{ChangeOrigin, Confirmation, ConfirmedChange};
use privacy_guard_core::storage::Location;

use crate::links::{SignedLink, sign_link};
use crate::logging::{info, warn};
use crate::state::StoredPerson;

/// Queues a confirmation of `changes` to `person` when the setting `confirm-changes` asks
/// for one for changes made by `origin`. Nothing for no changes, no settings, or a record
/// that does not own its address (only the owner of an address is mailed).
pub(crate) fn confirm(
    person: &StoredPerson,
    configuration: &Configuration,
    origin: ChangeOrigin,
    changes: &[ConfirmedChange],
    now: i64,
) {
    let Some(settings) = configuration.settings() else {
        return;
    };
    let Location::Person(address) = &person.location else {
        return;
    };
    if changes.is_empty() || !settings.confirm_changes().confirms(origin) {
        return;
    }
    let record = &person.snapshot.record;
    let SignedLink { url, .. } = sign_link(settings, record.clone(), now);
    let message = Confirmation {
        settings,
        record,
        to: address,
        name: &person.snapshot.name,
        language: person.snapshot.language(configuration),
        changes,
        link: &url,
        at: now,
    }
    .to_mail();
    if crate::outgoing::queue(message).is_err() {
        warn("change confirmation rejected", &[("record", record)]);
    } else {
        info(
            "change confirmation queued",
            &[("record", record), ("changes", &changes.len())],
        );
    }
}
