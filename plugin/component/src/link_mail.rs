//! "Send me my link again": placeholder until engineer "requests" lands it. Traps.

use crate::bindings::exports::privacy_guard::consent::safeguards as wit;

pub(crate) fn send_link(_address: String, _evidence: wit::Evidence) -> wit::LinkMail {
    panic!("safeguards.send-link is not built yet")
}
