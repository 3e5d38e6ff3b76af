//! The HTTP side: `POST /infer` and `GET /health` on actix-web.
//!
//! | `/infer` | answer |
//! |---|---|
//! | no or wrong bearer token | 401 `{"detail"}` + `WWW-Authenticate: Bearer` |
//! | body not understood (see `wire.rs`) | 422 `{"detail"}`: triage fails the job with it |
//! | queue full / stopping | 503 `{"detail"}` + `Retry-After` |
//! | async: queued, or already queued/running | 202 `{"status":"accepted","job_uuid"}` |
//! | sync: analysed (a repeat joins the running analysis) | 200 completion, `status` `completed` or `failed` |
//! | sync: abandoned (store down) or stopped meanwhile | 503 `{"detail"}` + `Retry-After` |
//!
//! Handlers run on actix's worker threads; they only queue work and wait for outcomes, which
//! works across runtimes. The analyses run on the runtime that started the service.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::auth::TokenCheck;
use crate::job::Outcome;
use crate::queue::{Admission, OutcomeRx};
use crate::wire::{self, Rules};
use crate::worker::Core;

/// Largest `/infer` body: the protocol's bodies are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// What the handlers need.
pub(crate) struct Shared {
    pub core: Arc<Core>,
    pub token: TokenCheck,
    pub rules: Rules,
    pub retry_after_secs: u64,
    pub queue_capacity: usize,
}

/// Serves on `listener` (not started: spawn the returned server).
pub(crate) fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    workers: usize,
    shutdown_timeout: Duration,
) -> std::io::Result<Server> {
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route("/infer", web::post().to(infer))
            .route("/health", web::get().to(health))
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout.as_secs().max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

async fn infer(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    if let Err(detail) = shared.token.check(&request) {
        return HttpResponse::Unauthorized()
            .insert_header((WWW_AUTHENTICATE, "Bearer"))
            .json(json!({ "detail": detail }));
    }
    let job = match wire::parse_infer(&body, &shared.rules) {
        Ok(job) => job,
        Err(detail) => {
            tracing::info!(detail = %detail, "refused an /infer request");
            return HttpResponse::UnprocessableEntity().json(json!({ "detail": detail }));
        }
    };
    let id = job.id.clone();
    let (rx, repeat) = match shared.core.registry.submit(job) {
        Admission::Queued(rx) => (rx, false),
        Admission::Repeat(rx) => (rx, true),
        Admission::Full => {
            tracing::warn!(job.id = %id, "the queue is full; answering 503");
            let detail = format!("the queue is full ({} jobs waiting)", shared.queue_capacity);
            return unavailable(&shared, &detail);
        }
        Admission::Closed => return unavailable(&shared, "the service is stopping"),
    };
    if repeat {
        tracing::info!(job.id = %id, "the job is already queued or running: joined, not analysed again");
    } else {
        tracing::info!(job.id = %id, "job accepted");
    }
    if !shared.core.sync {
        return HttpResponse::Accepted().json(json!({ "status": "accepted", "job_uuid": id }));
    }
    answer_when_done(&shared, &id, rx).await
}

/// The synchronous answer: waits for the job's outcome.
async fn answer_when_done(shared: &Shared, id: &str, mut rx: OutcomeRx) -> HttpResponse {
    let outcome = match rx.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone(),
        Err(_) => None,
    };
    match outcome {
        Some(Outcome::Abandoned { reason }) => {
            unavailable(shared, &format!("the analysis could not finish: {reason}"))
        }
        Some(outcome) => match wire::sync_answer(id, &outcome) {
            Some(body) => HttpResponse::Ok().json(body),
            None => unavailable(shared, "the analysis could not finish"),
        },
        None => unavailable(
            shared,
            "the service stopped before the analysis of this job began",
        ),
    }
}

fn unavailable(shared: &Shared, detail: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((RETRY_AFTER, shared.retry_after_secs.to_string()))
        .json(json!({ "detail": detail }))
}

async fn health(shared: web::Data<Shared>) -> HttpResponse {
    let registry = &shared.core.registry;
    let (queued, running, _) = registry.sizes();
    let stopping = registry.is_closed();
    let body: Value = json!({
        "status": if stopping { "stopping" } else { "healthy" },
        "model_loaded": true,
        "version": crate::version(),
        "mode": if shared.core.sync { "sync" } else { "async" },
        "queued": queued,
        "running": running,
        "queue_capacity": shared.queue_capacity,
    });
    if stopping {
        HttpResponse::ServiceUnavailable().json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(json!({ "detail": "not found: this service serves /infer and /health" }))
}
