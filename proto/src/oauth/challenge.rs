//! The `WWW-Authenticate` header of a 401: which challenge is `Bearer`, and what it says
//! (RFC 6750 §3; RFC 9728 §5.1 adds `resource_metadata`).

/// The `Bearer` challenge of a `WWW-Authenticate` header (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl BearerChallenge {
    /// A 403 asking for more scope (RFC 6750 §3.1): the token is good, its grant too small.
    pub fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// Finds the `Bearer` challenge in a `WWW-Authenticate` value (which may hold several
/// challenges, each with comma-separated `name=value` or `name="quoted"` parameters).
pub fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut in_bearer = false;
    let mut found = None::<BearerChallenge>;
    loop {
        p.skip_ws_and_commas();
        if p.done() {
            break;
        }
        let token = p.token()?;
        p.skip_ws();
        if p.peek() == Some(b'=') {
            // An auth-param of the current challenge.
            p.i += 1;
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()?
            } else {
                p.token().unwrap_or_default()
            };
            if in_bearer && let Some(c) = found.as_mut() {
                match token.to_ascii_lowercase().as_str() {
                    "resource_metadata" => c.resource_metadata = Some(value),
                    "scope" => c.scope = Some(value),
                    "error" => c.error = Some(value),
                    "error_description" => c.error_description = Some(value),
                    _ => {}
                }
            }
        } else {
            // A new challenge's scheme (token68 values are skipped as unknown tokens).
            in_bearer = token.eq_ignore_ascii_case("bearer") && found.is_none();
            if in_bearer {
                found = Some(BearerChallenge::default());
            }
        }
    }
    found
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b) {
                self.i += 1;
            } else {
                break;
            }
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_found_among_others() {
        let c = parse_bearer_challenge(
            r#"Bearer realm="mcp", error="invalid_token", resource_metadata="https://x.example/.well-known/oauth-protected-resource/mcp""#,
        )
        .unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://x.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert!(!c.is_insufficient_scope());
        let c = parse_bearer_challenge(
            r#"Bearer error="insufficient_scope", scope="files:write", error_description="write needed""#,
        )
        .unwrap();
        assert!(c.is_insufficient_scope());
        assert_eq!(c.scope.as_deref(), Some("files:write"));
        assert_eq!(c.error_description.as_deref(), Some("write needed"));

        let c = parse_bearer_challenge(
            r#"Basic realm="a\"b", DPoP algs="ES256", bearer scope="read write",resource_metadata=https://y/m"#,
        )
        .unwrap();
        assert_eq!(c.scope.as_deref(), Some("read write"));
        assert_eq!(c.resource_metadata.as_deref(), Some("https://y/m"));
        assert!(parse_bearer_challenge(r#"Basic realm="x""#).is_none());
        assert!(parse_bearer_challenge("").is_none());
        let c = parse_bearer_challenge("Bearer").unwrap();
        assert_eq!(c, BearerChallenge::default());
    }
}
