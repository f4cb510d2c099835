-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- The sweeper removes codes that stopped being valid (expired or used) more than a retention
-- period ago; these indexes keep that a range scan as the table grows.
CREATE INDEX codes_expires ON codes (expires_at);
CREATE INDEX codes_used ON codes (used_at) WHERE used_at <> 0;
