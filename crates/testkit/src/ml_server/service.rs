//! The service side: shared state and the `/infer` and `/health` handlers. Handlers run on
//! actix's worker threads; everything that touches the blob store or sends a callback
//! (`delivery.rs`) runs on the runtime that started the server (the test's), which the store
//! and the HTTP client were built on.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use tokio::runtime::Handle;
use triage_domain::ports::BlobStore;

use super::behaviour::{Behaviour, CallbackAt, Reply};
use super::delivery::{CallbackRecord, deliver, produce};

/// One `/infer` request as received.
#[derive(Debug, Clone)]
pub struct InferCall {
    /// `job_uuid` of the body; empty if missing.
    pub job_uuid: String,
    /// 1 for the job's first call, 2 for the next…
    pub attempt: u32,
    /// The body as JSON; `Null` if it was not JSON.
    pub body: Value,
    pub raw_body: String,
    pub authorization: Option<String>,
    pub at: Instant,
    /// The status answered; `None` while in progress or if the client went away first.
    pub answer: Option<u16>,
}

pub(super) type Script = Arc<dyn Fn(&InferCall) -> Option<Behaviour> + Send + Sync>;

#[derive(Default)]
pub(super) struct JobState {
    pub queue: VecDeque<Behaviour>,
    pub calls: u32,
    pub accepted: u32,
    pub in_flight: u32,
    pub max_in_flight: u32,
    pub last: Option<Target>,
}

pub(super) struct State {
    pub default: Behaviour,
    pub global: VecDeque<Behaviour>,
    pub script: Option<Script>,
    pub jobs: HashMap<String, JobState>,
    pub calls: Vec<InferCall>,
    pub callbacks: Vec<CallbackRecord>,
    pub in_flight: u32,
    pub max_in_flight: u32,
    pub healthy: bool,
    pub health_delay: Duration,
    pub health_calls: u32,
    pub require_token: bool,
    pub callback_base: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            default: Behaviour::default(),
            global: VecDeque::new(),
            script: None,
            jobs: HashMap::new(),
            calls: Vec::new(),
            callbacks: Vec::new(),
            in_flight: 0,
            max_in_flight: 0,
            healthy: true,
            health_delay: Duration::ZERO,
            health_calls: 0,
            require_token: false,
            callback_base: None,
        }
    }
}

/// Where a job's report and completion go.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub job: String,
    pub callback_url: Option<String>,
    pub output_object: String,
}

pub(super) struct Inner {
    pub state: Mutex<State>,
    pub store: Arc<dyn BlobStore>,
    pub token: String,
    pub client: reqwest::Client,
    pub runtime: Handle,
}

impl Inner {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The job's last `/infer` target, or what the service would choose without one.
    pub fn target(&self, job: &str) -> Target {
        let state = self.state();
        match state.jobs.get(job).and_then(|j| j.last.clone()) {
            Some(target) => target,
            None => Target {
                job: job.to_owned(),
                callback_url: callback_from_base(state.callback_base.as_deref(), job),
                output_object: format!("results/{job}.xlsx"),
            },
        }
    }
}

fn callback_from_base(base: Option<&str>, job: &str) -> Option<String> {
    base.map(|b| format!("{}/internal/jobs/{job}/completion", b.trim_end_matches('/')))
}

/// Decrements the in-flight counters however the handler ends (answered or dropped).
struct InFlight {
    inner: Arc<Inner>,
    job: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.inner.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(job) = state.jobs.get_mut(&self.job) {
            job.in_flight = job.in_flight.saturating_sub(1);
        }
    }
}

/// Records the call, counts it in flight, and picks its behaviour: the job's queue, then the
/// global queue, then the script, then the default.
fn begin(inner: &Arc<Inner>, mut call: InferCall, target: Target) -> (usize, Behaviour, InFlight) {
    let job = call.job_uuid.clone();
    let (index, queued, script, default) = {
        let mut state = inner.state();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        let entry = state.jobs.entry(job.clone()).or_default();
        entry.calls += 1;
        entry.in_flight += 1;
        entry.max_in_flight = entry.max_in_flight.max(entry.in_flight);
        entry.last = Some(target);
        call.attempt = entry.calls;
        let queued = entry.queue.pop_front();
        let queued = queued.or_else(|| state.global.pop_front());
        state.calls.push(call.clone());
        let index = state.calls.len() - 1;
        (index, queued, state.script.clone(), state.default.clone())
    };
    let behaviour = queued
        .or_else(|| script.and_then(|f| f(&call)))
        .unwrap_or(default);
    let guard = InFlight {
        inner: inner.clone(),
        job,
    };
    (index, behaviour, guard)
}

fn answered(inner: &Inner, index: usize, job: &str, status: StatusCode) {
    let mut state = inner.state();
    if let Some(call) = state.calls.get_mut(index) {
        call.answer = Some(status.as_u16());
    }
    if status.is_success()
        && let Some(job) = state.jobs.get_mut(job)
    {
        job.accepted += 1;
    }
}

pub(super) async fn infer(
    inner: web::Data<Inner>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let inner = inner.into_inner();
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let job = json["job_uuid"].as_str().unwrap_or_default().to_owned();
    let target = Target {
        job: job.clone(),
        callback_url: json["callback_url"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| callback_from_base(inner.state().callback_base.as_deref(), &job)),
        output_object: json["output_object"]
            .as_str()
            .map_or_else(|| format!("results/{job}.xlsx"), str::to_owned),
    };
    let call = InferCall {
        job_uuid: job.clone(),
        attempt: 0,
        body: json,
        raw_body: String::from_utf8_lossy(&body).into_owned(),
        authorization: authorization.clone(),
        at: Instant::now(),
        answer: None,
    };
    let (index, behaviour, _in_flight) = begin(&inner, call, target.clone());

    let expected = format!("Bearer {}", inner.token);
    if inner.state().require_token && authorization.as_deref() != Some(expected.as_str()) {
        answered(&inner, index, &job, StatusCode::UNAUTHORIZED);
        return HttpResponse::Unauthorized().json(json!({"detail": "invalid or missing token"}));
    }
    if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    for at in &behaviour.callbacks {
        if *at == CallbackAt::BeforeAnswer {
            let send = deliver(
                inner.clone(),
                target.clone(),
                behaviour.outcome.clone(),
                behaviour.callback_auth.clone(),
            );
            let _ = inner.runtime.spawn(send).await;
        }
    }
    let response = reply(&inner, &behaviour, &target).await;
    answered(&inner, index, &job, response.status());

    let later: Vec<Duration> = behaviour
        .callbacks
        .iter()
        .filter_map(|at| match at {
            CallbackAt::AfterAnswer(delay) => Some(*delay),
            CallbackAt::BeforeAnswer => None,
        })
        .collect();
    if !later.is_empty() {
        let inner2 = inner.clone();
        inner.runtime.spawn(async move {
            for delay in later {
                tokio::time::sleep(delay).await;
                let (outcome, auth) = (behaviour.outcome.clone(), behaviour.callback_auth.clone());
                deliver(inner2.clone(), target.clone(), outcome, auth).await;
            }
        });
    }
    response
}

async fn reply(inner: &Arc<Inner>, behaviour: &Behaviour, target: &Target) -> HttpResponse {
    let accepted = json!({"status": "accepted", "job_uuid": target.job});
    match &behaviour.reply {
        Reply::Accepted => HttpResponse::Accepted().json(accepted),
        Reply::AcceptedOk => HttpResponse::Ok().json(accepted),
        Reply::Completed => {
            let produce = produce(
                inner.clone(),
                target.clone(),
                behaviour.outcome.clone(),
                true,
            );
            match inner.runtime.spawn(produce).await {
                Ok(body) => HttpResponse::Ok().json(body),
                Err(err) => {
                    HttpResponse::InternalServerError().json(json!({"detail": err.to_string()}))
                }
            }
        }
        Reply::Error {
            status,
            message,
            retry_after,
        } => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut builder = HttpResponse::build(code);
            if let Some(value) = retry_after {
                builder.insert_header((RETRY_AFTER, value.as_str()));
            }
            builder.json(json!({"detail": message}))
        }
        Reply::Raw { status, body } => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let content_type = if serde_json::from_str::<Value>(body).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            HttpResponse::build(code)
                .insert_header((CONTENT_TYPE, content_type))
                .body(body.clone())
        }
    }
}

pub(super) async fn health(inner: web::Data<Inner>) -> HttpResponse {
    let (healthy, delay) = {
        let mut state = inner.state();
        state.health_calls += 1;
        (state.healthy, state.health_delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if healthy {
        HttpResponse::Ok()
            .json(json!({"status": "healthy", "model_loaded": true, "version": "scripted"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unhealthy", "model_loaded": false, "version": "scripted"}))
    }
}
