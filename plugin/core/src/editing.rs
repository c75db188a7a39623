//! Which fields of a record may be edited, and which values must be erased: the "data field"
//! column of the Vtiger consent table, and the locks of restricted, erased and duplicate
//! people.
//!
//! | value of the field's data consent | default | field | existing value |
//! |---|---|---|---|
//! | not-applicable | any | editable | kept |
//! | applicable | any | **not** editable | kept |
//! | waiting | yes | editable | kept |
//! | waiting | no | **not** editable | **erased** |
//! | granted | any | editable | kept |
//! | not-granted | any | **not** editable | **erased** |
//!
//! A record whose person is restricted, erased or a duplicate is locked: every edit is
//! refused. An edit that empties a field is always allowed (it keeps nothing); so is any
//! edit of a record the plugin does not know, or of a module without consents.
//!
//! The `email` field is exempt from the table: it is the address the request is sent to
//! and the answer is proven by, so a data consent over `email` governs what the address
//! may be used for (the pre-send check refuses the purpose), never whether it is kept or
//! corrected (a person has the right to have it put right, GDPR Art. 16). Only an erasure
//! empties it.

use crate::configuration::Configuration;
use crate::consent::{ConsentDefault, ConsentValue};
use crate::definition::{ConsentId, ConsentKind, StoredDefinition};
use crate::event::ConsentEvent;
use crate::person::PersonSnapshot;
use crate::restriction::EMAIL_FIELD;
use crate::vocabulary::PersonStatus;

/// What the table says about a data field while its consent has `value` under `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRule {
    Editable,
    /// Not editable; the value the field holds is kept.
    Locked,
    /// Not editable, and the value the field holds is erased.
    LockedErased,
}

impl FieldRule {
    pub fn of(value: ConsentValue, default: ConsentDefault) -> FieldRule {
        match (value, default) {
            (ConsentValue::NotApplicable | ConsentValue::Granted, _) => FieldRule::Editable,
            (ConsentValue::Waiting, ConsentDefault::Yes) => FieldRule::Editable,
            (ConsentValue::Applicable, _) => FieldRule::Locked,
            (ConsentValue::Waiting, ConsentDefault::No) | (ConsentValue::NotGranted, _) => {
                FieldRule::LockedErased
            }
        }
    }
}

/// Why an edit of one field is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditRefusal {
    /// The person asked to stop processing: the record is locked.
    ProcessingRestricted,
    /// The person's data were erased: the record is locked.
    Erased,
    /// The record is a duplicate: edit the primary record instead.
    Duplicate,
    /// The field is covered by a data consent whose value does not allow editing.
    ConsentRefuses {
        consent: ConsentId,
        value: ConsentValue,
    },
}

impl EditRefusal {
    /// A sentence for the CRM user.
    pub fn detail(&self, field: &str) -> String {
        match self {
            EditRefusal::ProcessingRestricted => format!(
                "`{field}` cannot be edited: the person asked to stop processing their data, \
                 so the record is locked until an administrator lifts the restriction"
            ),
            EditRefusal::Erased => format!(
                "`{field}` cannot be edited: the person's data were erased at their request"
            ),
            EditRefusal::Duplicate => format!(
                "`{field}` cannot be edited: the record is a duplicate; edit the primary record"
            ),
            EditRefusal::ConsentRefuses { consent, value } => {
                let why = match value {
                    ConsentValue::Applicable => "has not been requested from the person yet",
                    ConsentValue::Waiting => {
                        "was requested and the person has not answered (its default is no)"
                    }
                    _ => "was not granted by the person",
                };
                format!(
                    "`{field}` cannot be edited: the data consent {consent} {why}",
                    consent = consent.as_str()
                )
            }
        }
    }
}

/// The refusals of an edit of `changes` (field name, new value) to the record of
/// `snapshot` (none when the plugin does not know it): one per refused field, in order.
/// Empty when the edit may be saved.
pub fn check_edit<'f>(
    snapshot: Option<&PersonSnapshot>,
    configuration: &Configuration,
    changes: impl IntoIterator<Item = (&'f str, &'f str)>,
) -> Vec<(String, EditRefusal)> {
    let Some(snapshot) = snapshot else {
        return Vec::new();
    };
    let locked = match snapshot.status {
        PersonStatus::Active => None,
        PersonStatus::Restricted { .. } => Some(EditRefusal::ProcessingRestricted),
        PersonStatus::Erased { .. } => Some(EditRefusal::Erased),
        PersonStatus::Duplicate { .. } => Some(EditRefusal::Duplicate),
    };
    let mut refusals = Vec::new();
    for (field, value) in changes {
        if value.trim().is_empty() {
            continue;
        }
        if let Some(locked) = &locked {
            refusals.push((field.to_owned(), locked.clone()));
            continue;
        }
        if field.trim().eq_ignore_ascii_case(EMAIL_FIELD) {
            continue;
        }
        let refusal = data_consents_of(configuration, snapshot, field).find_map(|stored| {
            let state = snapshot.state_of(stored.id().as_str())?;
            (FieldRule::of(state.value, state.default) != FieldRule::Editable).then(|| {
                EditRefusal::ConsentRefuses {
                    consent: stored.id().clone(),
                    value: state.value,
                }
            })
        });
        if let Some(refusal) = refusal {
            refusals.push((field.to_owned(), refusal));
        }
    }
    refusals
}

/// The data consents of the person's module that cover `field`.
fn data_consents_of<'c>(
    configuration: &'c Configuration,
    snapshot: &PersonSnapshot,
    field: &str,
) -> impl Iterator<Item = &'c StoredDefinition> {
    let field = field.trim().to_owned();
    configuration
        .consents_of(&snapshot.record.module)
        .filter(move |stored| {
            matches!(&stored.definition.kind, ConsentKind::Data { field: covered }
                if covered.trim().eq_ignore_ascii_case(&field))
        })
}

/// The data fields whose values `events` require erased: each event that moved a data
/// consent to a value whose rule is [`FieldRule::LockedErased`] (not granted, or waiting
/// under default no). Field names as the consents name them, without repeats; never
/// `email` (see the module documentation).
pub fn fields_to_erase(configuration: &Configuration, events: &[ConsentEvent]) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for event in events {
        if FieldRule::of(event.to, event.default) != FieldRule::LockedErased {
            continue;
        }
        // Asked again about a new text of a consent they granted: the data they gave under
        // the earlier text stays until they answer (a refusal erases it) or the request
        // lapses.
        if event.from == ConsentValue::Granted && event.to == ConsentValue::Waiting {
            continue;
        }
        let Some(stored) = configuration.consent(event.consent.as_str()) else {
            continue;
        };
        if let ConsentKind::Data { field } = &stored.definition.kind {
            let field = field.trim();
            if !field.eq_ignore_ascii_case(EMAIL_FIELD)
                && !fields.iter().any(|known| known.eq_ignore_ascii_case(field))
            {
                fields.push(field.to_owned());
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::definition::PurposeVersion;
    use crate::event::Cause;
    use crate::person::ConsentState;
    use crate::record::{Module, RecordRef};

    #[test]
    fn the_field_rule_is_the_article_table() {
        use ConsentDefault::{No, Yes};
        use ConsentValue::*;
        let cases = [
            (NotApplicable, Yes, FieldRule::Editable),
            (NotApplicable, No, FieldRule::Editable),
            (Applicable, Yes, FieldRule::Locked),
            (Applicable, No, FieldRule::Locked),
            (Waiting, Yes, FieldRule::Editable),
            (Waiting, No, FieldRule::LockedErased),
            (Granted, Yes, FieldRule::Editable),
            (Granted, No, FieldRule::Editable),
            (NotGranted, Yes, FieldRule::LockedErased),
            (NotGranted, No, FieldRule::LockedErased),
        ];
        for (value, default, rule) in cases {
            assert_eq!(FieldRule::of(value, default), rule, "{value} {default:?}");
        }
    }

    fn configuration(default: ConsentDefault) -> Configuration {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        let mut phone = definition_input(
            "phone-calls",
            "contacts",
            ConsentKind::Data {
                field: "phone".to_owned(),
            },
        );
        phone.default = default;
        configuration.put_consent(phone, None).unwrap();
        configuration
    }

    fn person(value: Option<ConsentValue>, default: ConsentDefault) -> PersonSnapshot {
        let mut snapshot =
            PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), "Ada".to_owned());
        if let Some(value) = value {
            snapshot.consents.push(ConsentState {
                consent: ConsentId::parse("phone-calls").unwrap(),
                value,
                since: 1,
                purpose_version: 1,
                default,
            });
        }
        snapshot
    }

    #[test]
    fn edits_of_a_data_field_follow_its_consent_value() {
        use ConsentDefault::{No, Yes};
        use ConsentValue::*;
        let cases = [
            (None, No, false),
            (Some(NotApplicable), No, false),
            (Some(Applicable), Yes, true),
            (Some(Waiting), Yes, false),
            (Some(Waiting), No, true),
            (Some(Granted), No, false),
            (Some(NotGranted), Yes, true),
        ];
        for (value, default, refused) in cases {
            let configuration = configuration(default);
            let snapshot = person(value, default);
            let refusals = check_edit(
                Some(&snapshot),
                &configuration,
                [("phone", "+44 20 7946 0000"), ("city", "London")],
            );
            let expected: Vec<(String, EditRefusal)> = match value {
                Some(value) if refused => vec![(
                    "phone".to_owned(),
                    EditRefusal::ConsentRefuses {
                        consent: ConsentId::parse("phone-calls").unwrap(),
                        value,
                    },
                )],
                _ => Vec::new(),
            };
            assert_eq!(refusals, expected, "{value:?} {default:?}");
            // Emptying the field is always allowed.
            assert!(check_edit(Some(&snapshot), &configuration, [("phone", " ")]).is_empty());
        }
    }

    #[test]
    fn a_locked_person_refuses_every_edit_but_an_unknown_record_none() {
        let configuration = configuration(ConsentDefault::No);
        let cases = [
            (
                PersonStatus::Restricted { since: 1 },
                EditRefusal::ProcessingRestricted,
            ),
            (PersonStatus::Erased { since: 1 }, EditRefusal::Erased),
            (PersonStatus::Duplicate { since: 1 }, EditRefusal::Duplicate),
        ];
        for (status, refusal) in cases {
            let mut snapshot = person(Some(ConsentValue::Granted), ConsentDefault::No);
            snapshot.status = status;
            let refusals = check_edit(Some(&snapshot), &configuration, [("city", "Paris")]);
            assert_eq!(refusals, vec![("city".to_owned(), refusal.clone())]);
            assert!(
                refusal
                    .detail("city")
                    .starts_with("`city` cannot be edited")
            );
        }
        assert!(check_edit(None, &configuration, [("phone", "1")]).is_empty());
    }

    #[test]
    fn the_email_address_is_never_locked_or_erased_by_a_consent_value() {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        configuration
            .put_consent(
                definition_input(
                    "email-marketing",
                    "contacts",
                    ConsentKind::Data {
                        field: "email".to_owned(),
                    },
                ),
                None,
            )
            .unwrap();
        let mut snapshot =
            PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), "Ada".to_owned());
        snapshot.consents.push(ConsentState {
            consent: ConsentId::parse("email-marketing").unwrap(),
            value: ConsentValue::NotGranted,
            since: 1,
            purpose_version: 1,
            default: ConsentDefault::No,
        });
        assert!(
            check_edit(
                Some(&snapshot),
                &configuration,
                [("email", "ada@new.example")]
            )
            .is_empty()
        );
        let refused = ConsentEvent {
            at: 1,
            consent: ConsentId::parse("email-marketing").unwrap(),
            from: ConsentValue::Waiting,
            to: ConsentValue::NotGranted,
            purpose: PurposeVersion::first("News"),
            default: ConsentDefault::No,
            cause: Cause::RecordChange,
        };
        assert!(fields_to_erase(&configuration, &[refused]).is_empty());
    }

    #[test]
    fn refusing_or_waiting_under_default_no_erases_the_data_field() {
        use ConsentValue::*;
        let cases = [
            (Applicable, Applicable, ConsentDefault::No, false),
            (Applicable, Waiting, ConsentDefault::Yes, false),
            (Applicable, Waiting, ConsentDefault::No, true),
            (Applicable, Granted, ConsentDefault::No, false),
            (Applicable, NotGranted, ConsentDefault::Yes, true),
            (Applicable, NotApplicable, ConsentDefault::No, false),
            // Asked again about a new text: the data given under the old one stays.
            (Granted, Waiting, ConsentDefault::No, false),
        ];
        for (from, to, default, erased) in cases {
            let configuration = configuration(default);
            let event = ConsentEvent {
                at: 1,
                consent: ConsentId::parse("phone-calls").unwrap(),
                from,
                to,
                purpose: PurposeVersion::first("Calls"),
                default,
                cause: Cause::RecordChange,
            };
            let expected = if erased {
                vec!["phone".to_owned()]
            } else {
                Vec::new()
            };
            assert_eq!(
                fields_to_erase(&configuration, &[event.clone(), event]),
                expected,
                "{to} {default:?}"
            );
        }
    }
}
