//! The consent request mail of the daily run: stable message id, text and HTML bodies.

use crate::address::Address;
use crate::calendar::Date;
use crate::configuration::Settings;
use crate::definition::StoredDefinition;
use crate::digest::sha256_hex;
use crate::record::RecordRef;

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
    let digest = sha256_hex(&[
        b"privacy-guard/consent-request\0",
        period.to_string().as_bytes(),
        b"\0",
        record.module.as_str().as_bytes(),
        b"\0",
        record.id.as_bytes(),
    ]);
    format!(
        "consent-request.{}@{}",
        &digest[..MESSAGE_ID_DIGITS],
        sender.domain()
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
}

impl ConsentRequest<'_> {
    /// The mail: who asks, every purpose with its exact text, the link and its expiry, and
    /// the organisation's name and postal address at the end.
    pub fn to_mail(&self) -> MailMessage {
        let settings = self.settings;
        let organisation = settings.organisation();
        let expires = Date::of_instant(self.link_expires_at);
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
            subject: match self.reminding_of {
                None => format!("{organisation} asks for your consent"),
                Some(_) => format!("Reminder: {organisation} asks for your consent"),
            },
            text_body: self.text_body(name, expires),
            html_body: Some(self.html_body(name, expires)),
            headers: Vec::new(),
        }
    }

    fn text_body(&self, name: &str, expires: Date) -> String {
        let settings = self.settings;
        let organisation = settings.organisation();
        let mut text = String::new();
        if name.is_empty() {
            text.push_str("Hello,\n\n");
        } else {
            push_line!(text, "Hello {name},\n");
        }
        if let Some(asked) = self.reminding_of {
            push_line!(
                text,
                "We asked you on {asked} and have not heard from you yet, so we ask once more.\n"
            );
        }
        push_line!(
            text,
            "{organisation} asks for your consent to use your personal data for the purposes \
             below. Please tell us what you allow. You can change your choices at any time, \
             as easily as you make them.\n"
        );
        for (number, stored) in self.consents.iter().enumerate() {
            let definition = &stored.definition;
            push_line!(
                text,
                "{}. {} (purpose text version {})",
                number + 1,
                definition.title,
                stored.purpose.version
            );
            // The purpose exactly as defined, unindented: it is what the person agrees to.
            text.push_str(&definition.purpose);
            if !definition.purpose.ends_with('\n') {
                text.push('\n');
            }
            if let Some(Some(agreed)) = self.agreed_versions.get(number) {
                push_line!(
                    text,
                    "(You agreed to version {agreed} of this text. It has changed, so we ask you again.)"
                );
            }
            text.push('\n');
        }
        push_line!(
            text,
            "Choose what you allow on your preferences page:\n{}\n",
            self.link
        );
        push_line!(
            text,
            "This link is personal. It works until {expires} (UTC).\n"
        );
        push_line!(text, "{}\n", settings.sender_name());
        push_line!(text, "{organisation}\n{}", settings.postal_address());
        text
    }

    fn html_body(&self, name: &str, expires: Date) -> String {
        let settings = self.settings;
        let organisation = escape_html(settings.organisation());
        let mut html =
            String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n");
        if name.is_empty() {
            html.push_str("<p>Hello,</p>\n");
        } else {
            push_line!(html, "<p>Hello {},</p>", escape_html(name));
        }
        if let Some(asked) = self.reminding_of {
            push_line!(
                html,
                "<p>We asked you on {asked} and have not heard from you yet, so we ask once more.</p>"
            );
        }
        push_line!(
            html,
            "<p>{organisation} asks for your consent to use your personal data for the purposes \
             below. Please tell us what you allow. You can change your choices at any time, as \
             easily as you make them.</p>"
        );
        html.push_str("<ol>\n");
        for (number, stored) in self.consents.iter().enumerate() {
            let definition = &stored.definition;
            let changed = match self.agreed_versions.get(number) {
                Some(Some(agreed)) => format!(
                    "<br><em>You agreed to version {agreed} of this text. It has changed, so we ask you again.</em>"
                ),
                _ => String::new(),
            };
            push_line!(
                html,
                "<li><strong>{}</strong> (purpose text version {})<br>{}{changed}</li>",
                escape_html(&definition.title),
                stored.purpose.version,
                escape_multiline(&definition.purpose)
            );
        }
        html.push_str("</ol>\n");
        let link = escape_html(self.link);
        push_line!(
            html,
            "<p><a href=\"{link}\">Choose what you allow on your preferences page</a><br>{link}</p>"
        );
        push_line!(
            html,
            "<p>This link is personal. It works until {expires} (UTC).</p>"
        );
        push_line!(html, "<p>{}</p>", escape_html(settings.sender_name()));
        push_line!(
            html,
            "<hr><p>{organisation}<br>{}</p>",
            escape_multiline(settings.postal_address())
        );
        html.push_str("</body></html>\n");
        html
    }
}

/// `text` with the characters HTML gives meaning to escaped.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
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
            agreed_versions: &[],
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
            "<strong>News &quot;letter&quot;</strong>",
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
            agreed_versions: &[Some(1), None],
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
            agreed_versions: &[],
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
}
