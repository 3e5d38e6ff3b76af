//! A job's per-series artefacts (key images, the NIfTI mask, the DICOM Segmentation), stored by
//! the analysis under `results/<job>/series/<series uid>/` and deleted with the job.
//!
//! Nothing about them is in the database: the listing is the object store's, so a remote ML
//! service that writes artefacts (ml-protocol.md, `artefacts`) is served the same way as the
//! embedded engine. Names are checked against the known kinds before any key is built, and an
//! unknown job, series or name is the same `NotFound`.

use chrono::{DateTime, Utc};
use triage_domain::{BlobKey, JobId};

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::jobs::Download;

/// One artefact of a series, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesArtefact {
    pub name: String,
    /// `axial`, `coronal`, `thumbnail`, `image` (another PNG), `mask` or `seg`.
    pub kind: &'static str,
    pub size: u64,
}

/// An artefact download, or the answer to a matching `If-None-Match`.
pub enum ArtefactResponse {
    NotModified { etag: String },
    Body { download: Download, etag: String },
}

/// The kind and media type of an artefact name; `None` for names no analysis writes.
pub fn artefact_kind(name: &str) -> Option<(&'static str, &'static str)> {
    let simple = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !simple {
        return None;
    }
    match name {
        "mask.nii.gz" => Some(("mask", "application/gzip")),
        "seg.dcm" => Some(("seg", "application/dicom")),
        "thumbnail.png" => Some(("thumbnail", "image/png")),
        _ if name.ends_with(".png") && name.starts_with("axial-") => Some(("axial", "image/png")),
        _ if name.ends_with(".png") && name.starts_with("coronal-") => {
            Some(("coronal", "image/png"))
        }
        _ if name.ends_with(".png") => Some(("image", "image/png")),
        _ => None,
    }
}

/// A DICOM UID: digits and dots, at most 64 characters.
fn is_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !uid.split('.').any(str::is_empty)
}

/// A strong validator from what the store says about the object (a retried job rewrites its
/// artefacts, which changes the time).
fn etag(size: u64, modified: Option<DateTime<Utc>>) -> String {
    let time = modified.map_or(0, |t| t.timestamp_micros());
    format!("\"{size:x}-{time:x}\"")
}

impl App {
    /// The artefacts of one series of the caller's job, by name.
    ///
    /// # Errors
    /// `NotFound` (another owner's job, an unknown series, no artefacts), `Unavailable`.
    pub async fn series_artefacts(
        &self,
        caller: &Caller,
        id: JobId,
        series_uid: &str,
    ) -> AppResult<Vec<SeriesArtefact>> {
        self.job(caller, id).await?;
        if !is_uid(series_uid) {
            return Err(AppError::NotFound("series"));
        }
        let prefix = format!("{}series/{series_uid}/", BlobKey::artefacts_prefix(id));
        let listed = self.inner.ports.blobs.list(&prefix).await?;
        let artefacts: Vec<SeriesArtefact> = listed
            .into_iter()
            .filter_map(|meta| {
                let name = meta.key.as_str().strip_prefix(&prefix)?.to_owned();
                let (kind, _) = artefact_kind(&name)?;
                Some(SeriesArtefact {
                    name,
                    kind,
                    size: meta.size,
                })
            })
            .collect();
        if artefacts.is_empty() {
            return Err(AppError::NotFound("series"));
        }
        Ok(artefacts)
    }

    /// Streams one artefact, or says it has not changed since `if_none_match`.
    ///
    /// # Errors
    /// `NotFound`, `Unavailable`.
    pub async fn download_artefact(
        &self,
        caller: &Caller,
        id: JobId,
        series_uid: &str,
        name: &str,
        if_none_match: Option<&str>,
    ) -> AppResult<ArtefactResponse> {
        self.job(caller, id).await?;
        let Some((_, content_type)) = artefact_kind(name).filter(|_| is_uid(series_uid)) else {
            return Err(AppError::NotFound("artefact"));
        };
        let key = BlobKey::series_artefact(id, series_uid, name)
            .map_err(|_| AppError::NotFound("artefact"))?;
        let blobs = &self.inner.ports.blobs;
        let meta = blobs
            .head(&key)
            .await?
            .ok_or(AppError::NotFound("artefact"))?;
        let etag = etag(meta.size, meta.last_modified);
        let matches = if_none_match.is_some_and(|header| {
            header
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
        });
        if matches {
            return Ok(ArtefactResponse::NotModified { etag });
        }
        let download = self
            .open_blob(
                &key,
                name.to_owned(),
                content_type.to_owned(),
                Some(meta.size),
                None,
            )
            .await?;
        Ok(ArtefactResponse::Body { download, etag })
    }

    /// Deletes every artefact of a job (all series).
    pub(crate) async fn delete_artefacts(&self, id: JobId) -> AppResult<()> {
        let blobs = &self.inner.ports.blobs;
        for meta in blobs.list(&BlobKey::artefacts_prefix(id)).await? {
            blobs.delete(&meta.key).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_an_analysis_writes_have_a_kind() {
        assert_eq!(
            artefact_kind("axial-0012.png"),
            Some(("axial", "image/png"))
        );
        assert_eq!(
            artefact_kind("coronal-0080.png").map(|k| k.0),
            Some("coronal")
        );
        assert_eq!(
            artefact_kind("thumbnail.png").map(|k| k.0),
            Some("thumbnail")
        );
        assert_eq!(artefact_kind("mask.nii.gz").map(|k| k.0), Some("mask"));
        assert_eq!(
            artefact_kind("seg.dcm").map(|k| k.1),
            Some("application/dicom")
        );
        for bad in [
            "",
            "../seg.dcm",
            "x.exe",
            ".png",
            "a b.png",
            "seg.dcm/x",
            "report.xlsx",
        ] {
            assert_eq!(artefact_kind(bad), None, "{bad}");
        }
    }

    #[test]
    fn uids_are_digits_and_dots() {
        assert!(is_uid("1.2.840.10008"));
        for bad in ["", "1..2", ".1", "1.2.", "1.2.a", "..", &"1".repeat(65)] {
            assert!(!is_uid(bad), "{bad}");
        }
    }

    #[test]
    fn the_etag_changes_with_size_and_time() {
        let t = DateTime::from_timestamp(1_700_000_000, 0);
        assert_eq!(etag(10, t), etag(10, t));
        assert_ne!(etag(10, t), etag(11, t));
        assert_ne!(
            etag(10, t),
            etag(10, DateTime::from_timestamp(1_700_000_001, 0))
        );
    }
}
