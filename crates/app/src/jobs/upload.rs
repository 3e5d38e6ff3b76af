//! Creating a job from an upload: the body is spooled to a temp file while it is hashed and
//! counted, then checked and inventoried, moved into the blob store, and only then are the
//! job row and its queue entry written (one transaction). Whatever fails, nothing remains:
//! no row, no object, no temp file.

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;
use tokio_util::compat::TokioAsyncReadCompatExt;
use triage_archive::ArchiveError;
use triage_domain::{ArchiveInventory, BlobKey, ChangeKind, FileType, Job, JobId, NewJob};

use super::{MAX_DESCRIPTION, MAX_TITLE};
use crate::error::{AppError, AppResult, FieldError};
use crate::settings::AcceptPolicy;
use crate::{App, Caller, Slot};

/// The name prefix of upload spool files in `uploads.tmp_dir`, so that a sweep after a crash
/// finds exactly them.
pub const UPLOAD_SPOOL_PREFIX: &str = "upload-";

/// An upload being received. Dropping it deletes the temp file. The file is locked
/// (`flock`) while it is open, which tells a sweep that it is in use.
pub struct UploadSpool {
    file: tokio::io::BufWriter<tokio::fs::File>,
    path: TempPath,
    hasher: Sha256,
    size: u64,
    limit: u64,
    /// The client's upload slot, held until the upload is done with.
    _slot: Slot,
}

impl UploadSpool {
    /// Appends a chunk.
    ///
    /// # Errors
    /// `PayloadTooLarge` as soon as the total passes the limit (the caller stops reading
    /// the body); `Internal` if the temp disk fails.
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(AppError::PayloadTooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|err| AppError::internal(format!("spool write: {err}")))
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes the spool and hands over its file (deleted when the path is dropped) and size.
    pub(crate) async fn finish(mut self) -> AppResult<(TempPath, u64)> {
        self.file
            .flush()
            .await
            .map_err(|err| AppError::internal(format!("spool flush: {err}")))?;
        Ok((self.path, self.size))
    }
}

/// The form fields that come with an upload.
#[derive(Debug, Clone, Default)]
pub struct JobForm {
    /// The client's file name (any path part is dropped).
    pub file_name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub profile: Option<String>,
    /// As sent in the form; parsed and checked here (0–1).
    pub threshold: Option<String>,
    /// `true` forces a new analysis of content already analysed (no deduplication).
    pub reanalyse: Option<String>,
}

struct CheckedForm {
    file_name: String,
    title: String,
    description: Option<String>,
    profile: String,
    threshold: f64,
    reanalyse: bool,
}

impl App {
    /// Starts receiving an upload from `client` (its address, when known) into a temp file.
    ///
    /// # Errors
    /// `TooManyOpen` (`too_many_uploads`) while `client` has
    /// `uploads.max_concurrent_per_client` uploads in progress; `Internal` if the temp
    /// directory is unusable.
    pub async fn start_upload(&self, client: Option<IpAddr>) -> AppResult<UploadSpool> {
        let settings = &self.inner.settings.uploads;
        let slot = self
            .inner
            .upload_slots
            .acquire(client)
            .map_err(|_| AppError::TooManyOpen {
                code: "too_many_uploads",
                message: format!(
                    "at most {} uploads at once per client; wait for one to finish",
                    settings.max_concurrent_per_client
                ),
            })?;
        let dir = settings.tmp_dir.clone();
        let limit = settings.max_size;
        let (file, path) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let (file, path) = tempfile::Builder::new()
                .prefix(UPLOAD_SPOOL_PREFIX)
                .tempfile_in(&dir)?
                .into_parts();
            file.try_lock().map_err(std::io::Error::from)?;
            Ok::<_, std::io::Error>((file, path))
        })
        .await
        .map_err(AppError::internal)?
        .map_err(|err| AppError::internal(format!("spool create: {err}")))?;
        let file = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
        Ok(UploadSpool {
            file,
            path,
            hasher: Sha256::new(),
            size: 0,
            limit,
            _slot: slot,
        })
    }

    /// Checks the upload and the form, stores the upload and creates the queued job.
    ///
    /// The work runs in its own task: if the client goes away half-way, the sequence still
    /// either completes or cleans up, never stops between the object and the row.
    ///
    /// # Errors
    /// `Validation` (form, empty file), `InvalidArchive`, `NoDicom`, `UnsupportedFile`,
    /// `Unavailable` (store or database), `Internal`.
    pub async fn create_job(
        &self,
        caller: &Caller,
        spool: UploadSpool,
        form: JobForm,
    ) -> AppResult<Job> {
        let app = self.clone();
        let caller = caller.clone();
        tokio::spawn(async move { app.create_job_now(&caller, spool, form).await })
            .await
            .map_err(AppError::internal)?
    }

    async fn create_job_now(
        &self,
        caller: &Caller,
        mut spool: UploadSpool,
        form: JobForm,
    ) -> AppResult<Job> {
        spool
            .file
            .flush()
            .await
            .map_err(|err| AppError::internal(format!("spool flush: {err}")))?;
        let form = self.check_form(form, spool.size)?;
        let sha256 = hex::encode(spool.hasher.finalize_reset());
        let inventory = self.inspect(&spool.path).await?;
        let file_type = inventory.file_type;
        let id = JobId::random();
        let key = BlobKey::upload(id, file_type.extension());
        let content_type = match file_type {
            FileType::Zip => "application/zip",
            FileType::Dicom => "application/dicom",
            FileType::Other => "application/octet-stream",
        };
        let reader = tokio::fs::File::open(&spool.path)
            .await
            .map_err(|err| AppError::internal(format!("spool reopen: {err}")))?;
        let ports = &self.inner.ports;
        let size = ports
            .blobs
            .put(&key, Box::pin(reader.compat()), content_type)
            .await?;
        if size != spool.size {
            let _ = ports.blobs.delete(&key).await;
            return Err(AppError::internal(format!(
                "stored {size} bytes of {}",
                spool.size
            )));
        }
        let reanalyse = form.reanalyse;
        let new = NewJob {
            id,
            owner_id: caller.id,
            title: form.title,
            description: form.description,
            file_name: form.file_name,
            file_size: spool.size,
            file_type,
            content_type: content_type.into(),
            sha256,
            upload_key: key.clone(),
            profile: form.profile,
            threshold: form.threshold,
            inventory: Some(inventory),
            created_at: self.now(),
        };
        match ports.jobs.create(new).await {
            Ok(job) => {
                self.metrics().upload(job.file_size);
                self.publish(&job, ChangeKind::Created).await;
                if reanalyse {
                    return Ok(job);
                }
                Ok(self.reuse_analysis(job).await)
            }
            Err(err) => {
                if let Err(cleanup) = ports.blobs.delete(&key).await {
                    tracing::error!(job.id = %id, error = %cleanup, "upload object left behind after a failed insert");
                }
                Err(err.into())
            }
        }
    }

    /// Validates and inventories the spooled file off the async runtime, then applies the
    /// accept policy.
    async fn inspect(&self, path: &TempPath) -> AppResult<ArchiveInventory> {
        let path = path.to_path_buf();
        let limits = self.inner.settings.uploads.limits.clone();
        let inspected =
            tokio::task::spawn_blocking(move || triage_archive::inspect(&path, &limits))
                .await
                .map_err(AppError::internal)?;
        let inventory = match inspected {
            Ok(inventory) => inventory,
            Err(ArchiveError::Io(err)) => {
                return Err(AppError::internal(format!("spool read: {err}")));
            }
            Err(err) => return Err(AppError::InvalidArchive(err.to_string())),
        };
        let strict = self.inner.settings.uploads.accept == AcceptPolicy::Dicom;
        match inventory.file_type {
            FileType::Zip if strict && inventory.dicom.files == 0 => Err(AppError::NoDicom),
            FileType::Other if strict => Err(AppError::UnsupportedFile),
            _ => Ok(inventory),
        }
    }

    fn check_form(&self, form: JobForm, size: u64) -> AppResult<CheckedForm> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            })
        };
        if size == 0 {
            fail("file", "must not be empty".into());
        }
        let file_name = clean_file_name(&form.file_name);
        let title = form
            .title
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| file_name.clone());
        if title.chars().count() > MAX_TITLE {
            fail("title", format!("must be at most {MAX_TITLE} characters"));
        }
        let description = form
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            fail(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            );
        }
        let defaults = &self.inner.settings.jobs;
        let profile = form
            .profile
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| defaults.profile.clone());
        if !defaults.profiles.contains(&profile) {
            fail(
                "profile",
                format!("must be one of: {}", defaults.profiles.join(", ")),
            );
        }
        let threshold = match form
            .threshold
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => defaults.threshold,
            Some(raw) => match raw.replace(',', ".").parse::<f64>() {
                Ok(t) if (0.0..=1.0).contains(&t) => t,
                _ => {
                    fail("threshold", "must be a number from 0 to 1".into());
                    defaults.threshold
                }
            },
        };
        let reanalyse = match form.reanalyse.as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(_) => {
                fail("reanalyse", "must be true or false".into());
                false
            }
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(CheckedForm {
            reanalyse,
            file_name,
            title,
            description,
            profile,
            threshold,
        })
    }
}

/// Keeps the last path part of a client file name (browsers may send `C:\fakepath\x.zip`),
/// without control characters, at most 255 bytes.
fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    while name.len() > 255 {
        name.pop();
    }
    if name.is_empty() || name == "." || name == ".." {
        "upload".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::clean_file_name;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name("C:\\fakepath\\study.zip"), "study.zip");
        assert_eq!(clean_file_name("a/b/исследование.zip"), "исследование.zip");
        assert_eq!(clean_file_name("x\u{0}y.zip"), "xy.zip");
        assert_eq!(clean_file_name(""), "upload");
        assert_eq!(clean_file_name(".."), "upload");
        assert!(clean_file_name(&"я".repeat(300)).len() <= 255);
    }
}
