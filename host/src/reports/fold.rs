//! The fold of the log's changes into each person's status and consent values, with the
//! counts kept as it goes and a snapshot of them at the end of every period.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate};
use serde::Serialize;

use crate::changes::{CHANGE_KINDS, Change, ChangeKind};

/// A grant to a purpose text changed materially since: it no longer counts.
pub const GRANTED_OUTDATED: &str = "granted_outdated";

/// Every consent value a report counts, as the API writes them.
pub const CONSENT_VALUES: [&str; 6] = [
    "granted",
    GRANTED_OUTDATED,
    "not_granted",
    "waiting",
    "applicable",
    "not_applicable",
];

/// Every person status, as the API writes them; a person is `active` until an event says
/// otherwise.
pub const STATUSES: [&str; 4] = ["active", "restricted", "erased", "duplicate"];

/// How a report groups the change over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    #[default]
    Day,
    Week,
    Month,
}

impl Period {
    /// Reads `day`, `week` or `month`.
    pub fn parse(text: &str) -> Option<Period> {
        match text {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// The period `at` (unix milliseconds) falls in, UTC: `2026-12-01`, `2026-W49` (ISO
    /// week), `2026-12`.
    pub fn name_of(self, at: i64) -> String {
        let date = DateTime::from_timestamp_millis(at)
            .map(|at| at.date_naive())
            .unwrap_or_default();
        match self {
            Period::Day => date.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let week = date.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Period::Month => date.format("%Y-%m").to_string(),
        }
    }
}

/// Which part of the log a report covers: the counts are those at the end of `to` (of
/// the whole log without it), the periods listed those from `from` to `to`, inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportWindow {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub period: Period,
}

impl ReportWindow {
    fn start_millis(&self) -> i64 {
        self.from
            .and_then(|from| from.and_hms_opt(0, 0, 0))
            .map_or(i64::MIN, |from| from.and_utc().timestamp_millis())
    }

    fn end_millis(&self) -> i64 {
        self.to
            .and_then(|to| to.succ_opt())
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map_or(i64::MAX, |end| end.and_utc().timestamp_millis())
    }
}

/// How many people hold each consent value and each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Consent id, then value, then people.
    pub consents: BTreeMap<String, BTreeMap<&'static str, u64>>,
    pub statuses: BTreeMap<&'static str, u64>,
    pub people: u64,
}

impl Tally {
    fn add_consent(&mut self, consent: &str, value: &'static str) {
        *self
            .consents
            .entry(consent.to_owned())
            .or_default()
            .entry(value)
            .or_default() += 1;
    }

    fn remove_consent(&mut self, consent: &str, value: &'static str) {
        if let Some(values) = self.consents.get_mut(consent) {
            if let Some(count) = values.get_mut(value) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.consents.remove(consent);
            }
        }
    }

    fn move_status(&mut self, from: &'static str, to: &'static str) {
        if let Some(count) = self.statuses.get_mut(from) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.statuses.remove(from);
            }
        }
        *self.statuses.entry(to).or_default() += 1;
    }
}

/// The counts at the end of a period and the changes within it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodReport {
    pub period: String,
    /// Change kind (as the change feed names it), then consent (`""` for a change of
    /// status), then how many.
    pub changes: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// The counts when the period ended.
    pub at_end: Tally,
}

/// The report: the counts now (or at the end of the window) and their change per period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentReport {
    /// The last event of the log the report read.
    pub through_sequence: u64,
    pub period: Period,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub totals: Tally,
    /// Periods with at least one change, oldest first.
    pub periods: Vec<PeriodReport>,
}

/// What the log says of one person now, small: a report folds every person of the log
/// (a `BTreeMap` of consents per person made 100,000 people cost 95 MB).
#[derive(Debug, Clone)]
pub(super) struct PersonState {
    pub(super) status: &'static str,
    pub(super) consents: Vec<HeldConsent>,
}

/// A consent's value as counted, by the consent's number in [`PeopleFold`]'s list.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeldConsent {
    pub(super) consent: u32,
    pub(super) value: &'static str,
    /// The purpose version the value refers to.
    pub(super) version: Option<u64>,
}

impl PersonState {
    fn held_mut(&mut self, consent: u32) -> Option<&mut HeldConsent> {
        self.consents
            .iter_mut()
            .find(|held| held.consent == consent)
    }

    pub(super) fn held(&self, consent: u32) -> Option<&HeldConsent> {
        self.consents.iter().find(|held| held.consent == consent)
    }
}

/// The people folded from the log so far, and the report being made.
pub struct PeopleFold {
    window: ReportWindow,
    /// Module, then record id, then what the log says of the person.
    pub(super) people: BTreeMap<String, BTreeMap<Box<str>, PersonState>>,
    /// Every consent id met, numbered in order (a deleted one keeps its number).
    pub(super) consent_ids: Vec<String>,
    consent_numbers: HashMap<String, u32>,
    tally: Tally,
    /// Per consent, the first purpose version a grant counts for (after a material change).
    counts_from: BTreeMap<String, u64>,
    through: u64,
    period: Option<PeriodReport>,
    periods: Vec<PeriodReport>,
}

impl PeopleFold {
    pub fn new(window: ReportWindow) -> PeopleFold {
        PeopleFold {
            window,
            people: BTreeMap::new(),
            consent_ids: Vec::new(),
            consent_numbers: HashMap::new(),
            tally: Tally::default(),
            counts_from: BTreeMap::new(),
            through: 0,
            period: None,
            periods: Vec::new(),
        }
    }

    /// Whether an event committed at `recorded_at` is inside the window (events are in log
    /// order, so the first outside ends the fold).
    pub fn takes(&self, recorded_at: i64) -> bool {
        recorded_at < self.window.end_millis()
    }

    pub fn folded_through(&mut self, sequence: u64) {
        self.through = sequence;
    }

    /// The last event folded.
    pub fn through_sequence(&self) -> u64 {
        self.through
    }

    /// The report of what was folded: the periods ended, and the one the last change fell
    /// in as it stands (a fold goes on from where it stopped when the log grows).
    pub fn report(&self) -> ConsentReport {
        let mut periods = self.periods.clone();
        if let Some(period) = self
            .period
            .as_ref()
            .filter(|period| !period.changes.is_empty())
        {
            periods.push(PeriodReport {
                at_end: self.tally.clone(),
                ..period.clone()
            });
        }
        ConsentReport {
            through_sequence: self.through,
            period: self.window.period,
            from: self.window.from,
            to: self.window.to,
            totals: self.tally.clone(),
            periods,
        }
    }

    /// Whether this fold reads the whole log with `window` (a cached fold is only used
    /// for the window it was made for).
    pub fn is_for(&self, window: &ReportWindow) -> bool {
        self.window == *window
    }

    /// Folds one change in.
    pub fn apply(&mut self, change: &Change) {
        self.count_in_period(change);
        match change.kind {
            ChangeKind::PurposeOutdated => self.purpose_outdated(change),
            ChangeKind::PurposeCorrected => {}
            ChangeKind::ConsentDeleted => self.consent_deleted(change),
            _ => self.person_changed(change),
        }
    }

    fn count_in_period(&mut self, change: &Change) {
        let name = self.window.period.name_of(change.recorded_at);
        if self
            .period
            .as_ref()
            .is_some_and(|period| period.period != name)
        {
            self.close_period();
        }
        let period = self.period.get_or_insert_with(|| PeriodReport {
            period: name,
            changes: BTreeMap::new(),
            at_end: Tally::default(),
        });
        if change.recorded_at < self.window.start_millis() {
            return;
        }
        let kind = CHANGE_KINDS
            .iter()
            .find(|(kind, _, _)| *kind == change.kind)
            .map_or("unknown", |(_, text, _)| *text);
        *period
            .changes
            .entry(kind)
            .or_default()
            .entry(change.consent.clone().unwrap_or_default())
            .or_default() += 1;
    }

    /// Keeps the period that just ended, when it had changes inside the window.
    fn close_period(&mut self) {
        if let Some(mut period) = self.period.take()
            && !period.changes.is_empty()
        {
            period.at_end = self.tally.clone();
            self.periods.push(period);
        }
    }

    /// The number of `consent`, given it if it has none yet.
    fn consent_number(&mut self, consent: &str) -> u32 {
        if let Some(number) = self.consent_numbers.get(consent) {
            return *number;
        }
        let number = self.consent_ids.len() as u32;
        self.consent_ids.push(consent.to_owned());
        self.consent_numbers.insert(consent.to_owned(), number);
        number
    }

    /// The number of `consent`, when it was met.
    pub(super) fn known_consent(&self, consent: &str) -> Option<u32> {
        self.consent_numbers.get(consent).copied()
    }

    fn person_changed(&mut self, change: &Change) {
        let Some(person) = &change.person else {
            return;
        };
        let consent_number = change
            .consent
            .as_deref()
            .map(|consent| self.consent_number(consent));
        let tally = &mut self.tally;
        // The entries' keys are made for every event: a string each, cheaper than reading
        // the event's JSON.
        let state = self
            .people
            .entry(person.module.clone())
            .or_default()
            .entry(person.id.as_str().into())
            .or_insert_with(|| {
                tally.people += 1;
                *tally.statuses.entry("active").or_default() += 1;
                PersonState {
                    status: "active",
                    consents: Vec::new(),
                }
            });
        let value = change.value.as_deref().unwrap_or_default();
        match change.kind {
            ChangeKind::ConsentGranted
            | ChangeKind::ConsentWithdrawn
            | ChangeKind::ConsentRefused
            | ChangeKind::ConsentRequested
            | ChangeKind::ConsentApplicable
            | ChangeKind::ConsentLapsed
            | ChangeKind::ConsentNotApplicable => {
                let (Some(consent), Some(number), Some(value)) = (
                    &change.consent,
                    consent_number,
                    interned(&CONSENT_VALUES, value),
                ) else {
                    return;
                };
                let counts_from = self.counts_from.get(consent).copied().unwrap_or(0);
                let counted = match (value, change.purpose_version) {
                    ("granted", Some(version)) if version < counts_from => GRANTED_OUTDATED,
                    _ => value,
                };
                let now = HeldConsent {
                    consent: number,
                    value: counted,
                    version: change.purpose_version,
                };
                match state.held_mut(number) {
                    Some(held) => {
                        tally.remove_consent(consent, held.value);
                        *held = now;
                    }
                    None => state.consents.push(now),
                }
                tally.add_consent(consent, counted);
            }
            ChangeKind::ProcessingRestricted
            | ChangeKind::RestrictionLifted
            | ChangeKind::Erased
            | ChangeKind::Suppressed
            | ChangeKind::MarkedDuplicate
            | ChangeKind::DuplicateCleared => {
                if let Some(status) = interned(&STATUSES, value) {
                    tally.move_status(state.status, status);
                    state.status = status;
                }
            }
            // Still waiting: a reminder changes no value.
            ChangeKind::RequestRepeated
            | ChangeKind::PurposeOutdated
            | ChangeKind::PurposeCorrected
            | ChangeKind::ConsentDeleted => {}
            // Delivery feedback suppresses an address, not a consent or a status.
            ChangeKind::Bounced
            | ChangeKind::Complained
            | ChangeKind::Unsubscribed
            | ChangeKind::BounceLifted
            | ChangeKind::SuppressionLifted => {}
        }
    }

    /// A material change: grants to earlier versions stop counting.
    fn purpose_outdated(&mut self, change: &Change) {
        let (Some(consent), Some(version)) = (&change.consent, change.purpose_version) else {
            return;
        };
        self.counts_from.insert(consent.clone(), version);
        let Some(number) = self.known_consent(consent) else {
            return;
        };
        for state in self.people.values_mut().flat_map(BTreeMap::values_mut) {
            if let Some(held) = state.held_mut(number)
                && held.value == "granted"
                && held.version.is_none_or(|given_for| given_for < version)
            {
                held.value = GRANTED_OUTDATED;
                self.tally.remove_consent(consent, "granted");
                self.tally.add_consent(consent, GRANTED_OUTDATED);
            }
        }
    }

    fn consent_deleted(&mut self, change: &Change) {
        let Some(consent) = &change.consent else {
            return;
        };
        if let Some(number) = self.known_consent(consent) {
            for state in self.people.values_mut().flat_map(BTreeMap::values_mut) {
                state.consents.retain(|held| held.consent != number);
            }
        }
        self.tally.consents.remove(consent);
        self.counts_from.remove(consent);
    }
}

/// The one `&'static` copy of `text` in `texts`.
pub(super) fn interned(texts: &[&'static str], text: &str) -> Option<&'static str> {
    texts.iter().copied().find(|known| *known == text)
}

#[cfg(test)]
mod tests;
