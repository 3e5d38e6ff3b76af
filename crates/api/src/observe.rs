//! The middleware around every request: a request id (the client's `X-Request-Id` if it is
//! sane, else a new one) returned in the response and carried by every log line of the
//! request, one access log line, and the HTTP metrics. Only the route template is logged or
//! counted, never the path or the query: those may carry ids, signatures or tokens.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tracing::Instrument;
use triage_app::App;

/// The request's id, for handlers (the audit trail); set by [`observe`].
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The middleware; use it as `App::new().wrap(actix_web::middleware::from_fn(observe))`.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    actix_web::HttpMessage::extensions_mut(&req).insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let app = req.app_data::<web::Data<App>>().cloned();
    let span = tracing::info_span!("request", request_id = %request_id, %method);
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let took = started.elapsed();
    let route = route_of(&response);
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(app) = app {
        app.metrics().http_request(&method, &route, status, took);
    }
    span.in_scope(|| {
        let ms = took.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(%route, status, latency_ms = ms, "request");
        } else {
            tracing::info!(%route, status, latency_ms = ms, "request");
        }
    });
    Ok(response)
}

/// The matched route template without the `/api` prefix (both serve the same routes).
fn route_of<B>(response: &ServiceResponse<B>) -> String {
    let pattern = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    match pattern.strip_prefix("/api") {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => pattern,
    }
}

/// A client id is echoed into logs and headers: short, and nothing but `[A-Za-z0-9._-]`.
fn is_sane(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_short_plain_ids_are_taken_from_clients() {
        assert!(is_sane("3f2a-11.x_y"));
        for bad in ["", "a b", "x\ny", &"a".repeat(65), "<script>"] {
            assert!(!is_sane(bad), "{bad:?}");
        }
    }
}
