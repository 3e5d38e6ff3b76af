#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `HttpInference` against `ScriptedMl` over real HTTP: every answer of ml-protocol.md §1 from
//! the client's side, and the scripted service's callbacks (§2) against a tiny receiver.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use triage_blob_fs::FsBlobStore;
use triage_domain::ports::{BlobStore, CompletionStatus, Inference, InferenceRequest, Submission};
use triage_domain::{BlobKey, DomainError, JobId};
use triage_ml_http::{HttpInference, HttpInferenceOptions};
use triage_testkit::ml_server::{Behaviour, Outcome, ScriptedMl};

#[path = "ml_http/callbacks.rs"]
mod callbacks;

const TOKEN: &str = "ml-test-token-7f3a";
const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    ml: ScriptedMl,
    client: HttpInference,
    store: Arc<dyn BlobStore>,
    _dir: TempDir,
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

async fn setup_with(tweak: impl FnOnce(&mut HttpInferenceOptions)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> =
        Arc::new(FsBlobStore::open(dir.path().join("blobs")).await.unwrap());
    let ml = ScriptedMl::start(store.clone(), TOKEN).await;
    // No callbacks unless a test asks for them.
    ml.set_default(Behaviour::accept());
    let mut options = HttpInferenceOptions {
        token: TOKEN.into(),
        request_timeout: Duration::from_secs(10),
        ..HttpInferenceOptions::new(ml.url())
    };
    tweak(&mut options);
    let client = HttpInference::new(options).unwrap();
    Setup {
        ml,
        client,
        store,
        _dir: dir,
    }
}

fn request(callback_url: Option<String>) -> InferenceRequest {
    let job = JobId::random();
    InferenceRequest {
        job_id: job,
        input_key: BlobKey::upload(job, ".zip"),
        output_key: BlobKey::report(job),
        profile: "fast_debug".into(),
        threshold: 0.25,
        callback_url,
    }
}

async fn read(store: &Arc<dyn BlobStore>, key: &str) -> Vec<u8> {
    let body = store.get(&BlobKey::parse(key).unwrap()).await.unwrap();
    let chunks: Vec<_> = body.stream.collect().await;
    chunks
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect()
}

fn unavailable(err: DomainError) -> (String, Option<u64>) {
    match err {
        DomainError::Unavailable {
            service,
            detail,
            retry_after_secs,
        } => {
            assert_eq!(service, "ml");
            (detail, retry_after_secs)
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

// ------------------------------------------------------------------------ §1 client side

#[tokio::test]
async fn answer_202_is_accepted() {
    let s = setup().await;
    let req = request(None);
    assert_eq!(s.client.submit(&req).await.unwrap(), Submission::Accepted);
    assert_eq!(s.ml.infer_count(req.job_id), 1);
    assert_eq!(s.ml.accepted_count(req.job_id), 1);
    assert_eq!(s.ml.infer_calls()[0].answer, Some(202));
}

#[tokio::test]
async fn answer_200_accepted_is_accepted() {
    let s = setup().await;
    s.ml.push(Behaviour::accept_ok());
    let req = request(None);
    assert_eq!(s.client.submit(&req).await.unwrap(), Submission::Accepted);
    assert_eq!(s.ml.infer_calls()[0].answer, Some(200));
}

#[tokio::test]
async fn request_body_and_bearer_header_are_exactly_the_protocol() {
    let s = setup().await;
    let req = request(Some("http://triage:8000/internal/jobs/x/completion".into()));
    s.client.submit(&req).await.unwrap();
    let call = &s.ml.infer_calls()[0];
    assert_eq!(
        call.authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(
        call.body,
        json!({
            "job_uuid": req.job_id.to_string(),
            "input_object": format!("jobs/{}.zip", req.job_id),
            "output_object": format!("results/{}.xlsx", req.job_id),
            "profile": "fast_debug",
            "threshold": 0.25,
            "bucket": "uploads",
            "callback_url": "http://triage:8000/internal/jobs/x/completion",
        })
    );
    // No callback URL is sent as null.
    s.client.submit(&request(None)).await.unwrap();
    assert_eq!(s.ml.infer_calls()[1].body["callback_url"], Value::Null);
}

#[tokio::test]
async fn no_authorization_header_without_a_token() {
    let s = setup_with(|o| o.token.clear()).await;
    s.client.submit(&request(None)).await.unwrap();
    assert_eq!(s.ml.infer_calls()[0].authorization, None);
}

#[tokio::test]
async fn synchronous_completion_carries_the_body_fields() {
    let s = setup().await;
    s.ml.push(Behaviour::complete_sync());
    let req = request(None);
    let Submission::Completed(done) = s.client.submit(&req).await.unwrap() else {
        panic!("not completed");
    };
    let key = format!("results/{}.xlsx", req.job_id);
    let report = read(&s.store, &key).await;
    assert_eq!(done.status, CompletionStatus::Succeeded);
    assert_eq!(done.output_object.as_deref(), Some(key.as_str()));
    assert_eq!(done.file_size, Some(report.len() as u64));
    assert_eq!(done.file_name, Some(format!("{}.xlsx", req.job_id)));
    assert_eq!(done.error, None);
    assert_eq!(done.duration_seconds, Some(1.5));
    // The report was written before the answer, and is a valid one.
    let parsed = triage_report::parse(&report, Some(0.25), chrono::Utc::now()).unwrap();
    assert_eq!(parsed.rows.len(), 2);
}

#[tokio::test]
async fn synchronous_failure_is_a_failed_completion() {
    let s = setup().await;
    s.ml.push(Behaviour::complete_sync().with_outcome(Outcome::Failed("no lungs found".into())));
    let Submission::Completed(done) = s.client.submit(&request(None)).await.unwrap() else {
        panic!("not completed");
    };
    assert_eq!(done.status, CompletionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("no lungs found"));
    assert_eq!(done.output_object, None);
}

#[tokio::test]
async fn transient_statuses_are_unavailable_with_retry_after() {
    let s = setup().await;
    for code in [408, 429, 500, 502, 503, 504] {
        s.ml.push(Behaviour::error(code, "busy"));
        let (detail, retry) = unavailable(s.client.submit(&request(None)).await.unwrap_err());
        assert_eq!(retry, None, "{code}");
        assert!(detail.contains(&code.to_string()), "{code}: {detail}");
        assert!(detail.contains("busy"), "{code}: {detail}");

        s.ml.push(Behaviour::error(code, "busy").retry_after("7"));
        let (_, retry) = unavailable(s.client.submit(&request(None)).await.unwrap_err());
        assert_eq!(retry, Some(7), "{code}");
    }
    let at = httpdate_in(Duration::from_secs(90));
    s.ml.push(Behaviour::unavailable().retry_after(at));
    let (_, retry) = unavailable(s.client.submit(&request(None)).await.unwrap_err());
    let retry = retry.unwrap();
    assert!((88..=91).contains(&retry), "{retry}");
}

/// An IMF-fixdate `ahead` from now (written by hand: no date crate needed for one format).
fn httpdate_in(ahead: Duration) -> String {
    let at = chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + ahead);
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn unavailable_n_times_then_accepted() {
    let s = setup().await;
    s.ml.push_n(3, Behaviour::unavailable().retry_after("1"));
    let req = request(None);
    for _ in 0..3 {
        assert!(s.client.submit(&req).await.unwrap_err().is_transient());
    }
    assert_eq!(s.client.submit(&req).await.unwrap(), Submission::Accepted);
    assert_eq!(s.ml.infer_count(req.job_id), 4);
    assert_eq!(s.ml.accepted_count(req.job_id), 1);
}

#[tokio::test]
async fn refused_connections_are_unavailable_until_restart() {
    let s = setup().await;
    s.ml.stop().await;
    assert!(!s.ml.is_running());
    let started = Instant::now();
    let (detail, _) = unavailable(s.client.submit(&request(None)).await.unwrap_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(detail.contains("connect"), "{detail}");
    assert!(s.client.health().await.unwrap_err().is_transient());

    s.ml.restart().await;
    assert_eq!(
        s.client.submit(&request(None)).await.unwrap(),
        Submission::Accepted
    );
}

#[tokio::test]
async fn a_server_started_stopped_refuses_until_started() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).await.unwrap());
    let ml = ScriptedMl::start_stopped(store, TOKEN).await;
    ml.set_default(Behaviour::accept());
    let client = HttpInference::new(HttpInferenceOptions::new(ml.url())).unwrap();
    assert!(
        client
            .submit(&request(None))
            .await
            .unwrap_err()
            .is_transient()
    );
    ml.restart().await;
    assert_eq!(
        client.submit(&request(None)).await.unwrap(),
        Submission::Accepted
    );
}

#[tokio::test]
async fn a_hanging_service_times_out_as_unavailable() {
    let s = setup_with(|o| o.request_timeout = Duration::from_millis(400)).await;
    s.ml.push(Behaviour::hang(Duration::from_secs(20)));
    let req = request(None);
    let started = Instant::now();
    let (detail, _) = unavailable(s.client.submit(&req).await.unwrap_err());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(detail.contains("no answer within 0.4 s"), "{detail}");
    // The client hung up, so the call is no longer in flight at the service.
    assert!(s.ml.wait_for(WAIT, |ml| ml.in_flight() == 0).await);
    assert_eq!(s.ml.infer_calls()[0].answer, None);
    // The next try goes through.
    assert_eq!(s.client.submit(&req).await.unwrap(), Submission::Accepted);
    assert_eq!(s.ml.max_concurrent(req.job_id), 1);
}

#[tokio::test]
async fn other_4xx_are_rejected_with_the_service_message() {
    let s = setup().await;
    s.ml.push(Behaviour::error(422, "unknown profile 'turbo'"));
    match s.client.submit(&request(None)).await.unwrap_err() {
        DomainError::Rejected { service, message } => {
            assert_eq!(service, "ml");
            assert!(message.contains("unknown profile 'turbo'"), "{message}");
            assert!(message.contains("422"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    s.ml.push(Behaviour::raw(404, "  no such\n route  "));
    let err = s.client.submit(&request(None)).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Rejected { message, .. } if message.starts_with("no such route")),
        "{err:?}"
    );
    s.ml.push(Behaviour::raw(400, "x".repeat(100_000)));
    let err = s.client.submit(&request(None)).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Rejected { message, .. } if message.len() < 400),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_rejected_without_echoing_it() {
    let s = setup_with(|o| o.token = "wrong-token-b41d".into()).await;
    s.ml.push(Behaviour::raw(
        401,
        r#"{"detail":"token wrong-token-b41d is not valid"}"#,
    ));
    let err = s.client.submit(&request(None)).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Rejected { message, .. } if message.contains("token [redacted] is not valid")),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong-token-b41d"));
    assert!(!format!("{:?}", s.client).contains("wrong-token-b41d"));

    s.ml.set_require_token(true);
    let err = s.client.submit(&request(None)).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Rejected { message, .. } if message.contains("invalid or missing token")),
        "{err:?}"
    );
    assert_eq!(
        s.ml.infer_calls()[1].authorization.as_deref(),
        Some("Bearer wrong-token-b41d")
    );
    assert_eq!(s.ml.infer_calls()[1].answer, Some(401));
}

#[tokio::test]
async fn an_unreadable_200_is_unavailable() {
    let s = setup().await;
    s.ml.push(Behaviour::raw(200, "<html>proxy login</html>"));
    let (detail, _) = unavailable(s.client.submit(&request(None)).await.unwrap_err());
    assert!(detail.contains("200"), "{detail}");
}

#[tokio::test]
async fn health_ok_and_down() {
    let s = setup_with(|o| o.health_timeout = Duration::from_millis(300)).await;
    let report = s.client.health().await.unwrap();
    assert!(report.healthy);
    assert_eq!(report.model_loaded, Some(true));
    assert_eq!(report.version.as_deref(), Some("scripted"));

    s.ml.set_healthy(false);
    assert!(s.client.health().await.unwrap_err().is_transient());

    s.ml.set_healthy(true);
    s.ml.set_health_delay(Duration::from_secs(5));
    let started = Instant::now();
    assert!(s.client.health().await.unwrap_err().is_transient());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(s.ml.health_calls(), 3);
}

#[tokio::test]
async fn concurrent_calls_are_measured_per_job_and_overall() {
    let s = setup().await;
    s.ml.set_default(Behaviour::hang(Duration::from_millis(300)));
    let (a, b) = (request(None), request(None));
    let (r1, r2, r3) = tokio::join!(
        s.client.submit(&a),
        s.client.submit(&a),
        s.client.submit(&b)
    );
    assert!(r1.is_ok() && r2.is_ok() && r3.is_ok());
    assert_eq!(s.ml.max_concurrent(a.job_id), 2);
    assert_eq!(s.ml.max_concurrent(b.job_id), 1);
    assert_eq!(s.ml.max_concurrent_overall(), 3);
    assert_eq!(s.ml.infer_calls_for(a.job_id).len(), 2);
}
