//! SHA-256 fingerprints in lower-case hex: purpose texts, message ids, link ids.

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

/// The bytes of lower- or upper-case hex `text`, if it is hex of whole bytes.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

/// Lower-case hex SHA-256 of the concatenation of `parts`.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    to_hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_text_matches_the_published_vector() {
        assert_eq!(
            sha256_hex(&[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex(&[b"a", b"bc"]), sha256_hex(&[b"abc"]));
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("00ff10", Some(&[0x00, 0xff, 0x10])),
            ("ABcd", Some(&[0xab, 0xcd])),
            ("", Some(&[])),
            ("abc", None),
            ("zz", None),
        ];
        for (text, expected) in cases {
            assert_eq!(from_hex(text).as_deref(), *expected, "{text}");
        }
        assert_eq!(to_hex(&[0x00, 0xff, 0x10]), "00ff10");
    }
}
