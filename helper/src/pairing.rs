//! The pairing token: the one secret a dashboard needs to use this helper.

use std::io;
use std::path::Path;

use patchbay_proto::Secret;
use patchbay_proto::pairing::new_pairing_token;

use crate::engine::store::LockedFile;

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
    let file = LockedFile::at(data_dir.join(TOKEN_FILE));
    if let Some(token) = kept(file.read().map_err(io::Error::other)?.as_deref()) {
        return Ok((token, TokenSource::File));
    }
    // Under the lock, so two helpers starting at once agree on one token.
    file.replace(|current| match kept(current) {
        Some(token) => Ok((None, (token, TokenSource::File))),
        None => {
            let token = new_pairing_token();
            let bytes = token.expose().as_bytes().to_vec();
            Ok((Some(bytes), (token, TokenSource::Generated)))
        }
    })
    .map_err(io::Error::other)
}

/// The token kept in `data_dir`, if there is one; never creates it (`patchbay pair`).
pub fn read_kept(data_dir: &Path) -> io::Result<Option<Secret>> {
    let bytes = LockedFile::at(data_dir.join(TOKEN_FILE))
        .read()
        .map_err(io::Error::other)?;
    Ok(kept(bytes.as_deref()))
}

/// The token in the file's bytes; an empty file keeps none.
fn kept(bytes: Option<&[u8]>) -> Option<Secret> {
    let token = String::from_utf8_lossy(bytes?).trim().to_owned();
    (!token.is_empty()).then(|| Secret::new(token))
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
        let mode = crate::engine::fsutil::mode(&tmp.path().join(TOKEN_FILE)).unwrap();
        assert_eq!(mode, 0o600);
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
