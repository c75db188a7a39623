//! The words of every mail, in every language, from Fluent resources
//! (`plugin/core/locales/<language>.ftl`), with a tenant's templates over them.
//!
//! A tenant overrides messages with Fluent text of its own per language (the setting
//! `languages.templates`). [`check_template`] refuses, when the settings are saved, what
//! would break a mail: text that is not Fluent, a message the mails do not have, a
//! variable the message is not given, and a message that must carry the person's link
//! (`# needs $link` in `en.ftl`) without it. What passes renders: a message that still
//! fails to format (a reference to a message that does not exist, say) falls back to the
//! built-in text, never to a broken mail.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource};
use fluent_syntax::ast;

use crate::digest::sha256_hex;
use crate::vocabulary::Language;

/// The built-in resources, English first: every other language has the same messages
/// with the same variables (a test holds them to it).
const RESOURCES: [(Language, &str); 4] = [
    (Language::English, include_str!("../locales/en.ftl")),
    (Language::German, include_str!("../locales/de.ftl")),
    (Language::French, include_str!("../locales/fr.ftl")),
    (Language::Spanish, include_str!("../locales/es.ftl")),
];

/// The comment in `en.ftl` above a message that must carry the person's link.
const NEEDS_LINK: &str = "needs $link";

/// How many sets of texts one instance keeps built (languages × tenants' templates).
const CACHED: usize = 16;

/// The messages of one language, with a tenant's template over them, and the built-in
/// English ones to fall back on.
pub struct Texts {
    language: Language,
    bundle: FluentBundle<FluentResource>,
    builtin: FluentBundle<FluentResource>,
}

thread_local! {
    static BUILT: RefCell<Vec<(Language, String, Rc<Texts>)>> = const { RefCell::new(Vec::new()) };
}

impl Texts {
    /// The texts of `language` with `template` (checked Fluent text; empty: none), built
    /// once per instance.
    pub fn of(language: Language, template: &str) -> Rc<Texts> {
        let key = if template.is_empty() {
            String::new()
        } else {
            sha256_hex(&[template.as_bytes()])
        };
        BUILT.with(|built| {
            let mut built = built.borrow_mut();
            if let Some((_, _, texts)) = built
                .iter()
                .find(|(known, digest, _)| *known == language && *digest == key)
            {
                return Rc::clone(texts);
            }
            if built.len() >= CACHED {
                built.clear();
            }
            let texts = Rc::new(Texts::build(language, template));
            built.push((language, key, Rc::clone(&texts)));
            texts
        })
    }

    fn build(language: Language, template: &str) -> Texts {
        let mut texts = new_bundle(language, builtin_source(language));
        if !template.is_empty() {
            // A template that does not parse was refused when saved; what parses of it
            // overrides the built-in messages.
            let resource = FluentResource::try_new(template.to_owned())
                .unwrap_or_else(|(resource, _)| resource);
            texts.add_resource_overriding(resource);
        }
        Texts {
            language,
            bundle: texts,
            builtin: new_bundle(Language::English, builtin_source(Language::English)),
        }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// Message `id` as plain text, with `args` inserted as given.
    pub fn text(&self, id: &str, args: &[(&str, &str)]) -> String {
        format(&self.bundle, id, args)
            .or_else(|| format(&self.builtin, id, args))
            .unwrap_or_else(|| id.to_owned())
    }

    /// Message `id` as HTML: a message named `…-html` holds markup and gets `args`
    /// escaped; any other is text, escaped whole.
    pub fn html(&self, id: &str, args: &[(&str, &str)]) -> String {
        if id.ends_with("-html") {
            let escaped: Vec<(&str, String)> = args
                .iter()
                .map(|(name, value)| (*name, escape_html(value)))
                .collect();
            let escaped: Vec<(&str, &str)> = escaped
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            self.text(id, &escaped)
        } else {
            escape_html(&self.text(id, args))
        }
    }
}

fn builtin_source(language: Language) -> &'static str {
    RESOURCES
        .iter()
        .find(|(known, _)| *known == language)
        .map_or(RESOURCES[0].1, |(_, source)| source)
}

fn new_bundle(language: Language, source: &str) -> FluentBundle<FluentResource> {
    let locale: unic_langid::LanguageIdentifier = language
        .as_str()
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut bundle = FluentBundle::new(vec![locale]);
    // Mail is not bidirectional text: no isolation marks around inserted values.
    bundle.set_use_isolating(false);
    let resource =
        FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, _)| resource);
    bundle.add_resource_overriding(resource);
    bundle
}

fn format(
    bundle: &FluentBundle<FluentResource>,
    id: &str,
    args: &[(&str, &str)],
) -> Option<String> {
    let pattern = bundle.get_message(id)?.value()?;
    let mut fluent_args = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        fluent_args.set(*name, *value);
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
    errors.is_empty().then(|| text.into_owned())
}

/// `text` with the characters HTML gives meaning to escaped.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// What is wrong with a tenant's template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("line {line}: not Fluent text ({detail})")]
    Syntax { line: usize, detail: String },
    #[error("`{0}` is no message of the mails; they have {1}")]
    UnknownMessage(String, String),
    #[error("`{message}` is not given `${variable}`; it is given {known}")]
    UnknownVariable {
        message: String,
        variable: String,
        known: String,
    },
    #[error("`{0}` must carry the person's link: keep `{{ $link }}` in it")]
    LinkMissing(String),
    #[error("`{0}` has no text")]
    Empty(String),
}

/// Checks a tenant's template: every problem at once.
pub fn check_template(template: &str) -> Vec<TemplateError> {
    let resource = match fluent_syntax::parser::parse(template) {
        Ok(resource) => resource,
        Err((_, errors)) => {
            return errors
                .iter()
                .map(|error| {
                    // The entry that failed, where the parser says; else where it stopped.
                    let at = error
                        .slice
                        .as_ref()
                        .map_or(error.pos.start, |slice| slice.start);
                    TemplateError::Syntax {
                        line: template[..at.min(template.len())].matches('\n').count() + 1,
                        detail: error.kind.to_string(),
                    }
                })
                .collect();
        }
    };
    let known = builtin_messages();
    let mut problems = Vec::new();
    for entry in &resource.body {
        let ast::Entry::Message(message) = entry else {
            continue;
        };
        let id = message.id.name;
        let Some(builtin) = known.iter().find(|builtin| builtin.id == id) else {
            let names: Vec<&str> = known.iter().map(|builtin| builtin.id.as_str()).collect();
            problems.push(TemplateError::UnknownMessage(
                id.to_owned(),
                names.join(", "),
            ));
            continue;
        };
        let Some(value) = &message.value else {
            problems.push(TemplateError::Empty(id.to_owned()));
            continue;
        };
        let mut used = BTreeSet::new();
        variables(value, &mut used);
        for variable in &used {
            if !builtin.variables.contains(variable) {
                problems.push(TemplateError::UnknownVariable {
                    message: id.to_owned(),
                    variable: variable.clone(),
                    known: listed(&builtin.variables),
                });
            }
        }
        if builtin.needs_link && !used.contains("link") {
            problems.push(TemplateError::LinkMissing(id.to_owned()));
        }
    }
    problems
}

/// A built-in message: its id, its variables, and whether it must carry the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinMessage {
    pub id: String,
    pub variables: BTreeSet<String>,
    pub needs_link: bool,
}

/// The messages of the built-in English resource.
pub fn builtin_messages() -> Vec<BuiltinMessage> {
    messages_of(RESOURCES[0].1)
}

/// The messages of Fluent `source` (what parses of it).
pub fn messages_of(source: &str) -> Vec<BuiltinMessage> {
    let resource = fluent_syntax::parser::parse(source).unwrap_or_else(|(resource, _)| resource);
    resource
        .body
        .iter()
        .filter_map(|entry| match entry {
            ast::Entry::Message(message) => {
                let mut variables_used = BTreeSet::new();
                if let Some(value) = &message.value {
                    variables(value, &mut variables_used);
                }
                Some(BuiltinMessage {
                    id: message.id.name.to_owned(),
                    variables: variables_used,
                    needs_link: message.comment.as_ref().is_some_and(|comment| {
                        comment.content.iter().any(|line| line.trim() == NEEDS_LINK)
                    }),
                })
            }
            _ => None,
        })
        .collect()
}

fn listed(variables: &BTreeSet<String>) -> String {
    if variables.is_empty() {
        return "none".to_owned();
    }
    variables
        .iter()
        .map(|variable| format!("${variable}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The variables `pattern` refers to.
fn variables(pattern: &ast::Pattern<&str>, found: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_variables(expression, found);
        }
    }
}

fn expression_variables(expression: &ast::Expression<&str>, found: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Inline(inline) => inline_variables(inline, found),
        ast::Expression::Select { selector, variants } => {
            inline_variables(selector, found);
            for variant in variants {
                variables(&variant.value, found);
            }
        }
    }
}

fn inline_variables(inline: &ast::InlineExpression<&str>, found: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            found.insert(id.name.to_owned());
        }
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            arguments_variables(arguments, found);
        }
        ast::InlineExpression::TermReference {
            arguments: Some(arguments),
            ..
        } => arguments_variables(arguments, found),
        ast::InlineExpression::Placeable { expression } => expression_variables(expression, found),
        ast::InlineExpression::StringLiteral { .. }
        | ast::InlineExpression::NumberLiteral { .. }
        | ast::InlineExpression::MessageReference { .. }
        | ast::InlineExpression::TermReference {
            arguments: None, ..
        } => {}
    }
}

fn arguments_variables(arguments: &ast::CallArguments<&str>, found: &mut BTreeSet<String>) {
    for argument in &arguments.positional {
        inline_variables(argument, found);
    }
    for argument in &arguments.named {
        inline_variables(&argument.value, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_message_with_the_same_variables() {
        let english = builtin_messages();
        assert!(english.iter().any(|message| message.needs_link));
        for (language, source) in &RESOURCES[1..] {
            let translated = messages_of(source);
            let ids = |messages: &[BuiltinMessage]| -> Vec<String> {
                messages.iter().map(|message| message.id.clone()).collect()
            };
            assert_eq!(ids(&translated), ids(&english), "{language}: the messages");
            for (theirs, ours) in translated.iter().zip(&english) {
                assert_eq!(theirs.variables, ours.variables, "{language}: {}", ours.id);
            }
            assert!(
                fluent_syntax::parser::parse(*source).is_ok(),
                "{language}: not valid Fluent"
            );
        }
    }

    #[test]
    fn a_message_is_formatted_in_the_language_asked_for_with_its_values() {
        let english = Texts::of(Language::English, "");
        assert_eq!(
            english.text("request-subject", &[("organisation", "Acme & Co")]),
            "Acme & Co asks for your consent"
        );
        assert_eq!(
            english.html("request-subject", &[("organisation", "Acme & Co")]),
            "Acme &amp; Co asks for your consent"
        );
        let link = english.html("request-link-html", &[("link", "https://x/?a=1&b=2")]);
        assert!(link.contains("href=\"https://x/?a=1&amp;b=2\""), "{link}");
        for language in Language::ALL {
            let texts = Texts::of(*language, "");
            assert_eq!(texts.language(), *language);
            let subject = texts.text("request-subject", &[("organisation", "Acme")]);
            assert!(subject.contains("Acme"), "{language}: {subject}");
            assert!(!subject.contains('\u{2068}'), "no isolation marks in mail");
        }
        assert_ne!(
            Texts::of(Language::German, "").text("greeting-anonymous", &[]),
            english.text("greeting-anonymous", &[])
        );
    }

    #[test]
    fn a_template_overrides_messages_and_a_broken_one_is_refused_naming_the_problem() {
        let template = "request-subject = News from { $organisation }: may we?\n";
        assert_eq!(check_template(template), []);
        let texts = Texts::of(Language::English, template);
        assert_eq!(
            texts.text("request-subject", &[("organisation", "Acme")]),
            "News from Acme: may we?"
        );
        // Messages the template leaves alone keep their built-in text.
        assert_eq!(texts.text("greeting-anonymous", &[]), "Hello,");

        let problems = check_template(
            "request-subjekt = Hi\n\
             request-intro = { $organisation } and { $unknown }\n\
             request-link = Choose on the page.\n",
        );
        assert!(
            matches!(&problems[0], TemplateError::UnknownMessage(id, known) if id == "request-subjekt" && known.contains("request-subject")),
            "{problems:?}"
        );
        assert!(
            matches!(&problems[1], TemplateError::UnknownVariable { message, variable, .. } if message == "request-intro" && variable == "unknown"),
            "{problems:?}"
        );
        assert_eq!(
            problems[2],
            TemplateError::LinkMissing("request-link".into())
        );
        assert_eq!(problems.len(), 3);
        let syntax = check_template("request-subject = { $organisation\n");
        assert!(
            matches!(&syntax[..], [TemplateError::Syntax { line: 1, .. }, ..]),
            "{syntax:?}"
        );
        assert!(syntax[0].to_string().starts_with("line 1: not Fluent text"));
    }
}
