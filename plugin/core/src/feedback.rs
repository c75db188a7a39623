//! What comes back after a mail left: bounces, spam complaints and unsubscribe mails
//! (`safeguards.report-delivery`, `lift-bounce`).
//!
//! Each address has a [`FeedbackRecord`] under [`feedback_key`] (`feedback/` and a salted
//! digest of the normalised address, as an erased address's suppression marker: the
//! address never appears in a key). What a report does:
//!
//! | report | the address is | effect |
//! |---|---|---|
//! | any | erased | nothing: an erased address stays erased |
//! | any | was told this already (the same kind and message id) | nothing |
//! | hard bounce | not suppressed | suppressed (`bounce`), soft-bounce count reset |
//! | soft bounce | not suppressed | counted; at `soft-bounce-limit` suppressed (`bounce`) |
//! | complaint / unsubscribe | not suppressed, or suppressed by a bounce | suppressed (`complaint` / `unsubscribe`) |
//! | hard or soft bounce | suppressed | nothing (already suppressed) |
//! | complaint / unsubscribe | suppressed by a complaint or unsubscription | nothing |
//!
//! A suppressed address gets no marketing or workflow mail (the pre-send check, `sending.rs`:
//! a bounce `invalid-address`, a complaint or unsubscription `consent-refused`) and no
//! consent request. Only a bounce is lifted by staff ([`FeedbackRecord::lift`]); a complaint
//! or an unsubscription is lifted only by the person's own new grant on the preferences page
//! ([`FeedbackRecord::lift_by_answer`]), never by staff, and a bounce never by a grant (the
//! mailbox still does not work). A lift keeps the reports seen, so an old report delivered
//! again still changes nothing.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::digest::sha256_hex;
use crate::storage::StorageError;

/// Format version of `feedback/` values.
pub const FEEDBACK_FORMAT: u8 = 1;
const FEEDBACK_PREFIX: &str = "feedback/";
/// Reports remembered per address to recognise a repeated one.
const REMEMBERED_REPORTS: usize = 32;
/// The longest evidence kept, in characters; longer evidence is cut.
pub const EVIDENCE_LIMIT: usize = 1000;
/// The longest source word kept.
const SOURCE_LIMIT: usize = 40;

/// What a delivery report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackKind {
    HardBounce,
    SoftBounce,
    Complaint,
    Unsubscribe,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::HardBounce => "hard-bounce",
            FeedbackKind::SoftBounce => "soft-bounce",
            FeedbackKind::Complaint => "complaint",
            FeedbackKind::Unsubscribe => "unsubscribe",
        }
    }
}

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Suppression {
    /// A hard bounce, or the soft bounce that reached the limit: mail cannot reach it.
    Bounce,
    /// The person reported a mail as spam.
    Complaint,
    /// The person asked by mail to unsubscribe.
    Unsubscribe,
}

impl Suppression {
    fn of(kind: FeedbackKind) -> Suppression {
        match kind {
            FeedbackKind::HardBounce | FeedbackKind::SoftBounce => Suppression::Bounce,
            FeedbackKind::Complaint => Suppression::Complaint,
            FeedbackKind::Unsubscribe => Suppression::Unsubscribe,
        }
    }
}

/// What is known of one address's delivery feedback.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    /// Soft bounces since the last suppression or lift.
    pub soft_bounces: u32,
    /// Suppressed since when, and why.
    pub suppressed: Option<(Suppression, i64)>,
    /// Digests of the latest reports that named a message id, oldest first.
    pub seen: Vec<String>,
}

/// What a report did to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The same report was recorded before: nothing changed.
    Repeated,
    /// A soft bounce counted, below the limit.
    Counted,
    /// The address is suppressed by this report.
    Suppressed(Suppression),
    /// The address was suppressed already: nothing changed.
    AlreadySuppressed,
}

impl FeedbackRecord {
    /// Applies a report of `kind` about the mail `message_id`, with `limit` soft bounces
    /// suppressing the address, at `now`.
    pub fn apply(
        &mut self,
        kind: FeedbackKind,
        message_id: Option<&str>,
        limit: u32,
        now: i64,
    ) -> Applied {
        let seen = message_id.map(|id| report_digest(kind, id));
        if let Some(seen) = &seen
            && self.seen.contains(seen)
        {
            return Applied::Repeated;
        }
        let applied = match (self.suppressed, kind) {
            (
                Some((Suppression::Bounce, _)),
                FeedbackKind::Complaint | FeedbackKind::Unsubscribe,
            )
            | (
                None,
                FeedbackKind::HardBounce | FeedbackKind::Complaint | FeedbackKind::Unsubscribe,
            ) => {
                let suppression = Suppression::of(kind);
                self.suppressed = Some((suppression, now));
                self.soft_bounces = 0;
                Applied::Suppressed(suppression)
            }
            (None, FeedbackKind::SoftBounce) => {
                self.soft_bounces = self.soft_bounces.saturating_add(1);
                if self.soft_bounces >= limit.max(1) {
                    self.suppressed = Some((Suppression::Bounce, now));
                    Applied::Suppressed(Suppression::Bounce)
                } else {
                    Applied::Counted
                }
            }
            (Some(_), _) => Applied::AlreadySuppressed,
        };
        if let Some(seen) = seen {
            self.seen.push(seen);
            if self.seen.len() > REMEMBERED_REPORTS {
                self.seen.remove(0);
            }
        }
        applied
    }

    /// Lifts a bounce: whether the address was suppressed by one (then it is not any more,
    /// and its soft bounces count from zero). A complaint or unsubscription is never lifted.
    pub fn lift(&mut self) -> bool {
        match self.suppressed {
            Some((Suppression::Bounce, _)) => {
                self.suppressed = None;
                self.soft_bounces = 0;
                true
            }
            Some(_) | None => false,
        }
    }

    /// Lifts a complaint or an unsubscription because the person granted a consent again
    /// themselves: the suppression lifted, if any (then the address is not suppressed any
    /// more). A bounce stays: a grant does not make a mailbox work. The reports seen are kept,
    /// so an old report delivered again is still recognised as a repeat.
    pub fn lift_by_answer(&mut self) -> Option<Suppression> {
        match self.suppressed {
            Some((suppression @ (Suppression::Complaint | Suppression::Unsubscribe), _)) => {
                self.suppressed = None;
                self.soft_bounces = 0;
                Some(suppression)
            }
            Some((Suppression::Bounce, _)) | None => None,
        }
    }

    /// Whether the record keeps anything worth storing.
    pub fn is_empty(&self) -> bool {
        self.soft_bounces == 0 && self.suppressed.is_none() && self.seen.is_empty()
    }
}

fn report_digest(kind: FeedbackKind, message_id: &str) -> String {
    sha256_hex(&[
        kind.as_str().as_bytes(),
        b"\0",
        message_id.trim().as_bytes(),
    ])[..32]
        .to_owned()
}

/// The key of `address`'s feedback under `salt`: `feedback/` and the hex SHA-256 of the
/// salt and the address.
pub fn feedback_key(salt: &[u8], address: &Address) -> String {
    let digest = sha256_hex(&[
        b"privacy-guard/feedback\0",
        salt,
        b"\0",
        address.as_str().as_bytes(),
    ]);
    format!("{FEEDBACK_PREFIX}{digest}")
}

pub fn encode_feedback(record: &FeedbackRecord) -> Result<Vec<u8>, StorageError> {
    postcard::to_extend(record, vec![FEEDBACK_FORMAT]).map_err(|source| StorageError::Encode {
        what: "delivery feedback",
        source,
    })
}

pub fn decode_feedback(bytes: &[u8]) -> Result<FeedbackRecord, StorageError> {
    const WHAT: &str = "delivery feedback";
    match bytes.split_first() {
        None => Err(StorageError::Empty { what: WHAT }),
        Some((&FEEDBACK_FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|source| StorageError::Decode { what: WHAT, source })
        }
        Some((&version, _)) => Err(StorageError::UnknownFormat {
            what: WHAT,
            version,
            oldest: FEEDBACK_FORMAT,
            newest: FEEDBACK_FORMAT,
        }),
    }
}

/// The source word an event keeps: lower case, letters, digits and `:._-` only, at most
/// 40 characters; `host` when nothing is left.
pub fn source_word(raw: &str) -> String {
    let word: String = raw
        .trim()
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-'))
        .take(SOURCE_LIMIT)
        .collect();
    if word.is_empty() {
        "host".to_owned()
    } else {
        word
    }
}

/// The evidence an event keeps: trimmed, control characters as spaces, at most
/// [`EVIDENCE_LIMIT`] characters; `None` when empty.
pub fn evidence_text(raw: &str) -> Option<String> {
    let text: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EVIDENCE_LIMIT)
        .collect();
    (!text.trim().is_empty()).then(|| text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hard_bounce_suppresses_at_once_and_a_repeat_changes_nothing() {
        let mut record = FeedbackRecord::default();
        assert_eq!(
            record.apply(FeedbackKind::HardBounce, Some("<a@x>"), 5, 10),
            Applied::Suppressed(Suppression::Bounce)
        );
        let before = record.clone();
        assert_eq!(
            record.apply(FeedbackKind::HardBounce, Some("<a@x>"), 5, 20),
            Applied::Repeated
        );
        assert_eq!(record, before);
        assert_eq!(
            record.apply(FeedbackKind::HardBounce, Some("<b@x>"), 5, 20),
            Applied::AlreadySuppressed
        );
        assert_eq!(record.suppressed, Some((Suppression::Bounce, 10)));
    }

    #[test]
    fn soft_bounces_count_to_the_limit_and_repeats_do_not_count() {
        let mut record = FeedbackRecord::default();
        for n in 1..5 {
            let id = format!("<{n}@x>");
            assert_eq!(
                record.apply(FeedbackKind::SoftBounce, Some(&id), 5, n),
                Applied::Counted
            );
            assert_eq!(
                record.apply(FeedbackKind::SoftBounce, Some(&id), 5, n),
                Applied::Repeated
            );
        }
        assert_eq!(record.soft_bounces, 4);
        assert_eq!(
            record.apply(FeedbackKind::SoftBounce, Some("<5@x>"), 5, 5),
            Applied::Suppressed(Suppression::Bounce)
        );
        assert!(record.lift());
        assert_eq!(record.soft_bounces, 0);
        assert!(!record.lift());
    }

    #[test]
    fn a_complaint_outranks_a_bounce_and_is_never_lifted_by_staff() {
        let mut record = FeedbackRecord::default();
        record.apply(FeedbackKind::HardBounce, None, 5, 1);
        assert_eq!(
            record.apply(FeedbackKind::Complaint, None, 5, 2),
            Applied::Suppressed(Suppression::Complaint)
        );
        assert_eq!(
            record.apply(FeedbackKind::HardBounce, None, 5, 3),
            Applied::AlreadySuppressed
        );
        assert!(!record.lift());
        assert_eq!(record.suppressed, Some((Suppression::Complaint, 2)));
    }

    #[test]
    fn the_persons_grant_lifts_a_complaint_or_unsubscription_but_not_a_bounce() {
        for kind in [FeedbackKind::Complaint, FeedbackKind::Unsubscribe] {
            let mut record = FeedbackRecord::default();
            record.apply(kind, Some("<old@x>"), 5, 1);
            let suppression = Suppression::of(kind);
            assert_eq!(record.lift_by_answer(), Some(suppression));
            assert_eq!(record.suppressed, None);
            assert_eq!(record.lift_by_answer(), None);
            // The old report delivered again is a repeat; a new one suppresses again.
            assert_eq!(record.apply(kind, Some("<old@x>"), 5, 2), Applied::Repeated);
            assert_eq!(record.suppressed, None);
            assert_eq!(
                record.apply(kind, Some("<new@x>"), 5, 3),
                Applied::Suppressed(suppression)
            );
        }
        let mut bounced = FeedbackRecord::default();
        bounced.apply(FeedbackKind::HardBounce, None, 5, 1);
        assert_eq!(bounced.lift_by_answer(), None);
        assert_eq!(bounced.suppressed, Some((Suppression::Bounce, 1)));
    }

    #[test]
    fn the_record_round_trips_and_words_are_cleaned() {
        let mut record = FeedbackRecord::default();
        record.apply(FeedbackKind::SoftBounce, Some("<1@x>"), 5, 1);
        let bytes = encode_feedback(&record).unwrap();
        assert_eq!(decode_feedback(&bytes).unwrap(), record);
        assert!(decode_feedback(&[9]).is_err());
        assert_eq!(source_word(" Webhook:SES "), "webhook:ses");
        assert_eq!(source_word("<>"), "host");
        assert_eq!(evidence_text("  "), None);
        assert_eq!(
            evidence_text("5.1.1\nunknown").as_deref(),
            Some("5.1.1 unknown")
        );
        let key = feedback_key(b"salt", &Address::parse("A@Example.org").unwrap());
        assert!(key.starts_with("feedback/") && !key.contains("example"));
    }
}
