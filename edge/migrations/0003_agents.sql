-- The workspace as an OAuth authorization server and MCP server for hosted agents.
-- Tokens, codes and session ids are stored only as their SHA-256 (base64url): a copy of
-- this database lets nobody in.

-- Registered clients: by Dynamic Client Registration (client_id chosen here) or by a Client
-- ID Metadata Document (client_id is the document's https URL). approved_at is set by the
-- first approval; a revoke deletes the row with its grants.
CREATE TABLE IF NOT EXISTS agent_clients (
    client_id     TEXT    PRIMARY KEY,
    client_name   TEXT    NOT NULL,
    redirect_uris TEXT    NOT NULL, -- JSON array
    source        TEXT    NOT NULL CHECK (source IN ('dcr', 'cimd')),
    scope         TEXT    NOT NULL DEFAULT '', -- every scope a person approved for it
    created_at    INTEGER NOT NULL,
    approved_at   INTEGER,
    last_used_at  INTEGER
);
CREATE INDEX IF NOT EXISTS agent_clients_created_at ON agent_clients (created_at);

-- Authorization requests, keyed by a hash of their parameters, so the authorize URL the
-- browser re-loads finds its own row. pending -> approved | denied (by a person) ->
-- issued (a code was handed out) -> used (the code was exchanged).
CREATE TABLE IF NOT EXISTS agent_requests (
    id              TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    scope           TEXT    NOT NULL,
    code_challenge  TEXT    NOT NULL,
    resource        TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'denied', 'issued', 'used')),
    created_at      INTEGER NOT NULL,
    code_key        TEXT    UNIQUE,
    code_expires_at INTEGER,
    grant_id        TEXT
);
CREATE INDEX IF NOT EXISTS agent_requests_client ON agent_requests (client_id);

-- One grant per exchanged code: what a refresh-token family shares. Revoking it (a revoke,
-- or a reused refresh token) deletes its tokens.
CREATE TABLE IF NOT EXISTS agent_grants (
    id         TEXT    PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_grants_client ON agent_grants (client_id);

-- Access and refresh tokens. A refresh token is kept after use (used_at set), so presenting
-- it again is recognised as reuse and kills its grant.
CREATE TABLE IF NOT EXISTS agent_tokens (
    token_key  TEXT    PRIMARY KEY,
    grant_id   TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX IF NOT EXISTS agent_tokens_grant ON agent_tokens (grant_id);

-- MCP sessions (Mcp-Session-Id), each bound to the grant that opened it.
CREATE TABLE IF NOT EXISTS mcp_sessions (
    session_key      TEXT    PRIMARY KEY,
    grant_id         TEXT    NOT NULL,
    protocol_version TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);

-- Fetched Client ID Metadata Documents, by URL.
CREATE TABLE IF NOT EXISTS agent_metadata_cache (
    url        TEXT    PRIMARY KEY,
    document   TEXT    NOT NULL,
    fetched_at INTEGER NOT NULL
);

-- The helper's connector overview (GET /api/connectors), pushed whenever it changes, for the
-- list_connections tool. Holds no secret.
CREATE TABLE IF NOT EXISTS workspace_connections (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    overview   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
