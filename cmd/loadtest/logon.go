package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// Flows a logon can take.
const (
	flowWeb  = "web"  // the citizen opens /login (with ?level=substantial for a code kind)
	flowOIDC = "oidc" // an online service sends the citizen: authorize → logon → token → userinfo
)

// acrSubstantial asks an OIDC logon at level substantial (every key kind but the password).
const acrSubstantial = "http://eidas.europa.eu/LoA/substantial"

// mailWait bounds how long a client waits for an e-mailed code.
const mailWait = 15 * time.Second

// failure is a failed logon; reason groups failures in the report (no ports, no codes).
type failure struct{ reason string }

func (f *failure) Error() string { return f.reason }

func failf(format string, args ...any) error {
	return &failure{reason: fmt.Sprintf(format, args...)}
}

var portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// reasonOf turns any error of a logon into a short reason without variable parts.
func reasonOf(err error) string {
	var f *failure
	if errors.As(err, &f) {
		return truncate(f.reason, 110)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return truncate("transport: "+portRE.ReplaceAllString(err.Error(), "127.0.0.1:…"), 110)
}

// pageFailure describes where a logon ended when it should have gone on.
func pageFailure(step string, p webtest.Page) error {
	msg := p.Alert()
	if msg == "" {
		msg = "no message"
	}
	return failf("%s: status %d at %s: %s", step, p.Status, p.URL.Path, truncate(msg, 70))
}

// citizenState is what the driver remembers about each citizen across runs, to ask only
// logons the server may grant: an authenticator app code is accepted once per 30 s step, and
// only so many codes are e-mailed per window. Each citizen belongs to one client at a time.
type citizenState struct {
	totpStep []int64
	mailed   [][]time.Time
	mailMax  int
	window   time.Duration
}

func newCitizenState(n, mailMax int, window time.Duration) *citizenState {
	return &citizenState{totpStep: make([]int64, n), mailed: make([][]time.Time, n), mailMax: mailMax, window: window}
}

func totpStep(t time.Time) int64 { return t.Unix() / 30 }

// wait returns how long citizen i must wait before a logon with kind (0: now).
func (s *citizenState) wait(kind string, i int, now time.Time) time.Duration {
	switch kind {
	case keys.TOTP:
		if s.totpStep[i] >= totpStep(now) {
			return time.Unix((s.totpStep[i]+1)*30, 0).Sub(now)
		}
	case keys.EmailCode:
		recent := s.mailed[i][:0]
		for _, t := range s.mailed[i] {
			if now.Sub(t) < s.window {
				recent = append(recent, t)
			}
		}
		s.mailed[i] = recent
		if len(recent) >= s.mailMax {
			return recent[0].Add(s.window).Sub(now)
		}
	}
	return 0
}

// relyingParty is the driver's online service on one node: go-oidc and x/oauth2, as an online
// service written in Go uses them.
type relyingParty struct {
	base     string
	conf     *oauth2.Config
	prov     *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// discover finds the node's OpenID provider; ctx carries the HTTP client and lives as long as
// the node (the ID token verifier fetches the signing keys with it).
func discover(ctx context.Context, base, clientID, secret string) (*relyingParty, error) {
	prov, err := oidc.NewProvider(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", base, err)
	}
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: rpRedirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	return &relyingParty{base: base, conf: conf, prov: prov, verifier: prov.Verifier(&oidc.Config{ClientID: clientID})}, nil
}

// client is one simulated user agent: it logs its citizens on one after the other, each logon
// in a fresh browser (a new cookie jar) over the client's own keep-alive connections.
type client struct {
	set      citizenSet
	state    *citizenState
	mail     *mailbox
	base     string
	rp       *relyingParty
	hc       *http.Client // for the online service's back-channel calls
	rt       http.RoundTripper
	citizens []int
	next     int
	cards    map[int][tokencard.Positions]string
	stop     <-chan struct{}
}

// newTransport returns a keep-alive transport for one client, whose connections leave from
// source (a loopback address).
func newTransport(source net.IP) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: source}}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConns: 16, MaxIdleConnsPerHost: 16,
		IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 60 * time.Second}
}

// pick returns the next of the client's citizens that may log on with kind now, or how long
// to wait until one may.
func (c *client) pick(kind string, now time.Time) (int, time.Duration) {
	shortest := time.Duration(-1)
	for range c.citizens {
		i := c.citizens[c.next]
		c.next = (c.next + 1) % len(c.citizens)
		w := c.state.wait(kind, i, now)
		if w <= 0 {
			return i, 0
		}
		if shortest < 0 || w < shortest {
			shortest = w
		}
	}
	return -1, shortest
}

// logon performs one whole logon of citizen i with kind through flow.
func (c *client) logon(ctx context.Context, flow, kind string, i int) error {
	if flow == flowOIDC {
		return c.oidcLogon(ctx, kind, i)
	}
	b := webtest.New(c.base, c.rt)
	query := "?level=substantial"
	if kind == keys.Password {
		query = ""
	}
	if kind == keys.EmailCode {
		c.mail.drain(c.set.email(i))
	}
	p, err := b.StartLogon(query, kind, c.set.username(i), c.set.password)
	if err != nil {
		return err
	}
	if p, err = c.answer(b, kind, i, p); err != nil {
		return err
	}
	if p.Status != http.StatusOK || p.URL.Path != "/" {
		return pageFailure("logon", p)
	}
	return nil
}

// answer submits the code the code step p asks (nothing for a password logon).
func (c *client) answer(b *webtest.Citizen, kind string, i int, p webtest.Page) (webtest.Page, error) {
	if kind == keys.Password {
		return p, nil
	}
	if p.Status != http.StatusOK || p.URL.Path != "/login/code" {
		return p, pageFailure("password", p)
	}
	var code string
	switch kind {
	case keys.TokenCard:
		pos := p.Position()
		if pos < 1 || pos > tokencard.Positions {
			return p, pageFailure("token card: no position asked", p)
		}
		codes, ok := c.cards[i]
		if !ok {
			codes = c.set.cardCodes(i)
			c.cards[i] = codes
		}
		code = codes[pos-1]
	case keys.TOTP:
		now := time.Now()
		code = totp.Code(c.set.totpSecret(i), now)
		c.state.totpStep[i] = totpStep(now)
	case keys.EmailCode:
		c.state.mailed[i] = append(c.state.mailed[i], time.Now())
		var ok bool
		if code, ok = c.mail.wait(c.set.email(i), mailWait, c.stop); !ok {
			return p, failf("e-mail code: no message within %s", mailWait)
		}
	default:
		return p, failf("kind %s: no code to give", kind)
	}
	return b.SubmitCode(code)
}

// oidcLogon sends citizen i through the online service's authorization request (PKCE S256,
// state, nonce), logs on with kind, exchanges the code, verifies the ID token and asks
// userinfo.
func (c *client) oidcLogon(ctx context.Context, kind string, i int) error {
	rp := c.rp
	b := webtest.New(c.base, c.rt)
	b.Client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), rpRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if kind != keys.Password {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", acrSubstantial))
	}
	if kind == keys.EmailCode {
		c.mail.drain(c.set.email(i))
	}
	rel, ok := strings.CutPrefix(rp.conf.AuthCodeURL(state, opts...), c.base)
	if !ok {
		return failf("authorization endpoint %s is not on the node", rp.conf.Endpoint.AuthURL)
	}
	p, err := b.Get(rel)
	if err != nil {
		return err
	}
	if p.Status != http.StatusOK || p.URL.Path != "/login" {
		return pageFailure("authorize", p)
	}
	if p, err = b.LogonFrom(p, kind, c.set.username(i), c.set.password); err != nil {
		return err
	}
	if p, err = c.answer(b, kind, i, p); err != nil {
		return err
	}
	cb := callbackOf(p)
	if cb == nil {
		return pageFailure("back to the online service", p)
	}
	q := cb.Query()
	switch {
	case q.Get("error") != "":
		return failf("authorization response: %s", q.Get("error"))
	case q.Get("state") != state:
		return failf("authorization response: wrong state")
	case q.Get("iss") != c.base:
		return failf("authorization response: iss %q", q.Get("iss"))
	}
	ctx = oidc.ClientContext(ctx, c.hc)
	tok, err := rp.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return failf("token: %s", re.ErrorCode)
		}
		return err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return failf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		return failf("ID token: wrong nonce")
	}
	ui, err := rp.prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return failf("userinfo: %s", truncate(err.Error(), 60))
	}
	if ui.Subject != idt.Subject {
		return failf("userinfo: another subject than the ID token's")
	}
	return nil
}

// callbackOf returns where page p sends the browser at the online service — a redirect, or the
// Refresh of the page that moves on after a form — or nil.
func callbackOf(p webtest.Page) *url.URL {
	target := ""
	if loc := p.Header.Get("Location"); p.Status >= 300 && p.Status < 400 && loc != "" {
		if u, err := p.URL.Parse(loc); err == nil {
			target = u.String()
		}
	} else if ref := p.Header.Get("Refresh"); ref != "" {
		_, target, _ = strings.Cut(ref, "url=")
	}
	if !strings.HasPrefix(target, rpRedirect) {
		return nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil
	}
	return u
}
