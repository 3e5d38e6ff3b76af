//! Jobs with every field set: non-ASCII text, a size above 4 GiB, an f64 that shows any
//! rounding, an inventory and a report.

use chrono::{DateTime, Utc};
use serde_json::json;
use triage_domain::{
    ArchiveInventory, BlobKey, DicomSummary, FileType, Job, JobId, JobStatus, NewJob,
    ReportPayload, ReportRow, ReportSummary, SeriesSummary, StudySummary, UserId, ZipEntry,
    ZipSummary,
};

use crate::contract::users::at;

pub const GIB: u64 = 1 << 30;

/// A job with every field set, non-ASCII text, a size above 4 GiB and an inventory.
pub fn new_job(owner: UserId, created_at: DateTime<Utc>) -> NewJob {
    let id = JobId::random();
    NewJob {
        id,
        owner_id: owner,
        title: "КТ грудной клетки — исследование №1".to_owned(),
        description: Some("Контроль через 3 мес.\nsecond line, 'quotes' and \"double\"".to_owned()),
        file_name: "исследование 1.zip".to_owned(),
        file_size: 5 * GIB + 7,
        file_type: FileType::Zip,
        content_type: "application/zip".to_owned(),
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned(),
        upload_key: BlobKey::upload(id, FileType::Zip.extension()),
        profile: "chest-ct".to_owned(),
        // Not exactly representable: any rounding on the way shows.
        threshold: 0.1 + 0.2,
        inventory: Some(inventory()),
        created_at,
    }
}

/// What `create` must return for `new`.
pub fn expected_job(new: &NewJob) -> Job {
    Job {
        id: new.id,
        owner_id: new.owner_id,
        title: new.title.clone(),
        description: new.description.clone(),
        status: JobStatus::Queued,
        status_reason: None,
        file_name: new.file_name.clone(),
        file_size: new.file_size,
        file_type: new.file_type,
        content_type: new.content_type.clone(),
        sha256: new.sha256.clone(),
        upload_key: new.upload_key.clone(),
        report_key: None,
        results: None,
        results_parsed_at: None,
        profile: new.profile.clone(),
        threshold: new.threshold,
        attempts: 0,
        created_at: new.created_at,
        updated_at: new.created_at,
        completed_at: None,
        version: 1,
    }
}

pub fn inventory() -> ArchiveInventory {
    let entry = |name: &str, size: u64| ZipEntry {
        filename: name.to_owned(),
        size,
        compressed_size: size / 3,
        compression_ratio: 66.67,
        modified_time: Some("2024-05-06T07:08:09".to_owned()),
        is_encrypted: false,
        content_type: "application/dicom".to_owned(),
        is_dicom: true,
    };
    ArchiveInventory {
        file_type: FileType::Zip,
        zip: Some(ZipSummary {
            total_files: 2,
            total_size: 5 * GIB,
            total_compressed_size: 5 * GIB / 3,
            compression_ratio: 66.67,
            is_encrypted: false,
            comment: Some("архив «КТ»".to_owned()),
        }),
        entries: vec![
            entry("серия 1/снимок 001.dcm", 4 * GIB),
            entry("серия 1/снимок 002.dcm", GIB),
        ],
        dicom: DicomSummary {
            files: 2,
            studies: vec![StudySummary {
                study_uid: "1.2.840.113619.2.1".to_owned(),
                series: vec![SeriesSummary {
                    series_uid: "1.2.840.113619.2.1.1".to_owned(),
                    modality: Some("CT".to_owned()),
                    body_part: Some("ГРУДЬ".to_owned()),
                    slices: 2,
                }],
            }],
        },
    }
}

pub fn report() -> ReportPayload {
    let mut extra = serde_json::Map::new();
    extra.insert("Примечание".to_owned(), json!("правое лёгкое"));
    extra.insert("score".to_owned(), json!(3.25));
    let rows = vec![
        ReportRow {
            study_uid: Some("1.2.840.113619.2.1".to_owned()),
            series_uid: Some("1.2.840.113619.2.1.1".to_owned()),
            probability_of_pathology: Some(0.8734),
            pathology: Some(true),
            time_of_processing: Some("12.5".to_owned()),
            most_dangerous_pathology_type: Some("Пневмония".to_owned()),
            hazard_probability: Some(0.5),
            path_to_study: Some("серия 1".to_owned()),
            processing_status: Some("Success".to_owned()),
            extra,
            ..ReportRow::default()
        },
        ReportRow {
            processing_status: Some("Failure".to_owned()),
            error: Some("нет срезов".to_owned()),
            ..ReportRow::default()
        },
    ];
    ReportPayload {
        parsed_at: at(100),
        summary: ReportSummary::of(&rows, Some(0.5)),
        rows,
    }
}
