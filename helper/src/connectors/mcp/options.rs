//! Per-server options, stored with the server's entry and used on every sign-in, refresh and
//! request: extra headers (`--header`, expanded only when a request is sent), `--no-resource`,
//! `--callback-port` and `--auth-server`.

use patchbay_proto::mcp::headers::{expand, parse_header};
use patchbay_proto::mcp::{DEFAULT_CALLBACK_PORT, redirect_uri};
use patchbay_proto::oauth::check_url;
use serde::{Deserialize, Serialize};

use crate::ApiError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerOptions {
    /// `Name: value` pairs as typed: `${VAR}` stays unexpanded on disk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Leave out the RFC 8707 `resource` parameter (for servers that refuse it, Entra ID).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_resource: bool,
    /// The listener's port, for authorization servers that pinned one redirect URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_port: Option<u16>,
    /// The authorization server, for MCP servers that publish no metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_server: Option<String>,
}

impl ServerOptions {
    /// The options given on a command line, checked.
    pub fn from_args(
        headers: &[String],
        no_resource: bool,
        callback_port: Option<u16>,
        auth_server: Option<&str>,
    ) -> Result<ServerOptions, ApiError> {
        let headers = headers
            .iter()
            .map(|h| parse_header(h).map_err(|p| ApiError::bad_request(p.message())))
            .collect::<Result<Vec<_>, _>>()?;
        if callback_port == Some(0) {
            return Err(ApiError::bad_request(
                "--callback-port needs the port your authorization server has registered \
                 (1-65535).",
            ));
        }
        let auth_server = match auth_server {
            Some(a) => {
                let a = a.trim();
                check_url(a).map_err(|_| {
                    ApiError::bad_request(
                        "--auth-server takes the authorization server's issuer URL (https, \
                         for example https://login.example.com/tenant).",
                    )
                })?;
                Some(a.to_owned())
            }
            None => None,
        };
        Ok(ServerOptions {
            headers,
            no_resource,
            callback_port,
            auth_server,
        })
    }

    pub fn is_empty(&self) -> bool {
        self == &ServerOptions::default()
    }

    pub fn port(&self) -> u16 {
        self.callback_port.unwrap_or(DEFAULT_CALLBACK_PORT)
    }

    pub fn redirect_uri(&self) -> String {
        redirect_uri(self.port())
    }

    /// The `resource` parameter to send, if any.
    pub fn resource<'a>(&self, resource: &'a str) -> Option<&'a str> {
        (!self.no_resource).then_some(resource)
    }

    /// The headers with `${VAR}` expanded from this process's environment, now.
    pub fn expanded_headers(&self) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, ApiError> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let value = expand(name, value, |v| std::env::var(v).ok())
                    .map_err(|p| ApiError::bad_request(p.message()))?;
                let bad =
                    || ApiError::bad_request(format!("The {name} header cannot be sent as it is."));
                Ok((
                    http::HeaderName::try_from(name.as_str()).map_err(|_| bad())?,
                    http::HeaderValue::try_from(value).map_err(|_| bad())?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_and_stored_unexpanded() {
        let o = ServerOptions::from_args(
            &["X-Team: ${PATCHBAY_TEST_TEAM_VAR}".into()],
            true,
            Some(8123),
            Some("https://login.example.com/t1"),
        )
        .unwrap();
        let stored = serde_json::to_string(&o).unwrap();
        assert!(stored.contains("${PATCHBAY_TEST_TEAM_VAR}"), "{stored}");
        assert_eq!(o.redirect_uri(), "http://127.0.0.1:8123/callback");
        assert_eq!(o.resource("https://m/mcp"), None);
        let err = o.expanded_headers().unwrap_err();
        assert!(
            err.message.contains("PATCHBAY_TEST_TEAM_VAR"),
            "{}",
            err.message
        );
        assert!(ServerOptions::from_args(&["Authorization: x".into()], false, None, None).is_err());
        assert!(ServerOptions::from_args(&[], false, Some(0), None).is_err());
        assert!(ServerOptions::from_args(&[], false, None, Some("http://as.example")).is_err());
        let none = ServerOptions::from_args(&[], false, None, None).unwrap();
        assert!(none.is_empty());
        assert_eq!(serde_json::to_string(&none).unwrap(), "{}");
        assert_eq!(none.resource("https://m/mcp"), Some("https://m/mcp"));
    }
}
