//! Personal-data classification of CRM fields, per module: personal or not, essential
//! (operational) or not, sensitive, encrypted at rest by the host.
//!
//! The host asks for the classes to learn which fields it must encrypt; the administrator
//! gets the sensitive marketing fields that still lack a data consent as suggestions
//! (Vtiger: "fields marked as sensitive will be added to the Consents page by default").

use serde::{Deserialize, Serialize};

/// Most fields per module the host encrypts at rest: each encrypted field costs a
/// decryption on every read of every record.
pub const MAX_ENCRYPTED_FIELDS: usize = 5;

/// How one field of a module is classified. `essential`, `sensitive` and `encrypted`
/// qualify personal data and so require `personal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldClass {
    /// The field's name as the CRM has it, trimmed.
    pub field: String,
    /// The field holds personal data.
    pub personal: bool,
    /// Needed for operations (invoices, orders) rather than marketing.
    pub essential: bool,
    /// Special or sensitive personal data.
    pub sensitive: bool,
    /// The host stores the field's values encrypted.
    pub encrypted: bool,
}

impl FieldClass {
    /// A personal field that is neither essential, nor sensitive, nor encrypted.
    pub fn personal(field: &str) -> FieldClass {
        FieldClass {
            field: field.to_owned(),
            personal: true,
            essential: false,
            sensitive: false,
            encrypted: false,
        }
    }

    /// Whether the field should get a data consent: sensitive personal data used for
    /// more than operations.
    pub fn wants_data_consent(&self) -> bool {
        self.personal && self.sensitive && !self.essential
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sensitive_non_essential_personal_fields_want_a_data_consent() {
        let cases: &[(bool, bool, bool, bool)] = &[
            // personal, essential, sensitive, wanted
            (true, false, true, true),
            (true, true, true, false),
            (true, false, false, false),
            (false, false, true, false),
        ];
        for (personal, essential, sensitive, wanted) in cases {
            let class = FieldClass {
                field: "phone".to_owned(),
                personal: *personal,
                essential: *essential,
                sensitive: *sensitive,
                encrypted: false,
            };
            assert_eq!(class.wants_data_consent(), *wanted, "{class:?}");
        }
    }
}
