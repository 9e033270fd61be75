//! The workspace as an OAuth authorization server and MCP server for hosted agents (Claude,
//! ChatGPT, Cursor…): the scopes, the redirect-URI rules, the token answers the edge sends,
//! the Agents card's contract (`GET /api/connectors/agents`) and the MCP tools' names and the
//! scope each needs. The edge serves it; the helper forwards it; the dashboard shows it.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};

use crate::Secret;
use crate::oauth::HttpUrl;

/// Read the workspace's connectors (who is connected, as whom; never a secret).
pub const CONNECTIONS_READ: &str = "connections:read";
/// Read the connected Vercel account's projects and deployments.
pub const VERCEL_READ: &str = "vercel:read";
/// Every scope the edge grants, in the order the authorize page lists them.
pub const SCOPES: [&str; 2] = [CONNECTIONS_READ, VERCEL_READ];
/// What a client gets when it asks for no scope.
pub const DEFAULT_SCOPE: &str = CONNECTIONS_READ;

/// What a scope lets an agent do, for the authorize page and the Agents card.
pub fn scope_description(scope: &str) -> &'static str {
    match scope {
        CONNECTIONS_READ => "see which accounts this workspace has connected (never a secret)",
        VERCEL_READ => "read the connected Vercel account's projects and deployments",
        _ => "an unknown permission",
    }
}

/// Access tokens live an hour, refresh tokens 30 days (each refresh rotates them), codes
/// 60 s, and a request that nobody decides is forgotten after 10 minutes.
pub const ACCESS_TOKEN_SECS: u64 = 3600;
pub const REFRESH_TOKEN_SECS: u64 = 30 * 24 * 3600;
pub const CODE_SECS: u64 = 60;
pub const PENDING_REQUEST_SECS: u64 = 600;

/// Parses a requested `scope` into known scopes, without duplicates, in [`SCOPES`] order.
/// An empty request means [`DEFAULT_SCOPE`]; an unknown scope is refused (`Err` names it).
pub fn parse_scope(scope: &str) -> Result<Vec<&'static str>, String> {
    let asked: Vec<&str> = scope.split_ascii_whitespace().collect();
    if let Some(unknown) = asked.iter().find(|s| !SCOPES.contains(s)) {
        return Err(unknown
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(40)
            .collect());
    }
    if asked.is_empty() {
        return Ok(vec![DEFAULT_SCOPE]);
    }
    Ok(SCOPES.into_iter().filter(|s| asked.contains(s)).collect())
}

/// Why a client's redirect URI is refused at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectRefusal {
    NotAbsoluteHttpUrl,
    /// `http` anywhere but loopback would send codes in the clear (RFC 8252 §8.3).
    InsecureHttp,
}

/// Registration rule (RFC 8252 §7.3, §8.3): an `https` URI, or `http` to loopback. RFC 8252
/// prefers the IP to `localhost`, but Claude Code and others register `localhost`.
pub fn check_redirect_uri(uri: &str) -> Result<(), RedirectRefusal> {
    let u = HttpUrl::parse(uri).ok_or(RedirectRefusal::NotAbsoluteHttpUrl)?;
    if u.is_https() {
        return Ok(());
    }
    if !is_loopback_host(u.host()) {
        return Err(RedirectRefusal::InsecureHttp);
    }
    Ok(())
}

/// `localhost` or a loopback IP literal (not any name that starts with `127.`).
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `presented` matches the registered `registered`: exactly, except that a loopback
/// `http` URI matches on any port (RFC 8252 §7.3), since native clients pick a free one.
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Some(r), Some(p)) = (HttpUrl::parse(registered), HttpUrl::parse(presented)) else {
        return false;
    };
    r.scheme == "http"
        && p.scheme == "http"
        && is_loopback_host(r.host())
        && r.host() == p.host()
        && r.path == p.path
        && r.query == p.query
}

/// The host a redirect URI sends the browser to, as the authorize page and the card show it.
pub fn redirect_host(uri: &str) -> String {
    HttpUrl::parse(uri)
        .map(|u| u.authority.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The key a token, code or session id is stored under: its SHA-256 (the value itself is
/// never stored, so a copy of D1 holds nothing usable).
pub fn token_key(token: &str) -> String {
    crate::pkce::state_key(token)
}

/// The answer of `POST /oauth/register` (RFC 7591 §3.2.1). Public clients only: no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_id_issued_at: u64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
}

/// What `POST /oauth/register` reads of a registration request (RFC 7591 §2); every other
/// member is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationInput {
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// A successful token answer as the edge sends it (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct IssuedTokens {
    #[serde(serialize_with = "expose")]
    pub access_token: Secret,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(serialize_with = "expose")]
    pub refresh_token: Secret,
    pub scope: String,
}

/// The token answer is the one place a new token goes on the wire.
fn expose<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// `GET /api/connectors/agents`: the Agents card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentsOverview {
    pub clients: Vec<AgentClient>,
    pub pending: Vec<AgentRequest>,
}

/// An approved agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentClient {
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub approved_at: u64,
    pub last_used_at: Option<u64>,
}

/// An authorization request waiting for a person's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentRequest {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub redirect_host: String,
    pub scopes: Vec<String>,
    pub created_at: u64,
}

/// `POST /api/connectors/agents/requests/{id}/approve|deny` and
/// `DELETE /api/connectors/agents/{client_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentDecision {
    pub ok: bool,
    /// `approved`, `denied` or `revoked`.
    pub outcome: String,
}

/// The MCP tools the edge serves, and the scope each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    ListConnections,
    ConnectAccount,
    VercelListProjects,
    VercelListDeployments,
    VercelGetDeployment,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::ListConnections,
        Tool::ConnectAccount,
        Tool::VercelListProjects,
        Tool::VercelListDeployments,
        Tool::VercelGetDeployment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::ListConnections => "list_connections",
            Tool::ConnectAccount => "connect_account",
            Tool::VercelListProjects => "vercel_list_projects",
            Tool::VercelListDeployments => "vercel_list_deployments",
            Tool::VercelGetDeployment => "vercel_get_deployment",
        }
    }

    pub fn parse(name: &str) -> Option<Tool> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            Tool::ListConnections => {
                "Lists every connector of this Patchbay workspace (Google Drive, OneDrive, GitHub, \
                 Vercel, Manus, MCP servers), whether it is connected and as whom. Never returns \
                 a secret."
            }
            Tool::ConnectAccount => {
                "Gives the Patchbay dashboard link a person must open to connect a provider \
                 (gdrive, onedrive, github, vercel, manus or mcp). Agents cannot connect \
                 accounts themselves: show the link to the person."
            }
            Tool::VercelListProjects => {
                "Lists the projects of the Vercel account connected to this workspace (name, \
                 id, framework, last update)."
            }
            Tool::VercelListDeployments => {
                "Lists recent deployments of the connected Vercel account, newest first; pass \
                 project_id to see one project's."
            }
            Tool::VercelGetDeployment => {
                "Gives one Vercel deployment by id (or URL): its state, target, URL and when it \
                 was created and became ready."
            }
        }
    }

    /// The JSON Schema of the tool's arguments.
    pub fn input_schema(self) -> Value {
        let string = |description: &str| json!({"type": "string", "description": description});
        let (properties, required): (Value, &[&str]) = match self {
            Tool::ListConnections | Tool::VercelListProjects => (json!({}), &[]),
            Tool::ConnectAccount => (
                json!({"provider": {
                    "type": "string",
                    "enum": ["gdrive", "onedrive", "github", "vercel", "manus", "mcp"],
                    "description": "The connector to connect."
                }}),
                &["provider"],
            ),
            Tool::VercelListDeployments => (
                json!({"project_id": string("Only this project's deployments (id or name).")}),
                &[],
            ),
            Tool::VercelGetDeployment => (
                json!({"id": string("The deployment's id (dpl_…) or its URL.")}),
                &["id"],
            ),
        };
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// The entry of `tools/list`.
    pub fn descriptor(self) -> Value {
        json!({
            "name": self.name(),
            "description": self.description(),
            "inputSchema": self.input_schema(),
            "annotations": {"readOnlyHint": true, "openWorldHint": false},
        })
    }

    pub fn scope(self) -> &'static str {
        match self {
            Tool::ListConnections | Tool::ConnectAccount => CONNECTIONS_READ,
            Tool::VercelListProjects | Tool::VercelListDeployments | Tool::VercelGetDeployment => {
                VERCEL_READ
            }
        }
    }
}

/// The MCP protocol versions `/mcp` speaks, newest first. `initialize` answers the client's
/// version when it is one of these, else the newest (the client then decides).
pub const MCP_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

pub fn negotiate_version(requested: Option<&str>) -> &'static str {
    MCP_VERSIONS
        .into_iter()
        .find(|v| Some(*v) == requested)
        .unwrap_or(MCP_VERSIONS[0])
}

/// A JSON-RPC 2.0 message sent to `/mcp`: a request (with `id`) or a notification.
#[derive(Debug, Clone, Deserialize)]
pub struct RpcMessage {
    pub jsonrpc: String,
    #[serde(default)]
    pub id: Option<Value>,
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

/// JSON-RPC error codes (JSON-RPC 2.0 §5.1).
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;

/// A JSON-RPC response: `result` or `error`.
pub fn rpc_result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

pub fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A `tools/call` result: the value as text and as `structuredContent`.
pub fn tool_result(value: &Value, is_error: bool) -> Value {
    let text = if let Value::String(s) = value {
        s.clone()
    } else {
        serde_json::to_string_pretty(value).unwrap_or_default()
    };
    let mut result = json!({"content": [{"type": "text", "text": text}], "isError": is_error});
    if value.is_object() {
        result["structuredContent"] = value.clone();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_known_ordered_and_default_to_connections() {
        assert_eq!(parse_scope(""), Ok(vec![CONNECTIONS_READ]));
        assert_eq!(
            parse_scope("vercel:read connections:read vercel:read"),
            Ok(vec![CONNECTIONS_READ, VERCEL_READ])
        );
        assert_eq!(parse_scope("admin <x>"), Err("admin".into()));
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_ip_and_loopback_ignores_the_port() {
        assert_eq!(check_redirect_uri("https://claude.ai/api/cb"), Ok(()));
        assert_eq!(check_redirect_uri("http://127.0.0.1:5/cb"), Ok(()));
        assert_eq!(check_redirect_uri("http://[::1]/cb"), Ok(()));
        assert_eq!(
            check_redirect_uri("http://evil.example/cb"),
            Err(RedirectRefusal::InsecureHttp)
        );
        assert_eq!(
            check_redirect_uri("http://localhost.evil.example/cb"),
            Err(RedirectRefusal::InsecureHttp)
        );
        assert_eq!(
            check_redirect_uri("http://127.evil.example/cb"),
            Err(RedirectRefusal::InsecureHttp)
        );
        assert_eq!(
            check_redirect_uri("javascript:alert(1)"),
            Err(RedirectRefusal::NotAbsoluteHttpUrl)
        );
        assert!(redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:49152/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:49152/other"
        ));
        assert!(!redirect_uri_matches(
            "https://a.example/cb",
            "https://a.example:444/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://a.example/cb",
            "https://a.example/cb?x=1"
        ));
        assert_eq!(redirect_host("https://Claude.ai/cb"), "claude.ai");
    }

    #[test]
    fn tools_need_their_scope_and_versions_negotiate() {
        assert_eq!(Tool::parse("list_connections"), Some(Tool::ListConnections));
        assert_eq!(Tool::VercelGetDeployment.scope(), VERCEL_READ);
        assert_eq!(negotiate_version(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate_version(Some("1999-01-01")), MCP_VERSIONS[0]);
        assert_eq!(negotiate_version(None), MCP_VERSIONS[0]);
    }

    #[test]
    fn token_answers_carry_the_tokens_and_keys_hide_them() {
        let t = IssuedTokens {
            access_token: Secret::new("pba_x"),
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_SECS,
            refresh_token: Secret::new("pbr_y"),
            scope: CONNECTIONS_READ.into(),
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["access_token"], "pba_x");
        assert_eq!(v["expires_in"], 3600);
        assert_ne!(token_key("pba_x"), "pba_x");
        assert_eq!(token_key("pba_x"), token_key("pba_x"));
    }
}
