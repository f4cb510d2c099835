package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// This file is the online service of the OpenID Connect tests: go-oidc and x/oauth2, as an
// online service written in Go uses them, talking to a real node over HTTP. The citizen's
// browser is a webtest.Citizen that stops when it is sent to the online service.

// rpBase is the online service's address: never reached, the browser stops at the redirect.
const rpBase = "http://127.0.0.1:9/rp"

// EIDAS and FAS acr values.
const (
	eidasLow  = "http://eidas.europa.eu/LoA/low"
	eidasSubs = "http://eidas.europa.eu/LoA/substantial"
	eidasHigh = "http://eidas.europa.eu/LoA/high"
	fas200    = "urn:be:fedict:iam:fas:Level200"
	fas400    = "urn:be:fedict:iam:fas:Level400"
)

// newOIDCNode is a node whose clock starts now: ID tokens' iat and exp come from the real clock.
func newOIDCNode(t testing.TB, backend string, mutate func(*config.Config)) *testNode {
	t.Helper()
	return startTestNode(t, backend, nowish(), mutate, nil)
}

// nowish is the real time, to the second.
func nowish() time.Time { return time.Now().UTC().Truncate(time.Second) }

// rpClient is one registered online service.
type rpClient struct {
	t      testing.TB
	tn     *testNode
	id     string
	secret string
	conf   *oauth2.Config
	prov   *oidc.Provider
}

// newRP registers spec (ID and Name required; the redirect URIs are the test's) and discovers
// the node.
func newRP(t testing.TB, tn *testNode, spec oidcop.ClientSpec) *rpClient {
	t.Helper()
	spec.RedirectURIs = []string{rpBase + "/callback"}
	spec.PostLogoutRedirectURIs = []string{rpBase + "/"}
	c, secret, err := oidcop.AddClient(context.Background(), tn.Store, rand.Reader, tn.Now(), spec)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := oidc.NewProvider(context.Background(), tn.url)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := &oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: prov.Endpoint(),
		RedirectURL: rpBase + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	if spec.Public {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rpClient{t: t, tn: tn, id: c.ID, secret: secret, conf: conf, prov: prov}
}

// authRequest is one authorization request the online service sent.
type authRequest struct {
	url, state, nonce, verifier string
}

func randomText() string { return rand.Text() }

// start builds an authorization request with state, nonce and PKCE S256, plus opts.
func (rp *rpClient) start(opts ...oauth2.AuthCodeOption) authRequest {
	ar := authRequest{state: randomText(), nonce: randomText(), verifier: oauth2.GenerateVerifier()}
	opts = append([]oauth2.AuthCodeOption{oidc.Nonce(ar.nonce), oauth2.S256ChallengeOption(ar.verifier)}, opts...)
	ar.url = rp.conf.AuthCodeURL(ar.state, opts...)
	return ar
}

func acrValues(v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("acr_values", v) }

func param(k, v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam(k, v) }

// browser is a citizen's browser that stops when sent to the online service.
func (tn *testNode) browser() *webtest.Citizen {
	c := tn.citizen()
	c.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), rpBase) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

// visit opens an absolute URL of the node in the browser.
func visit(c *webtest.Citizen, abs string) (webtest.Page, error) {
	rel, ok := strings.CutPrefix(abs, c.Base)
	if !ok {
		return webtest.Page{}, fmt.Errorf("%s is not on %s", abs, c.Base)
	}
	return c.Get(rel)
}

// toRP returns where p sends the browser at the online service: a redirect, or the Refresh of
// the page that moves on after a form; nil when p stays at the node.
func toRP(p webtest.Page) *url.URL {
	target := ""
	if loc := p.Header.Get("Location"); p.Status >= 300 && p.Status < 400 && loc != "" {
		if u, err := p.URL.Parse(loc); err == nil {
			target = u.String()
		}
	} else if ref := p.Header.Get("Refresh"); ref != "" {
		_, target, _ = strings.Cut(ref, "url=")
	}
	if !strings.HasPrefix(target, rpBase) {
		return nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil
	}
	return u
}

// rpError is an error the online service received from the node.
type rpError struct{ code, description string }

func (e *rpError) Error() string { return e.code + ": " + e.description }

// result is what a finished logon gave the online service.
type result struct {
	tok    *oauth2.Token
	raw    string
	idt    *oidc.IDToken
	claims idClaims
}

// idClaims are the ID token's claims the tests look at.
type idClaims struct {
	Sub           string   `json:"sub"`
	ACR           string   `json:"acr"`
	AMR           []string `json:"amr"`
	AuthTime      int64    `json:"auth_time"`
	SID           string   `json:"sid"`
	Name          string   `json:"name"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Locale        string   `json:"locale"`
	PrefLanguage  string   `json:"prefLanguage"`
}

// finish takes the answer at the callback: state and iss checked, the code exchanged with the
// PKCE verifier, the ID token verified with the nonce. An error answer is an *rpError.
func (rp *rpClient) finish(cb *url.URL, ar authRequest) (*result, error) {
	q := cb.Query()
	if q.Get("state") != ar.state {
		return nil, fmt.Errorf("callback state %q, want %q", q.Get("state"), ar.state)
	}
	if q.Get("iss") != rp.tn.url {
		return nil, fmt.Errorf("callback iss %q, want %q", q.Get("iss"), rp.tn.url)
	}
	if e := q.Get("error"); e != "" {
		return nil, &rpError{e, q.Get("error_description")}
	}
	return rp.exchange(q.Get("code"), ar.verifier, ar.nonce)
}

// exchange redeems code and verifies the ID token.
func (rp *rpClient) exchange(code, verifier, nonce string) (*result, error) {
	ctx := context.Background()
	tok, err := rp.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, &rpError{re.ErrorCode, re.ErrorDescription}
		}
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.prov.Verifier(&oidc.Config{ClientID: rp.id}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify ID token: %w", err)
	}
	if idt.Nonce != nonce {
		return nil, fmt.Errorf("nonce %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return nil, fmt.Errorf("at_hash: %w", err)
	}
	res := &result{tok: tok, raw: raw, idt: idt}
	if err := idt.Claims(&res.claims); err != nil {
		return nil, err
	}
	return res, nil
}

// userinfo asks the userinfo endpoint with res's access token.
func (rp *rpClient) userinfo(res *result) (idClaims, error) {
	ui, err := rp.prov.UserInfo(context.Background(), oauth2.StaticTokenSource(res.tok))
	if err != nil {
		return idClaims{}, err
	}
	var c idClaims
	err = ui.Claims(&c)
	return c, err
}

// logon walks a whole logon for the online service in browser c: the authorization request,
// the key chooser, username and password, the key's code, back at the online service. When the
// session already meets the request no page is shown. ok=false (with the page) when the
// citizen was stopped on a page of the node.
func (rp *rpClient) logon(c *webtest.Citizen, kind, user, pw string, opts ...oauth2.AuthCodeOption) (*result, webtest.Page, error) {
	rp.t.Helper()
	ar := rp.start(opts...)
	p, err := visit(c, ar.url)
	if err != nil {
		return nil, p, err
	}
	if cb := toRP(p); cb != nil {
		res, err := rp.finish(cb, ar)
		return res, p, err
	}
	if p.URL.Path != "/login" {
		return nil, p, fmt.Errorf("authorization request ended at %s (status %d): %s", p.URL, p.Status, p.Alert())
	}
	return rp.logonFrom(c, p, ar, kind, user, pw)
}

// logonFrom continues ar's logon on the chooser page p.
func (rp *rpClient) logonFrom(c *webtest.Citizen, p webtest.Page, ar authRequest, kind, user, pw string) (*result, webtest.Page, error) {
	rp.t.Helper()
	p, err := c.LogonFrom(p, kind, user, pw)
	if err != nil {
		return nil, p, err
	}
	if p.URL.Path == "/login/code" {
		if kind == "totp" {
			rp.tn.clock.Advance(30 * time.Second) // a fresh step for every logon
		}
		if p, err = c.SubmitCode(rp.tn.answer(rp.t, kind, p)); err != nil {
			return nil, p, err
		}
	}
	cb := toRP(p)
	if cb == nil {
		return nil, p, fmt.Errorf("logon ended at %s (status %d): %q", p.URL, p.Status, p.Alert())
	}
	res, err := rp.finish(cb, ar)
	return res, p, err
}

// mustLogon is logon that fails the test on any error.
func (rp *rpClient) mustLogon(c *webtest.Citizen, kind, user, pw string, opts ...oauth2.AuthCodeOption) *result {
	rp.t.Helper()
	res, _, err := rp.logon(c, kind, user, pw, opts...)
	if err != nil {
		rp.t.Fatalf("logon with %s: %v", kind, err)
	}
	return res
}

// wantRPError checks that err is the protocol error code.
func wantRPError(t *testing.T, what string, err error, code string) *rpError {
	t.Helper()
	var re *rpError
	if !errors.As(err, &re) || re.code != code {
		t.Fatalf("%s: got %v, want the error %s", what, err, code)
	}
	return re
}

// codeFor logs on for rp in a fresh browser and returns the code, not yet exchanged.
func (tn *testNode) codeFor(t testing.TB, rp *rpClient) (string, authRequest) {
	t.Helper()
	ar := rp.start()
	c := tn.browser()
	p, err := visit(c, ar.url)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = c.LogonFrom(p, "password", "demo", "demo-password-1"); err != nil {
		t.Fatal(err)
	}
	cb := toRP(p)
	if cb == nil || cb.Query().Get("code") == "" || cb.Query().Get("state") != ar.state {
		t.Fatalf("no code: ended at %s, %q", p.URL, p.Alert())
	}
	return cb.Query().Get("code"), ar
}

// kidOf returns the key id in a JWT's header.
func kidOf(t testing.TB, jwt string) string {
	t.Helper()
	head, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Alg != "RS256" {
		t.Fatalf("JWT header %s: %v", b, err)
	}
	return h.Kid
}

// jwks returns the key ids the node publishes.
func (tn *testNode) jwks(t testing.TB) []string {
	t.Helper()
	resp, err := http.Get(tn.url + oidcop.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}
