package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// The OpenID provider's aggregates: authorization requests, clients and signing keys.

const authRequestColumns = `id, client_id, data, created_at, expires_at, account_id, done_at, code_hash,
	code_used_at, token_hash, token_expires_at, revoked_at`

func scanAuthRequest(row interface{ Scan(...any) error }) (store.AuthRequest, error) {
	var r store.AuthRequest
	var created, expires, done, used, tokenExpires, revoked int64
	if err := row.Scan(&r.ID, &r.ClientID, &r.Data, &created, &expires, &r.AccountID, &done, &r.CodeHash,
		&used, &r.TokenHash, &tokenExpires, &revoked); err != nil {
		return store.AuthRequest{}, err
	}
	r.Data, r.CodeHash, r.TokenHash = nilIfEmpty(r.Data), nilIfEmpty(r.CodeHash), nilIfEmpty(r.TokenHash)
	r.CreatedAt, r.ExpiresAt, r.DoneAt = fromMicros(created), fromMicros(expires), fromMicros(done)
	r.CodeUsedAt, r.TokenExpiresAt, r.RevokedAt = fromMicros(used), fromMicros(tokenExpires), fromMicros(revoked)
	return r, nil
}

// CreateAuthRequest inserts r (CreatedAt defaults to now); store.ErrConflict when its ID exists.
func (db *DB) CreateAuthRequest(ctx context.Context, r *store.AuthRequest) error {
	created := db.orNow(r.CreatedAt)
	_, err := db.q.ExecContext(ctx, `INSERT INTO oidc_auth_requests (`+authRequestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.ID, r.ClientID, nonNil(r.Data), toMicros(created), toMicros(r.ExpiresAt), r.AccountID, toMicros(r.DoneAt),
		nonNil(r.CodeHash), toMicros(r.CodeUsedAt), nonNil(r.TokenHash), toMicros(r.TokenExpiresAt), toMicros(r.RevokedAt))
	if err != nil {
		return fmt.Errorf("create auth request: %w", db.conflictOr(err))
	}
	r.CreatedAt = created
	return nil
}

// GetAuthRequest returns the request with id, or store.ErrNotFound.
func (db *DB) GetAuthRequest(ctx context.Context, id string) (store.AuthRequest, error) {
	r, err := scanAuthRequest(db.q.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM oidc_auth_requests WHERE id = $1`, id))
	if err != nil {
		return store.AuthRequest{}, fmt.Errorf("get auth request: %w", notFoundOr(err))
	}
	return r, nil
}

// CompleteAuthRequest records the logon of a pending, unexpired request, once.
func (db *DB) CompleteAuthRequest(ctx context.Context, id string, c store.AuthCompletion, now time.Time) (bool, error) {
	res, err := db.q.ExecContext(ctx, `UPDATE oidc_auth_requests SET account_id = $1, data = $2, done_at = $3,
		code_hash = $4, expires_at = $5 WHERE id = $6 AND done_at = 0 AND expires_at > $3`,
		c.AccountID, nonNil(c.Data), toMicros(now), nonNil(c.CodeHash), toMicros(c.CodeExpiresAt), id)
	if err != nil {
		return false, fmt.Errorf("complete auth request: %w", db.conflictOr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("complete auth request: %w", err)
	}
	return n == 1, nil
}

// ConsumeAuthCode marks the code of clientID's request used and returns the request as it was
// before.
func (db *DB) ConsumeAuthCode(ctx context.Context, codeHash []byte, clientID string, now time.Time) (store.AuthRequest, error) {
	if len(codeHash) == 0 {
		return store.AuthRequest{}, fmt.Errorf("consume auth code: %w", store.ErrNotFound)
	}
	var out store.AuthRequest
	err := db.inTx(ctx, func(tx *DB) error {
		r, err := scanAuthRequest(tx.q.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM oidc_auth_requests
			WHERE code_hash = $1 AND client_id = $2`+tx.d.forUpdate, codeHash, clientID))
		if err != nil {
			return notFoundOr(err)
		}
		out = r
		if !r.CodeUsedAt.IsZero() {
			return nil // a replay: report it as it is
		}
		_, err = tx.q.ExecContext(ctx, `UPDATE oidc_auth_requests SET code_used_at = $1 WHERE id = $2`, toMicros(now), r.ID)
		return err
	})
	if err != nil {
		return store.AuthRequest{}, fmt.Errorf("consume auth code: %w", err)
	}
	return out, nil
}

// SetAuthRequestToken records the access token of a consumed, unrevoked request, once.
func (db *DB) SetAuthRequestToken(ctx context.Context, id string, tokenHash []byte, expiresAt time.Time) (bool, error) {
	res, err := db.q.ExecContext(ctx, `UPDATE oidc_auth_requests SET token_hash = $1, token_expires_at = $2, expires_at = $2
		WHERE id = $3 AND token_hash = $4 AND revoked_at = 0 AND code_used_at <> 0`,
		nonNil(tokenHash), toMicros(expiresAt), id, []byte{})
	if err != nil {
		return false, fmt.Errorf("record access token: %w", db.conflictOr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record access token: %w", err)
	}
	return n == 1, nil
}

// GetAuthRequestByToken returns the request whose access token hashes to tokenHash.
func (db *DB) GetAuthRequestByToken(ctx context.Context, tokenHash []byte) (store.AuthRequest, error) {
	if len(tokenHash) == 0 {
		return store.AuthRequest{}, fmt.Errorf("get auth request by token: %w", store.ErrNotFound)
	}
	r, err := scanAuthRequest(db.q.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM oidc_auth_requests WHERE token_hash = $1`, tokenHash))
	if err != nil {
		return store.AuthRequest{}, fmt.Errorf("get auth request by token: %w", notFoundOr(err))
	}
	return r, nil
}

// RevokeAuthRequest marks the request revoked; the first revocation's time is kept.
func (db *DB) RevokeAuthRequest(ctx context.Context, id string, at time.Time) error {
	res, err := db.q.ExecContext(ctx, `UPDATE oidc_auth_requests SET revoked_at = CASE WHEN revoked_at = 0 THEN $1 ELSE revoked_at END
		WHERE id = $2`, toMicros(at), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("revoke auth request: %w", err)
	}
	return nil
}

// DeleteAuthRequest removes the request; a missing one is not an error.
func (db *DB) DeleteAuthRequest(ctx context.Context, id string) error {
	if _, err := db.q.ExecContext(ctx, `DELETE FROM oidc_auth_requests WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete auth request: %w", err)
	}
	return nil
}

// DeleteAuthRequestsBefore removes requests that expired before cutoff.
func (db *DB) DeleteAuthRequestsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.q.ExecContext(ctx, `DELETE FROM oidc_auth_requests WHERE expires_at < $1`, toMicros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("delete expired auth requests: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired auth requests: %w", err)
	}
	return n, nil
}

const clientColumns = `id, name, public, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, default_level,
	pairwise, created_at, updated_at`

func scanClient(row interface{ Scan(...any) error }) (store.Client, error) {
	var c store.Client
	var redirects, postLogout, scopes string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Name, &c.Public, &c.SecretHash, &redirects, &postLogout, &scopes, &c.DefaultLevel,
		&c.Pairwise, &created, &updated); err != nil {
		return store.Client{}, err
	}
	c.SecretHash = nilIfEmpty(c.SecretHash)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	for _, f := range []struct {
		raw string
		dst *[]string
	}{{redirects, &c.RedirectURIs}, {postLogout, &c.PostLogoutRedirectURIs}, {scopes, &c.Scopes}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return store.Client{}, fmt.Errorf("decode client %s: %w", c.ID, err)
		}
		if len(*f.dst) == 0 {
			*f.dst = nil
		}
	}
	return c, nil
}

// encodeList returns the JSON array of l ("[]" for nil).
func encodeList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a []string always encodes
	return string(b)
}

// CreateClient inserts c; store.ErrConflict when its ID is taken.
func (db *DB) CreateClient(ctx context.Context, c *store.Client) error {
	created := db.orNow(c.CreatedAt)
	updated := created
	if !c.UpdatedAt.IsZero() {
		updated = db.orNow(c.UpdatedAt)
	}
	_, err := db.q.ExecContext(ctx, `INSERT INTO oidc_clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.Name, c.Public, nonNil(c.SecretHash), encodeList(c.RedirectURIs), encodeList(c.PostLogoutRedirectURIs),
		encodeList(c.Scopes), c.DefaultLevel, c.Pairwise, toMicros(created), toMicros(updated))
	if err != nil {
		return fmt.Errorf("create client %s: %w", c.ID, db.conflictOr(err))
	}
	c.CreatedAt, c.UpdatedAt = created, updated
	return nil
}

// GetClient returns the client with id, or store.ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(db.q.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM oidc_clients WHERE id = $1`, id))
	if err != nil {
		return store.Client{}, fmt.Errorf("get client: %w", notFoundOr(err))
	}
	return c, nil
}

// ListClients returns every client ordered by ID.
func (db *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+clientColumns+` FROM oidc_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// UpdateClient overwrites every field of the client but ID and CreatedAt.
func (db *DB) UpdateClient(ctx context.Context, c *store.Client) error {
	updated := db.orNow(c.UpdatedAt)
	res, err := db.q.ExecContext(ctx, `UPDATE oidc_clients SET name = $1, public = $2, secret_hash = $3, redirect_uris = $4,
		post_logout_redirect_uris = $5, scopes = $6, default_level = $7, pairwise = $8, updated_at = $9 WHERE id = $10`,
		c.Name, c.Public, nonNil(c.SecretHash), encodeList(c.RedirectURIs), encodeList(c.PostLogoutRedirectURIs),
		encodeList(c.Scopes), c.DefaultLevel, c.Pairwise, toMicros(updated), c.ID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update client %s: %w", c.ID, err)
	}
	c.UpdatedAt = updated
	return nil
}

// DeleteClient removes the client; store.ErrNotFound when missing.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	res, err := db.q.ExecContext(ctx, `DELETE FROM oidc_clients WHERE id = $1`, id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	return nil
}

const signingKeyColumns = `id, generation, algorithm, private_key, public_key, created_at, active_from`

// CreateSigningKey inserts k; store.ErrConflict when its ID or generation is taken.
func (db *DB) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	if len(k.PrivateKey) == 0 || len(k.PublicKey) == 0 {
		return errors.New("create signing key: no key material")
	}
	created := db.orNow(k.CreatedAt)
	_, err := db.q.ExecContext(ctx, `INSERT INTO oidc_signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Generation, k.Algorithm, k.PrivateKey, k.PublicKey, toMicros(created), toMicros(k.ActiveFrom))
	if err != nil {
		return fmt.Errorf("create signing key: %w", db.conflictOr(err))
	}
	k.CreatedAt = created
	return nil
}

// ListSigningKeys returns every key, lowest generation first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM oidc_signing_keys ORDER BY generation`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var created, active int64
		if err := rows.Scan(&k.ID, &k.Generation, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &created, &active); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
		k.CreatedAt, k.ActiveFrom = fromMicros(created), fromMicros(active)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out, nil
}

// DeleteSigningKey removes the key; a missing one is not an error.
func (db *DB) DeleteSigningKey(ctx context.Context, id string) error {
	if _, err := db.q.ExecContext(ctx, `DELETE FROM oidc_signing_keys WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete signing key: %w", err)
	}
	return nil
}
