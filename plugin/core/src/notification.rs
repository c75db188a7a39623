//! Consent notification settings (Vtiger: "Consent Notification settings govern how the
//! contacts are informed") and the confirmation mail they lead to.
//!
//! The request mail of the daily run and the notice that a restriction was lifted always
//! go out (the person must be asked; GDPR Art. 18(3) requires the notice). What the
//! setting `confirm-changes` governs is the confirmation after a change:
//!
//! | policy | the person changed it (page: grant, withdraw, stop processing) | recorded by someone else (admin, import, API) |
//! |---|---|---|
//! | `never` | no mail | no mail |
//! | `own-changes` (default) | confirmation | no mail |
//! | `every-change` | confirmation | confirmation |
//!
//! An erasure is never confirmed by mail: the address is gone the moment it is done, and
//! the page says so instead.

use crate::vocabulary::ConfirmationPolicy;

use crate::address::Address;
use crate::calendar::Date;
use crate::configuration::{Configuration, Settings};
use crate::consent::ConsentValue;
use crate::event::ConsentEvent;
use crate::localisation::Texts;
use crate::mail::{Body, Format, MailMessage, Mailbox, stable_message_id};
use crate::record::RecordRef;
use crate::vocabulary::Language;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOrigin {
    /// The person, on the preferences page.
    Person,
    /// Someone else recorded it (administrator, import, API).
    Recorded,
}

impl ConfirmationPolicy {
    /// Whether a change made by `origin` is confirmed by mail.
    pub fn confirms(self, origin: ChangeOrigin) -> bool {
        match self {
            ConfirmationPolicy::Never => false,
            ConfirmationPolicy::OwnChanges => origin == ChangeOrigin::Person,
            ConfirmationPolicy::EveryChange => true,
        }
    }
}

/// One change a confirmation lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmedChange {
    /// A consent (by its title) took a new value.
    Consent { title: String, value: ConsentValue },
    /// The person asked to stop processing.
    ProcessingStopped,
}

impl ConfirmedChange {
    /// The consent changes `events` made, by the titles of their consents (a consent the
    /// configuration no longer holds is left out).
    pub fn of_events(configuration: &Configuration, events: &[ConsentEvent]) -> Vec<Self> {
        events
            .iter()
            .filter_map(|event| {
                let stored = configuration.consent(event.consent.as_str())?;
                Some(ConfirmedChange::Consent {
                    title: stored.definition.title.clone(),
                    value: event.to,
                })
            })
            .collect()
    }
}

/// What a confirmation mail is made of.
#[derive(Debug, Clone, Copy)]
pub struct Confirmation<'a> {
    pub settings: &'a Settings,
    pub record: &'a RecordRef,
    pub to: &'a Address,
    /// The person's name (may be empty).
    pub name: &'a str,
    /// The language the person reads.
    pub language: Language,
    pub changes: &'a [ConfirmedChange],
    /// A signed preferences link, so the person can undo or change it again.
    pub link: &'a str,
    /// When the changes were made (unix ms).
    pub at: i64,
}

impl Confirmation<'_> {
    /// The stable id of this confirmation: the same record, time and changes always give
    /// the same id, so a call run again queues nothing new.
    pub fn message_id(&self) -> String {
        let changes: String = self.changes.iter().map(key).collect();
        stable_message_id(
            "change-confirmation",
            &[
                self.record.module.as_str().as_bytes(),
                self.record.id.as_bytes(),
                self.at.to_string().as_bytes(),
                changes.as_bytes(),
            ],
            self.settings.sender_address(),
        )
    }

    /// The mail, in the person's language with the tenant's template over it.
    pub fn to_mail(&self) -> MailMessage {
        let settings = self.settings;
        let texts = Texts::of(self.language, settings.languages().template(self.language));
        let organisation = settings.organisation();
        let name = self.name.trim();
        let mut body = Body::new(&texts, Format::Text);
        body.greeting(name);
        let date = Date::of_instant(self.at).to_string();
        body.paragraph(
            "confirmation-intro",
            &[("date", &date), ("organisation", organisation)],
        );
        let changes: Vec<String> = self
            .changes
            .iter()
            .map(|change| describe(&texts, change))
            .collect();
        body.lines(&changes);
        body.link_paragraph("confirmation-review", &[("link", self.link)]);
        body.paragraph("confirmation-not-you", &[]);
        body.signature(settings);
        MailMessage {
            message_id: self.message_id(),
            from: Mailbox {
                address: settings.sender_address().to_string(),
                name: Some(settings.sender_name().to_owned()),
            },
            to: vec![Mailbox {
                address: self.to.to_string(),
                name: (!name.is_empty()).then(|| name.to_owned()),
            }],
            subject: texts.text("confirmation-subject", &[("organisation", organisation)]),
            text_body: body.finish(),
            html_body: None,
            headers: Vec::new(),
        }
    }
}

/// What a change is, in no language: the message id's digest reads it.
fn key(change: &ConfirmedChange) -> String {
    match change {
        ConfirmedChange::Consent { title, value } => format!("{title}\0{value}\n"),
        ConfirmedChange::ProcessingStopped => "processing-stopped\n".to_owned(),
    }
}

/// One line of the list of changes.
fn describe(texts: &Texts, change: &ConfirmedChange) -> String {
    match change {
        ConfirmedChange::Consent { title, value } => texts.text(
            "confirmation-consent",
            &[("title", title), ("value", value.as_str())],
        ),
        ConfirmedChange::ProcessingStopped => texts.text("confirmation-processing-stopped", &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::tests::settings_input;
    use crate::record::Module;

    #[test]
    fn each_policy_confirms_the_changes_its_row_of_the_table_names() {
        let cases = [
            (ConfirmationPolicy::Never, ChangeOrigin::Person, false),
            (ConfirmationPolicy::Never, ChangeOrigin::Recorded, false),
            (ConfirmationPolicy::OwnChanges, ChangeOrigin::Person, true),
            (
                ConfirmationPolicy::OwnChanges,
                ChangeOrigin::Recorded,
                false,
            ),
            (ConfirmationPolicy::EveryChange, ChangeOrigin::Person, true),
            (
                ConfirmationPolicy::EveryChange,
                ChangeOrigin::Recorded,
                true,
            ),
        ];
        for (policy, origin, expected) in cases {
            assert_eq!(policy.confirms(origin), expected, "{policy:?} {origin:?}");
            assert_eq!(ConfirmationPolicy::parse(policy.as_str()), Some(policy));
        }
        assert_eq!(
            ConfirmationPolicy::default(),
            ConfirmationPolicy::OwnChanges
        );
        assert_eq!(ConfirmationPolicy::parse("always"), None);
    }

    #[test]
    fn the_confirmation_lists_every_change_and_its_id_depends_on_them() {
        let settings = Settings::validate(settings_input()).unwrap();
        let record = RecordRef::new(Module::Contacts, "42");
        let to = Address::parse("ada@example.org").unwrap();
        let changes = [
            ConfirmedChange::Consent {
                title: "Newsletter".to_owned(),
                value: ConsentValue::Granted,
            },
            ConfirmedChange::Consent {
                title: "Phone calls".to_owned(),
                value: ConsentValue::NotGranted,
            },
        ];
        let confirmation = Confirmation {
            settings: &settings,
            record: &record,
            to: &to,
            name: "Ada",
            language: Language::English,
            changes: &changes,
            link: "https://crm.example.org/preferences/t0ken",
            at: 1_714_557_600_000,
        };
        let mail = confirmation.to_mail();
        // In another language: the same changes in its words, the same message id.
        let german = Confirmation {
            language: Language::German,
            ..confirmation
        };
        let in_german = german.to_mail();
        assert_eq!(in_german.message_id, mail.message_id);
        assert!(
            in_german.text_body.contains("- Newsletter: "),
            "{}",
            in_german.text_body
        );
        assert!(
            !in_german.text_body.contains(": granted"),
            "{}",
            in_german.text_body
        );
        assert_ne!(in_german.subject, mail.subject);
        assert!(mail.text_body.starts_with("Hello Ada,"));
        assert!(mail.text_body.contains("- Newsletter: granted\n"));
        assert!(mail.text_body.contains("- Phone calls: not granted"));
        assert!(
            mail.text_body
                .contains("https://crm.example.org/preferences/t0ken")
        );
        assert!(mail.text_body.contains("2024-05-01"));
        assert!(mail.text_body.contains(settings.postal_address()));
        assert_eq!(mail.to[0].address, "ada@example.org");
        assert_eq!(mail.message_id, confirmation.message_id());
        let fewer = Confirmation {
            changes: &changes[..1],
            ..confirmation
        };
        assert_ne!(fewer.message_id(), confirmation.message_id());
    }
}
