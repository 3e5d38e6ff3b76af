//! The `/infer` credential: `Authorization: Bearer <ML_SERVICE_TOKEN>`, compared in constant
//! time (over SHA-256 digests, so not even the length leaks). The token is never logged.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a request is refused (the 401 `detail`).
pub(crate) const MISSING: &str = "missing bearer token (Authorization: Bearer <ML_SERVICE_TOKEN>)";
pub(crate) const WRONG: &str = "invalid ML service token";

/// The expected token, kept only as its digest.
pub(crate) struct TokenCheck {
    digest: [u8; 32],
}

impl TokenCheck {
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// `Err` is the 401 `detail`.
    pub fn check(&self, request: &HttpRequest) -> Result<(), &'static str> {
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .ok_or(MISSING)?;
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(MISSING),
        };
        if token.is_empty() {
            return Err(MISSING);
        }
        let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if bool::from(given.ct_eq(&self.digest)) {
            Ok(())
        } else {
            Err(WRONG)
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn only_the_bearer_token_passes() {
        let check = TokenCheck::new("tok-123");
        let with = |value: Option<&str>| {
            let mut request = TestRequest::default();
            if let Some(value) = value {
                request = request.insert_header((AUTHORIZATION, value));
            }
            check.check(&request.to_http_request())
        };
        assert_eq!(with(Some("Bearer tok-123")), Ok(()));
        assert_eq!(with(Some("bearer  tok-123 ")), Ok(()));
        assert_eq!(with(None), Err(MISSING));
        assert_eq!(with(Some("tok-123")), Err(MISSING));
        assert_eq!(with(Some("Basic tok-123")), Err(MISSING));
        assert_eq!(with(Some("Bearer ")), Err(MISSING));
        assert_eq!(with(Some("Bearer tok-1234")), Err(WRONG));
    }
}
