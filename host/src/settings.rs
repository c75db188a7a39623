//! The organisation-wide settings as the host's users read and change them: a change is a
//! patch of the options given, merged onto the current settings, so that it never resets
//! an option nobody mentioned (the CLI's `settings` and the API's `PATCH` and `PUT
//! /api/v1/settings` all make one); [`SettingsView`] is how the API and `settings show`
//! print them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::contract::configuration::{
    ConfirmationPolicy, IpPolicy, LanguageRules, RegimeRules, RequestPolicy, Settings, Template,
};
use crate::contract::types::Regime;
use crate::wire::{Api, Wire};

/// The preferences page of a host on its default address.
pub const DEFAULT_PREFERENCES_URL: &str = "http://127.0.0.1:8080/preferences/";
/// How many days a preferences link stays valid unless configured.
pub const DEFAULT_LINK_VALID_DAYS: u32 = 30;

/// The options a change sets; `None` keeps the current value. In JSON, the options by
/// their snake_case names (an unknown name is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsPatch {
    pub sender_address: Option<String>,
    pub sender_name: Option<String>,
    pub organisation: Option<String>,
    pub postal_address: Option<String>,
    pub preferences_url: Option<String>,
    pub link_valid_days: Option<u32>,
    pub flag_new_duplicates: Option<bool>,
    pub retained_fields: Option<Vec<String>>,
    #[serde(deserialize_with = "api_option")]
    pub confirm_changes: Option<ConfirmationPolicy>,
    #[serde(deserialize_with = "api_option")]
    pub ip_evidence: Option<IpPolicy>,
    pub person_modules: Option<Vec<String>>,
    /// Changes of the regime rules, each part on its own (left out of a `PUT`, the rules
    /// stay as they are).
    pub regimes: RegimesPatch,
    /// Changes of the request policy, each part on its own (left out of a `PUT`, the
    /// policy stays as it is).
    pub requests: RequestsPatch,
    /// Changes of the language rules, each part on its own (left out of a `PUT`, the rules
    /// stay as they are).
    pub languages: LanguagesPatch,
}

/// The parts of the language rules a change sets; `None` keeps the current part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LanguagesPatch {
    pub field: Option<String>,
    pub default_language: Option<String>,
    /// The tenant's templates by language (Fluent text); replaces them all. An empty text
    /// removes a language's template.
    pub templates: Option<BTreeMap<String, String>>,
}

impl LanguagesPatch {
    fn apply(self, current: LanguageRules) -> LanguageRules {
        LanguageRules {
            field: self.field.unwrap_or(current.field),
            default_language: self.default_language.unwrap_or(current.default_language),
            templates: match self.templates {
                Some(templates) => templates
                    .into_iter()
                    .filter(|(_, ftl)| !ftl.trim().is_empty())
                    .map(|(language, ftl)| Template { language, ftl })
                    .collect(),
                None => current.templates,
            },
        }
    }
}

/// The language rules as the API answers them: templates as an object of language to
/// Fluent text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguagesView {
    pub field: String,
    pub default_language: String,
    pub templates: BTreeMap<String, String>,
}

impl From<LanguageRules> for LanguagesView {
    fn from(rules: LanguageRules) -> LanguagesView {
        LanguagesView {
            field: rules.field,
            default_language: rules.default_language,
            templates: rules
                .templates
                .into_iter()
                .map(|template| (template.language, template.ftl))
                .collect(),
        }
    }
}

/// The parts of the request policy a change sets; `None` keeps the current part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestsPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remind_after_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminders: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lapse_after_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ask_again_after_days: Option<u32>,
}

impl RequestsPatch {
    fn apply(self, current: RequestPolicy) -> RequestPolicy {
        RequestPolicy {
            remind_after_days: self.remind_after_days.unwrap_or(current.remind_after_days),
            reminders: self.reminders.unwrap_or(current.reminders),
            lapse_after_days: self.lapse_after_days.unwrap_or(current.lapse_after_days),
            ask_again_after_days: self
                .ask_again_after_days
                .unwrap_or(current.ask_again_after_days),
        }
    }
}

/// The parts of the regime rules a change sets; `None` keeps the current part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegimesPatch {
    pub field: Option<String>,
    /// Values of the field and their regime; replaces the whole list.
    #[serde(deserialize_with = "api_map")]
    pub values: Option<Vec<(String, Regime)>>,
    #[serde(deserialize_with = "api_option")]
    pub default_regime: Option<Regime>,
    pub purchase_field: Option<String>,
    pub enquiry_field: Option<String>,
    pub soft_opt_in: Option<Vec<String>>,
}

impl RegimesPatch {
    fn apply(self, current: RegimeRules) -> RegimeRules {
        RegimeRules {
            field: self.field.unwrap_or(current.field),
            values: self.values.unwrap_or(current.values),
            default_regime: self.default_regime.unwrap_or(current.default_regime),
            purchase_field: self.purchase_field.unwrap_or(current.purchase_field),
            enquiry_field: self.enquiry_field.unwrap_or(current.enquiry_field),
            soft_opt_in: self.soft_opt_in.unwrap_or(current.soft_opt_in),
        }
    }
}

/// An optional map of texts to contract enums by their API text, as pairs in key order.
fn api_map<'de, D, T>(deserializer: D) -> Result<Option<Vec<(String, T)>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Wire,
{
    Option::<BTreeMap<String, Api<T>>>::deserialize(deserializer).map(|map| {
        map.map(|map| {
            map.into_iter()
                .map(|(key, Api(value))| (key, value))
                .collect()
        })
    })
}

/// An optional contract enum by its API text.
fn api_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Wire,
{
    Option::<Api<T>>::deserialize(deserializer).map(|value| value.map(|Api(value)| value))
}

/// The settings as the API answers them and `settings show --json` prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsView {
    pub sender_address: String,
    pub sender_name: String,
    pub organisation: String,
    pub postal_address: String,
    pub preferences_url: String,
    pub link_valid_days: u32,
    pub flag_new_duplicates: bool,
    pub retained_fields: Vec<String>,
    pub confirm_changes: Api<ConfirmationPolicy>,
    pub ip_evidence: Api<IpPolicy>,
    pub person_modules: Vec<String>,
    pub regimes: RegimesView,
    pub requests: RequestsView,
    pub languages: LanguagesView,
}

/// The request policy as the API answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequestsView {
    pub remind_after_days: u32,
    pub reminders: u32,
    pub lapse_after_days: u32,
    pub ask_again_after_days: u32,
}

impl From<RequestPolicy> for RequestsView {
    fn from(policy: RequestPolicy) -> RequestsView {
        RequestsView {
            remind_after_days: policy.remind_after_days,
            reminders: policy.reminders,
            lapse_after_days: policy.lapse_after_days,
            ask_again_after_days: policy.ask_again_after_days,
        }
    }
}

/// The regime rules as the API answers them: values as an object of value to regime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegimesView {
    pub field: String,
    pub values: BTreeMap<String, Api<Regime>>,
    pub default_regime: Api<Regime>,
    pub purchase_field: String,
    pub enquiry_field: String,
    pub soft_opt_in: Vec<String>,
}

impl From<RegimeRules> for RegimesView {
    fn from(rules: RegimeRules) -> RegimesView {
        RegimesView {
            field: rules.field,
            values: rules
                .values
                .into_iter()
                .map(|(value, regime)| (value, Api(regime)))
                .collect(),
            default_regime: Api(rules.default_regime),
            purchase_field: rules.purchase_field,
            enquiry_field: rules.enquiry_field,
            soft_opt_in: rules.soft_opt_in,
        }
    }
}

impl From<Settings> for SettingsView {
    fn from(settings: Settings) -> SettingsView {
        SettingsView {
            sender_address: settings.sender_address,
            sender_name: settings.sender_name,
            organisation: settings.organisation,
            postal_address: settings.postal_address,
            preferences_url: settings.preferences_url,
            link_valid_days: settings.link_valid_days,
            flag_new_duplicates: settings.flag_new_duplicates,
            retained_fields: settings.retained_fields,
            confirm_changes: Api(settings.confirm_changes),
            ip_evidence: Api(settings.ip_evidence),
            person_modules: settings.person_modules,
            regimes: RegimesView::from(settings.regimes),
            requests: RequestsView::from(settings.requests),
            languages: LanguagesView::from(settings.languages),
        }
    }
}

/// Options the first settings must give: nothing is configured to keep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no settings are configured yet, so these must be given: {}", .0.join(", "))]
pub struct MissingOptions(pub Vec<&'static str>);

impl SettingsPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == SettingsPatch::default()
    }

    /// The options the patch leaves out, by their snake_case names: what a replacement of
    /// every setting lacks.
    pub fn left_out(&self) -> Vec<&'static str> {
        [
            ("sender_address", self.sender_address.is_none()),
            ("sender_name", self.sender_name.is_none()),
            ("organisation", self.organisation.is_none()),
            ("postal_address", self.postal_address.is_none()),
            ("preferences_url", self.preferences_url.is_none()),
            ("link_valid_days", self.link_valid_days.is_none()),
            ("flag_new_duplicates", self.flag_new_duplicates.is_none()),
            ("retained_fields", self.retained_fields.is_none()),
            ("confirm_changes", self.confirm_changes.is_none()),
            ("ip_evidence", self.ip_evidence.is_none()),
            ("person_modules", self.person_modules.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect()
    }

    /// The settings after this change: every option given replaces the current one, the
    /// others stay. Without current settings, the sender, organisation and postal address
    /// are required and the rest take their defaults.
    pub fn apply(self, current: Option<Settings>) -> Result<Settings, MissingOptions> {
        let current = match current {
            Some(current) => current,
            None => {
                let missing: Vec<&'static str> = [
                    ("sender-address", self.sender_address.is_none()),
                    ("sender-name", self.sender_name.is_none()),
                    ("organisation", self.organisation.is_none()),
                    ("postal-address", self.postal_address.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, absent)| absent.then_some(name))
                .collect();
                if !missing.is_empty() {
                    return Err(MissingOptions(missing));
                }
                Settings {
                    sender_address: String::new(),
                    sender_name: String::new(),
                    organisation: String::new(),
                    postal_address: String::new(),
                    preferences_url: DEFAULT_PREFERENCES_URL.to_owned(),
                    link_valid_days: DEFAULT_LINK_VALID_DAYS,
                    flag_new_duplicates: false,
                    retained_fields: Vec::new(),
                    confirm_changes: ConfirmationPolicy::OwnChanges,
                    ip_evidence: IpPolicy::Truncate,
                    person_modules: Vec::new(),
                    regimes: RegimeRules {
                        field: String::new(),
                        values: Vec::new(),
                        default_regime: Regime::OptIn,
                        purchase_field: String::new(),
                        enquiry_field: String::new(),
                        soft_opt_in: Vec::new(),
                    },
                    requests: RequestPolicy {
                        remind_after_days: 0,
                        reminders: 0,
                        lapse_after_days: 0,
                        ask_again_after_days: 0,
                    },
                    languages: LanguageRules {
                        field: String::new(),
                        default_language: String::new(),
                        templates: Vec::new(),
                    },
                }
            }
        };
        Ok(Settings {
            sender_address: self.sender_address.unwrap_or(current.sender_address),
            sender_name: self.sender_name.unwrap_or(current.sender_name),
            organisation: self.organisation.unwrap_or(current.organisation),
            postal_address: self.postal_address.unwrap_or(current.postal_address),
            preferences_url: self.preferences_url.unwrap_or(current.preferences_url),
            link_valid_days: self.link_valid_days.unwrap_or(current.link_valid_days),
            flag_new_duplicates: self
                .flag_new_duplicates
                .unwrap_or(current.flag_new_duplicates),
            retained_fields: self.retained_fields.unwrap_or(current.retained_fields),
            confirm_changes: self.confirm_changes.unwrap_or(current.confirm_changes),
            ip_evidence: self.ip_evidence.unwrap_or(current.ip_evidence),
            person_modules: self.person_modules.unwrap_or(current.person_modules),
            regimes: self.regimes.apply(current.regimes),
            requests: self.requests.apply(current.requests),
            languages: self.languages.apply(current.languages),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> Settings {
        SettingsPatch {
            sender_address: Some("privacy@example.org".into()),
            sender_name: Some("Privacy".into()),
            organisation: Some("Example Ltd".into()),
            postal_address: Some("1 Example Street".into()),
            retained_fields: Some(vec!["name".into()]),
            ip_evidence: Some(IpPolicy::Hash),
            ..SettingsPatch::default()
        }
        .apply(None)
        .unwrap()
    }

    #[test]
    fn a_patch_changes_only_the_options_it_gives() {
        let before = current();
        assert_eq!(before.preferences_url, DEFAULT_PREFERENCES_URL);
        let after = SettingsPatch {
            flag_new_duplicates: Some(true),
            ..SettingsPatch::default()
        }
        .apply(Some(before.clone()))
        .unwrap();
        assert!(after.flag_new_duplicates);
        assert_eq!(after.retained_fields, before.retained_fields);
        assert_eq!(after.ip_evidence, IpPolicy::Hash);
        assert_eq!(after.sender_address, before.sender_address);
        let emptied = SettingsPatch {
            retained_fields: Some(Vec::new()),
            ..SettingsPatch::default()
        }
        .apply(Some(before))
        .unwrap();
        assert!(emptied.retained_fields.is_empty());
    }

    #[test]
    fn the_first_settings_name_what_they_lack() {
        let missing = SettingsPatch {
            sender_address: Some("privacy@example.org".into()),
            ..SettingsPatch::default()
        }
        .apply(None)
        .unwrap_err();
        assert_eq!(missing.0, ["sender-name", "organisation", "postal-address"]);
        assert!(SettingsPatch::default().is_empty());
    }

    #[test]
    fn a_patch_reads_from_json_and_names_what_it_leaves_out() {
        let patch: SettingsPatch =
            serde_json::from_str(r#"{"ip_evidence": "drop", "link_valid_days": 7}"#).unwrap();
        assert_eq!(patch.ip_evidence, Some(IpPolicy::Drop));
        assert_eq!(patch.link_valid_days, Some(7));
        assert_eq!(patch.left_out().len(), 9);
        assert!(!patch.left_out().contains(&"ip_evidence"));
        let unknown = serde_json::from_str::<SettingsPatch>(r#"{"colour": "red"}"#);
        assert!(unknown.unwrap_err().to_string().contains("colour"));
        let view = SettingsView::from(current());
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["ip_evidence"], "hash");
        assert_eq!(json["confirm_changes"], "own_changes");
    }
}
