package oidcop

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// ClientStore is the storage of client registration.
type ClientStore interface {
	CreateClient(ctx context.Context, c *store.Client) error
	GetClient(ctx context.Context, id string) (store.Client, error)
	UpdateClient(ctx context.Context, c *store.Client) error
}

// ClientSpec is an online service as the operator registers it.
type ClientSpec struct {
	ID   string
	Name string
	// RedirectURIs (at least one) and PostLogoutRedirectURIs are matched exactly: https, or
	// http on a loopback address (a developer's machine).
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Public clients (single-page and native apps) have no secret.
	Public bool
	// Scopes the client may ask (default: openid profile email).
	Scopes []string
	// DefaultLevel is asked when a request has no acr_values (default: low).
	DefaultLevel string
	// Pairwise gives the client its own subject identifier per citizen.
	Pairwise bool
}

// DefaultScopes are the scopes a client may ask unless registered otherwise.
var DefaultScopes = []string{"openid", "profile", "email"}

var clientIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// withDefaults fills the spec's defaults.
func (s ClientSpec) withDefaults() ClientSpec {
	if len(s.Scopes) == 0 {
		s.Scopes = slices.Clone(DefaultScopes)
	}
	if s.DefaultLevel == "" {
		s.DefaultLevel = keys.LevelLow.String()
	}
	return s
}

// Validate reports every problem of the spec at once.
func (s ClientSpec) Validate() error {
	var errs []error
	if !clientIDRE.MatchString(s.ID) {
		errs = append(errs, fmt.Errorf("client id %q: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", s.ID))
	}
	if n := strings.TrimSpace(s.Name); n == "" || len(n) > 100 || strings.ContainsFunc(n, unicode.IsControl) {
		errs = append(errs, fmt.Errorf("name %q: 1 to 100 characters, no control characters", s.Name))
	}
	if len(s.RedirectURIs) == 0 {
		errs = append(errs, errors.New("at least one redirect URI is needed"))
	}
	for _, u := range s.RedirectURIs {
		if err := checkClientURI(u); err != nil {
			errs = append(errs, fmt.Errorf("redirect URI %q: %w", u, err))
		}
	}
	for _, u := range s.PostLogoutRedirectURIs {
		if err := checkClientURI(u); err != nil {
			errs = append(errs, fmt.Errorf("post-logout redirect URI %q: %w", u, err))
		}
	}
	if !slices.Contains(s.Scopes, "openid") {
		errs = append(errs, errors.New("scopes: openid is required"))
	}
	for _, sc := range s.Scopes {
		if !slices.Contains(supportedScopes, sc) {
			errs = append(errs, fmt.Errorf("scope %q: want one of %s (no refresh tokens: offline_access is not offered)", sc, strings.Join(supportedScopes, ", ")))
		}
	}
	if _, err := keys.ParseLevel(s.DefaultLevel); err != nil {
		errs = append(errs, fmt.Errorf("default level: %w", err))
	}
	return errors.Join(errs...)
}

// checkClientURI accepts an absolute https URL, or http on a loopback host, without a
// fragment or user information.
func checkClientURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case len(raw) > 1024:
		return errors.New("longer than 1024 characters")
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return errors.New("want an absolute https:// URL")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return errors.New("http is only allowed for 127.0.0.1, [::1] and localhost; use https")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("a redirect URI has no fragment")
	case u.User != nil:
		return errors.New("a redirect URI has no user name or password")
	case strings.ContainsAny(raw, " \t\r\n*"):
		return errors.New("no spaces or wildcards: redirect URIs are matched exactly")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewClientSecret returns a fresh client secret: 256 random bits, base64url.
func NewClientSecret(rand io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("client secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// AddClient registers a client. A confidential client's secret is returned once: only its hash
// is stored.
func AddClient(ctx context.Context, st ClientStore, rand io.Reader, now time.Time, spec ClientSpec) (store.Client, string, error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return store.Client{}, "", err
	}
	c := store.Client{ID: spec.ID, Name: strings.TrimSpace(spec.Name), Public: spec.Public, RedirectURIs: spec.RedirectURIs,
		PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs, Scopes: spec.Scopes, DefaultLevel: spec.DefaultLevel,
		Pairwise: spec.Pairwise, CreatedAt: now, UpdatedAt: now}
	var secret string
	if !spec.Public {
		var err error
		if secret, err = NewClientSecret(rand); err != nil {
			return store.Client{}, "", err
		}
		c.SecretHash = HashSecret(secret)
	}
	if err := st.CreateClient(ctx, &c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Client{}, "", fmt.Errorf("a client with id %q is already registered", spec.ID)
		}
		return store.Client{}, "", err
	}
	return c, secret, nil
}

// RotateClientSecret gives a confidential client a new secret, returned once; the old one
// stops working at once.
func RotateClientSecret(ctx context.Context, st ClientStore, rand io.Reader, now time.Time, id string) (string, error) {
	c, err := st.GetClient(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", fmt.Errorf("client %q is public: it has no secret", id)
	}
	secret, err := NewClientSecret(rand)
	if err != nil {
		return "", err
	}
	c.SecretHash, c.UpdatedAt = HashSecret(secret), now
	if err := st.UpdateClient(ctx, &c); err != nil {
		return "", err
	}
	return secret, nil
}

// PutClient registers spec with the given secret, or updates the client with its ID to match:
// for a client the node itself configures (the demo online service), idempotently.
func PutClient(ctx context.Context, st ClientStore, now time.Time, spec ClientSpec, secret string) error {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return err
	}
	c := store.Client{ID: spec.ID, Name: spec.Name, Public: spec.Public, RedirectURIs: spec.RedirectURIs,
		PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs, Scopes: spec.Scopes, DefaultLevel: spec.DefaultLevel,
		Pairwise: spec.Pairwise, CreatedAt: now, UpdatedAt: now}
	if !spec.Public {
		c.SecretHash = HashSecret(secret)
	}
	err := st.UpdateClient(ctx, &c)
	if errors.Is(err, store.ErrNotFound) {
		err = st.CreateClient(ctx, &c)
		if errors.Is(err, store.ErrConflict) { // another node created it at the same moment
			err = st.UpdateClient(ctx, &c)
		}
	}
	if err != nil {
		return fmt.Errorf("register client %s: %w", spec.ID, err)
	}
	return nil
}
