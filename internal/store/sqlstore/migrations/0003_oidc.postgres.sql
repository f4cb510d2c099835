-- The OpenID provider (PostgreSQL): authorization requests, registered online services, signing keys.
-- Times are BIGINT unix microseconds UTC; 0 is "never". Append-only.

CREATE TABLE oidc_auth_requests (
    id               TEXT    NOT NULL PRIMARY KEY,
    client_id        TEXT    NOT NULL,
    data             BYTEA   NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    account_id       BIGINT  NOT NULL DEFAULT 0,
    done_at          BIGINT  NOT NULL DEFAULT 0,
    code_hash        BYTEA   NOT NULL DEFAULT '',
    code_used_at     BIGINT  NOT NULL DEFAULT 0,
    token_hash       BYTEA   NOT NULL DEFAULT '',
    token_expires_at BIGINT  NOT NULL DEFAULT 0,
    revoked_at       BIGINT  NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX oidc_auth_requests_code ON oidc_auth_requests (code_hash) WHERE code_hash <> '';
CREATE UNIQUE INDEX oidc_auth_requests_token ON oidc_auth_requests (token_hash) WHERE token_hash <> '';
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    public                    BOOLEAN NOT NULL DEFAULT FALSE,
    secret_hash               BYTEA   NOT NULL DEFAULT '',
    redirect_uris             TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
    scopes                    TEXT    NOT NULL DEFAULT '[]',
    default_level             TEXT    NOT NULL,
    pairwise                  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                BIGINT  NOT NULL,
    updated_at                BIGINT  NOT NULL
);

CREATE TABLE oidc_signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    generation  BIGINT  NOT NULL,
    algorithm   TEXT    NOT NULL,
    private_key BYTEA   NOT NULL,
    public_key  BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    active_from BIGINT  NOT NULL
);
CREATE UNIQUE INDEX oidc_signing_keys_generation ON oidc_signing_keys (generation);
