-- Why a claimed sign-in failed (an ErrorCode and its sentence, never a secret), so a replayed
-- `oauth/exchange` for that state fails again with the first attempt's reason.
ALTER TABLE oauth_states ADD COLUMN failure_code TEXT;
ALTER TABLE oauth_states ADD COLUMN failure_message TEXT;
