//! The public API of a running triage server (spec/api.md), as `triage submit` needs it: log in,
//! upload (multipart, streamed), watch a job over its WebSocket, fetch the results.

use futures_util::{Stream, StreamExt};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use triage_domain::ReportRow;
use uuid::Uuid;

use crate::BatchError;

/// A logged-in client of one server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// How a job ended, as its last `job.update` frame says.
#[derive(Debug, Clone)]
pub struct JobEnd {
    pub status: String,
    pub reason: Option<String>,
}

impl JobEnd {
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }
}

const TERMINAL: [&str; 3] = ["succeeded", "failed", "cancelled"];

fn server(e: impl std::fmt::Display) -> BatchError {
    BatchError::Server(e.to_string())
}

/// The `detail` of an error body, or the status line.
async fn refusal(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body.get("detail").and_then(Value::as_str) {
        Some(detail) => format!("{status}: {detail}"),
        None => status.to_string(),
    }
}

impl Client {
    /// `base` like `http://host:8000` (a trailing `/` is ignored).
    pub fn new(base: &str, token: String) -> Result<Self, BatchError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(server)?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// `POST /auth/login`: a client with the access token.
    pub async fn login(base: &str, username: &str, password: &str) -> Result<Self, BatchError> {
        let anonymous = Self::new(base, String::new())?;
        let response = anonymous
            .http
            .post(format!("{}/auth/login", anonymous.base))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .map_err(server)?;
        if !response.status().is_success() {
            return Err(BatchError::Login(refusal(response).await));
        }
        #[derive(Deserialize)]
        struct Login {
            access_token: String,
        }
        let login: Login = response.json().await.map_err(server)?;
        Ok(Self {
            token: login.access_token,
            ..anonymous
        })
    }

    /// `POST /jobs` with `body` as the `file` part; `on_sent` hears of every chunk sent.
    pub async fn upload<S>(
        &self,
        body: S,
        file_name: &str,
        profile: &str,
        threshold: f64,
        on_sent: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<Result<Uuid, String>, BatchError>
    where
        S: Stream<Item = std::io::Result<bytes::Bytes>> + Send + Sync + 'static,
    {
        let counted = body.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                on_sent(bytes.len() as u64);
            }
            chunk
        });
        let part = Part::stream(reqwest::Body::wrap_stream(counted))
            .file_name(file_name.to_owned())
            .mime_str("application/zip")
            .map_err(server)?;
        let form = Form::new()
            .text("title", file_name.to_owned())
            .text("profile", profile.to_owned())
            .text("threshold", threshold.to_string())
            .part("file", part);
        let response = self
            .http
            .post(format!("{}/jobs", self.base))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .map_err(server)?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(BatchError::Login(refusal(response).await));
        }
        if !response.status().is_success() {
            // The server refused this upload (invalid archive, no DICOM …): a failed study.
            return Ok(Err(refusal(response).await));
        }
        let job: Value = response.json().await.map_err(server)?;
        let id = job
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| server("POST /jobs answered without a job id"))?;
        Ok(Ok(id))
    }

    /// Waits over `GET /ws/jobs/{id}` until the job is terminal. The first frame is a snapshot,
    /// so nothing that happened before the socket opened is missed; a socket that closes early
    /// (a server restart) is opened again.
    pub async fn wait(&self, id: Uuid) -> Result<JobEnd, BatchError> {
        let ws_base = self
            .base
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        let url = format!("{ws_base}/ws/jobs/{id}?token={}", self.token);
        for _ in 0..10 {
            let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(server)?;
            while let Some(message) = socket.next().await {
                let Ok(Message::Text(text)) = message else {
                    continue;
                };
                let frame: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                if frame.get("type").and_then(Value::as_str) == Some("job.not_found") {
                    return Err(server(format!("job {id} vanished")));
                }
                let job = &frame["job"];
                let status = job["status"].as_str().unwrap_or_default();
                if TERMINAL.contains(&status) {
                    let _ = socket.close(None).await;
                    return Ok(JobEnd {
                        status: status.to_owned(),
                        reason: job["status_reason"].as_str().map(str::to_owned),
                    });
                }
            }
        }
        Err(server(format!("the WebSocket of job {id} kept closing")))
    }

    /// `GET /jobs/{id}/results`: the parsed report rows.
    pub async fn results(&self, id: Uuid) -> Result<Vec<ReportRow>, BatchError> {
        let response = self
            .http
            .get(format!("{}/jobs/{id}/results", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(server)?;
        if !response.status().is_success() {
            return Err(server(refusal(response).await));
        }
        #[derive(Deserialize)]
        struct Results {
            results: Report,
        }
        #[derive(Deserialize)]
        struct Report {
            rows: Vec<ReportRow>,
        }
        let results: Results = response.json().await.map_err(server)?;
        Ok(results.results.rows)
    }
}
