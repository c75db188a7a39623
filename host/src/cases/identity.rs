//! The proportionate identity check: a short random code mailed to the address on record,
//! which the person reads back to the staff member handling the case. Never ID copies.
//!
//! Only the code's digest is stored (SHA-256 over the case id and the code), so a reader
//! of the case rows, a report or a backup does not see a code that still works. It is
//! not a secret against whoever holds the database: 31^8 codes can be tried offline, and
//! such a holder could as well mark the case verified; the check proves the person reads
//! the mailbox on record, not that staff are honest (every transition names its actor). A code expires after [`CODE_LIFETIME_MS`]; after
//! [`WRONG_CODES_ALLOWED`] wrong codes it is void and a new one must be mailed.

use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Characters of a code: no 0/O, 1/I/L, so it survives being read over the phone.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters per code: about 39 bits, against at most five guesses.
pub const CODE_LENGTH: usize = 8;
/// How long a code stays valid: seven days.
pub const CODE_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Wrong codes before the code is void.
pub const WRONG_CODES_ALLOWED: u32 = 5;

/// The identity check of a case, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CodeState {
    #[serde(skip)]
    pub digest: Option<[u8; 32]>,
    /// When the current code stops being accepted.
    pub code_expires_at: Option<i64>,
    /// Codes mailed so far (the first one included).
    pub codes_sent: u32,
    /// Wrong codes entered against the current code.
    pub wrong_codes: u32,
}

/// A code just made: the text goes into the mail only, the state into the case.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: String,
    pub state: CodeState,
}

/// Why a code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefused {
    #[error(
        "the code is wrong ({wrong} of {WRONG_CODES_ALLOWED} wrong codes); ask the person to read it again from the mail"
    )]
    Wrong { wrong: u32 },
    #[error(
        "the code is void after {WRONG_CODES_ALLOWED} wrong codes: mail a new one (`case resend-code`)"
    )]
    Void,
    #[error("the code expired: mail a new one (`case resend-code`)")]
    Expired,
}

/// A fresh random code for case `case_id`, valid from `now`.
pub fn issue(case_id: &str, now: i64) -> IssuedCode {
    let mut random = rand::rng();
    let code: String = (0..CODE_LENGTH)
        .map(|_| char::from(ALPHABET[random.random_range(0..ALPHABET.len())]))
        .collect();
    IssuedCode {
        state: CodeState {
            digest: Some(digest(case_id, &code)),
            code_expires_at: Some(now.saturating_add(CODE_LIFETIME_MS)),
            codes_sent: 1,
            wrong_codes: 0,
        },
        code,
    }
}

/// The code as a person reads it (`ABCD-EFGH`): groups of four.
pub fn spoken(code: &str) -> String {
    let characters: Vec<char> = code.chars().collect();
    characters
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

impl CodeState {
    /// Checks `entered` (spaces, dashes and case ignored) at `now`; a wrong code is counted.
    pub fn check(&mut self, case_id: &str, entered: &str, now: i64) -> Result<(), CodeRefused> {
        if self.wrong_codes >= WRONG_CODES_ALLOWED {
            return Err(CodeRefused::Void);
        }
        if self.code_expires_at.is_none_or(|expires| now >= expires) {
            return Err(CodeRefused::Expired);
        }
        let normalised: String = entered
            .chars()
            .filter(|character| !character.is_whitespace() && *character != '-')
            .map(|character| character.to_ascii_uppercase())
            .collect();
        if self.digest == Some(digest(case_id, &normalised)) {
            // Used: it cannot verify anything again (it reads as expired).
            self.digest = None;
            self.code_expires_at = None;
            return Ok(());
        }
        self.wrong_codes += 1;
        Err(CodeRefused::Wrong {
            wrong: self.wrong_codes,
        })
    }
}

fn digest(case_id: &str, code: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"privacy-guard/case-code\0");
    hasher.update(case_id.as_bytes());
    hasher.update(b"\0");
    hasher.update(code.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_once_read_back_in_any_case_with_dashes() {
        let issued = issue("case-1", 0);
        assert_eq!(issued.code.len(), CODE_LENGTH);
        let mut state = issued.state;
        let read_back = spoken(&issued.code.to_lowercase());
        assert_eq!(state.check("case-1", &read_back, 1), Ok(()));
        assert_eq!(
            state.check("case-1", &issued.code, 2),
            Err(CodeRefused::Expired),
            "a used code verifies nothing again"
        );
    }

    #[test]
    fn wrong_codes_are_counted_then_the_code_is_void() {
        let issued = issue("case-1", 0);
        let mut state = issued.state.clone();
        for wrong in 1..=WRONG_CODES_ALLOWED {
            assert_eq!(
                state.check("case-1", "WRONGONE", 1),
                Err(CodeRefused::Wrong { wrong })
            );
        }
        assert_eq!(
            state.check("case-1", &issued.code, 1),
            Err(CodeRefused::Void)
        );
    }

    #[test]
    fn a_code_expires_and_belongs_to_its_case() {
        let issued = issue("case-1", 0);
        let mut other_case = issued.state.clone();
        assert_eq!(
            other_case.check("case-2", &issued.code, 1),
            Err(CodeRefused::Wrong { wrong: 1 })
        );
        let mut late = issued.state;
        assert_eq!(
            late.check("case-1", &issued.code, CODE_LIFETIME_MS),
            Err(CodeRefused::Expired)
        );
    }
}
