//! Web-form proof: placeholder until engineer "requests" lands it. Traps.

pub(crate) fn form_token() -> String {
    panic!("safeguards.form-token is not built yet")
}
