package web

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// testDeviceKey is the key that signs the test servers' device cookies.
func testDeviceKey(t testing.TB) *secrets.Hasher {
	t.Helper()
	h, err := secrets.NewHasher(bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// deviceCookieOf returns the device cookie res set, or nil.
func deviceCookieOf(res *response) *http.Cookie {
	for _, c := range res.res.Cookies() {
		if c.Name == deviceCookie || c.Name == hostPrefix+deviceCookie {
			return c
		}
	}
	return nil
}

// TestDeviceCookieIssued: a completed logon gives the browser a device cookie: HttpOnly,
// long-lived, for the whole site, and over HTTPS Secure with the __Host- prefix. A failed
// password gives none.
func TestDeviceCookieIssued(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		for _, secure := range []bool{false, true} {
			f := newFixture(t, db, func(c *Config, _ *Deps) { c.Secure = secure })
			b := f.browser()
			b.choose("password", "low", "/")
			if res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {"not the password"}}); deviceCookieOf(res) != nil {
				t.Errorf("secure=%v: a failed password set a device cookie", secure)
			}
			res := b.post("/login/password", url.Values{"username": {"DEMO"}, "password": {demoPassword}})
			wantStatus(t, "logon", res, http.StatusSeeOther)
			c := deviceCookieOf(res)
			if c == nil {
				t.Fatalf("secure=%v: no device cookie after a logon (cookies %v)", secure, res.res.Cookies())
			}
			wantName := deviceCookie
			if secure {
				wantName = hostPrefix + deviceCookie
			}
			if c.Name != wantName || c.Secure != secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" ||
				c.MaxAge != int(deviceLifetime/time.Second) || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("secure=%v: device cookie %+v", secure, c)
			}
			d := f.srv.devices.device(&http.Request{Header: http.Header{"Cookie": {c.Name + "=" + c.Value}}})
			if d == nil || d.Username != demoUser || d.ID == "" {
				t.Errorf("secure=%v: the issued cookie reads as %+v, want the folded username %q", secure, d, demoUser)
			}
		}
	})
}

// TestDeviceCookieDefeatsTargetedLockout: an attacker elsewhere who fails on the username
// throttles it for every browser without a device cookie — yet the citizen's browser, which
// logged on before, still logs on. A forged or altered cookie is worth nothing.
func TestDeviceCookieDefeatsTargetedLockout(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		citizen := f.browser()
		citizen.logon()
		cookie := citizen.cookies[deviceCookie]
		if cookie == "" {
			t.Fatal("no device cookie after the logon")
		}
		citizen.post("/logout", nil)

		attacker := f.browser()
		for range 5 {
			attacker.choose("password", "low", "/")
			res := attacker.post("/login/password", url.Values{"username": {demoUser}, "password": {"guess guess guess"}})
			wantContains(t, "attacker's guess", res.body, "The username or password is incorrect.")
		}
		throttled := func(who string, b *browser) {
			t.Helper()
			b.choose("password", "low", "/")
			res := b.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
			wantStatus(t, who, res, http.StatusOK)
			wantContains(t, who, res.body, "Too many attempts")
		}
		throttled("the attacker with the right password", attacker)
		throttled("a browser without a device cookie", f.browser())

		parts := strings.Split(cookie, ".")
		flip := func(s string) string { // another character in the middle
			i := len(s) / 2
			if s[i] == 'A' {
				return s[:i] + "B" + s[i+1:]
			}
			return s[:i] + "A" + s[i+1:]
		}
		for name, forged := range map[string]string{
			"altered signature":   strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3])}, "."),
			"altered id":          strings.Join([]string{parts[0], flip(parts[1]), parts[2], parts[3]}, "."),
			"later issue time":    strings.Join([]string{parts[0], parts[1], parts[2] + "0", parts[3]}, "."),
			"another username":    strings.Join([]string{b64url.EncodeToString([]byte("someone")), parts[1], parts[2], parts[3]}, "."),
			"signed with another": forgeDevice(t, demoUser),
			"garbage":             "x.y.z",
		} {
			b := f.browser()
			b.cookies[deviceCookie] = forged
			throttled("a browser with a device cookie with "+name, b)
		}

		citizen.choose("password", "low", "/")
		res := citizen.post("/login/password", url.Values{"username": {demoUser}, "password": {demoPassword}})
		if res.status != http.StatusSeeOther || res.location() != "/" {
			t.Fatalf("the citizen's own browser: status %d, Location %q, body:\n%.1500s", res.status, res.location(), res.body)
		}
		throttled("the attacker after the citizen logged on", attacker)
	})
}

// forgeDevice returns a well-formed device cookie for username signed with a key that is not the
// server's.
func forgeDevice(t *testing.T, username string) string {
	t.Helper()
	other, err := secrets.NewHasher(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	d := &deviceCookies{key: other, now: time.Now, rand: strings.NewReader(strings.Repeat("r", deviceIDBytes)), name: deviceCookie}
	rec := &headerRecorder{h: http.Header{}}
	if err := d.issue(rec, username); err != nil {
		t.Fatal(err)
	}
	return (&http.Response{Header: rec.h}).Cookies()[0].Value
}

// headerRecorder is the smallest http.ResponseWriter: it keeps the headers.
type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}
