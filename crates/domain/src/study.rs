//! Studies: one per (owner, StudyInstanceUID), created from the inventory of every job that
//! carries it. Each such job is an analysis version of the study; the newest terminal one
//! (by the job's upload time) is the study's current result. The worklist orders studies by a
//! single sort key ([`priority_key`]) so that a store can serve it from one index.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{JobId, UserId};
use crate::job::{Job, JobStatus};
use crate::report::ReportRow;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(DomainError::invalid($field, format!("unknown value '{s}'"))),
                }
            }
        }
    };
}

text_enum!(
    /// How a study reached triage.
    StudySource, "source" { Upload => "upload", Dicom => "dicom", Dicomweb => "dicomweb" }
);

text_enum!(
    /// Where a study's (current) analysis stands.
    AnalysisStatus, "status" { Pending => "pending", Analysed => "analysed", Failed => "failed" }
);

text_enum!(
    /// A reviewer's verdict: ground truth for later evaluation.
    ReviewLabel, "label" { Normal => "normal", Pathology => "pathology" }
);

/// The result of one analysis of one study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyResult {
    pub status: AnalysisStatus,
    /// Max over the study's series.
    pub probability_of_pathology: Option<f64>,
    /// `probability_of_pathology >= threshold` of the job that analysed it.
    pub pathology: Option<bool>,
    /// The type reported by the series with the highest probability that names one.
    pub most_dangerous_pathology_type: Option<String>,
    pub failure_reason: Option<String>,
}

impl StudyResult {
    pub fn pending() -> Self {
        Self {
            status: AnalysisStatus::Pending,
            probability_of_pathology: None,
            pathology: None,
            most_dangerous_pathology_type: None,
            failure_reason: None,
        }
    }
}

/// One job's analysis of one study (an analysis version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyAnalysis {
    pub job_id: JobId,
    /// When the job's upload was received: "newest" means the latest of these.
    pub received_at: DateTime<Utc>,
    pub threshold: f64,
    pub result: StudyResult,
    /// The job's report rows of this study, one per series.
    pub series: Vec<ReportRow>,
    /// When the job became terminal; `None` while it is not.
    pub completed_at: Option<DateTime<Utc>>,
}

/// A reviewer's verdict on a study. Replaceable; every review is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub label: ReviewLabel,
    pub agrees_with_ai: Option<bool>,
    pub note: Option<String>,
    pub reviewer_id: UserId,
    pub reviewer: String,
    pub reviewed_at: DateTime<Utc>,
}

/// A stored study with its current result and latest review.
#[derive(Debug, Clone, PartialEq)]
pub struct Study {
    /// The store's opaque id (the worklist's tie-breaker).
    pub id: String,
    pub owner_id: UserId,
    pub study_uid: String,
    pub source: StudySource,
    pub first_received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
    pub modalities: Vec<String>,
    pub body_part: Option<String>,
    pub series_count: u64,
    pub instance_count: u64,
    /// The current result (pending while no analysis is terminal).
    pub result: StudyResult,
    /// The job of the current analysis (of the newest one while none is terminal).
    pub job_id: Option<JobId>,
    pub review: Option<Review>,
    /// The worklist position; see [`priority_key`].
    pub sort_key: String,
}

/// A study with everything the detail view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyDetail {
    pub study: Study,
    /// Newest first.
    pub analyses: Vec<StudyAnalysis>,
    /// Newest first; the first is `study.review`.
    pub reviews: Vec<Review>,
}

/// The worklist's rank of a study: lower is read first.
pub fn priority_rank(result: &StudyResult, reviewed: bool) -> u8 {
    if reviewed {
        return 4;
    }
    match (result.status, result.pathology) {
        (AnalysisStatus::Analysed, Some(true)) => 0,
        (AnalysisStatus::Failed, _) => 1,
        (AnalysisStatus::Analysed, _) => 2,
        (AnalysisStatus::Pending, _) => 3,
    }
}

/// The worklist sort key, ascending = most urgent first: the rank, then the probability
/// descending (as `1 - p` in nine fixed digits; no probability sorts last in its rank).
/// Stores order by `(sort_key, study id)` so one index serves the worklist and its cursors.
pub fn priority_key(result: &StudyResult, reviewed: bool) -> String {
    let rank = priority_rank(result, reviewed);
    let inverse = match result.probability_of_pathology {
        Some(p) if p.is_finite() => ((1.0 - p.clamp(0.0, 1.0)) * 1e9).round() as u64,
        _ => 1_000_000_000,
    };
    format!("{rank}{inverse:010}")
}

/// The result of `job` (terminal) for the study `study_uid`, from its report rows.
pub fn result_of_job(job: &Job, study_uid: &str) -> (StudyResult, Vec<ReportRow>) {
    let rows: Vec<ReportRow> = job
        .results
        .as_ref()
        .map(|payload| {
            payload
                .rows
                .iter()
                .filter(|row| row.study_uid.as_deref() == Some(study_uid))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let failed = |reason: String| StudyResult {
        status: AnalysisStatus::Failed,
        failure_reason: Some(reason),
        ..StudyResult::pending()
    };
    match job.status {
        JobStatus::Succeeded => {}
        JobStatus::Failed | JobStatus::Cancelled => {
            let reason = job
                .status_reason
                .clone()
                .unwrap_or_else(|| format!("the job {}", job.status));
            return (failed(format!("{}: {reason}", job.status)), rows);
        }
        JobStatus::Queued | JobStatus::Processing => return (StudyResult::pending(), rows),
    }
    let best = rows
        .iter()
        .filter(|row| row.probability_of_pathology.is_some_and(f64::is_finite))
        .max_by(|a, b| {
            a.probability_of_pathology
                .partial_cmp(&b.probability_of_pathology)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    let Some(best) = best else {
        let reason = rows
            .iter()
            .find_map(|row| row.error.clone())
            .unwrap_or_else(|| "no series of this study was analysed".to_owned());
        return (failed(reason), rows);
    };
    let probability = best.probability_of_pathology;
    let most_dangerous = rows
        .iter()
        .filter(|row| row.most_dangerous_pathology_type.is_some())
        .max_by(|a, b| {
            a.probability_of_pathology
                .partial_cmp(&b.probability_of_pathology)
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .and_then(|row| row.most_dangerous_pathology_type.clone());
    let result = StudyResult {
        status: AnalysisStatus::Analysed,
        probability_of_pathology: probability,
        pathology: probability.map(|p| p >= job.threshold),
        most_dangerous_pathology_type: most_dangerous,
        failure_reason: None,
    };
    (result, rows)
}

/// Which studies the worklist shows; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudyFilter {
    /// `None`: everyone's (administrators).
    pub owner: Option<UserId>,
    pub status: Option<AnalysisStatus>,
    pub pathology: Option<bool>,
    pub reviewed: Option<bool>,
    /// Exact `most_dangerous_pathology_type`.
    pub finding: Option<String>,
    pub received_from: Option<DateTime<Utc>>,
    pub received_to: Option<DateTime<Utc>>,
    pub source: Option<StudySource>,
    /// Study UID prefix.
    pub uid_prefix: Option<String>,
}

/// A position in the worklist: the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyCursor {
    pub sort_key: String,
    pub id: String,
}

/// One page of studies and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyPage {
    pub items: Vec<Study>,
    pub next: Option<StudyCursor>,
}

/// A review to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview {
    pub label: ReviewLabel,
    pub agrees_with_ai: Option<bool>,
    pub note: Option<String>,
    pub reviewer_id: UserId,
    pub reviewer: String,
    pub reviewed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysed(p: f64, pathology: bool) -> StudyResult {
        StudyResult {
            status: AnalysisStatus::Analysed,
            probability_of_pathology: Some(p),
            pathology: Some(pathology),
            ..StudyResult::pending()
        }
    }

    #[test]
    fn sort_keys_follow_the_worklist_order() {
        let failed = StudyResult {
            status: AnalysisStatus::Failed,
            ..StudyResult::pending()
        };
        let ordered = [
            priority_key(&analysed(0.9, true), false),
            priority_key(&analysed(0.5, true), false),
            priority_key(&failed, false),
            priority_key(&analysed(0.2, false), false),
            priority_key(&analysed(0.1, false), false),
            priority_key(&StudyResult::pending(), false),
            priority_key(&analysed(0.99, true), true),
        ];
        let mut sorted = ordered.clone();
        sorted.sort();
        assert_eq!(sorted, ordered);
    }

    #[test]
    fn enums_round_trip_through_text() {
        for s in StudySource::ALL {
            assert_eq!(s.as_str().parse::<StudySource>().unwrap(), *s);
        }
        assert!("pacs".parse::<StudySource>().is_err());
    }
}
