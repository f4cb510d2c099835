-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- Requests refused while a scope is throttled are counted on its row and reported once per
-- throttle period (SPEC §8: aggregated, not one audit row each). The sweeper takes the counts
-- of throttles that ended; the partial index keeps that a small range scan.
ALTER TABLE attempts ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
CREATE INDEX attempts_refused ON attempts (throttled_until) WHERE refused > 0;
