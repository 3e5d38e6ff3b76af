//! Spool hygiene: upload and analysis spool files (`uploads.tmp_dir`) are deleted by their
//! owners when dropped, but a killed process (`kill -9`, OOM, power loss) leaves them behind.
//! Start-up removes every spool file that no process holds open, and a periodic janitor removes
//! the ones untouched for `uploads.spool_max_age_secs`, whoever left them.
//!
//! "Holds open" is the `flock` every spool takes while it is in use: a sweep skips a file it
//! cannot lock, so it never pulls a file from under a process sharing the directory.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The name prefixes of every spool kept in the temp dir.
pub const SPOOL_PREFIXES: [&str; 2] = [
    triage_app::UPLOAD_SPOOL_PREFIX,
    triage_ml_local::SPOOL_PREFIX,
];

/// Removes the spool files in `dir` that no process holds, or with `max_age`, only those not
/// written for longer than that. A missing directory has nothing to sweep. Never fails: a file
/// that cannot be examined or removed is logged and left for the next sweep.
///
/// Returns how many files were removed.
pub fn sweep_spool(dir: &Path, max_age: Option<Duration>) -> usize {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return 0,
        Err(err) => {
            tracing::warn!(dir = %dir.display(), error = %err, "cannot read the spool directory");
            return 0;
        }
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_spool = name
            .to_str()
            .is_some_and(|name| SPOOL_PREFIXES.iter().any(|p| name.starts_with(p)));
        if is_spool && is_abandoned(&entry.path(), now, max_age) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    tracing::warn!(file = ?name, error = %err, "cannot remove a spool file");
                }
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %dir.display(), "removed abandoned spool files");
    }
    removed
}

/// A regular file, old enough, that nobody holds locked.
fn is_abandoned(path: &Path, now: SystemTime, max_age: Option<Duration>) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    if let Some(max_age) = max_age {
        let written = meta.modified().unwrap_or(now);
        if now.duration_since(written).unwrap_or_default() < max_age {
            return false;
        }
    }
    let Ok(file) = File::open(path) else {
        return false;
    };
    // The lock is released when `file` closes, right after.
    match file.try_lock() {
        Ok(()) => true,
        Err(TryLockError::WouldBlock) => false,
        Err(TryLockError::Error(err)) => {
            tracing::warn!(file = %path.display(), error = %err, "cannot check a spool file");
            false
        }
    }
}

/// The periodic sweep, as a task that ends when this value is dropped.
pub struct Janitor(tokio::task::JoinHandle<()>);

impl Janitor {
    /// Sweeps `dir` every quarter of `max_age` (between 1 minute and 1 hour).
    pub fn spawn(dir: PathBuf, max_age: Duration) -> Self {
        let period = (max_age / 4).clamp(Duration::from_secs(60), Duration::from_secs(3600));
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let dir = dir.clone();
                let _ = tokio::task::spawn_blocking(move || sweep_spool(&dir, Some(max_age))).await;
            }
        }))
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn touch(dir: &Path, name: &str, age: Duration) -> PathBuf {
        let path = dir.join(name);
        let file = File::create(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        path
    }

    #[test]
    fn the_janitor_removes_old_unheld_spools_only() {
        let dir = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(86_400);
        let old_upload = touch(dir.path(), "upload-old", 2 * day);
        let old_analysis = touch(dir.path(), "ml-local-old", 2 * day);
        let fresh = touch(dir.path(), "upload-fresh", Duration::from_secs(60));
        let held = touch(dir.path(), "upload-held", 2 * day);
        let not_ours = touch(dir.path(), "notes.txt", 2 * day);
        let holder = File::open(&held).unwrap();
        holder.lock().unwrap();

        assert_eq!(sweep_spool(dir.path(), Some(day)), 2);
        assert!(!old_upload.exists() && !old_analysis.exists());
        assert!(fresh.exists() && held.exists() && not_ours.exists());

        // At start-up every unheld spool goes, whatever its age.
        assert_eq!(sweep_spool(dir.path(), None), 1);
        assert!(!fresh.exists() && held.exists() && not_ours.exists());
        drop(holder);
        assert_eq!(sweep_spool(dir.path(), None), 1);
        assert!(!held.exists());
        assert_eq!(sweep_spool(&dir.path().join("missing"), None), 0);
    }
}
