//! The `jobs` export: the daily consent run, one page of CRM records per call.
//!
//! Each page re-evaluates the records it lists (so consents defined after the records were
//! last changed are covered), then takes each person's step of the run: a request about
//! their applicable consents, a reminder about those still waiting, or the lapse of an
//! unanswered request, as the settings' request policy says (at most one mail per person
//! and period). A
//! duplicate is never mailed twice over: it does not own its address once de-duplicated
//! (the primary does), and its status is not active. The
//! message id is derived from the period and the record, and a person asked in a period is
//! not asked again in it, so re-running a period sends nothing twice. Whatever the number
//! of records holding an address over time, the address gets at most one request mail (a
//! request or a reminder) per `request-interval-hours` of the safeguard settings: a mail
//! held back is sent by a later run, as the person's step is still due then. A web-form
//! record without the form's proof is sent none (`crate::web_forms`).
//!
//! The cursor is `<module>` or `<module>:<CRM cursor>` (`privacy_guard_core::storage::RunCursor`);
//! a cursor that cannot be read restarts the run, which is safe for the same reasons.

use privacy_guard_core::calendar::Date;
use privacy_guard_core::configuration::{Configuration, Settings};
use privacy_guard_core::lifecycle::{
    DailyStep, MailKind, daily_step, lapse, mailed, outdated_grant, renewal_due,
};
use privacy_guard_core::mail::{ConsentRequest, request_message_id};
use privacy_guard_core::observation::NewDuplicates;
use privacy_guard_core::record::Module;
use privacy_guard_core::safeguards::SafeguardSettings;
use privacy_guard_core::storage::RunCursor;
use privacy_guard_core::web_forms::AddressLimit;

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::jobs as wit;
use crate::bindings::privacy_guard::consent::{clock, crm};
use crate::links::{SignedLink, sign_link};
use crate::logging::{debug, info, warn};
use crate::records::{Observed, keys_to_read, observe};
use crate::state::State;
use crate::web_forms::{Admission, admit, request_interval_ms};

/// Largest page asked of the CRM (the reference host's `list-records` gives at most
/// 1,000). A page's mails, events and state stay well within a call's budget
/// (`SandboxLimits::budget` on the host) at this size.
const MAX_PAGE: u32 = 1000;

impl wit::Guest for Plugin {
    fn daily_consent_run(
        period: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<wit::RunPage, wit::JobError> {
        let state = State::new();
        let configuration = state.configuration();
        let safeguards = state.safeguards();
        let settings = match configuration.settings() {
            Some(settings) if configuration.is_enabled() => settings,
            _ => return Err(wit::JobError::NotEnabled),
        };
        let period = Date::parse(&period)
            .map_err(|error| wit::JobError::InvalidPeriod(error.to_string()))?;
        let modules = configuration.modules_with_consents();
        let start = match cursor.as_deref().map(RunCursor::decode) {
            None => None,
            Some(Some(position)) => Some(position),
            Some(None) => {
                warn(
                    "unreadable run cursor; restarting the run",
                    &[("period", &period)],
                );
                None
            }
        };
        let position = start.or_else(|| {
            modules.first().map(|module| RunCursor {
                module: module.clone(),
                crm: None,
            })
        });
        let Some(position) = position else {
            return Ok(wit::RunPage {
                people: 0,
                requests_sent: 0,
                next_cursor: None,
            });
        };
        let run = Run {
            configuration: &configuration,
            settings,
            safeguards: &safeguards,
            period,
            now: clock::now(),
        };
        Ok(run.page(&position, &modules, limit.clamp(1, MAX_PAGE)))
    }
}

/// One page of the daily run of a period.
struct Run<'a> {
    configuration: &'a Configuration,
    settings: &'a Settings,
    safeguards: &'a SafeguardSettings,
    period: Date,
    now: i64,
}

impl Run<'_> {
    fn page(&self, position: &RunCursor, modules: &[Module], limit: u32) -> wit::RunPage {
        let module = position.module.clone();
        let (records, crm_cursor) = if modules.contains(&module) {
            match crm::list_records(module.as_str(), position.crm.as_deref(), limit) {
                Ok(page) => (page.records, page.next_cursor),
                Err(error) => {
                    let reason = match error {
                        crm::CrmError::NotFound(_) => "not found".to_owned(),
                        crm::CrmError::Invalid(reason) => reason,
                    };
                    warn(
                        "the CRM refused to list a module; skipping it",
                        &[("module", &module), ("reason", &reason)],
                    );
                    (Vec::new(), None)
                }
            }
        } else {
            (Vec::new(), None)
        };
        let mut people: u32 = 0;
        let mut requests: u32 = 0;
        let mut state = State::reading_ahead(keys_to_read(&records));
        for record in records {
            people = people.saturating_add(1);
            if let Some(mut observed) = observe(
                &mut state,
                record,
                self.configuration,
                &self.safeguards.web_forms,
                self.now,
                NewDuplicates::KeepApart,
            ) && self.step(&mut state, &mut observed)
            {
                requests = requests.saturating_add(1);
            }
        }
        let next = match crm_cursor {
            Some(crm) => Some(RunCursor {
                module: module.clone(),
                crm: Some(crm),
            }),
            None => modules
                .iter()
                .find(|next| **next > module)
                .map(|next| RunCursor {
                    module: next.clone(),
                    crm: None,
                }),
        };
        let next_cursor = next.map(|next| next.encode());
        debug(
            "daily consent run page",
            &[
                ("period", &self.period),
                ("module", &module),
                ("people", &people),
                ("requests-sent", &requests),
                ("complete", &next_cursor.is_none()),
            ],
        );
        wit::RunPage {
            people,
            requests_sent: requests,
            next_cursor,
        }
    }

    /// Carries out the person's step of the daily run (`privacy_guard_core::lifecycle::daily_step`):
    /// a lapse, a reminder, or a request; whether a mail was queued.
    fn step(&self, state: &mut State, observed: &mut Observed) -> bool {
        let person = &mut observed.person;
        match daily_step(
            &person.snapshot,
            &person.location,
            self.configuration,
            self.period,
        ) {
            DailyStep::Nothing => false,
            DailyStep::Lapse(waiting) => {
                let events = lapse(&mut person.snapshot, &waiting, self.period, self.now);
                person.append(&events, self.configuration);
                state.save(person);
                info(
                    "unanswered request lapsed",
                    &[("record", &person.snapshot.record)],
                );
                false
            }
            DailyStep::Mail { .. } if observed.withheld => false,
            // A bounce, complaint or unsubscribe mail stopped requests to the address.
            DailyStep::Mail { ref address, .. }
                if crate::feedback::suppressed(state, self.configuration, address).is_some() =>
            {
                false
            }
            DailyStep::Mail {
                address,
                consents,
                kind,
            } => {
                let record = person.snapshot.record.clone();
                let admission = admit(
                    state,
                    AddressLimit::Request,
                    &address,
                    request_interval_ms(self.safeguards),
                    self.now,
                );
                if let Admission::Held = admission {
                    info(
                        "request held back: the address was sent one within the request interval",
                        &[("record", &record)],
                    );
                    return false;
                }
                let SignedLink { url: link, payload } =
                    sign_link(self.settings, record.clone(), self.now);
                let message_id =
                    request_message_id(self.period, &record, self.settings.sender_address());
                let agreed_versions: Vec<Option<u32>> = consents
                    .iter()
                    .map(|stored| outdated_grant(&person.snapshot, stored))
                    .collect();
                let renewals: Vec<Option<Date>> = consents
                    .iter()
                    .map(|stored| renewal_due(&person.snapshot, stored, self.period))
                    .collect();
                let message = ConsentRequest {
                    settings: self.settings,
                    message_id: &message_id,
                    to: &address,
                    name: &person.snapshot.name,
                    language: person.snapshot.language(self.configuration),
                    consents: &consents,
                    link: &link,
                    link_expires_at: payload.expires_at,
                    reminding_of: match kind {
                        MailKind::Reminder { asked_on } => Some(asked_on),
                        MailKind::Request | MailKind::AskedAgain => None,
                    },
                    agreed_versions: &agreed_versions,
                    renewals: &renewals,
                }
                .to_mail();
                if crate::outgoing::queue(message).is_err() {
                    // The host's reason may quote the address: log the record, not the reason.
                    warn("consent request mail rejected", &[("record", &record)]);
                    return false;
                }
                admission.sent(state, self.now);
                let (events, repeated) = mailed(
                    &mut person.snapshot,
                    &consents,
                    kind,
                    self.period,
                    payload.link,
                    self.now,
                );
                person.append(&events, self.configuration);
                if let Some(repeated) = &repeated {
                    person.append_repeated(repeated);
                }
                state.save(person);
                true
            }
        }
    }
}
