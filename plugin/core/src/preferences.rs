//! The contact-facing preferences page: what the person sees about their consents.

use crate::configuration::Configuration;
use crate::consent::ConsentValue;
use crate::event::{Cause, ConsentEvent, StreamEvent};
use crate::person::PersonSnapshot;
use crate::vocabulary::{Language, PersonStatus};

/// One consent as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentView {
    pub id: String,
    pub title: String,
    /// The exact purpose text, in its current version.
    pub purpose: String,
    pub purpose_version: u32,
    pub value: ConsentValue,
    /// Whether the person can grant or withdraw it on the page.
    pub changeable: bool,
    /// The language the title and purpose are in: the page's where the consent has a
    /// translation into it, else the default language (that of the untranslated text).
    pub text_language: Language,
    /// The earlier text the person agreed to, when their last grant was of another
    /// version than the current one and they have not refused since.
    pub agreed: Option<AgreedText>,
}

/// A purpose text the person agreed to before it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreedText {
    pub version: u32,
    pub purpose: String,
    /// Whether their grant of it still counts (the change was a correction).
    pub still_counts: bool,
}

/// The page for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub name: String,
    pub organisation: String,
    /// Every consent the person holds (their module's, and answers carried over from
    /// merged records) whose value is not not-applicable, in configuration order.
    pub consents: Vec<ConsentView>,
    pub link_expires_at: i64,
    /// The person stopped processing: the page shows it and offers no changes.
    pub restricted: bool,
    /// The language the person reads: the page's words, titles and purpose texts.
    pub language: Language,
}

/// The page for the person of `snapshot`, opened with a link valid until `link_expires_at`;
/// `history` is the record's consent events, oldest first (for the texts agreed to).
pub fn page(
    configuration: &Configuration,
    snapshot: &PersonSnapshot,
    history: &[ConsentEvent],
    link_expires_at: i64,
) -> Page {
    let restricted = !matches!(
        snapshot.status,
        PersonStatus::Active | PersonStatus::Duplicate { .. }
    );
    let language = snapshot.language(configuration);
    let default = configuration
        .settings()
        .map_or(Language::English, |settings| settings.languages().default);
    let consents = snapshot
        .held_consents(configuration)
        .into_iter()
        .filter_map(|stored| {
            let value = snapshot.value_of(stored.id().as_str());
            let (title, purpose) = stored.definition.texts_in(language);
            (value != ConsentValue::NotApplicable).then(|| ConsentView {
                id: stored.id().to_string(),
                title: title.to_owned(),
                purpose: purpose.to_owned(),
                purpose_version: stored.purpose.version,
                value,
                changeable: value.is_changeable() && !restricted,
                text_language: stored
                    .definition
                    .translation(language)
                    .map_or(default, |translation| translation.language),
                agreed: agreed_text(stored, value, history, language),
            })
        })
        .collect();
    Page {
        name: snapshot.name.clone(),
        organisation: configuration
            .settings()
            .map(|settings| settings.organisation().to_owned())
            .unwrap_or_default(),
        consents,
        link_expires_at,
        restricted,
        language,
    }
}

/// The text of `stored` the person last granted, when it is not the current one and the
/// person has not refused since (granted still, or asked again about the new text).
fn agreed_text(
    stored: &crate::definition::StoredDefinition,
    value: ConsentValue,
    history: &[ConsentEvent],
    language: Language,
) -> Option<AgreedText> {
    if !matches!(value, ConsentValue::Granted | ConsentValue::Waiting) {
        return None;
    }
    let version = history
        .iter()
        .rev()
        .find(|event| event.consent == *stored.id() && event.to == ConsentValue::Granted)?
        .purpose
        .version;
    if version == stored.purpose.version {
        return None;
    }
    Some(AgreedText {
        version,
        purpose: stored.text_of(version, language)?.to_owned(),
        still_counts: stored.grant_counts(version),
    })
}

/// The double opt-in's interval: into the evidence of each grant among `events` (one answer
/// on the page, at `now`) of a consent the person was mailed a request or a reminder about,
/// the seconds since the last such mail, read from `stream` (the record's events before the
/// answer; a request carried over from another record counts from when it was sent there).
pub fn note_request_intervals(events: &mut [ConsentEvent], stream: &[StreamEvent], now: i64) {
    let last_request = |consent: &str| {
        stream
            .iter()
            .filter_map(|event| match event {
                StreamEvent::Consent(event) if event.consent.as_str() == consent => {
                    match &event.cause {
                        Cause::Request { .. } => Some(event.at),
                        Cause::CarriedOver {
                            answered_at,
                            answer,
                            ..
                        } if matches!(answer.as_ref(), Cause::Request { .. }) => Some(*answered_at),
                        _ => None,
                    }
                }
                StreamEvent::RequestRepeated(repeated)
                    if repeated.consents.iter().any(|id| id.as_str() == consent) =>
                {
                    Some(repeated.at)
                }
                _ => None,
            })
            .max()
    };
    for event in events {
        if event.to != ConsentValue::Granted {
            continue;
        }
        let mailed = last_request(event.consent.as_str());
        if let Cause::PreferencesPage {
            seconds_since_request,
            ..
        } = &mut event.cause
        {
            *seconds_since_request =
                mailed.map(|at| u64::try_from(now.saturating_sub(at) / 1000).unwrap_or(0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::tests::{definition_input, settings_input};
    use crate::definition::ConsentKind;
    use crate::event::{Cause, RecordingSource, Statement};
    use crate::lifecycle::{Choice, answer, reevaluate};
    use crate::record::tests::fields;
    use crate::record::{Module, RecordRef};

    #[test]
    fn the_page_lists_every_consent_that_applies_with_its_exact_purpose() {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        let mut newsletter = definition_input("newsletter", "contacts", ConsentKind::Custom);
        newsletter.purpose = "  We send news <monthly> & more.\n".to_owned();
        configuration.put_consent(newsletter, None).unwrap();
        let mut phone = definition_input(
            "phone",
            "contacts",
            ConsentKind::Data {
                field: "phone".into(),
            },
        );
        phone.applies_when = vec![crate::definition::Clause {
            field: "phone".into(),
            condition: crate::definition::Condition::Present,
        }];
        configuration.put_consent(phone, None).unwrap();
        configuration
            .put_consent(
                definition_input("lead-news", "leads", ConsentKind::Custom),
                None,
            )
            .unwrap();
        let mut snapshot = PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), "Ada".into());
        reevaluate(&mut snapshot, &configuration, &fields(&[("phone", "")]), 1);
        let cause = Cause::Recorded {
            source: RecordingSource::Admin,
            actor: None,
            statement: Statement::parse("form").unwrap(),
        };
        let history = answer(
            &mut snapshot,
            &configuration,
            &[Choice {
                consent: "newsletter".into(),
                grant: true,
            }],
            &cause,
            2,
        )
        .unwrap();

        let page = page(&configuration, &snapshot, &history, 99);
        assert_eq!(page.name, "Ada");
        assert_eq!(page.organisation, "Example Ltd");
        assert_eq!(page.link_expires_at, 99);
        assert_eq!(
            page.consents,
            [ConsentView {
                id: "newsletter".into(),
                title: "Title of newsletter".into(),
                purpose: "  We send news <monthly> & more.\n".into(),
                purpose_version: 1,
                value: ConsentValue::Granted,
                changeable: true,
                text_language: Language::English,
                agreed: None,
            }]
        );
    }

    #[test]
    fn the_page_shows_the_text_agreed_to_until_the_person_answers_the_new_one() {
        let mut configuration = Configuration::default();
        configuration.set_settings(settings_input()).unwrap();
        let mut newsletter = definition_input("newsletter", "contacts", ConsentKind::Custom);
        newsletter.purpose = "Monthly news.".to_owned();
        configuration.put_consent(newsletter.clone(), None).unwrap();
        let mut snapshot = PersonSnapshot::new(RecordRef::new(Module::Contacts, "1"), "Ada".into());
        reevaluate(&mut snapshot, &configuration, &fields(&[]), 1);
        let cause = Cause::Recorded {
            source: RecordingSource::Admin,
            actor: None,
            statement: Statement::parse("form").unwrap(),
        };
        let choose = |snapshot: &mut PersonSnapshot, configuration: &Configuration, grant| {
            answer(
                snapshot,
                configuration,
                &[Choice {
                    consent: "newsletter".into(),
                    grant,
                }],
                &cause,
                2,
            )
            .unwrap()
        };
        let mut history = choose(&mut snapshot, &configuration, true);

        newsletter.purpose = "Monthly news, shared with partners.".to_owned();
        configuration
            .put_consent(newsletter, Some(crate::definition::PurposeChange::Material))
            .unwrap();
        let view = &page(&configuration, &snapshot, &history, 99).consents[0];
        assert_eq!(view.purpose, "Monthly news, shared with partners.");
        assert_eq!(
            view.agreed,
            Some(AgreedText {
                version: 1,
                purpose: "Monthly news.".into(),
                still_counts: false,
            })
        );

        // Once they answer the new text, the old one is history.
        history.extend(choose(&mut snapshot, &configuration, false));
        let view = &page(&configuration, &snapshot, &history, 99).consents[0];
        assert_eq!(view.agreed, None);
    }

    #[test]
    fn a_grant_on_the_page_notes_the_seconds_since_the_last_request_about_it() {
        use crate::calendar::Date;
        use crate::consent::ConsentDefault;
        use crate::definition::{ConsentId, PurposeVersion};
        use crate::event::{LinkId, RequestRepeatedEvent};
        let id = |text: &str| ConsentId::parse(text).unwrap();
        let event = |consent: &str, at: i64, to: ConsentValue, cause: Cause| ConsentEvent {
            at,
            consent: id(consent),
            from: ConsentValue::Applicable,
            to,
            purpose: PurposeVersion::first("We send news."),
            default: ConsentDefault::No,
            cause,
        };
        let period = Date::parse("2026-12-01").unwrap();
        let request = Cause::Request {
            period,
            link: LinkId([1; 16]),
        };
        let page = Cause::PreferencesPage {
            link: LinkId([2; 16]),
            ip: None,
            user_agent: None,
            seconds_since_request: None,
        };
        let stream = vec![
            StreamEvent::Consent(event(
                "news",
                1_000_000,
                ConsentValue::Waiting,
                request.clone(),
            )),
            StreamEvent::Consent(event("calls", 2_000_000, ConsentValue::Waiting, request)),
            StreamEvent::RequestRepeated(RequestRepeatedEvent {
                at: 5_000_000,
                period,
                link: LinkId([3; 16]),
                consents: vec![id("calls")],
                reminder: true,
            }),
        ];
        let now = 9_000_500;
        let mut answers = vec![
            event("news", now, ConsentValue::Granted, page.clone()),
            event("calls", now, ConsentValue::Granted, page.clone()),
            event("other", now, ConsentValue::Granted, page.clone()),
            event("news", now, ConsentValue::NotGranted, page),
        ];
        note_request_intervals(&mut answers, &stream, now);
        let noted: Vec<Option<u64>> = answers
            .iter()
            .map(|answer| match answer.cause {
                Cause::PreferencesPage {
                    seconds_since_request,
                    ..
                } => seconds_since_request,
                _ => unreachable!(),
            })
            .collect();
        // From the request (8,000 s), from the reminder (4,000 s), never asked, a refusal.
        assert_eq!(noted, [Some(8_000), Some(4_000), None, None]);
        let json = answers[0].to_json().unwrap();
        assert!(json.contains(r#""seconds-since-request":8000"#), "{json}");
        assert_eq!(ConsentEvent::from_json(&json).unwrap(), answers[0]);
    }
}
