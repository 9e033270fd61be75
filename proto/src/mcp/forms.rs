//! What MCP adds to the OAuth requests: the RFC 8707 `resource` parameter (the server's
//! canonical URL) in the authorization, token, refresh and device requests — unless the
//! person turned it off for an authorization server that refuses it (`--no-resource`).

use crate::Secret;
use crate::oauth::{
    AuthorizationRequest, ClientAuth, authorization_code_form, device_authorization_form,
    device_token_form, refresh_token_form, revocation_form,
};
use crate::pkce::PkceVerifier;

fn with_resource(mut s: String, resource: Option<&str>) -> String {
    if let Some(resource) = resource {
        let pair = form_urlencoded::Serializer::new(String::new())
            .append_pair("resource", resource)
            .finish();
        if !s.is_empty() {
            s.push('&');
        }
        s.push_str(&pair);
    }
    s
}

/// The parts of an authorization request that are not per-attempt secrets.
#[derive(Debug, Clone, Copy)]
pub struct Authorize<'a> {
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub resource: Option<&'a str>,
}

/// The URL the person opens: code flow with PKCE S256, `state` and `resource`.
pub fn authorization_url(a: Authorize<'_>, state: &str, verifier: &PkceVerifier) -> String {
    let url = AuthorizationRequest {
        endpoint: a.endpoint,
        client_id: a.client_id,
        redirect_uri: a.redirect_uri,
        scope: a.scope,
        state,
        code_challenge: &verifier.challenge(),
    }
    .url();
    with_resource(url, a.resource)
}

/// The form-encoded body that exchanges the code (with the verifier and the resource).
pub fn code_exchange_form(
    client: ClientAuth<'_>,
    code: &str,
    redirect_uri: &str,
    verifier: &PkceVerifier,
    resource: Option<&str>,
) -> String {
    with_resource(
        authorization_code_form(client, code, redirect_uri, verifier),
        resource,
    )
}

/// The form-encoded body that refreshes (with the resource, RFC 8707 §2.2).
pub fn refresh_form(
    client: ClientAuth<'_>,
    refresh_token: &Secret,
    resource: Option<&str>,
) -> String {
    with_resource(refresh_token_form(client, refresh_token), resource)
}

/// The device authorization request (RFC 8628 §3.1) with the resource.
pub fn device_form(client: ClientAuth<'_>, scope: &str, resource: Option<&str>) -> String {
    with_resource(device_authorization_form(client, scope), resource)
}

/// One device token poll (RFC 8628 §3.4) with the resource.
pub fn device_poll_form(
    client: ClientAuth<'_>,
    device_code: &Secret,
    resource: Option<&str>,
) -> String {
    with_resource(device_token_form(client, device_code), resource)
}

/// RFC 7009 revocation of a refresh token, then of an access token (sign-out).
pub fn revoke_forms(
    client: ClientAuth<'_>,
    refresh_token: Option<&Secret>,
    access_token: Option<&Secret>,
) -> Vec<String> {
    let mut forms = Vec::new();
    if let Some(t) = refresh_token {
        forms.push(revocation_form(client, t, "refresh_token"));
    }
    if let Some(t) = access_token {
        forms.push(revocation_form(client, t, "access_token"));
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or(url);
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    const PUBLIC: ClientAuth<'static> = ClientAuth {
        client_id: "cid",
        client_secret: None,
    };

    #[test]
    fn authorization_url_and_forms_carry_pkce_state_and_resource() {
        let v = PkceVerifier::generate();
        let a = Authorize {
            endpoint: "https://as.example/authorize",
            client_id: "cid",
            redirect_uri: "http://127.0.0.1:53682/callback",
            scope: "read write",
            resource: Some("https://mcp.example/mcp"),
        };
        let url = authorization_url(a, "st", &v);
        let q = query(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("redirect_uri").as_deref(), Some(a.redirect_uri));
        assert_eq!(get("code_challenge"), Some(v.challenge()));
        assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(get("resource").as_deref(), Some("https://mcp.example/mcp"));
        assert!(url.contains("scope=read+write"));
        let without = authorization_url(
            Authorize {
                resource: None,
                ..a
            },
            "st",
            &v,
        );
        assert!(!without.contains("resource="));

        let form = code_exchange_form(PUBLIC, "c/d", a.redirect_uri, &v, Some("https://m/mcp"));
        let q = query(&form);
        assert!(q.contains(&("code".into(), "c/d".into())));
        assert!(q.contains(&("code_verifier".into(), v.expose().into())));
        assert!(q.contains(&("resource".into(), "https://m/mcp".into())));
        assert!(!q.iter().any(|(k, _)| k == "client_secret"));
        assert_eq!(
            refresh_form(PUBLIC, &Secret::new("rt"), Some("https://r")),
            "grant_type=refresh_token&refresh_token=rt&client_id=cid&resource=https%3A%2F%2Fr"
        );
        assert_eq!(
            refresh_form(PUBLIC, &Secret::new("rt"), None),
            "grant_type=refresh_token&refresh_token=rt&client_id=cid"
        );
        let secret = Secret::new("shh");
        let confidential = ClientAuth {
            client_id: "cid",
            client_secret: Some(&secret),
        };
        assert!(device_form(confidential, "a", Some("https://r")).contains("client_secret=shh"));
        assert!(device_poll_form(PUBLIC, &Secret::new("dc"), None).contains("device_code=dc"));
    }

    #[test]
    fn sign_out_revokes_the_refresh_token_first() {
        let forms = revoke_forms(PUBLIC, Some(&Secret::new("rt")), Some(&Secret::new("at")));
        assert_eq!(forms.len(), 2);
        assert!(forms[0].starts_with("token=rt&token_type_hint=refresh_token"));
        assert!(forms[1].starts_with("token=at&token_type_hint=access_token"));
        assert!(revoke_forms(PUBLIC, None, None).is_empty());
    }
}
