//! Rows of the study tables and their conversions. Field order equals column order in
//! `schema.rs`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{AsChangeset, Insertable, Queryable, Selectable};
use triage_domain::{
    AnalysisStatus, AuditEntry, JobId, NewAuditEntry, NewReview, ReportRow, Review, Study,
    StudyAnalysis, StudyResult, UserId, priority_key,
};

use crate::error::StoreError;
use crate::models::{from_db_time, parse_uuid, to_db_time};
use crate::schema::{audit_entries, studies, study_analyses, study_reviews};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn count(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what, &value.to_string()))
}

pub(crate) fn to_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(format!("{what}: {err}")))
}

fn from_json<T: serde::de::DeserializeOwned>(body: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|err| StoreError::Corrupt(format!("{what}: {err}")))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = studies, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct StudyRow {
    pub id: String,
    pub owner_id: String,
    pub study_uid: String,
    pub source: String,
    pub first_received_at: NaiveDateTime,
    pub last_received_at: NaiveDateTime,
    pub modalities: String,
    pub body_part: Option<String>,
    pub series_count: i64,
    pub instance_count: i64,
    pub status: String,
    pub probability: Option<f64>,
    pub pathology: Option<bool>,
    pub finding: Option<String>,
    pub failure_reason: Option<String>,
    pub job_id: Option<String>,
    pub review_label: Option<String>,
    pub review_agrees: Option<bool>,
    pub review_note: Option<String>,
    pub reviewer_id: Option<String>,
    pub reviewer_name: Option<String>,
    pub reviewed_at: Option<NaiveDateTime>,
    pub sort_key: String,
}

/// The current result of a study, as written by a fan-out.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = studies, treat_none_as_null = true)]
pub(crate) struct CurrentChangeset {
    pub status: String,
    pub probability: Option<f64>,
    pub pathology: Option<bool>,
    pub finding: Option<String>,
    pub failure_reason: Option<String>,
    pub job_id: Option<String>,
    pub sort_key: String,
}

impl CurrentChangeset {
    pub fn new(result: &StudyResult, job: Option<String>, reviewed: bool) -> Self {
        Self {
            status: result.status.as_str().to_owned(),
            probability: result.probability_of_pathology,
            pathology: result.pathology,
            finding: result.most_dangerous_pathology_type.clone(),
            failure_reason: result.failure_reason.clone(),
            job_id: job,
            sort_key: priority_key(result, reviewed),
        }
    }
}

/// The current review of a study, with its new worklist position.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = studies, treat_none_as_null = true)]
pub(crate) struct ReviewChangeset {
    pub review_label: Option<String>,
    pub review_agrees: Option<bool>,
    pub review_note: Option<String>,
    pub reviewer_id: Option<String>,
    pub reviewer_name: Option<String>,
    pub reviewed_at: Option<NaiveDateTime>,
    pub sort_key: String,
}

fn result_of(
    status: &str,
    probability: Option<f64>,
    pathology: Option<bool>,
    finding: Option<String>,
    failure_reason: Option<String>,
) -> Result<StudyResult, StoreError> {
    Ok(StudyResult {
        status: status
            .parse::<AnalysisStatus>()
            .map_err(|_| corrupt("analysis status", status))?,
        probability_of_pathology: probability,
        pathology,
        most_dangerous_pathology_type: finding,
        failure_reason,
    })
}

impl StudyRow {
    pub fn result(&self) -> Result<StudyResult, StoreError> {
        result_of(
            &self.status,
            self.probability,
            self.pathology,
            self.finding.clone(),
            self.failure_reason.clone(),
        )
    }

    pub fn into_domain(self) -> Result<Study, StoreError> {
        let result = self.result()?;
        let review = match (self.review_label, self.reviewer_id, self.reviewed_at) {
            (Some(label), Some(reviewer_id), Some(reviewed_at)) => Some(Review {
                label: label.parse().map_err(|_| corrupt("review label", &label))?,
                agrees_with_ai: self.review_agrees,
                note: self.review_note,
                reviewer_id: parse_uuid::<UserId>("reviewer id", &reviewer_id)?,
                reviewer: self.reviewer_name.unwrap_or_default(),
                reviewed_at: from_db_time(reviewed_at),
            }),
            _ => None,
        };
        Ok(Study {
            owner_id: parse_uuid::<UserId>("owner id", &self.owner_id)?,
            source: self
                .source
                .parse()
                .map_err(|_| corrupt("study source", &self.source))?,
            first_received_at: from_db_time(self.first_received_at),
            last_received_at: from_db_time(self.last_received_at),
            modalities: from_json(&self.modalities, "study modalities")?,
            body_part: self.body_part,
            series_count: count(self.series_count, "series count")?,
            instance_count: count(self.instance_count, "instance count")?,
            result,
            job_id: self
                .job_id
                .map(|id| parse_uuid::<JobId>("job id", &id))
                .transpose()?,
            review,
            id: self.id,
            study_uid: self.study_uid,
            sort_key: self.sort_key,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = study_analyses, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct AnalysisRow {
    pub study_id: String,
    pub job_id: String,
    pub received_at: NaiveDateTime,
    pub threshold: f64,
    pub status: String,
    pub probability: Option<f64>,
    pub pathology: Option<bool>,
    pub finding: Option<String>,
    pub failure_reason: Option<String>,
    pub series: String,
    pub completed_at: Option<NaiveDateTime>,
}

/// A job's outcome for one study.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = study_analyses, treat_none_as_null = true)]
pub(crate) struct AnalysisChangeset {
    pub status: String,
    pub probability: Option<f64>,
    pub pathology: Option<bool>,
    pub finding: Option<String>,
    pub failure_reason: Option<String>,
    pub series: String,
    pub completed_at: Option<NaiveDateTime>,
}

impl AnalysisChangeset {
    pub fn new(
        result: &StudyResult,
        series: &[ReportRow],
        completed_at: Option<DateTime<Utc>>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            status: result.status.as_str().to_owned(),
            probability: result.probability_of_pathology,
            pathology: result.pathology,
            finding: result.most_dangerous_pathology_type.clone(),
            failure_reason: result.failure_reason.clone(),
            series: to_json(&series, "report rows")?,
            completed_at: completed_at.map(to_db_time),
        })
    }
}

impl AnalysisRow {
    pub fn result(&self) -> Result<StudyResult, StoreError> {
        result_of(
            &self.status,
            self.probability,
            self.pathology,
            self.finding.clone(),
            self.failure_reason.clone(),
        )
    }

    pub fn into_domain(self) -> Result<StudyAnalysis, StoreError> {
        Ok(StudyAnalysis {
            result: self.result()?,
            job_id: parse_uuid::<JobId>("job id", &self.job_id)?,
            received_at: from_db_time(self.received_at),
            threshold: self.threshold,
            series: from_json(&self.series, "analysis series")?,
            completed_at: self.completed_at.map(from_db_time),
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = study_reviews, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ReviewRow {
    pub id: String,
    pub study_id: String,
    pub label: String,
    pub agrees_with_ai: Option<bool>,
    pub note: Option<String>,
    pub reviewer_id: String,
    pub reviewer_name: String,
    pub reviewed_at: NaiveDateTime,
}

impl ReviewRow {
    pub fn new(study_id: String, review: &NewReview) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            study_id,
            label: review.label.as_str().to_owned(),
            agrees_with_ai: review.agrees_with_ai,
            note: review.note.clone(),
            reviewer_id: review.reviewer_id.to_string(),
            reviewer_name: review.reviewer.clone(),
            reviewed_at: to_db_time(review.reviewed_at),
        }
    }

    pub fn into_domain(self) -> Result<Review, StoreError> {
        Ok(Review {
            label: self
                .label
                .parse()
                .map_err(|_| corrupt("review label", &self.label))?,
            agrees_with_ai: self.agrees_with_ai,
            note: self.note,
            reviewer_id: parse_uuid::<UserId>("reviewer id", &self.reviewer_id)?,
            reviewer: self.reviewer_name,
            reviewed_at: from_db_time(self.reviewed_at),
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_entries, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct AuditRow {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub action: String,
    pub study_uid: Option<String>,
    pub job_id: Option<String>,
    pub at: NaiveDateTime,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

impl AuditRow {
    pub fn new(entry: NewAuditEntry) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: entry.user_id.to_string(),
            username: entry.username,
            action: entry.action,
            study_uid: entry.study_uid,
            job_id: entry.job_id.map(|id| id.to_string()),
            at: to_db_time(entry.at),
            client_addr: entry.client_addr,
            request_id: entry.request_id,
        }
    }

    pub fn into_domain(self, user_exists: bool) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            user_id: parse_uuid::<UserId>("user id", &self.user_id)?,
            job_id: self
                .job_id
                .map(|id| parse_uuid::<JobId>("job id", &id))
                .transpose()?,
            user_deleted: !user_exists,
            id: self.id,
            username: self.username,
            action: self.action,
            study_uid: self.study_uid,
            at: from_db_time(self.at),
            client_addr: self.client_addr,
            request_id: self.request_id,
        })
    }
}
