//! Request and response bodies of the Connectors API, shared by every host.

use serde::{Deserialize, Serialize};

/// Every connector Patchbay knows, in the order the dashboard shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConnectorId {
    Gdrive,
    Onedrive,
    Github,
    Vercel,
    Manus,
    Mcp,
    /// Hosted MCP clients that use this workspace through the edge's `/mcp`.
    Agents,
}

/// Which part of Patchbay serves a connector's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ServedBy {
    /// The native helper (`patchbay serve`), reached at the paired address.
    Helper,
    /// The edge Worker, reached on the dashboard's own origin.
    Edge,
}

impl ConnectorId {
    pub const ALL: [ConnectorId; 7] = [
        ConnectorId::Gdrive,
        ConnectorId::Onedrive,
        ConnectorId::Github,
        ConnectorId::Vercel,
        ConnectorId::Manus,
        ConnectorId::Mcp,
        ConnectorId::Agents,
    ];

    /// The path segment used in `/api/connectors/{id}/…`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorId::Gdrive => "gdrive",
            ConnectorId::Onedrive => "onedrive",
            ConnectorId::Github => "github",
            ConnectorId::Vercel => "vercel",
            ConnectorId::Manus => "manus",
            ConnectorId::Mcp => "mcp",
            ConnectorId::Agents => "agents",
        }
    }

    /// What a person calls it.
    pub fn display_name(self) -> &'static str {
        match self {
            ConnectorId::Gdrive => "Google Drive",
            ConnectorId::Onedrive => "OneDrive",
            ConnectorId::Github => "GitHub",
            ConnectorId::Vercel => "Vercel",
            ConnectorId::Manus => "Manus",
            ConnectorId::Mcp => "MCP servers",
            ConnectorId::Agents => "Agents",
        }
    }

    pub fn served_by(self) -> ServedBy {
        match self {
            ConnectorId::Vercel => ServedBy::Edge,
            _ => ServedBy::Helper,
        }
    }

    /// The URL a client asks for this connector's detailed state. Drive and OneDrive have no
    /// `status` route in the contract: their state is the list of remotes.
    pub fn status_path(self) -> String {
        let id = self.as_str();
        match self {
            ConnectorId::Gdrive | ConnectorId::Onedrive => format!("/api/connectors/{id}/remotes"),
            ConnectorId::Mcp => "/api/connectors/mcp/servers".to_owned(),
            ConnectorId::Agents => "/api/connectors/agents".to_owned(),
            _ => format!("/api/connectors/{id}/status"),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One entry of `GET /api/connectors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectorSummary {
    pub id: ConnectorId,
    pub name: String,
    pub connected: bool,
    /// Where the full state of this connector is read (relative to `served_by`'s origin).
    pub status: String,
    pub served_by: ServedBy,
    /// A short human description of what is connected ("2 remotes", "manus key …a1b2").
    /// Never contains a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What this connector lacks before a sign-in can work (an OAuth client, an edge); absent
    /// when nothing. Lets a client say so before it sends anyone to a provider that would
    /// refuse them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupNeeded>,
}

impl ConnectorSummary {
    pub fn new(id: ConnectorId, connected: bool, detail: Option<String>) -> Self {
        Self {
            id,
            name: id.display_name().to_owned(),
            connected,
            status: id.status_path(),
            served_by: id.served_by(),
            detail,
            setup: None,
        }
    }
}

/// A connector that needs configuring before it can sign anyone in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetupNeeded {
    /// One sentence: what setting it up unlocks, and what to do.
    pub message: String,
    /// The settings to provide (environment variables of `patchbay serve`).
    pub settings: Vec<String>,
    /// Where and how to provide them, in a sentence or two.
    pub how: String,
    /// The README section with the steps (its anchor, e.g. `deploying-the-edge-to-cloudflare`).
    pub docs: String,
}

/// `GET /api/connectors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectorsOverview {
    pub connectors: Vec<ConnectorSummary>,
}

/// `GET /api/health`: the only unauthenticated API route, so the dashboard can tell
/// "helper not running" from "wrong pairing token".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub ok: bool,
    pub service: String,
    pub version: String,
}

/// The `{"ok": true}` body the contract returns from actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ok {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::error::schema::always_true))]
    pub ok: bool,
}

impl Ok {
    pub const YES: Ok = Ok { ok: true };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_path_segment() {
        for id in ConnectorId::ALL {
            assert_eq!(ConnectorId::parse(id.as_str()), Some(id));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
        assert_eq!(ConnectorId::parse("dropbox"), None);
    }

    #[test]
    fn flow_status_names_match_the_wire_and_are_the_contracts_four() {
        let words: Vec<&str> = [
            FlowStatus::Pending,
            FlowStatus::AwaitingOauth,
            FlowStatus::Completed,
            FlowStatus::Error,
        ]
        .into_iter()
        .map(|s| {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            s.as_str()
        })
        .collect();
        // Seed 003: "pending" | "awaiting_oauth" | "completed" | "error".
        assert_eq!(words, ["pending", "awaiting_oauth", "completed", "error"]);
        assert!(serde_json::from_str::<FlowStatus>(r#""cancelled""#).is_err());
        for r in [EndReason::Failed, EndReason::Cancelled, EndReason::Expired] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    #[test]
    fn summary_points_at_the_contract_routes() {
        let s = ConnectorSummary::new(ConnectorId::Github, false, None);
        assert_eq!(s.status, "/api/connectors/github/status");
        assert_eq!(
            ConnectorId::Gdrive.status_path(),
            "/api/connectors/gdrive/remotes"
        );
        assert_eq!(ConnectorId::Vercel.served_by(), ServedBy::Edge);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["id"], "github");
        assert_eq!(v["connected"], false);
        assert!(v.get("detail").is_none());
        assert!(v.get("setup").is_none(), "nothing missing, nothing said");
    }
}

/// Where a long-running sign-in stands: exactly the contract's four words, so a client
/// written against it never meets one it does not know. A flow that ended without
/// completing is `error`; why (failed, cancelled, expired) is its [`EndReason`], beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    Pending,
    AwaitingOauth,
    Completed,
    Error,
}

impl FlowStatus {
    /// The wire name (`awaiting_oauth`), which clients send back as `since`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Pending => "pending",
            FlowStatus::AwaitingOauth => "awaiting_oauth",
            FlowStatus::Completed => "completed",
            FlowStatus::Error => "error",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, FlowStatus::Completed | FlowStatus::Error)
    }
}

/// Why a flow ended without completing: the detail behind a session's `error` and a device
/// flow's `expired`, so the contract's status words stay the only ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Something went wrong; the message says what.
    Failed,
    /// Someone cancelled it (Cancel, or the helper stopping).
    Cancelled,
    /// It ran out of time before the person finished.
    Expired,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Failed => "failed",
            EndReason::Cancelled => "cancelled",
            EndReason::Expired => "expired",
        }
    }
}

/// `POST /api/connectors/{gdrive|onedrive}/remotes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartRemoteRequest {
    pub name: String,
    #[serde(default)]
    pub force: bool,
}

/// The 202 answer that starts any session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionStarted {
    pub session_id: String,
    pub status: FlowStatus,
}

/// `GET /api/connectors/{gdrive|onedrive}/remotes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteList {
    pub remotes: Vec<crate::rclone::Remote>,
}

/// `GET /api/connectors/{gdrive|onedrive}/status`: the seed's card badge ("on mount, GET
/// /api/connectors/{name}/status" for every card), connected when rclone.conf holds a
/// remote of this kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemotesStatus {
    pub connected: bool,
    /// The names of this kind's remotes (Patchbay's addition).
    pub remotes: Vec<String>,
}

/// `GET /api/connectors/{gdrive|onedrive}/sessions/{id}`: every member always present
/// (`null` when empty), as in the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteSession {
    pub status: FlowStatus,
    pub auth_url: Option<String>,
    pub needs_manual_code: bool,
    pub remote_name: String,
    pub error: Option<String>,
    /// Why the sign-in ended without completing (`status` is then `error`); `null` otherwise.
    /// Patchbay's addition.
    #[serde(default)]
    pub reason: Option<EndReason>,
    /// Something the user should know about a completed sign-in (e.g. OneDrive's drive could
    /// not be looked up). Patchbay's addition.
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST …/sessions/{id}/submit`: the pasted redirect URL, query or bare code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitCodeRequest {
    pub code: String,
}
