//! triage wired to a [`ScriptedMl`] service: both share one blob store (the local-disk store
//! in the server's data directory), as a deployment shares its bucket.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use triage_blob_fs::FsBlobStore;
use triage_server::Config;

use crate::ml_server::ScriptedMl;
use crate::{Actor, TestApp, ok_json};

/// The token both sides share in these tests.
pub const ML_TOKEN: &str = "scripted-ml-token-0123456789abcdef";

pub struct MlTestApp {
    pub app: TestApp,
    pub ml: ScriptedMl,
    _data: TempDir,
}

impl MlTestApp {
    /// triage (dispatching step by step) and a scripted ML service.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let blobs = FsBlobStore::open(data.path().join("blobs"))
            .await
            .expect("blob store");
        let ml = ScriptedMl::start(Arc::new(blobs), ML_TOKEN).await;
        let url = ml.url();
        let dir = data.path().to_path_buf();
        let app = TestApp::spawn_with(move |config| {
            config.data_dir = dir;
            config.ml.url = url;
            config.ml.token = ML_TOKEN.into();
            config.ml.request_timeout_secs = 3;
            config.ml.connect_timeout_secs = 1;
            tweak(config);
        })
        .await;
        Self {
            app,
            ml,
            _data: data,
        }
    }

    /// Uploads a fixture and returns the job's id.
    pub async fn upload(&self, actor: &Actor, fixture: &str) -> String {
        let job = ok_json(self.app.upload_fixture(actor, fixture).await, 201).await;
        job["id"].as_str().expect("id").to_owned()
    }

    /// The job as its owner sees it.
    pub async fn job(&self, actor: &Actor, id: &str) -> Value {
        ok_json(self.app.get(&format!("/jobs/{id}"), actor).await, 200).await
    }

    /// Polls until the job's status is `status` (callbacks arrive on their own schedule).
    pub async fn wait_for_status(&self, actor: &Actor, id: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let job = self.job(actor, id).await;
            if job["status"] == status {
                return job;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job {id} never became {status}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
