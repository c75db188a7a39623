//! Bounces and complaints (issue 14, part 1): what comes back after a mail left, read by
//! the host and reported to the plugin's `safeguards` export (contract 0.3.3).

use std::path::PathBuf;

use privacy_guard_host::guard::{ComponentSource, GuardError};
use privacy_guard_tests::TestHost;

const FROZEN: &str = env!("PRIVACY_GUARD_FROZEN_0_3_0_COMPONENT");

#[test]
fn the_embedded_component_offers_the_safeguards_with_their_defaults() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host.open().expect("host opens");
    assert!(guard.offers_safeguards());
    let settings = guard.safeguard_settings().expect("the settings");
    assert_eq!(settings.soft_bounce_limit, 5);
    assert_eq!(settings.request_interval_hours, 24);
    assert_eq!(settings.link_mail_interval_minutes, 15);
    assert_eq!(settings.unsubscribe_mailbox, "");
}

#[test]
fn a_component_without_safeguards_is_told_apart_with_a_clear_error() {
    let host = TestHost::new("2026-12-01T09:00:00Z");
    let guard = host
        .open_with(|options| options.component = ComponentSource::File(PathBuf::from(FROZEN)))
        .expect("the host loads the 0.3.0 guest");
    assert!(!guard.offers_safeguards());
    match guard.safeguard_settings() {
        Err(GuardError::NotOffered(message)) => assert_eq!(
            message,
            "this component (contract privacy-guard:consent@0.3.0) does not offer safeguards; install one of 0.3.3 or later"
        ),
        other => panic!("not offered, not {other:?}"),
    }
}
