package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/campaign"
	"github.com/sleutelbos/sleutelbos/internal/helpdesk"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Defaults applied by New to zero Config values.
const (
	DefaultMaxBodyBytes    = 64 << 10
	DefaultSessionIdle     = 15 * time.Minute
	DefaultSessionAbsolute = 8 * time.Hour
)

// Config is the web layer's configuration, filled by the composition root. Zero durations and
// sizes take the defaults above.
type Config struct {
	// ServiceName is shown in the header and the page titles.
	ServiceName string
	// BaseURL is the public URL (https://login.example.be). Its origin is trusted for POSTs
	// even when a proxy rewrites the Host header.
	BaseURL string
	// Secure marks cookies Secure and sends HSTS; set it when BaseURL is https.
	Secure bool
	// TrustProxy makes the client IP the last X-Forwarded-For entry (the one our proxy added)
	// instead of the connection's address. Set it only behind a proxy that sets the header.
	TrustProxy bool
	// MaxBodyBytes bounds every request body (default 64 KiB).
	MaxBodyBytes int64
	// SessionIdle ends a session not used for this long (default 15 minutes).
	SessionIdle time.Duration
	// SessionAbsolute ends a session this long after logon (default 8 hours).
	SessionAbsolute time.Duration
	// DevMailbox mounts Deps.Mailbox at /dev/mailbox; otherwise that path is 404.
	DevMailbox bool
	// DefaultLanguage is used when a request names no language the service speaks; empty
	// means the Bundle's fallback.
	DefaultLanguage string
	// Operator is how citizens reach the helpdesk (the help page, the footer, pages where a
	// logon cannot go on); any part may be empty.
	Operator Contact
	// PrivacyURL and AccessibilityURL are linked from every page's footer (an absolute URL or
	// a path on this site, checked by config); empty means no link.
	PrivacyURL, AccessibilityURL string
	// Location is the time zone dates are shown in (default Europe/Brussels).
	Location *time.Location
	// Registration offers "Create an account" (Deps.Signup); off, /register is a 404 and the
	// logon page has no link to it.
	Registration bool
	// HashingRequests bounds the requests in a password-hashing step at once (default
	// DefaultHashingRequests); more are answered 503 with Retry-After.
	HashingRequests int
}

// Contact is how to reach the operator's helpdesk.
type Contact struct {
	Email, Phone, URL string
}

// Store is the storage the web layer uses itself: sessions (rotated in a transaction), the
// logged-on citizen's account, and a ping for /readyz. Logons go through Deps.Login.
type Store interface {
	sessionStore
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	Ping(ctx context.Context) error
}

var _ Store = store.Store(nil)

// StartQuota limits how many logons (each a new pre-logon session row) one client address may
// start in a window of time (attempts.Quota). Take returns an *attempts.ThrottledError when the
// address has started its share.
type StartQuota interface {
	Take(ctx context.Context, scope attempts.Scope) error
	// Return gives back a start taken at takenAt, once its logon completed: the quota bounds
	// the logons left open, not those an address completes.
	Return(ctx context.Context, scope attempts.Scope, takenAt time.Time) error
}

// Deps are the collaborators of the web layer.
type Deps struct {
	Store  Store
	Bundle *i18n.Bundle
	Login  *login.Service
	Portal *portal.Service
	Keys   *keys.Registry
	// StartQuota bounds the pre-logon sessions one address creates.
	StartQuota StartQuota
	// Now is the clock (time.Now in production, fixed in tests).
	Now func() time.Time
	// Rand is the source of session ids and CSRF cookies (crypto/rand.Reader in production).
	Rand io.Reader
	// CSRFKey is the key of the CSRF tokens' HMAC. Every node of a cluster needs the same one
	// (the composition root derives it from the hash key); empty means a random key of this
	// process, which only suits a single node.
	CSRFKey []byte
	// DeviceKey signs the device cookies of browsers that logged a citizen on (the hash key's
	// keyed hash; the cookies use a domain of their own).
	DeviceKey *secrets.Hasher
	Log       *slog.Logger
	// Mailbox is the development mailbox, mounted only when Config.DevMailbox is set.
	Mailbox http.Handler
	// OIDC is the OpenID provider; nil leaves its endpoints unmounted.
	OIDC OIDCProvider
	// DemoService is the demo online service, mounted at DemoServicePath when set.
	DemoService http.Handler
	// Signup runs self-registrations; needed when Config.Registration is set.
	Signup *signup.Service
	// Requests, when set, is told every request's route, method, status and duration.
	Requests RequestObserver
	// Policies are the phase-out policies, for the dates the pop-up names (nil: none).
	Policies PolicySource
	// Recovery runs the forgotten username and password pages; nil leaves them a 404.
	Recovery *recovery.Service
	// Campaigns and Roles serve the operator pages (operator.go); without them /operator/…
	// is a 404.
	Campaigns *campaign.Service
	Roles     Roles
	// Helpdesk serves the helpdesk console (helpdesk.go), with Roles; without it /helpdesk/…
	// is a 404.
	Helpdesk *helpdesk.Service
}

// RequestObserver watches the requests served (internal/metrics implements it). route is
// the pattern that served the request, empty for none.
type RequestObserver interface {
	ObserveRequest(route, method string, code int, d time.Duration)
}

// PolicySource returns a key kind's phase-out policy (phaseout.Policies).
type PolicySource interface {
	Get(kind string) (phaseout.Policy, bool)
}

// DemoServicePath is where the demo online service lives (serve --demo).
const DemoServicePath = "/demo-service/"

// Server is the citizen-facing web application. It is safe for concurrent use.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	pages   *pageSet
	static  *staticFiles
	cookies cookieNames
	csrfKey []byte
	// hashing holds a place per request in a password-hashing step (admitHashing).
	hashing  chan struct{}
	sessions *sessionManager
	devices  *deviceCookies
	origins  *http.CrossOriginProtection
	handler  http.Handler
	// patterns are the application routes as registered (tests check each one's guard).
	patterns []string
}

// New validates cfg, parses every template and builds the routes.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkDeps(cfg, deps); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Log, cookies: newCookieNames(cfg.Secure), csrfKey: deps.CSRFKey,
		hashing: make(chan struct{}, cfg.HashingRequests)}
	if len(s.csrfKey) == 0 {
		s.csrfKey = make([]byte, csrfKeyBytes)
		if _, err := io.ReadFull(deps.Rand, s.csrfKey); err != nil {
			return nil, fmt.Errorf("web: csrf key: %w", err)
		}
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.static, err = newStaticFiles(); err != nil {
		return nil, err
	}
	s.sessions = &sessionManager{
		store:    deps.Store,
		now:      deps.Now,
		rand:     deps.Rand,
		idle:     cfg.SessionIdle,
		absolute: cfg.SessionAbsolute,
		secure:   cfg.Secure,
		cookie:   s.cookies.session,
	}
	s.devices = &deviceCookies{key: deps.DeviceKey, now: deps.Now, rand: deps.Rand, name: s.cookies.device, secure: cfg.Secure}
	s.origins = http.NewCrossOriginProtection()
	if cfg.BaseURL != "" {
		u, _ := url.Parse(cfg.BaseURL) // checked in withDefaults
		if err := s.origins.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("web: trusted origin: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

func withDefaults(cfg Config) (Config, error) {
	var errs []error
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.HashingRequests == 0 {
		cfg.HashingRequests = DefaultHashingRequests
	}
	if cfg.HashingRequests < 0 {
		errs = append(errs, fmt.Errorf("hashing requests %d: must be positive", cfg.HashingRequests))
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionAbsolute == 0 {
		cfg.SessionAbsolute = DefaultSessionAbsolute
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "Sleutelbos"
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/Brussels")
		if err != nil {
			errs = append(errs, fmt.Errorf("no Location given and Europe/Brussels is unknown: %w", err))
		}
		cfg.Location = loc
	}
	if cfg.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body bytes %d: must be positive", cfg.MaxBodyBytes))
	}
	if cfg.SessionIdle < 0 || cfg.SessionAbsolute < 0 {
		errs = append(errs, fmt.Errorf("session timeouts %s/%s: must be positive", cfg.SessionIdle, cfg.SessionAbsolute))
	}
	if cfg.DefaultLanguage != "" && !i18n.Supported(cfg.DefaultLanguage) {
		errs = append(errs, fmt.Errorf("default language %q: not one of %v", cfg.DefaultLanguage, i18n.Languages()))
	}
	if cfg.BaseURL != "" {
		if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("base URL %q: want http(s)://host[:port]", cfg.BaseURL))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("web: %w", err)
	}
	return cfg, nil
}

func checkDeps(cfg Config, d Deps) error {
	var missing []string
	if d.Store == nil {
		missing = append(missing, "Store")
	}
	if d.Bundle == nil {
		missing = append(missing, "Bundle")
	}
	if d.Login == nil {
		missing = append(missing, "Login")
	}
	if d.Portal == nil {
		missing = append(missing, "Portal")
	}
	if d.Keys == nil {
		missing = append(missing, "Keys")
	}
	if d.StartQuota == nil {
		missing = append(missing, "StartQuota")
	}
	if d.Now == nil {
		missing = append(missing, "Now")
	}
	if d.Rand == nil {
		missing = append(missing, "Rand")
	}
	if d.DeviceKey == nil {
		missing = append(missing, "DeviceKey")
	}
	if d.Log == nil {
		missing = append(missing, "Log")
	}
	if cfg.Registration && d.Signup == nil {
		missing = append(missing, "Signup (Registration is set)")
	}
	if cfg.DevMailbox && d.Mailbox == nil {
		missing = append(missing, "Mailbox (DevMailbox is set)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("web: missing dependencies: %v", missing)
	}
	return nil
}

// Language returns the language the site answers r in (?lang=, cookie, Accept-Language, the
// default), for handlers mounted beside the site such as the development mailbox.
func (s *Server) Language(r *http.Request) string { return s.lang(r) }

// ErrorPage writes the site's localised error page for status, for handlers mounted beside the
// site such as the development mailbox.
func (s *Server) ErrorPage(w http.ResponseWriter, r *http.Request, status int) {
	s.renderError(w, r, status, "")
}

// Handler returns the root handler of the site.
func (s *Server) Handler() http.Handler { return s.handler }

// ServeHTTP serves a request; a Server is itself an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SweepSessions deletes the sessions past their idle or absolute timeout. The composition root
// calls it periodically; expired sessions are also refused (and deleted) when read.
func (s *Server) SweepSessions(ctx context.Context) error {
	n, err := s.sessions.sweep(ctx)
	if err != nil {
		return fmt.Errorf("sweep sessions: %w", err)
	}
	if n > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "swept sessions", slog.Int64("deleted", n))
	}
	return nil
}
