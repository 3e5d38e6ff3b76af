//! Study JSON (worklist items, the detail view, reviews), the worklist query, the review
//! body, and audit entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use triage_app::{AppError, MAX_STUDY_PAGE, ReviewForm, StudyQuery, check_uid};
use triage_domain::{
    AnalysisStatus, AuditEntry, AuditFilter, Review, ReviewLabel, Study, StudyAnalysis,
    StudyDetail, StudyFilter, StudySource, UserId,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::QueryChecks;

/// A reviewer's verdict.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Review)]
pub(crate) struct ReviewResponse {
    /// `normal` or `pathology`.
    pub label: String,
    pub agrees_with_ai: Option<bool>,
    pub note: Option<String>,
    /// The reviewer's username.
    pub reviewer: String,
    pub reviewer_id: Uuid,
    pub reviewed_at: DateTime<Utc>,
}

impl From<Review> for ReviewResponse {
    fn from(r: Review) -> Self {
        Self {
            label: r.label.as_str().to_owned(),
            agrees_with_ai: r.agrees_with_ai,
            note: r.note,
            reviewer: r.reviewer,
            reviewer_id: r.reviewer_id.0,
            reviewed_at: r.reviewed_at,
        }
    }
}

/// One study in the worklist: its current result (the newest finished analysis) and review.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Study)]
pub(crate) struct StudyResponse {
    pub study_uid: String,
    pub owner_id: Uuid,
    /// `pending` (no analysis finished yet), `analysed` or `failed`.
    pub status: String,
    /// Max over the study's series.
    pub probability_of_pathology: Option<f64>,
    /// Probability at or above the analysing job's threshold.
    pub pathology: Option<bool>,
    pub most_dangerous_pathology_type: Option<String>,
    pub failure_reason: Option<String>,
    pub series_count: u64,
    pub instance_count: u64,
    pub modalities: Vec<String>,
    pub body_part: Option<String>,
    /// `upload`, `dicom` or `dicomweb`.
    pub source: String,
    /// When the study was last received.
    pub received_at: DateTime<Utc>,
    pub first_received_at: DateTime<Utc>,
    /// The job of the current analysis.
    pub job_id: Option<Uuid>,
    pub reviewed: bool,
    pub review: Option<ReviewResponse>,
}

impl From<Study> for StudyResponse {
    fn from(s: Study) -> Self {
        Self {
            study_uid: s.study_uid,
            owner_id: s.owner_id.0,
            status: s.result.status.as_str().to_owned(),
            probability_of_pathology: s.result.probability_of_pathology,
            pathology: s.result.pathology,
            most_dangerous_pathology_type: s.result.most_dangerous_pathology_type,
            failure_reason: s.result.failure_reason,
            series_count: s.series_count,
            instance_count: s.instance_count,
            modalities: s.modalities,
            body_part: s.body_part,
            source: s.source.as_str().to_owned(),
            received_at: s.last_received_at,
            first_received_at: s.first_received_at,
            job_id: s.job_id.map(|id| id.0),
            reviewed: s.review.is_some(),
            review: s.review.map(ReviewResponse::from),
        }
    }
}

/// One worklist page.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StudyList)]
pub(crate) struct StudyListResponse {
    pub items: Vec<StudyResponse>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// One analysis version: a job that analysed the study.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StudyAnalysis)]
pub(crate) struct AnalysisResponse {
    pub job_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub threshold: f64,
    pub status: String,
    pub probability_of_pathology: Option<f64>,
    pub pathology: Option<bool>,
    pub most_dangerous_pathology_type: Option<String>,
    pub failure_reason: Option<String>,
    /// The job's report rows of this study (report.md), one per series.
    #[schema(value_type = Vec<Object>)]
    pub series: Vec<Value>,
}

impl From<StudyAnalysis> for AnalysisResponse {
    fn from(a: StudyAnalysis) -> Self {
        Self {
            job_id: a.job_id.0,
            received_at: a.received_at,
            completed_at: a.completed_at,
            threshold: a.threshold,
            status: a.result.status.as_str().to_owned(),
            probability_of_pathology: a.result.probability_of_pathology,
            pathology: a.result.pathology,
            most_dangerous_pathology_type: a.result.most_dangerous_pathology_type,
            failure_reason: a.result.failure_reason,
            series: a
                .series
                .iter()
                .map(|row| serde_json::to_value(row).unwrap_or(Value::Null))
                .collect(),
        }
    }
}

/// A study with the series rows of its current analysis, every analysis (newest first) and
/// every review (newest first).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StudyDetail)]
pub(crate) struct StudyDetailResponse {
    #[serde(flatten)]
    pub study: StudyResponse,
    #[schema(value_type = Vec<Object>)]
    pub series: Vec<Value>,
    pub analyses: Vec<AnalysisResponse>,
    pub reviews: Vec<ReviewResponse>,
}

impl From<StudyDetail> for StudyDetailResponse {
    fn from(d: StudyDetail) -> Self {
        let current = d.study.job_id;
        let analyses: Vec<AnalysisResponse> =
            d.analyses.into_iter().map(AnalysisResponse::from).collect();
        let series = analyses
            .iter()
            .find(|a| Some(a.job_id) == current.map(|id| id.0))
            .map(|a| a.series.clone())
            .unwrap_or_default();
        Self {
            study: d.study.into(),
            series,
            analyses,
            reviews: d.reviews.into_iter().map(ReviewResponse::from).collect(),
        }
    }
}

/// Worklist filters and paging; every filter narrows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StudyListQuery {
    /// `pending`, `analysed` or `failed`.
    pub status: Option<String>,
    /// `true` or `false`.
    #[param(value_type = Option<bool>)]
    pub pathology: Option<String>,
    /// `true` or `false`.
    #[param(value_type = Option<bool>)]
    pub reviewed: Option<String>,
    /// Exact `most_dangerous_pathology_type`.
    pub finding: Option<String>,
    /// RFC 3339; studies last received at or after.
    pub received_from: Option<String>,
    /// RFC 3339; studies last received at or before.
    pub received_to: Option<String>,
    /// `upload`, `dicom` or `dicomweb`.
    pub source: Option<String>,
    /// A StudyInstanceUID prefix (digits and dots).
    pub q: Option<String>,
    /// Administrators: one owner's studies (default: everyone's).
    pub owner: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

fn present(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_with<T>(
    checks: &mut QueryChecks,
    field: &str,
    raw: &Option<String>,
    message: &str,
) -> Option<T>
where
    T: std::str::FromStr,
{
    let raw = present(raw)?;
    match raw.parse::<T>() {
        Ok(value) => Some(value),
        Err(_) => {
            checks.fail(field, message.to_owned());
            None
        }
    }
}

fn flag(checks: &mut QueryChecks, field: &str, raw: &Option<String>) -> Option<bool> {
    parse_with(checks, field, raw, "must be true or false")
}

fn time(checks: &mut QueryChecks, field: &str, raw: &Option<String>) -> Option<DateTime<Utc>> {
    parse_with::<DateTime<chrono::FixedOffset>>(checks, field, raw, "must be an RFC 3339 time")
        .map(|t| t.with_timezone(&Utc))
}

fn owner(checks: &mut QueryChecks, raw: &Option<String>) -> Option<UserId> {
    parse_with::<Uuid>(checks, "owner", raw, "must be a user id").map(UserId)
}

impl StudyListQuery {
    pub(crate) fn check(&self) -> Result<StudyQuery, AppError> {
        let mut checks = QueryChecks::default();
        let limit = checks.number(
            "limit",
            self.limit.as_deref(),
            100,
            1,
            u64::from(MAX_STUDY_PAGE),
        );
        let status = parse_with::<AnalysisStatus>(
            &mut checks,
            "status",
            &self.status,
            "must be one of: pending, analysed, failed",
        );
        let source = parse_with::<StudySource>(
            &mut checks,
            "source",
            &self.source,
            "must be one of: upload, dicom, dicomweb",
        );
        let uid_prefix = present(&self.q).map(str::to_owned);
        if let Some(prefix) = &uid_prefix
            && check_uid(prefix, "q", true).is_err()
        {
            checks.fail("q", "must be digits and dots, at most 64".to_owned());
        }
        let filter = StudyFilter {
            owner: None,
            status,
            pathology: flag(&mut checks, "pathology", &self.pathology),
            reviewed: flag(&mut checks, "reviewed", &self.reviewed),
            finding: present(&self.finding).map(str::to_owned),
            received_from: time(&mut checks, "received_from", &self.received_from),
            received_to: time(&mut checks, "received_to", &self.received_to),
            source,
            uid_prefix,
        };
        let owner = owner(&mut checks, &self.owner);
        checks.finish()?;
        Ok(StudyQuery {
            filter,
            owner,
            cursor: present(&self.cursor).map(str::to_owned),
            limit: u32::try_from(limit).unwrap_or(MAX_STUDY_PAGE),
        })
    }
}

/// `?owner=` on a single study (administrators).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StudyOwnerQuery {
    /// Administrators: whose study (default: the most recently received with this UID).
    pub owner: Option<String>,
}

impl StudyOwnerQuery {
    pub(crate) fn check(&self) -> Result<Option<UserId>, AppError> {
        let mut checks = QueryChecks::default();
        let owner = owner(&mut checks, &self.owner);
        checks.finish()?;
        Ok(owner)
    }
}

/// POST /studies/{study_uid}/review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewRequest)]
pub(crate) struct ReviewRequest {
    /// `normal` or `pathology`.
    pub label: String,
    pub agrees_with_ai: Option<bool>,
    pub note: Option<String>,
}

impl ReviewRequest {
    pub(crate) fn check(self) -> Result<ReviewForm, AppError> {
        let label = self
            .label
            .parse::<ReviewLabel>()
            .map_err(|_| AppError::field("label", "must be normal or pathology"))?;
        Ok(ReviewForm {
            label,
            agrees_with_ai: self.agrees_with_ai,
            note: self.note,
        })
    }
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEntry)]
pub(crate) struct AuditEntryResponse {
    pub id: String,
    pub user_id: Uuid,
    pub username: String,
    /// The user has been deleted since.
    pub user_deleted: bool,
    /// `study.detail`, `study.review`, `job.results`, `job.report`, `job.file`, …
    pub action: String,
    pub study_uid: Option<String>,
    pub job_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            user_id: e.user_id.0,
            username: e.username,
            user_deleted: e.user_deleted,
            action: e.action,
            study_uid: e.study_uid,
            job_id: e.job_id.map(|id| id.0),
            at: e.at,
            client_addr: e.client_addr,
            request_id: e.request_id,
        }
    }
}

/// One page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditList)]
pub(crate) struct AuditListResponse {
    pub items: Vec<AuditEntryResponse>,
    pub next_cursor: Option<String>,
}

/// Audit filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// A user id.
    pub user: Option<String>,
    /// A StudyInstanceUID.
    pub study: Option<String>,
    /// A job id.
    pub job: Option<String>,
    pub action: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// The audit cursor: the last entry's time (RFC 3339, microseconds) and id, hex-encoded.
pub(crate) fn audit_cursor(entry: &AuditEntryResponse) -> String {
    let text = format!(
        "{}\n{}",
        entry
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        entry.id
    );
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_audit_cursor(text: &str) -> Option<(DateTime<Utc>, String)> {
    if !text.len().is_multiple_of(2) || text.len() > 256 {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, id) = text.split_once('\n')?;
    let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    Uuid::parse_str(id).ok()?;
    Some((at, id.to_owned()))
}

impl AuditQuery {
    pub(crate) fn check(&self) -> Result<AuditFilter, AppError> {
        let mut checks = QueryChecks::default();
        let limit = checks.number(
            "limit",
            self.limit.as_deref(),
            100,
            1,
            u64::from(MAX_STUDY_PAGE),
        );
        let user =
            parse_with::<Uuid>(&mut checks, "user", &self.user, "must be a user id").map(UserId);
        let job = parse_with::<Uuid>(&mut checks, "job", &self.job, "must be a job id")
            .map(triage_domain::JobId);
        let before = present(&self.cursor).and_then(|c| {
            let decoded = decode_audit_cursor(c);
            if decoded.is_none() {
                checks.fail("cursor", "is not a cursor this server gave out".to_owned());
            }
            decoded
        });
        let filter = AuditFilter {
            user,
            study_uid: present(&self.study).map(str::to_owned),
            job,
            action: present(&self.action).map(str::to_owned),
            since: time(&mut checks, "since", &self.since),
            until: time(&mut checks, "until", &self.until),
            before,
            limit: u32::try_from(limit).unwrap_or(MAX_STUDY_PAGE),
        };
        checks.finish()?;
        Ok(filter)
    }
}
