//! Passwords (argon2id, PHC strings) and bearer tokens (HS256 JWTs).
//!
//! Hashing is CPU-bound by design; callers on an async runtime run it on a blocking thread
//! (see [`crate::ports::PasswordHasher`]).

use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Hashes a password with argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> DomainResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| DomainError::internal("hashing password", e))
}

/// Checks a password against a stored PHC string. A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// A hash of a password nobody knows, verified when a login names no user so that a wrong handle and a wrong
/// password take the same time.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$dBLPdNWbnfWnvF7Pf7uLFa1qJ1ysdRvu8mCHYCb3N58";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
}

/// Signs and checks bearer tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime_secs: i64,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys").field("lifetime_secs", &self.lifetime_secs).finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Tokens live 30 days unless told otherwise.
    pub const DEFAULT_LIFETIME_SECS: i64 = 30 * 24 * 3600;

    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            lifetime_secs: Self::DEFAULT_LIFETIME_SECS,
        }
    }

    pub fn with_lifetime(mut self, secs: i64) -> Self {
        self.lifetime_secs = secs;
        self
    }

    pub fn issue(&self, user: UserId) -> DomainResult<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims { sub: user.to_string(), iat: now, exp: now + self.lifetime_secs };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::internal("signing token", e))
    }

    /// The user a token was issued to; `UNAUTHENTICATED` when it is forged, malformed or expired.
    pub fn verify(&self, token: &str) -> DomainResult<UserId> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| DomainError::Unauthenticated)?;
        uuid::Uuid::try_parse(&data.claims.sub).map(UserId).map_err(|_| DomainError::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let phc = hash_password("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong horse", &phc));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn the_dummy_hash_is_well_formed_and_matches_nothing_plausible() {
        assert!(!verify_password("password", DUMMY_HASH));
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn a_token_names_its_user_and_rejects_another_secret() {
        let keys = TokenKeys::new(b"secret-one");
        let user = UserId::generate();
        let token = keys.issue(user).expect("issue");
        assert_eq!(keys.verify(&token).ok(), Some(user));
        assert_eq!(TokenKeys::new(b"secret-two").verify(&token).map_err(|e| e.code()), Err("UNAUTHENTICATED"));
        assert!(keys.verify("garbage").is_err());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::new(b"s").with_lifetime(-60);
        let token = keys.issue(UserId::generate()).expect("issue");
        assert!(keys.verify(&token).is_err());
    }
}
