//! `/mcp`: the workspace's MCP server (Streamable HTTP, JSON-RPC 2.0, JSON responses only),
//! protected by the tokens of [`crate::agents`].
//!
//! - `POST` carries one JSON-RPC message. `initialize` negotiates the protocol version and
//!   opens a session (`Mcp-Session-Id`, stored hashed, bound to the token's grant); every
//!   later request must carry it (400 without, 404 for an unknown one). Notifications get 202.
//! - `GET` is 405: the server sends no unsolicited messages, so it offers no SSE stream.
//! - `DELETE` with the session id ends the session.
//!
//! Without a live token for this resource: 401 with `WWW-Authenticate: Bearer
//! resource_metadata="…", scope="…"` (RFC 9728 §5.1), so clients discover the
//! authorization server. A tool whose scope the token lacks: 403 `insufficient_scope` naming
//! the scopes to ask for (step-up).
//!
//! The messages are built with `serde_json` rather than rmcp's model types: rmcp always pulls
//! in tokio, tokio-util, tracing and its own sha2 (none optional), which the Worker neither
//! needs nor has room for under its 1 MiB limit, for the handful of shapes used here.

#[cfg(test)]
mod tests;
mod tools;

use patchbay_proto::agents::{
    CONNECTIONS_READ, INVALID_REQUEST, MCP_VERSIONS, METHOD_NOT_FOUND, PARSE_ERROR, RpcMessage,
    Tool, negotiate_version, rpc_error, rpc_result, token_key,
};
use patchbay_proto::oauth::scope_union;
use patchbay_proto::secret::random_urlsafe;
use serde_json::{Value, json};

use crate::Edge;
use crate::agents::{self, Grant, issuer};
use crate::error::ApiError;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::protected_resource;
use crate::store::Store;
use crate::upstream::Upstream;

pub const SESSION_HEADER: &str = "mcp-session-id";

pub async fn serve<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> EdgeResponse {
    handle(req, edge)
        .await
        .unwrap_or_else(ApiError::into_response)
}

async fn handle<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> Result<EdgeResponse, ApiError> {
    // DNS rebinding: a browser page of another origin must not reach the server.
    if let Some(origin) = req.header("origin")
        && origin != issuer(edge.config, req)
    {
        return Err(ApiError::forbidden(
            "Requests from web pages of other origins are refused; MCP clients send no Origin.",
        ));
    }
    let presented = req.bearer();
    let grant = match presented {
        Some(token) => agents::bearer_grant(edge, req, token).await?,
        None => None,
    };
    let Some(grant) = grant else {
        return Ok(unauthorized(edge, req, presented.is_some()));
    };
    if !matches!(req.method.as_str(), "POST" | "DELETE") {
        let mut r = ApiError::method_not_allowed(
            "This MCP server answers POST (JSON-RPC) only; it offers no SSE stream.",
        )
        .into_response();
        r.set_header("allow", "POST, DELETE");
        return Ok(r);
    }
    agents::touch_client(edge, &grant.client_id).await?;
    let session = req.header(SESSION_HEADER).map(token_key);
    if req.method == "DELETE" {
        if let Some(key) = &session {
            agents::delete_session(edge, key).await?;
        }
        return Ok(EdgeResponse {
            status: 204,
            headers: vec![],
            body: vec![],
        });
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return Ok(EdgeResponse::json(
            400,
            &rpc_error(&Value::Null, PARSE_ERROR, "The body is not JSON."),
        ));
    };
    let Ok(message) = serde_json::from_value::<RpcMessage>(body) else {
        return Ok(EdgeResponse::json(
            400,
            &rpc_error(
                &Value::Null,
                INVALID_REQUEST,
                "Send one JSON-RPC 2.0 message (batches are not supported).",
            ),
        ));
    };
    let id = message.id.clone().unwrap_or(Value::Null);
    if message.jsonrpc != "2.0" {
        return Ok(EdgeResponse::json(
            400,
            &rpc_error(&id, INVALID_REQUEST, "jsonrpc must be \"2.0\"."),
        ));
    }
    if message.method == "initialize" {
        return initialize(edge, &grant, &message).await;
    }
    if let Some(version) = req.header("mcp-protocol-version")
        && !MCP_VERSIONS.contains(&version)
    {
        return Ok(EdgeResponse::json(
            400,
            &rpc_error(
                &id,
                INVALID_REQUEST,
                &format!(
                    "Unsupported MCP-Protocol-Version; this server speaks {}.",
                    MCP_VERSIONS.join(", ")
                ),
            ),
        ));
    }
    let Some(session) = session else {
        return Ok(EdgeResponse::json(
            400,
            &rpc_error(
                &id,
                INVALID_REQUEST,
                "Send the Mcp-Session-Id header that initialize answered.",
            ),
        ));
    };
    if agents::session_grant(edge, &session).await?.as_deref() != Some(grant.id.as_str()) {
        return Ok(EdgeResponse::json(
            404,
            &rpc_error(
                &id,
                INVALID_REQUEST,
                "This session is unknown or ended; initialize a new one.",
            ),
        ));
    }
    if message.id.is_none() {
        // A notification (notifications/initialized, cancellations): nothing to answer.
        return Ok(EdgeResponse {
            status: 202,
            headers: vec![],
            body: vec![],
        });
    }
    let result = match message.method.as_str() {
        "ping" => json!({}),
        "tools/list" => json!({"tools": Tool::ALL.map(Tool::descriptor).to_vec()}),
        "tools/call" => {
            let name = message
                .params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let Some(tool) = Tool::parse(name) else {
                return Ok(EdgeResponse::json(
                    200,
                    &rpc_error(
                        &id,
                        patchbay_proto::agents::INVALID_PARAMS,
                        "Unknown tool; call tools/list for the tools.",
                    ),
                ));
            };
            if !grant.scope.split(' ').any(|s| s == tool.scope()) {
                return Ok(insufficient_scope(edge, req, &grant, tool, &id));
            }
            let args = message
                .params
                .get("arguments")
                .cloned()
                .unwrap_or(json!({}));
            tools::call(edge, req, tool, &args).await?
        }
        _ => {
            return Ok(EdgeResponse::json(
                200,
                &rpc_error(
                    &id,
                    METHOD_NOT_FOUND,
                    "This server offers initialize, ping, tools/list and tools/call.",
                ),
            ));
        }
    };
    Ok(EdgeResponse::json(200, &rpc_result(&id, result)))
}

async fn initialize<S: Store, U>(
    edge: &Edge<'_, S, U>,
    grant: &Grant,
    message: &RpcMessage,
) -> Result<EdgeResponse, ApiError> {
    let id = message.id.clone().unwrap_or(Value::Null);
    let requested = message
        .params
        .get("protocolVersion")
        .and_then(Value::as_str);
    let version = negotiate_version(requested);
    let session = format!("mcs_{}", random_urlsafe(24));
    agents::save_session(edge, &token_key(&session), &grant.id, version).await?;
    let result = json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "patchbay", "title": "Patchbay workspace", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Tools of a Patchbay workspace: which accounts are connected \
                         (list_connections), how a person connects one (connect_account) and \
                         the connected Vercel account's projects and deployments.",
    });
    let mut r = EdgeResponse::json(200, &rpc_result(&id, result));
    r.set_header(SESSION_HEADER, session);
    Ok(r)
}

fn resource_metadata<S, U>(edge: &Edge<'_, S, U>, req: &EdgeRequest) -> String {
    format!(
        "{}{}",
        issuer(edge.config, req),
        protected_resource::MCP_PATH
    )
}

fn unauthorized<S, U>(edge: &Edge<'_, S, U>, req: &EdgeRequest, presented: bool) -> EdgeResponse {
    let mut challenge = format!(
        "Bearer resource_metadata=\"{}\", scope=\"{CONNECTIONS_READ}\"",
        resource_metadata(edge, req)
    );
    if presented {
        challenge.push_str(", error=\"invalid_token\", error_description=\"The access token is unknown, expired or revoked.\"");
    }
    let mut r = ApiError::unauthorized(
        "Sign in to this workspace (OAuth): the WWW-Authenticate header names its metadata.",
    )
    .into_response();
    r.set_header("www-authenticate", challenge);
    r
}

fn insufficient_scope<S, U>(
    edge: &Edge<'_, S, U>,
    req: &EdgeRequest,
    grant: &Grant,
    tool: Tool,
    id: &Value,
) -> EdgeResponse {
    let wanted = scope_union(&grant.scope, tool.scope());
    let mut r = EdgeResponse::json(
        403,
        &rpc_error(
            id,
            INVALID_REQUEST,
            &format!(
                "{} needs the scope {}; sign in again asking for it.",
                tool.name(),
                tool.scope()
            ),
        ),
    );
    r.set_header(
        "www-authenticate",
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"{wanted}\", resource_metadata=\"{}\", error_description=\"{} needs {}\"",
            resource_metadata(edge, req),
            tool.name(),
            tool.scope()
        ),
    );
    r
}
