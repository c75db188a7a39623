//! The contract's enums as text: the one table the JSON API, the command line and the
//! documentation read them from.
//!
//! Each enum has one row per value: the value, its text and a line of help. The text is
//! kebab-case, as the command line takes and prints it (`--class ad-hoc`); the JSON API
//! writes the same words in snake_case (`"class": "ad_hoc"`, see [`Api`]), and a test
//! holds `docs/openapi.json` to the table. The `match` each row also becomes makes a value
//! the contract adds a compile error here until it has its text.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::contract::configuration::{
    ConditionOp, ConfirmationPolicy, ConsentDefault, ConsentKind, IpPolicy, Prerequisite,
    PurposeChange,
};
use crate::contract::records::EditRefusalReason;
use crate::contract::sending::{
    LawfulBasis, MessageClass, Obligations, RecipientRole, RefusalReason,
};
use crate::contract::subjects::PersonStatus;
use crate::contract::types::{ConsentValue, Regime};

/// A contract enum with its row in the table.
pub trait Wire: Copy + Eq + Send + Sync + 'static {
    /// What a value of the enum is called in messages ("message class").
    const WHAT: &'static str;
    /// Every value in the contract's order, with its text and a line of help.
    const TABLE: &'static [(Self, &'static str, &'static str)];

    /// The value's text, kebab-case.
    fn text(self) -> &'static str;

    /// The value whose text is `text` (kebab-case).
    fn parse(text: &str) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(_, known, _)| *known == text)
            .map(|(value, _, _)| *value)
    }

    /// The value's text as the JSON API writes it (snake_case).
    fn api_text(self) -> String {
        self.text().replace('-', "_")
    }

    /// The value whose API text is `text`.
    fn parse_api(text: &str) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(_, known, _)| known.replace('-', "_") == text)
            .map(|(value, _, _)| *value)
    }

    /// The value's line of help.
    fn help(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(value, _, _)| *value == self)
            .map_or("", |(_, _, help)| *help)
    }

    /// Every text, kebab-case, in the table's order.
    fn texts() -> Vec<&'static str> {
        Self::TABLE.iter().map(|(_, text, _)| *text).collect()
    }
}

/// Writes the table rows of contract enums: `Enum "what" { Variant = "text": "help", ... }`.
macro_rules! table {
    ($($name:ident $what:literal { $($variant:ident = $text:literal : $help:literal),+ $(,)? })+) => {
        $(
            impl Wire for $name {
                const WHAT: &'static str = $what;
                const TABLE: &'static [(Self, &'static str, &'static str)] =
                    &[$(($name::$variant, $text, $help)),+];

                fn text(self) -> &'static str {
                    match self {
                        $($name::$variant => $text),+
                    }
                }
            }
        )+
    };
}

table! {
    MessageClass "message class" {
        AdHoc = "ad-hoc": "A mail a user writes to chosen people",
        Workflow = "workflow": "A mail an automation sends",
        Marketing = "marketing": "A campaign or newsletter: needs a consent's purpose",
        Transactional = "transactional": "A mail the person's contract or the law needs (invoice, order)",
    }
    RecipientRole "recipient role" {
        To = "to": "A To recipient",
        Cc = "cc": "A CC recipient",
        Bcc = "bcc": "A BCC recipient",
    }
    LawfulBasis "lawful basis" {
        Consent = "consent": "The person granted the consent the mail relies on",
        Contract = "contract": "Needed for a contract with the person",
        LegalObligation = "legal-obligation": "Required by law",
        LegitimateInterests = "legitimate-interests": "The sender's legitimate interests",
    }
    RefusalReason "refusal reason" {
        ConsentsNotEnabled = "consents-not-enabled": "Consents are not enabled",
        PurposeUnknown = "purpose-unknown": "The mail names no consent, or one that does not exist",
        InvalidAddress = "invalid-address": "The address is not an email address",
        UnknownRecipient = "unknown-recipient": "Nobody known has the address",
        ConsentNotApplicable = "consent-not-applicable": "The consent does not apply to the person",
        ConsentNotRequested = "consent-not-requested": "The consent was not requested yet",
        ConsentPending = "consent-pending": "The request awaits the person's answer",
        ConsentRefused = "consent-refused": "The person refused the consent",
        ConsentOutdated = "consent-outdated": "The person granted an earlier text, changed materially since",
        ProcessingRestricted = "processing-restricted": "Processing is stopped for the person",
        Erased = "erased": "The person's data was erased",
        Duplicate = "duplicate": "The record is a duplicate of another",
        NotAToRecipient = "not-a-to-recipient": "Marketing goes to each person as To, with an opt-out of their own",
        PluginFault = "plugin-fault": "The plugin failed: nothing may be sent",
    }
    ConsentValue "consent value" {
        NotApplicable = "not-applicable": "The consent does not apply to the person",
        Applicable = "applicable": "It applies; not requested yet",
        Waiting = "waiting": "Requested; no answer yet",
        Granted = "granted": "The person granted it",
        NotGranted = "not-granted": "The person refused it",
    }
    PersonStatus "person status" {
        Active = "active": "Consents are requested and checked",
        Restricted = "restricted": "Processing stopped: locked, only transactional mail",
        Erased = "erased": "The data was erased",
        Duplicate = "duplicate": "Another record with the address is kept",
    }
    Regime "legal regime" {
        OptIn = "opt-in": "Consent first (GDPR, ePrivacy); the soft opt-in where configured",
        OptOut = "opt-out": "Until the person opts out (CAN-SPAM)",
        ImpliedConsent = "implied-consent": "Implied for a while after a purchase or enquiry, then express (CASL)",
    }
    ConsentDefault "consent default" {
        Yes = "yes": "Counts as given until the person refuses",
        No = "no": "Counts as refused until the person grants",
    }
    ConditionOp "condition operator" {
        OneOf = "one-of": "The field holds one of the values",
        NoneOf = "none-of": "The field holds none of the values",
        Present = "present": "The field is not empty",
        Absent = "absent": "The field is empty",
    }
    ConfirmationPolicy "confirmation policy" {
        Never = "never": "No confirmation mails",
        OwnChanges = "own-changes": "Changes the person made on the preferences page",
        EveryChange = "every-change": "Also decisions recorded by staff, an import or the API",
    }
    IpPolicy "policy for IP evidence" {
        Keep = "keep": "The whole address",
        Truncate = "truncate": "The network only (/24, /48)",
        Hash = "hash": "A salted SHA-256 of the address",
        Drop = "drop": "Nothing",
    }
    PurposeChange "purpose change" {
        Correction = "correction": "A typo or a clearer word: grants of the earlier text still count",
        Material = "material": "A new use or recipient: people who granted the earlier text are asked again",
    }
    Prerequisite "prerequisite" {
        DeduplicationNotConfirmed = "deduplication-not-confirmed": "Confirm that duplicates may be flagged",
        SenderNotConfigured = "sender-not-configured": "Configure the settings with the sender",
        NoConsentDefined = "no-consent-defined": "Define a consent",
    }
    EditRefusalReason "edit refusal reason" {
        ProcessingRestricted = "processing-restricted": "Processing is stopped for the person",
        Erased = "erased": "The person's data was erased",
        Duplicate = "duplicate": "The record is a duplicate of another",
        ConsentRefuses = "consent-refuses": "The field's data consent is not granted",
    }
}

/// The obligations of an allowed send, each with its text.
pub const OBLIGATIONS: &[(Obligations, &str, &str)] = &[
    (
        Obligations::PREFERENCES_FOOTER,
        "preferences-footer",
        "Add the preferences footer",
    ),
    (
        Obligations::STRIP_TRACKING,
        "strip-tracking",
        "Strip tracking pixels and links",
    ),
];

/// The texts of the obligations set in `flags`, kebab-case.
pub fn obligation_texts(flags: Obligations) -> Vec<&'static str> {
    OBLIGATIONS
        .iter()
        .filter(|(flag, _, _)| flags.contains(*flag))
        .map(|(_, text, _)| *text)
        .collect()
}

/// The kinds of consent by name; a data consent also names its field.
pub const CONSENT_KINDS: &[(&str, &str)] = &[
    ("data", "Consent to keep a field's data (data:FIELD)"),
    ("custom", "Consent to a purpose of your own"),
    (
        "email-tracking",
        "Consent to track opens and clicks of mail",
    ),
    (
        "document-tracking",
        "Consent to track views of shared documents",
    ),
];

/// The name of a consent's kind (`data` for every data consent).
pub fn kind_name(kind: &ConsentKind) -> &'static str {
    match kind {
        ConsentKind::Data(_) => "data",
        ConsentKind::Custom => "custom",
        ConsentKind::EmailTracking => "email-tracking",
        ConsentKind::DocumentTracking => "document-tracking",
    }
}

/// Why a kind name and field do not make a consent kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    #[error("a `data` consent names its field")]
    FieldMissing,
    #[error("only a `data` consent names a field, not `{0}`")]
    FieldNotExpected(String),
    #[error("`{0}` is not a kind of consent")]
    Unknown(String),
}

/// The consent kind named `name` (kebab-case), with the field a data consent names.
pub fn kind_of(name: &str, field: Option<String>) -> Result<ConsentKind, KindError> {
    match (name, field) {
        ("data", Some(field)) if !field.is_empty() => Ok(ConsentKind::Data(field)),
        ("data", _) => Err(KindError::FieldMissing),
        ("custom" | "email-tracking" | "document-tracking", Some(_)) => {
            Err(KindError::FieldNotExpected(name.to_owned()))
        }
        ("custom", None) => Ok(ConsentKind::Custom),
        ("email-tracking", None) => Ok(ConsentKind::EmailTracking),
        ("document-tracking", None) => Ok(ConsentKind::DocumentTracking),
        (other, _) => Err(KindError::Unknown(other.to_owned())),
    }
}

/// A contract enum in JSON: its API text (snake_case). Reading an unknown text fails with
/// the texts that are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api<T>(pub T);

impl<T: Wire> From<T> for Api<T> {
    fn from(value: T) -> Api<T> {
        Api(value)
    }
}

impl<T: Wire> Serialize for Api<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.api_text())
    }
}

impl<'de, T: Wire> Deserialize<'de> for Api<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text<T>(PhantomData<T>);
        impl<T: Wire> Visitor<'_> for Text<T> {
            type Value = Api<T>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "a {} as text", T::WHAT)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Api<T>, E> {
                T::parse_api(text).map(Api).ok_or_else(|| {
                    let known: Vec<String> = T::TABLE
                        .iter()
                        .map(|(value, _, _)| format!("`{}`", value.api_text()))
                        .collect();
                    E::custom(format_args!(
                        "`{text}` is not a {}; use one of {}",
                        T::WHAT,
                        known.join(", ")
                    ))
                })
            }
        }
        deserializer.deserialize_str(Text(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Wire + fmt::Debug>() {
        for (value, text, help) in T::TABLE {
            assert_eq!(value.text(), *text, "{} {value:?}", T::WHAT);
            assert_eq!(T::parse(text), Some(*value));
            assert_eq!(T::parse_api(&value.api_text()), Some(*value));
            assert!(!help.is_empty());
        }
        let texts = T::texts();
        let mut unique = texts.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            texts.len(),
            "{}: a text is used twice",
            T::WHAT
        );
    }

    #[test]
    fn every_value_reads_back_from_its_text_on_both_channels() {
        round_trips::<MessageClass>();
        round_trips::<RecipientRole>();
        round_trips::<LawfulBasis>();
        round_trips::<RefusalReason>();
        round_trips::<ConsentValue>();
        round_trips::<PersonStatus>();
        round_trips::<ConsentDefault>();
        round_trips::<ConditionOp>();
        round_trips::<ConfirmationPolicy>();
        round_trips::<IpPolicy>();
        round_trips::<Prerequisite>();
        round_trips::<PurposeChange>();
        round_trips::<EditRefusalReason>();
        round_trips::<Regime>();
    }

    #[test]
    fn an_unknown_api_text_is_refused_naming_the_known_ones() {
        let error = serde_json::from_str::<Api<IpPolicy>>("\"forget\"")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("`forget` is not a policy for IP evidence; use one of `keep`, `truncate`, `hash`, `drop`"),
            "{error}"
        );
        let read: Api<MessageClass> = serde_json::from_str("\"ad_hoc\"").unwrap();
        assert_eq!(read, Api(MessageClass::AdHoc));
        assert_eq!(serde_json::to_string(&read).unwrap(), "\"ad_hoc\"");
        assert!(serde_json::from_str::<Api<MessageClass>>("\"ad-hoc\"").is_err());
    }

    #[test]
    fn consent_kinds_read_back_and_only_data_names_a_field() {
        for (name, _) in CONSENT_KINDS {
            let field = (*name == "data").then(|| "phone".to_owned());
            let kind = kind_of(name, field).unwrap();
            assert_eq!(kind_name(&kind), *name);
        }
        assert_eq!(kind_of("data", None), Err(KindError::FieldMissing));
        assert_eq!(
            kind_of("custom", Some("phone".into())),
            Err(KindError::FieldNotExpected("custom".into()))
        );
        assert_eq!(
            kind_of("mood", None),
            Err(KindError::Unknown("mood".into()))
        );
    }

    #[test]
    fn obligations_are_named_in_the_table_order() {
        let both = Obligations::PREFERENCES_FOOTER | Obligations::STRIP_TRACKING;
        assert_eq!(
            obligation_texts(both),
            vec!["preferences-footer", "strip-tracking"]
        );
        assert!(obligation_texts(Obligations::empty()).is_empty());
    }
}
