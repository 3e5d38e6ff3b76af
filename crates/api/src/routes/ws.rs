//! Live job updates over WebSocket: `GET /ws/jobs/{id}` (one job) and `GET /ws/jobs` (every
//! job of the caller; an administrator: everyone's).
//!
//! **Token.** From `?token=`, the `Authorization: Bearer` header, or the subprotocol pair
//! `Sec-WebSocket-Protocol: bearer, <token>` (the handshake then echoes `bearer`, as browsers
//! require). Browsers cannot read the HTTP status of a refused handshake, so auth failures are
//! told with close codes after the upgrade:
//!
//! | situation | answer |
//! |---|---|
//! | no token on `/ws/jobs/{id}`, `ws.anonymous_status_frames` on | status-only frames |
//! | no token on `/ws/jobs/{id}` with it off, or on `/ws/jobs` | upgrade, close **4401** |
//! | no token, and the client (or the server) holds `ws.max_anonymous_per_client` (`ws.max_anonymous_total`) such sockets | 429 `too_many_connections` (no upgrade) |
//! | an invalid or expired token, or one of a deleted user | upgrade, close **4401** |
//! | a valid token for someone else's job | snapshot refused, close **4403** |
//! | database unavailable while checking the token | 503 (no upgrade) |
//! | not a WebSocket handshake | 400 `websocket_required` |
//! | malformed job id | 404 |
//!
//! The frames are in `ws/frames.rs`; the life of a socket (snapshot, changes, pings, idle
//! timeout, resync, close codes 1000/1001) in `ws/session.rs`.

mod frames;
mod session;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use triage_app::{App, AppError, Watcher};
use triage_domain::JobId;
use uuid::Uuid;

use super::resource;
use crate::client::client_ip;
use crate::error::{ApiError, ErrorBody};
use crate::extract::bearer_token;
use session::CLOSE_UNAUTHENTICATED;

/// The subprotocol that carries a token (`Sec-WebSocket-Protocol: bearer, <token>`).
const BEARER_PROTOCOL: &str = "bearer";

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/ws/jobs", "GET").route(web::get().to(watch_jobs)))
        .service(resource("/ws/jobs/{id}", "GET").route(web::get().to(watch_job)));
}

/// Live updates of one job (WebSocket). Frames: `{"type": "job.update", "job": <Job JSON>}`
/// (status-only for a socket without a token), `{"type": "job.not_found", "job_id"}`,
/// `{"type": "job.deleted", "job_id"}`, `{"type": "resync"}`. A snapshot on connect, one frame
/// per change, close 1000 after a terminal status. The client may send `{"type": "resync"}`.
/// Close codes: 4401 bad token, 4403 someone else's job, 1001 idle (90 s) or shutdown.
#[utoipa::path(
    get, path = "/ws/jobs/{id}", tag = "live",
    params(
        ("id" = Uuid, Path, description = "Job id (need not exist yet)"),
        ("token" = Option<String>, Query, description = "Access token (alternatives: `Authorization: Bearer`, or `Sec-WebSocket-Protocol: bearer, <token>`)"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 101, description = "Switching Protocols: the socket is open"),
        (status = 400, description = "`websocket_required`: not a WebSocket handshake", body = ErrorBody),
        (status = 404, description = "`not_found`: malformed id", body = ErrorBody),
        (status = 429, description = "`too_many_connections`: too many sockets without a token from this client, or in total", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn watch_job(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = JobId(path.into_inner());
    let token = socket_token(&req);
    let watcher = refusal(app.watcher(token.as_deref()).await)?;
    // Sockets without a token cost nothing to open: capped per client and in total.
    let slot = match watcher {
        Ok(Watcher::Anonymous) => {
            let client = client_ip(&req, app.settings().web.trust_forwarded_for);
            Some(app.anonymous_socket(client)?)
        }
        _ => None,
    };
    let (response, session, stream) = upgrade(&req, body)?;
    match watcher {
        Ok(watcher) => {
            // Subscribed before the snapshot is read: no change can fall in between.
            let watch = app.watch_job(watcher, id);
            let settings = app.settings().ws.clone();
            actix_web::rt::spawn(async move {
                session::run(session, stream, watch, settings).await;
                drop(slot);
            });
        }
        Err(why) => {
            actix_web::rt::spawn(session::refuse(session, stream, CLOSE_UNAUTHENTICATED, why));
        }
    }
    Ok(response)
}

/// Live updates of every job of the caller (an administrator: everyone's), token required.
/// On connect (and on `{"type": "resync"}`) a snapshot of the caller's queued and processing
/// jobs, then one `job.update` (or `job.deleted`) frame per change. Close 4401 without a valid
/// token.
#[utoipa::path(
    get, path = "/ws/jobs", tag = "live",
    params(
        ("token" = Option<String>, Query, description = "Access token (alternatives: `Authorization: Bearer`, or `Sec-WebSocket-Protocol: bearer, <token>`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching Protocols: the socket is open"),
        (status = 400, description = "`websocket_required`: not a WebSocket handshake", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn watch_jobs(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<App>,
) -> Result<HttpResponse, ApiError> {
    let watcher = match socket_token(&req) {
        Some(token) => refusal(app.watcher(Some(&token)).await)?,
        None => Err("a token is required"),
    };
    let (response, session, stream) = upgrade(&req, body)?;
    match watcher {
        Ok(Watcher::User(caller)) => {
            let watch = app.watch_jobs(caller);
            let settings = app.settings().ws.clone();
            actix_web::rt::spawn(session::run(session, stream, watch, settings));
        }
        Ok(Watcher::Anonymous) => {
            actix_web::rt::spawn(session::refuse(
                session,
                stream,
                CLOSE_UNAUTHENTICATED,
                "a token is required",
            ));
        }
        Err(why) => {
            actix_web::rt::spawn(session::refuse(session, stream, CLOSE_UNAUTHENTICATED, why));
        }
    }
    Ok(response)
}

/// Splits the outcome of authentication into "upgrade, then close 4401 with this reason"
/// (`Ok(Err(..))`) and errors that are answered over HTTP (`Err`, e.g. 503).
fn refusal(watcher: Result<Watcher, AppError>) -> Result<Result<Watcher, &'static str>, ApiError> {
    match watcher {
        Ok(watcher) => Ok(Ok(watcher)),
        Err(AppError::Unauthenticated(why)) => Ok(Err(why)),
        Err(err) => Err(err.into()),
    }
}

fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
) -> Result<(HttpResponse, actix_ws::Session, actix_ws::MessageStream), ApiError> {
    actix_ws::handle_with_protocols(req, body, &[BEARER_PROTOCOL]).map_err(|err| {
        ApiError::bad_request(
            "websocket_required",
            format!("this route only serves WebSocket connections: {err}"),
        )
    })
}

/// `?token=` of the socket URL.
#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The socket's token: `Authorization: Bearer`, then the `bearer, <token>` subprotocol pair,
/// then `?token=`. Empty values count as none.
fn socket_token(req: &HttpRequest) -> Option<String> {
    bearer_token(req)
        .or_else(|| {
            let values = req
                .headers()
                .get_all(header::SEC_WEBSOCKET_PROTOCOL)
                .filter_map(|value| value.to_str().ok());
            subprotocol_token(values).map(str::to_owned)
        })
        .or_else(|| {
            web::Query::<TokenQuery>::from_query(req.query_string())
                .ok()
                .and_then(|query| query.into_inner().token)
        })
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// The item after `bearer` in the offered subprotocols (over every header line).
fn subprotocol_token<'a>(values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut items = values
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty());
    items.find(|item| item.eq_ignore_ascii_case(BEARER_PROTOCOL))?;
    items.next()
}

#[cfg(test)]
mod tests {
    use super::subprotocol_token;

    #[test]
    fn the_socket_routes_are_described_for_the_openapi_document() {
        use utoipa::OpenApi;
        #[derive(OpenApi)]
        #[openapi(paths(super::watch_job, super::watch_jobs))]
        struct Doc;
        let doc = serde_json::to_value(Doc::openapi()).unwrap();
        for path in ["/ws/jobs/{id}", "/ws/jobs"] {
            let get = &doc["paths"][path]["get"];
            assert!(get["responses"]["101"].is_object(), "{path}: {get}");
            assert!(get["security"].is_array(), "{path}: {get}");
        }
    }

    #[test]
    fn the_token_follows_bearer_in_the_subprotocols() {
        let token = |values: &[&'static str]| subprotocol_token(values.iter().copied());
        assert_eq!(token(&["bearer, abc.def"]), Some("abc.def"));
        assert_eq!(token(&["chat,bearer ,  abc"]), Some("abc"));
        assert_eq!(token(&["bearer", "abc"]), Some("abc"));
        assert_eq!(token(&["Bearer, abc"]), Some("abc"));
        assert_eq!(token(&["bearer"]), None);
        assert_eq!(token(&["chat, abc"]), None);
        assert_eq!(token(&[]), None);
    }
}
