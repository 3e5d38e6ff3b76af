//! The JSON bodies of ml-protocol.md §1: the `/infer` request, its 200 answer and `/health`.
//! Parsing is lenient about types (numbers sent as strings, extra fields) and strict about the
//! one thing that decides the outcome: `status`.

use serde::Serialize;
use serde_json::{Map, Value};
use triage_domain::ports::{
    Completion, CompletionStatus, HealthReport, InferenceRequest, Submission,
};

/// The `/infer` request body.
#[derive(Debug, Serialize)]
pub(crate) struct InferBody<'a> {
    job_uuid: String,
    input_object: &'a str,
    output_object: &'a str,
    profile: &'a str,
    threshold: f64,
    bucket: &'a str,
    callback_url: Option<&'a str>,
}

impl<'a> InferBody<'a> {
    pub(crate) fn new(request: &'a InferenceRequest, bucket: &'a str) -> Self {
        Self {
            job_uuid: request.job_id.to_string(),
            input_object: request.input_key.as_str(),
            output_object: request.output_key.as_str(),
            profile: &request.profile,
            threshold: request.threshold,
            bucket,
            callback_url: request.callback_url.as_deref(),
        }
    }
}

/// Statuses that mean "taken, result later" besides the progress synonyms.
const ACCEPTED: [&str; 4] = ["accepted", "queued", "pending", "submitted"];

/// A 200 answer to `/infer`; `Err` says why it is not understood.
pub(crate) fn submission(body: &[u8]) -> Result<Submission, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Submission::Accepted);
    }
    let object = object(body)?;
    let raw = status(&object)?;
    if ACCEPTED.contains(&raw.trim().to_ascii_lowercase().as_str()) {
        return Ok(Submission::Accepted);
    }
    match CompletionStatus::parse(raw) {
        Some(CompletionStatus::Progress) => Ok(Submission::Accepted),
        Some(status) => Ok(Submission::Completed(Completion {
            status,
            output_object: text(object.get("output_object")),
            file_size: number(object.get("file_size")).and_then(whole),
            file_name: text(object.get("file_name")),
            error: object.get("error").and_then(error_text),
            duration_seconds: number(object.get("duration_seconds")),
        })),
        None => Err(format!("an unknown status {}", quoted(raw))),
    }
}

/// A 200 answer to `/health`; `Err` says why it is not a healthy one.
pub(crate) fn health(body: &[u8]) -> Result<HealthReport, String> {
    let object = object(body)?;
    let raw = status(&object)?;
    if !matches!(raw.trim().to_ascii_lowercase().as_str(), "healthy" | "ok") {
        return Err(format!("status {}", quoted(raw)));
    }
    Ok(HealthReport {
        healthy: true,
        model_loaded: object.get("model_loaded").and_then(Value::as_bool),
        version: object.get("version").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
    })
}

fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("JSON that is not an object".into()),
        Err(_) => Err("a body that is not JSON".into()),
    }
}

fn status(object: &Map<String, Value>) -> Result<&str, String> {
    match object.get("status") {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err("a status that is not a string".into()),
        None => Err("no status".into()),
    }
}

fn quoted(raw: &str) -> String {
    let short: String = raw.chars().take(40).collect();
    format!("{short:?}")
}

fn text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn error_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

fn whole(n: f64) -> Option<u64> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_answers_carry_their_fields_leniently() {
        let body = br#"{"job_uuid":"x","status":"Completed","output_object":"results/x.xlsx",
            "file_size":"5061","file_name":"x.xlsx","error":null,"duration_seconds":41.7}"#;
        let Ok(Submission::Completed(c)) = submission(body) else {
            panic!("not completed")
        };
        assert_eq!(c.status, CompletionStatus::Succeeded);
        assert_eq!(c.output_object.as_deref(), Some("results/x.xlsx"));
        assert_eq!(c.file_size, Some(5061));
        assert_eq!(c.file_name.as_deref(), Some("x.xlsx"));
        assert_eq!(c.error, None);
        assert_eq!(c.duration_seconds, Some(41.7));

        let Ok(Submission::Completed(c)) = submission(br#"{"status":"error","error":{"a":1}}"#)
        else {
            panic!("not completed")
        };
        assert_eq!(c.status, CompletionStatus::Failed);
        assert_eq!(c.error.as_deref(), Some(r#"{"a":1}"#));
    }

    #[test]
    fn accepted_and_unknown_answers() {
        for body in [
            &b""[..],
            b" \n",
            br#"{"status":"accepted"}"#,
            br#"{"status":"running"}"#,
        ] {
            assert_eq!(submission(body), Ok(Submission::Accepted));
        }
        for body in [
            &b"<html>"[..],
            b"[]",
            br#"{"status":7}"#,
            br#"{"a":1}"#,
            br#"{"status":"meh"}"#,
        ] {
            assert!(submission(body).is_err());
        }
    }

    #[test]
    fn health_statuses() {
        let report = health(br#"{"status":"OK","model_loaded":false,"version":3}"#).unwrap();
        assert!(report.healthy);
        assert_eq!(report.model_loaded, Some(false));
        assert_eq!(report.version.as_deref(), Some("3"));
        assert!(health(br#"{"status":"loading"}"#).is_err());
        assert!(health(b"healthy").is_err());
    }
}
