package oidcop

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// requestData is what an authorization request holds (store.AuthRequest.Data, as JSON): its
// parameters, and once the citizen has logged on, the logon's result.
type requestData struct {
	RedirectURI   string   `json:"redirect_uri"`
	Scopes        []string `json:"scopes"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge"` // S256, the only method accepted
	// PromptNone and PromptLogin are prompt=none and prompt=login (or max_age=0).
	PromptNone  bool `json:"prompt_none,omitempty"`
	PromptLogin bool `json:"prompt_login,omitempty"`
	// MaxAge is max_age in seconds; -1 when absent.
	MaxAge    int64    `json:"max_age"`
	ACRValues []string `json:"acr_values,omitempty"`
	MinLevel  string   `json:"min_level"`
	UILocales []string `json:"ui_locales,omitempty"`
	// HintSubject is the subject of a valid id_token_hint.
	HintSubject string `json:"hint_subject,omitempty"`
	// BoundAccount is the citizen logged on in the browser the request arrived in (0: none):
	// only their logon answers it, so a step-up never becomes another citizen's logon.
	BoundAccount int64 `json:"bound_account,omitempty"`

	// The logon's result, set when the request is completed.
	Subject   string    `json:"subject,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	AMR       []string  `json:"amr,omitempty"`
	Level     string    `json:"level,omitempty"`
	ACR       string    `json:"acr,omitempty"`
	SessionID string    `json:"sid,omitempty"`
}

func decodeRequest(r store.AuthRequest) (requestData, error) {
	var d requestData
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return requestData{}, fmt.Errorf("decode auth request %s: %w", r.ID, err)
	}
	return d, nil
}

func encodeRequest(d requestData) []byte {
	b, _ := json.Marshal(d) // plain strings, numbers and times always encode
	return b
}

// authRequest is a completed authorization request as the op package sees it (op.AuthRequest,
// op.IDTokenRequest, op.TokenRequest).
type authRequest struct {
	row store.AuthRequest
	d   requestData
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string         { return a.row.ID }
func (a *authRequest) GetACR() string        { return a.d.ACR }
func (a *authRequest) GetAMR() []string      { return slices.Clone(a.d.AMR) }
func (a *authRequest) GetAudience() []string { return []string{a.row.ClientID} }
func (a *authRequest) GetAuthTime() time.Time {
	return a.d.AuthTime
}
func (a *authRequest) GetClientID() string { return a.row.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.d.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
}
func (a *authRequest) GetNonce() string                   { return a.d.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.d.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseModeQuery }
func (a *authRequest) GetScopes() []string                { return slices.Clone(a.d.Scopes) }
func (a *authRequest) GetState() string                   { return a.d.State }
func (a *authRequest) GetSubject() string                 { return a.d.Subject }
func (a *authRequest) Done() bool                         { return !a.row.DoneAt.IsZero() }

// level returns the request's minimum level.
func (d requestData) level() keys.Level {
	l, err := keys.ParseLevel(d.MinLevel)
	if err != nil {
		return keys.LevelHigh // never lower a level we cannot read
	}
	return l
}
