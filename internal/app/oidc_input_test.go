package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
	"github.com/sleutelbos/sleutelbos/internal/web/webtest"
)

// rawResponse is an answer of the node to a hand-made request, redirects not followed.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

func rawDo(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func rawGet(t *testing.T, target string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rawDo(t, req)
}

func rawPost(t *testing.T, target, contentType, body string, mutate func(*http.Request)) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if mutate != nil {
		mutate(req)
	}
	return rawDo(t, req)
}

// oauthError reads the error of a redirect to the online service, or of a JSON answer.
func (r rawResponse) oauthError() (code, description string) {
	if loc := r.header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err == nil {
			return u.Query().Get("error"), u.Query().Get("error_description")
		}
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal([]byte(r.body), &e)
	return e.Error, e.Description
}

// TestOIDCBadInput sends the provider unknown clients, untrusted redirect URIs, malformed,
// repeated, missing and oversized parameters, and what it does not support. Each gets the
// answer the specifications ask for with a clear description — never a 500, and never a
// redirect to an address the client did not register.
func TestOIDCBadInput(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		good := func() url.Values {
			return url.Values{"client_id": {"tax"}, "redirect_uri": {rpBase + "/callback"}, "response_type": {"code"},
				"scope": {"openid profile"}, "state": {"the-state"}, "code_challenge": {strings.Repeat("x", 43)},
				"code_challenge_method": {"S256"}}
		}
		authorize := tn.url + oidcop.AuthorizePath

		t.Run("authorize: no trusted redirect", func(t *testing.T) {
			tests := []struct {
				name   string
				query  string
				status int
				text   string
			}{
				{"no client_id", with(good(), "client_id", nil), 400, "did not say which online service"},
				{"unknown client", with(good(), "client_id", []string{"nope"}), 400, "not registered with us"},
				{"repeated client_id", with(good(), "client_id", []string{"tax", "tax"}), 400, "did not say which online service"},
				{"no redirect_uri", with(good(), "redirect_uri", nil), 400, "not registered for it"},
				{"unregistered redirect_uri", with(good(), "redirect_uri", []string{"https://evil.example/callback"}), 400, "not registered for it"},
				{"redirect_uri with a suffix", with(good(), "redirect_uri", []string{rpBase + "/callback/x"}), 400, "not registered for it"},
				{"redirect_uri in other case", with(good(), "redirect_uri", []string{strings.ToUpper(rpBase) + "/callback"}), 400, "not registered for it"},
				{"repeated redirect_uri", with(good(), "redirect_uri", []string{rpBase + "/callback", "https://evil.example/"}), 400, "not registered for it"},
				{"malformed query", "client_id=tax&redirect_uri=%zz", 400, "cannot read"},
				{"invalid UTF-8", "client_id=%ff&redirect_uri=x", 400, "cannot read"},
				{"too many parameters", good().Encode() + manyParams(50), 400, "cannot use"},
			}
			for _, tt := range tests {
				r := rawGet(t, authorize+"?"+tt.query)
				if r.status != tt.status || r.header.Get("Location") != "" || !strings.Contains(r.body, tt.text) {
					t.Errorf("%s: status %d, Location %q; want %d and a page saying %q:\n%.300s", tt.name, r.status, r.header.Get("Location"), tt.status, tt.text, r.body)
				}
			}
			// In the citizen's language.
			req, _ := http.NewRequest(http.MethodGet, authorize+"?"+with(good(), "client_id", []string{"nope"}), nil)
			req.Header.Set("Accept-Language", "nl-BE")
			if r := rawDo(t, req); !strings.Contains(r.body, "niet geregistreerd") {
				t.Errorf("unknown client in Dutch:\n%.300s", r.body)
			}
		})

		t.Run("authorize: errors to the online service", func(t *testing.T) {
			long := strings.Repeat("s", 1500)
			tests := []struct {
				name, query, code, says string
				state                   bool
			}{
				{"repeated scope", with(good(), "scope", []string{"openid", "openid"}), oidcop.ErrInvalidRequest, "more than once", true},
				{"response_type token", with(good(), "response_type", []string{"token"}), oidcop.ErrUnsupportedResponseType, "response_type=code", true},
				{"response_type id_token", with(good(), "response_type", []string{"code id_token"}), oidcop.ErrUnsupportedResponseType, "response_type=code", true},
				{"no response_type", with(good(), "response_type", nil), oidcop.ErrInvalidRequest, "response_type is missing", true},
				{"response_mode fragment", with(good(), "response_mode", []string{"fragment"}), oidcop.ErrInvalidRequest, "response_mode=query", true},
				{"no scope", with(good(), "scope", nil), oidcop.ErrInvalidScope, "openid", true},
				{"no openid", with(good(), "scope", []string{"profile"}), oidcop.ErrInvalidScope, "openid scope is required", true},
				{"offline_access", with(good(), "scope", []string{"openid offline_access"}), oidcop.ErrInvalidScope, "no refresh tokens", true},
				{"unsupported scope", with(good(), "scope", []string{"openid address"}), oidcop.ErrInvalidScope, "'address' is not supported", true},
				{"no PKCE", with(good(), "code_challenge", nil), oidcop.ErrInvalidRequest, "PKCE is required", true},
				{"PKCE plain", with(good(), "code_challenge_method", []string{"plain"}), oidcop.ErrInvalidRequest, "S256", true},
				{"PKCE challenge of the wrong length", with(good(), "code_challenge", []string{"short"}), oidcop.ErrInvalidRequest, "43 characters", true},
				{"prompt select_account", with(good(), "prompt", []string{"select_account"}), oidcop.ErrInvalidRequest, "'select_account' is not supported", true},
				{"prompt none with login", with(good(), "prompt", []string{"none login"}), oidcop.ErrInvalidRequest, "prompt=none", true},
				{"max_age negative", with(good(), "max_age", []string{"-1"}), oidcop.ErrInvalidRequest, "max_age", true},
				{"max_age letters", with(good(), "max_age", []string{"soon"}), oidcop.ErrInvalidRequest, "max_age", true},
				{"unknown acr", with(good(), "acr_values", []string{"urn:example:loa:9"}), oidcop.ErrInvalidRequest, "acr_values", true},
				{"acr high", with(good(), "acr_values", []string{eidasHigh}), oidcop.ErrUnmetAuthentication, "high", true},
				{"request object", with(good(), "request", []string{"eyJhbGciOiJub25lIn0.e30."}), oidcop.ErrRequestNotSupported, "not supported", true},
				{"request_uri", with(good(), "request_uri", []string{"https://rp.example/req"}), oidcop.ErrRequestURINotSupported, "not supported", true},
				{"registration", with(good(), "registration", []string{"{}"}), oidcop.ErrRegistrationNotSupp, "not supported", true},
				{"id_token_hint not ours", with(good(), "id_token_hint", []string{"eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}), oidcop.ErrLoginRequired, "id_token_hint", true},
				{"oversized state", with(good(), "state", []string{long}), oidcop.ErrInvalidRequest, "state is longer", false},
				{"oversized nonce", with(good(), "nonce", []string{long[:600]}), oidcop.ErrInvalidRequest, "nonce is longer", true},
				{"oversized parameter", with(good(), "login_hint", []string{strings.Repeat("h", 3000)}), oidcop.ErrInvalidRequest, "too long", true},
			}
			for _, tt := range tests {
				r := rawGet(t, authorize+"?"+tt.query)
				loc, _ := url.Parse(r.header.Get("Location"))
				code, desc := r.oauthError()
				if r.status != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), rpBase+"/callback?") || code != tt.code || !strings.Contains(desc, tt.says) {
					t.Errorf("%s: status %d to %v: %s (%s); want %s mentioning %q", tt.name, r.status, loc, code, desc, tt.code, tt.says)
					continue
				}
				if got := loc.Query().Get("state"); (got == "the-state") != tt.state {
					t.Errorf("%s: state %q", tt.name, got)
				}
				if loc.Query().Get("iss") != tn.url {
					t.Errorf("%s: iss %q", tt.name, loc.Query().Get("iss"))
				}
			}
		})

		t.Run("authorize as a form POST", func(t *testing.T) {
			r := rawPost(t, authorize, "application/x-www-form-urlencoded", good().Encode(), nil)
			loc, _ := url.Parse(r.header.Get("Location"))
			if r.status != http.StatusSeeOther || loc == nil || loc.Path != oidcop.AuthorizePath || loc.Query().Get("client_id") != "tax" {
				t.Errorf("POST: status %d to %v, want 303 to the GET", r.status, loc)
			}
			if r := rawPost(t, authorize, "application/json", `{"client_id":"tax"}`, nil); r.status != 400 || !strings.Contains(r.body, "cannot use") {
				t.Errorf("POST as JSON: status %d", r.status)
			}
			if r := rawPost(t, authorize, "application/x-www-form-urlencoded", "x="+strings.Repeat("a", 70000), nil); r.status != 413 {
				t.Errorf("oversized POST: status %d, want 413", r.status)
			}
		})

		t.Run("token endpoint", func(t *testing.T) {
			token := tn.url + oidcop.TokenPath
			form := "application/x-www-form-urlencoded"
			basic := func(r *http.Request) { r.SetBasicAuth("tax", rp.secret) }
			tests := []struct {
				name         string
				do           func() rawResponse
				status       int
				code, reason string
			}{
				{"GET", func() rawResponse { return rawGet(t, token) }, 405, oidcop.ErrInvalidRequest, "POST"},
				{"JSON body", func() rawResponse { return rawPost(t, token, "application/json", `{}`, basic) }, 400, oidcop.ErrInvalidRequest, "x-www-form-urlencoded"},
				{"parameters in the URL", func() rawResponse { return rawPost(t, token+"?code=x", form, "grant_type=authorization_code", basic) }, 400, oidcop.ErrInvalidRequest, "body"},
				{"no grant_type", func() rawResponse { return rawPost(t, token, form, "code=x", basic) }, 400, oidcop.ErrInvalidRequest, "grant_type is missing"},
				{"refresh_token grant", func() rawResponse { return rawPost(t, token, form, "grant_type=refresh_token&refresh_token=x", basic) }, 400, oidcop.ErrUnsupportedGrantType, "authorization_code"},
				{"client_credentials grant", func() rawResponse { return rawPost(t, token, form, "grant_type=client_credentials", basic) }, 400, oidcop.ErrUnsupportedGrantType, "authorization_code"},
				{"repeated code", func() rawResponse {
					return rawPost(t, token, form, "grant_type=authorization_code&code=a&code=b", basic)
				}, 400, oidcop.ErrInvalidRequest, "more than once"},
				{"oversized body", func() rawResponse {
					return rawPost(t, token, form, "grant_type=authorization_code&code="+strings.Repeat("c", 20000), basic)
				}, 413, oidcop.ErrInvalidRequest, "too large"},
				{"unknown client", func() rawResponse {
					return rawPost(t, token, form, "grant_type=authorization_code&code=x&code_verifier=v", func(r *http.Request) { r.SetBasicAuth("nope", "x") })
				}, 401, oidcop.ErrInvalidClient, "authentication failed"},
				{"no client at all", func() rawResponse { return rawPost(t, token, form, "grant_type=authorization_code&code=x", nil) }, 401, oidcop.ErrInvalidClient, "no client_id"},
				{"two client authentications", func() rawResponse {
					return rawPost(t, token, form, "grant_type=authorization_code&code=x&client_id=tax&client_secret="+rp.secret, basic)
				}, 400, oidcop.ErrInvalidRequest, "more than one method"},
				{"client assertion", func() rawResponse {
					return rawPost(t, token, form, "grant_type=authorization_code&code=x&client_id=tax&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=eyJ.e30.x", nil)
				}, 401, oidcop.ErrInvalidClient, "private_key_jwt"},
				{"no code", func() rawResponse {
					return rawPost(t, token, form, "grant_type=authorization_code&code_verifier=v", basic)
				}, 400, oidcop.ErrInvalidRequest, "code is missing"},
				{"no verifier", func() rawResponse { return rawPost(t, token, form, "grant_type=authorization_code&code=x", basic) }, 400, oidcop.ErrInvalidRequest, "code_verifier"},
				{"unknown code", func() rawResponse {
					return rawPost(t, token, form, "grant_type=authorization_code&code=x&code_verifier="+strings.Repeat("v", 43), basic)
				}, 400, oidcop.ErrInvalidGrant, "unknown"},
			}
			for _, tt := range tests {
				r := tt.do()
				code, desc := r.oauthError()
				if r.status != tt.status || code != tt.code || !strings.Contains(desc, tt.reason) {
					t.Errorf("%s: %d %s (%s), want %d %s mentioning %q", tt.name, r.status, code, desc, tt.status, tt.code, tt.reason)
				}
				if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
					t.Errorf("%s: Cache-Control %q, Content-Type %q", tt.name, r.header.Get("Cache-Control"), r.header.Get("Content-Type"))
				}
			}
		})

		t.Run("userinfo", func(t *testing.T) {
			ui := tn.url + oidcop.UserinfoPath
			r := rawGet(t, ui)
			if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no token: %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
			}
			for name, auth := range map[string]string{"garbage": "Bearer garbage", "basic": "Basic dGF4OnNlY3JldA==", "empty bearer": "Bearer "} {
				req, _ := http.NewRequest(http.MethodGet, ui, nil)
				req.Header.Set("Authorization", auth)
				r := rawDo(t, req)
				if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
					t.Errorf("%s token: %d, WWW-Authenticate %q", name, r.status, r.header.Get("WWW-Authenticate"))
				}
			}
			req, _ := http.NewRequest(http.MethodPut, ui, nil)
			if r := rawDo(t, req); r.status != 405 {
				t.Errorf("PUT: %d", r.status)
			}
		})

		t.Run("discovery and JWKS", func(t *testing.T) {
			r := rawGet(t, tn.url+oidcop.DiscoveryPath)
			var d map[string]any
			if err := json.Unmarshal([]byte(r.body), &d); err != nil || r.status != 200 {
				t.Fatalf("discovery: %d %v", r.status, err)
			}
			for _, k := range []string{"acr_values_supported", "claims_supported", "code_challenge_methods_supported", "end_session_endpoint"} {
				if d[k] == nil {
					t.Errorf("discovery lacks %s", k)
				}
			}
			if d["request_parameter_supported"] != nil && d["request_parameter_supported"] != false {
				t.Errorf("request_parameter_supported = %v", d["request_parameter_supported"])
			}
			j := rawGet(t, tn.url+oidcop.JWKSPath)
			if cc := j.header.Get("Cache-Control"); cc != "public, max-age=900" {
				t.Errorf("JWKS Cache-Control %q, want public, max-age=900 (the configured 15 minutes)", cc)
			}
			req, _ := http.NewRequest(http.MethodOptions, tn.url+oidcop.TokenPath, nil)
			req.Header.Set("Origin", "https://app.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			if r := rawDo(t, req); r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("CORS preflight: %d %v", r.status, r.header)
			}
		})

		t.Run("end session", func(t *testing.T) {
			es := tn.url + oidcop.EndSessionPath
			tests := []struct{ name, query, text string }{
				{"unknown client", "client_id=nope", "not registered with us"},
				{"unregistered post_logout_redirect_uri", "client_id=tax&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/"), "not registered for it"},
				{"post_logout_redirect_uri without client", "post_logout_redirect_uri=" + url.QueryEscape(rpBase+"/"), "not registered for it"},
				{"forged id_token_hint", "id_token_hint=eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "cannot use"},
				{"repeated parameter", "client_id=tax&client_id=tax", "cannot use"},
			}
			for _, tt := range tests {
				r := rawGet(t, es+"?"+tt.query)
				if r.status != 400 || r.header.Get("Location") != "" || !strings.Contains(r.body, tt.text) {
					t.Errorf("%s: %d, Location %q:\n%.300s", tt.name, r.status, r.header.Get("Location"), r.body)
				}
			}
		})
	})
}

// with returns v's encoding with name set to vs (removed when nil).
func with(v url.Values, name string, vs []string) string {
	if vs == nil {
		v.Del(name)
	} else {
		v[name] = vs
	}
	return v.Encode()
}

func manyParams(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteString("&x")
		sb.WriteString(strings.Repeat("y", i%7+1))
		sb.WriteString(string(rune('a' + i%26)))
		sb.WriteString("=1")
	}
	return sb.String()
}

// TestOIDCLogout: RP-initiated logout ends the Sleutelbos session — and the access tokens
// issued for it — when the online service proves which session it means, asks the citizen
// otherwise, and returns only to a registered address.
func TestOIDCLogout(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := newOIDCNode(t, backend, nil)
		rp := newRP(t, tn, oidcop.ClientSpec{ID: "tax", Name: "Tax on web"})
		loggedOn := func(c *webtest.Citizen) bool {
			p, err := c.Get("/")
			return err == nil && p.URL.Path == "/"
		}

		b := tn.browser()
		res := rp.mustLogon(b, "password", "demo", "demo-password-1")
		again, _, err := rp.logon(b, "", "", "") // single sign-on: a second token of the session
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*result{res, again} {
			if _, err := rp.userinfo(r); err != nil {
				t.Fatalf("userinfo before the logout: %v", err)
			}
		}
		q := url.Values{"id_token_hint": {res.raw}, "post_logout_redirect_uri": {rpBase + "/"}, "state": {"bye"}}
		p, err := b.Get(oidcop.EndSessionPath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if to := toRP(p); to == nil || to.Query().Get("state") != "bye" || to.Path != "/rp/" {
			t.Fatalf("logout with the session's id_token_hint: status %d to %v", p.Status, to)
		}
		if loggedOn(b) {
			t.Error("the session survived the logout")
		}
		// The session's access tokens ended with it.
		for _, r := range []*result{res, again} {
			if _, err := rp.userinfo(r); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("userinfo after the logout: %v, want 401", err)
			}
		}
		events, err := tn.Store.ListAudit(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if e := events[len(events)-1]; e.Type != audit.OIDCLogout || e.Detail["client"] != "tax" || e.AccountID == 0 {
			t.Errorf("last audit event %+v, want the logout", e)
		}

		// Without proof of the session: the citizen confirms.
		b = tn.browser()
		rp.mustLogon(b, "password", "demo", "demo-password-1")
		q = url.Values{"client_id": {"tax"}, "post_logout_redirect_uri": {rpBase + "/"}, "state": {"bye2"}}
		p, err = b.Get(oidcop.EndSessionPath + "?" + q.Encode())
		if err != nil || p.Status != 200 || !strings.Contains(p.Body, `action="/oidc/logout"`) || !strings.Contains(p.Body, "Tax on web asks") {
			t.Fatalf("logout without id_token_hint: %v, status %d:\n%s", err, p.Status, p.Body)
		}
		if !loggedOn(b) {
			t.Fatal("asking for confirmation signed the citizen out")
		}
		form := url.Values{}
		for _, f := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			form.Set(f, p.Hidden(f))
		}
		p, err = b.Post("/oidc/logout", form)
		if err != nil {
			t.Fatal(err)
		}
		if to := toRP(p); to == nil || to.Query().Get("state") != "bye2" || p.Status != 200 {
			t.Fatalf("confirmed logout: status %d, Refresh %q", p.Status, p.Header.Get("Refresh"))
		}
		if loggedOn(b) {
			t.Error("the session survived the confirmed logout")
		}

		// An unregistered address: no logout, no redirect.
		b = tn.browser()
		rp.mustLogon(b, "password", "demo", "demo-password-1")
		q = url.Values{"client_id": {"tax"}, "post_logout_redirect_uri": {"https://evil.example/"}}
		if p, err = b.Get(oidcop.EndSessionPath + "?" + q.Encode()); err != nil || p.Status != 400 {
			t.Fatalf("unregistered address: %v, status %d", err, p.Status)
		}
		if !loggedOn(b) {
			t.Error("a refused logout request signed the citizen out")
		}
		// Nobody logged on: straight back.
		q = url.Values{"client_id": {"tax"}, "post_logout_redirect_uri": {rpBase + "/"}}
		if p, err = tn.browser().Get(oidcop.EndSessionPath + "?" + q.Encode()); err != nil || toRP(p) == nil {
			t.Errorf("logout without a session: %v, status %d", err, p.Status)
		}
	})
}

// TestDemoService walks the demo online service of serve --demo: log on, see the claims, step
// up, log out.
func TestDemoService(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		tn := startTestNode(t, backend, nowish(), nil, func(n *Node) {
			if _, err := n.EnableDemoService(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
		c := tn.citizen()
		p, err := c.Get("/demo-service/")
		if err != nil || p.Status != 200 || !strings.Contains(p.Body, `href="/demo-service/login"`) {
			t.Fatalf("demo service home: %v, %d", err, p.Status)
		}
		follow := func(p webtest.Page) webtest.Page {
			t.Helper()
			_, target, ok := strings.Cut(p.Header.Get("Refresh"), "url=")
			if !ok {
				t.Fatalf("no way on from %s (status %d): %q", p.URL, p.Status, p.Alert())
			}
			p, err := c.Get(strings.TrimPrefix(target, c.Base))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		chooser, err := c.Get("/demo-service/login")
		if err != nil || chooser.URL.Path != "/login" {
			t.Fatalf("Log on: %v at %v", err, chooser.URL)
		}
		p, err = c.LogonFrom(chooser, "password", "demo", "demo-password-1")
		if err != nil {
			t.Fatal(err)
		}
		p = follow(p)
		if p.URL.Path != "/demo-service/" || !strings.Contains(p.Body, "Demo Citizen") || !strings.Contains(p.Body, eidasLow) {
			t.Fatalf("back at the demo service: %s\n%s", p.URL, p.Body)
		}
		chooser, err = c.Get("/demo-service/login?level=substantial")
		if err != nil || chooser.URL.Path != "/login" {
			t.Fatalf("step up: %v at %v", err, chooser.URL)
		}
		p, err = c.LogonFrom(chooser, "tokencard", "demo", "demo-password-1")
		if err != nil {
			t.Fatal(err)
		}
		if p, err = c.SubmitCode(tn.answer(t, "tokencard", p)); err != nil {
			t.Fatal(err)
		}
		p = follow(p)
		if !strings.Contains(p.Body, eidasSubs) || strings.Contains(p.Body, "/demo-service/login?level=substantial") {
			t.Fatalf("after the step-up:\n%s", p.Body)
		}
		p, err = c.Get("/demo-service/logout")
		if err != nil || p.URL.Path != "/demo-service/" || !strings.Contains(p.Body, `href="/demo-service/login"`) {
			t.Fatalf("log out: %v at %v", err, p.URL)
		}
		if p, err = c.Get("/"); err != nil || p.URL.Path != "/login" {
			t.Errorf("the Sleutelbos session survived the demo's logout: at %v", p.URL)
		}
	})
}
