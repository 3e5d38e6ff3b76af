//! The authenticated caller as an extractor: a handler that takes [`AuthUser`] requires a
//! valid `Authorization: Bearer <token>`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use triage_app::{AccessContext, App, AppError, Caller};

use crate::error::ApiError;

/// The user behind a request, loaded for this request (so a deleted user or a changed role
/// takes effect at once). Missing or bad tokens answer 401 with `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Caller);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let app = req.app_data::<web::Data<App>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(AppError::Unauthenticated("missing bearer token"))?;
            let app = app.ok_or_else(|| AppError::internal("web::Data<App> is not registered"))?;
            Ok(Self(app.authenticate(&token).await?))
        })
    }
}

/// A person's request to something the audit trail records: the caller and where the
/// request came from (client address, request id).
#[derive(Debug, Clone)]
pub struct Accessor {
    pub caller: Caller,
    pub ctx: AccessContext,
}

impl FromRequest for Accessor {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        let trust = req
            .app_data::<web::Data<App>>()
            .is_some_and(|app| app.settings().web.trust_forwarded_for);
        let ctx = AccessContext {
            client_addr: crate::client::client_ip(req, trust).map(|ip| ip.to_string()),
            request_id: req
                .extensions()
                .get::<crate::observe::RequestId>()
                .map(|id| id.0.clone()),
        };
        Box::pin(async move {
            Ok(Self {
                caller: user.await?.0,
                ctx,
            })
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    parse_bearer(value).map(str::to_owned)
}

fn parse_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::parse_bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(parse_bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(parse_bearer("bearer  abc"), Some("abc"));
        assert_eq!(parse_bearer("BEARER abc "), Some("abc"));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_refused() {
        for value in ["Basic abc", "Bearer", "Bearer   ", "abc", ""] {
            assert_eq!(parse_bearer(value), None, "{value:?}");
        }
    }
}
