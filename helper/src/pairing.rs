//! The pairing token: the one secret a dashboard needs to use this helper.

use std::io;
use std::path::Path;

use patchbay_proto::Secret;
use patchbay_proto::pairing::new_pairing_token;

use crate::engine::fsutil;

pub const TOKEN_FILE: &str = "pairing-token";

/// Where the token came from, for the start-up message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    File,
    Generated,
}

/// `PATCHBAY_TOKEN` when set (`from_env`); else the token kept in `data_dir`; else a new one,
/// written there (0600) so the dashboard stays paired across restarts.
pub fn load_or_create(
    data_dir: &Path,
    from_env: Option<String>,
) -> io::Result<(Secret, TokenSource)> {
    if let Some(token) = from_env
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
    {
        if token.len() < 16 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "PATCHBAY_TOKEN is shorter than 16 characters; use a long random value \
                 (or unset it and let the helper generate one)",
            ));
        }
        return Ok((Secret::new(token), TokenSource::Environment));
    }
    fsutil::ensure_private_dir(data_dir)?;
    if let Some(token) = read_kept(data_dir)? {
        return Ok((token, TokenSource::File));
    }
    let token = new_pairing_token();
    fsutil::write_private_atomic(&data_dir.join(TOKEN_FILE), token.expose().as_bytes())?;
    Ok((token, TokenSource::Generated))
}

/// The token kept in `data_dir`, if there is one; never creates it (`patchbay pair`).
pub fn read_kept(data_dir: &Path) -> io::Result<Option<Secret>> {
    match fsutil::read_private(&data_dir.join(TOKEN_FILE)) {
        Ok(bytes) => {
            let token = String::from_utf8_lossy(&bytes).trim().to_owned();
            Ok(Some(token).filter(|t| !t.is_empty()).map(Secret::new))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, src_a) = load_or_create(tmp.path(), None).unwrap();
        let (b, src_b) = load_or_create(tmp.path(), None).unwrap();
        assert_eq!((src_a, src_b), (TokenSource::Generated, TokenSource::File));
        assert_eq!(a, b);
        assert_eq!(fsutil::mode(&tmp.path().join(TOKEN_FILE)).unwrap(), 0o600);
    }

    #[test]
    fn environment_wins_and_short_values_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (t, src) =
            load_or_create(tmp.path(), Some("an-env-token-of-enough-length".into())).unwrap();
        assert_eq!(src, TokenSource::Environment);
        assert!(t.matches("an-env-token-of-enough-length"));
        assert!(
            !tmp.path().join(TOKEN_FILE).exists(),
            "env token must not be written"
        );
        assert!(load_or_create(tmp.path(), Some("short".into())).is_err());
    }
}
