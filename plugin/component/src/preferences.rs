//! The `preferences` export: the signed-link preferences page.
//!
//! A link is checked in this order: its form (`invalid`), its MAC through `keys.verify`
//! (`invalid`), its expiry (`expired`), then the person (`unknown-person`), so an expired
//! or unknown answer is only ever given for a genuine link.

use privacy_guard_core::configuration::Configuration;
use privacy_guard_core::consent::ConsentValue;
use privacy_guard_core::event::{
    Cause, ConsentEvent, IpEvidence, PageAnswer, StreamEvent, user_agent_evidence,
};
use privacy_guard_core::lifecycle::{Choice, ChoiceError, answer};
use privacy_guard_core::link::{LinkError, LinkPayload};
use privacy_guard_core::notification::{ChangeOrigin, ConfirmedChange};
use privacy_guard_core::preferences::{Page, note_request_intervals, page};
use privacy_guard_core::vocabulary::IpPolicy;

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::preferences as wit;
use crate::bindings::privacy_guard::consent::clock;
use crate::convert::consent_value;
use crate::links::open_link;
use crate::logging::fault;
use crate::logging::info;
use crate::notification::confirm;
use crate::restriction::{erase_person, restrict_person};
use crate::state::{State, StoredPerson, consent_history, read_stream};

use privacy_guard_core::restriction::Actor;

impl wit::Guest for Plugin {
    fn open(token: String) -> Result<wit::Page, wit::LinkError> {
        let now = clock::now();
        let state = State::new();
        let (payload, person) = open_link(&state, &token, now).map_err(wit_link_error)?;
        let configuration = state.configuration();
        Ok(person_page(
            &configuration,
            &person,
            &[],
            payload.expires_at,
        ))
    }

    fn submit(
        token: String,
        choices: Vec<wit::Choice>,
        evidence: wit::Evidence,
    ) -> Result<wit::Page, wit::SubmitError> {
        let now = clock::now();
        let mut state = State::new();
        let (payload, mut person) = open_link(&state, &token, now)
            .map_err(|error| wit::SubmitError::Link(wit_link_error(error)))?;
        let configuration = state.configuration();
        let choices: Vec<Choice> = choices
            .into_iter()
            .map(|choice| Choice {
                consent: choice.consent_id,
                grant: choice.grant,
            })
            .collect();
        let page_answer = PageAnswer {
            link: payload.link,
            ip: ip_evidence(&configuration, &evidence),
            user_agent: evidence.user_agent.as_deref().and_then(user_agent_evidence),
        };
        let cause = Cause::PreferencesPage {
            link: page_answer.link,
            ip: page_answer.ip.clone(),
            user_agent: page_answer.user_agent.clone(),
            seconds_since_request: None,
        };
        let mut events = answer(&mut person.snapshot, &configuration, &choices, &cause, now)
            .map_err(|error| match error {
                ChoiceError::UnknownConsent(id) => wit::SubmitError::UnknownConsent(id),
                ChoiceError::NotApplicable(id) => wit::SubmitError::NotChangeable(id),
                ChoiceError::ProcessingRestricted => wit::SubmitError::ProcessingRestricted,
            })?;
        if events.iter().any(|event| event.to == ConsentValue::Granted) {
            let stream: Vec<StreamEvent> = read_stream(&person.snapshot.record.stream())
                .iter()
                .map(|payload| {
                    StreamEvent::from_json(payload)
                        .unwrap_or_else(|error| fault("reading an event", &error))
                })
                .collect();
            note_request_intervals(&mut events, &stream, now);
        }
        if !events.is_empty() {
            person.append(&events, &configuration);
            state.save(&person);
            info(
                "preferences saved",
                &[
                    ("record", &person.snapshot.record),
                    ("changes", &events.len()),
                ],
            );
            let changes = ConfirmedChange::of_events(&configuration, &events);
            confirm(&person, &configuration, ChangeOrigin::Person, &changes, now);
        }
        // The person's own grant (not a refusal alone) lifts a complaint or unsubscription of
        // their address, in this unit of work.
        if choices.iter().any(|choice| choice.grant) {
            crate::feedback::lift_by_answer(&mut state, &configuration, &person, page_answer, now);
        }
        Ok(person_page(
            &configuration,
            &person,
            &events,
            payload.expires_at,
        ))
    }

    fn stop_processing(
        token: String,
        evidence: wit::Evidence,
    ) -> Result<wit::Page, wit::SubmitError> {
        let now = clock::now();
        let mut state = State::new();
        let (payload, mut person) = open_link(&state, &token, now)
            .map_err(|error| wit::SubmitError::Link(wit_link_error(error)))?;
        let configuration = state.configuration();
        restrict_person(
            &mut state,
            &mut person,
            &actor(&configuration, &payload, &evidence),
            now,
        )
        .map_err(|_| wit::SubmitError::ProcessingRestricted)?;
        confirm(
            &person,
            &configuration,
            ChangeOrigin::Person,
            &[ConfirmedChange::ProcessingStopped],
            now,
        );
        Ok(person_page(
            &configuration,
            &person,
            &[],
            payload.expires_at,
        ))
    }

    fn erase(token: String, evidence: wit::Evidence) -> Result<(), wit::SubmitError> {
        let now = clock::now();
        let mut state = State::new();
        let (payload, mut person) = open_link(&state, &token, now)
            .map_err(|error| wit::SubmitError::Link(wit_link_error(error)))?;
        let configuration = state.configuration();
        erase_person(
            &mut state,
            &mut person,
            &actor(&configuration, &payload, &evidence),
            now,
        )
        .map_err(|_| wit::SubmitError::Link(wit::LinkError::UnknownPerson))?;
        Ok(())
    }
}

/// The person on the page, with what the host observed.
fn actor(configuration: &Configuration, payload: &LinkPayload, evidence: &wit::Evidence) -> Actor {
    Actor::Page {
        link: payload.link,
        ip: ip_evidence(configuration, evidence),
        user_agent: evidence.user_agent.as_deref().and_then(user_agent_evidence),
    }
}

/// What the setting `ip-evidence` keeps of the observed IP address (truncated when no
/// settings are configured).
fn ip_evidence(configuration: &Configuration, evidence: &wit::Evidence) -> Option<IpEvidence> {
    let policy = configuration
        .settings()
        .map_or(IpPolicy::default(), |settings| settings.ip_evidence());
    IpEvidence::observe(
        evidence.ip.as_deref()?,
        policy,
        configuration.suppression_salt(),
    )
}

fn wit_link_error(error: LinkError) -> wit::LinkError {
    match error {
        LinkError::Invalid => wit::LinkError::Invalid,
        LinkError::Expired => wit::LinkError::Expired,
        LinkError::UnknownPerson => wit::LinkError::UnknownPerson,
    }
}

/// The page of `person`, with the texts they agreed to from their history and `appended`
/// (events of this call, which a host may not show before its unit of work commits; read
/// twice, they change nothing: only the last grant counts).
fn person_page(
    configuration: &Configuration,
    person: &StoredPerson,
    appended: &[ConsentEvent],
    expires_at: i64,
) -> wit::Page {
    let mut history = consent_history(&person.snapshot.record);
    history.extend_from_slice(appended);
    wit_page(page(configuration, &person.snapshot, &history, expires_at))
}

fn wit_page(page: Page) -> wit::Page {
    wit::Page {
        name: page.name,
        organisation: page.organisation,
        consents: page
            .consents
            .into_iter()
            .map(|view| wit::ConsentView {
                id: view.id,
                title: view.title,
                purpose: view.purpose,
                purpose_version: view.purpose_version,
                value: consent_value(view.value),
                changeable: view.changeable,
                text_language: view.text_language.as_str().to_owned(),
                agreed: view.agreed.map(|agreed| wit::AgreedText {
                    purpose_version: agreed.version,
                    purpose: agreed.purpose,
                    still_counts: agreed.still_counts,
                }),
            })
            .collect(),
        link_expires_at: page.link_expires_at,
        restricted: page.restricted,
        language: page.language.as_str().to_owned(),
    }
}
