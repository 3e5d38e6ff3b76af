//! HS256 access tokens: `sub` is the user id (so renames do not move tokens), with `exp`,
//! `iat` and a unique `jti`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use triage_domain::UserId;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The claims triage puts in a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

/// Issues and checks tokens with one secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl Tokens {
    /// Builds the signer and proves it works: jsonwebtoken picks its crypto backend at
    /// runtime and would otherwise panic on the first request if the build were wrong.
    ///
    /// # Errors
    /// `Internal` if a token cannot be signed and read back.
    pub fn new(secret: &[u8], ttl: Duration) -> AppResult<Self> {
        let tokens = Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl,
        };
        let now = Utc::now();
        let probe = tokens.issue(UserId(Uuid::nil()), now)?;
        tokens.verify(&probe, now)?;
        Ok(tokens)
    }

    /// Token lifetime in seconds (the login answer's `expires_in`).
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// # Errors
    /// `Internal` if signing fails.
    pub fn issue(&self, user: UserId, now: DateTime<Utc>) -> AppResult<String> {
        let claims = Claims {
            sub: user.to_string(),
            iat: now.timestamp(),
            exp: now
                .timestamp()
                .saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
            jti: Uuid::new_v4().to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|err| AppError::internal(format!("jwt encode: {err}")))
    }

    /// Checks signature, algorithm and expiry (against `now`, so tests can move time) and
    /// returns the user id.
    ///
    /// # Errors
    /// `Unauthenticated` for anything wrong with the token.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AppResult<UserId> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        let data = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| AppError::Unauthenticated("invalid token"))?;
        if data.claims.exp <= now.timestamp() {
            return Err(AppError::Unauthenticated("token expired"));
        }
        data.claims
            .sub
            .parse()
            .map_err(|_| AppError::Unauthenticated("invalid token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire() {
        let tokens = Tokens::new(&[7u8; 32], Duration::from_secs(60)).unwrap();
        let user = UserId::random();
        let now = Utc::now();
        let token = tokens.issue(user, now).unwrap();
        assert_eq!(tokens.verify(&token, now).unwrap(), user);
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(
            tokens.verify(&token, later),
            Err(AppError::Unauthenticated("token expired"))
        );
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let ours = Tokens::new(&[1u8; 32], Duration::from_secs(60)).unwrap();
        let theirs = Tokens::new(&[2u8; 32], Duration::from_secs(60)).unwrap();
        let token = theirs.issue(UserId::random(), Utc::now()).unwrap();
        assert!(ours.verify(&token, Utc::now()).is_err());
        assert!(ours.verify("not.a.token", Utc::now()).is_err());
    }
}
