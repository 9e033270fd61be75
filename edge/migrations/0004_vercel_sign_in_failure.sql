-- The last Vercel sign-in that did not connect (at most one row), so the dashboard can say
-- why: the sign-in ends on the edge's /callback, which the dashboard does not see. Only the
-- reason is kept (denied, expired, refused, failed), never anything from the request.
-- Removed by the next sign-in, a saved token, a successful sign-in and disconnect.
CREATE TABLE IF NOT EXISTS vercel_sign_in_failure (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    reason TEXT    NOT NULL CHECK (reason IN ('denied', 'expired', 'refused', 'failed')),
    at     INTEGER NOT NULL
);
