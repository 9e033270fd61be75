//! What each MCP tool does. A tool's failure the agent can act on (Vercel not connected, an
//! unknown deployment) is a result with `isError: true` and a sentence saying what to do; only
//! the edge's own failures (D1) are errors of the request.

use patchbay_proto::agents::{Tool, tool_result};
use patchbay_proto::api::ConnectorId;
use serde_json::{Value, json};

use crate::Edge;
use crate::agents::{self, issuer};
use crate::error::ApiError;
use crate::http::EdgeRequest;
use crate::store::Store;
use crate::upstream::{Upstream, UpstreamRequest};
use crate::vercel;

pub async fn call<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    req: &EdgeRequest,
    tool: Tool,
    args: &Value,
) -> Result<Value, ApiError> {
    let arg = |name: &str| {
        args.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    Ok(match tool {
        Tool::ListConnections => match agents::connections(edge).await? {
            Some((overview, updated_at)) => {
                let mut v = overview;
                v["updated_at"] = updated_at.into();
                tool_result(&v, false)
            }
            None => failed(
                "The workspace's helper has not reported its connectors yet: open the Patchbay \
                 dashboard with the helper running (patchbay serve), then call this again.",
            ),
        },
        Tool::ConnectAccount => match arg("provider").and_then(ConnectorId::parse) {
            Some(id) => tool_result(
                &json!({
                    "provider": id.as_str(),
                    "name": id.display_name(),
                    "url": format!("{}/", issuer(edge.config, req)),
                    "instructions": format!(
                        "Ask the person to open this link and connect {} on its card in the \
                         Patchbay dashboard.",
                        id.display_name()
                    ),
                }),
                false,
            ),
            None => failed("Pass provider: one of gdrive, onedrive, github, vercel, manus or mcp."),
        },
        Tool::VercelListProjects => vercel_get(edge, "/v9/projects?limit=20".into()).await?,
        Tool::VercelListDeployments => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", "20");
            if let Some(project) = arg("project_id") {
                query.append_pair("projectId", project);
            }
            vercel_get(edge, format!("/v6/deployments?{}", query.finish())).await?
        }
        Tool::VercelGetDeployment => match arg("id") {
            Some(id) => {
                let id: String =
                    form_urlencoded::byte_serialize(id.trim_start_matches("https://").as_bytes())
                        .collect();
                vercel_get(edge, format!("/v13/deployments/{id}")).await?
            }
            None => failed("Pass id: the deployment's id (dpl_…) or URL."),
        },
    })
}

fn failed(message: &str) -> Value {
    tool_result(&Value::String(message.into()), true)
}

/// A GET of Vercel's REST API with the stored token (refreshed as needed).
async fn vercel_get<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    path_and_query: String,
) -> Result<Value, ApiError> {
    let cipher = edge.cipher()?;
    let Some(token) = vercel::access_token(edge, &cipher).await? else {
        return Ok(failed(
            "Vercel is not connected to this workspace: call connect_account with provider \
             vercel and show the person the link.",
        ));
    };
    let url = format!("{}{path_and_query}", edge.config.vercel.api_url);
    let response = edge
        .upstream
        .send(UpstreamRequest::get(url).bearer(token.expose()))
        .await?;
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    Ok(match response.status {
        200 => tool_result(&body, false),
        404 => failed("Vercel knows no such deployment or project; check the id."),
        401 | 403 => failed(
            "Vercel refused the workspace's token: a person must reconnect Vercel in the \
             Patchbay dashboard (call connect_account with provider vercel).",
        ),
        status => failed(&format!(
            "Vercel answered HTTP {status}; try again in a moment."
        )),
    })
}
