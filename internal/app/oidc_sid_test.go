package app

import (
	"sync"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/oidcop"
)

// TestOIDCSidStable: the sid claim is the citizen's session's, the same in every ID token of
// one browser session — also for authorizations sent at once right after a logon that was not
// made for an online service (whose session had no sid yet), so an online service can match
// a logout to its session.
func TestOIDCSidStable(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		b := tn.browser()
		p, err := b.Get("/login")
		if err != nil {
			t.Fatal(err)
		}
		if p, err = b.LogonFrom(p, "password", "demo", "demo-password-1"); err != nil || p.URL.Path != "/" {
			t.Fatalf("logon: %v at %v", err, p.URL)
		}
		const n = 6
		sids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res, p, err := rp.logon(b, "", "", "")
				if err != nil {
					t.Errorf("authorization %d: %v at %v", i, err, p.URL)
					return
				}
				sids[i] = res.claims.SID
			})
		}
		wg.Wait()
		res := rp.mustLogon(b, "", "", "")
		for i, sid := range sids {
			if sid == "" || sid != res.claims.SID {
				t.Errorf("authorization %d got sid %q, a later one %q: want one sid for the session", i, sid, res.claims.SID)
			}
		}
	})
}
