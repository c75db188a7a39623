//! The `sending` export: the pre-send decision, the hot path.
//!
//! Two reads per call, whatever the batch size: one `store.get` of `config` and one
//! `store.get-many` of every recipient's `person/<address>`. Once an erasure happened, a
//! batch with recipients nobody holds reads their suppression markers in one more
//! `get-many`, and a transactional mail to an erased address reads the records it names
//! (is it the erased one?). Once the markers are salted (an erasure, an IP hash or a
//! delivery report), the recipients a marketing or workflow mail would go to have their
//! delivery-feedback records read in one more `get-many` (`privacy_guard_core::feedback`).
//! The decision itself is the engine's `decide_batch` (the same function a native
//! benchmark calls); refusals carry no detail here.
//!
//! `sending-packed.check-send-packed` is the same decision with the recipients arriving in
//! one buffer of addresses (borrowed in place: no allocation per recipient) and the
//! decisions leaving as two bytes each, the encoding the WIT defines.
//!
//! `render` decides the same way, then carries out each allowed recipient's obligations
//! with the engine's `rendering` functions: it reads the footer's person and signs their
//! preferences link, so it is colder than `check-send`. It also records the ground of each
//! transactional send to a restricted or erased person (its only write).

use privacy_guard_core::address::Address;
use privacy_guard_core::event::LegalGroundEvent;
use privacy_guard_core::vocabulary::{LawfulBasis, MessageClass, PersonStatus};

use privacy_guard_core::feedback::decode_feedback;
use privacy_guard_core::localisation::Texts;
use privacy_guard_core::record::RecordRef;
use privacy_guard_core::rendering::{
    Footer, FooterKind, MailContent, footer_kind, render, unsubscribe_headers,
};
use privacy_guard_core::safeguards::{SAFEGUARDS_KEY, SafeguardSettings};
use privacy_guard_core::sending::{
    Decision, ErasureFacts, Recipient, RecipientRole, RefusalReason, SendRequest, SendingPolicy,
    decide_batch, feedback_lookups, legal_ground_subject, person_keys, refuse_suppressed,
    suppression_lookups,
};
use privacy_guard_core::storage::{CONFIG_KEY, decode_person};

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::sending as wit;
use crate::bindings::exports::privacy_guard::consent::sending_packed as wit_packed;
use crate::bindings::privacy_guard::consent::{clock, store};
use crate::convert::record_ref;
use crate::links::sign_link;
use crate::logging::{fault, info};
use crate::state::{State, unpack};

impl wit::Guest for Plugin {
    fn check_send(
        request: wit::SendRequest,
        recipients: Vec<wit::Recipient>,
    ) -> Vec<wit::Decision> {
        let (request, named) = (send_request(request), named_records(&recipients));
        let recipients = engine_recipients(&recipients);
        decide(&request, &recipients, &named)
            .into_iter()
            .map(wit_decision)
            .collect()
    }

    fn render(
        request: wit::SendRequest,
        mail: wit::MailContent,
        recipients: Vec<wit::Recipient>,
    ) -> Vec<wit::Rendering> {
        let records: Vec<Option<RecordRef>> = recipients
            .iter()
            .map(|recipient| recipient.person.as_ref().and_then(record_ref))
            .collect();
        let (request, named) = (send_request(request), named_records(&recipients));
        let recipients = engine_recipients(&recipients);
        let decisions = decide(&request, &recipients, &named);
        let now = clock::now();
        let state = State::new();
        for ((recipient, record), decision) in recipients.iter().zip(&records).zip(&decisions) {
            record_legal_ground(
                &state,
                &request,
                decision,
                mail.message_id.as_deref(),
                recipient,
                record.as_ref(),
                now,
            );
        }
        let content = MailContent {
            subject: mail.subject,
            text_body: mail.text_body,
            html_body: mail.html_body,
        };
        // Footers need the settings; a footer due while none are configured is a fault.
        let needs_footer = decisions.iter().any(|decision| {
            matches!(decision, Decision::Allow { obligations, .. }
                if footer_kind(request.class, *obligations).is_some())
        });
        let configuration = needs_footer.then(|| state.configuration());
        // The mailbox of `mailto:` unsubscriptions (safeguard settings), read only when a
        // footer (and so a link) is due.
        let unsubscribe_mailbox = if needs_footer {
            SafeguardSettings::decode(state.get(SAFEGUARDS_KEY).as_deref())
                .unwrap_or_else(|error| fault("reading the safeguard settings", &error))
                .unsubscribe_mailbox
        } else {
            String::new()
        };
        let settings = configuration.as_ref().map(|configuration| {
            configuration.settings().unwrap_or_else(|| {
                fault(
                    "rendering a mail",
                    &"a footer is due and no settings are configured",
                )
            })
        });
        recipients
            .iter()
            .zip(decisions)
            .map(|(recipient, decision)| {
                let obligations = match decision {
                    Decision::Allow { obligations, .. } => obligations,
                    Decision::Refuse(reason) => return wit::Rendering::Refuse(wit_refusal(reason)),
                };
                let kind = footer_kind(request.class, obligations);
                // Some whenever a footer is due (`needs_footer` read the settings then).
                let settings = kind.and(settings);
                // The person the footer is for, when known: their link and their language.
                let person = settings.and_then(|_| {
                    Address::parse(recipient.address)
                        .ok()
                        .and_then(|address| state.snapshot_at(&address))
                });
                let link = match (kind, settings) {
                    (Some(FooterKind::Preferences), Some(settings)) => {
                        let person = person.as_ref().unwrap_or_else(|| {
                            fault(
                                "rendering a mail",
                                &"a preferences footer is due for a person who is not stored",
                            )
                        });
                        Some(sign_link(settings, person.record.clone(), now).url)
                    }
                    _ => None,
                };
                let texts =
                    settings
                        .zip(configuration.as_ref())
                        .map(|(settings, configuration)| {
                            let language = person
                                .as_ref()
                                .map_or(settings.languages().default, |person| {
                                    person.language(configuration)
                                });
                            Texts::of(language, settings.languages().template(language))
                        });
                let footer = settings
                    .zip(texts.as_deref())
                    .map(|(settings, texts)| Footer {
                        preferences_link: link.as_deref(),
                        organisation: settings.organisation(),
                        postal_address: settings.postal_address(),
                        texts,
                    });
                let rendered = render(&content, obligations.strip_tracking, footer.as_ref());
                let headers = unsubscribe_headers(
                    request.class,
                    request.purpose.as_deref(),
                    link.as_deref(),
                    &unsubscribe_mailbox,
                );
                wit::Rendering::Send(wit::RenderedMail {
                    subject: rendered.subject,
                    text_body: rendered.text_body,
                    html_body: rendered.html_body,
                    headers,
                })
            })
            .collect()
    }
}

/// Records the ground of a send the decision allowed on `legal-obligation`: a
/// `sent-on-legal-ground` event in the stream of the person the engine names
/// (`legal_ground_subject`: the erased record the recipient named, else the person holding
/// the address). Nothing for any other decision.
fn record_legal_ground(
    state: &State,
    request: &SendRequest,
    decision: &Decision,
    message_id: Option<&str>,
    recipient: &Recipient<'_>,
    record: Option<&RecordRef>,
    now: i64,
) {
    if !matches!(
        decision,
        Decision::Allow {
            basis: LawfulBasis::LegalObligation,
            ..
        }
    ) {
        return;
    }
    let named_erased = record
        .and_then(|record| state.person(record))
        .filter(|person| matches!(person.snapshot.status, PersonStatus::Erased { .. }))
        .map(|person| person.snapshot.record);
    let holder = Address::parse(recipient.address)
        .ok()
        .and_then(|address| state.snapshot_at(&address))
        .map(|snapshot| snapshot.record);
    let Some(person) = legal_ground_subject(decision, named_erased.as_ref(), holder.as_ref())
    else {
        fault(
            "recording a legal ground",
            &"a send was allowed on a legal obligation to nobody the plugin holds",
        )
    };
    let event = LegalGroundEvent::new(now, request.class, LawfulBasis::LegalObligation, message_id);
    let payload = event
        .to_json()
        .unwrap_or_else(|error| fault("writing an event", &error));
    store::append_event(&person.stream(), &payload);
    info("send on a legal ground recorded", &[("record", &person)]);
}

impl wit_packed::Guest for Plugin {
    fn check_send_packed(
        request: wit::SendRequest,
        recipients: wit_packed::PackedRecipients,
    ) -> Vec<u8> {
        let request = send_request(request);
        let named: Vec<(usize, RecordRef)> = recipients
            .persons
            .iter()
            .filter_map(|(index, person)| Some((*index as usize, record_ref(person)?)))
            .collect();
        let recipients = unpack_recipients(&recipients)
            .unwrap_or_else(|problem| fault("reading packed recipients", &problem));
        if named.iter().any(|(index, _)| *index >= recipients.len()) {
            fault(
                "reading packed recipients",
                &"a person names a recipient index past the last recipient",
            );
        }
        let decisions = decide(&request, &recipients, &named);
        let mut packed = Vec::with_capacity(decisions.len() * 2);
        for decision in decisions {
            packed.extend_from_slice(&packed_decision(decision));
        }
        packed
    }
}

/// The engine's recipients of a packed batch, borrowing their addresses from its buffer; a
/// batch the WIT's rules do not describe is a fault (the host made it wrong).
fn unpack_recipients(
    packed: &wit_packed::PackedRecipients,
) -> Result<Vec<Recipient<'_>>, &'static str> {
    if packed.ends.len() != packed.roles.len() {
        return Err("the batch has not one role per address");
    }
    let mut start = 0;
    packed
        .ends
        .iter()
        .zip(&packed.roles)
        .map(|(end, role)| {
            let end = *end as usize;
            let address = packed.addresses.get(start..end).ok_or(
                "an address ends before the one before it, past the buffer or inside a character",
            )?;
            start = end;
            let role = match role {
                0 => RecipientRole::To,
                1 => RecipientRole::Cc,
                2 => RecipientRole::Bcc,
                _ => return Err("a role is not 0, 1 or 2"),
            };
            Ok(Recipient { address, role })
        })
        .collect()
}

/// The two bytes `check-send-packed` answers for `decision` (the WIT defines them): the
/// ordinals are the generated enums' own, so they follow the WIT's order of cases.
fn packed_decision(decision: Decision) -> [u8; 2] {
    match wit_decision(decision) {
        wit::Decision::Allow(allowance) => {
            let mut fields = allowance.basis as u8;
            if allowance
                .obligations
                .contains(wit::Obligations::PREFERENCES_FOOTER)
            {
                fields |= 1 << 2;
            }
            if allowance
                .obligations
                .contains(wit::Obligations::STRIP_TRACKING)
            {
                fields |= 1 << 3;
            }
            if allowance.awaiting_consent {
                fields |= 1 << 4;
            }
            fields |= (allowance.regime as u8) << 5;
            [0, fields]
        }
        wit::Decision::Refuse(refusal) => [1 + refusal.reason as u8, 0],
    }
}

fn send_request(request: wit::SendRequest) -> SendRequest {
    SendRequest {
        class: class(request.class),
        purpose: request.purpose,
    }
}

/// The engine's recipients, borrowing the addresses of the WIT's.
fn engine_recipients(recipients: &[wit::Recipient]) -> Vec<Recipient<'_>> {
    recipients
        .iter()
        .map(|recipient| Recipient {
            address: &recipient.address,
            role: role(recipient.role),
        })
        .collect()
}

/// The recipients that name a CRM record, by index. People are keyed by address, which is
/// what the mail goes to; the record counts only for transactional mail to an erased person.
fn named_records(recipients: &[wit::Recipient]) -> Vec<(usize, RecordRef)> {
    recipients
        .iter()
        .enumerate()
        .filter_map(|(index, recipient)| {
            Some((index, recipient.person.as_ref().and_then(record_ref)?))
        })
        .collect()
}

/// The decisions for every recipient. Two reads: `config` and every recipient's snapshot
/// in one `get-many`; see the module documentation for the reads an erasure adds.
fn decide(
    request: &SendRequest,
    recipients: &[Recipient<'_>],
    named: &[(usize, RecordRef)],
) -> Vec<Decision> {
    let config = store::get(CONFIG_KEY);
    let policy = SendingPolicy::decode(config.as_deref())
        .unwrap_or_else(|error| fault("reading the sending policy", &error));
    let packed = store::get_many(&person_keys(recipients));
    let snapshots = unpack(&packed);
    let erasures = erasure_facts(&policy, request, recipients, &snapshots, named);
    let mut decisions = decide_batch(
        &policy,
        request,
        recipients,
        &snapshots,
        &erasures,
        clock::now(),
    )
    .unwrap_or_else(|error| fault("deciding a send", &error));
    // Delivery reports' suppressions, read only for what marketing or workflow mail would
    // send (`privacy_guard_core::feedback`): one more `get-many` then.
    let lookups = feedback_lookups(&policy, request.class, recipients, &decisions);
    if !lookups.is_empty() {
        let keys: Vec<String> = lookups.iter().map(|(_, key)| key.clone()).collect();
        let packed = store::get_many(&keys);
        let suppressed: Vec<_> = lookups
            .iter()
            .zip(unpack(&packed))
            .filter_map(|((index, _), bytes)| {
                let record = decode_feedback(bytes?)
                    .unwrap_or_else(|error| fault("reading delivery feedback", &error));
                Some((*index, record.suppressed?.0))
            })
            .collect();
        refuse_suppressed(&mut decisions, request.class, &suppressed);
    }
    decisions
}

/// Which recipients' addresses were erased (their suppression markers, read in one
/// `get-many`), and, for transactional mail to an erased person, which recipients name a
/// record the plugin holds as erased. Nothing is read while nobody was ever erased.
fn erasure_facts(
    policy: &SendingPolicy<'_>,
    request: &SendRequest,
    recipients: &[Recipient<'_>],
    snapshots: &[Option<&[u8]>],
    named: &[(usize, RecordRef)],
) -> ErasureFacts {
    let lookups = suppression_lookups(policy, recipients, snapshots);
    let mut facts = ErasureFacts::default();
    if !lookups.is_empty() {
        let keys: Vec<String> = lookups.iter().map(|(_, key)| key.clone()).collect();
        let packed = store::get_many(&keys);
        facts.erased_addresses = lookups
            .iter()
            .zip(unpack(&packed))
            .filter(|(_, marker)| marker.is_some())
            .map(|((index, _), _)| *index)
            .collect();
    }
    if request.class == MessageClass::Transactional {
        for (index, record) in named {
            let index = *index;
            let erased_holder = match snapshots.get(index).copied().flatten() {
                Some(bytes) => decode_person(bytes)
                    .map(|person| matches!(person.status, PersonStatus::Erased { .. }))
                    .unwrap_or_else(|error| fault("reading a person", &error)),
                None => facts.erased_addresses.contains(&index),
            };
            // Only a recipient whose address an erased person had can need the fact.
            let names_erased = erased_holder
                && State::new().person(record).is_some_and(|person| {
                    matches!(person.snapshot.status, PersonStatus::Erased { .. })
                });
            if names_erased {
                facts.naming_erased_records.push(index);
            }
        }
    }
    facts
}

fn class(class: wit::MessageClass) -> MessageClass {
    match class {
        wit::MessageClass::AdHoc => MessageClass::AdHoc,
        wit::MessageClass::Workflow => MessageClass::Workflow,
        wit::MessageClass::Marketing => MessageClass::Marketing,
        wit::MessageClass::Transactional => MessageClass::Transactional,
    }
}

fn role(role: wit::RecipientRole) -> RecipientRole {
    match role {
        wit::RecipientRole::To => RecipientRole::To,
        wit::RecipientRole::Cc => RecipientRole::Cc,
        wit::RecipientRole::Bcc => RecipientRole::Bcc,
    }
}

fn wit_decision(decision: Decision) -> wit::Decision {
    match decision {
        Decision::Allow {
            basis,
            obligations,
            awaiting_consent,
            regime,
        } => {
            let mut flags = wit::Obligations::empty();
            if obligations.preferences_footer {
                flags |= wit::Obligations::PREFERENCES_FOOTER;
            }
            if obligations.strip_tracking {
                flags |= wit::Obligations::STRIP_TRACKING;
            }
            wit::Decision::Allow(wit::Allowance {
                basis: match basis {
                    LawfulBasis::Consent => wit::LawfulBasis::Consent,
                    LawfulBasis::Contract => wit::LawfulBasis::Contract,
                    LawfulBasis::LegalObligation => wit::LawfulBasis::LegalObligation,
                    LawfulBasis::LegitimateInterests => wit::LawfulBasis::LegitimateInterests,
                },
                obligations: flags,
                awaiting_consent,
                regime: crate::convert::wit_regime(regime),
            })
        }
        Decision::Refuse(reason) => wit::Decision::Refuse(wit_refusal(reason)),
    }
}

/// A refusal without detail: the reason says it all.
fn wit_refusal(reason: RefusalReason) -> wit::Refusal {
    wit::Refusal {
        reason: match reason {
            RefusalReason::ConsentsNotEnabled => wit::RefusalReason::ConsentsNotEnabled,
            RefusalReason::PurposeUnknown => wit::RefusalReason::PurposeUnknown,
            RefusalReason::InvalidAddress => wit::RefusalReason::InvalidAddress,
            RefusalReason::UnknownRecipient => wit::RefusalReason::UnknownRecipient,
            RefusalReason::ConsentNotApplicable => wit::RefusalReason::ConsentNotApplicable,
            RefusalReason::ConsentNotRequested => wit::RefusalReason::ConsentNotRequested,
            RefusalReason::ConsentPending => wit::RefusalReason::ConsentPending,
            RefusalReason::ConsentRefused => wit::RefusalReason::ConsentRefused,
            RefusalReason::ConsentOutdated => wit::RefusalReason::ConsentOutdated,
            RefusalReason::ProcessingRestricted => wit::RefusalReason::ProcessingRestricted,
            RefusalReason::Erased => wit::RefusalReason::Erased,
            RefusalReason::Duplicate => wit::RefusalReason::Duplicate,
            RefusalReason::NotAToRecipient => wit::RefusalReason::NotAToRecipient,
        },
        detail: String::new(),
    }
}
