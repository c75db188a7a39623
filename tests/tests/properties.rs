//! Every promise holds whatever order operations come in: generated sequences of
//! operations (imports and edits of contacts and leads, with addresses written in other
//! case and with blanks and the CRM's own modification times; de-duplication; daily runs
//! across days; answers on the preferences page; staff decisions; stopping processing and
//! lifting it; erasure, and re-imports of erased addresses; a consent's condition changed;
//! a consent deleted and defined again) run through the real component in the real host on
//! a real database, and through the reference model (`privacy_guard_tests::model`). After
//! every step:
//!
//! - every pre-send decision, for every message class, purpose and recipient role, is the
//!   model's: no send is allowed that the rules forbid (erased, suppressed, restricted,
//!   duplicate, refused, never asked), and none is refused that they allow;
//! - the request mails that exist are the model's: at most one per person and day, and
//!   none left of an erased person;
//! - no value an erasure or a refusal removed is readable in the database files, the
//!   outbox folder or the log;
//! - the event chain verifies.
//!
//! At the end of each sequence every answer a contact or staff gave is recorded exactly
//! once, in the right person's history, with its true source, actor and evidence.
//!
//! Bounded for CI: `PRIVACY_GUARD_PROPERTY_CASES` sequences (default 64 on SQLite, 12 on
//! PostgreSQL) of up to `PRIVACY_GUARD_PROPERTY_STEPS` operations (default 40). The longer
//! mode (`docs/testing.md`) raises both. A failure prints the shrunk sequence; keep it as
//! a named test in `tests/tests/regressions.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use privacy_guard_host::contract::configuration::{
    ConditionClause, ConditionOp, ConsentDefault, ConsentDefinition, ConsentKind, PurposeChange,
};
use privacy_guard_host::contract::preferences::{Choice, Evidence, LinkError, SubmitError};
use privacy_guard_host::contract::sending::{
    Decision, LawfulBasis, MessageClass, Obligations, Recipient, RecipientRole, RefusalReason,
    SendRequest,
};
use privacy_guard_host::contract::subjects::RecordError;
use privacy_guard_host::contract::types::RecordRef;
use privacy_guard_host::guard::{Guard, ImportedRecord};
use privacy_guard_host::storage::LedgerCheck;
use privacy_guard_tests::model::{
    self, ADDRESSES, Basis, Class, Consent, DAY, Expected, Model, Reason, Record, Refused,
};
use privacy_guard_tests::scenario::{LogCapture, history_of};
use privacy_guard_tests::{Mail, TestHost, operator, postgres_server_url, settings};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const PREFERENCES_URL: &str = "http://127.0.0.1:9/preferences/";
/// 1 November 2026, 00:00 UTC: the CRM's modification times lie in the month before.
const NOVEMBER: i64 = 1_793_491_200_000;

/// One operation of a sequence.
#[derive(Debug, Clone)]
enum Op {
    /// The CRM imports (creates or updates) a record: its address as written, or none.
    Import {
        record: Record,
        email: Option<(usize, u8)>,
        country: &'static str,
        phone: bool,
        /// The CRM's modification time, in days after 1 November (ties are likely).
        modified_day: u8,
    },
    Deduplicate,
    DailyRun,
    /// The person at an address answers on the page of the last request mailed there.
    PageAnswer {
        address: usize,
        consent: Consent,
        grant: bool,
    },
    StaffDecision {
        record: Record,
        consent: Consent,
        grant: bool,
    },
    Restrict(Record),
    Lift(Record),
    Erase(Record),
    ToggleNewsCondition,
    TogglePhoneConsent,
    /// The text of `news` is revised: a correction, or a material change.
    ReviseNews {
        material: bool,
    },
}

fn record() -> impl Strategy<Value = Record> {
    prop::sample::select(Record::all())
}

fn consent() -> impl Strategy<Value = Consent> {
    prop::sample::select(Consent::ALL.to_vec())
}

fn op() -> impl Strategy<Value = Op> {
    let import = (
        record(),
        prop::option::weighted(0.9, (0..ADDRESSES.len(), 0_u8..4)),
        prop::sample::select(vec!["DE", "US", ""]),
        any::<bool>(),
        0_u8..3,
    )
        .prop_map(|(record, email, country, phone, modified_day)| Op::Import {
            record,
            email,
            country,
            phone,
            modified_day,
        });
    prop_oneof![
        8 => import,
        2 => Just(Op::Deduplicate),
        3 => Just(Op::DailyRun),
        5 => (0..ADDRESSES.len(), consent(), any::<bool>())
            .prop_map(|(address, consent, grant)| Op::PageAnswer { address, consent, grant }),
        3 => (record(), consent(), any::<bool>())
            .prop_map(|(record, consent, grant)| Op::StaffDecision { record, consent, grant }),
        1 => record().prop_map(Op::Restrict),
        1 => record().prop_map(Op::Lift),
        2 => record().prop_map(Op::Erase),
        1 => Just(Op::ToggleNewsCondition),
        1 => Just(Op::TogglePhoneConsent),
        2 => any::<bool>().prop_map(|material| Op::ReviseNews { material }),
    ]
}

/// An answer that must be in a history exactly once.
#[derive(Debug, Clone)]
struct Answer {
    record: Record,
    source: &'static str,
    actor: &'static str,
    /// The user agent (page) or statement (staff) only this answer carries.
    marker: String,
    to: &'static str,
}

/// One sequence: the real host and the model side by side.
struct World {
    host: TestHost,
    guard: Guard,
    model: Model,
    answers: Vec<Answer>,
    step: usize,
}

static SEQUENCES: AtomicU64 = AtomicU64::new(0);

fn reference(record: Record) -> RecordRef {
    RecordRef {
        module: record.module.as_str().into(),
        id: record.id.to_string(),
    }
}

fn consent_definition(consent: Consent, outside_us: bool) -> ConsentDefinition {
    consent_definition_of(consent, outside_us, 1)
}

/// The definition of `consent` with version `version` of its text.
fn consent_definition_of(consent: Consent, outside_us: bool, version: u32) -> ConsentDefinition {
    let (kind, default_value, title) = match consent {
        Consent::News => (ConsentKind::Custom, ConsentDefault::No, "News"),
        Consent::Phone => (
            ConsentKind::Data("phone".into()),
            ConsentDefault::Yes,
            "Your phone number",
        ),
        Consent::LeadNews => (
            ConsentKind::Custom,
            ConsentDefault::No,
            "News for prospects",
        ),
    };
    let applies_when = if consent == Consent::News && outside_us {
        vec![ConditionClause {
            field: "country".into(),
            op: ConditionOp::NoneOf,
            values: vec!["US".into()],
        }]
    } else {
        Vec::new()
    };
    ConsentDefinition {
        id: consent.id().into(),
        module: consent.module().as_str().into(),
        kind,
        title: title.into(),
        purpose: match version {
            1 => format!("{title}: what we do with it, in plain words."),
            revised => format!("{title}: what we do with it, in plain words (revision {revised})."),
        },
        default_value,
        applies_when,
        translations: Vec::new(),
        max_age_months: 0,
    }
}

fn instant(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .expect("a time")
        .to_rfc3339()
}

impl World {
    fn new(cache: &std::path::Path) -> World {
        let host = TestHost::new("2026-12-01T09:00:00Z");
        let cache = cache.to_owned();
        let guard = host
            .open_with(|options| options.cache_dir = Some(cache))
            .expect("host");
        guard
            .set_settings(&settings(PREFERENCES_URL))
            .expect("call")
            .expect("settings");
        for consent in Consent::ALL {
            guard
                .put_consent(&consent_definition(consent, false), None)
                .expect("call")
                .expect("consent");
        }
        guard.enable(true).expect("call").expect("enabled");
        World {
            host,
            guard,
            model: Model::new(),
            answers: Vec::new(),
            step: 0,
        }
    }

    fn marker(&self) -> String {
        format!(
            "property {} step {}",
            SEQUENCES.load(Ordering::Relaxed),
            self.step
        )
    }

    /// Carries out `op` on both sides; an outcome that differs is a failure.
    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.step += 1;
        if !matches!(op, Op::DailyRun) {
            self.model.advance(60_000);
            self.host.set_now(&instant(self.model.now));
        }
        match op {
            Op::Import {
                record,
                email,
                country,
                phone,
                modified_day,
            } => {
                // Unique in the sequence, so an erased number is never held by another record.
                let phone = phone.then(|| format!("+49 30 {:06}", self.step));
                let modified_at = NOVEMBER + i64::from(*modified_day) * DAY;
                let mut fields = vec![
                    ("name".to_owned(), format!("Person {record}")),
                    (
                        "email".to_owned(),
                        email.map_or(String::new(), |(address, variant)| {
                            model::written(address, variant)
                        }),
                    ),
                    ("country".to_owned(), (*country).to_owned()),
                ];
                if let Some(phone) = &phone {
                    fields.push(("phone".to_owned(), phone.clone()));
                }
                self.guard
                    .import_records(
                        record.module.as_str(),
                        vec![ImportedRecord {
                            id: Some(record.id.to_string()),
                            fields,
                            status: None,
                            modified_at: Some(modified_at),
                        }],
                        &|_| {},
                    )
                    .expect("import");
                self.model
                    .import(*record, *email, country, phone, modified_at);
            }
            Op::Deduplicate => {
                self.guard.deduplicate().expect("de-duplication");
                self.model.deduplicate();
            }
            Op::DailyRun => {
                let before = self.model.requests.len();
                let day = self.model.daily_run();
                self.host.set_now(&instant(self.model.now));
                let report = self.guard.run_due().expect("daily run");
                let expected = (self.model.requests.len() - before) as u64;
                let sent = report.map_or(0, |report| report.requests);
                prop_assert_eq!(sent, expected, "requests of the run of day {}", day);
            }
            Op::PageAnswer {
                address,
                consent,
                grant,
            } => self.page_answer(*address, *consent, *grant)?,
            Op::StaffDecision {
                record,
                consent,
                grant,
            } => {
                let marker = self.marker();
                let outcome = self
                    .guard
                    .record_decision(
                        &reference(*record),
                        consent.id(),
                        *grant,
                        &operator(),
                        &marker,
                    )
                    .expect("call")
                    .map(drop)
                    .map_err(|error| record_refusal(&error));
                let expected = self.model.staff_decision(*record, *consent, *grant);
                prop_assert_eq!(
                    outcome,
                    expected.map(drop),
                    "staff decision on {} about {}",
                    record,
                    consent.id()
                );
                if expected == Ok(true) {
                    self.answers.push(Answer {
                        record: *record,
                        source: "admin",
                        actor: "test-operator",
                        marker,
                        to: if *grant { "granted" } else { "not-granted" },
                    });
                }
            }
            Op::Restrict(record) => {
                let outcome = self
                    .guard
                    .restrict(&reference(*record), &operator(), &self.marker())
                    .expect("call")
                    .map(drop)
                    .map_err(|error| record_refusal(&error));
                prop_assert_eq!(outcome, self.model.restrict(*record), "restrict {}", record);
            }
            Op::Lift(record) => {
                let outcome = self
                    .guard
                    .lift_restriction(&reference(*record), &operator(), &self.marker())
                    .expect("call")
                    .map(drop)
                    .map_err(|error| record_refusal(&error));
                prop_assert_eq!(outcome, self.model.lift(*record), "lift {}", record);
            }
            Op::Erase(record) => {
                let outcome = self
                    .guard
                    .erase(&reference(*record), &operator(), &self.marker())
                    .expect("call")
                    .map(drop)
                    .map_err(|error| record_refusal(&error));
                prop_assert_eq!(outcome, self.model.erase(*record), "erase {}", record);
            }
            Op::ToggleNewsCondition => {
                self.model.toggle_news_condition();
                self.guard
                    .put_consent(
                        &consent_definition_of(
                            Consent::News,
                            self.model.news_outside_us,
                            self.model.news_version,
                        ),
                        None,
                    )
                    .expect("call")
                    .expect("consent");
            }
            Op::ReviseNews { material } => {
                self.model.revise_news(*material);
                let stored = self
                    .guard
                    .put_consent(
                        &consent_definition_of(
                            Consent::News,
                            self.model.news_outside_us,
                            self.model.news_version,
                        ),
                        Some(if *material {
                            PurposeChange::Material
                        } else {
                            PurposeChange::Correction
                        }),
                    )
                    .expect("call")
                    .expect("revised");
                prop_assert_eq!(stored.purpose_version, self.model.news_version);
                prop_assert_eq!(stored.counts_from_version, self.model.news_counts_from);
            }
            Op::TogglePhoneConsent => {
                if self.model.phone_defined {
                    self.guard
                        .delete_consent(Consent::Phone.id())
                        .expect("call")
                        .expect("deleted");
                } else {
                    self.guard
                        .put_consent(&consent_definition(Consent::Phone, false), None)
                        .expect("call")
                        .expect("defined again");
                }
                self.model.toggle_phone_consent();
            }
        }
        Ok(())
    }

    fn page_answer(
        &mut self,
        address: usize,
        consent: Consent,
        grant: bool,
    ) -> Result<(), TestCaseError> {
        let mail = latest_request(&self.host.mails(), address);
        let expected_mail = self.model.latest_request(address).cloned();
        prop_assert_eq!(
            mail.is_some(),
            expected_mail.is_some(),
            "a request mail to {} in the outbox",
            ADDRESSES[address]
        );
        let Some(mail) = mail else {
            return Ok(());
        };
        let link = mail.link(PREFERENCES_URL).expect("a link in the request");
        let token = link.rsplit('/').next().expect("a token").to_owned();
        let marker = self.marker();
        let outcome = self
            .guard
            .submit_preferences(
                &token,
                &[Choice {
                    consent_id: consent.id().into(),
                    grant,
                }],
                &Evidence {
                    ip: Some("203.0.113.9".into()),
                    user_agent: Some(marker.clone()),
                },
            )
            .expect("call")
            .map(drop)
            .map_err(|error| match error {
                SubmitError::Link(LinkError::UnknownPerson) => Refused::UnknownPerson,
                SubmitError::Link(other) => panic!("the link does not open: {other:?}"),
                SubmitError::UnknownConsent(_) => Refused::UnknownConsent,
                SubmitError::NotChangeable(_) => Refused::NotChangeable,
                SubmitError::ProcessingRestricted => Refused::Status,
            });
        let expected = self
            .model
            .page_answer(address, consent, grant)
            .expect("the model mailed a request too");
        prop_assert_eq!(
            outcome,
            expected.map(drop),
            "answer on the page of {} about {}",
            ADDRESSES[address],
            consent.id()
        );
        if let Ok((record, true)) = expected {
            self.answers.push(Answer {
                record,
                source: "preferences-page",
                actor: "person",
                marker,
                to: if grant { "granted" } else { "not-granted" },
            });
        }
        Ok(())
    }

    /// Every promise that holds after any step.
    fn check(&self) -> Result<(), TestCaseError> {
        self.check_decisions()?;
        self.check_requests()?;
        self.check_gone()?;
        prop_assert!(
            matches!(
                self.guard.verify_ledger().expect("ledger"),
                LedgerCheck::Intact { .. }
            ),
            "the event chain is broken"
        );
        Ok(())
    }

    fn check_decisions(&self) -> Result<(), TestCaseError> {
        let asked = [
            (Class::Transactional, None),
            (Class::AdHoc, None),
            (Class::Workflow, None),
            (Class::Workflow, Some(Consent::News)),
            (Class::Marketing, Some(Consent::News)),
            (Class::Marketing, Some(Consent::Phone)),
            (Class::Marketing, Some(Consent::LeadNews)),
        ];
        let roles = [
            (RecipientRole::To, 0_u8),
            (RecipientRole::Cc, 2),
            (RecipientRole::Bcc, 3),
        ];
        let mut recipients = Vec::new();
        for address in 0..ADDRESSES.len() {
            for (role, variant) in roles {
                recipients.push((
                    address,
                    role,
                    Recipient {
                        address: model::written(address, variant),
                        role,
                        person: None,
                    },
                ));
            }
        }
        let batch: Vec<Recipient> = recipients
            .iter()
            .map(|(_, _, recipient)| recipient.clone())
            .collect();
        for (class, purpose) in asked {
            let request = SendRequest {
                class: match class {
                    Class::AdHoc => MessageClass::AdHoc,
                    Class::Workflow => MessageClass::Workflow,
                    Class::Marketing => MessageClass::Marketing,
                    Class::Transactional => MessageClass::Transactional,
                },
                purpose: purpose.map(|consent| consent.id().to_owned()),
            };
            let decisions = self.guard.check_send(&request, &batch);
            for ((address, role, recipient), decision) in recipients.iter().zip(decisions) {
                let expected =
                    self.model
                        .decide(class, purpose, *role == RecipientRole::To, *address);
                prop_assert_eq!(
                    observed(&decision),
                    expected,
                    "{:?} {:?} to {:?} ({:?})",
                    class,
                    purpose.map(Consent::id),
                    recipient.address,
                    role
                );
            }
        }
        Ok(())
    }

    fn check_requests(&self) -> Result<(), TestCaseError> {
        let mut found: BTreeMap<(String, String), usize> = BTreeMap::new();
        for mail in self.host.mails() {
            if mail.message_id.starts_with("consent-request.") {
                *found
                    .entry((mail.to.join(","), date_of(&mail)))
                    .or_default() += 1;
            }
        }
        let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
        for request in self
            .model
            .requests
            .iter()
            .filter(|request| !request.forgotten)
        {
            let day = chrono::DateTime::from_timestamp_millis(Model::run_time(request.day))
                .expect("a day")
                .format("%d %b %Y")
                .to_string();
            *expected
                .entry((ADDRESSES[request.address].to_owned(), day))
                .or_default() += 1;
        }
        prop_assert!(
            found.values().all(|count| *count == 1),
            "more than one request a day: {:?}",
            found
        );
        prop_assert_eq!(found, expected, "the request mails in the outbox");
        Ok(())
    }

    fn check_gone(&self) -> Result<(), TestCaseError> {
        let gone = self.model.gone();
        if gone.is_empty() {
            return Ok(());
        }
        let database = String::from_utf8_lossy(&self.host.database_bytes()).to_lowercase();
        let outbox: String = self
            .host
            .mails()
            .iter()
            .map(|mail| mail.raw.to_lowercase())
            .collect();
        for value in gone {
            let value = value.to_lowercase();
            prop_assert!(
                !database.contains(&value),
                "{} is readable in the database files",
                value
            );
            prop_assert!(
                !outbox.contains(&value),
                "{} is readable in the outbox folder",
                value
            );
        }
        Ok(())
    }

    /// Every answer given is in its person's history exactly once, as given.
    fn check_answers(&self) -> Result<(), TestCaseError> {
        for answer in &self.answers {
            let history = history_of(&self.guard, &reference(answer.record));
            let matching: Vec<&serde_json::Value> = history
                .iter()
                .filter(|event| {
                    event["evidence"]["user-agent"] == answer.marker.as_str()
                        || event["evidence"]["statement"] == answer.marker.as_str()
                })
                .collect();
            prop_assert_eq!(matching.len(), 1, "{:?} in {:?}", answer, history);
            let event = matching[0];
            prop_assert_eq!(
                event["source"].as_str(),
                Some(answer.source),
                "{:?}",
                answer
            );
            prop_assert_eq!(event["actor"].as_str(), Some(answer.actor), "{:?}", answer);
            prop_assert_eq!(event["to"].as_str(), Some(answer.to), "{:?}", answer);
        }
        Ok(())
    }
}

/// The decision as the model expresses it.
fn observed(decision: &Decision) -> Expected {
    match decision {
        Decision::Allow(allowance) => {
            assert!(
                allowance.obligations.contains(Obligations::STRIP_TRACKING),
                "no tracking consent is defined: tracking is always stripped"
            );
            Expected::Allow {
                basis: match allowance.basis {
                    LawfulBasis::Consent => Basis::Consent,
                    LawfulBasis::Contract => Basis::Contract,
                    LawfulBasis::LegalObligation => Basis::LegalObligation,
                    LawfulBasis::LegitimateInterests => Basis::LegitimateInterests,
                },
                footer: allowance
                    .obligations
                    .contains(Obligations::PREFERENCES_FOOTER),
                awaiting_consent: allowance.awaiting_consent,
            }
        }
        Decision::Refuse(refusal) => Expected::Refuse(match refusal.reason {
            RefusalReason::PurposeUnknown => Reason::PurposeUnknown,
            RefusalReason::UnknownRecipient => Reason::UnknownRecipient,
            RefusalReason::ConsentNotApplicable => Reason::ConsentNotApplicable,
            RefusalReason::ConsentNotRequested => Reason::ConsentNotRequested,
            RefusalReason::ConsentPending => Reason::ConsentPending,
            RefusalReason::ConsentRefused => Reason::ConsentRefused,
            RefusalReason::ConsentOutdated => Reason::ConsentOutdated,
            RefusalReason::ProcessingRestricted => Reason::ProcessingRestricted,
            RefusalReason::Erased => Reason::Erased,
            RefusalReason::Duplicate => Reason::Duplicate,
            RefusalReason::NotAToRecipient => Reason::NotAToRecipient,
            other => panic!(
                "not a refusal the rules give here: {other:?} ({})",
                refusal.detail
            ),
        }),
    }
}

fn record_refusal(error: &RecordError) -> Refused {
    match error {
        RecordError::UnknownPerson(_) => Refused::UnknownPerson,
        RecordError::UnknownConsent(_) => Refused::UnknownConsent,
        RecordError::NotApplicable(_) => Refused::NotChangeable,
        RecordError::StatusRefused(_) => Refused::Status,
        other => panic!("a refusal the model does not know: {other:?}"),
    }
}

/// The `Date:` header's day, e.g. `01 Dec 2026`.
fn date_of(mail: &Mail) -> String {
    mail.raw
        .lines()
        .find_map(|line| line.strip_prefix("Date: "))
        .and_then(|date| chrono::DateTime::parse_from_rfc2822(date.trim()).ok())
        .map(|date| date.format("%d %b %Y").to_string())
        .unwrap_or_default()
}

/// The latest consent request mailed to `address` (by its `Date:`; at most one a day).
fn latest_request(mails: &[Mail], address: usize) -> Option<Mail> {
    mails
        .iter()
        .filter(|mail| {
            mail.message_id.starts_with("consent-request.") && mail.to == [ADDRESSES[address]]
        })
        .max_by_key(|mail| {
            mail.raw
                .lines()
                .find_map(|line| line.strip_prefix("Date: "))
                .and_then(|date| chrono::DateTime::parse_from_rfc2822(date.trim()).ok())
                .map(|date| date.timestamp())
        })
        .cloned()
}

fn bound(variable: &str, default: u32) -> u32 {
    std::env::var(variable)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn run_sequence(
    ops: &[Op],
    cache: &std::path::Path,
    logs: &LogCapture,
) -> Result<(), TestCaseError> {
    SEQUENCES.fetch_add(1, Ordering::Relaxed);
    logs.clear();
    let mut world = World::new(cache);
    for op in ops {
        world.apply(op)?;
        world.check()?;
    }
    world.check_answers()?;
    // Nothing personal reaches the log, ever: no address, no phone number.
    let log = logs.text().to_lowercase();
    for address in ADDRESSES {
        prop_assert!(!log.contains(address), "{} is in the log", address);
    }
    prop_assert!(!log.contains("+49 30"), "a phone number is in the log");
    Ok(())
}

#[test]
fn every_promise_holds_after_any_sequence_of_operations() {
    let logs = LogCapture::process();
    let postgres = postgres_server_url().is_some();
    let cases = bound(
        "PRIVACY_GUARD_PROPERTY_CASES",
        if postgres { 12 } else { 64 },
    );
    let steps = bound("PRIVACY_GUARD_PROPERTY_STEPS", 40) as usize;
    let cache = tempfile::tempdir().expect("a cache folder");
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let cache_path = Arc::new(cache.path().to_owned());
    let outcome = runner.run(&prop::collection::vec(op(), 1..=steps), |ops| {
        run_sequence(&ops, &cache_path, logs)
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
