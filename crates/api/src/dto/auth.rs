//! Registration and login bodies.

use serde::{Deserialize, Serialize};
use triage_app::{LoginOutcome, Registration};
use utoipa::ToSchema;

/// POST /auth/register. Username: 3–50 letters, digits, `_ . -`; password: 6–128 characters.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RegisterRequest {
    #[schema(example = "alice", min_length = 3, max_length = 50)]
    pub username: String,
    #[schema(example = "secret-password", min_length = 6, max_length = 128)]
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub full_name: Option<String>,
}

impl From<RegisterRequest> for Registration {
    fn from(body: RegisterRequest) -> Self {
        Self {
            username: body.username,
            password: body.password,
            email: body.email,
            full_name: body.full_name,
        }
    }
}

/// POST /auth/login.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "secret-password")]
    pub password: String,
}

/// A bearer token for the `Authorization` header.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    pub username: String,
}

impl From<LoginOutcome> for TokenResponse {
    fn from(outcome: LoginOutcome) -> Self {
        Self {
            access_token: outcome.access_token,
            token_type: "bearer",
            expires_in: outcome.expires_in,
            username: outcome.username,
        }
    }
}
