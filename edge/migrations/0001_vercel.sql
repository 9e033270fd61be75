-- The Vercel connector's state. Token values are AES-256-GCM ciphertexts
-- (base64 of nonce || ciphertext || tag) under PATCHBAY_ENCRYPTION_KEY; nothing here is
-- usable without that Worker secret.

-- The connected Vercel account: at most one row.
CREATE TABLE IF NOT EXISTS vercel_connection (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    source        TEXT    NOT NULL CHECK (source IN ('oauth', 'manual')),
    access_token  TEXT    NOT NULL,
    refresh_token TEXT,
    token_type    TEXT    NOT NULL DEFAULT 'Bearer',
    expires_at    INTEGER,
    scope         TEXT,
    token_hint    TEXT,
    user_id       TEXT,
    username      TEXT,
    email         TEXT,
    client_id     TEXT,
    updated_at    INTEGER NOT NULL
);

-- The OAuth client the edge registered with Vercel (Dynamic Client Registration), reused
-- for every sign-in. Not used when VERCEL_CLIENT_ID is set.
CREATE TABLE IF NOT EXISTS vercel_client (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    client_id     TEXT    NOT NULL,
    client_secret TEXT,
    redirect_uri  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Started sign-ins. Keyed by SHA-256 of the state, never the state itself. A row is
-- claimed once (status pending -> exchanging) and keeps its outcome, so a replayed
-- callback can say what happened without exchanging again.
CREATE TABLE IF NOT EXISTS oauth_states (
    state_key     TEXT    PRIMARY KEY,
    verifier_id   TEXT    NOT NULL,
    code_verifier TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    redirect_uri  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'exchanging', 'connected', 'failed')),
    used_at       INTEGER
);
CREATE INDEX IF NOT EXISTS oauth_states_expires_at ON oauth_states (expires_at);
