//! Identifiers: public UUIDs for users and jobs, and validated object-store keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random (v4) id: unguessable, so it can serve as a capability.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| DomainError::invalid(stringify!($name), "not a UUID"))
            }
        }
    };
}

uuid_id!(
    /// The public id of a user (JWT `sub`).
    UserId
);
uuid_id!(
    /// The public id of a job.
    JobId
);
uuid_id!(
    /// The public id of an evaluation against ground truth.
    EvaluationId
);

/// A key in the object store: 1–1024 bytes of UTF-8, `/`-separated, relative, without empty,
/// `.` or `..` components, backslashes or control characters. Any adapter can map it to a path
/// or an S3 key without escaping anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobKey(String);

impl BlobKey {
    /// Validates `key`.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming the rule that `key` breaks.
    pub fn parse(key: impl Into<String>) -> Result<Self, DomainError> {
        let key = key.into();
        let bad = |reason: &str| Err(DomainError::invalid("key", reason));
        if key.is_empty() || key.len() > 1024 {
            return bad("must be 1-1024 bytes");
        }
        if key.chars().any(|c| c.is_control() || c == '\\') {
            return bad("must not contain control characters or backslashes");
        }
        if key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return bad("must be a relative path without empty, '.' or '..' parts");
        }
        Ok(Self(key))
    }

    /// The key of a job's upload.
    pub fn upload(job: JobId, extension: &str) -> Self {
        Self(format!("jobs/{job}{extension}"))
    }

    /// The key proposed to the ML service for a job's report.
    pub fn report(job: JobId) -> Self {
        Self(format!("results/{job}.xlsx"))
    }

    /// Whether this key lies in the area a job's dispatch gave it for its report: the
    /// proposed key itself, `{prefix}{job}.{extension}`, or anything under `{prefix}{job}/`.
    /// Nothing else may become a job's report, so no job can adopt (and, deleted, delete)
    /// another job's object.
    pub fn is_report_area_of(&self, job: JobId, prefix: &str) -> bool {
        if *self == Self::report(job) {
            return true;
        }
        let own = format!("{job}");
        let Some(rest) = self
            .0
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(own.as_str()))
        else {
            return false;
        };
        if let Some(under) = rest.strip_prefix('/') {
            !under.is_empty()
        } else if let Some(extension) = rest.strip_prefix('.') {
            !extension.is_empty() && !extension.contains('/')
        } else {
            false
        }
    }

    /// The prefix of a job's per-series artefacts (key images, masks): `results/<job>/`.
    pub fn artefacts_prefix(job: JobId) -> String {
        format!("results/{job}/")
    }

    /// The key of one artefact of one series of a job:
    /// `results/<job>/series/<series uid>/<name>`.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] when the UID or name would not make a valid single key part.
    pub fn series_artefact(job: JobId, series_uid: &str, name: &str) -> Result<Self, DomainError> {
        if [series_uid, name].iter().any(|part| part.contains('/')) {
            return Err(DomainError::invalid(
                "key",
                "a series UID or name holds a '/'",
            ));
        }
        Self::parse(format!(
            "{}series/{series_uid}/{name}",
            Self::artefacts_prefix(job)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last `/`-separated part.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BlobKey {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<BlobKey> for String {
    fn from(key: BlobKey) -> Self {
        key.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_artefact_keys_stay_under_the_jobs_results() {
        let job = JobId(uuid::Uuid::nil());
        let key = BlobKey::series_artefact(job, "1.2.3", "axial-0001.png").unwrap();
        assert_eq!(
            key.as_str(),
            "results/00000000-0000-0000-0000-000000000000/series/1.2.3/axial-0001.png"
        );
        assert!(key.as_str().starts_with(&BlobKey::artefacts_prefix(job)));
        for (uid, name) in [
            ("..", "a.png"),
            ("1.2", "../x"),
            ("1/2", "a.png"),
            ("1.2", ""),
        ] {
            assert!(
                BlobKey::series_artefact(job, uid, name).is_err(),
                "{uid} {name}"
            );
        }
    }

    #[test]
    fn keys_that_could_escape_a_root_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "a//b",
            "a/./b",
            "a\\b",
            "a/b/",
            "a\u{0}b",
        ] {
            assert!(BlobKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["jobs/x.zip", "files/u/исследование 1.zip", "a..b.dcm"] {
            assert!(BlobKey::parse(good).is_ok(), "{good:?} was refused");
        }
    }

    #[test]
    fn a_jobs_report_area_is_its_own_key_or_prefix_only() {
        let job: JobId = "8b0c0000-0000-4000-8000-000000000001".parse().unwrap();
        let other = JobId::random();
        let key = |k: String| BlobKey::parse(k).unwrap();
        for own in [
            format!("results/{job}.xlsx"),
            format!("results/{job}.csv"),
            format!("results/{job}/report.xlsx"),
            format!("results/{job}/a/b.xlsx"),
        ] {
            assert!(key(own.clone()).is_report_area_of(job, "results/"), "{own}");
        }
        for foreign in [
            format!("results/{other}.xlsx"),
            format!("results/{job}x.xlsx"),
            format!("results/{job}"),
            format!("results/{job}.x/y"),
            format!("jobs/{job}.zip"),
            format!("other/results/{job}.xlsx"),
            "results/shared.xlsx".to_owned(),
        ] {
            assert!(
                !key(foreign.clone()).is_report_area_of(job, "results/"),
                "{foreign}"
            );
        }
        assert!(key(format!("out/{job}/r.xlsx")).is_report_area_of(job, "out/"));
    }

    #[test]
    fn ids_print_canonical_lowercase_uuids() {
        let id: JobId = "8B0C0000-0000-4000-8000-000000000001".parse().unwrap();
        assert_eq!(id.to_string(), "8b0c0000-0000-4000-8000-000000000001");
        assert!("not-a-uuid".parse::<JobId>().is_err());
    }
}
