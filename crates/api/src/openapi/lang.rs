//! The document in Russian (the default: the system triage replaces spoke Russian) or English.
//! Every operation's summary and description, every tag and every error code has one text per
//! language, kept in one table per language (`lang/ru.json`, `lang/en.json`) rather than
//! scattered over the handlers. `?lang=ru|en` chooses, else `Accept-Language`, else Russian.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;

/// A language of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Ru,
    En,
}

impl Lang {
    pub(crate) const ALL: [Self; 2] = [Self::Ru, Self::En];

    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Ru => "ru",
            Self::En => "en",
        }
    }

    /// `?lang=` when given (`None` for an unknown one), else the first of Russian or English
    /// that `Accept-Language` names (by weight), else Russian.
    pub(crate) fn choose(query: Option<&str>, accept_language: Option<&str>) -> Option<Self> {
        if let Some(asked) = query.map(str::trim).filter(|q| !q.is_empty()) {
            return Self::ALL
                .into_iter()
                .find(|lang| asked.eq_ignore_ascii_case(lang.code()));
        }
        Some(accept_language.and_then(preferred).unwrap_or(Self::Ru))
    }

    pub(crate) fn texts(self) -> &'static Texts {
        match self {
            Self::Ru => &RU,
            Self::En => &EN,
        }
    }
}

/// The highest-weighted of Russian and English in an `Accept-Language` header.
fn preferred(header: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let primary = tag.split('-').next().unwrap_or_default();
        let Some(lang) = Lang::ALL
            .into_iter()
            .find(|lang| primary.eq_ignore_ascii_case(lang.code()))
        else {
            continue;
        };
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

/// One language's texts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Texts {
    pub info: String,
    pub error_codes_heading: String,
    pub tags: BTreeMap<String, String>,
    /// `"METHOD /path"` → `[summary, description]`.
    pub operations: BTreeMap<String, (String, String)>,
    pub error_codes: BTreeMap<String, String>,
}

#[expect(
    clippy::expect_used,
    reason = "compiled-in tables, checked by the tests"
)]
static RU: LazyLock<Texts> =
    LazyLock::new(|| serde_json::from_str(include_str!("lang/ru.json")).expect("lang/ru.json"));
#[expect(
    clippy::expect_used,
    reason = "compiled-in tables, checked by the tests"
)]
static EN: LazyLock<Texts> =
    LazyLock::new(|| serde_json::from_str(include_str!("lang/en.json")).expect("lang/en.json"));

/// Every operation of `doc` as `("METHOD /path", operation)`.
pub(crate) fn operations_mut(doc: &mut OpenApi) -> Vec<(String, &mut Operation)> {
    let mut all = Vec::new();
    for (path, item) in &mut doc.paths.paths {
        let methods = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ];
        for (method, operation) in methods {
            if let Some(operation) = operation {
                all.push((format!("{method} {path}"), operation));
            }
        }
    }
    all
}

/// `doc` with the texts of `lang`: the description (with the table of error codes), every
/// tag's description and every operation's summary and description.
pub(crate) fn localize(mut doc: OpenApi, lang: Lang) -> OpenApi {
    let texts = lang.texts();
    let mut codes = format!("{}\n\n| code | |\n|---|---|\n", texts.error_codes_heading);
    for (code, meaning) in &texts.error_codes {
        codes.push_str(&format!("| `{code}` | {meaning} |\n"));
    }
    doc.info.description = Some(format!("{}\n\n{codes}", texts.info));
    for tag in doc.tags.iter_mut().flatten() {
        if let Some(text) = texts.tags.get(&tag.name) {
            tag.description = Some(text.clone());
        }
    }
    for (key, operation) in operations_mut(&mut doc) {
        if let Some((summary, description)) = texts.operations.get(&key) {
            operation.summary = Some(summary.clone());
            operation.description = Some(description.clone());
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_is_the_query_then_accept_language_then_russian() {
        assert_eq!(Lang::choose(Some("en"), Some("ru")), Some(Lang::En));
        assert_eq!(Lang::choose(Some("RU"), Some("en")), Some(Lang::Ru));
        assert_eq!(Lang::choose(Some("de"), None), None);
        assert_eq!(Lang::choose(None, Some("en-GB,en;q=0.9")), Some(Lang::En));
        assert_eq!(
            Lang::choose(None, Some("de, en;q=0.5, ru;q=0.8")),
            Some(Lang::Ru)
        );
        assert_eq!(Lang::choose(None, Some("ru;q=0, en;q=0.1")), Some(Lang::En));
        assert_eq!(Lang::choose(None, Some("de, fr")), Some(Lang::Ru));
        assert_eq!(Lang::choose(None, None), Some(Lang::Ru));
    }
}
