package helpdesk

import (
	"context"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// ObstacleMailBounced: the last code e-mail to the citizen failed for good (an e-mail code
// key's logon cannot succeed while codes do not arrive). It is the console's, not the logon's:
// the logon does not know whether an e-mail arrived.
const ObstacleMailBounced login.Obstacle = "mail_bounced"

// Reason is one obstacle in plain words, with what would fix it.
type Reason struct {
	Obstacle login.Obstacle
	Message  *i18n.LocalizedError
	Fix      *i18n.LocalizedError
	// Action is the console action that fixes it ("" when none does), on KeyID or MessageID.
	Action    string
	KeyID     int64
	MessageID int64
}

// Explanation says why a logon of a citizen with a kind at a level fails now.
type Explanation struct {
	Kind  string
	Level keys.Level
	// Reasons are the obstacles in the order the logon meets them; none: it goes through.
	Reasons []Reason
}

// OK reports whether nothing stops the logon.
func (e Explanation) OK() bool { return len(e.Reasons) == 0 }

// Kinds lists the kinds the console can explain, in the registry's order.
func (s *Service) Kinds() []string {
	var out []string
	for _, k := range s.d.Kinds.Meeting(keys.LevelLow) {
		out = append(out, k.Name())
	}
	return out
}

// FormatInstant is how the console writes an instant: its date and time of day in loc, with
// the zone's offset ("2026-12-02 12:40 UTC+01:00", "2026-07-01 09:05 UTC"), so an agent on the
// phone with a citizen elsewhere, or reading the audit log in UTC, never guesses the zone. The
// zero time is "—".
func FormatInstant(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(loc)
	s := t.Format("2006-01-02 15:04") + " UTC"
	if _, offset := t.Zone(); offset != 0 {
		s += t.Format("-07:00")
	}
	return s
}

// at is FormatInstant in the console's time zone.
func (s *Service) at(t time.Time) string { return FormatInstant(t, s.cfg.Location) }

// Explain says why the citizen accountID cannot log on with kind at level now, from
// login.Service.Diagnose — the logon's own rules — with the phase-out date and a bounced code
// e-mail added. ErrNotFound for a forged citizen.
func (s *Service) Explain(ctx context.Context, accountID int64, kind string, level keys.Level) (Explanation, error) {
	acct, err := s.citizen(ctx, accountID)
	if err != nil {
		return Explanation{}, err
	}
	d, err := s.d.Logons.Diagnose(ctx, acct.ID, kind, level)
	if err != nil {
		return Explanation{}, fmt.Errorf("explain: %w", err)
	}
	e := Explanation{Kind: kind, Level: d.Level}
	name := i18n.Msg("key." + kind + ".short")
	lvl := i18n.Msg("helpdesk.level." + d.Level.String())
	for _, f := range d.Findings {
		r := Reason{Obstacle: f.Obstacle, KeyID: f.Key.ID}
		switch f.Obstacle {
		case login.ObstacleKindUnknown:
			r.Message, r.Fix = i18n.NewError("helpdesk.explain.kind_unknown"), i18n.NewError("helpdesk.fix.kind_unknown")
		case login.ObstacleBelowLevel:
			r.Message = i18n.NewError("helpdesk.explain.below_level", name, lvl)
			// The kinds the logon's chooser offers at the level, not a list written here: at
			// level high none of today's kinds reach it, and the fix must not name them.
			var reaching i18n.Alternatives
			for _, k := range f.Kinds {
				reaching = append(reaching, i18n.Msg("key."+k+".short"))
			}
			if len(reaching) == 0 {
				r.Fix = i18n.NewError("helpdesk.fix.below_level_none", lvl)
			} else {
				r.Fix = i18n.NewError("helpdesk.fix.below_level", lvl, reaching)
			}
		case login.ObstacleNotOffered:
			r.Message = i18n.NewError("helpdesk.explain.not_offered", name)
			if s.d.PhaseOuts != nil {
				if p, ok := s.d.PhaseOuts.Get(kind); ok && !p.DisabledFrom.IsZero() {
					r.Message = i18n.NewError("helpdesk.explain.phased_out", name, s.at(p.DisabledFrom))
				}
			}
			r.Fix = i18n.NewError("helpdesk.fix.not_offered")
		case login.ObstaclePasswordThrottled:
			r.Message = i18n.NewError("helpdesk.explain.password_throttled", s.at(f.Until), f.Failures)
			r.Fix, r.Action = i18n.NewError("helpdesk.fix.password_throttled", s.at(f.Until)), ActionLiftPassword
		case login.ObstacleNoPassword:
			r.Message, r.Fix = i18n.NewError("helpdesk.explain.no_password"), i18n.NewError("helpdesk.fix.no_password")
		case login.ObstacleNoKey:
			r.Message, r.Fix = i18n.NewError("helpdesk.explain.no_key", name), i18n.NewError("helpdesk.fix.no_key", name)
		case login.ObstacleKeyLocked:
			r.Message = i18n.NewError("helpdesk.explain.key_locked", name, s.at(f.Key.DeactivatedAt), f.Failures)
			r.Fix, r.Action = i18n.NewError("helpdesk.fix.key_locked"), ActionUnlock
		case login.ObstacleCodeThrottled:
			r.Message = i18n.NewError("helpdesk.explain.code_throttled", name, s.at(f.Until), f.Failures)
			r.Fix, r.Action = i18n.NewError("helpdesk.fix.code_throttled", s.at(f.Until)), ActionLiftCode
		default:
			r.Message, r.Fix = i18n.NewError("helpdesk.explain.kind_unknown"), i18n.NewError("helpdesk.fix.kind_unknown")
		}
		e.Reasons = append(e.Reasons, r)
	}
	if kind == keys.EmailCode && !d.Has(login.ObstacleNoKey) {
		bounced, err := s.lastCodeBounced(ctx, acct.ID)
		if err != nil {
			return Explanation{}, err
		}
		if bounced.ID != 0 {
			e.Reasons = append(e.Reasons, Reason{Obstacle: ObstacleMailBounced, MessageID: bounced.ID, Action: ActionResend,
				Message: i18n.NewError("helpdesk.explain.mail_bounced", s.at(bounced.CreatedAt), bounced.LastError),
				Fix:     i18n.NewError("helpdesk.fix.mail_bounced")})
		}
	}
	return e, nil
}

// lastCodeBounced returns the newest logon code e-mail to the account when it failed for
// good, or a zero Message.
func (s *Service) lastCodeBounced(ctx context.Context, accountID int64) (store.Message, error) {
	ms, err := s.d.Store.RecentAccountMessages(ctx, accountID, mail.TemplateLogonCode, 1)
	if err != nil {
		return store.Message{}, fmt.Errorf("explain: %w", err)
	}
	if len(ms) == 1 && ms[0].State == store.MessageFailed {
		return ms[0], nil
	}
	return store.Message{}, nil
}
