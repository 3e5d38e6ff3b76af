//! `put`: stream the body into a temp file, fsync, rename into place.

use std::fs;
use std::io;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::compat::FuturesAsyncReadCompatExt;
use triage_domain::ports::BlobReader;
use triage_domain::{BlobKey, DomainError, DomainResult};

use crate::paths::{collision, io_error, is_collision, object_path};

/// Bytes gathered before each write: large writes mean few trips to the blocking pool, and
/// this is all the memory an upload holds (plus tokio's copy of the same chunk).
const WRITE_CHUNK: usize = 1 << 20;

/// Copies `body` into `file` and makes it durable. Returns the number of bytes written.
pub(crate) async fn copy_durably(
    body: BlobReader,
    file: &mut tokio::fs::File,
) -> DomainResult<u64> {
    let mut reader = body.compat();
    let mut buf = vec![0; WRITE_CHUNK];
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = reader
                .read(&mut buf[filled..])
                .await
                .map_err(|err| DomainError::internal(format!("reading the body failed: {err}")))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled > 0 {
            file.write_all(&buf[..filled])
                .await
                .map_err(|err| io_error("write", &err))?;
            total += filled as u64;
        }
        if filled < buf.len() {
            break;
        }
    }
    // `flush` waits for the write still running on the blocking pool and reports its error.
    file.flush().await.map_err(|err| io_error("write", &err))?;
    file.sync_all()
        .await
        .map_err(|err| io_error("fsync", &err))?;
    Ok(total)
}

/// Renames the finished temp file to the key's path, creating parent directories.
pub(crate) fn commit(root: &Path, temp: &Path, key: &BlobKey) -> DomainResult<()> {
    // A concurrent `delete` may remove a parent we just created (it prunes empty
    // directories); the rename then fails with NotFound and creating the parents again fixes
    // it. Three rounds are plenty: each needs a delete racing exactly in between.
    let mut attempts = 3;
    loop {
        attempts -= 1;
        // Checked again: parents may have appeared since the check before the upload.
        let target = object_path(root, key)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|err| map_commit_error("create directory", &err))?;
        }
        match fs::rename(temp, &target) {
            Ok(()) => {
                sync_parent(&target);
                return Ok(());
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound && attempts > 0 => {}
            Err(err) => return Err(map_commit_error("rename", &err)),
        }
    }
}

fn map_commit_error(op: &str, err: &io::Error) -> DomainError {
    if is_collision(err) {
        collision()
    } else {
        io_error(op, err)
    }
}

/// Makes the rename itself survive a crash. Best effort: the data is already durable, and
/// some filesystems refuse to fsync a directory.
fn sync_parent(target: &Path) {
    if let Some(parent) = target.parent()
        && let Err(err) = fs::File::open(parent).and_then(|dir| dir.sync_all())
    {
        tracing::debug!(error = %err, "could not fsync a blob directory");
    }
}
