//! Edge settings, read from Worker vars (`[vars]` in wrangler.toml, `--var` under
//! `wrangler dev`, or the dashboard) and Worker secrets (`wrangler secret put`). Both arrive
//! through the same lookup; secrets become [`Secret`]s at once.

use patchbay_proto::Secret;

/// Settings of the protected-resource document and the public URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    /// `PATCHBAY_PUBLIC_URL`: the origin this deployment is reached at. When unset, the
    /// request's own origin is used, which is right for `wrangler dev` and single-host setups.
    pub public_url: Option<String>,
    /// `PATCHBAY_AUTHORIZATION_SERVERS`: comma-separated issuer URLs.
    pub authorization_servers: Vec<String>,
    /// `PATCHBAY_SCOPES`: space-separated scopes.
    pub scopes: Vec<String>,
    /// `PATCHBAY_REGISTRATION_ENDPOINT`: Dynamic Client Registration endpoint for MCP clients.
    pub registration_endpoint: Option<String>,
    pub vercel: VercelConfig,
}

/// Where Vercel is and how the OAuth flow behaves. Every URL is a var so tests can point the
/// edge at a fake; the defaults are Vercel's real endpoints
/// (<https://vercel.com/.well-known/oauth-authorization-server>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VercelConfig {
    /// `VERCEL_AUTHORIZE_URL`
    pub authorize_url: String,
    /// `VERCEL_TOKEN_URL`
    pub token_url: String,
    /// `VERCEL_REGISTER_URL`: Dynamic Client Registration (RFC 7591).
    pub register_url: String,
    /// `VERCEL_REVOKE_URL`: token revocation (RFC 7009).
    pub revoke_url: String,
    /// `VERCEL_API_URL`: the REST API base (`GET /v2/user`).
    pub api_url: String,
    /// `VERCEL_OAUTH_REDIRECT_URI`: the public `/callback` URL. When unset:
    /// `PATCHBAY_PUBLIC_URL` (or the request's origin) + `/callback`.
    pub redirect_uri: Option<String>,
    /// `VERCEL_OAUTH_SCOPES`: space-separated.
    pub scopes: String,
    /// `VERCEL_OAUTH_STATE_TTL_SECS`: how long a started sign-in may be completed (600).
    pub state_ttl_secs: u64,
}

pub const DEFAULT_STATE_TTL_SECS: u64 = 600;

impl VercelConfig {
    fn from_get(get: &impl Fn(&str) -> Option<String>) -> Self {
        let url = |k: &str, default: &str| {
            get(k)
                .unwrap_or_else(|| default.to_owned())
                .trim_end_matches('/')
                .to_owned()
        };
        Self {
            authorize_url: url("VERCEL_AUTHORIZE_URL", "https://vercel.com/oauth/authorize"),
            token_url: url(
                "VERCEL_TOKEN_URL",
                "https://api.vercel.com/login/oauth/token",
            ),
            register_url: url(
                "VERCEL_REGISTER_URL",
                "https://api.vercel.com/login/oauth/register",
            ),
            revoke_url: url(
                "VERCEL_REVOKE_URL",
                "https://api.vercel.com/login/oauth/token/revoke",
            ),
            api_url: url("VERCEL_API_URL", "https://api.vercel.com"),
            redirect_uri: get("VERCEL_OAUTH_REDIRECT_URI"),
            scopes: get("VERCEL_OAUTH_SCOPES")
                .unwrap_or_else(|| "openid email profile offline_access".into()),
            state_ttl_secs: get("VERCEL_OAUTH_STATE_TTL_SECS")
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .unwrap_or(DEFAULT_STATE_TTL_SECS),
        }
    }
}

/// The Worker secrets. Missing ones are `None`; the router says which `wrangler secret put`
/// to run when a route needs one.
#[derive(Debug, Clone, Default)]
pub struct EdgeSecrets {
    /// `PATCHBAY_EDGE_TOKEN`: the bearer every `/api` request must carry.
    pub edge_token: Option<Secret>,
    /// `PATCHBAY_ENCRYPTION_KEY`: base64 of 32 bytes, the AES-256-GCM key for D1 values.
    pub encryption_key: Option<Secret>,
    /// `VERCEL_CLIENT_ID` / `VERCEL_CLIENT_SECRET`: a client registered by hand at Vercel.
    /// Without them the edge registers one itself (Dynamic Client Registration).
    pub vercel_client_id: Option<String>,
    pub vercel_client_secret: Option<Secret>,
}

impl EdgeSecrets {
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| non_blank(&var, k);
        Self {
            edge_token: get("PATCHBAY_EDGE_TOKEN").map(Secret::new),
            encryption_key: get("PATCHBAY_ENCRYPTION_KEY").map(Secret::new),
            vercel_client_id: get("VERCEL_CLIENT_ID"),
            vercel_client_secret: get("VERCEL_CLIENT_SECRET").map(Secret::new),
        }
    }
}

impl EdgeConfig {
    /// Builds the configuration from a variable lookup (the Worker `Env` in production,
    /// a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| non_blank(&var, k);
        Self {
            public_url: get("PATCHBAY_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            authorization_servers: get("PATCHBAY_AUTHORIZATION_SERVERS")
                .map(|v| split_list(&v, ','))
                .unwrap_or_default(),
            scopes: get("PATCHBAY_SCOPES")
                .map(|v| split_list(&v, ' '))
                .unwrap_or_default(),
            registration_endpoint: get("PATCHBAY_REGISTRATION_ENDPOINT"),
            vercel: VercelConfig::from_get(&get),
        }
    }
}

/// A variable's trimmed value; unset and blank are the same.
fn non_blank(var: impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    var(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn split_list(v: &str, sep: char) -> Vec<String> {
    v.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_lists_and_ignores_blank_values() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("PATCHBAY_PUBLIC_URL", "https://pb.example.com/"),
            (
                "PATCHBAY_AUTHORIZATION_SERVERS",
                "https://a.example, https://b.example",
            ),
            ("PATCHBAY_SCOPES", "read  write"),
            ("PATCHBAY_REGISTRATION_ENDPOINT", " "),
        ]);
        let c = EdgeConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(c.public_url.as_deref(), Some("https://pb.example.com"));
        assert_eq!(
            c.authorization_servers,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(c.scopes, ["read", "write"]);
        assert_eq!(c.registration_endpoint, None);
        assert_eq!(
            c.vercel.token_url,
            "https://api.vercel.com/login/oauth/token"
        );
        assert_eq!(c.vercel.state_ttl_secs, 600);
        assert_eq!(c.vercel.redirect_uri, None);
    }

    #[test]
    fn vercel_urls_and_ttl_are_overridable() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("VERCEL_API_URL", "http://127.0.0.1:9/"),
            ("VERCEL_OAUTH_STATE_TTL_SECS", "2"),
            (
                "VERCEL_OAUTH_REDIRECT_URI",
                "https://pb.example.com/callback",
            ),
            ("PATCHBAY_EDGE_TOKEN", " tok "),
        ]);
        let lookup = |k: &str| vars.get(k).map(|v| v.to_string());
        let c = EdgeConfig::from_vars(lookup);
        assert_eq!(c.vercel.api_url, "http://127.0.0.1:9");
        assert_eq!(c.vercel.state_ttl_secs, 2);
        assert_eq!(
            c.vercel.redirect_uri.as_deref(),
            Some("https://pb.example.com/callback")
        );
        let s = EdgeSecrets::from_vars(lookup);
        assert!(s.edge_token.unwrap().matches("tok"));
        assert!(s.encryption_key.is_none());
    }
}
