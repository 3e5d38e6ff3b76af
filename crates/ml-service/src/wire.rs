//! The JSON of ml-protocol.md: the `/infer` body (§1) checked into a [`Job`], and the
//! completion (§2) as the callback body and as the synchronous answer.
//!
//! Parsing is lenient where the old backend was loose (numbers as strings, `output_object`
//! null, extra fields) and strict where a mistake would lose or misplace a result: the job id
//! must be a UUID, keys must be valid store keys, the report may not overwrite the upload nor
//! leave the output prefix, and a job must have somewhere to report to.

use serde_json::{Map, Value, json};
use triage_domain::BlobKey;
use triage_engine::Profile;
use uuid::Uuid;

use crate::config::check_http_url;
use crate::job::Outcome;

/// A validated `/infer` request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Job {
    /// The canonical (lower-case, hyphenated) job UUID.
    pub id: String,
    pub input: BlobKey,
    pub output: BlobKey,
    pub profile: Profile,
    pub threshold: f64,
    /// Where the completion goes: the request's `callback_url`, else `BACKEND_URL`'s.
    pub callback_url: Option<String>,
}

/// What fills the gaps of a request, and what it is checked against.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub profile: Profile,
    pub threshold: f64,
    pub output_prefix: String,
    pub backend_url: Option<String>,
    /// The S3 bucket this service reads; `None` for a local directory (`bucket` is ignored).
    pub bucket: Option<String>,
    /// A synchronous service needs no callback target.
    pub sync: bool,
}

/// Parses and checks an `/infer` body; `Err` is the 422 `detail`.
pub(crate) fn parse_infer(body: &[u8], rules: &Rules) -> Result<Job, String> {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("the body must be a JSON object".into()),
        Err(err) => return Err(format!("the body is not valid JSON: {err}")),
    };
    let id = match text(&object, "job_uuid")? {
        Some(raw) => Uuid::parse_str(raw)
            .map_err(|_| format!("job_uuid must be a UUID, got {:?}", short(raw)))?
            .to_string(),
        None => return Err("job_uuid is required".into()),
    };
    let input = match text(&object, "input_object")? {
        Some(raw) => key("input_object", raw)?,
        None => return Err("input_object is required".into()),
    };
    let output = match text(&object, "output_object")? {
        Some(raw) => key("output_object", raw)?,
        None => key(
            "output_object",
            &format!("{}{id}.xlsx", default_prefix(rules)),
        )?,
    };
    if !output.as_str().starts_with(&rules.output_prefix) {
        return Err(format!(
            "output_object must lie under {:?}, got {:?}",
            rules.output_prefix,
            short(output.as_str())
        ));
    }
    if output == input {
        return Err("output_object must not be the upload itself".into());
    }
    let profile = match text(&object, "profile")? {
        Some(raw) => raw.parse::<Profile>().map_err(|err| err.to_string())?,
        None => rules.profile,
    };
    let threshold = threshold(object.get("threshold"))?.unwrap_or(rules.threshold);
    if let (Some(ours), Some(theirs)) = (&rules.bucket, text(&object, "bucket")?)
        && ours != theirs
    {
        return Err(format!(
            "bucket {:?} is not the bucket this service reads ({ours:?})",
            short(theirs)
        ));
    }
    let callback_url = match text(&object, "callback_url")? {
        Some(url) => {
            check_http_url(url).map_err(|err| format!("callback_url {err}"))?;
            Some(url.to_owned())
        }
        None => rules.backend_url.as_ref().map(|base| {
            format!(
                "{}/internal/jobs/{id}/completion",
                base.trim().trim_end_matches('/')
            )
        }),
    };
    if callback_url.is_none() && !rules.sync {
        return Err(
            "no callback_url, and BACKEND_URL is not configured: the result could not be delivered"
                .into(),
        );
    }
    Ok(Job {
        id,
        input,
        output,
        profile,
        threshold,
        callback_url,
    })
}

fn default_prefix(rules: &Rules) -> &str {
    if rules.output_prefix.is_empty() {
        "results/"
    } else {
        &rules.output_prefix
    }
}

/// A string field; `None` when missing, null or blank.
fn text<'a>(object: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

fn key(field: &str, raw: &str) -> Result<BlobKey, String> {
    BlobKey::parse(raw).map_err(|err| format!("{field} {:?} is not a valid key: {err}", short(raw)))
}

/// A number (or a numeric string, `,` accepted as the decimal separator) in 0–1.
fn threshold(value: Option<&Value>) -> Result<Option<f64>, String> {
    let number = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().replace(',', ".").parse::<f64>().ok(),
        Some(_) => None,
    };
    match number {
        Some(n) if n.is_finite() && (0.0..=1.0).contains(&n) => Ok(Some(n)),
        _ => Err("threshold must be a number between 0 and 1".into()),
    }
}

/// At most 80 characters of caller input in a message.
fn short(raw: &str) -> String {
    raw.chars().take(80).collect()
}

/// The callback body of ml-protocol.md §2; `None` for an abandoned job (nothing to report).
pub(crate) fn completion(outcome: &Outcome) -> Option<Value> {
    match outcome {
        Outcome::Succeeded {
            output_object,
            file_size,
            file_name,
            duration,
        } => Some(json!({
            "status": "succeeded",
            "output_object": output_object,
            "file_size": file_size,
            "file_name": file_name,
            "error": null,
            "duration_seconds": duration.as_secs_f64(),
        })),
        Outcome::Failed { error, duration } => Some(json!({
            "status": "failed",
            "output_object": null,
            "file_size": null,
            "file_name": null,
            "error": error,
            "duration_seconds": duration.as_secs_f64(),
        })),
        Outcome::Abandoned { .. } => None,
    }
}

/// The 200 answer of a synchronous `/infer`: the completion with `job_uuid`, and `status`
/// `completed` (the old service's word) or `failed`.
pub(crate) fn sync_answer(job: &str, outcome: &Outcome) -> Option<Value> {
    let mut body = completion(outcome)?;
    if let Value::Object(object) = &mut body {
        if object.get("status").and_then(Value::as_str) == Some("succeeded") {
            object.insert("status".into(), json!("completed"));
        }
        object.insert("job_uuid".into(), json!(job));
    }
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            profile: Profile::FastDebug,
            threshold: 0.25,
            output_prefix: "results/".into(),
            backend_url: Some("http://triage:8000/".into()),
            bucket: None,
            sync: false,
        }
    }

    const ID: &str = "8B0C3A3E-1F0A-4C5B-9D1E-2F3A4B5C6D7E";

    #[test]
    fn the_old_backends_body_gets_defaults() {
        let body = format!(
            r#"{{"job_uuid":"{ID}","input_object":"jobs/a.zip","output_object":null,"x":1}}"#
        );
        let job = parse_infer(body.as_bytes(), &rules()).unwrap();
        let id = ID.to_lowercase();
        assert_eq!(job.id, id);
        assert_eq!(job.output.as_str(), format!("results/{id}.xlsx"));
        assert_eq!(job.profile, Profile::FastDebug);
        assert_eq!(job.threshold, 0.25);
        assert_eq!(
            job.callback_url.unwrap(),
            format!("http://triage:8000/internal/jobs/{id}/completion")
        );
    }

    #[test]
    fn triages_body_is_taken_as_is() {
        let body = format!(
            r#"{{"job_uuid":"{ID}","input_object":"jobs/a.zip","output_object":"results/r.xlsx",
            "profile":"research","threshold":"0,5","bucket":"uploads",
            "callback_url":"http://t/internal/jobs/x/completion"}}"#
        );
        let job = parse_infer(body.as_bytes(), &rules()).unwrap();
        assert_eq!(job.output.as_str(), "results/r.xlsx");
        assert_eq!(job.profile, Profile::Research);
        assert_eq!(job.threshold, 0.5);
        assert_eq!(
            job.callback_url.as_deref(),
            Some("http://t/internal/jobs/x/completion")
        );
    }

    #[test]
    fn bad_bodies_say_why() {
        let cases = [
            (r#"[1]"#, "JSON object"),
            (r#"{"input_object":"jobs/a.zip"}"#, "job_uuid is required"),
            (r#"{"job_uuid":"x","input_object":"a"}"#, "UUID"),
            (
                &format!(r#"{{"job_uuid":"{ID}"}}"#),
                "input_object is required",
            ),
            (
                &format!(r#"{{"job_uuid":"{ID}","input_object":"../a"}}"#),
                "valid key",
            ),
            (
                &format!(r#"{{"job_uuid":"{ID}","input_object":"a","profile":"turbo"}}"#),
                "unknown analysis profile",
            ),
            (
                &format!(r#"{{"job_uuid":"{ID}","input_object":"a","threshold":2}}"#),
                "threshold",
            ),
            (
                &format!(r#"{{"job_uuid":"{ID}","input_object":"a","output_object":"jobs/b"}}"#),
                "must lie under",
            ),
            (
                &format!(r#"{{"job_uuid":"{ID}","input_object":"a","callback_url":"https://t"}}"#),
                "https",
            ),
            (r#"{"job_uuid":7,"input_object":"a"}"#, "string"),
        ];
        for (body, expected) in cases {
            let err = parse_infer(body.as_bytes(), &rules()).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    #[test]
    fn the_bucket_is_checked_on_s3_and_a_callback_target_is_needed_when_async() {
        let body = format!(r#"{{"job_uuid":"{ID}","input_object":"a","bucket":"other"}}"#);
        let s3 = Rules {
            bucket: Some("uploads".into()),
            ..rules()
        };
        assert!(
            parse_infer(body.as_bytes(), &s3)
                .unwrap_err()
                .contains("bucket")
        );
        assert!(parse_infer(body.as_bytes(), &rules()).is_ok());
        let nowhere = Rules {
            backend_url: None,
            ..rules()
        };
        assert!(parse_infer(body.as_bytes(), &nowhere).is_err());
        let sync = Rules {
            sync: true,
            ..nowhere
        };
        assert_eq!(
            parse_infer(body.as_bytes(), &sync).unwrap().callback_url,
            None
        );
    }
}
