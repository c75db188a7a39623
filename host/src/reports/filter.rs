//! Which people a list or a bulk action is about (by consent value, status and module),
//! and a list's pages: people in (module, id) order, the cursor the last one given.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::Serialize;

use super::fold::{CONSENT_VALUES, PeopleFold, PersonState, STATUSES, interned};

/// Why a filter cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeopleFilterError {
    #[error("`{0}` is not a consent value: use one of {values}", values = CONSENT_VALUES.join(", "))]
    Value(String),
    #[error("`{0}` is not a person status: use one of {statuses}", statuses = STATUSES.join(", "))]
    Status(String),
    #[error("a consent value says nothing without its consent: name the consent too")]
    ValueWithoutConsent,
    #[error(
        "`{0}` is not a cursor of this list: pass the `next` of the page before, as it was given"
    )]
    Cursor(String),
}

/// People by consent value, status and module; what is left out matches everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeopleFilter {
    /// People who hold this consent (with `value`, that value of it).
    pub consent: Option<String>,
    pub value: Option<&'static str>,
    pub status: Option<&'static str>,
    pub module: Option<String>,
}

impl PeopleFilter {
    /// The filter of these texts; values and statuses as the API (`not_granted`) or the CLI
    /// (`not-granted`) writes them.
    pub fn new(
        consent: Option<&str>,
        value: Option<&str>,
        status: Option<&str>,
        module: Option<&str>,
    ) -> Result<PeopleFilter, PeopleFilterError> {
        let snake = |text: &str| text.trim().replace('-', "_");
        let value = value
            .map(|text| {
                interned(&CONSENT_VALUES, &snake(text))
                    .ok_or_else(|| PeopleFilterError::Value(text.to_owned()))
            })
            .transpose()?;
        let status = status
            .map(|text| {
                interned(&STATUSES, &snake(text))
                    .ok_or_else(|| PeopleFilterError::Status(text.to_owned()))
            })
            .transpose()?;
        let consent = consent.map(str::trim).filter(|consent| !consent.is_empty());
        if value.is_some() && consent.is_none() {
            return Err(PeopleFilterError::ValueWithoutConsent);
        }
        Ok(PeopleFilter {
            consent: consent.map(str::to_owned),
            value,
            status,
            module: module
                .map(str::trim)
                .filter(|module| !module.is_empty())
                .map(str::to_owned),
        })
    }

    /// Whether `person` of `module` matches; `consent` is the number of the filter's
    /// consent in the fold (`None` when the fold never met it: nobody holds it).
    fn matches(&self, module: &str, consent: Option<Option<u32>>, person: &PersonState) -> bool {
        self.module.as_deref().is_none_or(|wanted| wanted == module)
            && self.status.is_none_or(|wanted| wanted == person.status)
            && consent.is_none_or(|number| {
                number
                    .and_then(|number| person.held(number))
                    .is_some_and(|held| self.value.is_none_or(|wanted| wanted == held.value))
            })
    }
}

/// A page's worth of the people of a filter: at most `limit` after the cursor `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleSelection {
    pub filter: PeopleFilter,
    /// The last person of the page before (`module`, `id`).
    pub after: Option<(String, String)>,
    pub limit: usize,
}

/// A person as a list shows them: the record, the status, and each consent's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRow {
    pub module: String,
    pub id: String,
    pub status: &'static str,
    pub consents: BTreeMap<String, &'static str>,
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeoplePage {
    pub people: Vec<PersonRow>,
    /// The cursor of the next page, when there are more people.
    pub next: Option<String>,
    /// How many people match the filter in all.
    pub matching: u64,
    /// The last event of the log the list read.
    pub through_sequence: u64,
}

/// The text of a list cursor: the last person given, `module/id`.
fn cursor_text(module: &str, id: &str) -> String {
    format!("{module}/{id}")
}

/// Reads a list cursor (`module/id`).
pub fn parse_person_cursor(text: &str) -> Result<(String, String), PeopleFilterError> {
    text.split_once('/')
        .filter(|(module, id)| !module.is_empty() && !id.is_empty())
        .map(|(module, id)| (module.to_owned(), id.to_owned()))
        .ok_or_else(|| PeopleFilterError::Cursor(text.to_owned()))
}

impl PeopleFold {
    /// At most `limit` people matching `filter` after the cursor `after`.
    pub fn people_page(
        &self,
        filter: &PeopleFilter,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> PeoplePage {
        let consent = filter
            .consent
            .as_deref()
            .map(|consent| self.known_consent(consent));
        let matching = |module: &str, person: &PersonState| filter.matches(module, consent, person);
        // The modules from the cursor's on, and in the cursor's module the ids after it.
        let modules = self.people.range::<str, _>((
            after.map_or(Bound::Unbounded, |(module, _)| {
                Bound::Included(module.as_str())
            }),
            Bound::Unbounded,
        ));
        let mut after_cursor = modules.flat_map(|(module, people)| {
            let lower = match after {
                Some((after_module, id)) if after_module == module => Bound::Excluded(id.as_str()),
                _ => Bound::Unbounded,
            };
            people
                .range::<str, _>((lower, Bound::Unbounded))
                .filter(|(_, person)| matching(module, person))
                .map(move |(id, person)| (module, id, person))
        });
        let people: Vec<PersonRow> = after_cursor
            .by_ref()
            .take(limit)
            .map(|(module, id, person)| PersonRow {
                module: module.clone(),
                id: id.to_string(),
                status: person.status,
                consents: person
                    .consents
                    .iter()
                    .filter_map(|held| {
                        let consent = self.consent_ids.get(held.consent as usize)?;
                        Some((consent.clone(), held.value))
                    })
                    .collect(),
            })
            .collect();
        let next = match (after_cursor.next(), people.last()) {
            (Some(_), Some(last)) => Some(cursor_text(&last.module, &last.id)),
            _ => None,
        };
        let matching = self
            .people
            .iter()
            .flat_map(|(module, people)| people.values().map(move |person| (module, person)))
            .filter(|(module, person)| matching(module, person))
            .count() as u64;
        PeoplePage {
            people,
            next,
            matching,
            through_sequence: self.through_sequence(),
        }
    }
}
