//! argon2id password hashes (PHC strings), computed off the async runtime.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{AppError, AppResult};

/// Hashes and verifies passwords. Verification of an unknown user runs against a fixed dummy
/// hash so that the answer takes the same time whether or not the user exists.
#[derive(Clone)]
pub struct Passwords {
    dummy_hash: String,
}

impl Passwords {
    /// # Errors
    /// `Internal` if argon2 cannot hash (it cannot, with default parameters).
    pub fn new() -> AppResult<Self> {
        Ok(Self {
            dummy_hash: hash_now("not a real password")?,
        })
    }

    /// # Errors
    /// `Internal` if hashing fails or the blocking pool is gone.
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .map_err(AppError::internal)?
    }

    /// True when `password` matches `hash`. `None` as the hash burns the same time and
    /// answers false.
    ///
    /// # Errors
    /// `Internal` if the blocking pool is gone.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> AppResult<bool> {
        let password = password.to_owned();
        let (hash, real) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let matched = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .map_err(AppError::internal)?;
        Ok(real && matched)
    }
}

fn hash_now(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| AppError::internal(format!("argon2: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let passwords = Passwords::new().unwrap();
        let hash = passwords.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            passwords
                .verify("correct horse", Some(&hash))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("wrong horse", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("not a real password", None).await.unwrap());
    }
}
