package oidcop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Request is a pending authorization request as the logon pages need it.
type Request struct {
	ID         string
	ClientID   string
	ClientName string
	// MinLevel is the level the logon must reach.
	MinLevel keys.Level
	// PromptNone: no page may be shown; PromptLogin: the citizen must log on again
	// (prompt=login, or max_age=0).
	PromptNone, PromptLogin bool
	// MaxAge, when HasMaxAge, is the longest time since the citizen's last logon.
	MaxAge    time.Duration
	HasMaxAge bool
	// UILocales are the languages the online service would like, in order.
	UILocales []string
	CreatedAt time.Time
	// BoundAccountID is the citizen who was logged on when the request arrived (0: nobody).
	// Only their logon completes it: a logon for it is bound to them (login.StartFor).
	BoundAccountID int64

	hintSubject string
	client      store.Client
}

// Session is what the logon pages know of the citizen's session in this browser.
type Session struct {
	// AccountID is 0 when nobody is logged on.
	AccountID int64
	Level     keys.Level
	AuthTime  time.Time
	// Fresh says the citizen logged on for this very request (the logon the request started
	// has finished since), whatever the clocks of the nodes say.
	Fresh bool
}

// Decision is what the logon pages do with a request.
type Decision int

// Decisions.
const (
	// Logon: the citizen must log on (again, or with a stronger key).
	Logon Decision = iota
	// Complete: the session meets the request; complete it.
	Complete
	// LoginRequired: the session does not meet the request and prompt=none forbids a logon.
	LoginRequired
	// OtherAccount: the session belongs to another citizen than the one the request is bound
	// to. Complete refuses it (and records why): the logon pages show its *PageError.
	OtherAccount
)

func (d Decision) String() string {
	switch d {
	case Complete:
		return "complete"
	case LoginRequired:
		return "login_required"
	case OtherAccount:
		return "other_account"
	}
	return "logon"
}

// errUnknownRequest is shown when a request id is unknown, done or expired.
func errUnknownRequest(cause error) *PageError {
	return &PageError{Status: http.StatusNotFound, Message: i18n.NewError("oidc.error.unknown_request"), Cause: cause}
}

// ServiceLink returns the name of the registered client id and an address of its to send a
// citizen back to — the origin of its first registered redirect URI, a page of its that
// needs no request state — or ok=false for an unknown client. A request that can no longer be
// used (answered already, expired) then still offers a way back to the online service.
func (p *Provider) ServiceLink(ctx context.Context, id string) (name, href string, ok bool) {
	if id == "" || len(id) > maxClientIDLen {
		return "", "", false
	}
	c, err := p.st.GetClient(ctx, id)
	if err != nil || len(c.RedirectURIs) == 0 {
		return "", "", false
	}
	u, err := url.Parse(c.RedirectURIs[0])
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", false
	}
	return c.Name, u.Scheme + "://" + u.Host + "/", true
}

// Request returns the pending request with id; a *PageError when there is none (unknown, used
// or expired).
func (p *Provider) Request(ctx context.Context, id string) (Request, error) {
	row, d, err := p.pending(ctx, id)
	if err != nil {
		return Request{}, err
	}
	c, err := p.st.GetClient(ctx, row.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return Request{}, errUnknownRequest(fmt.Errorf("client %s was removed", row.ClientID))
	}
	if err != nil {
		return Request{}, fmt.Errorf("auth request: %w", err)
	}
	r := Request{ID: row.ID, ClientID: c.ID, ClientName: c.Name, MinLevel: d.level(), PromptNone: d.PromptNone,
		PromptLogin: d.PromptLogin, UILocales: d.UILocales, CreatedAt: row.CreatedAt, BoundAccountID: d.BoundAccount,
		hintSubject: d.HintSubject, client: c}
	if d.MaxAge >= 0 {
		r.MaxAge, r.HasMaxAge = time.Duration(d.MaxAge)*time.Second, true
	}
	return r, nil
}

// pending loads the pending, unexpired request id.
func (p *Provider) pending(ctx context.Context, id string) (store.AuthRequest, requestData, error) {
	if id == "" || len(id) > 64 {
		return store.AuthRequest{}, requestData{}, errUnknownRequest(errors.New("no or malformed request id"))
	}
	row, err := p.st.GetAuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.AuthRequest{}, requestData{}, errUnknownRequest(err)
	}
	if err != nil {
		return store.AuthRequest{}, requestData{}, fmt.Errorf("auth request: %w", err)
	}
	if !row.DoneAt.IsZero() || !p.now().Before(row.ExpiresAt) {
		pe := errUnknownRequest(errors.New("request done or expired"))
		pe.ClientID = row.ClientID
		return store.AuthRequest{}, requestData{}, pe
	}
	d, err := decodeRequest(row)
	return row, d, err
}

// Decide says what to do with r for the citizen's session s: complete it when s reaches the
// level and its logon is recent enough for prompt=login and max_age (and, with prompt=none,
// belongs to the id_token_hint's citizen); otherwise log on, which prompt=none forbids. A
// session of another citizen than the one r is bound to is OtherAccount (with prompt=none,
// LoginRequired): it never answers r, and a logon in its place would silently replace it.
func (p *Provider) Decide(r Request, s Session) Decision {
	if r.BoundAccountID != 0 && s.AccountID != 0 && s.AccountID != r.BoundAccountID {
		if r.PromptNone {
			return LoginRequired
		}
		return OtherAccount
	}
	if p.satisfies(r, s) {
		return Complete
	}
	if r.PromptNone {
		return LoginRequired
	}
	return Logon
}

func (p *Provider) satisfies(r Request, s Session) bool {
	if s.AccountID == 0 || !s.Level.Meets(r.MinLevel) {
		return false
	}
	// A logon made for this request satisfies prompt=login and max_age by definition; the
	// clock comparisons are for a session that existed before.
	if r.PromptLogin && !s.Fresh && s.AuthTime.Before(r.CreatedAt) {
		return false
	}
	if r.HasMaxAge && !s.Fresh && p.now().Sub(s.AuthTime) > r.MaxAge {
		return false
	}
	if r.PromptNone && r.hintSubject != "" && r.hintSubject != p.subject(r.client, s.AccountID) {
		return false
	}
	return true
}

// Authentication is the logon that completes a request.
type Authentication struct {
	AccountID int64
	Level     keys.Level
	AMR       []string
	AuthTime  time.Time
	// SessionID is the session's stable identifier (the sid claim): never the session cookie
	// or its stored hash.
	SessionID string
	IP        string
}

// Complete records a's logon as the answer to request id, issues an authorization code and
// returns the online service's redirect URI with code, state and iss. A request completes
// once: a second call (a double click, another node) gets a *PageError. A logon of another
// citizen than the one the request is bound to is refused with a *PageError (403), and a
// logon.failure event (other_account) is recorded: the request stays pending for its citizen.
func (p *Provider) Complete(ctx context.Context, id string, a Authentication) (string, error) {
	row, d, err := p.pending(ctx, id)
	if err != nil {
		return "", err
	}
	if d.BoundAccount != 0 && a.AccountID != d.BoundAccount {
		err := p.record(ctx, p.st, store.AuditEvent{Type: audit.LogonFailure, AccountID: a.AccountID, IP: a.IP,
			Reason: audit.ReasonOtherAccount, Detail: map[string]string{"client": row.ClientID, "bound_account": strconv.FormatInt(d.BoundAccount, 10)}})
		if err != nil {
			return "", fmt.Errorf("complete auth request: %w", err)
		}
		return "", &PageError{Status: http.StatusForbidden, Message: i18n.NewError("oidc.error.other_account"),
			Cause: fmt.Errorf("request %s is bound to account %d, the session is account %d's", id, d.BoundAccount, a.AccountID)}
	}
	if a.AccountID == 0 || !a.Level.Meets(d.level()) {
		return "", fmt.Errorf("complete auth request: logon at level %s does not meet %s", a.Level, d.level())
	}
	c, err := p.st.GetClient(ctx, row.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return "", errUnknownRequest(fmt.Errorf("client %s was removed", row.ClientID))
	}
	if err != nil {
		return "", fmt.Errorf("complete auth request: %w", err)
	}
	d.Subject = p.subject(c, a.AccountID)
	d.AuthTime = a.AuthTime.UTC().Truncate(time.Second)
	d.AMR = slices.Clone(a.AMR)
	d.Level = a.Level.String()
	d.ACR = p.cfg.ACR.Name(a.Level, d.ACRValues)
	d.SessionID = a.SessionID
	code, err := p.random(32)
	if err != nil {
		return "", err
	}
	now := p.now()
	err = store.InTx(ctx, p.st, func(tx txStore) error {
		ok, err := tx.CompleteAuthRequest(ctx, id, store.AuthCompletion{AccountID: a.AccountID, Data: encodeRequest(d),
			CodeHash: tokenHash(code), CodeExpiresAt: now.Add(p.cfg.CodeLifetime)}, now)
		if err != nil {
			return err
		}
		if !ok {
			return errUnknownRequest(errors.New("completed meanwhile"))
		}
		return p.record(ctx, tx, store.AuditEvent{Type: audit.OIDCAuthorized, AccountID: a.AccountID, IP: a.IP,
			Detail: map[string]string{"client": c.ID, "level": d.Level, "acr": d.ACR}})
	})
	if err != nil {
		return "", fmt.Errorf("complete auth request: %w", err)
	}
	return p.responseURL(d.RedirectURI, d.State, url.Values{"code": {code}}), nil
}

// Deny ends request id with an error for the online service (login_required after
// prompt=none, access_denied when the citizen gives up) and returns its redirect URI with the
// error.
func (p *Provider) Deny(ctx context.Context, id, code, description string) (string, error) {
	row, d, err := p.pending(ctx, id)
	if err != nil {
		return "", err
	}
	if err := p.st.DeleteAuthRequest(ctx, row.ID); err != nil {
		return "", fmt.Errorf("deny auth request: %w", err)
	}
	return p.errorRedirect(d.RedirectURI, d.State, protocolError(code, "%s", description)), nil
}
