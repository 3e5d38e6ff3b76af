//! Cross-origin requests from browsers, as `cors.*` in the configuration allows them (read
//! from the app's [`CorsSettings`] on every request).
//!
//! - A request without `Origin` passes untouched.
//! - A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is
//!   answered here with 204 and never reaches a route; from any other origin it is refused
//!   with a JSON 403 `origin_not_allowed`.
//! - Other requests always reach their route; only an allowed origin gets the
//!   `Access-Control-Allow-Origin` that lets the browser read the answer, errors included.
//! - `*` answers `Access-Control-Allow-Origin: *` (never with credentials); a list of origins
//!   echoes the matching origin with `Vary: Origin`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};
use triage_app::{App, CorsSettings};

use crate::error::ApiError;

/// Response headers a cross-origin script may read besides the safelisted ones.
const EXPOSE_HEADERS: &str = "Retry-After, Content-Disposition, X-Request-Id, Content-Range";
const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
/// Used when a preflight names no headers.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Range, X-Request-Id";
/// Seconds a browser may cache a preflight answer.
const MAX_AGE: &str = "600";

/// The CORS middleware; use it as `App::new().wrap(actix_web::middleware::from_fn(cors))`.
/// Without `web::Data<App>` (or with no allowed origin) it lets everything pass untouched.
///
/// # Errors
/// None of its own; an error of the wrapped service passes through.
pub async fn cors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let policy = req
        .app_data::<web::Data<App>>()
        .map(|app| Policy::new(&app.settings().web.cors));
    let origin = req.headers().get(header::ORIGIN).cloned();
    let (Some(policy), Some(origin)) = (policy.filter(Policy::is_on), origin) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let allowed = policy.allow_origin(&origin);
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let response = match &allowed {
            Some(allow) => policy.preflight(allow, req.headers()),
            None => refused(&origin),
        };
        return Ok(req.into_response(response).map_into_right_body());
    }
    // Handlers and extractors turn their errors into responses, which get the headers below;
    // an `Err` here could only come from an inner middleware.
    let mut response = next.call(req).await?.map_into_left_body();
    let headers = response.headers_mut();
    if let Some(allow) = allowed {
        policy.allow(headers, allow);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    } else if !policy.any {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(response)
}

struct Policy {
    /// `*` is among the origins.
    any: bool,
    origins: Vec<String>,
    credentials: bool,
}

impl Policy {
    fn new(settings: &CorsSettings) -> Self {
        let origins: Vec<String> = settings
            .allowed_origins
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|origin| !origin.is_empty())
            .collect();
        Self {
            any: origins.iter().any(|origin| origin == "*"),
            origins,
            credentials: settings.allow_credentials,
        }
    }

    fn is_on(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.any && !self.credentials {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?.trim_end_matches('/');
        // `*` with credentials is refused by the configuration; be safe anyway.
        let listed = self
            .origins
            .iter()
            .any(|allowed| allowed != "*" && allowed.eq_ignore_ascii_case(text));
        listed.then(|| origin.clone())
    }

    fn allow(&self, headers: &mut HeaderMap, allow: HeaderValue) {
        let echoed = allow != "*";
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if echoed {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    fn preflight(&self, allow: &HeaderValue, request: &HeaderMap) -> HttpResponse {
        let mut response = HttpResponse::NoContent().finish();
        let headers = response.headers_mut();
        self.allow(headers, allow.clone());
        headers.append(
            header::VARY,
            HeaderValue::from_static(
                "Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        // The origin is trusted: allow whatever headers it asks for.
        let asked = request
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .filter(|value| !value.is_empty())
            .cloned()
            .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        response
    }
}

fn refused(origin: &HeaderValue) -> HttpResponse {
    let origin = String::from_utf8_lossy(origin.as_bytes())
        .chars()
        .take(200)
        .collect::<String>();
    let mut response = ApiError::http(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        format!("cross-origin requests from {origin} are not allowed (cors.allowed_origins)"),
    )
    .error_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str], credentials: bool) -> Policy {
        Policy::new(&CorsSettings {
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allow_credentials: credentials,
        })
    }

    fn origin(text: &'static str) -> HeaderValue {
        HeaderValue::from_static(text)
    }

    #[test]
    fn origins_match_exactly_ignoring_case_and_a_trailing_slash() {
        let list = policy(
            &["https://triage.example.org/", " http://localhost:5173 "],
            true,
        );
        assert!(list.is_on());
        assert_eq!(
            list.allow_origin(&origin("https://Triage.example.org")),
            Some(origin("https://Triage.example.org"))
        );
        assert!(
            list.allow_origin(&origin("http://localhost:5173"))
                .is_some()
        );
        for other in [
            "https://triage.example.org.evil.com",
            "http://triage.example.org",
            "null",
            "http://localhost:5174",
        ] {
            assert_eq!(
                list.allow_origin(&HeaderValue::from_static(other)),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn a_wildcard_answers_a_star_and_never_with_credentials() {
        let any = policy(&["*"], false);
        assert_eq!(
            any.allow_origin(&origin("https://x.org")),
            Some(origin("*"))
        );
        let careless = policy(&["*"], true);
        assert_eq!(careless.allow_origin(&origin("https://x.org")), None);
        assert!(!policy(&[], false).is_on());
        assert!(!policy(&[" "], false).is_on());
    }
}
