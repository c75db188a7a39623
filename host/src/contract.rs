//! The WIT contract (`wit/privacy-guard.wit`) as the host speaks it: the bindings,
//! generated here once, and the contract's types the host's API uses. A change of the
//! contract is a compile error in every caller.
//!
//! Every import may trap (`trappable`): a host capability that fails (a database error,
//! say) aborts the call, so its unit of work is dropped whole instead of half-applied.

/// The contract this host speaks: the WIT package and its version (see `wit/CHANGES.md`).
pub const CONTRACT: &str = "privacy-guard:consent@0.3.3";

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "privacy-guard",
        imports: { default: trappable },
        additional_derives: [PartialEq],
    });
}

/// The world of a component that also offers the safeguards (contract 0.3.3). Only its
/// `safeguards` export is used: everything it shares with `privacy-guard` (the imports, and
/// the exported interfaces whose types `safeguards` uses) maps onto [`generated`], so a
/// `Problem`, an `Evidence` or a `StaffActor` is one Rust type whichever export speaks it.
mod generated_safeguards {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "privacy-guard-safeguards",
        imports: { default: trappable },
        additional_derives: [PartialEq],
        with: {
            "privacy-guard:consent/types": super::generated::privacy_guard::consent::types,
            "privacy-guard:consent/crm": super::generated::privacy_guard::consent::crm,
            "privacy-guard:consent/store": super::generated::privacy_guard::consent::store,
            "privacy-guard:consent/mail": super::generated::privacy_guard::consent::mail,
            "privacy-guard:consent/clock": super::generated::privacy_guard::consent::clock,
            "privacy-guard:consent/keys": super::generated::privacy_guard::consent::keys,
            "privacy-guard:consent/log": super::generated::privacy_guard::consent::log,
            "privacy-guard:consent/configuration": super::generated::exports::privacy_guard::consent::configuration,
            "privacy-guard:consent/records": super::generated::exports::privacy_guard::consent::records,
            "privacy-guard:consent/sending": super::generated::exports::privacy_guard::consent::sending,
            "privacy-guard:consent/tracking": super::generated::exports::privacy_guard::consent::tracking,
            "privacy-guard:consent/jobs": super::generated::exports::privacy_guard::consent::jobs,
            "privacy-guard:consent/deduplication": super::generated::exports::privacy_guard::consent::deduplication,
            "privacy-guard:consent/preferences": super::generated::exports::privacy_guard::consent::preferences,
            "privacy-guard:consent/subjects": super::generated::exports::privacy_guard::consent::subjects,
        },
    });
}

pub(crate) use generated::privacy_guard::consent as imports;
pub(crate) use generated::{PrivacyGuard as Bindings, PrivacyGuardPre as BindingsPre};

pub use generated::exports::privacy_guard::consent::{
    configuration, deduplication, jobs, preferences, records, sending, subjects, tracking,
};
pub use generated::privacy_guard::consent::types;

/// The safeguards (`safeguards`, contract 0.3.3): delivery feedback, its lift, the limits on
/// consent requests, form tokens and "send me my link again". Exported only by components
/// of the world `privacy-guard-safeguards`; the runtime finds it where it is offered
/// (`GuestIndices::new` fails where it is not).
pub mod safeguards {
    pub use super::generated_safeguards::exports::privacy_guard::consent::safeguards::{
        DeliveryReport, FeedbackError, FeedbackKind, FeedbackOutcome, LinkMail, SafeguardSettings,
        WebFormProof,
    };
    pub(crate) use super::generated_safeguards::exports::privacy_guard::consent::safeguards::{
        Guest, GuestIndices,
    };
}

/// The packed pre-send check (`sending-packed`, contract 0.3.2), exported only by
/// components of the world `privacy-guard-packed`: it is not in the world the bindings are
/// generated from, so that components without it still load, and the host calls it by name
/// where a component offers it ([`crate::guard`]'s `check_send`).
pub(crate) mod sending_packed {
    use wasmtime::component::{ComponentType, Lower};

    use super::types::RecordRef;

    /// The exported interface, named at this host's contract (a component's export of a
    /// compatible version answers to it).
    pub(crate) const INTERFACE: &str = "privacy-guard:consent/sending-packed@0.3.2";
    /// Its one function.
    pub(crate) const CHECK_SEND_PACKED: &str = "check-send-packed";

    /// `sending-packed.packed-recipients`: every address in one buffer, where each ends,
    /// each role as a byte (0 to, 1 cc, 2 bcc), and the recipients naming a CRM record.
    #[derive(Debug, Clone, PartialEq, ComponentType, Lower)]
    #[component(record)]
    pub(crate) struct PackedRecipients {
        pub(crate) addresses: String,
        pub(crate) ends: Vec<u32>,
        pub(crate) roles: Vec<u8>,
        pub(crate) persons: Vec<(u32, RecordRef)>,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_constant_is_the_wit_package() {
        let wit = include_str!("../../wit/privacy-guard.wit");
        assert!(
            wit.lines()
                .any(|line| line == format!("package {};", super::CONTRACT)),
            "wit/privacy-guard.wit declares another package than {}",
            super::CONTRACT
        );
    }
}
