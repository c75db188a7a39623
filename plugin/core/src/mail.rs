//! The consent request mail of the daily run: stable message id, text and HTML bodies in
//! the person's language, and the [`Body`] every mail of the plugin is written with.

use crate::address::Address;
use crate::calendar::Date;
use crate::configuration::Settings;
use crate::definition::StoredDefinition;
use crate::digest::sha256_hex;
use crate::localisation::Texts;
pub use crate::localisation::escape_html;
use crate::record::RecordRef;
use crate::vocabulary::Language;

/// Appends one formatted line to a `String` (formatting into memory cannot fail, so there
/// is no `fmt::Result` to drop).
macro_rules! push_line {
    ($out:expr, $($format:tt)*) => {{
        $out.push_str(&format!($($format)*));
        $out.push('\n');
    }};
}

/// Hex digits of the digest kept in a message id.
const MESSAGE_ID_DIGITS: usize = 32;

/// A stable message id of the plugin's own mail: `KIND.<digest>@<the sender's domain>`, the
/// digest the first 32 hex digits of SHA-256 over `privacy-guard/KIND`, then each part, each
/// preceded by a NUL byte. The same kind and parts always give the same id, so a call run
/// again queues nothing new (the host's outbox delivers an id once).
pub fn stable_message_id(kind: &str, parts: &[&[u8]], sender: &Address) -> String {
    let tag = format!("privacy-guard/{kind}");
    let mut input: Vec<&[u8]> = Vec::with_capacity(1 + 2 * parts.len());
    input.push(tag.as_bytes());
    for part in parts {
        input.push(b"\0");
        input.push(part);
    }
    let digest = sha256_hex(&input);
    format!(
        "{kind}.{}@{}",
        &digest[..MESSAGE_ID_DIGITS],
        sender.domain()
    )
}

/// A mailbox: an address and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

/// A complete message, ready to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    /// Stable: the same logical message always gets the same id (no angle brackets).
    pub message_id: String,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// The id of the request mail of the daily run of `period` to `record`: the same period and
/// record always give the same id, so a re-run queues nothing new.
pub fn request_message_id(period: Date, record: &RecordRef, sender: &Address) -> String {
    stable_message_id(
        "consent-request",
        &[
            period.to_string().as_bytes(),
            record.module.as_str().as_bytes(),
            record.id.as_bytes(),
        ],
        sender,
    )
}

/// What a consent request mail is made of.
#[derive(Debug, Clone, Copy)]
pub struct ConsentRequest<'a> {
    pub settings: &'a Settings,
    pub message_id: &'a str,
    pub to: &'a Address,
    /// The person's name (may be empty).
    pub name: &'a str,
    /// The language the person reads.
    pub language: Language,
    /// The consents asked about, in the order shown.
    pub consents: &'a [&'a StoredDefinition],
    /// The signed preferences link.
    pub link: &'a str,
    pub link_expires_at: i64,
    /// A reminder of the request of this period, not yet answered; none for a request.
    pub reminding_of: Option<Date>,
    /// For each consent asked about (in the same order), the purpose version the person
    /// granted before its text changed materially: they are asked again about the new
    /// text. Empty: none.
    pub agreed_versions: &'a [Option<u32>],
    /// For each consent asked about (in the same order), the day the person's grant of it
    /// reaches the consent's maximum age: they are asked to renew it. Empty: none.
    pub renewals: &'a [Option<Date>],
}

impl ConsentRequest<'_> {
    /// The mail: who asks, every purpose with its exact text, the link and its expiry, and
    /// the organisation's name and postal address at the end, in the person's language
    /// with the tenant's template over it.
    pub fn to_mail(&self) -> MailMessage {
        let settings = self.settings;
        let texts = Texts::of(self.language, settings.languages().template(self.language));
        let organisation = settings.organisation();
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
                match self.reminding_of {
                    None => "request-subject",
                    Some(_) => "reminder-subject",
                },
                &[("organisation", organisation)],
            ),
            text_body: self.body(&texts, name, Format::Text),
            html_body: Some(self.body(&texts, name, Format::Html)),
            headers: Vec::new(),
        }
    }

    /// The body in `format`: the same paragraphs, as plain text or escaped HTML.
    fn body(&self, texts: &Texts, name: &str, format: Format) -> String {
        let settings = self.settings;
        let expires = Date::of_instant(self.link_expires_at).to_string();
        let mut out = Body::new(texts, format);
        out.greeting(name);
        if let Some(asked) = self.reminding_of {
            out.paragraph("reminder-intro", &[("asked", &asked.to_string())]);
        }
        out.paragraph(
            "request-intro",
            &[("organisation", settings.organisation())],
        );
        out.open_list();
        for (number, stored) in self.consents.iter().enumerate() {
            let (title, purpose) = stored.definition.texts_in(self.language);
            let version = stored.purpose.version.to_string();
            let heading = texts.text(
                "request-purpose",
                &[("title", title), ("version", &version)],
            );
            let agreed = match (self.agreed_versions.get(number), self.renewals.get(number)) {
                (Some(Some(agreed)), _) => Some(texts.text(
                    "request-purpose-changed",
                    &[("agreed", &agreed.to_string())],
                )),
                (_, Some(Some(expires))) => Some(texts.text(
                    "request-purpose-renew",
                    &[("expires", &expires.to_string())],
                )),
                _ => None,
            };
            out.purpose(number + 1, &heading, purpose, agreed.as_deref());
        }
        out.close_list();
        out.link_paragraph("request-link", &[("link", self.link)]);
        out.paragraph("request-link-personal", &[("expires", &expires)]);
        out.signature(settings);
        out.finish()
    }
}

/// Plain text or HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Html,
}

/// A mail body under construction: paragraphs of messages, in text or HTML.
pub struct Body<'t> {
    texts: &'t Texts,
    format: Format,
    out: String,
}

impl<'t> Body<'t> {
    pub fn new(texts: &'t Texts, format: Format) -> Body<'t> {
        let out = match format {
            Format::Text => String::new(),
            Format::Html => format!(
                "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"></head><body>\n",
                texts.language()
            ),
        };
        Body { texts, format, out }
    }

    /// "Hello NAME," or "Hello," for a person without a name.
    pub fn greeting(&mut self, name: &str) {
        if name.is_empty() {
            self.paragraph("greeting-anonymous", &[]);
        } else {
            self.paragraph("greeting", &[("name", name)]);
        }
    }

    /// Message `id` as a paragraph.
    pub fn paragraph(&mut self, id: &str, args: &[(&str, &str)]) {
        match self.format {
            Format::Text => push_line!(self.out, "{}\n", self.texts.text(id, args)),
            Format::Html => {
                push_line!(self.out, "<p>{}</p>", multiline(&self.texts.html(id, args)));
            }
        }
    }

    /// Message `id` carrying a link: in HTML its `-html` twin, with the link as an anchor.
    pub fn link_paragraph(&mut self, id: &str, args: &[(&str, &str)]) {
        match self.format {
            Format::Text => self.paragraph(id, args),
            Format::Html => {
                let html = self.texts.html(&format!("{id}-html"), args);
                push_line!(self.out, "<p>{html}</p>");
            }
        }
    }

    /// Lines one under the other, then a blank line (text only).
    pub fn lines(&mut self, lines: &[String]) {
        match self.format {
            Format::Text => {
                for line in lines {
                    push_line!(self.out, "{line}");
                }
                self.out.push('\n');
            }
            Format::Html => {
                let lines: Vec<String> = lines.iter().map(|line| escape_html(line)).collect();
                push_line!(self.out, "<p>{}</p>", lines.join("<br>"));
            }
        }
    }

    fn open_list(&mut self) {
        if self.format == Format::Html {
            self.out.push_str("<ol>\n");
        }
    }

    fn close_list(&mut self) {
        if self.format == Format::Html {
            self.out.push_str("</ol>\n");
        }
    }

    /// One numbered purpose: its heading, its exact text, and a note that it changed.
    fn purpose(&mut self, number: usize, heading: &str, purpose: &str, changed: Option<&str>) {
        match self.format {
            Format::Text => {
                push_line!(self.out, "{number}. {heading}");
                // The purpose exactly as defined, unindented: it is what the person agrees to.
                self.out.push_str(purpose);
                if !purpose.ends_with('\n') {
                    self.out.push('\n');
                }
                if let Some(changed) = changed {
                    push_line!(self.out, "({changed})");
                }
                self.out.push('\n');
            }
            Format::Html => {
                let changed = changed
                    .map(|changed| format!("<br><em>{}</em>", escape_html(changed)))
                    .unwrap_or_default();
                let heading = escape_html(heading);
                let purpose = escape_multiline(purpose);
                push_line!(
                    self.out,
                    "<li><strong>{heading}</strong><br>{purpose}{changed}</li>"
                );
            }
        }
    }

    /// The sender's name, then the organisation and its postal address.
    pub fn signature(&mut self, settings: &Settings) {
        self.paragraph("signature", &[("sender", settings.sender_name())]);
        let address = [
            ("organisation", settings.organisation()),
            ("address", settings.postal_address().trim_end()),
        ];
        match self.format {
            Format::Text => push_line!(self.out, "{}", self.texts.text("postal-footer", &address)),
            Format::Html => push_line!(
                self.out,
                "<hr><p>{}</p>",
                multiline(&self.texts.html("postal-footer", &address))
            ),
        }
    }

    pub fn finish(mut self) -> String {
        if self.format == Format::Html {
            self.out.push_str("</body></html>\n");
        }
        self.out
    }
}

/// Escaped HTML with its line breaks as `<br>`.
fn multiline(html: &str) -> String {
    html.lines().collect::<Vec<_>>().join("<br>")
}

/// Escaped `text` with its line breaks kept as `<br>`.
fn escape_multiline(text: &str) -> String {
    text.lines()
        .map(escape_html)
        .collect::<Vec<_>>()
        .join("<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Configuration;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::definition::ConsentKind;
    use crate::record::Module;

    #[test]
    fn a_stable_message_id_digests_its_kind_and_parts_each_after_a_nul() {
        let sender = Address::parse("consent@example.org").unwrap();
        let digest = sha256_hex(&[
            b"privacy-guard/consent-request\0",
            b"2026-12-01\0contacts\0",
            b"42",
        ]);
        assert_eq!(
            stable_message_id(
                "consent-request",
                &[b"2026-12-01", b"contacts", b"42"],
                &sender
            ),
            format!("consent-request.{}@example.org", &digest[..32])
        );
    }

    fn configuration() -> Configuration {
        let mut configuration = Configuration::default();
        let mut settings = settings_input();
        settings.organisation = "Smith & Sons <Ltd>".into();
        configuration.set_settings(settings).unwrap();
        let mut newsletter = definition_input("newsletter", "contacts", ConsentKind::Custom);
        newsletter.title = "News \"letter\"".into();
        newsletter.purpose = "We send news <b>monthly</b>.\nUnsubscribe any time.".into();
        configuration.put_consent(newsletter, None).unwrap();
        configuration
            .put_consent(
                definition_input("tracking", "contacts", ConsentKind::EmailTracking),
                None,
            )
            .unwrap();
        configuration
    }

    #[test]
    fn the_message_id_is_stable_per_period_and_record() {
        let sender = Address::parse("privacy@example.org").unwrap();
        let record = RecordRef::new(Module::Contacts, "42");
        let may_first = Date::parse("2024-05-01").unwrap();
        let id = request_message_id(may_first, &record, &sender);
        assert_eq!(id, request_message_id(may_first, &record, &sender));
        assert!(id.ends_with("@example.org"), "{id}");
        assert_eq!(
            id.len(),
            "consent-request.".len() + 32 + "@example.org".len()
        );
        let others = [
            request_message_id(Date::parse("2024-05-02").unwrap(), &record, &sender),
            request_message_id(may_first, &RecordRef::new(Module::Leads, "42"), &sender),
            request_message_id(may_first, &RecordRef::new(Module::Contacts, "43"), &sender),
        ];
        for other in others {
            assert_ne!(other, id);
        }
    }

    #[test]
    fn the_request_mail_says_who_asks_lists_every_purpose_and_ends_with_the_postal_address() {
        let configuration = configuration();
        let settings = configuration.settings().unwrap();
        let asked: Vec<_> = configuration.consents().iter().collect();
        let to = Address::parse("ada@example.org").unwrap();
        let request = ConsentRequest {
            settings,
            message_id: "id@example.org",
            to: &to,
            name: "Ada <Countess>",
            consents: &asked,
            link: "https://crm.example.org/preferences/abc.def?x=1&y=2",
            link_expires_at: 1_717_200_000_000,
            reminding_of: None,
            language: Language::English,
            agreed_versions: &[],
            renewals: &[],
        };
        let mail = request.to_mail();
        assert_eq!(mail.message_id, "id@example.org");
        assert_eq!(
            mail.from,
            Mailbox {
                address: "privacy@example.org".into(),
                name: Some("Privacy Team".into())
            }
        );
        assert_eq!(
            mail.to,
            [Mailbox {
                address: "ada@example.org".into(),
                name: Some("Ada <Countess>".into())
            }]
        );
        assert_eq!(mail.subject, "Smith & Sons <Ltd> asks for your consent");

        let text = &mail.text_body;
        let expected_in_text = [
            "Hello Ada <Countess>,",
            "Smith & Sons <Ltd> asks for your consent",
            "1. News \"letter\" (purpose text version 1)\nWe send news <b>monthly</b>.\nUnsubscribe any time.\n",
            "2. Title of tracking",
            "https://crm.example.org/preferences/abc.def?x=1&y=2",
            "It works until 2024-06-01 (UTC).",
        ];
        for expected in expected_in_text {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        assert!(
            text.trim_end()
                .ends_with("Smith & Sons <Ltd>\n1 Example Street\nExampleton"),
            "{text}"
        );

        let html = mail.html_body.unwrap();
        let expected_in_html = [
            "<p>Hello Ada &lt;Countess&gt;,</p>",
            "Smith &amp; Sons &lt;Ltd&gt; asks",
            "<strong>News &quot;letter&quot; (purpose text version 1)</strong>",
            "We send news &lt;b&gt;monthly&lt;/b&gt;.<br>Unsubscribe any time.",
            "href=\"https://crm.example.org/preferences/abc.def?x=1&amp;y=2\"",
            "until 2024-06-01 (UTC)",
            "<hr><p>Smith &amp; Sons &lt;Ltd&gt;<br>1 Example Street<br>Exampleton</p>",
        ];
        for expected in expected_in_html {
            assert!(html.contains(expected), "{expected:?} missing from\n{html}");
        }
        assert!(!html.contains("<b>monthly"), "{html}");
    }

    #[test]
    fn a_reminder_says_so_in_its_subject_and_first_lines() {
        let configuration = configuration();
        let to = Address::parse("ada@example.org").unwrap();
        let asked: Vec<_> = configuration.consents().iter().collect();
        let mail = ConsentRequest {
            settings: configuration.settings().unwrap(),
            message_id: "id@example.org",
            to: &to,
            name: "Ada",
            consents: &asked,
            link: "https://x.example/p/t",
            link_expires_at: 0,
            reminding_of: Some(Date::parse("2026-12-01").unwrap()),
            language: Language::English,
            agreed_versions: &[Some(1), None],
            renewals: &[],
        }
        .to_mail();
        assert!(mail.subject.starts_with("Reminder: "), "{}", mail.subject);
        assert!(
            mail.text_body
                .contains("We asked you on 2026-12-01 and have not heard from you yet"),
            "{}",
            mail.text_body
        );
        assert!(
            mail.html_body
                .unwrap()
                .contains("We asked you on 2026-12-01")
        );
    }

    #[test]
    fn a_person_without_a_name_is_greeted_plainly() {
        let configuration = configuration();
        let to = Address::parse("ada@example.org").unwrap();
        let asked: Vec<_> = configuration.consents().iter().collect();
        let mail = ConsentRequest {
            settings: configuration.settings().unwrap(),
            message_id: "id@example.org",
            to: &to,
            name: "  ",
            consents: &asked,
            link: "https://x.example/p/t",
            link_expires_at: 0,
            reminding_of: None,
            language: Language::English,
            agreed_versions: &[],
            renewals: &[],
        }
        .to_mail();
        assert_eq!(mail.to[0].name, None);
        assert!(mail.text_body.starts_with("Hello,\n"));
    }

    #[test]
    fn html_escaping_covers_every_special_character() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_request_speaks_the_persons_language_with_their_translation_and_the_tenants_words() {
        let mut configuration = Configuration::default();
        let mut settings = crate::configuration::tests::settings_input();
        settings.languages.templates = vec![(
            "de".into(),
            "request-subject = { $organisation } fragt nach Ihrer Zustimmung\n".into(),
        )];
        configuration.set_settings(settings).unwrap();
        let mut newsletter = definition_input("newsletter", "contacts", ConsentKind::Custom);
        newsletter.translations = vec![crate::configuration::TranslationInput {
            language: "de".into(),
            title: "Neuigkeiten".into(),
            purpose: "Wir senden Ihnen monatlich Neuigkeiten.".into(),
        }];
        configuration.put_consent(newsletter, None).unwrap();
        let to = Address::parse("ada@example.org").unwrap();
        let asked: Vec<_> = configuration.consents().iter().collect();
        let request = |language| {
            ConsentRequest {
                settings: configuration.settings().unwrap(),
                message_id: "id@example.org",
                to: &to,
                name: "Ada",
                language,
                consents: &asked,
                link: "https://x.example/p/t",
                link_expires_at: 0,
                reminding_of: None,
                agreed_versions: &[],
                renewals: &[],
            }
            .to_mail()
        };
        let german = request(Language::German);
        assert_eq!(german.subject, "Example Ltd fragt nach Ihrer Zustimmung");
        assert!(
            german.text_body.contains("Neuigkeiten"),
            "{}",
            german.text_body
        );
        assert!(
            german
                .text_body
                .contains("Wir senden Ihnen monatlich Neuigkeiten.")
        );
        assert!(german.text_body.contains("https://x.example/p/t"));
        assert!(german.html_body.unwrap().contains("<html lang=\"de\">"));
        // French has no translation of the purpose: the untranslated text, French words.
        let french = request(Language::French);
        assert!(french.text_body.contains("Purpose of newsletter."));
        assert_ne!(french.subject, request(Language::English).subject);
        assert!(!french.text_body.contains("Hello"), "{}", french.text_body);
    }
}
