//! The tenant's Ed25519 proof key, and the signed-note form of golang.org/x/mod/sumdb/note
//! that checkpoints are written in and verifier keys are published in.
//!
//! A verifier key is `<name>+<id>+<base64(0x01 || public key)>`, the id 8 hex digits: the
//! first four bytes of SHA-256(`<name>` `\n` 0x01 public key), big-endian. A signed note is
//! a text ending in a newline, a blank line, then a line per signature:
//! `— <name> <base64(id (4 bytes) || Ed25519 signature of the text)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::ProofError;

/// The algorithm byte of an Ed25519 key in a verifier key (the note format's).
const ED25519_ALGORITHM: u8 = 0x01;
/// What starts a signature line of a note: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The tenant's signing key with the name it signs under.
pub struct ProofKey {
    name: String,
    signing: SigningKey,
}

impl ProofKey {
    /// The key of `seed` (kept in the database, see `storage/keys.rs`). Its name is
    /// `privacy-guard-` and the first 8 hex digits of the SHA-256 of its public key, so a
    /// new key never takes an old one's name.
    pub fn from_seed(seed: &[u8; 32]) -> ProofKey {
        let signing = SigningKey::from_bytes(seed);
        let digest = Sha256::digest(signing.verifying_key().as_bytes());
        ProofKey {
            name: format!("privacy-guard-{}", hex::encode(&digest[..4])),
            signing,
        }
    }

    /// The public half, as a third party is given it.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey::new(self.name.clone(), self.signing.verifying_key())
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// `text` (which must end in a newline) as a signed note.
    pub fn sign_note(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let verifier = self.verifier();
        let mut signature = verifier.id.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.sign(text.as_bytes()).to_bytes());
        format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(signature)
        )
    }
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        formatter
            .debug_struct("ProofKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A public key that verifies signed notes and receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    fn new(name: String, key: VerifyingKey) -> VerifierKey {
        let id = key_id(&name, &key);
        VerifierKey { name, id, key }
    }

    /// The key's name, as signature lines carry it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads `<name>+<id>+<base64(0x01 || key)>`.
    pub fn parse(text: &str) -> Result<VerifierKey, ProofError> {
        let wrong = |why: &str| ProofError::VerifierKey {
            why: why.to_owned(),
        };
        // The key's base64 may itself hold `+`: only the first two separate parts.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(wrong("it is not three parts `name+id+key` joined by `+`"));
        };
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(wrong("the name is empty or holds a space"));
        }
        let id = (id.len() == 8)
            .then(|| u32::from_str_radix(id, 16).ok())
            .flatten()
            .ok_or_else(|| wrong("the id is not 8 hex digits"))?;
        let data = BASE64
            .decode(data)
            .map_err(|_| wrong("the key is not base64"))?;
        let (Some(&ED25519_ALGORITHM), Ok(bytes)) = (
            data.first(),
            <[u8; 32]>::try_from(&data[1.min(data.len())..]),
        ) else {
            return Err(wrong(
                "the key is not 0x01 and 32 bytes of an Ed25519 public key",
            ));
        };
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| wrong("the 32 bytes are not an Ed25519 public key"))?;
        let verifier = VerifierKey::new(name.to_owned(), key);
        if verifier.id != id {
            return Err(wrong(
                "the id does not match the name and key (a part was changed or mistyped)",
            ));
        }
        Ok(verifier)
    }

    /// The key as published: `<name>+<id>+<base64(0x01 || key)>`.
    pub fn text(&self) -> String {
        let mut data = vec![ED25519_ALGORITHM];
        data.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, BASE64.encode(data))
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), ProofError> {
        self.key
            .verify(message, signature)
            .map_err(|_| ProofError::BadSignature {
                key: self.name.clone(),
            })
    }

    /// The text of a signed note that this key signed. Signature lines of other keys are
    /// allowed (a witness may cosign); a line of this key's name must verify.
    pub fn open_note<'note>(&self, note: &'note str) -> Result<&'note str, ProofError> {
        let malformed = |why: &str| ProofError::NoteMalformed {
            why: why.to_owned(),
        };
        if !note.ends_with('\n') {
            return Err(malformed("it does not end in a newline"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("it has no blank line before its signatures"))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let mut found = false;
        for line in signatures.lines() {
            let (name, encoded) = line
                .strip_prefix(SIGNATURE_PREFIX)
                .and_then(|rest| rest.split_once(' '))
                .ok_or_else(|| malformed("a signature line is not `— name base64`"))?;
            let bytes = BASE64
                .decode(encoded)
                .map_err(|_| malformed("a signature is not base64"))?;
            if bytes.len() < 4 {
                return Err(malformed("a signature is shorter than its key id"));
            }
            let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if name != self.name || id != self.id {
                continue;
            }
            let signature =
                Signature::from_slice(&bytes[4..]).map_err(|_| ProofError::BadSignature {
                    key: self.name.clone(),
                })?;
            self.verify(text.as_bytes(), &signature)?;
            found = true;
        }
        if found {
            Ok(text)
        } else {
            Err(ProofError::NotSignedByKey { key: self.text() })
        }
    }
}

/// The note format's key id: the first four bytes of SHA-256(name, `\n`, 0x01, key).
fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ED25519_ALGORITHM]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verifier_key_reads_back_and_a_changed_part_is_refused() {
        // Keys whose base64 holds `+` too (about one in three).
        for seed in 0..32 {
            let key = ProofKey::from_seed(&[seed; 32]);
            let text = key.verifier().text();
            assert_eq!(VerifierKey::parse(&text).unwrap(), key.verifier(), "{text}");
        }
        let key = ProofKey::from_seed(&[7; 32]);
        let text = key.verifier().text();
        let other = ProofKey::from_seed(&[8; 32]).verifier().text();
        let (_, other_data) = other.rsplit_once('+').unwrap();
        let (prefix, _) = text.rsplit_once('+').unwrap();
        assert!(VerifierKey::parse(&format!("{prefix}+{other_data}")).is_err());
        assert!(VerifierKey::parse(&text.replacen("privacy", "privacz", 1)).is_err());
        assert!(VerifierKey::parse("name+0000+AQ==").is_err());
    }

    #[test]
    fn a_note_verifies_under_its_key_only_and_not_once_changed() {
        let key = ProofKey::from_seed(&[7; 32]);
        let note = key.sign_note("origin\n3\nAAAA\n");
        assert_eq!(
            key.verifier().open_note(&note).unwrap(),
            "origin\n3\nAAAA\n"
        );
        let stranger = ProofKey::from_seed(&[9; 32]).verifier();
        assert!(matches!(
            stranger.open_note(&note),
            Err(ProofError::NotSignedByKey { .. })
        ));
        let changed = note.replacen('3', "4", 1);
        assert!(matches!(
            key.verifier().open_note(&changed),
            Err(ProofError::BadSignature { .. })
        ));
    }

    /// The example of golang.org/x/mod/sumdb/note's documentation: its verifier key is
    /// read, and its signed note verifies, so our form is that package's.
    #[test]
    fn the_note_package_documentation_example_verifies() {
        let verifier = VerifierKey::parse(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        assert_eq!(
            verifier.open_note(note).unwrap(),
            "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
        );
    }
}
