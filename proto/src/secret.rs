//! Secrets as a type: nothing can print one by accident.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A credential (pairing token, API key, OAuth token). `Debug` and `Display` print
/// `[redacted]`; the value is reached only through [`Secret::expose`], so every place that
/// handles the raw value says so in its source.
///
/// It deliberately implements neither `Serialize` nor `Clone`-into-string conversions:
/// writing a secret to a file or a wire is done explicitly by the store that owns it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call sites are the audit list of where secrets flow.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, for status displays ("…a1b2"). Short secrets show nothing,
    /// because four characters of an eight-character secret is half of it.
    pub fn hint(&self) -> Option<String> {
        let chars: Vec<char> = self.0.chars().collect();
        (chars.len() >= 12).then(|| chars[chars.len() - 4..].iter().collect())
    }

    /// Compares with `candidate` in time that depends only on the lengths, never on where
    /// the first difference is, so a network attacker cannot guess a token byte by byte.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Byte-slice equality whose running time does not depend on the contents.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit compare.
    std::hint::black_box(diff) == 0
}

/// `n` random bytes from the platform CSPRNG, base64url-encoded without padding.
///
/// # Panics
/// If the platform has no random source, which no supported host lacks; continuing without
/// randomness would mean handing out guessable tokens.
pub fn random_urlsafe(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the platform random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// In the OpenAPI document a secret is a plain string the client sends (never one it reads).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Secret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .write_only(true)
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("ghp_fake_secret_value_1234");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert!(!format!("{s:?}{s}").contains("fake_secret"));
    }

    #[test]
    fn hint_is_last_four_only_for_long_secrets() {
        assert_eq!(
            Secret::new("ghp_fake_0000WXYZ").hint().as_deref(),
            Some("WXYZ")
        );
        assert_eq!(Secret::new("short").hint(), None);
    }

    #[test]
    fn matches_compares_whole_values() {
        let s = Secret::new("token-123");
        assert!(s.matches("token-123"));
        assert!(!s.matches("token-124"));
        assert!(!s.matches("token-12"));
        assert!(!s.matches(""));
    }

    #[test]
    fn random_tokens_are_urlsafe_and_distinct() {
        let a = random_urlsafe(32);
        let b = random_urlsafe(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
