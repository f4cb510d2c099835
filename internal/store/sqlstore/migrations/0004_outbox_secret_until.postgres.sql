-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- A message that carries a code knows until when the code is valid (0: it carries none). Its
-- bodies are dropped when it fails for good or the code expires, so no code stays readable in
-- the outbox and `admin mail retry` never sends a stale one.
ALTER TABLE outbox ADD COLUMN secret_until BIGINT NOT NULL DEFAULT 0;
-- Messages written before this version: the code templates' codes were valid for minutes (the
-- default is 5, the resend window 15); treat them as valid for 15 minutes after creation.
UPDATE outbox SET secret_until = created_at + 900000000
    WHERE template IN ('logon_code', 'registration_code', 'email_change');
-- The sweep looks for messages whose code expired and that still have a body.
CREATE INDEX outbox_secret ON outbox (secret_until) WHERE secret_until <> 0 AND (text_body <> '' OR html_body <> '');
