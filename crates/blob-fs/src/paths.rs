//! Keys to paths, the checks that keep every path inside the root, and io-error mapping.
//! Everything here is synchronous: callers run it on the blocking pool.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use triage_domain::ports::BlobMeta;
use triage_domain::{BlobKey, ConflictKind, DomainError, DomainResult};

/// The service name in `Unavailable` errors.
pub(crate) const SERVICE: &str = "blob store";

/// The private temp dir, directly under the root. Keys starting with this component are
/// refused so an object can never land in (or be read from) the temp dir.
pub(crate) const TMP_DIR: &str = ".tmp";

/// The domain error for a failed filesystem call: `Unavailable` (permissions, disk full, EIO),
/// except a name the filesystem cannot hold. Io errors carry no path (std never adds one), so
/// `detail` never leaks the root.
pub(crate) fn io_error(op: &str, err: &io::Error) -> DomainError {
    if err.kind() == io::ErrorKind::InvalidFilename {
        // Keys may be 1024 bytes, but a path component is limited to 255 on most filesystems.
        return DomainError::invalid("key", "has a part too long for the file store");
    }
    DomainError::unavailable(SERVICE, format!("{op}: {err}"))
}

/// The path is not there, or a parent of it is a file rather than a directory.
pub(crate) fn is_absent(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// A file where the key needs a directory, or the reverse (`a` and `a/b` cannot both be
/// objects on a filesystem, unlike S3).
pub(crate) fn is_collision(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::AlreadyExists
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::DirectoryNotEmpty
    )
}

pub(crate) fn collision() -> DomainError {
    DomainError::Conflict(ConflictKind::AlreadyExists)
}

/// The path of `key`, after refusing the reserved temp dir and any symlink on the way.
pub(crate) fn object_path(root: &Path, key: &BlobKey) -> DomainResult<PathBuf> {
    let key = key.as_str();
    if key.split('/').next() == Some(TMP_DIR) {
        return Err(DomainError::invalid("key", "is reserved by the file store"));
    }
    check_no_symlinks(root, key)?;
    Ok(root.join(key))
}

/// Keys are validated, so `root.join(key)` cannot escape by name; a symlink planted inside
/// the root still could, so every existing component is checked without following links.
fn check_no_symlinks(root: &Path, key: &str) -> DomainResult<()> {
    let mut path = root.to_path_buf();
    for part in key.split('/') {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(DomainError::invalid(
                    "key",
                    "passes through a symbolic link",
                ));
            }
            Ok(_) => {}
            // Nothing below a missing component exists either.
            Err(err) if is_absent(&err) => return Ok(()),
            Err(err) => return Err(io_error("stat", &err)),
        }
    }
    Ok(())
}

pub(crate) fn meta(key: BlobKey, md: &fs::Metadata) -> BlobMeta {
    BlobMeta {
        key,
        size: md.len(),
        last_modified: md.modified().ok().map(DateTime::<Utc>::from),
    }
}

/// Removes the directories between `path` and `root` that became empty, deepest first, so
/// deleted objects do not leave a trail of empty folders. Stops at the first non-empty one.
pub(crate) fn prune_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Whether the directory holding the keys `dir_key/…` may hold a key starting with `prefix`.
pub(crate) fn may_contain(dir_key: &str, prefix: &str) -> bool {
    let dir = format!("{dir_key}/");
    dir.starts_with(prefix) || prefix.starts_with(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_pruned_only_when_they_cannot_match() {
        assert!(may_contain("a", ""));
        assert!(may_contain("ab", "a"));
        assert!(may_contain("a", "a/"));
        assert!(may_contain("a", "a/b/c"));
        assert!(may_contain("a/b", "a/b"));
        assert!(!may_contain("b", "a"));
        assert!(!may_contain("a", "ab"));
        assert!(!may_contain("a/c", "a/b"));
    }

    #[test]
    fn the_temp_dir_is_not_a_key() {
        let root = Path::new("/nonexistent-root");
        for key in [".tmp", ".tmp/x.part"] {
            let err = object_path(root, &BlobKey::parse(key).unwrap()).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid { field: "key", .. }),
                "{key}: {err:?}"
            );
        }
        assert!(object_path(root, &BlobKey::parse("a/.tmp").unwrap()).is_ok());
        assert!(object_path(root, &BlobKey::parse(".tmpx").unwrap()).is_ok());
    }
}
