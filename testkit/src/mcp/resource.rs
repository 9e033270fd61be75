//! The protected resource: the MCP endpoint and its RFC 9728 metadata.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ADMIN_SCOPE, PrmMode, Shared, St, TOOLS_SCOPE, lock, now, random};

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// The 401 every unauthenticated request gets, with the challenge the switches ask for.
fn unauthorized(st: &mut St) -> Response {
    st.counters.mcp_unauthorized += 1;
    let mut challenge = "Bearer error=\"invalid_token\"".to_owned();
    if st.prm == PrmMode::Challenge {
        challenge.push_str(&format!(
            ", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            st.base
        ));
    }
    if let Some(scope) = &st.challenge_scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
        axum::Json(json!({"error": "invalid_token"})),
    )
        .into_response()
}

/// The request's token scope when it carries a live access token; else the answer to send
/// (401, or the redirect the switches ask for, or a foreign-host alarm).
fn authorise(st: &mut St, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if host.starts_with("localhost") {
        // Only a redirect sends anyone here: a token must never follow it.
        if bearer(headers).is_some() {
            st.counters.foreign_tokens += 1;
        }
        return Err((StatusCode::GONE, "this host is not the MCP server")
            .into_response()
            .into());
    }
    if let Some(to) = &st.redirect_to {
        return Err((
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, to.clone())],
        )
            .into_response()
            .into());
    }
    let token = bearer(headers).and_then(|t| st.access.get(&t).cloned());
    match token {
        Some((exp, scope)) if exp > now() => {
            st.counters.mcp_requests += 1;
            st.extra_headers = headers
                .iter()
                .filter(|(k, _)| k.as_str().starts_with("x-"))
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            Ok(scope)
        }
        _ => Err(Box::new(unauthorized(st))),
    }
}

/// Counts a request after initialize that lacks `MCP-Protocol-Version`.
fn check_protocol_version(st: &mut St, headers: &HeaderMap) {
    if !headers.contains_key("mcp-protocol-version") {
        st.counters.missing_protocol_version += 1;
    }
}

pub(crate) async fn mcp_get(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut st = lock(&s);
    if let Err(r) = authorise(&mut st, &headers) {
        return *r;
    }
    check_protocol_version(&mut st, &headers);
    // No server-initiated stream.
    StatusCode::METHOD_NOT_ALLOWED.into_response()
}

pub(crate) async fn mcp_delete(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut st = lock(&s);
    if let Err(r) = authorise(&mut st, &headers) {
        return *r;
    }
    check_protocol_version(&mut st, &headers);
    if let Some(id) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) {
        st.sessions.retain(|s| s != id);
    }
    StatusCode::OK.into_response()
}

pub(crate) async fn mcp_post(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (sse, session, scope) = {
        let mut st = lock(&s);
        let scope = match authorise(&mut st, &headers) {
            Ok(scope) => scope,
            Err(r) => return *r,
        };
        let session = headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (st.sse, session, scope)
    };
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let id = msg.get("id").cloned();
    if method == "initialize" {
        let session_id = random("sess-");
        lock(&s).sessions.push(session_id.clone());
        let version = msg["params"]["protocolVersion"]
            .as_str()
            .unwrap_or("2025-06-18")
            .to_owned();
        let result = json!({
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake-mcp", "version": "1.0.0"},
        });
        let mut r = reply(sse, json!({"jsonrpc": "2.0", "id": id, "result": result}));
        r.headers_mut()
            .insert("mcp-session-id", session_id.parse().unwrap());
        return r;
    }
    {
        let mut st = lock(&s);
        check_protocol_version(&mut st, &headers);
        let known = session.is_some_and(|id| st.sessions.contains(&id));
        if !known {
            return (StatusCode::BAD_REQUEST, "missing or unknown Mcp-Session-Id").into_response();
        }
        let admin = method == "tools/call" && msg["params"]["name"] == "admin";
        let scoped = scope.split_ascii_whitespace().any(|s| s == ADMIN_SCOPE);
        if admin && (st.forbid_always || !scoped) {
            st.counters.insufficient_scope += 1;
            let challenge = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{ADMIN_SCOPE}\", \
                 resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", \
                 error_description=\"the admin tool needs {ADMIN_SCOPE}\"",
                st.base
            );
            return (
                StatusCode::FORBIDDEN,
                [(header::WWW_AUTHENTICATE, challenge)],
                axum::Json(json!({"error": "insufficient_scope"})),
            )
                .into_response();
        }
    }
    let Some(id) = id else {
        // A notification or a response.
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match method {
        "tools/list" => Ok(json!({"tools": [
            {
                "name": "echo",
                "description": "Returns its text argument.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            },
            {
                "name": "admin",
                "description": format!("Needs the {ADMIN_SCOPE} scope."),
                "inputSchema": {"type": "object", "properties": {}},
            },
        ]})),
        "tools/call" => match msg["params"]["name"].as_str().unwrap_or("") {
            "echo" => {
                let text = msg["params"]["arguments"]["text"].as_str().unwrap_or("");
                Ok(json!({"content": [{"type": "text", "text": text}], "isError": false}))
            }
            "admin" => {
                Ok(json!({"content": [{"type": "text", "text": "admin done"}], "isError": false}))
            }
            name => Err(json!({"code": -32602, "message": format!("unknown tool {name}")})),
        },
        "ping" => Ok(json!({})),
        _ => Err(json!({"code": -32601, "message": "method not found"})),
    };
    let body = match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e}),
    };
    reply(sse, body)
}

fn reply(sse: bool, body: Value) -> Response {
    if sse {
        let text = format!("event: message\ndata: {body}\n\n");
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/event-stream")],
            text,
        )
            .into_response()
    } else {
        (StatusCode::OK, axum::Json(body)).into_response()
    }
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`, where the switches put it.
pub(crate) fn metadata(s: &Shared, path: &str) -> Response {
    let mut st = lock(s);
    st.counters.resource_metadata += 1;
    let at_path = path == "/.well-known/oauth-protected-resource/mcp";
    let at_root = path == "/.well-known/oauth-protected-resource";
    let served = match st.prm {
        PrmMode::Challenge | PrmMode::PathOnly => at_path,
        PrmMode::RootOnly => at_root,
        PrmMode::None => false,
    };
    if !served {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    axum::Json(json!({
        "resource": format!("{}/mcp", st.base),
        "authorization_servers": [st.issuer()],
        // Not offline_access: MCP servers should not list it (it is no resource requirement).
        "scopes_supported": [TOOLS_SCOPE],
        "bearer_methods_supported": ["header"],
    }))
    .into_response()
}
