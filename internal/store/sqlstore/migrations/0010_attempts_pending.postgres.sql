-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- Issue 11, fairness: how many of an attempt counter's failures are reservations still being
-- checked (in flight) rather than settled failures. A request refused only because of those
-- waits for them to settle instead of being told "too many attempts" (attempts.Limiter.Begin).
ALTER TABLE attempts ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
