//! zip-contents and zip-info: what the stored inventory of an upload says.

use serde::{Deserialize, Serialize};
use triage_domain::{
    ArchiveInventory, DicomSummary, Job, SeriesSummary, StudySummary, ZipEntry, ZipSummary,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::QueryChecks;

/// The largest page of zip-contents (an archive holds at most `uploads.max_entries`).
pub(crate) const MAX_ENTRY_PAGE: u64 = 20_000;

/// `?offset&limit` of zip-contents.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EntryPageQuery {
    /// Entries to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<String>,
    /// Page size, 1–20000 (default 1000).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 20000)]
    pub limit: Option<String>,
}

impl EntryPageQuery {
    /// `(offset, limit)`.
    pub(crate) fn check(&self) -> Result<(u64, u64), triage_app::AppError> {
        let mut checks = QueryChecks::default();
        let offset = checks.number("offset", self.offset.as_deref(), 0, 0, super::MAX_SKIP);
        let limit = checks.number("limit", self.limit.as_deref(), 1000, 1, MAX_ENTRY_PAGE);
        checks.finish()?;
        Ok((offset, limit))
    }
}

/// GET /jobs/{id}/zip-contents: one page of the archive's entries.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ZipContents)]
pub(crate) struct ZipContentsResponse {
    pub job_id: Uuid,
    pub zip_filename: String,
    /// Every entry of the archive, not only this page.
    pub total_files: u64,
    pub files: Vec<ZipEntryDto>,
}

impl ZipContentsResponse {
    pub(crate) fn page(job: &Job, inventory: ArchiveInventory, offset: u64, limit: u64) -> Self {
        let total_files = inventory.entries.len() as u64;
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        let files = inventory
            .entries
            .into_iter()
            .skip(skip)
            .take(take)
            .map(ZipEntryDto::from)
            .collect();
        Self {
            job_id: job.id.0,
            zip_filename: job.file_name.clone(),
            total_files,
            files,
        }
    }
}

/// One file inside the archive.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ZipEntry)]
pub(crate) struct ZipEntryDto {
    pub filename: String,
    pub size: u64,
    pub compressed_size: u64,
    /// Percent saved by compression.
    pub compression_ratio: f64,
    /// `YYYY-MM-DDThh:mm:ss`, no zone (ZIP stores none).
    pub modified_time: Option<String>,
    pub is_encrypted: bool,
    pub content_type: String,
    /// Has the DICOM preamble.
    pub is_dicom: bool,
}

impl From<ZipEntry> for ZipEntryDto {
    fn from(e: ZipEntry) -> Self {
        Self {
            filename: e.filename,
            size: e.size,
            compressed_size: e.compressed_size,
            compression_ratio: e.compression_ratio,
            modified_time: e.modified_time,
            is_encrypted: e.is_encrypted,
            content_type: e.content_type,
            is_dicom: e.is_dicom,
        }
    }
}

/// GET /jobs/{id}/zip-info.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ZipInfo)]
pub(crate) struct ZipInfoResponse {
    pub job_id: Uuid,
    pub zip_filename: String,
    pub file_size: u64,
    /// Archive-wide figures; `null` for a single DICOM file.
    pub zip_info: Option<ZipSummaryDto>,
    pub dicom: DicomSummaryDto,
}

impl ZipInfoResponse {
    pub(crate) fn new(job: &Job, inventory: ArchiveInventory) -> Self {
        Self {
            job_id: job.id.0,
            zip_filename: job.file_name.clone(),
            file_size: job.file_size,
            zip_info: inventory.zip.map(ZipSummaryDto::from),
            dicom: inventory.dicom.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ZipSummary)]
pub(crate) struct ZipSummaryDto {
    pub total_files: u64,
    pub total_size: u64,
    pub total_compressed_size: u64,
    /// Percent saved by compression.
    pub compression_ratio: f64,
    pub is_encrypted: bool,
    pub comment: Option<String>,
}

impl From<ZipSummary> for ZipSummaryDto {
    fn from(z: ZipSummary) -> Self {
        Self {
            total_files: z.total_files,
            total_size: z.total_size,
            total_compressed_size: z.total_compressed_size,
            compression_ratio: z.compression_ratio,
            is_encrypted: z.is_encrypted,
            comment: z.comment,
        }
    }
}

/// The DICOM content, from headers only.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DicomSummary)]
pub(crate) struct DicomSummaryDto {
    pub files: u64,
    pub studies: Vec<StudyDto>,
}

impl From<DicomSummary> for DicomSummaryDto {
    fn from(d: DicomSummary) -> Self {
        Self {
            files: d.files,
            studies: d.studies.into_iter().map(StudyDto::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Study)]
pub(crate) struct StudyDto {
    pub study_uid: String,
    pub series: Vec<SeriesDto>,
}

impl From<StudySummary> for StudyDto {
    fn from(s: StudySummary) -> Self {
        Self {
            study_uid: s.study_uid,
            series: s.series.into_iter().map(SeriesDto::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Series)]
pub(crate) struct SeriesDto {
    pub series_uid: String,
    pub modality: Option<String>,
    pub body_part: Option<String>,
    pub slices: u64,
}

impl From<SeriesSummary> for SeriesDto {
    fn from(s: SeriesSummary) -> Self {
        Self {
            series_uid: s.series_uid,
            modality: s.modality,
            body_part: s.body_part,
            slices: s.slices,
        }
    }
}
