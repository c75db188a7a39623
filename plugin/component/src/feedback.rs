//! Delivery reports (bounces, complaints, unsubscribe mails): placeholder until engineer
//! "bounces" lands it. Traps, so the host refuses the call.

use crate::bindings::exports::privacy_guard::consent::safeguards as wit;

pub(crate) fn report_delivery(
    _report: wit::DeliveryReport,
) -> Result<wit::FeedbackOutcome, wit::FeedbackError> {
    panic!("safeguards.report-delivery is not built yet")
}

pub(crate) fn lift_bounce(
    _address: String,
    _actor: wit::StaffActor,
    _reason: String,
) -> Result<bool, wit::FeedbackError> {
    panic!("safeguards.lift-bounce is not built yet")
}
