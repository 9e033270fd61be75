//! AES-256-GCM for the secrets the edge keeps in D1.
//!
//! A stored value is `base64(nonce ‖ ciphertext ‖ tag)` with a fresh random 96-bit nonce per
//! value. The associated data names the column the value belongs to, so a ciphertext copied
//! into another column (a refresh token presented as an access token) fails to decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use patchbay_proto::Secret;

const NONCE_LEN: usize = 12;

/// The cipher for D1 values, built from `PATCHBAY_ENCRYPTION_KEY`.
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

/// Why a value could not be decrypted: a different key, or a damaged or moved value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecryptError;

impl Cipher {
    /// `key` is base64 (standard or URL-safe, padded or not) of exactly 32 bytes, as
    /// `openssl rand -base64 32` prints.
    pub fn from_base64_key(key: &Secret) -> Result<Cipher, &'static str> {
        let text = key.expose().trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE.decode(text))
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| "is not base64")?;
        if bytes.len() != 32 {
            return Err("is not 32 bytes");
        }
        Aes256Gcm::new_from_slice(&bytes)
            .map(Cipher)
            .map_err(|_| "is not 32 bytes")
    }

    /// Encrypts `plaintext` for the column named `column`.
    pub fn seal(&self, column: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the platform random source failed");
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: column.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// Decrypts a value sealed for `column`.
    pub fn open(&self, column: &str, stored: &str) -> Result<Secret, DecryptError> {
        let bytes = STANDARD.decode(stored).map_err(|_| DecryptError)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(DecryptError);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| DecryptError)
    }
}

#[cfg(test)]
pub(crate) fn test_key() -> Secret {
    Secret::new(STANDARD.encode([7u8; 32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_a_fresh_nonce_each_time() {
        let c = Cipher::from_base64_key(&test_key()).unwrap();
        let a = c.seal("t.access", "vca_secret");
        let b = c.seal("t.access", "vca_secret");
        assert_ne!(a, b);
        assert!(!a.contains("vca_secret"));
        assert_eq!(c.open("t.access", &a).unwrap().expose(), "vca_secret");
    }

    #[test]
    fn wrong_key_column_or_tampering_fail() {
        let c = Cipher::from_base64_key(&test_key()).unwrap();
        let sealed = c.seal("t.access", "x");
        assert_eq!(c.open("t.refresh", &sealed).unwrap_err(), DecryptError);
        let other = Cipher::from_base64_key(&Secret::new(STANDARD.encode([8u8; 32]))).unwrap();
        assert!(other.open("t.access", &sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        assert!(c.open("t.access", &STANDARD.encode(bytes)).is_err());
        assert!(c.open("t.access", "short").is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(Cipher::from_base64_key(&Secret::new("not base64!")).is_err());
        assert!(Cipher::from_base64_key(&Secret::new(STANDARD.encode([1u8; 16]))).is_err());
        assert!(Cipher::from_base64_key(&Secret::new(URL_SAFE_NO_PAD.encode([1u8; 32]))).is_ok());
    }
}
