//! The words of the preferences page in every language it speaks, from Fluent resources
//! (`host/locales/<language>.ftl`), built once per process.
//!
//! A page for a person is in the language the plugin says they read; a page for nobody
//! (a wrong link, say) in the first language the browser's `Accept-Language` names that
//! the page speaks, else English.

use std::sync::OnceLock;

use axum::http::{HeaderMap, header};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// The languages the page speaks, English first, with their words.
const RESOURCES: [(&str, &str); 4] = [
    ("en", include_str!("../../../locales/en.ftl")),
    ("de", include_str!("../../../locales/de.ftl")),
    ("fr", include_str!("../../../locales/fr.ftl")),
    ("es", include_str!("../../../locales/es.ftl")),
];

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static [(&'static str, Bundle)] {
    static BUNDLES: OnceLock<Vec<(&'static str, Bundle)>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        RESOURCES
            .iter()
            .map(|(language, source)| {
                let locale = language.parse().unwrap_or_default();
                let mut bundle = FluentBundle::new_concurrent(vec![locale]);
                // The page escapes what it inserts; isolation marks would only show as
                // boxes in some fonts.
                bundle.set_use_isolating(false);
                let resource = FluentResource::try_new((*source).to_owned())
                    .unwrap_or_else(|(resource, _)| resource);
                bundle.add_resource_overriding(resource);
                (*language, bundle)
            })
            .collect()
    })
}

/// The page's words in one language.
#[derive(Clone, Copy)]
pub struct Words {
    language: &'static str,
    bundle: &'static Bundle,
    english: &'static Bundle,
}

impl Words {
    /// The words of `language` (a tag the plugin gave); English for one the page does not
    /// speak.
    pub fn of(language: &str) -> Words {
        let bundles = bundles();
        let (language, bundle) = bundles
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(language.trim()))
            .unwrap_or(&bundles[0]);
        Words {
            language,
            bundle,
            english: &bundles[0].1,
        }
    }

    /// The words of the first language `Accept-Language` names that the page speaks, by
    /// preference weight; English when none.
    pub fn negotiate(headers: &HeaderMap) -> Words {
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let mut ranges: Vec<(f32, &str)> = accepted
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let tag = parts.next()?.trim();
                let weight = parts
                    .find_map(|parameter| parameter.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |weight| weight.trim().parse::<f32>().ok())?;
                (weight > 0.0).then_some((weight, tag))
            })
            .collect();
        // Stable: equal weights keep the order given.
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges
            .iter()
            .find_map(|(_, tag)| {
                let primary = tag.split(['-', '_']).next().unwrap_or_default();
                bundles()
                    .iter()
                    .any(|(known, _)| known.eq_ignore_ascii_case(primary))
                    .then(|| Words::of(primary))
            })
            .unwrap_or_else(|| Words::of("en"))
    }

    /// The language tag, for `<html lang>`.
    pub fn lang(&self) -> &'static str {
        self.language
    }

    /// Message `id`.
    pub fn get(&self, id: &str) -> String {
        self.with(id, &[])
    }

    /// Message `id` with `args` inserted (the template escapes the result).
    pub fn with(&self, id: &str, args: &[(&str, &str)]) -> String {
        format(self.bundle, id, args)
            .or_else(|| format(self.english, id, args))
            .unwrap_or_else(|| id.to_owned())
    }

    /// Message `id` with one variable, for the template.
    pub fn arg(&self, id: &str, name: &str, value: &str) -> String {
        self.with(id, &[(name, value)])
    }
}

fn format(bundle: &Bundle, id: &str, args: &[(&str, &str)]) -> Option<String> {
    let pattern = bundle.get_message(id)?.value()?;
    let mut fluent_args = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        fluent_args.set(*name, *value);
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
    errors.is_empty().then(|| text.into_owned())
}

/// The ids of every message in a Fluent source, in order (for the completeness test).
#[cfg(test)]
fn message_ids(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter(|line| {
            line.chars()
                .next()
                .is_some_and(|first| first.is_ascii_lowercase())
        })
        .filter_map(|line| line.split_once('=').map(|(id, _)| id.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn every_language_has_every_message_of_the_page() {
        let english = message_ids(RESOURCES[0].1);
        assert!(english.len() > 40, "{english:?}");
        for (language, source) in &RESOURCES[1..] {
            assert_eq!(message_ids(source), english, "{language}");
            let words = Words::of(language);
            for id in &english {
                assert!(
                    format(
                        words.bundle,
                        id,
                        &[
                            ("organisation", "Acme"),
                            ("name", "Ada"),
                            ("version", "2"),
                            ("expires", "x"),
                            ("consent", "news")
                        ]
                    )
                    .is_some(),
                    "{language}: {id} does not format"
                );
            }
        }
    }

    #[test]
    fn the_browsers_language_is_chosen_by_weight_among_those_the_page_speaks() {
        let words = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_LANGUAGE,
                HeaderValue::from_str(accept).unwrap(),
            );
            Words::negotiate(&headers).lang()
        };
        assert_eq!(words("de-AT,de;q=0.9,en;q=0.5"), "de");
        assert_eq!(words("pt-BR, fr;q=0.8, es;q=0.9"), "es");
        assert_eq!(words("ja, zh;q=0.5"), "en");
        assert_eq!(words("fr;q=0, es"), "es");
        assert_eq!(Words::negotiate(&HeaderMap::new()).lang(), "en");
        assert_eq!(
            Words::of("DE").get("page-title"),
            "Ihre Datenschutzeinstellungen"
        );
        assert_eq!(Words::of("pt").lang(), "en");
    }
}
