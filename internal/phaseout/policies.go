package phaseout

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// PolicyLister reads every stored policy.
type PolicyLister interface {
	ListPhaseoutPolicies(ctx context.Context) ([]store.PhaseoutPolicy, error)
}

var _ PolicyLister = store.Store(nil)

// DefaultRefresh is how long a node keeps the policies it read: a change made on one node (or
// by `admin phaseout set`) is seen by every node within it. Policies are instants set well
// ahead; the chooser, the code step and the wizard read them on every request.
const DefaultRefresh = 10 * time.Second

// loadTimeout bounds a reload on the request path.
const loadTimeout = 2 * time.Second

// Policies is a node's view of the stored policies, read again when older than its refresh
// period. Its methods answer from that view with Decide; a failed reload keeps the last view
// (logged) rather than failing logons.
type Policies struct {
	st      PolicyLister
	clock   func() time.Time
	refresh time.Duration
	log     *slog.Logger

	mu       sync.Mutex
	byKind   map[string]Policy
	loadedAt time.Time
	loaded   bool
}

// NewPolicies returns a view over st. clock is the wall clock that ages the view (not the
// instant a caller decides for); refresh 0 reads the store on every question.
func NewPolicies(st PolicyLister, clock func() time.Time, refresh time.Duration, log *slog.Logger) *Policies {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Policies{st: st, clock: clock, refresh: refresh, log: log}
}

// Get returns the kind's policy; ok is false when it has none.
func (p *Policies) Get(kind string) (Policy, bool) {
	m := p.current()
	pol, ok := m[kind]
	return pol, ok
}

// All returns every policy, keyed by kind.
func (p *Policies) All() map[string]Policy {
	m := p.current()
	out := make(map[string]Policy, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Phase returns the kind's phase at now (Normal without a policy).
func (p *Policies) Phase(kind string, now time.Time) Phase {
	pol, ok := p.Get(kind)
	if !ok {
		return Normal
	}
	return Decide(pol, now)
}

// ActivationOpen reports whether new keys of kind may be activated at now.
func (p *Policies) ActivationOpen(kind string, now time.Time) bool {
	return p.Phase(kind, now) < ActivationClosed
}

// Disabled reports whether keys of kind are expired at now.
func (p *Policies) Disabled(kind string, now time.Time) bool {
	return p.Phase(kind, now) == Disabled
}

// Invalidate makes the next question read the store (after a change on this node).
func (p *Policies) Invalidate() {
	p.mu.Lock()
	p.loaded = false
	p.mu.Unlock()
}

// current returns the view, reloading it when stale. One caller reloads at a time; the others
// wait for it (a reload is one small query).
func (p *Policies) current() map[string]Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock()
	if p.loaded && now.Sub(p.loadedAt) < p.refresh && !now.Before(p.loadedAt) {
		return p.byKind
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	list, err := p.st.ListPhaseoutPolicies(ctx)
	if err != nil {
		p.log.Warn("read phase-out policies; keeping the last ones", "err", err)
		if p.byKind == nil {
			return map[string]Policy{}
		}
		return p.byKind
	}
	m := make(map[string]Policy, len(list))
	for _, sp := range list {
		m[sp.Kind] = FromStore(sp)
	}
	p.byKind, p.loadedAt, p.loaded = m, now, true
	return m
}
