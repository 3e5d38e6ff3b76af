//! Who is asking: password hashing, access tokens, login rate limiting and the authenticated
//! caller.

mod password;
mod throttle;
mod token;

pub use password::Passwords;
pub use throttle::{
    Attempt, CLIENT_FACTOR as LOGIN_CLIENT_FACTOR, DEFAULT_CAPACITY as LOGIN_THROTTLE_CAPACITY,
    LoginThrottle, USERNAME_FACTOR as LOGIN_USERNAME_FACTOR,
};
pub use token::{Claims, Tokens};

pub(crate) use throttle::client_key;

use triage_domain::{Role, User, UserId};

/// The authenticated user behind a request, as loaded from the store for this request (so a
/// deleted user or a changed role takes effect at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub username: String,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Owners and administrators may see and change a resource.
    pub fn may_access(&self, owner: UserId) -> bool {
        self.id == owner || self.is_admin()
    }
}

impl From<&User> for Caller {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            role: user.role,
        }
    }
}
