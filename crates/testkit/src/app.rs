//! The whole application, started in-process on a temp directory and a free port, with a
//! reqwest client and helpers that read like the API's users: register, log in, upload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use triage_app::{App, Registration};
use triage_domain::Role;
use triage_server::{Config, Server};

use crate::clock::TestClock;

/// A user of the running server.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub username: String,
    pub password: String,
    pub token: String,
}

impl Actor {
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// A running triage server for one test.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub config: Config,
    /// The server's clock: `clock.advance(..)` moves time for backoff, leases and timeouts.
    pub clock: Arc<TestClock>,
    server: Option<Server>,
    _data: TempDir,
    /// What must outlive the server: a test database, a test bucket.
    _guards: Vec<Box<dyn std::any::Any + Send>>,
}

impl TestApp {
    /// The embedded defaults on a fresh data directory and a free port.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], after `tweak` adjusted the configuration.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = Config::embedded_defaults().expect("embedded config");
        config.data_dir = data.path().to_path_buf();
        config.server.bind = "127.0.0.1:0".into();
        config.server.workers = 2;
        config.auth.jwt_secret = format!("test-secret-{}", uuid::Uuid::new_v4()).into();
        // Tests drive dispatching step by step (`dispatch`) unless they turn the loop on.
        config.ml.dispatch = false;
        tweak(&mut config);
        let clock = Arc::new(TestClock::default());
        let server = Server::start_with_clock(&config, clock.clone())
            .await
            .expect("server starts");
        let base = format!("http://{}", server.addr());
        let client = Client::builder().no_proxy().build().expect("http client");
        Self {
            base,
            client,
            config,
            clock,
            server: Some(server),
            _data: data,
            _guards: Vec::new(),
        }
    }

    /// The production stack: a fresh PostgreSQL database and a fresh S3 bucket (see
    /// [`crate::pg`] and [`crate::s3`]); `None` (skipped) when either is not reachable
    /// outside CI.
    pub async fn spawn_production() -> Option<Self> {
        Self::spawn_production_with(|_| {}).await
    }

    pub async fn spawn_production_with(tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = crate::pg::TestDb::create().await?;
        let bucket = crate::s3::TestBucket::create().await?;
        let (url, s3) = (db.url().to_owned(), bucket.options());
        let mut app = Self::spawn_with(move |config| {
            config.database.url = url;
            config.database.migrate_on_start = false;
            config.blobs.backend = triage_server::config::BlobBackend::S3;
            config.blobs.endpoint = s3.endpoint.clone();
            config.blobs.bucket = s3.bucket.clone();
            config.blobs.region = s3.region.clone();
            config.blobs.access_key = s3.access_key.clone();
            config.blobs.secret_key = s3.secret_key.clone().into();
            config.blobs.create_bucket = false;
            tweak(config);
        })
        .await;
        app._guards.push(Box::new(db));
        app._guards.push(Box::new(bucket));
        Some(app)
    }

    pub fn app(&self) -> &App {
        self.server.as_ref().expect("running").app()
    }

    /// One dispatch step, as the loop would run it.
    pub async fn dispatch(&self) -> triage_app::DispatchReport {
        self.app()
            .dispatch_step("test-worker")
            .await
            .expect("dispatch step")
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop(true).await;
        }
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        let body = json!({"username": username, "password": password});
        self.client
            .post(self.url("/auth/register"))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        let body = json!({"username": username, "password": password});
        self.client
            .post(self.url("/auth/login"))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Registers a fresh user over HTTP and logs them in.
    pub async fn new_user(&self) -> Actor {
        let username = format!("user_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let password = "secret-password".to_owned();
        let created: Value = ok_json(self.register(&username, &password).await, 201).await;
        self.log_in(
            created["id"].as_str().expect("id").to_owned(),
            username,
            password,
        )
        .await
    }

    /// Creates an administrator through the use case (as the CLI does) and logs them in.
    pub async fn new_admin(&self) -> Actor {
        let username = format!("admin_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let password = "admin-password".to_owned();
        let form = Registration {
            username: username.clone(),
            password: password.clone(),
            ..Default::default()
        };
        let user = self
            .app()
            .create_user(form, Role::Admin)
            .await
            .expect("admin created");
        self.log_in(user.id.to_string(), username, password).await
    }

    async fn log_in(&self, id: String, username: String, password: String) -> Actor {
        let login: Value = ok_json(self.login(&username, &password).await, 200).await;
        let token = login["access_token"].as_str().expect("token").to_owned();
        Actor {
            id,
            username,
            password,
            token,
        }
    }

    /// POST /jobs with one `file` part holding `bytes`.
    pub async fn upload(&self, actor: &Actor, file_name: &str, bytes: Vec<u8>) -> Response {
        let form = Form::new().part("file", Part::bytes(bytes).file_name(file_name.to_owned()));
        self.post_form("/jobs", actor, form).await
    }

    /// POST /jobs with a fixture file.
    pub async fn upload_fixture(&self, actor: &Actor, name: &str) -> Response {
        let bytes = std::fs::read(fixture(name)).expect("fixture");
        self.upload(actor, name, bytes).await
    }

    pub async fn post_form(&self, path: &str, actor: &Actor, form: Form) -> Response {
        self.client
            .post(self.url(path))
            .header("Authorization", actor.bearer())
            .multipart(form)
            .send()
            .await
            .expect("request")
    }

    /// GET with the actor's token.
    pub async fn get(&self, path: &str, actor: &Actor) -> Response {
        self.client
            .get(self.url(path))
            .header("Authorization", actor.bearer())
            .send()
            .await
            .expect("request")
    }

    /// What an upload may leave behind: every regular file under the data directory except
    /// the database and the JWT secret, and (on S3) every object in the bucket as `s3://key`.
    pub async fn stored_files(&self) -> Vec<String> {
        let mut found = Vec::new();
        walk(self.data_dir(), &mut found);
        let mut found: Vec<String> = found
            .into_iter()
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                !name.starts_with("triage.db") && name != "jwt-secret"
            })
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if self.config.blobs.uses_s3() {
            let objects = self
                .app()
                .ports()
                .blobs
                .list("")
                .await
                .expect("list bucket");
            found.extend(objects.into_iter().map(|meta| format!("s3://{}", meta.key)));
        }
        found.sort();
        found
    }
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found)
        } else {
            found.push(path)
        }
    }
}

/// Asserts the status and returns the JSON body (with the body in the panic message if not).
pub async fn ok_json(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A file of `../shared/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// `TRIAGE_FIXTURES` if set, else `shared/fixtures` beside the repository (the workplace
/// layout), else `/work/shared/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRIAGE_FIXTURES") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from("/work/shared/fixtures")
    }
}
