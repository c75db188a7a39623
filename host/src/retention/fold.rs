//! The people of the log as retention needs them: each person's status, consent values and
//! the times the classes count from, folded from the change feed in log order. Small per
//! person (a dry run over a million people peaked at 280 MB), and read on from where it
//! stopped, so a run sees every change committed while it works before it erases anyone.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde::Serialize;

use super::{Class, RetentionSettings};
use crate::changes::{Change, ChangeKind, changes_of};
use crate::storage::{Database, StorageError};

/// Events read per database round trip.
const EVENTS_PER_READ: u32 = 5_000;

/// No such time.
const NEVER: i64 = i64::MIN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Granted,
    NotGranted,
    Waiting,
    Applicable,
    NotApplicable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Other,
}

/// One person, small: the consents by their number in the fold's list.
#[derive(Debug, Clone)]
struct Person {
    consents: Vec<(u32, Value)>,
    first_seen: i64,
    last_request: i64,
    last_lapse: i64,
    last_answer: i64,
    last_refusal: i64,
    bounced_at: i64,
    /// When a complaint or an unsubscription by mail stopped marketing to the person, until
    /// they grant a consent again.
    complained_at: i64,
    status: Status,
}

/// A person a class has run out for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuePerson {
    pub module: String,
    pub id: String,
    pub class: Class,
    /// When the class began for them (unix ms).
    pub since: i64,
    /// When their time ran out (unix ms).
    pub due_at: i64,
}

/// The people folded from the log so far.
#[derive(Debug, Default)]
pub struct RetentionFold {
    /// Module, then record id.
    people: BTreeMap<String, BTreeMap<Box<str>, Person>>,
    consent_numbers: HashMap<String, u32>,
    count: u64,
    through: u64,
}

impl RetentionFold {
    /// The last event folded.
    pub fn through_sequence(&self) -> u64 {
        self.through
    }

    /// How many people the log names.
    pub fn people(&self) -> u64 {
        self.count
    }

    /// Folds one change in.
    pub fn apply(&mut self, change: &Change) {
        let Some(person) = &change.person else {
            if change.kind == ChangeKind::ConsentDeleted
                && let Some(number) = change
                    .consent
                    .as_deref()
                    .and_then(|consent| self.consent_numbers.get(consent))
            {
                for person in self.people.values_mut().flat_map(BTreeMap::values_mut) {
                    person.consents.retain(|(consent, _)| consent != number);
                }
            }
            return;
        };
        let next_number = self.consent_numbers.len() as u32;
        let number = change.consent.as_deref().map(|consent| {
            *self
                .consent_numbers
                .entry(consent.to_owned())
                .or_insert(next_number)
        });
        let count = &mut self.count;
        let at = change.recorded_at;
        let state = self
            .people
            .entry(person.module.clone())
            .or_default()
            .entry(person.id.as_str().into())
            .or_insert_with(|| {
                *count += 1;
                Person {
                    consents: Vec::new(),
                    first_seen: at,
                    last_request: NEVER,
                    last_lapse: NEVER,
                    last_answer: NEVER,
                    last_refusal: NEVER,
                    bounced_at: NEVER,
                    complained_at: NEVER,
                    status: Status::Active,
                }
            });
        let value = match change.kind {
            ChangeKind::ConsentGranted => {
                state.last_answer = at;
                state.complained_at = NEVER;
                Some(Value::Granted)
            }
            ChangeKind::ConsentWithdrawn | ChangeKind::ConsentRefused => {
                state.last_answer = at;
                state.last_refusal = at;
                Some(Value::NotGranted)
            }
            ChangeKind::ConsentRequested => {
                state.last_request = at;
                Some(Value::Waiting)
            }
            ChangeKind::RequestRepeated => {
                state.last_request = at;
                None
            }
            ChangeKind::ConsentLapsed => {
                state.last_lapse = at;
                Some(Value::Applicable)
            }
            ChangeKind::ConsentApplicable => Some(Value::Applicable),
            ChangeKind::ConsentNotApplicable => Some(Value::NotApplicable),
            ChangeKind::ProcessingRestricted
            | ChangeKind::RestrictionLifted
            | ChangeKind::Erased
            | ChangeKind::Suppressed
            | ChangeKind::MarkedDuplicate
            | ChangeKind::DuplicateCleared => {
                state.status = match change.value.as_deref() {
                    Some("active") => Status::Active,
                    _ => Status::Other,
                };
                None
            }
            ChangeKind::PurposeOutdated
            | ChangeKind::PurposeCorrected
            | ChangeKind::ConsentDeleted => None,
            // The first bounce since the last lift starts the class; a lift ends it.
            ChangeKind::Bounced => {
                if state.bounced_at == NEVER {
                    state.bounced_at = at;
                }
                None
            }
            ChangeKind::BounceLifted => {
                state.bounced_at = NEVER;
                None
            }
            // A complaint or an unsubscription by mail is a withdrawal in all but name: the
            // consents keep their values, but the person is counted as withdrawn from it.
            ChangeKind::Complained | ChangeKind::Unsubscribed => {
                if state.complained_at == NEVER {
                    state.complained_at = at;
                }
                None
            }
            // The person's own grant lifted it: an answer (a grant that changed no value
            // writes no consent event, so the lift ends the class itself).
            ChangeKind::SuppressionLifted => {
                state.last_answer = at;
                state.complained_at = NEVER;
                None
            }
        };
        if let (Some(value), Some(number)) = (value, number) {
            match state
                .consents
                .iter_mut()
                .find(|(consent, _)| *consent == number)
            {
                Some(held) => held.1 = value,
                None => state.consents.push((number, value)),
            }
        }
    }

    pub fn folded_through(&mut self, sequence: u64) {
        self.through = sequence;
    }

    /// The first person after `after` (`module`, `id`; the start when `None`) a class of
    /// `settings` has run out for at `now`, and how many people were looked at on the way
    /// (that one included).
    pub fn next_due(
        &self,
        after: Option<(&str, &str)>,
        settings: &RetentionSettings,
        now: i64,
    ) -> (Option<DuePerson>, u64) {
        let mut looked_at = 0;
        let modules = match after {
            Some((module, _)) => self
                .people
                .range::<str, _>((Bound::Included(module), Bound::Unbounded)),
            None => self.people.range::<str, _>(..),
        };
        for (module, people) in modules {
            let ids = match after {
                Some((after_module, id)) if after_module == module => {
                    people.range::<str, _>((Bound::Excluded(id), Bound::Unbounded))
                }
                _ => people.range::<str, _>(..),
            };
            for (id, person) in ids {
                looked_at += 1;
                if let Some((class, since, due_at)) = person.due(settings, now) {
                    let due = DuePerson {
                        module: module.clone(),
                        id: id.to_string(),
                        class,
                        since,
                        due_at,
                    };
                    return (Some(due), looked_at);
                }
            }
        }
        (None, looked_at)
    }

    /// Whether the person `module/id` is still due under `class` at `now` (after the fold
    /// read on: an answer given since changes that).
    pub fn still_due(
        &self,
        module: &str,
        id: &str,
        settings: &RetentionSettings,
        now: i64,
    ) -> Option<(Class, i64, i64)> {
        self.people.get(module)?.get(id)?.due(settings, now)
    }
}

impl Person {
    /// The first class (in [`super::CLASSES`]' order) run out for this person at `now`:
    /// the class, since when, and when it ran out.
    fn due(&self, settings: &RetentionSettings, now: i64) -> Option<(Class, i64, i64)> {
        if self.status != Status::Active {
            return None;
        }
        super::CLASSES.iter().find_map(|(class, _, _)| {
            let since = self.since(*class)?;
            let due_at = settings.keep(*class).due_at(since)?;
            (due_at <= now).then_some((*class, since, due_at))
        })
    }

    /// When `class` began for this person, if it applies to them.
    fn since(&self, class: Class) -> Option<i64> {
        let has = |wanted: Value| self.consents.iter().any(|(_, value)| *value == wanted);
        let since = match class {
            Class::Bounced => self.bounced_at,
            Class::Withdrawn if self.complained_at != NEVER => self.complained_at,
            Class::Withdrawn => {
                let only_refused = self
                    .consents
                    .iter()
                    .all(|(_, value)| matches!(value, Value::NotGranted | Value::NotApplicable));
                if !(has(Value::NotGranted) && only_refused) {
                    return None;
                }
                self.last_refusal
            }
            Class::Unanswered => {
                if self.last_answer != NEVER || has(Value::Granted) || has(Value::NotGranted) {
                    return None;
                }
                self.last_request.max(self.last_lapse)
            }
            Class::Inactive => self.first_seen.max(self.last_request).max(self.last_answer),
        };
        (since != NEVER).then_some(since)
    }
}

/// Folds the events after those `fold` has read, to the end of the log.
pub async fn read_on(database: &Database, fold: &mut RetentionFold) -> Result<(), StorageError> {
    let mut cursor = fold.through_sequence();
    loop {
        let events = database.events_after(cursor, EVENTS_PER_READ).await?;
        let exhausted = events.len() < EVENTS_PER_READ as usize;
        for event in &events {
            for change in changes_of(event) {
                fold.apply(&change);
            }
            fold.folded_through(event.sequence);
            cursor = event.sequence;
        }
        if exhausted {
            return Ok(());
        }
    }
}
