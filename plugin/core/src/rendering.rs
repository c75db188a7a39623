//! Per-recipient rendering of a mail: removing marked tracking from HTML and composing the
//! footer (preferences link, organisation, postal address). Pure functions, text in, text
//! out.
//!
//! # The tracking convention (see `sending.mail-content` in the WIT contract)
//!
//! - a tracking pixel is an `<img ...>` element carrying the attribute `data-pg-tracking`;
//! - a tracked link is an `<a ...>` element carrying `data-pg-original-href="URL"`, its
//!   `href` being the tracking redirect.
//!
//! [`strip_tracking`] removes the pixels and gives each tracked link its original `href`
//! back. It is a small, tolerant tag scanner, not an HTML parser: it looks only at `<img`
//! and `<a` start tags (names and attributes ignoring case, values in single, double or no
//! quotes), skips comments, and copies every other byte unchanged. A tag it cannot read to
//! its end (an unterminated quote, no `>`) is left as it is.

use crate::localisation::{Texts, escape_html};
use crate::sending::Obligations;
use crate::vocabulary::MessageClass;

/// Marks an `<img>` as a tracking pixel.
pub const TRACKING_PIXEL_ATTRIBUTE: &str = "data-pg-tracking";
/// Holds a tracked link's original address.
pub const ORIGINAL_HREF_ATTRIBUTE: &str = "data-pg-original-href";

/// A mail's subject and bodies, as the CRM composed it or as one recipient gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContent {
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
}

/// Which footer a recipient's mail must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterKind {
    /// The recipient's own preferences link, the organisation and its postal address.
    Preferences,
    /// The organisation and its postal address only (CAN-SPAM, marketing mail).
    PostalAddress,
}

/// The footer an allowed send needs: the preferences footer when the decision obliges it,
/// else the postal address for marketing mail, else none.
pub fn footer_kind(class: MessageClass, obligations: Obligations) -> Option<FooterKind> {
    if obligations.preferences_footer {
        Some(FooterKind::Preferences)
    } else if class == MessageClass::Marketing {
        Some(FooterKind::PostalAddress)
    } else {
        None
    }
}

/// What a footer says.
#[derive(Clone, Copy)]
pub struct Footer<'a> {
    /// The recipient's signed preferences link; none for a postal-address-only footer.
    pub preferences_link: Option<&'a str>,
    pub organisation: &'a str,
    pub postal_address: &'a str,
    /// The words, in the recipient's language.
    pub texts: &'a Texts,
}

impl Footer<'_> {
    /// The footer as plain text, starting with the usual `-- ` separator line.
    pub fn text(&self) -> String {
        let mut text = String::from("-- \n");
        if let Some(link) = self.preferences_link {
            text.push_str(&self.texts.text("footer-preferences", &[("link", link)]));
            text.push('\n');
        }
        text.push_str(self.organisation);
        text.push('\n');
        text.push_str(self.postal_address.trim_end());
        text.push('\n');
        text
    }

    /// The footer as HTML, every inserted value escaped.
    pub fn html(&self) -> String {
        let mut html = String::from("<div class=\"privacy-guard-footer\"><hr>");
        if let Some(link) = self.preferences_link {
            let words = self
                .texts
                .html("footer-preferences-html", &[("link", link)]);
            html.push_str(&format!("<p>{words}</p>"));
        }
        let address = self
            .postal_address
            .trim_end()
            .lines()
            .map(escape_html)
            .collect::<Vec<_>>()
            .join("<br>");
        html.push_str(&format!(
            "<p>{}<br>{address}</p></div>\n",
            escape_html(self.organisation)
        ));
        html
    }
}

/// `text` with `footer` appended after a blank line.
pub fn append_text_footer(text: &str, footer: &Footer<'_>) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(text);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&footer.text());
    out
}

/// `html` with `footer` inserted before the last `</body>` (ignoring case), or appended
/// when there is none.
pub fn append_html_footer(html: &str, footer: &Footer<'_>) -> String {
    let footer = footer.html();
    match find_ignoring_case_last(html, "</body") {
        Some(at) => format!("{}{footer}{}", &html[..at], &html[at..]),
        None => {
            let separator = if html.is_empty() || html.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            format!("{html}{separator}{footer}")
        }
    }
}

/// The mail one recipient gets: tracking removed when `strip`, and `footer` appended to
/// both bodies when given. The subject is never changed.
pub fn render(content: &MailContent, strip: bool, footer: Option<&Footer<'_>>) -> MailContent {
    let html_body = content.html_body.as_deref().map(|html| {
        let html = if strip {
            strip_tracking(html)
        } else {
            html.to_owned()
        };
        match footer {
            Some(footer) => append_html_footer(&html, footer),
            None => html,
        }
    });
    let text_body = match footer {
        Some(footer) => append_text_footer(&content.text_body, footer),
        None => content.text_body.clone(),
    };
    MailContent {
        subject: content.subject.clone(),
        text_body,
        html_body,
    }
}

fn find_ignoring_case_last(haystack: &str, needle: &str) -> Option<usize> {
    let haystack = haystack.as_bytes();
    let needle = needle.as_bytes();
    if needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .rev()
        .find(|&at| haystack[at..at + needle.len()].eq_ignore_ascii_case(needle))
}

/// One attribute of a start tag: byte ranges into the HTML.
#[derive(Debug, Clone, Copy)]
struct Attribute {
    /// From the whitespace before the name to the end of the value.
    start: usize,
    end: usize,
    name: (usize, usize),
    /// The value without its quotes, if the attribute has one.
    value: Option<(usize, usize)>,
}

/// A start tag read to its end: its attributes and the position after its `>`.
struct StartTag {
    attributes: Vec<Attribute>,
    end: usize,
}

/// `html` with marked tracking pixels removed and tracked links restored to their original
/// `href`; everything else byte for byte as it was.
pub fn strip_tracking(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    // `copied` is where the next unchanged stretch starts; `at` scans ahead.
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&byte| byte == b'<') {
        let open = at + offset;
        if bytes[open..].starts_with(b"<!--") {
            at = match html[open + 4..].find("-->") {
                Some(close) => open + 4 + close + 3,
                None => break,
            };
            continue;
        }
        let name_end = open
            + 1
            + bytes[open + 1..]
                .iter()
                .take_while(|byte| byte.is_ascii_alphanumeric())
                .count();
        let name = &bytes[open + 1..name_end];
        let is_img = name.eq_ignore_ascii_case(b"img");
        let is_anchor = name.eq_ignore_ascii_case(b"a");
        let followed_by_tag_end = bytes
            .get(name_end)
            .is_some_and(|byte| byte.is_ascii_whitespace() || matches!(byte, b'/' | b'>'));
        if !(is_img || is_anchor) || !followed_by_tag_end {
            at = open + 1;
            continue;
        }
        let Some(tag) = read_start_tag(bytes, name_end) else {
            at = open + 1;
            continue;
        };
        let named = |wanted: &str| {
            tag.attributes.iter().find(|attribute| {
                bytes[attribute.name.0..attribute.name.1].eq_ignore_ascii_case(wanted.as_bytes())
            })
        };
        if is_img && named(TRACKING_PIXEL_ATTRIBUTE).is_some() {
            out.push_str(&html[copied..open]);
            copied = tag.end;
        } else if is_anchor
            && let Some(original) = named(ORIGINAL_HREF_ATTRIBUTE)
            && let Some((value_start, value_end)) = original.value
        {
            let href = format!(
                " href=\"{}\"",
                html[value_start..value_end].replace('"', "&quot;")
            );
            let existing_href = named("href");
            out.push_str(&html[copied..open]);
            let mut position = open;
            for attribute in &tag.attributes {
                let is_original = attribute.start == original.start;
                let is_href =
                    existing_href.is_some_and(|existing| existing.start == attribute.start);
                if is_original || is_href {
                    out.push_str(&html[position..attribute.start]);
                    // The restored `href` takes the place of the old one, or of the data
                    // attribute when the link had no `href`.
                    if is_href || (is_original && existing_href.is_none()) {
                        out.push_str(&href);
                    }
                    position = attribute.end;
                }
            }
            out.push_str(&html[position..tag.end]);
            copied = tag.end;
        }
        at = tag.end;
    }
    out.push_str(&html[copied..]);
    out
}

/// Reads the attributes of a start tag from just after its name to its `>`; none when the
/// tag does not end (no `>`, an unterminated quote).
fn read_start_tag(bytes: &[u8], mut at: usize) -> Option<StartTag> {
    let mut attributes = Vec::new();
    loop {
        let start = at;
        while bytes
            .get(at)
            .is_some_and(|byte| byte.is_ascii_whitespace() || *byte == b'/')
        {
            at += 1;
        }
        match bytes.get(at)? {
            b'>' => {
                return Some(StartTag {
                    attributes,
                    end: at + 1,
                });
            }
            b'"' | b'\'' | b'=' | b'<' => return None,
            _ => {}
        }
        let name_start = at;
        while bytes.get(at).is_some_and(|byte| {
            !byte.is_ascii_whitespace() && !matches!(byte, b'=' | b'>' | b'/' | b'"' | b'\'')
        }) {
            at += 1;
        }
        let name = (name_start, at);
        let mut after_name = at;
        while bytes.get(after_name)?.is_ascii_whitespace() {
            after_name += 1;
        }
        let mut value = None;
        if bytes[after_name] == b'=' {
            at = after_name + 1;
            while bytes.get(at)?.is_ascii_whitespace() {
                at += 1;
            }
            match bytes[at] {
                quote @ (b'"' | b'\'') => {
                    let close = at + 1 + bytes[at + 1..].iter().position(|&byte| byte == quote)?;
                    value = Some((at + 1, close));
                    at = close + 1;
                }
                b'>' => return None,
                _ => {
                    let value_start = at;
                    while bytes
                        .get(at)
                        .is_some_and(|byte| !byte.is_ascii_whitespace() && *byte != b'>')
                    {
                        at += 1;
                    }
                    value = Some((value_start, at));
                }
            }
        }
        attributes.push(Attribute {
            start,
            end: at,
            name,
            value,
        });
    }
}

/// The RFC 8058 one-click unsubscription headers of a marketing mail relying on `purpose`,
/// for the person whose preferences link is `link`: `List-Unsubscribe: <LINK/unsubscribe/
/// PURPOSE>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. None for other
/// classes, or without a link (a recipient without a preferences footer). With an
/// `unsubscribe_mailbox` (the safeguard setting; empty: none), `List-Unsubscribe` also
/// carries `<mailto:MAILBOX?subject=unsubscribe%20TOKEN>`, the link's token, for mail
/// programs that unsubscribe by mail (RFC 2369); the host reads that mailbox.
pub fn unsubscribe_headers(
    class: MessageClass,
    purpose: Option<&str>,
    link: Option<&str>,
    unsubscribe_mailbox: &str,
) -> Vec<(String, String)> {
    match (class, purpose, link) {
        (MessageClass::Marketing, Some(purpose), Some(link)) => vec![
            (
                "List-Unsubscribe".to_owned(),
                match link_token(link) {
                    Some(token) if !unsubscribe_mailbox.trim().is_empty() => format!(
                        "<{link}/unsubscribe/{purpose}>, <mailto:{}?subject=unsubscribe%20{token}>",
                        unsubscribe_mailbox.trim()
                    ),
                    _ => format!("<{link}/unsubscribe/{purpose}>"),
                },
            ),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ],
        _ => Vec::new(),
    }
}

/// The token of a preferences link: what follows its last `/` or `=` (a token is base64url
/// without padding, so it holds neither).
fn link_token(link: &str) -> Option<&str> {
    link.rsplit(['/', '='])
        .next()
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mailto_unsubscribe_carries_the_links_token_only_when_a_mailbox_is_set() {
        let link = "https://example.org/preferences/abc_D-1.x9";
        let headers = unsubscribe_headers(MessageClass::Marketing, Some("news"), Some(link), "");
        assert_eq!(headers[0].1, format!("<{link}/unsubscribe/news>"));
        let headers = unsubscribe_headers(
            MessageClass::Marketing,
            Some("news"),
            Some(link),
            "unsubscribe@example.org",
        );
        assert_eq!(
            headers[0].1,
            format!(
                "<{link}/unsubscribe/news>, <mailto:unsubscribe@example.org?subject=unsubscribe%20abc_D-1.x9>"
            )
        );
        assert_eq!(link_token("https://x/p?token=ab.cd"), Some("ab.cd"));
    }

    #[test]
    fn marked_tracking_is_removed_and_everything_else_is_kept_byte_for_byte() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "a pixel is removed",
                "<p>Hi</p><img src=\"https://t.example/p.gif\" data-pg-tracking><p>Bye</p>",
                "<p>Hi</p><p>Bye</p>",
            ),
            (
                "a self-closing pixel with a value is removed",
                "a<IMG data-pg-tracking=\"1\" src='x.gif' />b",
                "ab",
            ),
            (
                "attribute names ignore case",
                "a<img SRC=x.gif Data-PG-Tracking>b",
                "ab",
            ),
            (
                "a tracked link gets its original href back",
                "<a href=\"https://t.example/r/1\" data-pg-original-href=\"https://example.org/offer\">Offer</a>",
                "<a href=\"https://example.org/offer\">Offer</a>",
            ),
            (
                "attributes in any order, single quotes, others kept",
                "<A class='x' data-pg-original-href='https://example.org/?a=1&amp;b=2' title=\"T\" HREF='https://t.example/r/2'>Go</A>",
                "<A class='x' title=\"T\" href=\"https://example.org/?a=1&amp;b=2\">Go</A>",
            ),
            (
                "a tracked link without href gets one",
                "<a data-pg-original-href=\"https://example.org/\" id=k>x</a>",
                "<a href=\"https://example.org/\" id=k>x</a>",
            ),
            (
                "a double quote inside a single-quoted original is escaped",
                "<a href=t data-pg-original-href='https://example.org/\"q'>x</a>",
                "<a href=\"https://example.org/&quot;q\">x</a>",
            ),
            (
                "unmarked images and links are untouched",
                "<img src=\"logo.png\" alt=\"Logo\"><a href=\"https://example.org/\">x</a><abbr title=a>A</abbr>",
                "<img src=\"logo.png\" alt=\"Logo\"><a href=\"https://example.org/\">x</a><abbr title=a>A</abbr>",
            ),
            (
                "a data-pg-tracking on a link or text outside tags is untouched",
                "<a href=x data-pg-tracking>x</a> data-pg-tracking <imgx data-pg-tracking>",
                "<a href=x data-pg-tracking>x</a> data-pg-tracking <imgx data-pg-tracking>",
            ),
            (
                "comments are left alone",
                "<!-- <img data-pg-tracking> --><img data-pg-tracking>",
                "<!-- <img data-pg-tracking> -->",
            ),
            (
                "an unterminated tag is left alone",
                "<p>x</p><img data-pg-tracking src=\"a.gif",
                "<p>x</p><img data-pg-tracking src=\"a.gif",
            ),
            (
                "an unterminated quote is left alone, later tags still handled",
                "<img data-pg-tracking alt=\"oops><p>é</p><img data-pg-tracking>",
                "<img data-pg-tracking alt=\"oops><p>é</p>",
            ),
            (
                "a lone < and non-ASCII text survive",
                "1 < 2 — Grüße <img data-pg-tracking/> ✓ <",
                "1 < 2 — Grüße  ✓ <",
            ),
            ("empty stays empty", "", ""),
        ];
        for (what, html, expected) in cases {
            assert_eq!(strip_tracking(html), *expected, "{what}");
        }
    }

    #[test]
    fn html_without_marked_tracking_is_byte_identical() {
        let html = "<!DOCTYPE html>\n<html><head><style>a{}</style></head><body>\n<p class=\"a\">Hello &amp; welcome</p>\n<a href='https://x.example/'>x</a><img src=x.png>\n</body></html>\n";
        assert_eq!(strip_tracking(html), html);
    }

    #[test]
    fn the_footer_kind_follows_the_obligations_and_marketing_always_has_an_address() {
        let footer = Obligations {
            preferences_footer: true,
            strip_tracking: true,
        };
        let plain = Obligations::default();
        let cases = [
            (MessageClass::AdHoc, footer, Some(FooterKind::Preferences)),
            (
                MessageClass::Marketing,
                footer,
                Some(FooterKind::Preferences),
            ),
            (MessageClass::AdHoc, plain, None),
            (
                MessageClass::Marketing,
                plain,
                Some(FooterKind::PostalAddress),
            ),
            (MessageClass::Workflow, plain, None),
            (MessageClass::Transactional, plain, None),
        ];
        for (class, obligations, expected) in cases {
            assert_eq!(footer_kind(class, obligations), expected, "{class:?}");
        }
    }

    fn footer(link: Option<&str>, texts: &Texts) -> String {
        let footer = Footer {
            preferences_link: link,
            organisation: "Smith & Sons <Ltd>",
            postal_address: "1 Example Street\nExampleton",
            texts,
        };
        format!("{}\u{0}{}", footer.text(), footer.html())
    }

    fn rendered(content: &MailContent, strip: bool, link: Option<&str>) -> MailContent {
        let texts = Texts::of(crate::vocabulary::Language::English, "");
        let footer = Footer {
            preferences_link: link,
            organisation: "Smith & Sons <Ltd>",
            postal_address: "1 Example Street\nExampleton",
            texts: &texts,
        };
        render(content, strip, Some(&footer))
    }

    #[test]
    fn the_footer_speaks_the_recipients_language() {
        use crate::vocabulary::Language;
        let english = footer(Some("https://x/p"), &Texts::of(Language::English, ""));
        for language in &Language::ALL[1..] {
            let theirs = footer(Some("https://x/p"), &Texts::of(*language, ""));
            assert_ne!(theirs, english, "{language}");
            assert!(
                theirs.contains("href=\"https://x/p\""),
                "{language}: {theirs}"
            );
        }
    }

    #[test]
    fn the_footer_ends_both_bodies_and_is_escaped_in_html() {
        let content = MailContent {
            subject: "S".into(),
            text_body: "Hello".into(),
            html_body: Some(
                "<html><body><p>Hello</p><img data-pg-tracking src=p.gif></BODY></html>".into(),
            ),
        };
        let link = "https://crm.example.org/p/a.b?x=1&y=\"2\"";
        let rendered = rendered(&content, true, Some(link));
        assert_eq!(rendered.subject, "S");
        assert_eq!(
            rendered.text_body,
            format!(
                "Hello\n\n-- \nChoose what you receive and what you allow on your preferences page:\n{link}\nSmith & Sons <Ltd>\n1 Example Street\nExampleton\n"
            )
        );
        let html = rendered.html_body.unwrap();
        assert_eq!(
            html,
            "<html><body><p>Hello</p><div class=\"privacy-guard-footer\"><hr><p>Choose what you receive and what you allow on <a href=\"https://crm.example.org/p/a.b?x=1&amp;y=&quot;2&quot;\">your preferences page</a>:<br>https://crm.example.org/p/a.b?x=1&amp;y=&quot;2&quot;</p><p>Smith &amp; Sons &lt;Ltd&gt;<br>1 Example Street<br>Exampleton</p></div>\n</BODY></html>"
        );
    }

    #[test]
    fn a_postal_footer_has_no_link_and_nothing_is_added_without_a_footer() {
        let content = MailContent {
            subject: "S".into(),
            text_body: "Hello\n".into(),
            html_body: Some("<p>Hi</p><img data-pg-tracking>".into()),
        };
        let postal = rendered(&content, false, None);
        assert_eq!(
            postal.text_body,
            "Hello\n\n-- \nSmith & Sons <Ltd>\n1 Example Street\nExampleton\n"
        );
        let html = postal.html_body.unwrap();
        assert!(
            html.starts_with("<p>Hi</p><img data-pg-tracking>\n<div"),
            "{html}"
        );
        assert!(!html.contains("<a "), "{html}");
        assert_eq!(render(&content, false, None), content);
        let without_html = MailContent {
            html_body: None,
            ..content
        };
        assert_eq!(render(&without_html, true, None).html_body, None);
    }
}
