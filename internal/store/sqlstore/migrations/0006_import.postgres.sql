-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- Everything held about one citizen is listed (admin users export) and deleted with the account
-- (admin users delete) by account_id: index the tables that did not have it indexed yet.
CREATE INDEX outbox_account ON outbox (account_id, id);
CREATE INDEX sessions_account ON sessions (account_id);
