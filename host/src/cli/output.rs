//! Wording shared by the commands' output.

use privacy_guard_host::contract::configuration::Problem;
use privacy_guard_host::contract::subjects::RecordError;

pub(super) fn list_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  - {}: {}", problem.at, problem.message))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

pub(super) fn record_error(error: &RecordError) -> String {
    match error {
        RecordError::UnknownPerson(person) => {
            format!("the plugin does not know {}/{}", person.module, person.id)
        }
        RecordError::UnknownConsent(id) => format!("no consent `{id}`"),
        RecordError::NotApplicable(id) => format!("`{id}` does not apply to this person"),
        RecordError::EvidenceRequired => {
            "a reason or evidence is required (it is recorded)".to_owned()
        }
        RecordError::StatusRefused(why) => why.clone(),
        RecordError::ActorRequired => {
            "say who is acting with --actor NAME: every staff action names its actor".to_owned()
        }
    }
}
