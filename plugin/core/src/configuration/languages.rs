//! Which language a person is written to in (setting `languages`), and the tenant's
//! templates over the built-in texts of the mails.
//!
//! A person's language is read from a record field (a language tag: `de`, `de-AT`,
//! `fr_CA`) when the settings name one; a person without one, or with a language the
//! mails do not speak, gets the default. `docs/consent-rules.md` says why.

use serde::{Deserialize, Serialize};

use super::{Problem, TranslationInput};
use crate::definition::Translation;
use crate::localisation::check_template;
use crate::vocabulary::Language;

/// The language rules as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LanguageRulesInput {
    /// The record field holding a person's language; empty: none.
    pub field: String,
    /// The language of everyone else, as a tag; empty: English.
    pub default: String,
    /// Fluent text per language (a tag) overriding messages of the mails.
    pub templates: Vec<(String, String)>,
}

/// The language rules, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageRules {
    pub field: Option<String>,
    pub default: Language,
    /// At most one template per language, each checked.
    pub templates: Vec<(Language, String)>,
}

impl Default for LanguageRules {
    fn default() -> LanguageRules {
        LanguageRules {
            field: None,
            default: Language::English,
            templates: Vec::new(),
        }
    }
}

/// The language tags the mails speak, for messages.
pub fn supported() -> String {
    Language::ALL
        .iter()
        .map(|language| language.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl LanguageRules {
    /// Validates `input` (every problem at once, at `languages.…`).
    pub fn validate(input: LanguageRulesInput, problems: &mut Vec<Problem>) -> LanguageRules {
        let field = input.field.trim();
        if field
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            problems.push(Problem::new(
                "languages.field",
                "a field name is a single word without blanks",
            ));
        }
        let default = match input.default.trim() {
            "" => Language::English,
            tag => Language::parse(&tag.to_ascii_lowercase()).unwrap_or_else(|| {
                problems.push(Problem::new(
                    "languages.default",
                    format!("`{tag}` is not a language the mails speak: {}", supported()),
                ));
                Language::English
            }),
        };
        let mut templates: Vec<(Language, String)> = Vec::new();
        for (tag, template) in input.templates {
            let at = format!("languages.templates[{}]", tag.trim());
            let Some(language) = Language::parse(&tag.trim().to_ascii_lowercase()) else {
                problems.push(Problem::new(
                    at,
                    format!("not a language the mails speak: {}", supported()),
                ));
                continue;
            };
            if templates.iter().any(|(known, _)| *known == language) {
                problems.push(Problem::new(at, "one template per language"));
                continue;
            }
            for problem in check_template(&template) {
                problems.push(Problem::new(at.clone(), problem.to_string()));
            }
            if !template.trim().is_empty() {
                templates.push((language, template));
            }
        }
        LanguageRules {
            field: (!field.is_empty()).then(|| field.to_owned()),
            default,
            templates,
        }
    }

    /// The tenant's template for `language`; empty when it has none.
    pub fn template(&self, language: Language) -> &str {
        self.templates
            .iter()
            .find(|(known, _)| *known == language)
            .map_or("", |(_, template)| template.as_str())
    }
}

/// Validates a consent's translations (problems at `at("translations[<tag>]…")`): a
/// language the mails speak, once each, with a one-line title and a purpose text.
pub fn translations(
    inputs: Vec<TranslationInput>,
    at: &dyn Fn(&str) -> String,
    problems: &mut Vec<Problem>,
) -> Vec<Translation> {
    let mut translations: Vec<Translation> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let here = |part: &str| at(&format!("translations[{}]{part}", input.language.trim()));
        let Some(language) = Language::parse(&input.language.trim().to_ascii_lowercase()) else {
            problems.push(Problem::new(
                here(""),
                format!("not a language the mails speak: {}", supported()),
            ));
            continue;
        };
        if translations.iter().any(|known| known.language == language) {
            problems.push(Problem::new(here(""), "one translation per language"));
            continue;
        }
        let title = input.title.trim();
        if title.is_empty() || title.chars().any(char::is_control) {
            problems.push(Problem::new(here(".title"), "is required, on one line"));
        }
        if input.purpose.trim().is_empty() {
            problems.push(Problem::new(
                here(".purpose"),
                "is required: it is what the person agrees to",
            ));
        }
        translations.push(Translation {
            language,
            title: title.to_owned(),
            purpose: input.purpose,
        });
    }
    translations
}

/// The language a person's record names in the rules' field, when it names one the mails
/// speak; kept in the person's snapshot with the field it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageFact {
    pub field: String,
    pub language: Language,
}

impl LanguageRules {
    /// What the rules read of a record whose field `name` has `value` (via `field_of`).
    pub fn read<'f>(&self, field_of: impl Fn(&str) -> Option<&'f str>) -> Option<LanguageFact> {
        let field = self.field.as_deref()?;
        let language = Language::of_tag(field_of(field)?)?;
        Some(LanguageFact {
            field: field.to_owned(),
            language,
        })
    }

    /// The language of a person of whom the rules read `fact`: the fact's language while
    /// the rules still name its field, else the default.
    pub fn language_of(&self, fact: Option<&LanguageFact>) -> Language {
        match (fact, self.field.as_deref()) {
            (Some(fact), Some(field)) if fact.field == field => fact.language,
            _ => self.default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(
        field: &str,
        default: &str,
        templates: &[(&str, &str)],
    ) -> (LanguageRules, Vec<Problem>) {
        let mut problems = Vec::new();
        let rules = LanguageRules::validate(
            LanguageRulesInput {
                field: field.into(),
                default: default.into(),
                templates: templates
                    .iter()
                    .map(|(tag, text)| ((*tag).to_owned(), (*text).to_owned()))
                    .collect(),
            },
            &mut problems,
        );
        (rules, problems)
    }

    #[test]
    fn a_person_gets_the_language_of_their_field_while_the_rules_name_it_else_the_default() {
        let (rules, problems) = rules("language", "de", &[]);
        assert_eq!(problems, []);
        let read = |value: &str| rules.read(|name| (name == "language").then_some(value));
        for (value, language) in [
            ("fr", Some(Language::French)),
            ("ES-mx", Some(Language::Spanish)),
            ("en_GB", Some(Language::English)),
            ("pt", None),
            ("", None),
        ] {
            assert_eq!(read(value).map(|fact| fact.language), language, "{value}");
        }
        let french = read("fr");
        assert_eq!(rules.language_of(french.as_ref()), Language::French);
        assert_eq!(rules.language_of(read("pt").as_ref()), Language::German);
        let (other_field, _) = self::rules("locale", "es", &[]);
        assert_eq!(other_field.language_of(french.as_ref()), Language::Spanish);
        assert_eq!(
            LanguageRules::default().language_of(french.as_ref()),
            Language::English
        );
    }

    #[test]
    fn wrong_rules_are_refused_naming_each_problem() {
        let (_, problems) = rules(
            "my language",
            "pt",
            &[("de", "request-subjekt = Hallo\n"), ("xx", ""), ("de", "")],
        );
        let at: Vec<&str> = problems.iter().map(|problem| problem.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "languages.field",
                "languages.default",
                "languages.templates[de]",
                "languages.templates[xx]",
                "languages.templates[de]",
            ]
        );
        assert!(
            problems[1].message.contains("en, de, fr, es"),
            "{problems:?}"
        );
        assert!(
            problems[2].message.contains("request-subjekt"),
            "{problems:?}"
        );
    }
}
