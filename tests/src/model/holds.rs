//! What must hold after every step: the pre-send decision the decision table gives, and
//! which values must be gone from the host's storage.

use std::collections::BTreeSet;

use super::{ADDRESSES, Basis, Class, Consent, Expected, Model, Reason, Status, Value};

impl Model {
    /// The pre-send decision for `address` (naming no record), per the decision table.
    pub fn decide(
        &self,
        class: Class,
        purpose: Option<Consent>,
        to: bool,
        address: usize,
    ) -> Expected {
        let purpose_defined = purpose.is_some_and(|consent| self.defined(consent));
        let holder = self
            .owners
            .get(&address)
            .and_then(|record| self.person(*record));
        let status = match holder {
            Some(person) => Some(person.status),
            None if self.suppressed.contains(&address) => Some(Status::Erased),
            None => None,
        };
        let status_refusal = match status {
            Some(Status::Restricted) => Some(Reason::ProcessingRestricted),
            Some(Status::Erased) => Some(Reason::Erased),
            Some(Status::Duplicate) => Some(Reason::Duplicate),
            _ => None,
        };
        // A grant of a text before the last material change is decided as not asked yet.
        let outdated = match (purpose, holder) {
            (Some(consent), Some(person)) if purpose_defined => self.outdated(person, consent),
            _ => false,
        };
        let value = match (purpose, holder) {
            (Some(_), Some(_)) if outdated => Some(Value::Applicable),
            (Some(consent), Some(person)) if purpose_defined => Some(person.value(consent)),
            _ => None,
        };
        let mut awaiting_consent = false;
        let verdict = match class {
            Class::Transactional => match status {
                // The checks name no record, so an erased person is never "the" one named.
                Some(Status::Erased) => Err(Reason::Erased),
                Some(Status::Restricted) => Ok(Basis::LegalObligation),
                _ => Ok(Basis::Contract),
            },
            Class::AdHoc => status_refusal.map_or(Ok(Basis::LegitimateInterests), Err),
            Class::Workflow => match (
                purpose.is_some() && !purpose_defined,
                status_refusal,
                holder,
            ) {
                (true, _, _) => Err(Reason::PurposeUnknown),
                (_, Some(refusal), _) => Err(refusal),
                (_, None, None) => Ok(Basis::LegitimateInterests),
                (_, None, Some(_)) => match value {
                    Some(Value::NotGranted) => Err(Reason::ConsentRefused),
                    Some(Value::Granted) => Ok(Basis::Consent),
                    _ => Ok(Basis::LegitimateInterests),
                },
            },
            Class::Marketing => {
                if !purpose_defined {
                    Err(Reason::PurposeUnknown)
                } else if holder.is_none() && status == Some(Status::Erased) {
                    Err(Reason::Erased)
                } else if holder.is_none() {
                    Err(Reason::UnknownRecipient)
                } else if let Some(refusal) = status_refusal {
                    Err(refusal)
                } else if !to {
                    Err(Reason::NotAToRecipient)
                } else {
                    let default_yes = purpose.is_some_and(Consent::default_yes);
                    match value.unwrap_or(Value::NotApplicable) {
                        Value::Granted => Ok(Basis::Consent),
                        Value::Waiting if default_yes => {
                            awaiting_consent = true;
                            Ok(Basis::LegitimateInterests)
                        }
                        Value::Waiting => Err(Reason::ConsentPending),
                        Value::Applicable if outdated => Err(Reason::ConsentOutdated),
                        Value::Applicable => Err(Reason::ConsentNotRequested),
                        Value::NotGranted => Err(Reason::ConsentRefused),
                        Value::NotApplicable => Err(Reason::ConsentNotApplicable),
                    }
                }
            }
        };
        match verdict {
            Err(reason) => Expected::Refuse(reason),
            Ok(basis) => Expected::Allow {
                basis,
                footer: to && holder.is_some() && matches!(class, Class::AdHoc | Class::Marketing),
                awaiting_consent,
            },
        }
    }

    /// Values an erasure or a refusal removed that no record of the CRM holds any more:
    /// none of them may be readable anywhere (database files, outbox, logs). Addresses come
    /// in every way the model writes them.
    pub fn gone(&self) -> Vec<String> {
        let erased_phones = &self.erased_phones;
        let held_phones: BTreeSet<&str> = self
            .rows
            .values()
            .filter_map(|row| row.phone.as_deref())
            .collect();
        let held_addresses: BTreeSet<usize> = self
            .rows
            .values()
            .filter_map(|row| row.email.map(|(address, _)| address))
            .collect();
        let mut gone: Vec<String> = erased_phones
            .iter()
            .filter(|phone| !held_phones.contains(phone.as_str()))
            .cloned()
            .collect();
        for address in &self.suppressed {
            if !held_addresses.contains(address) {
                gone.push(ADDRESSES[*address].to_owned());
            }
        }
        gone
    }
}
