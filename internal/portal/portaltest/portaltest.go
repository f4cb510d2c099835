// Package portaltest builds, for tests, My digital keys over a logintest.World: the same
// store, clock, key kinds and mail composer as the logon service, with the attempt limits of
// production. The portal and web tests share it.
package portaltest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// New returns a portal Service over w's parts; mod, when non-nil, changes the configuration
// first.
func New(t testing.TB, w *logintest.World, mod func(*portal.Config)) *portal.Service {
	t.Helper()
	return NewWithPolicy(t, w, mod, nil)
}

// NewWithPolicy is New with a kind policy (nil: portal.AllOpen).
func NewWithPolicy(t testing.TB, w *logintest.World, mod func(*portal.Config), policy portal.KindPolicy) *portal.Service {
	t.Helper()
	cfg := portal.DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	svc, err := portal.New(cfg, portal.Deps{
		Store: w.Store, Kinds: w.Kinds, Codes: w.EmailCode, Mailer: w.Mail,
		Limiter:   attempts.New(w.Store, attempts.DefaultPolicy(), w.Clock.Now),
		IPLimiter: attempts.New(w.Store, attempts.Policy{Threshold: 1000, Base: time.Minute, Max: time.Hour}, w.Clock.Now),
		Audit:     w.Audit, Policy: policy, Now: w.Clock.Now, Rand: rand.Reader,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
