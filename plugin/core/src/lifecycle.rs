//! Transitions of one person's consents: applicability, requests and answers.
//!
//! Each transition reads the current snapshot, builds the events of what changes, applies
//! them to the snapshot and returns them for the adapter to append. Nothing else changes a
//! snapshot, so folding the events gives the snapshot back ([`crate::person::fold`]).
//!
//! | from | to | transition | cause |
//! |---|---|---|---|
//! | not-applicable (or no value) | applicable | [`reevaluate`]: the condition holds | record-change |
//! | any other value | not-applicable | [`reevaluate`]: the condition stops holding | record-change |
//! | applicable | waiting | [`mark_requested`]: the daily run sent the request | daily-run |
//! | applicable / waiting / granted / not-granted | granted / not-granted | [`answer`]: the person (page) or a recorded decision | preferences-page, admin, import, api |
//!
//! An answer that keeps both the value and the purpose version writes no event; the same
//! value under a newer purpose text is a change (the person agreed to the new text).

use crate::address::Address;
use crate::calendar::Date;
use crate::configuration::Configuration;
use crate::consent::ConsentValue;
use crate::definition::{ConsentId, RENEWAL_DAYS, StoredDefinition};
use crate::event::{Cause, ConsentEvent, LinkId, RequestRepeatedEvent};
use crate::person::PersonSnapshot;
use crate::record::Fields;
use crate::storage::Location;
use crate::vocabulary::PersonStatus;

/// One choice about one consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub consent: String,
    pub grant: bool,
}

/// Why a set of choices was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// No consent of the person's module has this id.
    #[error("no consent {0} is defined for this person")]
    UnknownConsent(String),
    /// The consent does not apply to the person, so there is nothing to decide.
    #[error("the consent {0} does not apply to this person")]
    NotApplicable(String),
    /// The person asked to stop processing (or was erased): no consent changes.
    #[error("processing of this person's data is restricted")]
    ProcessingRestricted,
}

fn change(
    snapshot: &mut PersonSnapshot,
    stored: &StoredDefinition,
    to: ConsentValue,
    cause: Cause,
    now: i64,
) -> ConsentEvent {
    let event = ConsentEvent {
        at: now,
        consent: stored.id().clone(),
        from: snapshot.value_of(stored.id().as_str()),
        to,
        purpose: stored.purpose.clone(),
        default: stored.definition.default,
        cause,
    };
    snapshot.commit(&event);
    event
}

/// Re-evaluates which of its module's consents apply to the person, from the record's
/// fields: a consent whose condition now holds and that has no value (or not-applicable)
/// becomes applicable; one whose condition no longer holds becomes not-applicable.
pub fn reevaluate(
    snapshot: &mut PersonSnapshot,
    configuration: &Configuration,
    fields: &Fields,
    now: i64,
) -> Vec<ConsentEvent> {
    let mut events = Vec::new();
    for stored in configuration.consents_of(&snapshot.record.module) {
        let applies = stored.definition.applies_to(fields);
        let current = snapshot.value_of(stored.id().as_str());
        let target = match (applies, current) {
            (true, ConsentValue::NotApplicable) => ConsentValue::Applicable,
            (false, value) if value != ConsentValue::NotApplicable => ConsentValue::NotApplicable,
            _ => continue,
        };
        events.push(change(snapshot, stored, target, Cause::RecordChange, now));
    }
    events
}

/// What the daily run of `period` does for one person: at most one thing, and at most one
/// mail per person and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DailyStep<'c> {
    Nothing,
    /// The request lapsed unanswered: these waiting consents are Applicable again.
    Lapse(Vec<&'c StoredDefinition>),
    /// A mail to the address the person holds, about these consents.
    Mail {
        address: Address,
        consents: Vec<&'c StoredDefinition>,
        kind: MailKind,
    },
}

/// Which mail the daily run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A request about consents never asked (or asked again after a lapse): they become
    /// waiting.
    Request,
    /// A reminder about the consents still waiting since the request of this period.
    Reminder { asked_on: Date },
    /// A new request staff asked for: about every consent applicable or waiting; the
    /// schedule starts again.
    AskedAgain,
}

/// What the daily run of `period` does for the person whose consents live at `location`,
/// under the settings' request policy (see [`crate::configuration::RequestPolicy`]), first
/// that applies:
///
/// | when | step |
/// |---|---|
/// | the person is not active, or was mailed this period | nothing |
/// | consents wait, and the request is `lapse-after-days` old | they lapse (Applicable) |
/// | consents wait, fewer than `reminders` were sent, and `remind-after-days` passed since the request or the last reminder | a reminder about them |
/// | staff asked to ask again, and consents are applicable or waiting | a new request about them |
/// | consents are applicable (or granted for a text before its last material change), and the last request did not lapse, or lapsed `ask-again-after-days` ago | a request about them |
///
/// Mail goes only to a person who holds an address (one whose consents are kept apart is
/// never mailed).
pub fn daily_step<'c>(
    snapshot: &PersonSnapshot,
    location: &Location,
    configuration: &'c Configuration,
    period: Date,
) -> DailyStep<'c> {
    if !snapshot.is_active() || snapshot.last_request == Some(period) {
        return DailyStep::Nothing;
    }
    let policy = configuration
        .settings()
        .map(|settings| settings.requests())
        .unwrap_or_default();
    let with_value = |values: &[ConsentValue]| -> Vec<&'c StoredDefinition> {
        configuration
            .consents_of(&snapshot.record.module)
            .filter(|stored| values.contains(&snapshot.value_of(stored.id().as_str())))
            .collect()
    };
    let waiting = with_value(&[ConsentValue::Waiting]);
    let state = snapshot.requests;
    // A request stored before the schedule existed counts from its period.
    let asked_on = state.asked_on.or(snapshot.last_request);
    if let Some(asked_on) = asked_on
        && !waiting.is_empty()
        && !state.ask_again
    {
        if policy.lapse_after_days > 0 && period >= asked_on.add_days(policy.lapse_after_days) {
            return DailyStep::Lapse(waiting);
        }
        let sent = u32::from(state.reminders);
        if sent < policy.reminders
            && policy.remind_after_days > 0
            && period >= asked_on.add_days(policy.remind_after_days.saturating_mul(sent + 1))
        {
            return mail(location, waiting, MailKind::Reminder { asked_on });
        }
    }
    if state.ask_again {
        let open = with_value(&[ConsentValue::Applicable, ConsentValue::Waiting]);
        return mail(location, open, MailKind::AskedAgain);
    }
    // Applicable; granted for a text before its last material change, or past its
    // maximum age: asked again; granted and about to reach its maximum age: asked to renew.
    let applicable: Vec<&'c StoredDefinition> = configuration
        .consents_of(&snapshot.record.module)
        .filter(|stored| {
            snapshot.value_of(stored.id().as_str()) == ConsentValue::Applicable
                || no_longer_counts(snapshot, stored, period)
                || renewal_due(snapshot, stored, period).is_some()
        })
        .collect();
    let asked_again_after_lapse = match state.lapsed_on {
        None => true,
        Some(lapsed) => {
            policy.ask_again_after_days > 0
                && period >= lapsed.add_days(policy.ask_again_after_days)
        }
    };
    if asked_again_after_lapse {
        mail(location, applicable, MailKind::Request)
    } else {
        DailyStep::Nothing
    }
}

fn mail<'c>(
    location: &Location,
    consents: Vec<&'c StoredDefinition>,
    kind: MailKind,
) -> DailyStep<'c> {
    match location {
        Location::Person(address) if !consents.is_empty() => DailyStep::Mail {
            address: address.clone(),
            consents,
            kind,
        },
        _ => DailyStep::Nothing,
    }
}

/// What a mail of the daily run of `period`, sent with the signed link `link`, did: the
/// applicable consents it asked about are waiting (a request), the waiting ones it named
/// again are recorded as a repeated request (a reminder, or a new request staff asked for).
pub fn mailed(
    snapshot: &mut PersonSnapshot,
    consents: &[&StoredDefinition],
    kind: MailKind,
    period: Date,
    link: LinkId,
    now: i64,
) -> (Vec<ConsentEvent>, Option<RequestRepeatedEvent>) {
    let cause = Cause::Request { period, link };
    let events = match kind {
        MailKind::Reminder { .. } => Vec::new(),
        MailKind::Request | MailKind::AskedAgain => mark_requested(snapshot, consents, &cause, now),
    };
    // Asked again without a change of value: a reminder or a new request about consents
    // waiting, and a request to renew a grant (which stays granted).
    let repeated: Vec<ConsentId> = consents
        .iter()
        .filter(|stored| {
            events
                .iter()
                .all(|event| event.consent.as_str() != stored.id().as_str())
                && matches!(
                    snapshot.value_of(stored.id().as_str()),
                    ConsentValue::Waiting | ConsentValue::Granted
                )
        })
        .map(|stored| stored.id().clone())
        .collect();
    let repeated = (!repeated.is_empty()).then(|| {
        let event = RequestRepeatedEvent {
            at: now,
            period,
            link,
            consents: repeated,
            reminder: matches!(kind, MailKind::Reminder { .. }),
        };
        snapshot.repeat_request(&event);
        event
    });
    (events, repeated)
}

/// Lets the person's unanswered request lapse: the waiting consents are Applicable again
/// (never a grant), and the daily run asks again only as the policy says.
pub fn lapse(
    snapshot: &mut PersonSnapshot,
    waiting: &[&StoredDefinition],
    period: Date,
    now: i64,
) -> Vec<ConsentEvent> {
    let cause = Cause::Lapsed { period };
    let mut events = Vec::with_capacity(waiting.len());
    for stored in waiting {
        if snapshot.value_of(stored.id().as_str()) == ConsentValue::Waiting {
            events.push(change(
                snapshot,
                stored,
                ConsentValue::Applicable,
                cause.clone(),
                now,
            ));
        }
    }
    events
}

/// Staff ask the person again: the next daily run sends a new request about every consent
/// applicable or waiting (never one the person refused or granted). False, and nothing
/// changes, when the person is not active or has nothing unanswered.
pub fn ask_again(snapshot: &mut PersonSnapshot, configuration: &Configuration) -> bool {
    let open = snapshot.is_active()
        && configuration
            .consents_of(&snapshot.record.module)
            .any(|stored| {
                matches!(
                    snapshot.value_of(stored.id().as_str()),
                    ConsentValue::Applicable | ConsentValue::Waiting
                )
            });
    if open {
        snapshot.requests.ask_again = true;
    }
    open
}

/// The purpose version the person granted `stored` for, when that grant no longer counts
/// (a material change of the text since).
pub fn outdated_grant(snapshot: &PersonSnapshot, stored: &StoredDefinition) -> Option<u32> {
    snapshot
        .state_of(stored.id().as_str())
        .filter(|state| {
            state.value == ConsentValue::Granted && !stored.grant_counts(state.purpose_version)
        })
        .map(|state| state.purpose_version)
}

/// The day the person's grant of `stored` reaches the consent's maximum age, when that is
/// within [`RENEWAL_DAYS`] of `today` and they were not asked since: the daily run asks
/// them to renew it, the grant counting until then.
pub fn renewal_due(
    snapshot: &PersonSnapshot,
    stored: &StoredDefinition,
    today: Date,
) -> Option<Date> {
    let state = snapshot
        .state_of(stored.id().as_str())
        .filter(|state| state.value == ConsentValue::Granted)?;
    let expires = stored.grant_expires(state.since)?;
    let window = expires.add_days_back(RENEWAL_DAYS);
    let asked_in_window = snapshot
        .requests
        .asked_on
        .is_some_and(|asked| asked >= window && asked >= Date::of_instant(state.since));
    (today >= window && today < expires && !asked_in_window).then_some(expires)
}

/// Whether the person's grant of `stored` no longer counts on `today`: given for a text
/// before its last material change, or reached the consent's maximum age.
pub fn no_longer_counts(snapshot: &PersonSnapshot, stored: &StoredDefinition, today: Date) -> bool {
    outdated_grant(snapshot, stored).is_some()
        || snapshot
            .state_of(stored.id().as_str())
            .filter(|state| state.value == ConsentValue::Granted)
            .and_then(|state| stored.grant_expires(state.since))
            .is_some_and(|expires| today >= expires)
}

/// Moves the consents a request mail asked about to waiting: the applicable ones, and those
/// whose grant no longer counts on the request's day. A grant only due for renewal stays
/// granted until the person renews it or it lapses.
pub fn mark_requested(
    snapshot: &mut PersonSnapshot,
    asked: &[&StoredDefinition],
    cause: &Cause,
    now: i64,
) -> Vec<ConsentEvent> {
    let today = Date::of_instant(now);
    let mut events = Vec::with_capacity(asked.len());
    for stored in asked {
        if snapshot.value_of(stored.id().as_str()) == ConsentValue::Applicable
            || no_longer_counts(snapshot, stored, today)
        {
            events.push(change(
                snapshot,
                stored,
                ConsentValue::Waiting,
                cause.clone(),
                now,
            ));
        }
    }
    events
}

/// Applies the person's (or a recorded) choices, all or none: every choice must name a
/// consent the person holds (see [`PersonSnapshot::held_consents`]) that applies to them; then each grant becomes granted,
/// each refusal not-granted, and unchanged choices write no event.
pub fn answer(
    snapshot: &mut PersonSnapshot,
    configuration: &Configuration,
    choices: &[Choice],
    cause: &Cause,
    now: i64,
) -> Result<Vec<ConsentEvent>, ChoiceError> {
    if matches!(
        snapshot.status,
        PersonStatus::Restricted { .. } | PersonStatus::Erased { .. }
    ) {
        return Err(ChoiceError::ProcessingRestricted);
    }
    let held = snapshot.held_consents(configuration);
    let mut decided = Vec::with_capacity(choices.len());
    for choice in choices {
        let stored = held
            .iter()
            .copied()
            .find(|stored| stored.id().as_str() == choice.consent)
            .ok_or_else(|| ChoiceError::UnknownConsent(choice.consent.clone()))?;
        if !snapshot.value_of(&choice.consent).is_changeable() {
            return Err(ChoiceError::NotApplicable(choice.consent.clone()));
        }
        decided.push((stored, ConsentValue::answer(choice.grant)));
    }
    let today = Date::of_instant(now);
    let mut events = Vec::new();
    for (stored, target) in decided {
        // Granting again a grant due for renewal (or past its age) renews it.
        let renewing = target == ConsentValue::Granted
            && snapshot
                .state_of(stored.id().as_str())
                .and_then(|state| stored.grant_expires(state.since))
                .is_some_and(|expires| today >= expires.add_days_back(RENEWAL_DAYS));
        let unchanged = !renewing
            && snapshot
                .state_of(stored.id().as_str())
                .is_some_and(|state| {
                    state.value == target && state.purpose_version == stored.purpose.version
                });
        if !unchanged {
            events.push(change(snapshot, stored, target, cause.clone(), now));
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests;
