//! PKCE (RFC 7636, S256 only) and OAuth `state` values.
//!
//! Shared by every OAuth client Patchbay runs: the edge's Vercel connector and the helper's
//! MCP client. Randomness comes from `getrandom`; nothing here performs I/O.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::secret::random_urlsafe;

/// The only challenge method Patchbay sends or accepts (`plain` defeats the point of PKCE).
pub const CHALLENGE_METHOD: &str = "S256";

/// A PKCE code verifier: 43 characters of base64url from 32 random bytes (RFC 7636 §4.1).
///
/// Not `Clone` (one verifier belongs to one authorization request) and its `Debug` never
/// shows the value; the raw value is reached only through [`PkceVerifier::expose`].
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// A fresh verifier from the platform CSPRNG.
    pub fn generate() -> Self {
        Self(random_urlsafe(32))
    }

    /// Rebuilds a verifier read back from storage (the edge keeps it, encrypted, between
    /// `oauth/start` and the token exchange). `None` if it is not a valid RFC 7636 verifier.
    pub fn from_stored(value: String) -> Option<Self> {
        let ok = (43..=128).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        ok.then_some(Self(value))
    }

    /// The S256 `code_challenge` for this verifier.
    pub fn challenge(&self) -> String {
        s256_challenge(&self.0)
    }

    /// The raw verifier, for the token request and for encrypted storage only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A fresh, unguessable OAuth `state` (256 bits, base64url).
pub fn new_state() -> String {
    random_urlsafe(32)
}

/// The key under which a `state` is stored: its SHA-256, base64url. Looking a state up by
/// its hash means a database index never compares the secret value itself, so lookup time
/// says nothing about how much of a guessed state was right.
pub fn state_key(state: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(state.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_7636_appendix_b_vector() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifiers_are_valid_distinct_and_redacted() {
        let a = PkceVerifier::generate();
        let b = PkceVerifier::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert_eq!(a.challenge(), s256_challenge(a.expose()));
        assert_eq!(format!("{a:?}"), "PkceVerifier([redacted])");
        let again = PkceVerifier::from_stored(a.expose().to_owned()).unwrap();
        assert_eq!(again.challenge(), a.challenge());
    }

    #[test]
    fn stored_verifiers_are_checked() {
        assert!(PkceVerifier::from_stored("short".into()).is_none());
        assert!(PkceVerifier::from_stored("a".repeat(129)).is_none());
        assert!(PkceVerifier::from_stored(format!("{}!", "a".repeat(42))).is_none());
        assert!(PkceVerifier::from_stored("a~b.c-d_".repeat(6)).is_some());
    }

    #[test]
    fn states_are_random_and_keyed_by_hash() {
        let s = new_state();
        assert_ne!(s, new_state());
        assert_eq!(s.len(), 43);
        assert_eq!(state_key(&s), state_key(&s));
        assert_ne!(state_key(&s), s);
    }
}
