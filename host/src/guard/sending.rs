//! The pre-send check and rendering, which fail closed, and tracking events.
//!
//! The pre-send check takes the packed path where the component offers it
//! (`sending-packed.check-send-packed`, contract 0.3.2): the recipients cross as one buffer
//! of addresses and the decisions come back as two bytes each, instead of one string the
//! component must allocate per recipient and one variant the host must lift per decision.
//! Components without it (0.3.0, 0.3.1), and batches too small to gain from it
//! ([`PACKED_FROM`]), are asked `sending.check-send`, with the same answers.

use wasmtime::Store;
use wasmtime::component::{Instance, TypedFunc};

use super::{Guard, GuardError};
use crate::capabilities::{HostFailure, HostState};
use crate::contract::sending::{
    Allowance, Decision, LawfulBasis, MailContent, Obligations, Recipient, RecipientRole, Refusal,
    RefusalReason, Rendering, SendRequest,
};
use crate::contract::sending_packed::{self, PackedRecipients};
use crate::contract::tracking::TrackingKind;
use crate::contract::types::Regime;
use crate::runtime::WrongAnswer;
use crate::storage::UnitOfWork;

impl Guard {
    /// The pre-send decision for every recipient, in order. Fails closed: when the plugin
    /// faults or answers wrongly, every recipient is refused with `plugin-fault` and the
    /// fault as detail.
    pub fn check_send(&self, request: &SendRequest, recipients: &[Recipient]) -> Vec<Decision> {
        if recipients.len() < PACKED_FROM {
            return self.check_send_unpacked(request, recipients);
        }
        let outcome = self.read_hot_instance(|store, instance| {
            match packed_check_send(store, instance) {
                Some(function) => {
                    let packed = pack_recipients(recipients)?;
                    let (answer,) = function.call(&mut *store, (request, &packed))?;
                    unpack_decisions(&answer, recipients.len())
                }
                // Only components of 0.3.0 and 0.3.1 lack it: the bindings' own look-ups.
                None => {
                    crate::contract::sending::GuestIndices::new(&instance.instance_pre(&*store))?
                        .load(&mut *store, instance)?
                        .call_check_send(&mut *store, request, recipients)
                        .and_then(|decisions| one_each(decisions, recipients, "decisions"))
                }
            }
        });
        refuse_all_on_fault(outcome, recipients.len())
    }

    /// `sending.check-send` itself, even where the component offers the packed check: what
    /// a host of contract 0.3.1 asked, kept so that tests can hold the packed path to it.
    /// Fails closed as [`Guard::check_send`] does.
    pub fn check_send_unpacked(
        &self,
        request: &SendRequest,
        recipients: &[Recipient],
    ) -> Vec<Decision> {
        let outcome = self.read_hot(|store, plugin| {
            plugin
                .privacy_guard_consent_sending()
                .call_check_send(store, request, recipients)
                .and_then(|decisions| one_each(decisions, recipients, "decisions"))
        });
        refuse_all_on_fault(outcome, recipients.len())
    }

    /// [`Guard::read_hot`] with the untyped instance, for an export the bindings do not
    /// know (one the component may or may not offer).
    fn read_hot_instance<T>(
        &self,
        call: impl FnOnce(&mut Store<HostState>, &Instance) -> wasmtime::Result<T>,
    ) -> Result<T, GuardError> {
        self.block_on(self.database().refresh_for_read())?;
        let (value, work) = self
            .runtime
            .with_dynamic_instance(UnitOfWork::default(), call)?;
        if !work.is_empty() {
            tracing::warn!("the plugin wrote during a read-only call; the writes were discarded");
        }
        Ok(value)
    }

    /// The mail exactly as each recipient must get it, in order: tracking removed unless
    /// they consented to it, their own preferences footer when due, the postal address on
    /// marketing mail; or the refusal `check_send` would give. Reads current state (not
    /// the hot path's cache) and commits the one thing the plugin records here: the legal
    /// ground of each transactional send to a restricted or erased person. Fails closed:
    /// when the plugin faults (or the ground cannot be committed), every recipient is
    /// refused with `plugin-fault` and the fault as detail.
    pub fn render(
        &self,
        request: &SendRequest,
        mail: &MailContent,
        recipients: &[Recipient],
    ) -> Vec<Rendering> {
        // A wrong count fails the call, so that nothing it wrote is committed.
        let outcome = self.write(|store, plugin| {
            plugin
                .privacy_guard_consent_sending()
                .call_render(store, request, mail, recipients)
                .and_then(|renderings| one_each(renderings, recipients, "renderings"))
        });
        let refused = |detail: &str| {
            refuse_all(recipients.len(), detail)
                .into_iter()
                .filter_map(|decision| match decision {
                    Decision::Refuse(refusal) => Some(Rendering::Refuse(refusal)),
                    Decision::Allow(_) => None,
                })
                .collect()
        };
        match outcome {
            Ok(renderings) => renderings,
            Err(fault) => {
                tracing::error!(%fault, recipients = recipients.len(), "rendering failed; refusing every recipient");
                refused(&fault.summary())
            }
        }
    }

    /// Whether a tracking event (an email open, a document view) for `address` may be
    /// kept: only with that person's granted tracking consent. Fails closed: a fault is
    /// `false`, and the event must be dropped.
    pub fn accept_tracking_event(&self, kind: TrackingKind, address: &str) -> bool {
        let outcome = self.read(|store, plugin| {
            plugin
                .privacy_guard_consent_tracking()
                .call_accept_tracking_event(store, kind, address)
        });
        outcome.unwrap_or_else(|fault| {
            tracing::error!(%fault, "the tracking check failed; dropping the event");
            false
        })
    }
}

/// The plugin's answers when there is one per recipient; else a wrong answer, which
/// fails the call and retires the instance that gave it.
fn one_each<T>(answers: Vec<T>, recipients: &[Recipient], what: &str) -> wasmtime::Result<Vec<T>> {
    if answers.len() == recipients.len() {
        Ok(answers)
    } else {
        Err(wasmtime::Error::new(WrongAnswer(format!(
            "{} {what} for {} recipients",
            answers.len(),
            recipients.len()
        ))))
    }
}

/// The decisions, or on a fault (the plugin's, or a wrong answer) a refusal of every one of
/// `count` recipients with `plugin-fault`.
fn refuse_all_on_fault(outcome: Result<Vec<Decision>, GuardError>, count: usize) -> Vec<Decision> {
    match outcome {
        Ok(decisions) => decisions,
        Err(fault) => {
            tracing::error!(%fault, recipients = count, "pre-send check failed; refusing every recipient");
            refuse_all(count, &fault.summary())
        }
    }
}

/// The smallest batch asked through the packed check. Finding it by name costs a call a
/// few microseconds (two look-ups and a type check), while it saves well under one per
/// recipient; so smaller batches, a single recipient above all, keep `check-send` and the
/// bindings' look-ups made once per instance (measured: `tests/benches/pre_send.rs`).
const PACKED_FROM: usize = 16;

/// The signature of `sending-packed.check-send-packed`.
type PackedCheckSend<'a> = TypedFunc<(&'a SendRequest, &'a PackedRecipients), (Vec<u8>,)>;

/// The component's packed pre-send check, when it offers one (a component of contract
/// 0.3.2's world `privacy-guard-packed`, or of a later compatible one). A function of that
/// name with other types is not offered: `check-send` decides the same.
fn packed_check_send<'a>(
    store: &mut Store<HostState>,
    instance: &Instance,
) -> Option<PackedCheckSend<'a>> {
    let interface = instance.get_export_index(&mut *store, None, sending_packed::INTERFACE)?;
    let function = instance.get_export_index(
        &mut *store,
        Some(&interface),
        sending_packed::CHECK_SEND_PACKED,
    )?;
    instance.get_typed_func(&mut *store, function).ok()
}

/// `recipients` as `packed-recipients`: the addresses in one buffer with their ends, the
/// roles as bytes, the named records by index.
fn pack_recipients(recipients: &[Recipient]) -> wasmtime::Result<PackedRecipients> {
    let too_large = || wasmtime::Error::new(HostFailure("a batch's addresses exceed 4 GiB".into()));
    let length: usize = recipients
        .iter()
        .map(|recipient| recipient.address.len())
        .sum();
    u32::try_from(length).map_err(|_| too_large())?;
    let mut packed = PackedRecipients {
        addresses: String::with_capacity(length),
        ends: Vec::with_capacity(recipients.len()),
        roles: Vec::with_capacity(recipients.len()),
        persons: Vec::new(),
    };
    for (index, recipient) in recipients.iter().enumerate() {
        packed.addresses.push_str(&recipient.address);
        // Within u32: the whole buffer is, as checked above.
        packed.ends.push(packed.addresses.len() as u32);
        packed.roles.push(match recipient.role {
            RecipientRole::To => 0,
            RecipientRole::Cc => 1,
            RecipientRole::Bcc => 2,
        });
        if let Some(person) = &recipient.person {
            let index = u32::try_from(index).map_err(|_| too_large())?;
            packed.persons.push((index, person.clone()));
        }
    }
    Ok(packed)
}

/// The refusal reasons in the WIT's order: byte 0 of a packed refusal is 1 + the index.
const REFUSAL_REASONS: [RefusalReason; 14] = [
    RefusalReason::ConsentsNotEnabled,
    RefusalReason::PurposeUnknown,
    RefusalReason::InvalidAddress,
    RefusalReason::UnknownRecipient,
    RefusalReason::ConsentNotApplicable,
    RefusalReason::ConsentNotRequested,
    RefusalReason::ConsentPending,
    RefusalReason::ConsentRefused,
    RefusalReason::ConsentOutdated,
    RefusalReason::ProcessingRestricted,
    RefusalReason::Erased,
    RefusalReason::Duplicate,
    RefusalReason::NotAToRecipient,
    RefusalReason::PluginFault,
];

/// The lawful bases in the WIT's order (bits 0-1 of a packed allowance).
const LAWFUL_BASES: [LawfulBasis; 4] = [
    LawfulBasis::Consent,
    LawfulBasis::Contract,
    LawfulBasis::LegalObligation,
    LawfulBasis::LegitimateInterests,
];

/// The regimes in the WIT's order (bits 5-6 of a packed allowance).
const REGIMES: [Regime; 3] = [Regime::OptIn, Regime::OptOut, Regime::ImpliedConsent];

/// The decisions of a `check-send-packed` answer; anything but two bytes per recipient, each
/// pair one the WIT defines, is a wrong answer (the call fails and every recipient is
/// refused).
fn unpack_decisions(answer: &[u8], recipients: usize) -> wasmtime::Result<Vec<Decision>> {
    let wrong = |what: String| wasmtime::Error::new(WrongAnswer(what));
    if answer.len() != recipients.saturating_mul(2) {
        return Err(wrong(format!(
            "{} bytes of packed decisions for {recipients} recipients (two each)",
            answer.len()
        )));
    }
    answer
        .chunks_exact(2)
        .enumerate()
        .map(|(index, pair)| {
            unpack_decision(pair[0], pair[1]).ok_or_else(|| {
                wrong(format!(
                    "packed decision {index} is [{}, {}], which the contract does not define",
                    pair[0], pair[1]
                ))
            })
        })
        .collect()
}

/// One packed decision (see `sending-packed.check-send-packed` in the WIT).
fn unpack_decision(kind: u8, fields: u8) -> Option<Decision> {
    match kind {
        0 => {
            let basis = LAWFUL_BASES[usize::from(fields & 0b11)];
            let regime = *REGIMES.get(usize::from((fields >> 5) & 0b11))?;
            if fields & 0b1000_0000 != 0 {
                return None;
            }
            let mut obligations = Obligations::empty();
            if fields & (1 << 2) != 0 {
                obligations |= Obligations::PREFERENCES_FOOTER;
            }
            if fields & (1 << 3) != 0 {
                obligations |= Obligations::STRIP_TRACKING;
            }
            Some(Decision::Allow(Allowance {
                basis,
                obligations,
                awaiting_consent: fields & (1 << 4) != 0,
                regime,
            }))
        }
        reason if fields == 0 => {
            let reason = *REFUSAL_REASONS.get(usize::from(reason) - 1)?;
            Some(Decision::Refuse(Refusal {
                reason,
                detail: String::new(),
            }))
        }
        _ => None,
    }
}

fn refuse_all(count: usize, detail: &str) -> Vec<Decision> {
    (0..count)
        .map(|_| {
            Decision::Refuse(Refusal {
                reason: RefusalReason::PluginFault,
                detail: detail.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packed_tables_follow_the_order_of_the_wit() {
        for (ordinal, reason) in REFUSAL_REASONS.into_iter().enumerate() {
            assert_eq!(reason as usize, ordinal, "{reason:?}");
        }
        for (ordinal, basis) in LAWFUL_BASES.into_iter().enumerate() {
            assert_eq!(basis as usize, ordinal, "{basis:?}");
        }
        for (ordinal, regime) in REGIMES.into_iter().enumerate() {
            assert_eq!(regime as usize, ordinal, "{regime:?}");
        }
    }

    #[test]
    fn only_the_pairs_the_contract_defines_are_decisions() {
        let defined: Vec<Decision> = (0..=u8::MAX)
            .flat_map(|kind| (0..=u8::MAX).map(move |fields| (kind, fields)))
            .filter_map(|(kind, fields)| unpack_decision(kind, fields))
            .collect();
        // Allowances: 4 bases x 2 x 2 x 2 flags x 3 regimes; refusals: one per reason.
        assert_eq!(defined.len(), 4 * 8 * 3 + REFUSAL_REASONS.len());
        for (index, decision) in defined.iter().enumerate() {
            assert!(
                !defined[index + 1..].contains(decision),
                "each pair its own decision: {decision:?}"
            );
        }
        assert_eq!(
            unpack_decision(0, 0b0100_1101),
            Some(Decision::Allow(Allowance {
                basis: LawfulBasis::Contract,
                obligations: Obligations::PREFERENCES_FOOTER | Obligations::STRIP_TRACKING,
                awaiting_consent: false,
                regime: Regime::ImpliedConsent,
            }))
        );
        assert_eq!(
            unpack_decision(11, 0),
            Some(Decision::Refuse(Refusal {
                reason: RefusalReason::Erased,
                detail: String::new(),
            }))
        );
    }

    #[test]
    fn a_packed_answer_of_the_wrong_length_or_with_an_undefined_pair_is_a_wrong_answer() {
        let wrong = |answer: &[u8], recipients| {
            unpack_decisions(answer, recipients)
                .expect_err("a wrong answer")
                .downcast_ref::<WrongAnswer>()
                .map(|wrong| wrong.0.clone())
                .expect("a WrongAnswer")
        };
        assert!(wrong(&[0, 0, 0], 2).contains("3 bytes"));
        assert!(wrong(&[0, 0], 2).contains("2 bytes"));
        assert!(wrong(&[0, 0, 15, 0], 2).contains("decision 1 is [15, 0]"));
        assert!(wrong(&[3, 1], 1).contains("decision 0 is [3, 1]"));
        assert_eq!(unpack_decisions(&[], 0).expect("no decisions"), vec![]);
    }

    #[test]
    fn recipients_are_packed_in_order_with_their_ends_roles_and_records() {
        let person = crate::contract::types::RecordRef {
            module: "contacts".into(),
            id: "7".into(),
        };
        let packed = pack_recipients(&[
            Recipient {
                address: "zoë@example.com".into(),
                role: RecipientRole::To,
                person: None,
            },
            Recipient {
                address: String::new(),
                role: RecipientRole::Bcc,
                person: Some(person.clone()),
            },
            Recipient {
                address: "a@b.c".into(),
                role: RecipientRole::Cc,
                person: None,
            },
        ])
        .expect("packed");
        assert_eq!(packed.addresses, "zoë@example.coma@b.c");
        assert_eq!(packed.ends, vec![16, 16, 21]);
        assert_eq!(packed.roles, vec![0, 2, 1]);
        assert_eq!(packed.persons, vec![(1, person)]);
    }
}
