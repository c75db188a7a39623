//! The `sending` export: the pre-send decision, the hot path.
//!
//! Exactly two reads per call, whatever the batch size: one `store.get` of `config` and one
//! `store.get-many` of every recipient's `person/<address>`. The decision itself is the
//! engine's `decide_batch` (the same function a native benchmark calls); refusals carry no
//! detail here.

use privacy_guard_core::sending::{
    Decision, LawfulBasis, MessageClass, Recipient, RecipientRole, RefusalReason, SendRequest,
    SendingPolicy, decide_batch, person_keys,
};
use privacy_guard_core::storage::CONFIG_KEY;

use crate::Plugin;
use crate::bindings::exports::privacy_guard::consent::sending as wit;
use crate::bindings::privacy_guard::consent::store;
use crate::logging::fault;
use crate::state::unpack;

impl wit::Guest for Plugin {
    fn check_send(
        request: wit::SendRequest,
        recipients: Vec<wit::Recipient>,
    ) -> Vec<wit::Decision> {
        let config = store::get(CONFIG_KEY);
        let policy = SendingPolicy::decode(config.as_deref())
            .unwrap_or_else(|error| fault("reading the sending policy", &error));
        // The CRM's record ref is not consulted: people are keyed by address, which is what
        // the mail goes to.
        let recipients: Vec<Recipient> = recipients
            .into_iter()
            .map(|recipient| Recipient {
                address: recipient.address,
                role: role(recipient.role),
            })
            .collect();
        let packed = store::get_many(&person_keys(&recipients));
        let snapshots = unpack(&packed);
        let request = SendRequest {
            class: class(request.class),
            purpose: request.purpose,
        };
        decide_batch(&policy, &request, &recipients, &snapshots)
            .unwrap_or_else(|error| fault("deciding a send", &error))
            .into_iter()
            .map(wit_decision)
            .collect()
    }
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
        Decision::Allow { basis, obligations } => {
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
            })
        }
        Decision::Refuse(reason) => wit::Decision::Refuse(wit::Refusal {
            reason: match reason {
                RefusalReason::ConsentsNotEnabled => wit::RefusalReason::ConsentsNotEnabled,
                RefusalReason::PurposeUnknown => wit::RefusalReason::PurposeUnknown,
                RefusalReason::InvalidAddress => wit::RefusalReason::InvalidAddress,
                RefusalReason::UnknownRecipient => wit::RefusalReason::UnknownRecipient,
                RefusalReason::ConsentNotApplicable => wit::RefusalReason::ConsentNotApplicable,
                RefusalReason::ConsentNotRequested => wit::RefusalReason::ConsentNotRequested,
                RefusalReason::ConsentPending => wit::RefusalReason::ConsentPending,
                RefusalReason::ConsentRefused => wit::RefusalReason::ConsentRefused,
                RefusalReason::ProcessingRestricted => wit::RefusalReason::ProcessingRestricted,
                RefusalReason::Erased => wit::RefusalReason::Erased,
                RefusalReason::Duplicate => wit::RefusalReason::Duplicate,
            },
            detail: String::new(),
        }),
    }
}
