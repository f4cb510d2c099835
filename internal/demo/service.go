package demo

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
)

// The demo online service: a relying party of this very Sleutelbos, served by `serve --demo`
// under ServicePath, so a newcomer sees the whole round trip — the service, "Log on", a key,
// back at the service with the ID token's claims, a step-up to a higher level, and logging out.
// It uses the same libraries an online service written in Go would (go-oidc and x/oauth2), and
// reaches the provider's endpoints in-process, so it works behind any proxy.

// ServicePath is where the demo online service is served.
const ServicePath = "/demo-service/"

// ClientID is the demo online service's client id.
const ClientID = "demo-service"

// EIDAS level URIs the demo asks with.
const (
	acrLow         = "http://eidas.europa.eu/LoA/low"
	acrSubstantial = "http://eidas.europa.eu/LoA/substantial"
)

// maxSessions bounds the demo's in-memory sessions.
const maxSessions = 10000

//go:embed templates/service.html
var serviceTemplates embed.FS

// ClientSecret derives the demo client's secret from the node's hash key, so every node and
// every restart agree without storing it anywhere.
func ClientSecret(h *secrets.Hasher) string {
	return base64.RawURLEncoding.EncodeToString(h.Sum("demo.client-secret"))
}

// ClientSpec is the demo online service's registration for a node at base.
func ClientSpec(base string) oidcop.ClientSpec {
	return oidcop.ClientSpec{
		ID: ClientID, Name: "Demo online service",
		RedirectURIs:           []string{base + ServicePath + "callback"},
		PostLogoutRedirectURIs: []string{base + ServicePath},
		DefaultLevel:           "low",
	}
}

// ServiceConfig configures the demo online service.
type ServiceConfig struct {
	// Issuer is the provider's issuer (the node's base URL).
	Issuer       string
	ClientSecret string
	Bundle       *i18n.Bundle
	// Backend serves the provider's endpoints in-process (the node's handler); it is read at
	// the first logon, so it may be set after the service is built.
	Backend func() http.Handler
	Now     func() time.Time
	Rand    io.Reader
	Log     *slog.Logger
}

// Service is the demo online service. It is safe for concurrent use.
type Service struct {
	cfg  ServiceConfig
	page *template.Template

	mu       sync.Mutex
	provider *oidc.Provider
	sessions map[string]*rpSession
}

// rpSession is one browser at the demo service: a logon in progress and what it gave.
type rpSession struct {
	created time.Time
	// The logon in progress.
	state, nonce, verifier string
	// The citizen, once logged on.
	idToken string
	claims  map[string]any
	info    map[string]any
}

// NewService returns the demo online service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Issuer == "" || cfg.ClientSecret == "" || cfg.Bundle == nil || cfg.Backend == nil || cfg.Now == nil || cfg.Rand == nil {
		return nil, errors.New("demo service: every setting must be set")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	page, err := template.ParseFS(serviceTemplates, "templates/service.html")
	if err != nil {
		return nil, fmt.Errorf("demo service: %w", err)
	}
	return &Service{cfg: cfg, page: page, sessions: map[string]*rpSession{}}, nil
}

func (s *Service) oauth2Config(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: ClientID, ClientSecret: s.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.cfg.Issuer + ServicePath + "callback",
		Scopes:      []string{oidc.ScopeOpenID, "profile", "email"},
	}
}

// client is the HTTP client that reaches the provider in-process.
func (s *Service) client() *http.Client {
	return &http.Client{Transport: handlerTransport{s.cfg.Backend()}, Timeout: 30 * time.Second}
}

// oidcProvider discovers the provider once.
func (s *Service) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider != nil {
		return s.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), s.client()), s.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("demo service: discovery: %w", err)
	}
	s.provider = p
	return p, nil
}

// ServeHTTP serves the demo online service under ServicePath.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var err error
	switch r.URL.Path {
	case ServicePath:
		err = s.home(w, r, "")
	case ServicePath + "login":
		err = s.login(w, r)
	case ServicePath + "callback":
		err = s.callback(w, r)
	case ServicePath + "logout":
		err = s.logout(w, r)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.cfg.Log.ErrorContext(r.Context(), "demo service", "path", r.URL.Path, "err", err)
		_ = s.home(w, r, "demo.service.error.internal")
	}
}

const sessionCookie = "demo_service"

// session returns the browser's demo session, making one when create is set.
func (s *Service) session(w http.ResponseWriter, r *http.Request, create bool) (*rpSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, ok := s.sessions[c.Value]; ok {
			return sess, nil
		}
	}
	if !create {
		return nil, nil
	}
	now := s.cfg.Now()
	if len(s.sessions) >= maxSessions {
		for id, old := range s.sessions {
			if now.Sub(old.created) > time.Hour || len(s.sessions) >= maxSessions {
				delete(s.sessions, id)
			}
		}
	}
	id, err := s.random()
	if err != nil {
		return nil, err
	}
	sess := &rpSession{created: now}
	s.sessions[id] = sess
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: ServicePath, HttpOnly: true,
		Secure: strings.HasPrefix(s.cfg.Issuer, "https://"), SameSite: http.SameSiteLaxMode})
	return sess, nil
}

func (s *Service) random() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// lang is the page's language: ?lang=, then the site's language cookie, then the browser's.
func (s *Service) lang(r *http.Request) string {
	cookie := ""
	if c, err := r.Cookie("lang"); err == nil {
		cookie = c.Value
	}
	return s.cfg.Bundle.Negotiate(r.URL.Query().Get("lang"), cookie, "", r.Header.Get("Accept-Language"))
}

// login starts a logon at the level asked (?level=substantial steps up).
func (s *Service) login(w http.ResponseWriter, r *http.Request) error {
	p, err := s.oidcProvider(r.Context())
	if err != nil {
		return err
	}
	sess, err := s.session(w, r, true)
	if err != nil {
		return err
	}
	acr := acrLow
	if r.URL.Query().Get("level") == "substantial" {
		acr = acrSubstantial
	}
	state, err := s.random()
	if err != nil {
		return err
	}
	nonce, err := s.random()
	if err != nil {
		return err
	}
	s.mu.Lock()
	sess.state, sess.nonce, sess.verifier = state, nonce, oauth2.GenerateVerifier()
	verifier := sess.verifier
	s.mu.Unlock()
	target := s.oauth2Config(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("acr_values", acr), oauth2.SetAuthURLParam("ui_locales", s.lang(r)))
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// callback receives the provider's answer, exchanges the code and verifies the ID token.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	sess, err := s.session(w, r, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	var state, nonce, verifier string
	if sess != nil {
		state, nonce, verifier = sess.state, sess.nonce, sess.verifier
		sess.state, sess.nonce, sess.verifier = "", "", "" // one answer per logon
	}
	s.mu.Unlock()
	if state == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return s.home(w, r, "demo.service.error.state")
	}
	if q.Get("iss") != "" && q.Get("iss") != s.cfg.Issuer {
		return s.home(w, r, "demo.service.error.state")
	}
	if e := q.Get("error"); e != "" {
		return s.home(w, r, "demo.service.error.refused", e, q.Get("error_description"))
	}
	p, err := s.oidcProvider(r.Context())
	if err != nil {
		return err
	}
	ctx := oidc.ClientContext(r.Context(), s.client())
	tok, err := s.oauth2Config(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: ClientID, Now: s.cfg.Now}).Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("verify the ID token: %w", err)
	}
	if idt.Nonce != nonce {
		return s.home(w, r, "demo.service.error.state")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return err
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	var info map[string]any
	if err := ui.Claims(&info); err != nil {
		return err
	}
	s.mu.Lock()
	sess.idToken, sess.claims, sess.info = raw, claims, info
	s.mu.Unlock()
	http.Redirect(w, r, ServicePath, http.StatusSeeOther)
	return nil
}

// logout forgets the citizen here and asks the provider to end the Sleutelbos session too.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.session(w, r, false)
	if err != nil {
		return err
	}
	v := url.Values{"client_id": {ClientID}, "post_logout_redirect_uri": {s.cfg.Issuer + ServicePath}}
	if sess != nil {
		s.mu.Lock()
		if sess.idToken != "" {
			v.Set("id_token_hint", sess.idToken)
		}
		sess.idToken, sess.claims, sess.info = "", nil, nil
		s.mu.Unlock()
	}
	http.Redirect(w, r, s.cfg.Issuer+oidcop.EndSessionPath+"?"+v.Encode(), http.StatusFound)
	return nil
}

// claimRow is one line of the claims table.
type claimRow struct{ Name, Value string }

type servicePage struct {
	Lang, Title string
	T           func(key string, args ...any) string
	LoggedOn    bool
	Name        string
	Level       string
	CanStepUp   bool
	IDToken     []claimRow
	Userinfo    []claimRow
	Error       string
	Langs       []string
}

// home shows the service: a "Log on" button, or who logged on and how, with the step-up and
// logout buttons. errKey (and its args) is a message to show.
func (s *Service) home(w http.ResponseWriter, r *http.Request, errKey string, args ...any) error {
	sess, err := s.session(w, r, false)
	if err != nil {
		return err
	}
	pr := s.cfg.Bundle.Printer(s.lang(r))
	pg := &servicePage{Lang: pr.Lang(), T: pr.T, Langs: i18n.Languages()}
	pg.Title = pr.T("demo.service.title")
	if errKey != "" {
		pg.Error = pr.T(errKey, args...)
	}
	s.mu.Lock()
	if sess != nil && sess.claims != nil {
		pg.LoggedOn = true
		pg.IDToken, pg.Userinfo = rows(sess.claims), rows(sess.info)
		pg.Name, _ = sess.info["name"].(string)
		acr, _ := sess.claims["acr"].(string)
		pg.Level = acr
		pg.CanStepUp = acr != acrSubstantial
	}
	s.mu.Unlock()
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, pg); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusOK
	if errKey == "demo.service.error.internal" {
		status = http.StatusBadGateway
	}
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// rows lists claims sorted by name, times as dates.
func rows(m map[string]any) []claimRow {
	out := make([]claimRow, 0, len(m))
	for k, v := range m {
		val := fmt.Sprint(v)
		switch k {
		case "auth_time", "iat", "exp":
			if f, ok := v.(float64); ok {
				val = fmt.Sprintf("%.0f (%s)", f, time.Unix(int64(f), 0).UTC().Format(time.RFC3339))
			}
		}
		out = append(out, claimRow{k, val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// handlerTransport serves requests with a handler in-process: the demo service reaches the
// provider without a network round trip, whatever the public URL is.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:0"
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, sreq)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)), StatusCode: rec.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: rec.header,
		Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

// recorder is the ResponseWriter of handlerTransport.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
