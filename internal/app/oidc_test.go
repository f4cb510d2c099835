package app

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// TestOIDCEveryKindAndLevel logs on through OpenID Connect with every key kind, asking the
// level by eIDAS URI and by FAS alias, and checks what the online service learns.
func TestOIDCEveryKindAndLevel(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		tests := []struct {
			kind, acr, wantACR string
			wantAMR            []string
		}{
			{"password", "", eidasLow, []string{"pwd"}}, // the client's default level
			{"password", fas200, fas200, []string{"pwd"}},
			{"tokencard", eidasSubs, eidasSubs, []string{"pwd", "otp", "mfa"}},
			{"emailcode", fas400, fas400, []string{"pwd", "otp", "mfa"}},
			{"totp", fas400, fas400, []string{"pwd", "otp", "mfa"}},
			// More than asked: the level reached, named in the family asked.
			{"totp", fas200, fas400, []string{"pwd", "otp", "mfa"}},
		}
		var sub string
		for _, tt := range tests {
			t.Run(tt.kind+" "+tt.acr, func(t *testing.T) {
				var opts []oauth2.AuthCodeOption
				if tt.acr != "" {
					opts = append(opts, acrValues(tt.acr))
				}
				res := rp.mustLogon(tn.browser(), tt.kind, "demo", "demo-password-1", opts...)
				c := res.claims
				if c.ACR != tt.wantACR || !slices.Equal(c.AMR, tt.wantAMR) {
					t.Errorf("acr %q amr %v, want %q %v", c.ACR, c.AMR, tt.wantACR, tt.wantAMR)
				}
				if got, want := time.Unix(c.AuthTime, 0), tn.clock.Now(); got.Sub(want).Abs() > time.Second {
					t.Errorf("auth_time %v, want %v", got, want)
				}
				if c.SID == "" || c.Sub == "" || c.Name != "Demo Citizen" || c.Email != "demo@example.org" || !c.EmailVerified ||
					c.Locale != "en" || c.PrefLanguage != "en" {
					t.Errorf("claims %+v", c)
				}
				if sub == "" {
					sub = c.Sub
				} else if c.Sub != sub {
					t.Errorf("sub %q, want the same citizen's %q", c.Sub, sub)
				}
				info, err := rp.userinfo(res)
				if err != nil {
					t.Fatal(err)
				}
				if info.Sub != c.Sub || info.Name != "Demo Citizen" || info.Email != "demo@example.org" || info.PrefLanguage != "en" || info.ACR != "" {
					t.Errorf("userinfo %+v", info)
				}
			})
		}
		t.Run("pairwise subject", func(t *testing.T) {
			other := newRP(t, tn, oidcop.ClientSpec{ID: "pairwise", Name: "Other", Pairwise: true})
			a := other.mustLogon(tn.browser(), "password", "demo", "demo-password-1")
			b := other.mustLogon(tn.browser(), "password", "demo", "demo-password-1")
			if a.claims.Sub == sub || a.claims.Sub != b.claims.Sub {
				t.Errorf("pairwise sub %q then %q; public sub %q", a.claims.Sub, b.claims.Sub, sub)
			}
			if a.claims.SID == b.claims.SID {
				t.Error("two browsers got the same sid")
			}
		})
		t.Run("only scopes asked", func(t *testing.T) {
			rp.conf.Scopes = []string{"openid"}
			defer func() { rp.conf.Scopes = []string{"openid", "profile", "email"} }()
			res := rp.mustLogon(tn.browser(), "password", "demo", "demo-password-1")
			if c := res.claims; c.Name != "" || c.Email != "" || c.Locale != "" || c.Sub == "" {
				t.Errorf("openid only: claims %+v", c)
			}
		})
		t.Run("audit", func(t *testing.T) {
			events, err := tn.Store.ListAudit(context.Background(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, e := range events {
				count[e.Type]++
			}
			if count[audit.OIDCAuthorized] < len(tests) || count[audit.OIDCTokenIssued] < len(tests) {
				t.Errorf("audit events %v", count)
			}
		})
	})
}

// TestOIDCLevelHigh: no key kind reaches high, and the online service hears so at once.
func TestOIDCLevelHigh(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		_, _, err := rp.logon(tn.browser(), "password", "demo", "demo-password-1", acrValues(eidasHigh))
		re := wantRPError(t, "acr high", err, oidcop.ErrUnmetAuthentication)
		if !strings.Contains(re.description, "high") {
			t.Errorf("description %q", re.description)
		}
		// A client whose default level is high is refused the same way.
		strict := newRP(t, tn, oidcop.ClientSpec{ID: "strict", Name: "Strict", DefaultLevel: "high"})
		_, _, err = strict.logon(tn.browser(), "password", "demo", "demo-password-1")
		wantRPError(t, "default level high", err, oidcop.ErrUnmetAuthentication)
	})
}

// TestOIDCStepUp: a session at low steps up with a stronger key for the same citizen; another
// citizen's password is refused on the way.
func TestOIDCStepUp(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		b := tn.browser()
		low := rp.mustLogon(b, "password", "demo", "demo-password-1", acrValues(eidasLow))
		tn.clock.Advance(time.Minute)

		ar := rp.start(acrValues(eidasSubs))
		p, err := visit(b, ar.url)
		if err != nil || p.URL.Path != "/login" {
			t.Fatalf("step-up: %v at %v", err, p.URL)
		}
		if strings.Contains(p.Body, `value="password"`) || !strings.Contains(p.Body, `value="tokencard"`) {
			t.Errorf("the chooser offers a key below substantial, or not the card:\n%s", p.Body)
		}
		// "token" is another citizen with a card: the step-up refuses them.
		p, err = b.LogonFrom(p, "tokencard", "token", "token-password-1")
		if err != nil || p.URL.Path != "/login/password" || !strings.Contains(p.Alert(), "another citizen") {
			t.Fatalf("another citizen's step-up: %v at %v, alert %q", err, p.URL, p.Alert())
		}
		chooser, err := b.Get("/login")
		if err != nil {
			t.Fatal(err)
		}
		res, _, err := rp.logonFrom(b, chooser, ar, "tokencard", "demo", "demo-password-1")
		if err != nil {
			t.Fatal(err)
		}
		c := res.claims
		if c.Sub != low.claims.Sub || c.ACR != eidasSubs || c.SID != low.claims.SID || c.AuthTime <= low.claims.AuthTime {
			t.Errorf("step-up claims %+v; at low %+v", c, low.claims)
		}
		// The session now meets substantial: the next request needs no page at all.
		again, p, err := rp.logon(b, "", "", "", acrValues(fas400))
		if err != nil || again.claims.ACR != fas400 || again.claims.AuthTime != c.AuthTime {
			t.Fatalf("single sign-on at substantial: %v (%+v) at %v", err, again, p.URL)
		}
	})
}

// TestOIDCPromptAndMaxAge: prompt=none with and without a session, prompt=login and max_age
// against the session's logon time.
func TestOIDCPromptAndMaxAge(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})

		_, p, err := rp.logon(tn.browser(), "", "", "", param("prompt", "none"))
		wantRPError(t, "prompt=none without a session", err, oidcop.ErrLoginRequired)
		if p.Status != http.StatusFound {
			t.Errorf("prompt=none showed a page: status %d at %s", p.Status, p.URL)
		}

		b := tn.browser()
		first := rp.mustLogon(b, "password", "demo", "demo-password-1")
		res, p, err := rp.logon(b, "", "", "", param("prompt", "none"))
		if err != nil || res.claims.Sub != first.claims.Sub || p.Status != http.StatusFound {
			t.Fatalf("prompt=none with a session: %v at %s", err, p.URL)
		}
		_, _, err = rp.logon(b, "", "", "", param("prompt", "none"), acrValues(eidasSubs))
		wantRPError(t, "prompt=none with a session below the level", err, oidcop.ErrLoginRequired)
		res, _, err = rp.logon(b, "", "", "", param("prompt", "none"), param("id_token_hint", first.raw))
		if err != nil || res.claims.Sub != first.claims.Sub {
			t.Fatalf("prompt=none with the session's id_token_hint: %v", err)
		}
		other := rp.mustLogon(tn.browser(), "password", "token", "token-password-1")
		_, _, err = rp.logon(b, "", "", "", param("prompt", "none"), param("id_token_hint", other.raw))
		wantRPError(t, "prompt=none with another citizen's id_token_hint", err, oidcop.ErrLoginRequired)

		tn.clock.Advance(10 * time.Minute)
		res, _, err = rp.logon(b, "", "", "", param("max_age", "3600"))
		if err != nil || res.claims.AuthTime != first.claims.AuthTime {
			t.Fatalf("max_age=3600 after 10 minutes: %v, want the same logon", err)
		}
		// Older than max_age: log on again (bound to the same citizen), a new auth_time.
		res, p, err = rp.logon(b, "password", "demo", "demo-password-1", param("max_age", "300"))
		if err != nil || res.claims.AuthTime <= first.claims.AuthTime || res.claims.Sub != first.claims.Sub || p.URL.Path == "" {
			t.Fatalf("max_age=300 after 10 minutes: %v, %+v", err, res)
		}
		// prompt=login logs on again however fresh the session.
		fresh := res.claims.AuthTime
		tn.clock.Advance(time.Second)
		ar := rp.start(param("prompt", "login"))
		p, err = visit(b, ar.url)
		if err != nil || p.URL.Path != "/login" {
			t.Fatalf("prompt=login did not show the chooser: %v at %v", err, p.URL)
		}
		res, _, err = rp.logonFrom(b, p, ar, "password", "demo", "demo-password-1")
		if err != nil || res.claims.AuthTime <= fresh {
			t.Fatalf("prompt=login: %v, auth_time %d after %d", err, res.claims.AuthTime, fresh)
		}
		_, _, err = rp.logon(b, "", "", "", param("prompt", "none login"))
		wantRPError(t, "prompt=none login", err, oidcop.ErrInvalidRequest)
	})
}

// TestOIDCCodeRules: PKCE for every client, a replayed code revokes its token, an expired code
// is refused, the client must authenticate.
func TestOIDCCodeRules(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		conf := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		pub := newRP(t, tn, oidcop.ClientSpec{ID: "app", Name: "An app", Public: true})

		// Without PKCE: no code at all, for either kind of client.
		for _, rp := range []*rpClient{conf, pub} {
			for _, opts := range [][]string{{}, {"code_challenge_method", "plain"}} {
				ar := authRequest{state: "s1", nonce: "n1"}
				extra := []oauth2.AuthCodeOption{}
				if len(opts) == 2 {
					extra = append(extra, param("code_challenge", strings.Repeat("a", 43)), param(opts[0], opts[1]))
				}
				ar.url = rp.conf.AuthCodeURL(ar.state, extra...)
				p, err := visit(tn.browser(), ar.url)
				if err != nil {
					t.Fatal(err)
				}
				cb := toRP(p)
				if cb == nil {
					t.Fatalf("%s without S256: no answer to the online service (status %d at %s)", rp.id, p.Status, p.URL)
				}
				_, err = rp.finish(cb, ar)
				re := wantRPError(t, rp.id+" without S256", err, oidcop.ErrInvalidRequest)
				if !strings.Contains(re.description, "S256") {
					t.Errorf("description %q", re.description)
				}
			}
		}

		for _, rp := range []*rpClient{conf, pub} {
			t.Run(rp.id, func(t *testing.T) {
				// A wrong verifier: invalid_grant, and the code is spent.
				c, ar := tn.codeFor(t, rp)
				_, err := rp.exchange(c, oauth2.GenerateVerifier(), ar.nonce)
				wantRPError(t, "wrong verifier", err, oidcop.ErrInvalidGrant)
				_, err = rp.exchange(c, ar.verifier, ar.nonce)
				wantRPError(t, "the spent code with the right verifier", err, oidcop.ErrInvalidGrant)

				// A replayed code: refused, and the access token issued from it stops working.
				c, ar = tn.codeFor(t, rp)
				res, err := rp.exchange(c, ar.verifier, ar.nonce)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := rp.userinfo(res); err != nil {
					t.Fatalf("userinfo before the replay: %v", err)
				}
				_, err = rp.exchange(c, ar.verifier, ar.nonce)
				re := wantRPError(t, "replayed code", err, oidcop.ErrInvalidGrant)
				if !strings.Contains(re.description, "already used") {
					t.Errorf("description %q", re.description)
				}
				if _, err := rp.userinfo(res); err == nil || !strings.Contains(err.Error(), "401") {
					t.Errorf("userinfo after the replay: %v, want 401", err)
				}

				// An expired code.
				c, ar = tn.codeFor(t, rp)
				tn.clock.Advance(time.Minute)
				_, err = rp.exchange(c, ar.verifier, ar.nonce)
				re = wantRPError(t, "expired code", err, oidcop.ErrInvalidGrant)
				if !strings.Contains(re.description, "expired") {
					t.Errorf("description %q", re.description)
				}
			})
		}

		t.Run("client authentication", func(t *testing.T) {
			c, ar := tn.codeFor(t, conf)
			saved := conf.conf.ClientSecret
			conf.conf.ClientSecret = "not the secret"
			_, err := conf.exchange(c, ar.verifier, ar.nonce)
			conf.conf.ClientSecret = saved
			wantRPError(t, "wrong secret", err, oidcop.ErrInvalidClient)
			// The code was not touched: the right secret still gets the tokens, with
			// client_secret_post this time.
			conf.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			defer func() { conf.conf.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect }()
			if _, err := conf.exchange(c, ar.verifier, ar.nonce); err != nil {
				t.Fatalf("client_secret_post after a wrong secret: %v", err)
			}
			// Another client cannot use the code, nor spend it: a public client needs no
			// secret, so anyone holding a code could otherwise burn it (or, presented twice,
			// revoke what it gave) for its owner.
			c, ar = tn.codeFor(t, conf)
			for i := 0; i < 2; i++ {
				_, err = pub.exchange(c, ar.verifier, ar.nonce)
				wantRPError(t, "another client's code", err, oidcop.ErrInvalidGrant)
			}
			res, err := conf.exchange(c, ar.verifier, ar.nonce)
			if err != nil {
				t.Fatalf("the owner's code after another client presented it: %v", err)
			}
			if _, err := conf.userinfo(res); err != nil {
				t.Errorf("userinfo after another client presented the code: %v", err)
			}
		})

		events, err := tn.Store.ListAudit(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		replays := 0
		for _, e := range events {
			if e.Type == audit.OIDCCodeReplayed {
				replays++
			}
		}
		if replays < 2 {
			t.Errorf("%d code_replayed audit events, want one per replay", replays)
		}
	})
}

// TestOIDCIDTokenIntegrity: a tampered ID token, or one signed by a key the node never
// published, fails verification at the online service.
func TestOIDCIDTokenIntegrity(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		res := rp.mustLogon(tn.browser(), "password", "demo", "demo-password-1")
		parts := strings.Split(res.raw, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		forged := strings.Replace(string(payload), res.claims.Sub, strings.Repeat("A", len(res.claims.Sub)), 1)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
		verifier := rp.prov.Verifier(&oidc.Config{ClientID: rp.id})
		if _, err := verifier.Verify(context.Background(), tampered); err == nil {
			t.Error("a tampered ID token verified")
		}
		sig := []byte(parts[2])
		sig[10] ^= 1
		if _, err := verifier.Verify(context.Background(), parts[0]+"."+parts[1]+"."+string(sig)); err == nil {
			t.Error("an ID token with a changed signature verified")
		}
		if _, err := verifier.Verify(context.Background(), parts[0]+"."+parts[1]+"."); err == nil {
			t.Error("an unsigned ID token verified")
		}
		if _, err := verifier.Verify(context.Background(), res.raw); err != nil {
			t.Errorf("the genuine ID token: %v", err)
		}
	})
}

// TestOIDCKeyRotation rotates the signing key in the middle of logons: tokens signed before
// still verify, the new key is published before it signs and then signs, and the old key is
// removed only after its tokens have expired.
func TestOIDCKeyRotation(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		before := rp.mustLogon(tn.browser(), "password", "demo", "demo-password-1")
		oldKID := kidOf(t, before.raw)
		c, ar := tn.codeFor(t, rp) // a code issued before the rotation, exchanged after it
		tn.clock.Advance(30 * time.Second)

		k, err := tn.OIDC.RotateSigningKey(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if lead, want := k.ActiveFrom.Sub(tn.clock.Now()), 2*tn.Config.OIDCJWKSMaxAge; lead != want {
			t.Errorf("the new key signs %s after it is published, want twice the JWKS max-age (%s)", lead, want)
		}
		if jwks := tn.jwks(t); !slices.Contains(jwks, oldKID) || !slices.Contains(jwks, k.ID) {
			t.Fatalf("JWKS right after the rotation = %v, want the old %s and the new %s", jwks, oldKID, k.ID)
		}
		mid, err := rp.exchange(c, ar.verifier, ar.nonce)
		if err != nil {
			t.Fatal(err)
		}
		tn.clock.Advance(k.ActiveFrom.Sub(tn.clock.Now()) - time.Second)
		late := rp.mustLogon(tn.browser(), "password", "demo", "demo-password-1")
		for _, tok := range []string{mid.raw, late.raw} {
			if kid := kidOf(t, tok); kid != oldKID {
				t.Errorf("before its activation the new key signed (%s)", kid)
			}
		}

		tn.clock.Advance(time.Second)
		after := rp.mustLogon(tn.browser(), "password", "demo", "demo-password-1")
		if kid := kidOf(t, after.raw); kid != k.ID {
			t.Errorf("after activation the token is signed by %s, want the new key %s", kid, k.ID)
		}
		verifier := rp.prov.Verifier(&oidc.Config{ClientID: rp.id})
		for _, tok := range []string{before.raw, mid.raw, late.raw, after.raw} {
			if _, err := verifier.Verify(context.Background(), tok); err != nil {
				t.Errorf("a token of the old key no longer verifies: %v", err)
			}
		}

		if err := tn.OIDC.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(tn.jwks(t), oldKID) {
			t.Error("the old key was removed while its tokens can still be valid")
		}
		tn.clock.Advance(tn.Config.SessionAbsolute + time.Minute)
		if err := tn.OIDC.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if jwks := tn.jwks(t); slices.Contains(jwks, oldKID) || !slices.Contains(jwks, k.ID) {
			t.Errorf("JWKS after the retention = %v, want only %s", jwks, k.ID)
		}
	})
}

// TestOIDCSweep: expired authorization requests are removed.
func TestOIDCSweep(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		ar := rp.start()
		p, err := visit(tn.browser(), ar.url)
		if err != nil || p.URL.Path != "/login" {
			t.Fatalf("%v at %v", err, p.URL)
		}
		ret, err := url.Parse(p.Hidden("return"))
		if err != nil || ret.Path != "/oidc/continue" {
			t.Fatalf("the logon returns to %q (%v), want /oidc/continue", p.Hidden("return"), err)
		}
		id := ret.Query().Get("id")
		if _, err := tn.Store.GetAuthRequest(context.Background(), id); err != nil {
			t.Fatalf("the pending request %q: %v", id, err)
		}
		tn.clock.Advance(tn.Config.OIDCRequestLifetime + time.Second)
		if err := tn.OIDC.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := tn.Store.GetAuthRequest(context.Background(), id); err == nil || !strings.Contains(err.Error(), store.ErrNotFound.Error()) {
			t.Errorf("an expired request was kept: %v", err)
		}
		// Its logon page says so in the citizen's words.
		p, err = tn.browser().Get("/oidc/login?id=" + id)
		if err != nil || p.Status != http.StatusNotFound || !strings.Contains(p.Body, "unknown, has already been used or has expired") {
			t.Errorf("an expired request's page: %v, status %d", err, p.Status)
		}
	})
}
