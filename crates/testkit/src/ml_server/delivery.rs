//! Reports and completions: what the scripted service writes to the store and posts back.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::AUTHORIZATION;
use serde_json::{Value, json};
use triage_domain::BlobKey;
use triage_domain::ports::BlobReader;

use super::behaviour::{CallbackAuth, GARBAGE_REPORT, Outcome};
use super::service::{Inner, Target};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// One completion sent.
#[derive(Debug, Clone)]
pub struct CallbackRecord {
    pub job_uuid: String,
    pub url: Option<String>,
    pub body: Value,
    pub authorization: Option<String>,
    /// triage's answer; `None` if there was none (see `error`).
    pub status: Option<u16>,
    pub response: String,
    pub error: Option<String>,
    pub at: Instant,
}

/// Writes the report as `outcome` says and sends the completion.
pub(super) async fn deliver(
    inner: Arc<Inner>,
    target: Target,
    outcome: Outcome,
    auth: CallbackAuth,
) -> CallbackRecord {
    let body = produce(inner.clone(), target.clone(), outcome, false).await;
    send(&inner, &target, body, &auth).await
}

/// Writes the report as `outcome` says; returns the completion's body (the synchronous
/// answer's if `sync`: `status` `completed` and the `job_uuid`).
pub(super) async fn produce(
    inner: Arc<Inner>,
    target: Target,
    outcome: Outcome,
    sync: bool,
) -> Value {
    let written = match &outcome {
        Outcome::Succeeded(rows) => match triage_report::write(rows) {
            Ok(bytes) => Some(write(&inner, &target, bytes).await),
            Err(err) => Some(Err(format!("could not build the report: {err}"))),
        },
        Outcome::Garbage => Some(write(&inner, &target, GARBAGE_REPORT.to_vec()).await),
        Outcome::NoReport | Outcome::Failed(_) => None,
        Outcome::Body(body) => return body.clone(),
    };
    let file_name = target.output_object.rsplit('/').next().unwrap_or_default();
    let mut body = match (&outcome, &written) {
        (Outcome::Failed(error), _) | (_, Some(Err(error))) => json!({
            "status": "failed", "output_object": null, "file_size": null, "file_name": null,
            "error": error, "duration_seconds": 1.5,
        }),
        (_, size) => json!({
            "status": if sync { "completed" } else { "succeeded" },
            "output_object": target.output_object, "file_size": size.as_ref().and_then(|r| r.as_ref().ok()),
            "file_name": file_name, "error": null, "duration_seconds": 1.5,
        }),
    };
    if sync {
        body["job_uuid"] = json!(target.job);
    }
    body
}

async fn write(inner: &Inner, target: &Target, bytes: Vec<u8>) -> Result<u64, String> {
    let key = BlobKey::parse(target.output_object.as_str()).map_err(|e| e.to_string())?;
    let reader: BlobReader = Box::pin(futures_util::io::Cursor::new(bytes));
    let written = inner.store.put(&key, reader, XLSX).await;
    written.map_err(|err| format!("could not write the report: {err}"))
}

/// Posts `body` to the target's callback URL and records the exchange.
pub(super) async fn send(
    inner: &Inner,
    target: &Target,
    body: Value,
    auth: &CallbackAuth,
) -> CallbackRecord {
    let authorization = match auth {
        CallbackAuth::Service if inner.token.is_empty() => None,
        CallbackAuth::Service => Some(format!("Bearer {}", inner.token)),
        CallbackAuth::Bearer(token) => Some(format!("Bearer {token}")),
        CallbackAuth::Raw(token) => Some(token.clone()),
        CallbackAuth::Missing => None,
    };
    let mut record = CallbackRecord {
        job_uuid: target.job.clone(),
        url: target.callback_url.clone(),
        body,
        authorization,
        status: None,
        response: String::new(),
        error: None,
        at: Instant::now(),
    };
    match &record.url {
        None => record.error = Some("no callback_url and no callback base".into()),
        Some(url) => {
            let mut request = inner.client.post(url).json(&record.body);
            if let Some(value) = &record.authorization {
                request = request.header(AUTHORIZATION.as_str(), value);
            }
            match request.send().await {
                Ok(response) => {
                    record.status = Some(response.status().as_u16());
                    record.response = response.text().await.unwrap_or_default();
                }
                Err(err) => record.error = Some(err.to_string()),
            }
        }
    }
    inner.state().callbacks.push(record.clone());
    record
}
