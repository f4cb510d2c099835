package web

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
)

// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser
// that logged a citizen on gets a long-lived cookie naming that citizen's username, signed by
// the server. A password attempt for that username from that browser counts against the
// browser's own failure budget (login.Device), so an attacker elsewhere who keeps failing on the
// username throttles every other browser but not the citizen's. The cookie proves only that this
// browser logged the username on before; it never logs anyone on by itself.
const (
	// deviceCookie is the cookie's name; like every cookie of the site it carries the __Host-
	// prefix over HTTPS (cookieNames), so a sibling subdomain cannot plant one.
	deviceCookie = "device"
	// deviceIDBytes is the randomness of a device cookie's id.
	deviceIDBytes = 16
	// deviceLifetime is how long a device cookie is honoured; every logon issues a new one.
	deviceLifetime = 365 * 24 * time.Hour
	// deviceDomain separates the cookie's signature from every other use of the hash key.
	deviceDomain = "web.device-cookie.v1"
	// maxDeviceCookie bounds what is parsed (usernames are short).
	maxDeviceCookie = 1024
)

// deviceCookies issues and checks device cookies.
type deviceCookies struct {
	key  *secrets.Hasher
	now  func() time.Time
	rand io.Reader
	// name is the cookie's name (cookieNames.device) and secure whether it is Secure (https).
	name   string
	secure bool
}

// b64url encodes the cookie's fields; decoding is strict, so each value has one spelling.
var b64url = base64.RawURLEncoding.Strict()

// sign returns the signature of a cookie's fields.
func (d *deviceCookies) sign(username, id, issued string) string {
	return b64url.EncodeToString(d.key.Sum(deviceDomain, username, id, issued))
}

// issue sets a new device cookie for username (as login.FoldUsername folds it): a fresh random
// id, the issue time, and the signature of the three. Its value is
// base64url(username).id.unix-seconds.signature.
func (d *deviceCookies) issue(w http.ResponseWriter, username string) error {
	id, err := newToken(d.rand, deviceIDBytes)
	if err != nil {
		return err
	}
	user := login.FoldUsername(username)
	issued := strconv.FormatInt(d.now().Unix(), 10)
	value := b64url.EncodeToString([]byte(user)) + "." + id + "." + issued + "." + d.sign(user, id, issued)
	http.SetCookie(w, newCookie(d.name, value, int(deviceLifetime/time.Second), d.secure))
	return nil
}

// device returns the device the request's cookie names, or nil when there is none, or it is
// malformed, altered, signed with another key, or too old.
func (d *deviceCookies) device(r *http.Request) *login.Device {
	c, err := r.Cookie(d.name)
	if err != nil || len(c.Value) > maxDeviceCookie {
		return nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 {
		return nil
	}
	user, err := b64url.DecodeString(parts[0])
	if err != nil || !validToken(parts[1], deviceIDBytes) {
		return nil
	}
	sig, err := b64url.DecodeString(parts[3])
	if err != nil || !d.key.Equal(sig, d.key.Sum(deviceDomain, string(user), parts[1], parts[2])) {
		return nil
	}
	issued, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return nil
	}
	if age := d.now().Sub(time.Unix(issued, 0)); age < -time.Hour || age >= deviceLifetime {
		return nil
	}
	return &login.Device{Username: string(user), ID: parts[1]}
}
