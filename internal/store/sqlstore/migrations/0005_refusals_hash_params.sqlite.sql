-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- Requests refused while a scope is throttled are counted on its row and reported once per
-- throttle period (SPEC §8: aggregated, not one audit row each). The sweeper takes the counts
-- of throttles that ended; the partial index keeps that a small range scan.
ALTER TABLE attempts ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
CREATE INDEX attempts_refused ON attempts (throttled_until) WHERE refused > 0;

-- The parameters of each account's password hash (the hash without salt and digest, e.g.
-- "$argon2id$v=19$m=19456,t=2,p=1"), indexed so that the few distinct sets in use are found
-- with one index probe each (PasswordHashParams): a failed logon costs as much as the dearest
-- set in use, however many accounts there are. Hashes so far are all argon2id PHC strings.
ALTER TABLE accounts ADD COLUMN password_params TEXT NOT NULL DEFAULT '';
UPDATE accounts SET password_params = substr(password_hash, 1, 14 + instr(substr(password_hash, 16), '$'))
    WHERE password_hash LIKE '$argon2id$v=19$%';
CREATE INDEX accounts_password_params ON accounts (password_params);
