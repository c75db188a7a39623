//! Whether a tracking event (an email opened, a document viewed) may be kept: only with the
//! person's prior consent (ePrivacy Directive Art. 5(3)).

use crate::configuration::Configuration;
use crate::consent::ConsentValue;
use crate::definition::ConsentKind;
use crate::person::PersonSnapshot;

/// What a tracking event observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingKind {
    /// A tracking pixel loaded or a tracked link followed.
    EmailOpen,
    /// A shared document viewed.
    DocumentView,
}

impl TrackingKind {
    /// The kind of consent the event needs.
    pub fn consent_kind(self) -> ConsentKind {
        match self {
            TrackingKind::EmailOpen => ConsentKind::EmailTracking,
            TrackingKind::DocumentView => ConsentKind::DocumentTracking,
        }
    }
}

/// True only when `person` (the owner of the event's address) is active and has granted a
/// consent of the event's kind of their module. An unknown person, one who is restricted,
/// erased or a duplicate, and a module without such a consent all give false.
pub fn accepts_tracking_event(
    configuration: &Configuration,
    person: Option<&PersonSnapshot>,
    kind: TrackingKind,
) -> bool {
    let Some(person) = person.filter(|person| person.is_active()) else {
        return false;
    };
    let wanted = kind.consent_kind();
    configuration
        .consents_of(&person.record.module)
        .filter(|stored| stored.definition.kind == wanted)
        .any(|stored| person.value_of(stored.id().as_str()) == ConsentValue::Granted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::consent::ConsentDefault;
    use crate::definition::ConsentId;
    use crate::person::ConsentState;
    use crate::record::{Module, RecordRef};
    use crate::vocabulary::PersonStatus;

    fn configuration() -> Configuration {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        for (id, module, kind) in [
            ("mail-tracking", "contacts", ConsentKind::EmailTracking),
            ("doc-tracking", "contacts", ConsentKind::DocumentTracking),
            ("lead-doc-tracking", "leads", ConsentKind::DocumentTracking),
        ] {
            configuration
                .put_consent(definition_input(id, module, kind), None)
                .unwrap();
        }
        configuration
    }

    fn person(module: Module, status: PersonStatus, granted: &[&str]) -> PersonSnapshot {
        let mut snapshot = PersonSnapshot::new(RecordRef::new(module, "1"), "Ada".into());
        snapshot.status = status;
        snapshot.consents = granted
            .iter()
            .map(|id| ConsentState {
                consent: ConsentId::parse(id).unwrap(),
                value: ConsentValue::Granted,
                since: 1,
                purpose_version: 1,
                default: ConsentDefault::No,
            })
            .collect();
        snapshot.consents.sort_by(|a, b| a.consent.cmp(&b.consent));
        snapshot
    }

    #[test]
    fn a_tracking_event_is_accepted_only_with_the_matching_granted_consent() {
        use Module::{Contacts, Leads};
        use TrackingKind::{DocumentView, EmailOpen};
        let active = PersonStatus::Active;
        let restricted = PersonStatus::Restricted { since: 1 };
        let cases = [
            (None, DocumentView, false),
            (Some(person(Contacts, active, &[])), DocumentView, false),
            (
                Some(person(Contacts, active, &["doc-tracking"])),
                DocumentView,
                true,
            ),
            (
                Some(person(Contacts, active, &["doc-tracking"])),
                EmailOpen,
                false,
            ),
            (
                Some(person(Contacts, active, &["mail-tracking"])),
                EmailOpen,
                true,
            ),
            (
                Some(person(Contacts, active, &["mail-tracking"])),
                DocumentView,
                false,
            ),
            (
                Some(person(Contacts, restricted, &["doc-tracking"])),
                DocumentView,
                false,
            ),
            // A consent of another module does not count.
            (
                Some(person(Leads, active, &["doc-tracking"])),
                DocumentView,
                false,
            ),
            (
                Some(person(Leads, active, &["lead-doc-tracking"])),
                DocumentView,
                true,
            ),
            (
                Some(person(Leads, active, &["lead-doc-tracking"])),
                EmailOpen,
                false,
            ),
        ];
        let configuration = configuration();
        for (person, kind, expected) in cases {
            assert_eq!(
                accepts_tracking_event(&configuration, person.as_ref(), kind),
                expected,
                "{kind:?} {person:?}"
            );
        }
    }
}
