package keys

import (
	"fmt"
	"sort"
)

// Registry holds the enabled key kinds by name.
type Registry struct {
	kinds map[string]Kind
	order []string
}

// NewRegistry builds a registry; names must be unique.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	r := &Registry{kinds: make(map[string]Kind)}
	for _, k := range kinds {
		if _, dup := r.kinds[k.Name()]; dup {
			return nil, fmt.Errorf("key registry: kind %q registered twice", k.Name())
		}
		r.kinds[k.Name()] = k
		r.order = append(r.order, k.Name())
	}
	return r, nil
}

// Get returns the kind called name.
func (r *Registry) Get(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// All returns every kind in registration order.
func (r *Registry) All() []Kind {
	out := make([]Kind, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.kinds[n])
	}
	return out
}

// Meeting returns the kinds whose level is at least min, strongest last, keeping registration
// order within a level.
func (r *Registry) Meeting(min Level) []Kind {
	var out []Kind
	for _, k := range r.All() {
		if k.Level().Meets(min) {
			out = append(out, k)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Level() < out[j].Level() })
	return out
}
