package portal

import "github.com/sleutelbos/sleutelbos/internal/keys"

// KindInfo is one key kind on the Info page.
type KindInfo struct {
	Kind  string
	Level keys.Level
	// ActivationOpen: citizens may activate a new key of this kind now.
	ActivationOpen bool
	// PhaseOut holds the dates when the kind is being phased out, else nil.
	PhaseOut *PhaseOut
}

// Info describes every enabled kind, in registration order.
func (s *Service) Info() []KindInfo {
	now := s.now()
	var out []KindInfo
	for _, k := range s.kinds.All() {
		_, enroller := k.(keys.Enroller)
		ki := KindInfo{Kind: k.Name(), Level: k.Level(), ActivationOpen: enroller && s.policy.ActivationOpen(k.Name(), now)}
		if p, ok := s.policy.PhaseOut(k.Name()); ok {
			ki.PhaseOut = &p
		}
		out = append(out, ki)
	}
	return out
}
