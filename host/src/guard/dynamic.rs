//! Calls of the plugin's exports by name (`sending.check-send`), with values the caller
//! builds from the function's own types, for drivers that speak the contract generically
//! (the conformance kit's reference driver). Each call is one unit of work on the same
//! path as every other operation: the same sandbox, limits and budget, committed when the
//! call returns, dropped when it faults.

use wasmtime::component::{Type, Val};

use super::{Guard, GuardError};
use crate::contract::CONTRACT;
use crate::storage::{QueuedMail, RecordRow, StoredEvent, UnitOfWork};

/// The most events [`Guard::events_after`] returns at once.
const EVENT_PAGE: u32 = 10_000;

/// What a call by name answered, and the mail its committed unit of work queued.
#[derive(Debug)]
pub struct ExportAnswer {
    /// The function's results (one for every function of this contract).
    pub results: Vec<Val>,
    /// The mail the plugin sent during the call, in the order it sent it.
    pub mails: Vec<QueuedMail>,
}

/// Builds a call's arguments from its parameters' names and types; the text says what is
/// wrong with the caller's values.
pub type Arguments<'a> = dyn Fn(&[(String, Type)]) -> Result<Vec<Val>, String> + 'a;

impl Guard {
    /// Calls the export `function` of the world's interface `interface` (both in kebab-case
    /// as in the WIT) as one unit of work. An unknown function or arguments that do not
    /// fit its types are [`GuardError::Invalid`] and change nothing; a plugin fault is
    /// [`GuardError::Plugin`] and commits nothing.
    pub fn call_export(
        &self,
        interface: &str,
        function: &str,
        arguments: &Arguments<'_>,
    ) -> Result<ExportAnswer, GuardError> {
        let (package, version) = CONTRACT.split_once('@').unwrap_or((CONTRACT, ""));
        let interface_name = format!("{package}/{interface}@{version}");
        let (answer, _delivered) = self.unit(|| {
            let (outcome, work) =
                self.runtime
                    .with_dynamic_instance(UnitOfWork::default(), |store, instance| {
                        let Some(func) = instance
                            .get_export_index(&mut *store, None, &interface_name)
                            .and_then(|exported| {
                                instance.get_export_index(&mut *store, Some(&exported), function)
                            })
                            .and_then(|index| instance.get_func(&mut *store, index))
                        else {
                            return Ok(Err(format!(
                                "the world exports no function `{interface}.{function}`"
                            )));
                        };
                        let signature = func.ty(&*store);
                        let parameters: Vec<(String, Type)> = signature
                            .params()
                            .map(|(name, ty)| (name.to_owned(), ty))
                            .collect();
                        let values = match arguments(&parameters) {
                            Ok(values) => values,
                            Err(problem) => return Ok(Err(problem)),
                        };
                        let mut results = vec![Val::Bool(false); signature.results().len()];
                        func.call(&mut *store, &values, &mut results)?;
                        Ok(Ok(results))
                    })?;
            match outcome {
                Ok(results) => {
                    let mails = work.mails.clone();
                    Ok((Ok(ExportAnswer { results, mails }), work))
                }
                Err(problem) => Ok((Err(problem), UnitOfWork::default())),
            }
        })?;
        answer.map_err(GuardError::Invalid)
    }

    /// Creates or replaces a record as the CRM would, without telling the plugin.
    pub fn put_record(&self, record: RecordRow) -> Result<(), GuardError> {
        self.unit(|| {
            let mut work = UnitOfWork::default();
            work.records
                .insert((record.module.clone(), record.id.clone()), record.clone());
            Ok(((), work))
        })?;
        Ok(())
    }

    /// The committed events of every stream after the sequence `after`, oldest first.
    pub fn events_after(&self, after: u64) -> Result<Vec<StoredEvent>, GuardError> {
        let mut events: Vec<StoredEvent> = Vec::new();
        loop {
            let from = events.last().map_or(after, |event| event.sequence);
            let page = self.block_on(self.database().events_after(from, EVENT_PAGE))?;
            let complete = page.len() < EVENT_PAGE as usize;
            events.extend(page);
            if complete {
                return Ok(events);
            }
        }
    }
}
