//! The page's message catalog (Fluent): English built in, other locales
//! read from `--page-locales DIR` (`DIR/<tag>/page.ftl`), each request shown
//! in the best locale its `Accept-Language` names. A message a locale lacks
//! is shown in English, so a partial translation is never a broken page.

use std::path::Path;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

use crate::error::Error;

/// The built-in English catalog.
pub const ENGLISH: &str = include_str!("../../../locales/en/page.ftl");

/// The file name of a locale's catalog under its tag's folder.
pub const CATALOG_FILE: &str = "page.ftl";

type Bundle = FluentBundle<FluentResource>;

/// Every locale the page can be shown in; English first.
pub struct Catalog {
    locales: Vec<(LanguageIdentifier, Bundle)>,
}

impl Catalog {
    /// English only.
    pub fn english() -> Self {
        let en: LanguageIdentifier = "en".parse().expect("`en` is a language tag");
        let english =
            bundle(en.clone(), ENGLISH, "built-in en").expect("the built-in catalog parses");
        Self {
            locales: vec![(en, english)],
        }
    }

    /// English and each `DIR/<tag>/page.ftl`. A catalog that does not parse,
    /// or a folder name that is not a language tag, is refused with its path.
    pub fn load(dir: Option<&Path>) -> Result<Self, Error> {
        let mut catalog = Self::english();
        let Some(dir) = dir else {
            return Ok(catalog);
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::misconfigured(format!("page locales `{}`", dir.display()), e))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                Error::misconfigured(format!("page locales `{}`", dir.display()), e)
            })?;
            let file = entry.path().join(CATALOG_FILE);
            if file.is_file() {
                found.push((entry.file_name().to_string_lossy().into_owned(), file));
            }
        }
        found.sort();
        for (tag, file) in found {
            let language: LanguageIdentifier = tag.parse().map_err(|_| {
                Error::Config(format!(
                    "page locales: `{tag}` is not a language tag (e.g. `de`, `fr-CA`)"
                ))
            })?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::misconfigured(format!("`{}`", file.display()), e))?;
            let bundle = bundle(language.clone(), &text, &file.display().to_string())?;
            catalog.locales.retain(|(l, _)| *l != language);
            catalog.locales.push((language, bundle));
        }
        Ok(catalog)
    }

    /// The language tags available, English first.
    pub fn languages(&self) -> Vec<String> {
        self.locales.iter().map(|(l, _)| l.to_string()).collect()
    }

    /// The messages for a request whose `Accept-Language` is `accept`.
    pub fn for_request(&self, accept: Option<&str>) -> Messages<'_> {
        let chosen = accept
            .map(preferences)
            .unwrap_or_default()
            .iter()
            .find_map(|wanted| self.best(wanted))
            .unwrap_or(0);
        Messages {
            catalog: self,
            chosen,
        }
    }

    /// The index of the locale that serves `wanted`: the same tag, else the
    /// same language.
    fn best(&self, wanted: &LanguageIdentifier) -> Option<usize> {
        self.locales
            .iter()
            .position(|(l, _)| l == wanted)
            .or_else(|| {
                self.locales
                    .iter()
                    .position(|(l, _)| l.language == wanted.language)
            })
    }
}

fn bundle(language: LanguageIdentifier, text: &str, origin: &str) -> Result<Bundle, Error> {
    let resource = FluentResource::try_new(text.to_string()).map_err(|(_, errors)| {
        Error::Config(format!(
            "page catalog `{origin}` does not parse: {}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let mut bundle = FluentBundle::new_concurrent(vec![language]);
    // Values go into HTML that the templates escape; Unicode isolation marks
    // would only show up in copied text and in tests.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|errors| Error::Config(format!("page catalog `{origin}`: {errors:?}")))?;
    Ok(bundle)
}

/// The tags of an `Accept-Language` value, most wanted first.
fn preferences(accept: &str) -> Vec<LanguageIdentifier> {
    let mut weighted: Vec<(f32, usize, LanguageIdentifier)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let language = tag.parse().ok()?;
            (q > 0.0).then_some((q, i, language))
        })
        .collect();
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    weighted.into_iter().map(|(_, _, l)| l).collect()
}

/// The messages of one locale, falling back to English.
#[derive(Clone, Copy)]
pub struct Messages<'a> {
    catalog: &'a Catalog,
    chosen: usize,
}

impl Messages<'_> {
    /// The language tag the page is shown in.
    pub fn language(&self) -> String {
        self.catalog.locales[self.chosen].0.to_string()
    }

    /// Message `id` without arguments.
    pub fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// Message `id` with one argument.
    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_string(), FluentValue::from(value.to_string()));
        self.format(id, Some(&args))
    }

    /// Message `id` with two arguments.
    pub fn t2(&self, id: &str, a: (&str, &str), b: (&str, &str)) -> String {
        let mut args = FluentArgs::new();
        args.set(a.0.to_string(), FluentValue::from(a.1.to_string()));
        args.set(b.0.to_string(), FluentValue::from(b.1.to_string()));
        self.format(id, Some(&args))
    }

    /// Message `id` without arguments, if the language (or English) has it.
    pub fn optional(&self, id: &str) -> Option<String> {
        let has = |i: usize| self.catalog.locales[i].1.has_message(id);
        (has(self.chosen) || has(0)).then(|| self.t(id))
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> String {
        let chosen = &self.catalog.locales[self.chosen].1;
        let english = &self.catalog.locales[0].1;
        for bundle in [chosen, english] {
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, args, &mut errors);
                if errors.is_empty() {
                    return text.into_owned();
                }
                tracing::warn!(id, ?errors, "page message did not format");
            }
        }
        // A missing message is a bug in a template; show its id rather than
        // nothing, so it is seen.
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A locales folder with a German catalog of `text`.
    fn german(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(dir.path().join("de").join(CATALOG_FILE), text).unwrap();
        dir
    }

    #[test]
    fn english_is_the_default_and_messages_take_arguments() {
        let catalog = Catalog::english();
        let m = catalog.for_request(None);
        assert_eq!(m.language(), "en");
        assert_eq!(m.t("filter-revoked"), "Revoked");
        assert_eq!(m.t1("edit-title", "name", "Bob"), "Edit Bob");
        assert_eq!(m.t("no-such-message"), "no-such-message");
    }

    #[test]
    fn a_second_locale_needs_only_a_file_and_falls_back_to_english() {
        let dir = german("filter-revoked = Gesperrt\nedit-title = { $name } bearbeiten\n");
        let catalog = Catalog::load(Some(dir.path())).unwrap();
        assert_eq!(catalog.languages(), ["en", "de"]);
        let de = catalog.for_request(Some("fr;q=0.9, de-AT, en;q=0.5"));
        assert_eq!(de.language(), "de");
        assert_eq!(de.t("filter-revoked"), "Gesperrt");
        assert_eq!(de.t1("edit-title", "name", "Bob"), "Bob bearbeiten");
        assert_eq!(de.t("filter-active"), "Active", "falls back to English");
        assert_eq!(catalog.for_request(Some("fr")).language(), "en");
    }

    #[test]
    fn a_broken_catalog_is_refused_with_its_path() {
        let dir = german("filter-revoked = {\n");
        let err = Catalog::load(Some(dir.path())).err().unwrap().to_string();
        assert!(
            err.contains("de/page.ftl") && err.contains("does not parse"),
            "{err}"
        );
    }
}
