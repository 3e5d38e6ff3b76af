//! Request and response bodies: the JSON shapes of api.md, with their OpenAPI schemas.
//! Domain types never go on the wire directly; each has a DTO here that fixes field names and
//! order.

pub(crate) mod auth;
pub(crate) mod evaluations;
pub(crate) mod files;
pub(crate) mod internal;
pub(crate) mod inventory;
pub(crate) mod jobs;
pub(crate) mod report;
pub(crate) mod studies;
pub(crate) mod system;
pub(crate) mod users;

use serde::{Deserialize, Deserializer};
use triage_app::{AppError, FieldError};

/// For `Option<Option<T>>` fields with `#[serde(default)]`: absent → `None`, `null` →
/// `Some(None)` (clear the field), a value → `Some(Some(v))`.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The largest `skip` (and `offset`) a list accepts: far beyond any real page, small enough
/// for every database's `OFFSET`. The document states it, and the server enforces it.
pub(crate) const MAX_SKIP: u64 = 1_000_000_000;

/// Query parameters arrive as text and are checked here, so that every bad one is reported
/// by name (serde's query errors name none).
#[derive(Default)]
pub(crate) struct QueryChecks(Vec<FieldError>);

impl QueryChecks {
    /// A whole number within `min..=max`, or `default` when absent or empty.
    pub(crate) fn number(
        &mut self,
        field: &str,
        raw: Option<&str>,
        default: u64,
        min: u64,
        max: u64,
    ) -> u64 {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return default;
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                let message = if max == u64::MAX {
                    format!("must be a whole number of at least {min}")
                } else {
                    format!("must be a whole number from {min} to {max}")
                };
                self.fail(field, message);
                default
            }
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), or `false` when absent.
    pub(crate) fn flag(&mut self, field: &str, raw: Option<&str>) -> bool {
        match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(_) => {
                self.fail(field, "must be true or false".into());
                false
            }
        }
    }

    pub(crate) fn fail(&mut self, field: &str, message: String) {
        self.0.push(FieldError {
            field: field.into(),
            message,
        });
    }

    pub(crate) fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked_by_name() {
        let mut checks = QueryChecks::default();
        assert_eq!(checks.number("skip", None, 0, 0, u64::MAX), 0);
        assert_eq!(checks.number("limit", Some("20"), 100, 1, 500), 20);
        checks.number("limit", Some("-1"), 100, 1, 500);
        checks.number("skip", Some("abc"), 0, 0, u64::MAX);
        checks.number("limit", Some("501"), 100, 1, 500);
        let Err(AppError::Validation(fields)) = checks.finish() else {
            panic!("accepted")
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["limit", "skip", "limit"]);
    }

    #[test]
    fn flags() {
        let mut checks = QueryChecks::default();
        assert!(checks.flag("all", Some("true")));
        assert!(!checks.flag("all", None));
        assert!(checks.finish().is_ok());
        let mut checks = QueryChecks::default();
        checks.flag("all", Some("maybe"));
        assert!(checks.finish().is_err());
    }
}
