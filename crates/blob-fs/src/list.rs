//! `list`: a walk of the tree under the root that only descends where the prefix can match.

use std::fs;
use std::path::Path;

use triage_domain::ports::BlobMeta;
use triage_domain::{BlobKey, DomainResult};

use crate::paths::{TMP_DIR, io_error, is_absent, may_contain, meta};

/// Every regular file whose key starts with `prefix`, sorted by key. Symlinks are not
/// followed and not listed; names that are not valid keys (not UTF-8, backslashes) are
/// skipped with a warning, since no `put` could have made them.
pub(crate) fn list(root: &Path, prefix: &str) -> DomainResult<Vec<BlobMeta>> {
    let mut found = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, dir_key)) = dirs.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Emptied and pruned by a concurrent delete.
            Err(err) if is_absent(&err) && !dir_key.is_empty() => continue,
            Err(err) => return Err(io_error("read directory", &err)),
        };
        for entry in entries {
            let entry = entry.map_err(|err| io_error("read directory", &err))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                tracing::warn!(name = ?name, "skipping a file whose name is not UTF-8");
                continue;
            };
            if dir_key.is_empty() && name == TMP_DIR {
                continue;
            }
            let key = if dir_key.is_empty() {
                name.to_owned()
            } else {
                format!("{dir_key}/{name}")
            };
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                if may_contain(&key, prefix) {
                    dirs.push((entry.path(), key));
                }
            } else if file_type.is_file() && key.starts_with(prefix) {
                let md = match entry.metadata() {
                    Ok(md) => md,
                    Err(err) if is_absent(&err) => continue,
                    Err(err) => return Err(io_error("stat", &err)),
                };
                match BlobKey::parse(key) {
                    Ok(key) => found.push(meta(key, &md)),
                    Err(err) => tracing::warn!(%err, "skipping a file that is not a valid key"),
                }
            }
        }
    }
    // Byte order of the UTF-8 keys, as S3 lists them.
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}
