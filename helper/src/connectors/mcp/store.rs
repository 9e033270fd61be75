//! What the MCP connector keeps on disk.
//!
//! - `mcp-tokens.json`, one entry per server, keyed by the server URL (the shape downstream
//!   tools read: `token` is the access token), with what a refresh needs.
//! - `mcp-clients.json`, one entry per authorization server, keyed by issuer (a client is
//!   never reused at another issuer): who Patchbay is there — a client the person registered
//!   by hand (with its secret, if any), Patchbay's metadata document URL, or the client id
//!   Dynamic Client Registration gave (so no reconnect registers again) — and the issuer's
//!   metadata (so a reconnect needs no discovery round trips).
//!
//! This module is the only place MCP secrets are turned into JSON and back.

use std::path::{Path, PathBuf};

use patchbay_proto::Secret;
use patchbay_proto::oauth::{AuthorizationServerMetadata, ClientAuth};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::options::ServerOptions;

use crate::connectors::overview::NAMED_TOKEN_KEYS;
use crate::engine::store::{Entries, JsonStore, now_unix};

pub const CLIENTS_FILE: &str = "mcp-clients.json";
/// Cached authorization-server metadata is fetched again after this long.
pub const METADATA_MAX_AGE_SECS: u64 = 24 * 3600;

/// The two files, for one data folder.
#[derive(Debug, Clone)]
pub struct McpFiles {
    pub data_dir: PathBuf,
    pub tokens: JsonStore,
    pub clients: JsonStore,
}

impl McpFiles {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            tokens: JsonStore::tokens(data_dir),
            clients: JsonStore::at(data_dir.join(CLIENTS_FILE)),
        }
    }
}

/// A server's entry in `mcp-tokens.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEntry {
    pub url: String,
    pub token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<u64>,
    pub issuer: String,
    pub client_id: String,
    pub token_endpoint: String,
    pub resource: String,
    /// What the authorization server granted.
    pub scope: String,
    /// What Patchbay asks for at the next sign-in: what it asked before, grown by every
    /// step-up challenge, so a later `login` never asks for less.
    pub requested_scope: String,
    /// The refresh token was refused (`invalid_grant`): only a new sign-in helps.
    pub needs_login: bool,
    pub options: ServerOptions,
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)?.as_str().map(str::to_owned)
}

fn secret(v: &Value, k: &str) -> Option<Secret> {
    v.get(k)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(Secret::new)
}

impl ServerEntry {
    pub fn from_value(url: &str, v: &Value) -> Option<ServerEntry> {
        Some(ServerEntry {
            url: url.to_owned(),
            token: secret(v, "token"),
            refresh_token: secret(v, "refresh_token"),
            expires_at: v.get("expires_at").and_then(Value::as_u64),
            issuer: text(v, "issuer")?,
            client_id: text(v, "client_id")?,
            token_endpoint: text(v, "token_endpoint")?,
            resource: text(v, "resource").unwrap_or_else(|| url.to_owned()),
            scope: text(v, "scope").unwrap_or_default(),
            requested_scope: text(v, "requested_scope")
                .or_else(|| text(v, "scope"))
                .unwrap_or_default(),
            needs_login: v.get("needs_login").and_then(Value::as_bool) == Some(true),
            options: v
                .get("options")
                .and_then(|o| serde_json::from_value(o.clone()).ok())
                .unwrap_or_default(),
        })
    }

    pub fn to_value(&self) -> Value {
        let expose = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_owned());
        json!({
            "type": "mcp",
            "url": self.url,
            "token": expose(&self.token),
            "refresh_token": expose(&self.refresh_token),
            "token_type": "Bearer",
            "expires_at": self.expires_at,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "token_endpoint": self.token_endpoint,
            "resource": self.resource,
            "scope": self.scope,
            "requested_scope": self.requested_scope,
            "needs_login": self.needs_login,
            "options": self.options,
            "saved_at": now_unix(),
        })
    }

    /// Reads the entry for `url` from the token file's entries.
    pub fn find(entries: &Entries, url: &str) -> Option<ServerEntry> {
        ServerEntry::from_value(url, entries.get(url)?)
    }
}

/// The record of `issuer` in the clients file's entries.
pub fn client_of(clients: &Entries, issuer: &str) -> Option<ClientRecord> {
    clients.get(issuer).and_then(ClientRecord::from_value)
}

/// Every MCP server entry in the token file (keys that are not named connectors).
pub fn all_servers(entries: &Entries) -> Vec<(String, Option<ServerEntry>)> {
    entries
        .iter()
        .filter(|(k, _)| !NAMED_TOKEN_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), ServerEntry::from_value(k, v)))
        .collect()
}

/// How Patchbay came by its client id at one authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Dynamic Client Registration (RFC 7591).
    #[default]
    Registered,
    /// Given by the person (`--client-id`), registered by hand at the server.
    PreRegistered,
    /// Patchbay's Client ID Metadata Document URL.
    MetadataDocument,
}

/// Who Patchbay is at one authorization server, with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    pub client_id: String,
    pub kind: ClientKind,
    /// A pre-registered confidential client's secret.
    pub client_secret: Option<Secret>,
    /// The redirect URI a dynamic registration was made with.
    pub redirect_uri: String,
    pub metadata: Option<AuthorizationServerMetadata>,
    pub metadata_fetched_at: u64,
}

impl ClientRecord {
    pub fn from_value(v: &Value) -> Option<ClientRecord> {
        Some(ClientRecord {
            client_id: text(v, "client_id").filter(|c| !c.is_empty())?,
            kind: v
                .get("kind")
                .and_then(|k| serde_json::from_value(k.clone()).ok())
                .unwrap_or_default(),
            client_secret: secret(v, "client_secret"),
            redirect_uri: text(v, "redirect_uri")
                .unwrap_or_else(|| patchbay_proto::mcp::REDIRECT_URI.to_owned()),
            metadata: v
                .get("metadata")
                .and_then(|m| serde_json::from_value(m.clone()).ok()),
            metadata_fetched_at: v
                .get("metadata_fetched_at")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    pub fn to_value(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "kind": self.kind,
            "client_secret": self.client_secret.as_ref().map(|s| s.expose().to_owned()),
            "redirect_uri": self.redirect_uri,
            "metadata": self.metadata,
            "metadata_fetched_at": self.metadata_fetched_at,
        })
    }

    /// How this client authenticates at the token endpoint.
    pub fn auth(&self) -> ClientAuth<'_> {
        ClientAuth {
            client_id: &self.client_id,
            client_secret: self.client_secret.as_ref(),
        }
    }

    /// The cached metadata while it is fresh.
    pub fn fresh_metadata(&self, now: u64) -> Option<&AuthorizationServerMetadata> {
        self.metadata
            .as_ref()
            .filter(|_| now.saturating_sub(self.metadata_fetched_at) < METADATA_MAX_AGE_SECS)
    }
}
