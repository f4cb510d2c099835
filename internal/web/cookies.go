package web

import "net/http"

// hostPrefix is the cookie name prefix browsers accept only from a secure origin, with Secure,
// Path=/ and no Domain: such a cookie cannot be set or overwritten by a sibling subdomain or a
// plain-http page, so nobody can plant a session or a CSRF cookie.
const hostPrefix = "__Host-"

// cookieNames are the names of the site's cookies: "__Host-"-prefixed when the site is on
// https (Config.Secure), plain otherwise (a browser refuses the prefix over http).
type cookieNames struct {
	session, csrf, lang, flash, device string
}

func newCookieNames(secure bool) cookieNames {
	n := cookieNames{session: sessionCookie, csrf: csrfCookie, lang: langCookie, flash: flashCookie, device: deviceCookie}
	if secure {
		n.session, n.csrf, n.lang, n.flash = hostPrefix+n.session, hostPrefix+n.csrf, hostPrefix+n.lang, hostPrefix+n.flash
		n.device = hostPrefix + n.device
	}
	return n
}

// flashCookie carries a one-time notice to the next page (after a redirect): it is set only
// when the thing it reports happened, and cleared when shown, so a bookmark, a reload or the
// Back button never repeats it — unlike a ?notice= parameter anyone can put in a link.
const flashCookie = "flash"

// The flashes and how long one waits for the page that shows it.
const (
	flashExpired         = "expired"           // the logon in progress expired
	flashCompleted       = "completed"         // another request completed (or ended) the logon
	flashSignedOut       = "signed-out"        // the citizen signed out
	flashKeyDeactivated  = "key-deactivated"   // My digital keys: a key was deactivated
	flashKeyReactivated  = "key-reactivated"   // a locked key was reactivated
	flashLanguage        = "language"          // the preferred language was changed
	flashEmail           = "email"             // the e-mail address was changed
	flashCodeResent      = "code-resent"       // the wizard sent a new registration code
	flashWizardExpired   = "wizard-expired"    // the activation took too long and starts again
	flashOutOfOrder      = "out-of-order"      // a replayed wizard step (Back, a second click)
	flashSignupExpired   = "signup-expired"    // the registration took too long, or was stopped
	flashSignupResent    = "signup-resent"     // the registration sent a new code
	flashCompletedHere   = "completed-here"    // a stale logon form: the browser is logged on meanwhile
	flashStaleForm       = "stale-form"        // a stale form of a logged-on citizen: nothing was done
	flashOtherKey        = "other-key"         // the phase-out pop-up's "another digital key"
	flashStaleLogon      = "stale-logon"       // a key change needs a (recent enough) logon again
	flashEmailCodeResent = "email-code-resent" // the wizard sent a new code to a new address
	flashPasswordReset   = "password-reset"    // a new password was set with a reset link
	flashKeyLost         = "key-lost"          // My digital keys: a lost key was deactivated
	flashHelpdeskDone    = "helpdesk-done"     // the helpdesk console: an action was done
	// flashRemindersSent and flashRemindersPartial: an operator's reminder round finished, or
	// sent its share of one request and waits to be continued.
	flashRemindersSent    = "reminders-sent"
	flashRemindersPartial = "reminders-partial"
	flashMaxAge           = 60
)

// flashes are the values a flash cookie may carry; anything else is ignored.
var flashes = map[string]bool{
	flashExpired: true, flashCompleted: true, flashSignedOut: true, flashKeyDeactivated: true, flashKeyReactivated: true,
	flashLanguage: true, flashEmail: true, flashCodeResent: true, flashWizardExpired: true, flashOutOfOrder: true,
	flashSignupExpired: true, flashSignupResent: true, flashCompletedHere: true, flashStaleForm: true, flashOtherKey: true,
	flashStaleLogon: true, flashEmailCodeResent: true, flashRemindersSent: true, flashRemindersPartial: true,
	flashPasswordReset: true, flashKeyLost: true, flashHelpdeskDone: true,
}

// setFlash makes the next page that shows notices show v.
func (s *Server) setFlash(w http.ResponseWriter, v string) {
	http.SetCookie(w, s.cookie(s.cookies.flash, v, flashMaxAge))
}

// takeFlash returns the flash the request carries (or "") and clears it.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(s.cookies.flash)
	if err != nil {
		return ""
	}
	http.SetCookie(w, s.cookie(s.cookies.flash, "", -1))
	if !flashes[c.Value] {
		return ""
	}
	return c.Value
}

// cookie returns one of the site's cookies: HttpOnly, SameSite=Lax, Path=/, no Domain, Secure
// on https. maxAge is as in http.Cookie (0: until the browser closes, < 0: delete now).
func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return newCookie(name, value, maxAge, s.cfg.Secure)
}

func newCookie(name, value string, maxAge int, secure bool) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode}
}
