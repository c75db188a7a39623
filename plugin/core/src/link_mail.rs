//! The "send me my link again" mail: a fresh preferences link for the person holding an
//! address, in their language, from the configured sender, with a stable message id.

use crate::address::Address;
use crate::calendar::Date;
use crate::configuration::Settings;
use crate::localisation::Texts;
use crate::mail::{Body, Format, MailMessage, Mailbox, stable_message_id};
use crate::record::RecordRef;
use crate::vocabulary::Language;

/// The id of the link mail to `record` in the interval window `window` (the time of the
/// mail divided by the interval): asked twice in one window, the same id, which the host's
/// outbox delivers once.
pub fn link_mail_message_id(record: &RecordRef, window: i64, sender: &Address) -> String {
    stable_message_id(
        "link-mail",
        &[
            record.module.as_str().as_bytes(),
            record.id.as_bytes(),
            window.to_string().as_bytes(),
        ],
        sender,
    )
}

/// What a link mail is made of.
#[derive(Debug, Clone, Copy)]
pub struct LinkMail<'a> {
    pub settings: &'a Settings,
    pub message_id: &'a str,
    pub to: &'a Address,
    /// The person's name (may be empty).
    pub name: &'a str,
    pub language: Language,
    /// The signed preferences link.
    pub link: &'a str,
    pub link_expires_at: i64,
}

impl LinkMail<'_> {
    /// The mail: who sends it and why, the link and its expiry, what to do if it was not
    /// asked for, and the organisation's name and postal address at the end.
    pub fn to_mail(&self) -> MailMessage {
        let settings = self.settings;
        let texts = Texts::of(self.language, settings.languages().template(self.language));
        let name = self.name.trim();
        MailMessage {
            message_id: self.message_id.to_owned(),
            from: Mailbox {
                address: settings.sender_address().to_string(),
                name: Some(settings.sender_name().to_owned()),
            },
            to: vec![Mailbox {
                address: self.to.to_string(),
                name: (!name.is_empty()).then(|| name.to_owned()),
            }],
            subject: texts.text(
                "link-again-subject",
                &[("organisation", settings.organisation())],
            ),
            text_body: self.body(&texts, name, Format::Text),
            html_body: Some(self.body(&texts, name, Format::Html)),
            headers: Vec::new(),
        }
    }

    fn body(&self, texts: &Texts, name: &str, format: Format) -> String {
        let expires = Date::of_instant(self.link_expires_at).to_string();
        let mut out = Body::new(texts, format);
        out.greeting(name);
        out.paragraph(
            "link-again-intro",
            &[("organisation", self.settings.organisation())],
        );
        out.link_paragraph("link-again-link", &[("link", self.link)]);
        out.paragraph("request-link-personal", &[("expires", &expires)]);
        out.paragraph("link-again-not-you", &[]);
        out.signature(self.settings);
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::tests::settings_input;
    use crate::record::Module;

    #[test]
    fn the_link_mail_carries_the_link_its_expiry_and_a_stable_id_per_window() {
        let settings = Settings::validate(settings_input()).unwrap();
        let record = RecordRef::new(Module::Contacts, "42");
        let to = Address::parse("ada@example.org").unwrap();
        let id = link_mail_message_id(&record, 7, settings.sender_address());
        assert_eq!(
            id,
            link_mail_message_id(&record, 7, settings.sender_address())
        );
        assert_ne!(
            id,
            link_mail_message_id(&record, 8, settings.sender_address())
        );
        assert!(id.starts_with("link-mail.") && !id.contains("42"), "{id}");
        let mail = LinkMail {
            settings: &settings,
            message_id: &id,
            to: &to,
            name: "Ada",
            language: Language::English,
            link: "https://crm.example.org/preferences/t0ken",
            link_expires_at: 1_714_557_600_000,
        };
        let english = mail.to_mail();
        assert!(english.text_body.starts_with("Hello Ada,"));
        assert!(
            english
                .text_body
                .contains("https://crm.example.org/preferences/t0ken")
        );
        assert!(english.text_body.contains("2024-05-01"));
        assert!(english.text_body.contains(settings.postal_address()));
        assert!(english.html_body.as_deref().is_some_and(|html| {
            html.contains("href=\"https://crm.example.org/preferences/t0ken\"")
        }));
        assert_eq!(english.to[0].address, "ada@example.org");
        assert_eq!(english.message_id, id);
        for language in [Language::German, Language::French, Language::Spanish] {
            let other = LinkMail { language, ..mail }.to_mail();
            assert_ne!(other.subject, english.subject, "{language:?}");
            assert!(
                other
                    .text_body
                    .contains("https://crm.example.org/preferences/t0ken")
            );
        }
    }
}
