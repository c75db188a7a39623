//! Checkpoints of the event log in the transparency-log checkpoint form (C2SP
//! tlog-checkpoint) as a signed note: the origin line, the log's size, the base64 of the
//! chain hash after that many events, then the signature.
//!
//! ```text
//! privacy-guard-1a2b3c4d/events
//! 42
//! 5m1y0rK…=
//!
//! — privacy-guard-1a2b3c4d AbCd…
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::ProofError;
use super::signing::{ProofKey, VerifierKey};

/// A log's size and the chain hash after that many events, under its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub hash: [u8; 32],
}

/// The origin line of the log a key signs checkpoints of: the key's name and `/events`.
pub fn origin_of(verifier: &VerifierKey) -> String {
    format!("{}/events", verifier.name())
}

impl Checkpoint {
    /// The checkpoint's text (what is signed).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.hash)
        )
    }

    /// The checkpoint signed by `key`, as a signed note.
    pub fn sign(&self, key: &ProofKey) -> String {
        key.sign_note(&self.body())
    }

    /// Reads a signed checkpoint, checking its signature by `verifier` and that its
    /// origin is that key's log.
    pub fn open(note: &str, verifier: &VerifierKey) -> Result<Checkpoint, ProofError> {
        let text = verifier.open_note(note)?;
        let malformed = |why: &str| ProofError::CheckpointMalformed {
            why: why.to_owned(),
        };
        let mut lines = text.lines();
        let (Some(origin), Some(size), Some(hash)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed(
                "it has fewer than three lines (origin, size, hash)",
            ));
        };
        // Decimal digits only, without a sign or a leading zero (C2SP tlog-checkpoint).
        let canonical = size.bytes().all(|byte| byte.is_ascii_digit())
            && !(size.starts_with('0') && size.len() > 1);
        let size = canonical
            .then(|| size.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| malformed("the second line is not a size in decimal"))?;
        let hash = BASE64
            .decode(hash)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| malformed("the third line is not the base64 of a 32-byte hash"))?;
        let expected = origin_of(verifier);
        if origin != expected {
            return Err(ProofError::WrongOrigin {
                found: origin.to_owned(),
                expected,
            });
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_reads_back_and_a_changed_one_is_refused() {
        let key = ProofKey::from_seed(&[3; 32]);
        let verifier = key.verifier();
        let checkpoint = Checkpoint {
            origin: origin_of(&verifier),
            size: 42,
            hash: [5; 32],
        };
        let note = checkpoint.sign(&key);
        assert_eq!(Checkpoint::open(&note, &verifier).unwrap(), checkpoint);
        for (index, _) in note.char_indices() {
            let mut bytes = note.clone().into_bytes();
            bytes[index] ^= 0x01;
            if let Ok(changed) = String::from_utf8(bytes) {
                assert!(
                    Checkpoint::open(&changed, &verifier).is_err(),
                    "a checkpoint changed at byte {index} was accepted: {changed}"
                );
            }
        }
    }
}
