//! Email addresses: the one normalised form people are keyed by, and the plausibility check.
//!
//! An address is normalised by trimming it and lower-casing it (the same rule the CRM's
//! `find-by-email` uses), and it is usable when it looks like `local@domain.tld`. The check
//! is deliberately plain and allocation-free: it runs for every recipient of every mail.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest address accepted (RFC 5321's path limit minus the angle brackets).
const MAX_ADDRESS_LEN: usize = 254;
/// Longest local part accepted (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;
/// Longest domain label accepted (RFC 1035).
const MAX_LABEL_LEN: usize = 63;

/// Why a text is not a usable address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("the address does not look like local@domain.tld")]
    Malformed,
}

/// A plausible email address in normalised form (trimmed, lower case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address(String);

impl Address {
    /// Normalises `raw` and checks that it looks like an address.
    pub fn parse(raw: &str) -> Result<Address, AddressError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(AddressError::Empty);
        }
        if !looks_like_address(trimmed) {
            return Err(AddressError::Malformed);
        }
        Ok(Address(normalise(trimmed)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;

    fn try_from(raw: String) -> Result<Address, AddressError> {
        Address::parse(&raw)
    }
}

impl From<Address> for String {
    fn from(address: Address) -> String {
        address.0
    }
}

/// Trims and lower-cases `raw`: the one form used for matching people.
pub fn normalise(raw: &str) -> String {
    let mut normalised = String::with_capacity(raw.len());
    push_normalised(&mut normalised, raw);
    normalised
}

/// Appends the normalised form of `raw` to `out` (ASCII fast path, no extra allocation).
pub fn push_normalised(out: &mut String, raw: &str) {
    let trimmed = raw.trim();
    if trimmed.is_ascii() {
        // One copy, then lower case in place: no per-character pushes.
        let start = out.len();
        out.push_str(trimmed);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&trimmed.to_lowercase());
    }
}

/// Whether `raw` (after trimming) looks like `local@domain.tld`. Case does not matter.
pub fn looks_like_address(raw: &str) -> bool {
    let address = raw.trim();
    if address.len() > MAX_ADDRESS_LEN {
        return false;
    }
    // A byte search, not `rsplit_once`: in the component its pattern searcher cost more than
    // the rest of the check.
    let Some(at) = address.bytes().rposition(|byte| byte == b'@') else {
        return false;
    };
    local_part_is_plausible(&address[..at]) && domain_is_plausible(&address[at + 1..])
}

fn local_part_is_plausible(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        // A byte window, not `str::contains`: its substring searcher costs more to set up
        // than the whole check on an address-sized string (measured on the hot path); and
        // bytes compared one by one, as a slice comparison is a `memcmp` call in wasm.
        && !local
            .as_bytes()
            .windows(2)
            .any(|pair| pair[0] == b'.' && pair[1] == b'.')
        && local_characters_are_plausible(local)
}

/// Characters a local part may not hold: whitespace, controls and these specials.
const LOCAL_SPECIALS: [char; 12] = ['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\'];

/// The ASCII characters a local part may not hold, by code: every ASCII whitespace and
/// control character is at or below the space, or DEL.
const LOCAL_REFUSED_ASCII: [bool; 128] = {
    let mut refused = [false; 128];
    let mut code = 0;
    while code <= b' ' as usize {
        refused[code] = true;
        code += 1;
    }
    refused[0x7f] = true;
    let mut index = 0;
    while index < LOCAL_SPECIALS.len() {
        refused[LOCAL_SPECIALS[index] as usize] = true;
        index += 1;
    }
    refused
};

/// No whitespace, controls or specials in the local part: one look-up per byte when it is
/// ASCII, the common case.
fn local_characters_are_plausible(local: &str) -> bool {
    if local.is_ascii() {
        local
            .bytes()
            .all(|byte| !LOCAL_REFUSED_ASCII[usize::from(byte & 0x7f)])
    } else {
        local.chars().all(|character| {
            !character.is_whitespace()
                && !character.is_control()
                && !LOCAL_SPECIALS.contains(&character)
        })
    }
}

fn domain_is_plausible(domain: &str) -> bool {
    let mut labels = 0_usize;
    // Split on bytes: '.' is ASCII, so every label is whole characters.
    for label in domain.as_bytes().split(|byte| *byte == b'.') {
        let plausible = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && label_characters_are_plausible(label);
        if !plausible {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

/// Letters, digits and hyphens only; on bytes when the label is ASCII.
fn label_characters_are_plausible(label: &[u8]) -> bool {
    if label.is_ascii() {
        label
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
    } else {
        std::str::from_utf8(label).is_ok_and(|label| {
            label
                .chars()
                .all(|character| character.is_alphanumeric() || character == '-')
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_are_accepted_and_others_refused() {
        let cases: &[(&str, bool)] = &[
            ("ada@example.org", true),
            ("  Ada.Lovelace+news@Example.ORG ", true),
            ("o'brien@mail.example.co.uk", true),
            ("jürgen@müller.de", true),
            ("a@b.cd", true),
            ("", false),
            ("   ", false),
            ("ada", false),
            ("ada@", false),
            ("@example.org", false),
            ("ada@example", false),
            ("ada@@example.org", false),
            ("ada@exa mple.org", false),
            ("ada lovelace@example.org", false),
            (".ada@example.org", false),
            ("ada.@example.org", false),
            ("a..da@example.org", false),
            ("ada@-example.org", false),
            ("ada@example-.org", false),
            ("ada@example..org", false),
            ("ada@example.org.", false),
            ("<ada@example.org>", false),
            ("ada@example.org\r\nBcc: eve@example.org", false),
            ("Ada <ada@example.org>", false),
        ];
        for (raw, expected) in cases {
            assert_eq!(looks_like_address(raw), *expected, "{raw:?}");
            assert_eq!(Address::parse(raw).is_ok(), *expected, "{raw:?}");
        }
    }

    #[test]
    fn the_ascii_test_of_a_local_part_refuses_what_the_character_test_refuses() {
        for byte in 0..0x80_u8 {
            let character = char::from(byte);
            let refused = character.is_whitespace()
                || character.is_control()
                || LOCAL_SPECIALS.contains(&character);
            assert_eq!(
                local_characters_are_plausible(&character.to_string()),
                !refused,
                "{character:?}"
            );
        }
    }

    #[test]
    fn overlong_addresses_are_refused() {
        let long_local = format!("{}@example.org", "a".repeat(65));
        let long_total = format!("ada@{}.org", "a.".repeat(130));
        assert!(!looks_like_address(&long_local));
        assert!(!looks_like_address(&long_total));
    }

    #[test]
    fn normalisation_trims_and_lower_cases() {
        let cases: &[(&str, &str)] = &[
            (" Ada@Example.ORG\t", "ada@example.org"),
            ("ÄDA@EXAMPLE.ORG", "äda@example.org"),
            ("plain@example.org", "plain@example.org"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalise(raw), *expected);
        }
    }

    #[test]
    fn a_parsed_address_is_normalised_and_knows_its_domain() {
        let address = Address::parse(" Ada@Example.ORG ").unwrap();
        assert_eq!(address.as_str(), "ada@example.org");
        assert_eq!(address.domain(), "example.org");
    }

    #[test]
    fn an_empty_address_is_reported_as_empty() {
        assert_eq!(Address::parse(" "), Err(AddressError::Empty));
        assert_eq!(Address::parse("nope"), Err(AddressError::Malformed));
    }
}
