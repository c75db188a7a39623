//! Encryption at rest of the record fields the plugin classifies `encrypted`.
//!
//! XChaCha20-Poly1305 with a random 24-byte nonce per value and the record's module, id and
//! field name as associated data (a value moved to another record or field does not
//! decrypt). A value is stored as text, `pgenc:v1:<key id>:<base64(nonce || ciphertext)>`,
//! so keys rotate: the newest key encrypts, every key decrypts. Keys live in the
//! `field_keys` table so every host process sharing the database reads alike. Neither keys
//! nor values ever appear in logs or `Debug` output.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, Key, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

/// The prefix of an encrypted value, with the format version.
const PREFIX: &str = "pgenc:v1:";
/// Bytes of an XChaCha20 nonce.
const NONCE_BYTES: usize = 24;

/// Why a field value cannot be encrypted or decrypted. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldCryptoError {
    /// The value names a key this host does not know (yet).
    #[error(
        "the field {field} of record {module}/{id} is encrypted under the unknown key {key_id}"
    )]
    UnknownKey {
        module: String,
        id: String,
        field: String,
        key_id: String,
    },
    /// The value is malformed, was altered, or belongs to another record or field.
    #[error(
        "the field {field} of record {module}/{id} cannot be decrypted: its stored value was altered or does not belong to it"
    )]
    Undecryptable {
        module: String,
        id: String,
        field: String,
    },
    #[error("no field-encryption key is loaded")]
    NoKey,
    /// The host does not know yet which fields are encrypted (the plugin has not
    /// answered): records are not written rather than written in plain text.
    #[error("records are not written until the plugin has said which fields are encrypted")]
    ClassesUnknown,
    /// The host never asked the plugin which fields of this module are encrypted (it asks
    /// about the modules that hold people and those it keeps records of): its records are
    /// not written rather than written on the guess that none is.
    #[error(
        "records of `{module}` are not written: the host has not learnt which of its fields are encrypted; make `{module}` a module that holds people (setting person-modules) and write its records through the host, which then asks the plugin"
    )]
    ModuleClassesUnknown { module: String },
    #[error("encrypting the field {field} of record {module}/{id} failed")]
    Encryption {
        module: String,
        id: String,
        field: String,
    },
}

/// A new random field key: (id, 32 secret bytes).
pub fn new_key() -> (String, Vec<u8>) {
    let key = Key::<XChaCha20Poly1305>::generate();
    (uuid::Uuid::now_v7().simple().to_string(), key.to_vec())
}

/// The field keys and which fields are encrypted, per module.
#[derive(Default)]
pub struct FieldCipher {
    /// (id, cipher), newest first; the first one encrypts.
    keys: Vec<(String, XChaCha20Poly1305)>,
    /// Module -> lower-case names of the fields to encrypt; `None` until the plugin said.
    /// A module missing from the map is one the plugin was never asked about: its
    /// records are refused, never written in plain text by default.
    encrypted: Option<HashMap<String, HashSet<String>>>,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, not even in debug output.
        formatter
            .debug_struct("FieldCipher")
            .field(
                "key_ids",
                &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .field("encrypted", &self.encrypted)
            .finish()
    }
}

impl FieldCipher {
    /// Replaces the keys: (id, secret), newest first. Secrets of the wrong length are
    /// skipped (values under them then fail to decrypt with `UnknownKey`).
    pub fn set_keys(&mut self, keys: Vec<(String, Vec<u8>)>) {
        self.keys = keys
            .into_iter()
            .filter_map(|(id, secret)| {
                XChaCha20Poly1305::new_from_slice(&secret)
                    .ok()
                    .map(|cipher| (id, cipher))
            })
            .collect();
    }

    /// Replaces the encrypted fields of every module: (module, field names). Records of a
    /// module not listed are refused from now on.
    pub fn set_encrypted_fields(&mut self, by_module: Vec<(String, Vec<String>)>) {
        self.encrypted = Some(
            by_module
                .into_iter()
                .map(|(module, fields)| {
                    let fields = fields.iter().map(|field| field.to_lowercase()).collect();
                    (module, fields)
                })
                .collect(),
        );
    }

    /// Whether the plugin has said which fields are encrypted.
    pub fn encrypted_fields_known(&self) -> bool {
        self.encrypted.is_some()
    }

    /// Whether `field` of `module` is stored encrypted. Before the plugin has answered, or
    /// for a module it was never asked about, an error rather than plain text.
    pub fn is_encrypted(&self, module: &str, field: &str) -> Result<bool, FieldCryptoError> {
        Ok(self
            .encrypted_fields_of(module)?
            .contains(&field.to_lowercase()))
    }

    /// The lower-case names of `module`'s encrypted fields, if the plugin was asked.
    fn encrypted_fields_of(&self, module: &str) -> Result<&HashSet<String>, FieldCryptoError> {
        self.encrypted
            .as_ref()
            .ok_or(FieldCryptoError::ClassesUnknown)?
            .get(module)
            .ok_or_else(|| FieldCryptoError::ModuleClassesUnknown {
                module: module.to_owned(),
            })
    }

    /// The fields as stored: the values of encrypted fields sealed, empty values kept empty.
    /// A record of a module the plugin was never asked about is refused whole, even one
    /// with nothing to seal.
    pub fn seal_fields(
        &self,
        module: &str,
        id: &str,
        fields: &[(String, String)],
    ) -> Result<Vec<(String, String)>, FieldCryptoError> {
        let encrypted = self.encrypted_fields_of(module)?;
        fields
            .iter()
            .map(|(field, value)| {
                if value.is_empty() || !encrypted.contains(&field.to_lowercase()) {
                    Ok((field.clone(), value.clone()))
                } else {
                    Ok((field.clone(), self.seal(module, id, field, value)?))
                }
            })
            .collect()
    }

    /// Stored fields with the values of encrypted fields that are still plain sealed, or
    /// `None` when there is none (a field classified `encrypted` after it was written).
    pub fn seal_plain_values(
        &self,
        module: &str,
        id: &str,
        stored: &[(String, String)],
    ) -> Result<Option<Vec<(String, String)>>, FieldCryptoError> {
        let encrypted = self.encrypted_fields_of(module)?;
        let mut changed = false;
        let mut sealed = Vec::with_capacity(stored.len());
        for (field, value) in stored {
            if !value.is_empty()
                && !value.starts_with(PREFIX)
                && encrypted.contains(&field.to_lowercase())
            {
                sealed.push((field.clone(), self.seal(module, id, field, value)?));
                changed = true;
            } else {
                sealed.push((field.clone(), value.clone()));
            }
        }
        Ok(changed.then_some(sealed))
    }

    /// The fields as read: every sealed value opened, whatever the field's class now.
    pub fn open_fields(
        &self,
        module: &str,
        id: &str,
        fields: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, FieldCryptoError> {
        fields
            .into_iter()
            .map(|(field, value)| {
                if value.starts_with(PREFIX) {
                    let plain = self.open(module, id, &field, &value)?;
                    Ok((field, plain))
                } else {
                    Ok((field, value))
                }
            })
            .collect()
    }

    fn seal(
        &self,
        module: &str,
        id: &str,
        field: &str,
        value: &str,
    ) -> Result<String, FieldCryptoError> {
        let (key_id, cipher) = self.keys.first().ok_or(FieldCryptoError::NoKey)?;
        let nonce = XNonce::generate();
        let aad = associated_data(module, id, field);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| FieldCryptoError::Encryption {
                module: module.to_owned(),
                id: id.to_owned(),
                field: field.to_owned(),
            })?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{key_id}:{}", BASE64.encode(sealed)))
    }

    fn open(
        &self,
        module: &str,
        id: &str,
        field: &str,
        stored: &str,
    ) -> Result<String, FieldCryptoError> {
        let undecryptable = || FieldCryptoError::Undecryptable {
            module: module.to_owned(),
            id: id.to_owned(),
            field: field.to_owned(),
        };
        let rest = stored.strip_prefix(PREFIX).ok_or_else(undecryptable)?;
        let (key_id, encoded) = rest.split_once(':').ok_or_else(undecryptable)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id)
            .ok_or_else(|| FieldCryptoError::UnknownKey {
                module: module.to_owned(),
                id: id.to_owned(),
                field: field.to_owned(),
                key_id: key_id.to_owned(),
            })?;
        let sealed = BASE64.decode(encoded).map_err(|_| undecryptable())?;
        if sealed.len() < NONCE_BYTES {
            return Err(undecryptable());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| undecryptable())?;
        let aad = associated_data(module, id, field);
        let plain = cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| undecryptable())?;
        String::from_utf8(plain).map_err(|_| undecryptable())
    }
}

/// Module, id and field, each length-prefixed so no two triples share a form.
fn associated_data(module: &str, id: &str, field: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(module.len() + id.len() + field.len() + 24);
    for part in [module, id, &field.to_lowercase()] {
        data.extend_from_slice(&(part.len() as u64).to_le_bytes());
        data.extend_from_slice(part.as_bytes());
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(keys: &[(&str, [u8; 32])]) -> FieldCipher {
        let mut cipher = FieldCipher::default();
        cipher.set_keys(
            keys.iter()
                .map(|(id, secret)| ((*id).to_owned(), secret.to_vec()))
                .collect(),
        );
        cipher.set_encrypted_fields(vec![("contacts".to_owned(), vec!["Phone".to_owned()])]);
        cipher
    }

    fn fields(phone: &str) -> Vec<(String, String)> {
        vec![
            ("email".to_owned(), "ada@example.org".to_owned()),
            ("phone".to_owned(), phone.to_owned()),
        ]
    }

    #[test]
    fn an_encrypted_field_round_trips_and_other_fields_stay_plain() {
        let cipher = cipher(&[("k1", [7; 32])]);
        let sealed = cipher
            .seal_fields("contacts", "1", &fields("+49 30 1234567"))
            .unwrap();
        assert_eq!(sealed[0].1, "ada@example.org");
        assert!(sealed[1].1.starts_with("pgenc:v1:k1:"), "{}", sealed[1].1);
        assert!(!sealed[1].1.contains("1234567"));
        let opened = cipher.open_fields("contacts", "1", sealed).unwrap();
        assert_eq!(opened, fields("+49 30 1234567"));
    }

    #[test]
    fn two_encryptions_of_one_value_differ() {
        let cipher = cipher(&[("k1", [7; 32])]);
        let first = cipher.seal_fields("contacts", "1", &fields("x")).unwrap();
        let second = cipher.seal_fields("contacts", "1", &fields("x")).unwrap();
        assert_ne!(first[1].1, second[1].1);
    }

    #[test]
    fn a_value_fails_to_decrypt_in_another_record_or_after_tampering() {
        let cipher = cipher(&[("k1", [7; 32])]);
        let sealed = cipher.seal_fields("contacts", "1", &fields("x")).unwrap();
        let moved = cipher.open_fields("contacts", "2", sealed.clone());
        assert!(matches!(moved, Err(FieldCryptoError::Undecryptable { .. })));
        let mut tampered = sealed;
        let value = &mut tampered[1].1;
        let last = value.pop().unwrap();
        value.push(if last == 'A' { 'B' } else { 'A' });
        let error = cipher.open_fields("contacts", "1", tampered).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("field phone of record contacts/1")
        );
    }

    #[test]
    fn values_under_an_old_key_decrypt_after_rotation() {
        let old = cipher(&[("k1", [7; 32])]);
        let sealed = old.seal_fields("contacts", "1", &fields("x")).unwrap();
        let rotated = cipher(&[("k2", [9; 32]), ("k1", [7; 32])]);
        assert_eq!(
            rotated.open_fields("contacts", "1", sealed).unwrap(),
            fields("x")
        );
        let resealed = rotated.seal_fields("contacts", "1", &fields("x")).unwrap();
        assert!(resealed[1].1.starts_with("pgenc:v1:k2:"));
    }

    #[test]
    fn only_plain_values_of_encrypted_fields_are_sealed_afterwards() {
        let cipher = cipher(&[("k1", [7; 32])]);
        let plain = fields("+49 30 1234567");
        let sealed = cipher
            .seal_plain_values("contacts", "1", &plain)
            .unwrap()
            .expect("the phone was plain");
        assert_eq!(sealed[0], plain[0]);
        assert!(sealed[1].1.starts_with("pgenc:v1:k1:"));
        assert_eq!(cipher.seal_plain_values("contacts", "1", &sealed), Ok(None));
        assert_eq!(
            cipher.seal_plain_values("contacts", "1", &fields("")),
            Ok(None)
        );
    }

    #[test]
    fn records_are_not_written_before_the_encrypted_fields_are_known() {
        let mut cipher = FieldCipher::default();
        cipher.set_keys(vec![("k1".to_owned(), vec![7; 32])]);
        assert_eq!(
            cipher.seal_fields("contacts", "1", &fields("x")),
            Err(FieldCryptoError::ClassesUnknown)
        );
    }

    #[test]
    fn a_record_of_a_module_the_plugin_was_never_asked_about_is_refused_naming_the_module() {
        let cipher = cipher(&[("k1", [7; 32])]);
        let unknown = FieldCryptoError::ModuleClassesUnknown {
            module: "accounts".to_owned(),
        };
        assert_eq!(
            cipher.is_encrypted("accounts", "phone"),
            Err(unknown.clone())
        );
        assert_eq!(
            cipher.seal_fields("accounts", "1", &fields("x")),
            Err(unknown.clone())
        );
        assert_eq!(
            cipher.seal_fields("accounts", "1", &fields("")),
            Err(unknown.clone()),
            "refused whole, also with nothing to seal"
        );
        assert_eq!(
            cipher.seal_plain_values("accounts", "1", &fields("x")),
            Err(unknown.clone())
        );
        let message = unknown.to_string();
        assert!(
            message.contains("`accounts`") && message.contains("setting person-modules"),
            "{message}"
        );
        // A module the plugin was asked about, with no encrypted field, is written plain.
        let mut known = cipher;
        known.set_encrypted_fields(vec![("accounts".to_owned(), Vec::new())]);
        assert_eq!(known.is_encrypted("accounts", "phone"), Ok(false));
        assert_eq!(
            known.seal_fields("accounts", "1", &fields("x")),
            Ok(fields("x"))
        );
        assert_eq!(
            known.seal_fields("contacts", "1", &fields("x")),
            Err(FieldCryptoError::ModuleClassesUnknown {
                module: "contacts".to_owned(),
            }),
            "the classes learnt replace the earlier ones"
        );
    }

    #[test]
    fn debug_output_shows_key_ids_but_no_secret() {
        let cipher = cipher(&[("k1", [7; 32])]);
        let printed = format!("{cipher:?} {cipher:#?}");
        assert!(printed.contains("k1"), "{printed}");
        crate::keys::tests::assert_secret_not_shown(&printed, &[7; 32]);
    }
}
