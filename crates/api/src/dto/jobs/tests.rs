use chrono::{TimeZone, Utc};
use triage_domain::{
    BlobKey, FileType, Job, JobId, JobStatus, ReportPayload, ReportSummary, UserId,
};

use super::*;

fn job() -> Job {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 15, 27, 11).unwrap()
        + chrono::Duration::microseconds(834_192);
    let id = JobId::random();
    Job {
        id,
        owner_id: UserId::random(),
        title: "study.zip".into(),
        description: None,
        status: JobStatus::Succeeded,
        status_reason: None,
        file_name: "исследование.zip".into(),
        file_size: 5_000_000_000,
        file_type: FileType::Zip,
        content_type: "application/zip".into(),
        sha256: "ab".repeat(32),
        upload_key: BlobKey::upload(id, ".zip"),
        report_key: Some(BlobKey::report(id)),
        results: Some(ReportPayload {
            parsed_at: at,
            summary: ReportSummary::of(&[], Some(0.25)),
            rows: vec![],
        }),
        results_parsed_at: Some(at),
        profile: "fast_debug".into(),
        threshold: 0.25,
        attempts: 1,
        created_at: at,
        updated_at: at,
        completed_at: Some(at),
        version: 3,
    }
}

#[test]
fn job_json_keeps_the_old_field_order_then_the_additions() {
    let text = serde_json::to_string(&JobResponse::from(job())).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "title",
            "description",
            "status",
            "file_name",
            "file_size",
            "owner_id",
            "created_at",
            "updated_at",
            "results_payload",
            "results_parsed_at",
            "file_type",
            "profile",
            "threshold",
            "attempts",
            "status_reason",
            "completed_at",
            "sha256",
        ]
    );
    assert_eq!(value["status"], "succeeded");
    assert_eq!(value["file_type"], "zip");
    assert_eq!(value["file_size"], 5_000_000_000_u64);
    assert_eq!(value["created_at"], "2026-11-26T15:27:11.834192Z");
    assert_eq!(value["results_payload"]["summary"]["threshold"], 0.25);
    assert!(
        !text.contains("version") && !text.contains("upload_key") && !text.contains("jobs/"),
        "{text}"
    );
}

#[test]
fn results_envelope_says_cached() {
    let job = job();
    let results = JobResults {
        job_id: job.id,
        parsed_at: job.created_at,
        results: job.results.clone().unwrap(),
    };
    let value = serde_json::to_value(ResultsResponse::from(results)).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["job_id", "parsed_at", "results", "source"]);
    assert_eq!(value["source"], "cached");
    assert_eq!(value["job_id"], job.id.to_string());
}

#[test]
fn list_queries_are_checked_by_name() {
    let query = JobListQuery {
        limit: Some("-1".into()),
        status: Some("pending".into()),
        ..Default::default()
    };
    let Err(triage_app::AppError::Validation(fields)) = query.check() else {
        panic!("accepted")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["limit", "status"]);

    let query = JobListQuery {
        status: Some("failed".into()),
        all: Some("true".into()),
        ..Default::default()
    };
    let list = query.check().unwrap();
    assert_eq!(
        (list.skip, list.limit, list.status, list.all),
        (0, 100, Some(JobStatus::Failed), true)
    );
}

#[test]
fn description_null_clears_it() {
    let body: UpdateJobRequest = serde_json::from_str(r#"{"description": null}"#).unwrap();
    assert_eq!(body.description, Some(None));
    assert_eq!(body.title, None);
}
