//! Edge settings, read from Worker vars (`[vars]` in wrangler.toml, `--var` under
//! `wrangler dev`, or the dashboard). Secrets are not read here.

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
}

impl EdgeConfig {
    /// Builds the configuration from a variable lookup (the Worker `Env` in production,
    /// a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            public_url: get("PATCHBAY_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            authorization_servers: get("PATCHBAY_AUTHORIZATION_SERVERS")
                .map(|v| split_list(&v, ','))
                .unwrap_or_default(),
            scopes: get("PATCHBAY_SCOPES")
                .map(|v| split_list(&v, ' '))
                .unwrap_or_default(),
            registration_endpoint: get("PATCHBAY_REGISTRATION_ENDPOINT"),
        }
    }
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
    }
}
