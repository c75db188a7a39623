//! What the preferences page shows: the form for one person, a problem, or the confirming
//! step of a serious action, in the person's language (`host/templates/preferences.html`).

use askama::Template;

use super::diff::{Part, changes};
use super::words::Words;
use crate::contract::preferences::Page;
use crate::contract::types::ConsentValue;

#[derive(Template)]
#[template(path = "preferences.html")]
pub(super) struct PreferencesPage {
    pub(super) words: Words,
    pub(super) organisation: String,
    pub(super) notice: Option<String>,
    pub(super) problem: Option<String>,
    pub(super) form: Option<FormView>,
    pub(super) confirm: Option<ConfirmView>,
    /// Where to ask for a new link, offered under a problem with a link.
    pub(super) new_link: Option<String>,
    /// The "send me my link again" form.
    pub(super) link_form: Option<LinkFormView>,
}

/// The "send me my link again" form: it posts to `action_url`.
pub(super) struct LinkFormView {
    action_url: String,
}

/// An action on the page that cannot be taken back by the person: it takes a confirming
/// step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Serious {
    StopProcessing,
    Erase,
}

/// The confirming step of a [`Serious`] action.
pub(super) struct ConfirmView {
    title: String,
    consequences: Vec<String>,
    action_url: String,
    button: String,
    back_url: String,
}

pub(super) struct FormView {
    name: String,
    pub(super) restricted: bool,
    save_url: String,
    stop_url: String,
    erase_url: String,
    consents: Vec<ConsentRow>,
    expires: String,
    /// Downloads of the signed receipts of the answers given through this link.
    receipts: Vec<ReceiptLink>,
}

/// A download of one answer's signed receipt (`crate::proof`).
pub(super) struct ReceiptLink {
    url: String,
    label: String,
}

struct ConsentRow {
    id: String,
    title: String,
    purpose: String,
    /// The language of the title and purpose, when it is not the page's.
    text_language: Option<String>,
    version: String,
    value_code: &'static str,
    value_label: String,
    changeable: bool,
    granted: bool,
    refused: bool,
    /// The earlier text the person agreed to, shown under the new one.
    agreed: Option<AgreedRow>,
}

struct AgreedRow {
    /// What the person is told about it, in their language.
    summary: String,
    /// The text they agreed to, word by word against the new one: what was removed, what
    /// was added.
    changes: Vec<Part>,
}

impl PreferencesPage {
    /// The page of the person `page` is for, in their language.
    pub(super) fn form(
        organisation: String,
        base: &str,
        token: &str,
        page: &Page,
        notice: Option<&str>,
    ) -> PreferencesPage {
        let words = Words::of(&page.language);
        let consents = page
            .consents
            .iter()
            .map(|consent| {
                let (value_code, value_label) = value_text(words, consent.value);
                ConsentRow {
                    id: consent.id.clone(),
                    title: consent.title.clone(),
                    purpose: consent.purpose.clone(),
                    text_language: (!consent.text_language.eq_ignore_ascii_case(words.lang()))
                        .then(|| consent.text_language.clone()),
                    version: consent.purpose_version.to_string(),
                    value_code,
                    value_label,
                    changeable: consent.changeable,
                    granted: consent.value == ConsentValue::Granted,
                    refused: consent.value == ConsentValue::NotGranted,
                    agreed: consent.agreed.as_ref().map(|agreed| AgreedRow {
                        summary: words.arg(
                            if agreed.still_counts {
                                "page-agreed-corrected"
                            } else {
                                "page-agreed-changed"
                            },
                            "version",
                            &agreed.purpose_version.to_string(),
                        ),
                        changes: changes(&agreed.purpose, &consent.purpose),
                    }),
                }
            })
            .collect();
        let expires = chrono::DateTime::from_timestamp_millis(page.link_expires_at)
            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let organisation = if page.organisation.is_empty() {
            organisation
        } else {
            page.organisation.clone()
        };
        PreferencesPage {
            words,
            organisation,
            notice: notice.map(|id| words.get(id)),
            problem: None,
            confirm: None,
            new_link: None,
            link_form: None,
            form: Some(FormView {
                name: page.name.clone(),
                restricted: page.restricted,
                save_url: format!("{base}/preferences/{token}"),
                stop_url: format!("{base}/preferences/{token}/stop-processing"),
                erase_url: format!("{base}/preferences/{token}/erase"),
                consents,
                expires,
                receipts: Vec::new(),
            }),
        }
    }

    /// The form with links to the receipts of the answers given through `token`: each
    /// (sequence of the answer's event, consent id) in the log's order.
    pub(super) fn with_receipts(
        mut self,
        base: &str,
        token: &str,
        receipts: &[(u64, String)],
    ) -> PreferencesPage {
        let words = self.words;
        if let Some(form) = self.form.as_mut() {
            form.receipts = receipts
                .iter()
                .map(|(sequence, consent)| {
                    let title = form
                        .consents
                        .iter()
                        .find(|row| &row.id == consent)
                        .map_or(consent.as_str(), |row| row.title.as_str());
                    ReceiptLink {
                        url: format!("{base}/preferences/{token}/receipts/{sequence}"),
                        label: words.arg("page-receipt-link", "consent", title),
                    }
                })
                .collect();
        }
        self
    }

    /// A page that only says `problem` (already in `words`' language; empty: nothing).
    pub(super) fn problem(words: Words, organisation: String, problem: String) -> PreferencesPage {
        PreferencesPage {
            words,
            organisation,
            notice: None,
            problem: (!problem.is_empty()).then_some(problem),
            form: None,
            confirm: None,
            new_link: None,
            link_form: None,
        }
    }

    /// The page with a link to ask for a new link by mail.
    pub(super) fn offering_a_new_link(self, base: &str) -> PreferencesPage {
        PreferencesPage {
            new_link: Some(format!("{base}/preferences/link")),
            ..self
        }
    }

    /// The "send me my link again" page, with `notice` (a message id) above the form. It
    /// never shows the address asked for: the answer is the same whoever holds it.
    pub(super) fn link_form(
        words: Words,
        organisation: String,
        base: &str,
        notice: Option<&str>,
        problem: Option<&str>,
    ) -> PreferencesPage {
        PreferencesPage {
            notice: notice.map(|id| words.get(id)),
            problem: problem.map(|id| words.get(id)),
            link_form: Some(LinkFormView {
                action_url: format!("{base}/preferences/link"),
            }),
            ..PreferencesPage::problem(words, organisation, String::new())
        }
    }

    /// The confirming step of `action`, in the person's language.
    pub(super) fn confirm(
        words: Words,
        organisation: String,
        base: &str,
        token: &str,
        action: Serious,
    ) -> PreferencesPage {
        let page = format!("{base}/preferences/{token}");
        let (prefix, path) = match action {
            Serious::StopProcessing => ("confirm-stop", "stop-processing"),
            Serious::Erase => ("confirm-erase", "erase"),
        };
        let confirm = ConfirmView {
            title: words.get(&format!("{prefix}-title")),
            consequences: (1..=3)
                .map(|line| words.get(&format!("{prefix}-{line}")))
                .collect(),
            action_url: format!("{page}/{path}"),
            button: words.get(&format!("{prefix}-button")),
            back_url: page,
        };
        PreferencesPage {
            words,
            organisation,
            notice: None,
            problem: None,
            form: None,
            confirm: Some(confirm),
            new_link: None,
            link_form: None,
        }
    }
}

/// The value's code (for machines) and its label (for the person).
fn value_text(words: Words, value: ConsentValue) -> (&'static str, String) {
    let code = match value {
        ConsentValue::NotApplicable => "not-applicable",
        ConsentValue::Applicable => "applicable",
        ConsentValue::Waiting => "waiting",
        ConsentValue::Granted => "granted",
        ConsentValue::NotGranted => "not-granted",
    };
    (code, words.get(&format!("value-{code}")))
}
