//! Users, roles and the rules for usernames and passwords.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::error::DomainError;
use crate::ids::UserId;

/// What a user may do beyond their own jobs and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err(DomainError::invalid("role", "must be 'user' or 'admin'")),
        }
    }
}

/// A stored account. `password_hash` is an argon2id PHC string and never leaves the server.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

// Hand-written so that a stray `{:?}` can never print the password hash.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A user to insert; already validated and hashed.
#[derive(Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A partial update; `None` leaves a field as it is. For the nullable fields, `Some(None)`
/// clears them.
#[derive(Clone, Default)]
pub struct UserChanges {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub full_name: Option<Option<String>>,
    pub role: Option<Role>,
    pub password_hash: Option<String>,
}

/// The form of a username that decides uniqueness and lookup: compatibility-normalised (NFKC),
/// lower-cased, and normalised again (lower-casing can denormalise). So `ａｄｍｉｎ`, `ADMIN` and
/// `admin` are one name, while the spelling the user chose is kept for display.
pub fn username_key(username: &str) -> String {
    let lowered = username.nfkc().collect::<String>().to_lowercase();
    lowered.nfkc().collect()
}

/// Usernames: 3–50 characters of letters, digits, `_`, `.` and `-`, with at least one letter or
/// digit (a name of punctuation only is too easy to confuse).
///
/// # Errors
/// [`DomainError::Invalid`] on `username` with the rule that was broken.
pub fn validate_username(username: &str) -> Result<(), DomainError> {
    let count = username.chars().count();
    if !(3..=50).contains(&count) {
        return Err(DomainError::invalid(
            "username",
            "must be 3 to 50 characters long",
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(DomainError::invalid(
            "username",
            "may contain only letters, digits, '_', '.' and '-'",
        ));
    }
    if !username.chars().any(char::is_alphanumeric) {
        return Err(DomainError::invalid(
            "username",
            "must contain at least one letter or digit",
        ));
    }
    Ok(())
}

/// Passwords: 6–128 characters (the old 6–24 range stays valid), not only white space.
///
/// # Errors
/// [`DomainError::Invalid`] on `password`.
pub fn validate_password(password: &str) -> Result<(), DomainError> {
    let count = password.chars().count();
    if !(6..=128).contains(&count) {
        return Err(DomainError::invalid(
            "password",
            "must be 6 to 128 characters long",
        ));
    }
    if password.chars().all(char::is_whitespace) {
        return Err(DomainError::invalid(
            "password",
            "must not be only white space",
        ));
    }
    Ok(())
}

/// E-mail addresses: a light sanity check (one `@`, something on both sides, no spaces).
///
/// # Errors
/// [`DomainError::Invalid`] on `email`.
pub fn validate_email(email: &str) -> Result<(), DomainError> {
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid("email", "is not an e-mail address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(validate_username("al").is_err());
        assert!(validate_username("").is_err());
        assert!(validate_username("alice smith").is_err());
        assert!(validate_username(&"a".repeat(51)).is_err());
        assert!(validate_username("alice.s-1_x").is_ok());
        assert!(validate_username("врач_01").is_ok());
        assert!(validate_username("...").is_err());
        assert!(validate_username("_-.").is_err());
        assert!(validate_username("._1").is_ok());
    }

    #[test]
    fn username_keys_fold_width_and_case() {
        assert_eq!(username_key("ａｄｍｉｎ"), "admin");
        assert_eq!(username_key("ADMIN"), "admin");
        assert_eq!(username_key("Врач"), "врач");
        assert_eq!(username_key("ﬁle"), "file");
        assert_ne!(username_key("admin1"), username_key("admin"));
    }

    #[test]
    fn password_rules() {
        assert!(validate_password("12345").is_err());
        assert!(validate_password("123456").is_ok());
        assert!(validate_password(&"x".repeat(128)).is_ok());
        assert!(validate_password(&"x".repeat(129)).is_err());
        assert!(validate_password("      ").is_err());
        assert!(validate_password("\u{3000}\t \u{a0}\n ").is_err());
        assert!(validate_password(" a    ").is_ok());
    }

    #[test]
    fn email_rules() {
        assert!(validate_email("a@b.ru").is_ok());
        assert!(validate_email("a@b").is_err());
        assert!(validate_email("@b.ru").is_err());
        assert!(validate_email("a b@c.ru").is_err());
    }
}
