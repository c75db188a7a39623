//! Gathering everything held about a person for an export (`crate::export` writes it):
//! the record as the host keeps it (fields decrypted), the plugin's view and history of
//! the person's consents, the outbox's mail to their address, and their cases.

use super::cases::CASE_LIST_LIMIT;
use super::{Guard, GuardError};
use crate::cases::Case;
use crate::contract::types::RecordRef;
use crate::export::{Export, ExportFacts};
use crate::storage::RightsRequestFilter;

impl Guard {
    /// The export of everything held about `person`. A person the host has no record,
    /// consent or case of is refused as invalid input (an export of nothing would read as
    /// proof that nothing is held about someone the host never knew).
    pub fn export_person(&self, person: &RecordRef) -> Result<Export, GuardError> {
        let record = self.record(&person.module, &person.id)?;
        let subject = self.subject(person)?;
        let history = self.history(person)?;
        let rows = self.block_on(self.database().rights_requests(
            &RightsRequestFilter {
                person: Some((person.module.clone(), person.id.clone())),
                ..RightsRequestFilter::default()
            },
            CASE_LIST_LIMIT,
        ))?;
        let mut cases = Vec::new();
        for row in rows {
            let case =
                Case::from_row(row).map_err(|error| GuardError::Invalid(error.to_string()))?;
            let events = self.case_events(&case)?;
            cases.push((case, events));
        }
        if record.is_none() && subject.is_none() && history.is_empty() && cases.is_empty() {
            return Err(GuardError::Invalid(format!(
                "nothing is held about {}/{}: check the module and id",
                person.module, person.id
            )));
        }
        // The address on record, else the one the plugin knew; an erased person has none.
        let address = record
            .as_ref()
            .map(|record| record.normalised_email())
            .filter(|address| !address.is_empty())
            .or_else(|| subject.as_ref().map(|subject| subject.address.clone()))
            .filter(|address| !address.is_empty());
        let mail = match address {
            Some(address) => self.block_on(self.database().mail_to_address(&address))?,
            None => Vec::new(),
        };
        Ok(Export::of(&ExportFacts {
            person: person.clone(),
            generated_at: self.clock().now_millis(),
            record,
            subject,
            history,
            mail,
            cases,
        }))
    }
}
