//! `FsBlobStore`: the [`BlobStore`] port on a local directory, one file per key (`a/b.zip` is
//! `<root>/a/b.zip`). Uploads stream into a private temp dir (`<root>/.tmp`, same filesystem)
//! and are renamed into place once complete and fsynced, so readers never see a part.
//!
//! An adapter crate: it may depend on `triage-domain`, tokio (fs, blocking pool), tokio-util,
//! futures-util, bytes, uuid, chrono, async-trait and tracing — never on the app, the API or
//! another adapter.

use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;
use triage_domain::ports::{BlobBody, BlobMeta, BlobReader, BlobStore};
use triage_domain::{BlobKey, DomainError, DomainResult};

mod list;
mod paths;
mod temp;
mod write;

use paths::{SERVICE, TMP_DIR, io_error, is_absent, meta, object_path};
use temp::TempFile;

/// Chunk size of the streams `get` and `get_range` return.
const READ_CHUNK: usize = 64 * 1024;

/// Longest presigned-URL lifetime the port allows (S3's own limit).
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Object storage in a local directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: Arc<Path>,
    tmp: Arc<Path>,
}

impl FsBlobStore {
    /// Creates `root` and its private temp dir if missing, and removes temp files that a
    /// crashed process left there more than an hour ago.
    ///
    /// # Errors
    /// `Unavailable` if the directories cannot be created or are not directories.
    pub async fn open(root: impl Into<PathBuf>) -> DomainResult<Self> {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        let tmp = root.join(TMP_DIR);
        let store = Self {
            root: root.into(),
            tmp: tmp.into(),
        };
        let this = store.clone();
        blocking(move || this.prepare()).await?;
        Ok(store)
    }

    /// The directory holding the objects.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs at `open`; the errors name the root since only the operator sees them.
    fn prepare(&self) -> DomainResult<()> {
        let fail = |what: &str, err: &dyn std::fmt::Display| {
            DomainError::unavailable(SERVICE, format!("{what} {}: {err}", self.root.display()))
        };
        std::fs::create_dir_all(&self.tmp).map_err(|err| fail("cannot create", &err))?;
        // A symlinked temp dir could sit on another filesystem, where rename is not atomic.
        let md = std::fs::symlink_metadata(&self.tmp).map_err(|err| fail("cannot stat", &err))?;
        if !md.is_dir() {
            return Err(fail(
                "unusable blob root",
                &format!("{TMP_DIR} is not a directory"),
            ));
        }
        let removed = temp::sweep_stale(&self.tmp, SystemTime::now())
            .map_err(|err| fail("cannot clean the temp dir of", &err))?;
        if removed > 0 {
            tracing::info!(removed, "removed stale upload temp files");
        }
        Ok(())
    }

    /// Opens the object for reading, with its metadata taken from the open file (so a
    /// concurrent replacement cannot make them disagree), checks `range` against its size and
    /// seeks to the range's start.
    async fn open_object(
        &self,
        key: &BlobKey,
        range: Option<(u64, u64)>,
    ) -> DomainResult<(std::fs::File, BlobMeta)> {
        let (root, key) = (self.root.clone(), key.clone());
        blocking(move || {
            let path = object_path(&root, &key)?;
            let not_found_or = |err: std::io::Error| {
                if is_absent(&err) {
                    DomainError::NotFound("object")
                } else {
                    io_error("open", &err)
                }
            };
            // Only regular files are objects; checked before opening too, since opening a
            // FIFO someone left in the root would block this thread until a writer came.
            if !std::fs::symlink_metadata(&path)
                .map_err(not_found_or)?
                .is_file()
            {
                return Err(DomainError::NotFound("object"));
            }
            let file = std::fs::File::open(&path).map_err(not_found_or)?;
            let md = file.metadata().map_err(not_found_or)?;
            if !md.is_file() {
                return Err(DomainError::NotFound("object"));
            }
            if let Some((start, end)) = range {
                if end >= md.len() {
                    return Err(DomainError::invalid(
                        "range",
                        format!("end is past the last byte ({})", md.len()),
                    ));
                }
                (&file)
                    .seek(SeekFrom::Start(start))
                    .map_err(|err| io_error("seek", &err))?;
            }
            Ok((file, meta(key, &md)))
        })
        .await
    }
}

/// Runs blocking filesystem work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> DomainResult<T> + Send + 'static,
) -> DomainResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| DomainError::internal(format!("blob store task failed: {err}")))?
}

#[async_trait]
impl BlobStore for FsBlobStore {
    #[tracing::instrument(level = "debug", skip_all, fields(key = %key))]
    async fn put(&self, key: &BlobKey, body: BlobReader, _content_type: &str) -> DomainResult<u64> {
        // Refuse a bad key before reading a possibly huge body.
        let (root, k) = (self.root.clone(), key.clone());
        blocking(move || object_path(&root, &k).map(drop)).await?;

        let (mut temp, mut file) = TempFile::create(&self.tmp).await?;
        let size = write::copy_durably(body, &mut file).await?;
        drop(file);
        let (root, k, path) = (self.root.clone(), key.clone(), temp.path().to_path_buf());
        blocking(move || write::commit(&root, &path, &k)).await?;
        temp.disarm();
        Ok(size)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = %key))]
    async fn get(&self, key: &BlobKey) -> DomainResult<BlobBody> {
        let (file, meta) = self.open_object(key, None).await?;
        let file = tokio::fs::File::from_std(file);
        let stream = Box::pin(ReaderStream::with_capacity(file, READ_CHUNK));
        Ok(BlobBody {
            meta,
            range: None,
            stream,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = %key, start, end))]
    async fn get_range(&self, key: &BlobKey, start: u64, end: u64) -> DomainResult<BlobBody> {
        if start > end {
            return Err(DomainError::invalid("range", "start is after end"));
        }
        let (file, meta) = self.open_object(key, Some((start, end))).await?;
        let body = tokio::fs::File::from_std(file).take(end - start + 1);
        let stream = Box::pin(ReaderStream::with_capacity(body, READ_CHUNK));
        Ok(BlobBody {
            meta,
            range: Some((start, end)),
            stream,
        })
    }

    async fn head(&self, key: &BlobKey) -> DomainResult<Option<BlobMeta>> {
        let (root, key) = (self.root.clone(), key.clone());
        blocking(move || match std::fs::metadata(object_path(&root, &key)?) {
            Ok(md) if md.is_file() => Ok(Some(meta(key, &md))),
            Ok(_) => Ok(None),
            Err(err) if is_absent(&err) => Ok(None),
            Err(err) => Err(io_error("stat", &err)),
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = %key))]
    async fn delete(&self, key: &BlobKey) -> DomainResult<bool> {
        let (root, key) = (self.root.clone(), key.clone());
        blocking(move || {
            let path = object_path(&root, &key)?;
            match std::fs::symlink_metadata(&path) {
                Ok(md) if md.is_file() => {}
                // A directory holds other objects; it is not this one.
                Ok(_) => return Ok(false),
                Err(err) if is_absent(&err) => return Ok(false),
                Err(err) => return Err(io_error("stat", &err)),
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if is_absent(&err) => return Ok(false),
                Err(err) => return Err(io_error("delete", &err)),
            }
            paths::prune_empty_parents(&root, &path);
            Ok(true)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> DomainResult<Vec<BlobMeta>> {
        let (root, prefix) = (self.root.clone(), prefix.to_owned());
        blocking(move || list::list(&root, &prefix)).await
    }

    async fn presign_get(
        &self,
        _key: &BlobKey,
        expires_in: Duration,
    ) -> DomainResult<Option<String>> {
        if expires_in < Duration::from_secs(1) || expires_in > MAX_PRESIGN {
            return Err(DomainError::invalid(
                "expires_in",
                "must be between 1 second and 7 days",
            ));
        }
        // Nothing outside the app can read this directory: the app signs URLs to itself.
        Ok(None)
    }

    async fn ping(&self) -> DomainResult<()> {
        let (root, tmp) = (self.root.clone(), self.tmp.clone());
        blocking(move || {
            let md = std::fs::metadata(&root).map_err(|err| io_error("stat root", &err))?;
            if !md.is_dir() {
                return Err(DomainError::unavailable(
                    SERVICE,
                    "the root is not a directory",
                ));
            }
            // Writable means a file can be created where uploads are spooled.
            let probe = tmp.join(format!("{}.ping", uuid::Uuid::new_v4()));
            std::fs::File::create_new(&probe).map_err(|err| io_error("write probe", &err))?;
            std::fs::remove_file(&probe).map_err(|err| io_error("remove probe", &err))
        })
        .await
    }
}
