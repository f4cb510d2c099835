package web

import "net/http"

// hostPrefix is the cookie name prefix browsers accept only from a secure origin, with Secure,
// Path=/ and no Domain: such a cookie cannot be set or overwritten by a sibling subdomain or a
// plain-http page, so nobody can plant a session or a CSRF cookie.
const hostPrefix = "__Host-"

// cookieNames are the names of the site's cookies: "__Host-"-prefixed when the site is on
// https (Config.Secure), plain otherwise (a browser refuses the prefix over http).
type cookieNames struct {
	session, csrf, lang string
}

func newCookieNames(secure bool) cookieNames {
	n := cookieNames{session: sessionCookie, csrf: csrfCookie, lang: langCookie}
	if secure {
		n.session, n.csrf, n.lang = hostPrefix+n.session, hostPrefix+n.csrf, hostPrefix+n.lang
	}
	return n
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
