//! Temp files in the root's private temp dir: created under a unique name, removed on drop
//! unless committed, and swept at start-up when a crashed process left them behind.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use triage_domain::{DomainError, DomainResult};
use uuid::Uuid;

use crate::paths::io_error;

/// Suffix of upload temp files (`<uuid>.part`).
pub(crate) const PART_SUFFIX: &str = ".part";

/// A temp file untouched for this long belongs to no live upload: writes refresh the mtime.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Removes the temp file when dropped, unless [`TempFile::disarm`] was called after the
/// rename. Dropping is what runs when an upload fails *or* its future is cancelled.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Creates `dir/<uuid>.part` for writing.
    pub(crate) async fn create(dir: &Path) -> DomainResult<(Self, tokio::fs::File)> {
        let path = dir.join(format!("{}{PART_SUFFIX}", Uuid::new_v4()));
        // The guard exists before the file does: if this future is dropped while the open is
        // still running on the blocking pool, the guard has already run, so the task itself
        // removes the file when nobody is left to receive it.
        let guard = Self {
            path: path.clone(),
            armed: true,
        };
        let (tx, rx) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let opened = open_new(&path);
            if let Err(Ok(_file)) = tx.send(opened) {
                let _ = fs::remove_file(&path);
            }
        });
        let file = rx
            .await
            .map_err(|_| DomainError::internal("the temp file task panicked"))?
            .map_err(|err| io_error("create temp file", &err))?;
        Ok((guard, tokio::fs::File::from_std(file)))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file was renamed into place: there is nothing left to remove.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // A plain unlink: quick enough to run inline, and a drop cannot await.
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!(error = %err, "could not remove an upload temp file"),
        }
    }
}

fn open_new(path: &Path) -> io::Result<fs::File> {
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
    };
    match open() {
        // Someone removed the temp dir while we run: recreate it rather than fail every put.
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            open()
        }
        other => other,
    }
}

/// Removes files in `dir` not modified for [`STALE_AFTER`]; returns how many. Fresh files may
/// belong to another process sharing the root and are left alone.
pub(crate) fn sweep_stale(dir: &Path, now: SystemTime) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(md) = entry.metadata() else { continue };
        let age = md.modified().ok().and_then(|m| now.duration_since(m).ok());
        if md.is_file() && age.is_some_and(|age| age > STALE_AFTER) {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(removed)
}
