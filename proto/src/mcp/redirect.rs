//! The checks on an authorization response before its code goes anywhere: `state` (constant
//! time) and RFC 9207 `iss`, compared as the MCP specification says: exactly, with no
//! normalisation, and required when the server advertises it.

use crate::redirect::AuthorizationResponse;
use crate::secret::constant_time_eq;

/// Why a redirect is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectProblem {
    StateMissing,
    StateMismatch,
    IssMissing,
    IssMismatch,
}

impl RedirectProblem {
    pub fn message(&self) -> String {
        match self {
            RedirectProblem::StateMissing => "The redirect has no state parameter, so Patchbay \
                cannot tell it belongs to this sign-in. Paste the whole address the browser \
                showed after you approved."
                .into(),
            RedirectProblem::StateMismatch => "The redirect's state does not match this \
                sign-in (it may belong to an older attempt, or be forged). Nothing was saved; \
                start the sign-in again."
                .into(),
            RedirectProblem::IssMissing => "The authorization server promises an iss \
                parameter in its redirects (RFC 9207), but this one has none. Nothing was \
                saved; start the sign-in again."
                .into(),
            RedirectProblem::IssMismatch => "The redirect comes from a different \
                authorization server than the one this sign-in started at (iss mismatch, \
                RFC 9207). Nothing was saved; start the sign-in again."
                .into(),
        }
    }
}

/// Only the state: what the listener checks before it hands a request to the flow.
pub fn check_state(
    response: &AuthorizationResponse,
    expected: &str,
) -> Result<(), RedirectProblem> {
    let state = response
        .state
        .as_deref()
        .ok_or(RedirectProblem::StateMissing)?;
    if !constant_time_eq(state.as_bytes(), expected.as_bytes()) {
        return Err(RedirectProblem::StateMismatch);
    }
    Ok(())
}

/// The checks on the authorization response: `state`, and `iss` when the server advertises
/// RFC 9207 support or sends one anyway.
pub fn check_redirect(
    response: &AuthorizationResponse,
    expected_state: &str,
    issuer: &str,
    iss_advertised: bool,
) -> Result<(), RedirectProblem> {
    check_state(response, expected_state)?;
    match response.iss.as_deref() {
        Some(iss) if iss != issuer => Err(RedirectProblem::IssMismatch),
        None if iss_advertised => Err(RedirectProblem::IssMissing),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_checked_for_state_and_iss() {
        let resp = |state: Option<&str>, iss: Option<&str>| AuthorizationResponse {
            code: "c".into(),
            state: state.map(Into::into),
            iss: iss.map(Into::into),
        };
        let as_ = "https://as.example";
        assert_eq!(
            check_redirect(&resp(Some("s"), None), "s", as_, false),
            Ok(())
        );
        assert_eq!(
            check_redirect(&resp(Some("x"), None), "s", as_, false),
            Err(RedirectProblem::StateMismatch)
        );
        assert_eq!(
            check_redirect(&resp(None, None), "s", as_, false),
            Err(RedirectProblem::StateMissing)
        );
        assert_eq!(
            check_redirect(&resp(Some("s"), None), "s", as_, true),
            Err(RedirectProblem::IssMissing)
        );
        assert_eq!(
            check_redirect(&resp(Some("s"), Some("https://evil")), "s", as_, false),
            Err(RedirectProblem::IssMismatch)
        );
        // Simple string comparison: no trailing-slash or case normalisation.
        for near in ["https://as.example/", "HTTPS://as.example"] {
            assert_eq!(
                check_redirect(&resp(Some("s"), Some(near)), "s", as_, true),
                Err(RedirectProblem::IssMismatch),
                "{near}"
            );
        }
        assert_eq!(
            check_redirect(&resp(Some("s"), Some(as_)), "s", as_, true),
            Ok(())
        );
    }
}
