//! The proof a third party can check, as host operations (`crate::proof` makes and checks
//! it): the tenant's verifier key, signed checkpoints, the log checked against one,
//! receipts of a person's answers and of a preferences link's answers, and the page's
//! submission that notes which link gave which answers.

use super::{Guard, GuardError};
use crate::contract::preferences::{Choice, Evidence, LinkError, Page, SubmitError};
use crate::contract::types::RecordRef;
use crate::proof::{
    self, LogConsistency, ProofError, ProofKey, SignedCheckpoint, SignedReceipt, VerifierKey,
};
use crate::storage::UnitOfWork;

impl Guard {
    /// The tenant's proof-signing key, made on first use.
    fn proof_signing_key(&self) -> Result<ProofKey, GuardError> {
        Ok(self.block_on(proof::proof_key(self.database(), self.clock().now_millis()))?)
    }

    /// The tenant's public verifier key, as third parties are given it.
    pub fn proof_verifier_key(&self) -> Result<VerifierKey, GuardError> {
        Ok(self.proof_signing_key()?.verifier())
    }

    /// Signs a checkpoint of the event log as it is now, and keeps it.
    pub fn sign_checkpoint(&self) -> Result<SignedCheckpoint, GuardError> {
        let key = self.proof_signing_key()?;
        Ok(self.block_on(proof::sign_checkpoint(
            self.database(),
            &key,
            self.clock().now_millis(),
        ))?)
    }

    /// Signs and keeps a checkpoint after a daily run has finished (three queries and a
    /// signature, whatever the log's size), so the log is fixed at least once a day without
    /// an operator. A failure is logged: it must not fail the run, whose mail is sent.
    pub(super) fn checkpoint_after_daily_run(&self) {
        match self.sign_checkpoint() {
            Ok(signed) => {
                tracing::info!(
                    size = signed.checkpoint.size,
                    "checkpoint of the event log signed after the daily run"
                )
            }
            Err(error) => {
                tracing::error!(%error, "the checkpoint after the daily run could not be signed; sign one with `privacy-guard checkpoint`")
            }
        }
    }

    /// The latest checkpoint signed, as its signed note.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, GuardError> {
        Ok(self
            .block_on(self.database().latest_checkpoint())?
            .map(|(_, note)| note))
    }

    /// Checks the log against a signed checkpoint (see [`proof::verify_log`]); `verifier`
    /// defaults to the tenant's own key. A log that fails the check is the inner error.
    pub fn verify_log(
        &self,
        note: &str,
        verifier: Option<&VerifierKey>,
    ) -> Result<Result<LogConsistency, ProofError>, GuardError> {
        let own;
        let verifier = match verifier {
            Some(verifier) => verifier,
            None => {
                own = self.proof_verifier_key()?;
                &own
            }
        };
        match self.block_on(proof::verify_log(self.database(), note, verifier)) {
            Err(ProofError::Storage(error)) => Err(error.into()),
            outcome => Ok(outcome),
        }
    }

    /// The signed receipt of `person`'s answer recorded by event `sequence`, or of their
    /// latest answer. A person without such an answer is the inner error.
    pub fn receipt(
        &self,
        person: &RecordRef,
        sequence: Option<u64>,
    ) -> Result<Result<SignedReceipt, ProofError>, GuardError> {
        let key = self.proof_signing_key()?;
        let configuration = self.configuration()?;
        let stream = format!("{}/{}", person.module, person.id);
        match self.block_on(proof::receipt(
            self.database(),
            &key,
            &configuration,
            &stream,
            sequence,
            self.clock().now_millis(),
        )) {
            Err(ProofError::Storage(error)) => Err(error.into()),
            outcome => Ok(outcome),
        }
    }

    /// The page a signed link opens (as [`Guard::open_preferences`]) with the receipts of
    /// the answers given through that link; a link the plugin refuses gets nothing.
    pub fn open_preferences_with_receipts(
        &self,
        token: &str,
    ) -> Result<Result<(Page, Vec<SignedReceipt>), LinkError>, GuardError> {
        Ok(self
            .open_preferences(token)?
            .map(|page| (page, self.receipts_of_verified_link(token))))
    }

    /// The receipts of the answers given through `token`, which the plugin has just
    /// verified. A failure is logged and leaves the page without receipts: it must not
    /// keep a person from their choices.
    fn receipts_of_verified_link(&self, token: &str) -> Vec<SignedReceipt> {
        let receipts = || -> Result<Vec<SignedReceipt>, GuardError> {
            let answers = self.block_on(proof::page_answers(self.database(), token))?;
            // Most page views are of links with no answer yet: no key, no configuration.
            if answers.is_empty() {
                return Ok(Vec::new());
            }
            let key = self.proof_signing_key()?;
            let configuration = self.configuration()?;
            Ok(self.block_on(proof::sign_answers(
                self.database(),
                &key,
                &configuration,
                answers,
                self.clock().now_millis(),
            ))?)
        };
        receipts().unwrap_or_else(|error| {
            tracing::error!(%error, "the receipts of a preferences link could not be made; the page is shown without them");
            Vec::new()
        })
    }

    /// [`Guard::submit_preferences`] that also notes which stream and link the answers
    /// were written with, so the page can serve the link its own receipts (answered with
    /// the page). Noting it is
    /// not part of the answer's unit: when it fails the answer stands (and is logged), and
    /// its receipt is still available to staff.
    pub fn submit_preferences_noting_receipts(
        &self,
        token: &str,
        choices: &[Choice],
        evidence: &Evidence,
    ) -> Result<Result<(Page, Vec<SignedReceipt>), SubmitError>, GuardError> {
        let mut written = Vec::new();
        let (outcome, _delivered) = self.unit(|| {
            let (value, work) =
                self.runtime
                    .with_instance(UnitOfWork::default(), |store, plugin| {
                        plugin
                            .privacy_guard_consent_preferences()
                            .call_submit(store, token, choices, evidence)
                    })?;
            written = work
                .events
                .iter()
                .map(|event| (event.stream.clone(), event.payload.clone()))
                .collect();
            Ok((value, work))
        })?;
        if outcome.is_ok()
            && let Err(error) = self.block_on(proof::remember_page_answers(
                self.database(),
                token,
                &written,
                self.clock().now_millis(),
            ))
        {
            tracing::error!(%error, "the answer is saved, but the page could not note its receipt link; staff can still issue its receipt (`privacy-guard receipt`)");
        }
        Ok(outcome.map(|page| (page, self.receipts_of_verified_link(token))))
    }
}
