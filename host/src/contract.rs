//! The WIT contract (`wit/privacy-guard.wit`) as the host speaks it: the bindings,
//! generated here once, and the contract's types the host's API uses. A change of the
//! contract is a compile error in every caller.
//!
//! Every import may trap (`trappable`): a host capability that fails (a database error,
//! say) aborts the call, so its unit of work is dropped whole instead of half-applied.

/// The contract this host speaks: the WIT package and its version (see `wit/CHANGES.md`).
pub const CONTRACT: &str = "privacy-guard:consent@0.3.1";

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "privacy-guard",
        imports: { default: trappable },
        additional_derives: [PartialEq],
    });
}

pub(crate) use generated::privacy_guard::consent as imports;
pub(crate) use generated::{PrivacyGuard as Bindings, PrivacyGuardPre as BindingsPre};

pub use generated::exports::privacy_guard::consent::{
    configuration, deduplication, jobs, preferences, records, sending, subjects, tracking,
};
pub use generated::privacy_guard::consent::types;

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
