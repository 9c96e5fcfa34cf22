//! Passwords (argon2id, PHC strings) and bearer tokens (HS256 JWTs).
//!
//! A token names its user (`sub`) and its session (`sid`, a row of the `sessions` table): a token is only as
//! good as its session, which `logout`, `logoutEverywhere` and a password change end (see
//! [`crate::accounts`]). The signature, `exp` and `nbf` are checked here; the session by the accounts service.
//!
//! Hashing is CPU-bound by design; callers on an async runtime run it on a blocking thread
//! (see [`crate::ports::PasswordHasher`]).

use crate::error::{DomainError, DomainResult};
use crate::ids::{SessionId, UserId};
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
    /// The session the token belongs to. A token without one (issued before sessions existed) is refused.
    sid: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// What a well-signed, current token says: whose it is and which session it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub user: UserId,
    pub session: SessionId,
    /// When it expires (and its session with it).
    pub expires_at: chrono::DateTime<chrono::Utc>,
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

    /// When a session started at `now` ends by itself: the token's lifetime later.
    pub fn expiry(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        now + chrono::Duration::seconds(self.lifetime_secs)
    }

    /// A token for `session` of `user`, valid from `now` until [`TokenKeys::expiry`].
    pub fn issue(&self, user: UserId, session: SessionId, now: chrono::DateTime<chrono::Utc>) -> DomainResult<String> {
        let now = now.timestamp();
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_string(),
            iat: now,
            nbf: now,
            exp: now + self.lifetime_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::internal("signing token", e))
    }

    /// What a token says; `UNAUTHENTICATED` when it is forged, malformed, expired, not valid yet (`nbf`), or
    /// names no session. Whether its session is still open is the accounts service's to check.
    pub fn verify(&self, token: &str) -> DomainResult<TokenClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| DomainError::Unauthenticated)?;
        let uuid = |text: &str| uuid::Uuid::try_parse(text).map_err(|_| DomainError::Unauthenticated);
        let expires_at = chrono::DateTime::from_timestamp(data.claims.exp, 0).ok_or(DomainError::Unauthenticated)?;
        Ok(TokenClaims {
            user: UserId(uuid(&data.claims.sub)?),
            session: SessionId(uuid(&data.claims.sid)?),
            expires_at,
        })
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

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    #[test]
    fn a_token_names_its_user_and_session_and_rejects_another_secret() {
        let keys = TokenKeys::new(b"secret-one");
        let (user, session) = (UserId::generate(), SessionId::generate());
        let token = keys.issue(user, session, now()).expect("issue");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!((claims.user, claims.session), (user, session));
        assert_eq!(TokenKeys::new(b"secret-two").verify(&token).map_err(|e| e.code()), Err("UNAUTHENTICATED"));
        assert!(keys.verify("garbage").is_err());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::new(b"s").with_lifetime(-60);
        let token = keys.issue(UserId::generate(), SessionId::generate(), now()).expect("issue");
        assert!(keys.verify(&token).is_err());
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let keys = TokenKeys::new(b"s");
        let later = now() + chrono::Duration::seconds(60);
        let token = keys.issue(UserId::generate(), SessionId::generate(), later).expect("issue");
        assert!(keys.verify(&token).is_err(), "nbf a minute ahead");
        let token = keys.issue(UserId::generate(), SessionId::generate(), now()).expect("issue");
        assert!(keys.verify(&token).is_ok());
    }

    #[test]
    fn a_token_without_a_session_is_refused() {
        #[derive(Serialize)]
        struct Old {
            sub: String,
            iat: i64,
            exp: i64,
        }
        let at = now().timestamp();
        let old = Old { sub: UserId::generate().to_string(), iat: at, exp: at + 3600 };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &EncodingKey::from_secret(b"s")).expect("sign");
        assert_eq!(TokenKeys::new(b"s").verify(&token).map_err(|e| e.code()), Err("UNAUTHENTICATED"));
    }
}
