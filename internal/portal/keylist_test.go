package portal_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

func TestKeyList(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil, nil)
		ctx := f.ctx()
		app, mailKey := f.keyOf(keys.TOTP), f.keyOf(keys.EmailCode)
		if _, err := db.TransitionKey(ctx, app.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.w.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		f.must("touch", db.TouchKey(ctx, mailKey.ID, f.w.Clock.Now()))
		list, err := f.svc.Keys(ctx, f.acct)
		f.must("keys", err)
		if len(list) != 4 || list[0].Kind != keys.Password || list[0].ID != 0 || list[0].Status != portal.StatusActive || list[0].CanDeactivate {
			t.Fatalf("list %+v: want the password first, not deactivatable", list)
		}
		byKind := map[string]portal.KeyView{}
		for _, v := range list[1:] {
			byKind[v.Kind] = v
		}
		if v := byKind[keys.TOTP]; v.Status != portal.StatusLocked || v.Cause != keys.CauseLockout || !v.CanReactivate || v.CanDeactivate {
			t.Errorf("locked app key %+v", v)
		}
		if v := byKind[keys.EmailCode]; v.Status != portal.StatusActive || v.LastUsedAt.IsZero() || v.LastKey || v.Level != keys.LevelSubstantial {
			t.Errorf("e-mail key %+v", v)
		}
	})
}

// disabledPolicy switches one kind off: its keys are expired.
type disabledPolicy struct {
	portal.AllOpen
	off string
}

func (p disabledPolicy) Disabled(kind string, _ time.Time) bool { return kind == p.off }

func TestStatusOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	off := disabledPolicy{off: keys.TokenCard}
	for _, tt := range []struct {
		kind   string
		status store.KeyStatus
		policy portal.KindPolicy
		want   portal.Status
	}{
		{keys.TOTP, store.KeyActive, portal.AllOpen{}, portal.StatusActive},
		{keys.TOTP, store.KeyLocked, portal.AllOpen{}, portal.StatusLocked},
		{keys.TOTP, store.KeyDeactivated, portal.AllOpen{}, portal.StatusDeactivated},
		{keys.TOTP, store.KeyExpired, portal.AllOpen{}, portal.StatusExpired},
		{keys.TokenCard, store.KeyActive, off, portal.StatusExpired},
		{keys.TokenCard, store.KeyLocked, off, portal.StatusExpired},
		{keys.TokenCard, store.KeyDeactivated, off, portal.StatusDeactivated},
		{keys.TOTP, store.KeyActive, off, portal.StatusActive},
	} {
		if got := portal.StatusOf(store.Key{Kind: tt.kind, Status: tt.status}, tt.policy, now); got != tt.want {
			t.Errorf("%s %s under %T: %s, want %s", tt.kind, tt.status, tt.policy, got, tt.want)
		}
	}
}

func TestDeactivate(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard, keys.EmailCode}, nil)
		auth := f.auth(keys.LevelSubstantial)
		card, mailKey := f.keyOf(keys.TokenCard), f.keyOf(keys.EmailCode)
		f.must("deactivate", f.svc.Deactivate(f.ctx(), f.acct, auth, card.ID, f.c))
		card = f.keyOf(keys.TokenCard)
		if card.Status != store.KeyDeactivated || card.DeactivationCause != keys.CauseCitizen || !card.DeactivatedAt.Equal(f.w.Clock.Now()) {
			t.Errorf("deactivated card %+v", card)
		}
		if ms := f.mails(mail.TemplateKeyDeactivated, "anna@example.org"); len(ms) != 1 || ms[0].Language != "fr" {
			t.Errorf("deactivation e-mails %+v", ms)
		}
		if es := f.events(audit.KeyDeactivated); len(es) != 1 || es[0].Detail["cause"] != keys.CauseCitizen || es[0].KeyID != card.ID {
			t.Errorf("events %+v", es)
		}
		// Again: not active.
		if err := f.svc.Deactivate(f.ctx(), f.acct, auth, card.ID, f.c); !errors.Is(err, portal.ErrNotActive) {
			t.Errorf("deactivate twice: %v", err)
		}
		// The last substantial key: refused with an explanation, nothing changed.
		err := f.svc.Deactivate(f.ctx(), f.acct, auth, mailKey.ID, f.c)
		if !errors.Is(err, portal.LastKeyError(keys.EmailCode)) {
			t.Errorf("deactivate the last substantial key: %v", err)
		}
		if f.keyOf(keys.EmailCode).Status != store.KeyActive || len(f.mails(mail.TemplateKeyDeactivated, "anna@example.org")) != 1 {
			t.Error("the refused deactivation changed something")
		}
		list, _ := f.svc.Keys(f.ctx(), f.acct)
		for _, v := range list {
			if v.ID == mailKey.ID && !v.LastKey {
				t.Errorf("the list does not mark %+v as the last key", v)
			}
		}
	})
}

func TestForgedKeyID(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard, keys.EmailCode}, nil)
		other := logintest.New(t, db, logintest.Options{Citizen: logintest.Citizen{Username: "bert", Name: "Bert", Email: "bert@example.org",
			Language: "nl", Password: "another good password"}})
		var theirs store.Key
		ks, _ := db.ListKeys(f.ctx(), other.Account.ID)
		theirs = ks[0]
		auth := f.auth(keys.LevelSubstantial)
		for name, id := range map[string]int64{"another citizen's key": theirs.ID, "no such key": 99999} {
			if err := f.svc.Deactivate(f.ctx(), f.acct, auth, id, f.c); !errors.Is(err, portal.ErrNoSuchKey) {
				t.Errorf("deactivate %s: %v", name, err)
			}
			if err := f.svc.Reactivate(f.ctx(), f.acct, auth, id, f.c); !errors.Is(err, portal.ErrNoSuchKey) {
				t.Errorf("reactivate %s: %v", name, err)
			}
			if _, err := f.svc.Key(f.ctx(), f.acct, id, f.c); !errors.Is(err, portal.ErrNoSuchKey) {
				t.Errorf("look up %s: %v", name, err)
			}
		}
		if k, _ := db.GetKey(f.ctx(), theirs.ID); k.Status != store.KeyActive {
			t.Errorf("the other citizen's key was changed: %+v", k)
		}
		// The first five are recorded one by one; the sixth starts an aggregated period
		// (TestForgedRequestsAreAggregated).
		if es := f.events(audit.PortalForged); len(es) != 5 || es[0].Detail["field"] != "key_id" {
			t.Errorf("forged events %+v", es)
		}
		if es := f.events(audit.LogonThrottled); len(es) != 1 || es[0].Detail["scope"] != "forged:"+strconv.FormatInt(f.acct.ID, 10) {
			t.Errorf("aggregated forged requests %+v", es)
		}
	})
}

func TestReactivate(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard, keys.EmailCode}, nil)
		ctx := f.ctx()
		card := f.keyOf(keys.TokenCard)
		if _, err := db.TransitionKey(ctx, card.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.w.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		scope := attempts.FactorScope(card.ID)
		for range 3 {
			if _, _, err := db.ReserveAttempt(ctx, string(scope), f.w.Clock.Now(), 0, func(int) time.Time { return time.Time{} }); err != nil {
				t.Fatal(err)
			}
		}
		// A password logon cannot unlock a substantial key.
		var stale *portal.StaleLogonError
		if err := f.svc.Reactivate(ctx, f.acct, f.auth(keys.LevelLow), card.ID, f.c); !errors.As(err, &stale) || stale.Level != keys.LevelSubstantial {
			t.Errorf("reactivate after a password logon: %v", err)
		}
		if err := f.svc.Reactivate(ctx, f.acct, f.auth(keys.LevelSubstantial), f.keyOf(keys.EmailCode).ID, f.c); !errors.Is(err, portal.ErrNotLocked) {
			t.Errorf("reactivate an active key: %v", err)
		}
		f.must("reactivate", f.svc.Reactivate(ctx, f.acct, f.auth(keys.LevelSubstantial), card.ID, f.c))
		if k := f.keyOf(keys.TokenCard); k.Status != store.KeyActive || k.DeactivationCause != "" {
			t.Errorf("reactivated %+v", k)
		}
		if n := f.attempt(string(scope)); n != 0 {
			t.Errorf("the key's failures were not reset: %d", n)
		}
		if len(f.events(audit.KeyReactivated)) != 1 || len(f.mails(mail.TemplateKeyActivated, "anna@example.org")) != 1 {
			t.Error("no audit event or e-mail for the reactivation")
		}
	})
}

// TestRecentLogonRule: key changes need a logon within 15 minutes, at substantial for a
// citizen who has an active substantial key, and at low for one whose only key is the
// password (the wizard's code proves the mailbox).
func TestRecentLogonRule(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		strong := newFixture(t, db, []string{keys.TokenCard}, nil)
		weak := newFixture(t, db, nil, nil)
		weak.acct = logintest.New(t, db, logintest.Options{Citizen: logintest.Citizen{Username: "pw", Name: "Only Password",
			Email: "pw@example.org", Language: "en", Password: "only a password here"}, Kinds: []string{}}).Account
		ctx := strong.ctx()
		now := strong.w.Clock.Now()
		for _, tt := range []struct {
			name string
			f    *fixture
			auth portal.Auth
			want keys.Level // LevelNone: allowed
		}{
			{"substantial key, fresh substantial logon", strong, portal.Auth{Level: keys.LevelSubstantial, Time: now}, keys.LevelNone},
			{"substantial key, fresh password logon", strong, portal.Auth{Level: keys.LevelLow, Time: now}, keys.LevelSubstantial},
			{"substantial key, logon 15 minutes ago", strong, portal.Auth{Level: keys.LevelSubstantial, Time: now.Add(-15 * time.Minute)}, keys.LevelSubstantial},
			{"substantial key, logon 14 minutes ago", strong, portal.Auth{Level: keys.LevelSubstantial, Time: now.Add(-14 * time.Minute)}, keys.LevelNone},
			{"password only, fresh password logon", weak, portal.Auth{Level: keys.LevelLow, Time: now}, keys.LevelNone},
			{"password only, stale password logon", weak, portal.Auth{Level: keys.LevelLow, Time: now.Add(-time.Hour)}, keys.LevelLow},
			{"no logon", weak, portal.Auth{}, keys.LevelLow},
		} {
			err := tt.f.svc.Fresh(ctx, tt.f.acct, tt.auth)
			var stale *portal.StaleLogonError
			switch {
			case tt.want == keys.LevelNone && err != nil:
				t.Errorf("%s: %v, want allowed", tt.name, err)
			case tt.want != keys.LevelNone && (!errors.As(err, &stale) || stale.Level != tt.want):
				t.Errorf("%s: %v, want a stale logon needing %s", tt.name, err, tt.want)
			}
		}
		// Both sides end to end: a password logon cannot start an activation for the citizen
		// with a card, and can for the citizen without.
		w := strong.wizardAtSelect()
		var stale *portal.StaleLogonError
		if err := strong.svc.Select(ctx, w, strong.acct, strong.auth(keys.LevelLow), keys.TOTP, strong.c); !errors.As(err, &stale) {
			t.Errorf("select after a password logon, with a card: %v", err)
		}
		if err := strong.svc.Deactivate(ctx, strong.acct, strong.auth(keys.LevelLow), strong.keyOf(keys.TokenCard).ID, strong.c); !errors.As(err, &stale) {
			t.Errorf("deactivate after a password logon: %v", err)
		}
		w2, err := weak.svc.StartWizard(weak.acct)
		weak.must("start", err)
		weak.must("confirm", weak.svc.ConfirmEmail(w2, weak.acct))
		weak.must("select", weak.svc.Select(ctx, w2, weak.acct, weak.auth(keys.LevelLow), keys.EmailCode, weak.c))
		weak.must("activate", weak.svc.Activate(ctx, w2, weak.acct, weak.auth(keys.LevelLow), weak.code(mail.TemplateRegistrationCode, "pw@example.org"), weak.c))
		// Now the citizen has a substantial key: the next change needs a substantial logon.
		if err := weak.svc.Fresh(ctx, weak.acct, weak.auth(keys.LevelLow)); !errors.As(err, &stale) || stale.Level != keys.LevelSubstantial {
			t.Errorf("after activating a substantial key, a password logon: %v", err)
		}
	})
}
