//! The helper's routes for the Agents card, behind `PATCHBAY_EDGE_TOKEN` (the router checks
//! it): list clients and pending requests, approve or deny a request, revoke a client, and
//! take the helper's connector overview for the `list_connections` tool.

use patchbay_proto::agents::{AgentDecision, AgentsOverview};
use patchbay_proto::api::ConnectorsOverview;

use super::db;
use crate::Edge;
use crate::error::ApiError;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::Store;

pub const ROOT: &str = "/api/connectors/agents";
/// Where the helper pushes its `GET /api/connectors` overview.
pub const CONNECTIONS: &str = "connections";

/// Whether `path` is one of these routes.
pub fn owns(path: &str) -> bool {
    path == ROOT || path.starts_with(&format!("{ROOT}/"))
}

pub async fn serve<S: Store, U>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> Result<EdgeResponse, ApiError> {
    let rest = req.path.strip_prefix(ROOT).unwrap_or("");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", []) => {
            let (clients, pending) = db::overview(edge).await?;
            Ok(EdgeResponse::json(
                200,
                &AgentsOverview { clients, pending },
            ))
        }
        ("POST", ["requests", id, verb @ ("approve" | "deny")]) => {
            let approve = *verb == "approve";
            match db::decide(edge, id, approve).await? {
                Some(_) => Ok(decision(if approve { "approved" } else { "denied" })),
                None => Err(ApiError::not_found(
                    "No request with this id is waiting: it was decided already, or it expired \
                     (after 10 minutes). Ask the agent to connect again.",
                )),
            }
        }
        ("PUT", [CONNECTIONS]) => {
            let overview: ConnectorsOverview = serde_json::from_slice(&req.body).map_err(|_| {
                ApiError::bad_request(
                    "Send the helper's GET /api/connectors answer ({\"connectors\": […]}).",
                )
            })?;
            // Re-serialised from the typed overview: only its known, secret-free members stay.
            let value = serde_json::to_value(&overview).unwrap_or_default();
            db::save_connections(edge, &value).await?;
            Ok(EdgeResponse::json(200, &serde_json::json!({"ok": true})))
        }
        ("DELETE", [client_id]) => {
            let client_id = percent_decode(client_id);
            if db::delete_client(edge, &client_id).await? {
                Ok(decision("revoked"))
            } else {
                Err(ApiError::not_found(
                    "No agent with this client_id is registered; reload the Agents card.",
                ))
            }
        }
        _ => Err(ApiError::bad_request(format!(
            "{} {} is not supported; the Agents routes are GET {ROOT}, POST \
             {ROOT}/requests/{{id}}/approve|deny and DELETE {ROOT}/{{client_id}}.",
            req.method, req.path
        ))),
    }
}

fn decision(outcome: &str) -> EdgeResponse {
    EdgeResponse::json(
        200,
        &AgentDecision {
            ok: true,
            outcome: outcome.into(),
        },
    )
}

/// A path segment as sent: a CIMD client's id is a URL, percent-encoded in the path.
fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("v={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
