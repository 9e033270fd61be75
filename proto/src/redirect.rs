//! What a person pastes after approving an OAuth request: the whole redirect URL, its query,
//! or the bare code. Turned into the authorization response (RFC 6749 §4.1.2).

/// The parts of an authorization response Patchbay uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// URL-decoded.
    pub code: String,
    pub state: Option<String>,
    /// RFC 9207 issuer, when the server sent one.
    pub iss: Option<String>,
}

/// Why a paste was not understood; each variant's message says what to paste instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasteError {
    Empty,
    /// The provider redirected with `error=…` (the user declined, or the request was bad).
    Denied {
        error: String,
        description: Option<String>,
    },
    NoCode,
    NotACode,
}

impl PasteError {
    pub fn message(&self) -> String {
        const WHAT: &str = "Paste the whole address your browser showed after you approved \
                            (it starts with http://127.0.0.1:53682/ or http://localhost:53682/ \
                            and contains code=), or just the code.";
        match self {
            PasteError::Empty => format!("Nothing was pasted. {WHAT}"),
            PasteError::Denied { error, description } if error == "access_denied" => format!(
                "Access was declined at the sign-in page{}. Start again and choose Allow.",
                description
                    .as_deref()
                    .map(|d| format!(" ({})", short(d)))
                    .unwrap_or_default()
            ),
            PasteError::Denied { error, description } => format!(
                "The sign-in page reported an error: {}{}. Start the sign-in again.",
                short(error),
                description
                    .as_deref()
                    .map(|d| format!(" ({})", short(d)))
                    .unwrap_or_default()
            ),
            PasteError::NoCode => format!("That address has no code= in it. {WHAT}"),
            PasteError::NotACode => format!("That does not look like a sign-in code. {WHAT}"),
        }
    }
}

/// Error texts come from the provider via the user's paste: keep them short and printable.
fn short(s: &str) -> String {
    crate::text::quote(s, 120)
}

/// Reads a pasted redirect URL, query string or bare code.
pub fn parse_pasted_redirect(input: &str) -> Result<AuthorizationResponse, PasteError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(PasteError::Empty);
    }
    let looks_like_query = input.contains("code=") || input.contains("error=");
    // Only an http(s) address is read as a URL: a bare code may hold `://` itself.
    let is_url = input.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
    });
    let query = if is_url {
        // A URL: the query is between the first '?' and the fragment.
        let after = input.split_once('?').map(|(_, q)| q).unwrap_or("");
        after.split('#').next().unwrap_or("")
    } else if looks_like_query || input.starts_with('?') {
        input.trim_start_matches('?')
    } else {
        return bare_code(input);
    };
    let mut code = None;
    let mut state = None;
    let mut iss = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            "iss" => iss = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(error) = error {
        return Err(PasteError::Denied { error, description });
    }
    let code = code.filter(|c| !c.is_empty()).ok_or(PasteError::NoCode)?;
    if !is_code_shaped(&code) {
        return Err(PasteError::NotACode);
    }
    Ok(AuthorizationResponse { code, state, iss })
}

fn bare_code(input: &str) -> Result<AuthorizationResponse, PasteError> {
    // A bare code may itself be percent-encoded (copied out of an address bar).
    let decoded: String =
        form_urlencoded::parse(format!("c={}", input.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    if is_code_shaped(&decoded) {
        Ok(AuthorizationResponse {
            code: decoded,
            state: None,
            iss: None,
        })
    } else {
        Err(PasteError::NotACode)
    }
}

/// Codes are opaque, but always printable, space-free and of sane length. Google's contain
/// `/` and `+`; Microsoft's `.`, `-` and `_`.
fn is_code_shaped(code: &str) -> bool {
    (4..=4096).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=*!$:@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOGLE_CODE: &str = "4/0Ab+cd/ef==";

    #[test]
    fn whole_urls_queries_and_bare_codes() {
        let encoded = "4%2F0Ab%2Bcd%2Fef%3D%3D";
        for input in [
            format!("http://127.0.0.1:53682/?state=abc&code={encoded}"),
            format!("http://localhost:53682/?code={encoded}&state=abc&scope=x#frag"),
            format!("  ?state=abc&code={encoded}\n"),
            format!("state=abc&code={encoded}"),
        ] {
            let r = parse_pasted_redirect(&input).unwrap();
            assert_eq!(r.code, GOOGLE_CODE, "{input}");
            assert_eq!(r.state.as_deref(), Some("abc"), "{input}");
        }
        let r = parse_pasted_redirect(GOOGLE_CODE).unwrap();
        assert_eq!((r.code.as_str(), r.state), (GOOGLE_CODE, None));
        let r = parse_pasted_redirect(encoded).unwrap();
        assert_eq!(r.code, GOOGLE_CODE);
        let r = parse_pasted_redirect("http://127.0.0.1:53682/callback?code=M.C5_BAY.2.U&state=s&iss=https%3A%2F%2Fas.example").unwrap();
        assert_eq!(r.iss.as_deref(), Some("https://as.example"));
    }

    #[test]
    fn garbage_and_errors_say_what_to_do() {
        assert_eq!(parse_pasted_redirect("  "), Err(PasteError::Empty));
        assert_eq!(
            parse_pasted_redirect("http://127.0.0.1:53682/?state=abc"),
            Err(PasteError::NoCode)
        );
        assert_eq!(
            parse_pasted_redirect("hello world"),
            Err(PasteError::NotACode)
        );
        assert_eq!(
            parse_pasted_redirect("<script>alert(1)</script>"),
            Err(PasteError::NotACode)
        );
        let denied = parse_pasted_redirect("http://127.0.0.1:53682/?error=access_denied&state=x")
            .unwrap_err();
        assert!(denied.message().contains("declined"));
        assert!(PasteError::NotACode.message().contains("code="));
    }
}
