//! Throwaway S3 buckets for tests, and a recording proxy to watch what an adapter sends.
//!
//! The server comes from `TRIAGE_TEST_S3_URL` (default `http://127.0.0.1:9000`, where
//! `../shared/tools/start-s3.sh s3s-fs` listens), with `TRIAGE_TEST_S3_ACCESS_KEY` /
//! `TRIAGE_TEST_S3_SECRET_KEY` (default `minioadmin` / `minioadmin`, the script's) and
//! `TRIAGE_TEST_S3_REGION` (default `us-east-1`). Every [`TestBucket`] is a bucket of its own,
//! `triage-test-<unix secs>-<random>`, emptied and deleted on `Drop`; once per process,
//! leftovers of crashed runs older than two hours are swept. When the server cannot be
//! reached, [`TestBucket::create`] prints a `skipping:` line and returns `None` — unless
//! `CI=true`, where it panics: CI must fail, never skip.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3::creds::Credentials;
use s3::{Bucket, Region};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use triage_blob_s3::{S3BlobStore, S3Options};
use triage_domain::ports::BlobStore;

mod proxy;

pub use proxy::RecordingProxy;

const DEFAULT_URL: &str = "http://127.0.0.1:9000";
/// What `start-s3.sh` gives s3s-fs, nanio and moto (Garage needs a longer secret).
const DEFAULT_KEY: &str = "minioadmin";
const PREFIX: &str = "triage-test-";
const STALE_AFTER: Duration = Duration::from_secs(2 * 60 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

static SWEPT: OnceCell<()> = OnceCell::const_new();

/// A bucket of its own for one test; emptied and deleted on `Drop`.
pub struct TestBucket {
    opts: S3Options,
}

impl TestBucket {
    /// A fresh, empty bucket, or `None` (after a `skipping:` line) when the server is not
    /// reachable.
    ///
    /// # Panics
    /// When the server is not reachable and `CI=true`, or when it refuses to create the
    /// bucket (wrong credentials, ...).
    pub async fn create() -> Option<TestBucket> {
        let base = base_options();
        if let Err(reason) = reachable(&base).await {
            return not_reachable(&base.endpoint, &reason);
        }
        SWEPT.get_or_init(|| sweep_stale(base.clone())).await;
        let name = format!("{PREFIX}{}-{:08x}", unix_secs(), rand::random::<u32>());
        let opts = S3Options {
            bucket: name,
            create_bucket: true,
            ..base
        };
        if let Err(err) = S3BlobStore::connect(opts.clone()).await {
            panic!("cannot create test bucket {}: {err}", opts.bucket);
        }
        Some(TestBucket {
            opts: S3Options {
                create_bucket: false,
                ..opts
            },
        })
    }

    /// Options for this bucket (tests may point `endpoint` elsewhere, e.g. at a proxy).
    pub fn options(&self) -> S3Options {
        self.opts.clone()
    }

    pub fn name(&self) -> &str {
        &self.opts.bucket
    }

    /// A store on this bucket, with the default options.
    pub async fn store(&self) -> S3BlobStore {
        S3BlobStore::connect(self.options())
            .await
            .unwrap_or_else(|err| panic!("cannot connect to {}: {err}", self.opts.bucket))
    }

    /// The bucket as a plain rust-s3 client, for looking behind the adapter's back.
    pub fn raw(&self) -> Box<Bucket> {
        raw_bucket(&self.opts)
    }

    /// `(key, upload id)` of the multipart uploads the server holds for this bucket, or
    /// `None` when the server cannot list them (s3s-fs answers ListMultipartUploads with 501).
    pub async fn pending_uploads(&self) -> Option<Vec<(String, String)>> {
        match self.raw().list_multiparts_uploads(None, None).await {
            Ok(pages) => Some(
                pages
                    .into_iter()
                    .flat_map(|page| page.uploads)
                    .map(|upload| (upload.key, upload.id))
                    .collect(),
            ),
            Err(s3::error::S3Error::HttpFailWithBody(501, _)) => None,
            Err(err) => panic!("cannot list multipart uploads: {err}"),
        }
    }

    /// Whether the server has forgotten upload `upload_id` of `key`: aborting it (again) must
    /// be refused — 404 NoSuchUpload on S3, MinIO and Garage, 403 on s3s-fs.
    pub async fn upload_is_gone(&self, key: &str, upload_id: &str) -> bool {
        match self.raw().abort_upload(key, upload_id).await {
            Ok(()) => false,
            Err(s3::error::S3Error::HttpFailWithBody(status, _)) => (400..500).contains(&status),
            Err(err) => panic!("cannot probe multipart upload {upload_id}: {err}"),
        }
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let opts = self.opts.clone();
        // Drop may run on any runtime (or none): a short-lived thread with its own runtime.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(remove_bucket(opts))
        })
        .join();
        if !matches!(outcome, Ok(Ok(()))) {
            // A leftover is swept by a later run; say so rather than fail a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "warning: test bucket {} was not deleted: {outcome:?}",
                self.opts.bucket
            );
        }
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The server's options from the environment, without a bucket.
fn base_options() -> S3Options {
    S3Options {
        region: env_or("TRIAGE_TEST_S3_REGION", "us-east-1"),
        request_timeout: Duration::from_secs(30),
        ..S3Options::new(
            env_or("TRIAGE_TEST_S3_URL", DEFAULT_URL),
            "",
            env_or("TRIAGE_TEST_S3_ACCESS_KEY", DEFAULT_KEY),
            env_or("TRIAGE_TEST_S3_SECRET_KEY", DEFAULT_KEY),
        )
    }
}

/// `host:port` of an endpoint (`http://h:p`, `https://h`, `h:p`).
pub fn authority(endpoint: &str) -> String {
    let (https, rest) = match endpoint.trim().split_once("://") {
        Some((scheme, rest)) => (scheme.eq_ignore_ascii_case("https"), rest),
        None => (false, endpoint.trim()),
    };
    let host = rest.split('/').next().unwrap_or(rest);
    if host
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:{}", if https { 443 } else { 80 })
    }
}

async fn reachable(opts: &S3Options) -> Result<(), String> {
    let address = authority(&opts.endpoint);
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

fn not_reachable(endpoint: &str, reason: &str) -> Option<TestBucket> {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "S3 server not reachable at {endpoint} ({reason}); CI=true requires it: start it \
             (../shared/tools/start-s3.sh s3s-fs) or set TRIAGE_TEST_S3_URL"
        );
    }
    // Straight to stderr: the harness captures `eprintln!`, and this line must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "skipping: S3 server not reachable at {endpoint} ({reason})"
    );
    None
}

fn raw_bucket(opts: &S3Options) -> Box<Bucket> {
    let region = Region::Custom {
        region: opts.region.clone(),
        endpoint: opts.endpoint_url().unwrap(),
    };
    let credentials = Credentials::new(
        Some(&opts.access_key),
        Some(&opts.secret_key),
        None,
        None,
        None,
    )
    .unwrap();
    let mut bucket = *Bucket::new(&opts.bucket, region, credentials)
        .unwrap()
        .with_path_style();
    bucket.set_request_timeout(Some(opts.request_timeout));
    Box::new(bucket)
}

/// Deletes every object (and pending upload, where listable), then the bucket.
async fn remove_bucket(opts: S3Options) -> Result<(), String> {
    let store = S3BlobStore::connect(opts.clone())
        .await
        .map_err(|e| e.to_string())?;
    for meta in store.list("").await.map_err(|e| e.to_string())? {
        store.delete(&meta.key).await.map_err(|e| e.to_string())?;
    }
    let raw = raw_bucket(&opts);
    if let Ok(pages) = raw.list_multiparts_uploads(None, None).await {
        for upload in pages.into_iter().flat_map(|page| page.uploads) {
            let _ = raw.abort_upload(&upload.key, &upload.id).await;
        }
    }
    raw.delete().await.map(drop).map_err(|e| e.to_string())
}

/// Deletes `triage-test-<secs>-<random>` buckets older than [`STALE_AFTER`]: leftovers of
/// runs that crashed before their `Drop`. Younger ones may belong to a run in progress.
async fn sweep_stale(base: S3Options) {
    let region = Region::Custom {
        region: base.region.clone(),
        endpoint: base.endpoint_url().unwrap(),
    };
    let credentials = Credentials::new(
        Some(&base.access_key),
        Some(&base.secret_key),
        None,
        None,
        None,
    )
    .unwrap();
    let Ok(listing) = Bucket::list_buckets(region, credentials).await else {
        return;
    };
    let now = unix_secs();
    for name in listing.bucket_names() {
        let Some(created) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next()?.parse::<u64>().ok())
        else {
            continue;
        };
        if now.saturating_sub(created) > STALE_AFTER.as_secs() {
            let opts = S3Options {
                bucket: name.clone(),
                ..base.clone()
            };
            if let Err(err) = remove_bucket(opts).await {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: cannot delete stale test bucket {name}: {err}"
                );
            }
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
