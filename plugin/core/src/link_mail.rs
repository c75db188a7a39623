//! The "send me my link again" mail: a fresh preferences link for the person holding an
//! address, in their language, from the configured sender, with a stable message id.

use crate::address::Address;
use crate::calendar::Date;
use crate::configuration::Settings;
use crate::digest::sha256_hex;
use crate::localisation::Texts;
use crate::mail::{Body, Format, MailMessage, Mailbox};
use crate::record::RecordRef;
use crate::vocabulary::Language;

/// Hex digits of the digest kept in a message id.
const MESSAGE_ID_DIGITS: usize = 32;

/// The id of the link mail to `record` in the interval window `window` (the time of the
/// mail divided by the interval): asked twice in one window, the same id, which the host's
/// outbox delivers once.
pub fn link_mail_message_id(record: &RecordRef, window: i64, sender: &Address) -> String {
    let digest = sha256_hex(&[
        b"privacy-guard/link-mail\0",
        record.module.as_str().as_bytes(),
        b"\0",
        record.id.as_bytes(),
        b"\0",
        window.to_string().as_bytes(),
    ]);
    format!(
        "link-mail.{}@{}",
        &digest[..MESSAGE_ID_DIGITS],
        sender.domain()
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
