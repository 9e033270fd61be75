//! The authorization request (RFC 6749 §4.1.1): the URL a person's browser opens, with a
//! PKCE S256 challenge (RFC 7636 §4.3).

use crate::pkce::CHALLENGE_METHOD;

/// An authorization request (RFC 6749 §4.1.1) with a PKCE S256 challenge (RFC 7636 §4.3).
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    /// The authorization endpoint; may already carry a query string.
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// Space-separated; omitted from the URL when empty.
    pub scope: &'a str,
    pub state: &'a str,
    pub code_challenge: &'a str,
}

impl AuthorizationRequest<'_> {
    /// The URL to send the person's browser to.
    pub fn url(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", self.client_id)
            .append_pair("redirect_uri", self.redirect_uri);
        if !self.scope.is_empty() {
            query.append_pair("scope", self.scope);
        }
        query
            .append_pair("state", self.state)
            .append_pair("code_challenge", self.code_challenge)
            .append_pair("code_challenge_method", CHALLENGE_METHOD);
        let sep = if self.endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}{}", self.endpoint, query.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').unwrap().1;
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn authorization_url_encodes_every_parameter() {
        let url = AuthorizationRequest {
            endpoint: "https://vercel.com/oauth/authorize",
            client_id: "cl_1",
            redirect_uri: "https://pb.example.com/callback?x=1&y",
            scope: "openid email",
            state: "st&te=",
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        }
        .url();
        assert!(url.starts_with("https://vercel.com/oauth/authorize?response_type=code&"));
        let q = query_of(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("redirect_uri"),
            Some("https://pb.example.com/callback?x=1&y")
        );
        assert_eq!(get("state"), Some("st&te="));
        assert_eq!(get("scope"), Some("openid email"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(q.len(), 7);

        let url = AuthorizationRequest {
            endpoint: "http://127.0.0.1:9/authorize?tenant=a",
            client_id: "c",
            redirect_uri: "r",
            scope: "",
            state: "s",
            code_challenge: "x",
        }
        .url();
        assert!(url.starts_with("http://127.0.0.1:9/authorize?tenant=a&response_type=code"));
        assert!(!url.contains("scope="));
    }
}
