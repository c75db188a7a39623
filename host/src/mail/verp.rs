//! VERP: the return path (SMTP `MAIL FROM`, which becomes `Return-Path`) of every mail the
//! host delivers names the mail, so that a bounce coming back to it is attributed to the
//! mail and its recipient even when the bounce itself is vague (`crate::feedback`).
//!
//! With the return path `bounces@example.org` (the SMTP URL's `return_path`), the mail
//! `<consent-request.3f2a…@example.org>` leaves with `MAIL FROM:<bounces+consent-request.
//! 3f2a…@example.org>`: the message id's local part (and `=` and its domain, when that is
//! not the return path's), never the recipient's address. The outbox knows the mail's
//! recipients by its message id. A mail whose return path would be longer than a local part
//! may be (64 characters) leaves with the sender's address, as without VERP.

/// The return path of the mail `message_id` under `return_path` (`bounces@example.org`);
/// `None` when the message id has a character a local part cannot carry plainly.
pub fn verp_address(return_path: &str, message_id: &str) -> Option<String> {
    let (local, domain) = return_path.rsplit_once('@')?;
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (id_local, id_domain) = id.rsplit_once('@')?;
    let encoded = if id_domain.eq_ignore_ascii_case(domain) {
        id_local.to_owned()
    } else {
        format!("{id_local}={id_domain}")
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '=');
    let address_local = format!("{local}+{encoded}");
    if encoded.is_empty()
        || !encoded.chars().all(plain)
        || encoded.contains("..")
        || address_local.len() > 64
    {
        return None;
    }
    Some(format!("{address_local}@{domain}"))
}

/// The message id (`<id@domain>`) a VERP address under `return_path` names; `None` for any
/// other address.
pub fn message_id_of(return_path: &str, address: &str) -> Option<String> {
    let (local, domain) = return_path.rsplit_once('@')?;
    let (address_local, address_domain) = address.trim().rsplit_once('@')?;
    if !address_domain.eq_ignore_ascii_case(domain) {
        return None;
    }
    let encoded = address_local.strip_prefix(local)?.strip_prefix('+')?;
    let (id, id_domain) = encoded.rsplit_once('=').unwrap_or((encoded, domain));
    (!id.is_empty() && !id_domain.is_empty()).then(|| format!("<{id}@{id_domain}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verp_address_names_the_mail_and_reads_back() {
        let address =
            verp_address("bounces@example.org", "<consent-request.3f2a@example.org>").unwrap();
        assert_eq!(address, "bounces+consent-request.3f2a@example.org");
        assert_eq!(
            message_id_of("bounces@example.org", &address).as_deref(),
            Some("<consent-request.3f2a@example.org>")
        );
        assert_eq!(
            message_id_of("bounces@example.org", "ada@example.org"),
            None
        );
        assert_eq!(
            message_id_of("bounces@example.org", "bounces@example.org"),
            None
        );
        assert_eq!(verp_address("bounces@example.org", "<a b@x>"), None);
        let other = verp_address("bounces@example.org", "<m.1@mail.example.net>").unwrap();
        assert_eq!(other, "bounces+m.1=mail.example.net@example.org");
        assert_eq!(
            message_id_of("bounces@example.org", &other).as_deref(),
            Some("<m.1@mail.example.net>")
        );
        let long = format!("<consent-request.{}@example.net>", "0".repeat(40));
        assert_eq!(verp_address("bounces@example.org", &long), None);
    }
}
