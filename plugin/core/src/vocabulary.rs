//! The words many modules share: message classes, lawful bases, legal regimes, a person's
//! status, languages, and the policies for IP evidence and confirmation mails. A leaf: it imports nothing of the
//! crate, so every module can use it without an import circle.
//!
//! Each word's text is written once, in [`words!`]: events, settings and logs use it.

use serde::{Deserialize, Serialize};

/// Defines an enum of words with one table of their texts: `ALL`, `as_str` and `parse`,
/// and serde names from the same table. Stored forms (postcard) keep variant order, so
/// new words are only ever added at the end.
macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every word, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word's text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The word whose text is `text` (trimmed).
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|word| word.as_str() == text.trim())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// What kind of mail is being sent: the class decides which rules apply.
    pub enum MessageClass {
        AdHoc = "ad-hoc",
        Workflow = "workflow",
        Marketing = "marketing",
        Transactional = "transactional",
    }
}

words! {
    /// The lawful basis an allowed send relies on (GDPR Art. 6(1)).
    pub enum LawfulBasis {
        Consent = "consent",
        Contract = "contract",
        LegalObligation = "legal-obligation",
        LegitimateInterests = "legitimate-interests",
    }
}

words! {
    /// What the evidence of a preferences-page answer keeps of the IP address the host
    /// observed (setting `ip-evidence`).
    #[derive(Default)]
    pub enum IpPolicy {
        /// The whole address: strongest proof, and personal data kept as long as the event.
        Keep = "keep",
        /// The network only: IPv4 to /24, IPv6 to /48 (the default: proof of where from,
        /// without pointing at one machine).
        #[default]
        Truncate = "truncate",
        /// A salted SHA-256 of the whole address: proves a later claim "it came from this
        /// address" without keeping the address.
        Hash = "hash",
        /// Nothing.
        Drop = "drop",
    }
}

words! {
    /// Which changes a person is sent a confirmation mail about.
    #[derive(Default)]
    pub enum ConfirmationPolicy {
        /// No confirmation mails.
        Never = "never",
        /// Changes the person made on the preferences page.
        #[default]
        OwnChanges = "own-changes",
        /// Those, and decisions recorded by an administrator, an import or the API.
        EveryChange = "every-change",
    }
}

words! {
    /// Which law's model of marketing consent applies to a person: the setting `regimes`
    /// maps a field of the person's record (a country, a region) to one, with a default.
    /// `docs/decision-table.md` gives each its rows and legal source.
    #[derive(Default)]
    pub enum Regime {
        /// Consent first (GDPR Art. 6(1)(a), ePrivacy Directive Art. 13(1)): marketing needs
        /// the purpose's consent Granted (or Waiting with default yes); the soft opt-in for
        /// existing customers (Art. 13(2)) only where the settings name the purpose. The
        /// default: the strictest model, and the only one before regimes existed.
        #[default]
        OptIn = "opt-in",
        /// Until the person objects (CAN-SPAM, 15 U.S.C. 7704(a)(3)-(5)): commercial mail is
        /// allowed unless the person opted out, and every such mail carries an opt-out that
        /// works for 30 days and the sender's postal address.
        OptOut = "opt-out",
        /// Implied consent for a while, then express consent (CASL, S.C. 2010 c. 23,
        /// s. 10(9)-(10)): two years from a purchase, six months from an enquiry.
        ImpliedConsent = "implied-consent",
    }
}

/// Whether the plugin may process the person at all.
///
/// De-duplication sets `Duplicate` (see `crate::deduplication`); restriction and erasure
/// set the others (see `crate::restriction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersonStatus {
    Active,
    /// The person asked to stop processing (GDPR Art. 18), since the time given.
    Restricted {
        since: i64,
    },
    /// The person's data were erased (GDPR Art. 17), since the time given.
    Erased {
        since: i64,
    },
    /// The record duplicates another record of the same person, since the time given.
    Duplicate {
        since: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_from_its_text_and_serialises_as_it() {
        for class in MessageClass::ALL {
            assert_eq!(MessageClass::parse(class.as_str()), Some(*class));
            assert_eq!(
                serde_json::to_string(class).unwrap(),
                format!("\"{}\"", class.as_str())
            );
        }
        for basis in LawfulBasis::ALL {
            assert_eq!(LawfulBasis::parse(basis.as_str()), Some(*basis));
        }
        for policy in IpPolicy::ALL {
            assert_eq!(IpPolicy::parse(policy.as_str()), Some(*policy));
        }
        for policy in ConfirmationPolicy::ALL {
            assert_eq!(ConfirmationPolicy::parse(policy.as_str()), Some(*policy));
        }
        assert_eq!(IpPolicy::default(), IpPolicy::Truncate);
        assert_eq!(
            ConfirmationPolicy::default(),
            ConfirmationPolicy::OwnChanges
        );
        assert_eq!(IpPolicy::parse(" hash "), Some(IpPolicy::Hash));
        assert_eq!(IpPolicy::parse("scramble"), None);
    }

    #[test]
    fn stored_words_keep_their_place() {
        // Settings are stored by variant index: a word's place never changes.
        assert_eq!(postcard::to_allocvec(&IpPolicy::Drop).unwrap(), [3]);
        assert_eq!(
            postcard::to_allocvec(&ConfirmationPolicy::EveryChange).unwrap(),
            [2]
        );
    }
}

words! {
    /// A language mails and the preferences page speak (ISO 639-1).
    pub enum Language {
        English = "en",
        German = "de",
        French = "fr",
        Spanish = "es",
    }
}

impl Language {
    /// The language a CRM field's value names: a language tag (`de`, `de-AT`, `fr_CA`,
    /// any case) by its primary subtag. None for a value naming another language.
    pub fn of_tag(value: &str) -> Option<Language> {
        let primary = value
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Language::parse(&primary)
    }
}
