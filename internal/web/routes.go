package web

import (
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/devmailbox"
	"github.com/sleutelbos/sleutelbos/internal/oidcop"
)

// publicRoutes are the only routes served without a logged-on session; every other route is
// private: a new route needs a logon unless it is listed here (see access.go). The outer
// layer's routes, which run without a session at all, are listed too, so the list is the
// whole truth: TestRoutesArePrivateByDefault walks every registered route, and one missing
// here is expected to send a logged-off visitor to the logon.
var publicRoutes = map[string]bool{
	// Outer layer: probes, assets, the development mailbox and the demo online service (when
	// mounted), the OpenID provider's machine endpoints, and its POSTed browser requests
	// (turned into GETs, which then run with the session).
	"GET /healthz":                  true,
	"GET /readyz":                   true,
	"GET /static/{path...}":         true,
	devmailbox.Path:                 true,
	devmailbox.Path + "/":           true,
	DemoServicePath:                 true,
	oidcop.DiscoveryPath:            true,
	oidcop.JWKSPath:                 true,
	oidcop.TokenPath:                true,
	oidcop.UserinfoPath:             true,
	"POST " + oidcop.AuthorizePath:  true,
	"POST " + oidcop.EndSessionPath: true,
	"GET /login":                    true,
	"POST /login/choose":            true,
	"GET /login/prompt":             true,
	"POST /login/prompt":            true,
	"GET /login/password":           true,
	"POST /login/password":          true,
	"GET /login/code":               true,
	"POST /login/code":              true,
	"POST /login/resend":            true,
	"POST /logout":                  true,
	"GET /help/forgot":              true,
	// Forgotten username or password (forgot.go, reset.go): a 404 without Deps.Recovery.
	"GET /forgot/username":      true,
	"POST /forgot/username":     true,
	"GET /forgot/username/sent": true,
	"GET /forgot/password":      true,
	"POST /forgot/password":     true,
	"GET /forgot/password/sent": true,
	"GET /reset":                true,
	"GET /recover":              true,
	"POST /recover":             true,
	"GET /reset/key":            true,
	"POST /reset/key":           true,
	"POST /reset/code":          true,
	"GET /reset/password":       true,
	"POST /reset/password":      true,
	// Self-registration (register.go): a 404 when Config.Registration is off.
	"GET /register":           true,
	"POST /register":          true,
	"GET /register/code":      true,
	"POST /register/code":     true,
	"POST /register/resend":   true,
	"GET /register/username":  true,
	"POST /register/username": true,
	"POST /register/cancel":   true,
	"GET /privacy":            true,
	"GET /accessibility":      true,
	// The OpenID provider's browser endpoints: an online service sends the citizen to them
	// before any logon here, and each answers a visitor without a session itself (a logon
	// for the request, or the online service's address).
	"GET " + oidcop.AuthorizePath:  true,
	"GET " + oidcop.LoginPath:      true,
	"GET " + oidcContinuePath:      true,
	"GET " + oidcop.EndSessionPath: true,
	"POST " + oidcLogoutPath:       true,
	"/":                            true, // the localised 404
}

// recentRoutes change keys or the e-mail address: besides a logon they need a recent one, of
// the level the citizen's keys call for (portal.Service.CheckAuth).
var recentRoutes = map[string]bool{
	"GET /keys/activate":         true,
	"POST /keys/activate":        true,
	"GET /keys/activate/qr":      true,
	"GET /keys/{id}/deactivate":  true,
	"POST /keys/{id}/deactivate": true,
	"POST /keys/{id}/reactivate": true,
	"POST /profile/email":        true,
	"POST /profile/email/code":   true,
}

// wizardRoutes are the activation wizard's: the only recentRoutes where the right a helpdesk
// recovery code leaves counts as a logon at level substantial (portal.Auth.Recovery).
var wizardRoutes = map[string]bool{
	"GET /keys/activate":    true,
	"POST /keys/activate":   true,
	"GET /keys/activate/qr": true,
}

// routes builds the handler tree. The outer mux serves what needs no session; everything else
// passes the application chain (session, language, body limit, CSRF) to the application mux,
// where each route is private unless publicRoutes lists it.
//
//	GET  /healthz            process alive
//	GET  /readyz             database answers
//	GET  /static/{path...}   embedded assets
//	     /dev/mailbox[/]     the development mailbox (only with Config.DevMailbox)
//	GET  /                   welcome page (logged off: 303 to /login)
//	GET  /login              key chooser (?level=low|substantial|high, ?return=/local/path)
//	POST /login/choose       start the logon with a kind → /login/password (or the pop-up)
//	GET  /login/prompt       the phase-out pop-up of a kind in its prompt period
//	POST /login/prompt       choice=activate|other_key|close
//	GET  /login/password     username and password
//	POST /login/password
//	GET  /login/code         the kind's security code step
//	POST /login/code
//	POST /login/resend       send a new code
//	POST /logout
//	GET  /help/forgot        forgotten username or password, the helpdesk
//	GET  /forgot/username    the username e-mailed to an address; POST, then …/sent
//	GET  /forgot/password    a reset link e-mailed (username or address); POST, then …/sent
//	GET  /recover            a helpdesk recovery code and the username (POST) → /reset/password
//	GET  /reset?t=…          the reset link: → /reset/key (a token card or app key's code,
//	                         POST /reset/key chooses, POST /reset/code answers) → /reset/password
//	GET  /register           "Create an account" (only with Config.Registration)
//	POST /register           → a code to the address → /register/code
//	GET  /register/code      the code; POST /register/code creates the account → /keys/activate
//	POST /register/resend    a new code; POST /register/cancel starts again
//	GET  /register/username  another username, when the one chosen was taken; POST likewise
//	GET  /privacy            the built-in privacy notice
//	GET  /accessibility      the built-in accessibility statement
//	GET  /keys               My digital keys: the key list
//	GET  /keys/{id}/deactivate, POST   deactivate a key, with a confirmation step
//	POST /keys/{id}/reactivate          reactivate a locked key
//	GET  /keys/{id}/lost, POST          "I lost this key": deactivate it at once (even the last)
//	GET  /keys/activate                 the activation wizard's current step
//	POST /keys/activate                 action=next, change, resend, back, cancel or end
//	GET  /keys/activate/qr              the QR code of the app key being activated (PNG)
//	GET  /profile            My profile; POST /profile/language, /profile/email,
//	                         /profile/email/code, /profile/email/cancel
//	GET  /info               Info: the key kinds; GET /info/why: levels of assurance
//	     /operator/…         the operator pages (operator.go): the operator role and a
//	                         logon at level substantial, checked by guard on every request
//	     /oidc/…, /.well-known/openid-configuration   the OpenID provider (oidc.go)
//	     /demo-service/      the demo online service (only with Deps.DemoService)
//	everything else          localised 404
func (s *Server) routes() http.Handler {
	app := http.NewServeMux()
	outer := http.NewServeMux()
	route := func(pattern string, h handlerFunc) {
		s.patterns = append(s.patterns, pattern)
		app.Handle(pattern, routed(pattern, s.guard(pattern, s.handle(h))))
	}
	outerRoute := func(pattern string, h http.Handler) {
		s.patterns = append(s.patterns, pattern)
		outer.Handle(pattern, routed(pattern, h))
	}
	route("GET /{$}", s.home)
	route("GET /login", s.loginShow)
	route("POST /login/choose", s.loginChoose)
	route("GET /login/prompt", s.loginPromptShow)
	route("POST /login/prompt", s.loginPromptSubmit)
	route("GET /login/password", s.loginPasswordShow)
	route("POST /login/password", s.admitHashing(s.loginPasswordSubmit))
	route("GET /login/code", s.loginCodeShow)
	route("POST /login/code", s.loginCodeSubmit)
	route("POST /login/resend", s.loginResend)
	route("POST /logout", s.logout)
	route("GET /help/forgot", s.helpForgot)
	route("GET /forgot/username", s.forgotUsernameShow)
	route("POST /forgot/username", s.forgotUsernameSubmit)
	route("GET /forgot/username/sent", s.forgotSent("username"))
	route("GET /forgot/password", s.forgotPasswordShow)
	route("POST /forgot/password", s.forgotPasswordSubmit)
	route("GET /forgot/password/sent", s.forgotSent("password"))
	route("GET /recover", s.recoverShow)
	route("POST /recover", s.recoverSubmit)
	route("GET /reset", s.resetOpen)
	route("GET /reset/key", s.resetKeyShow)
	route("POST /reset/key", s.resetKeyChoose)
	route("POST /reset/code", s.resetCode)
	route("GET /reset/password", s.resetPasswordShow)
	route("POST /reset/password", s.admitHashing(s.resetPasswordSubmit))
	route("GET /register", s.registerShow)
	route("POST /register", s.admitHashing(s.registerSubmit))
	route("GET /register/code", s.registerCodeShow)
	route("POST /register/code", s.registerCodeSubmit)
	route("POST /register/resend", s.registerResend)
	route("GET /register/username", s.registerUsernameShow)
	route("POST /register/username", s.registerUsernameSubmit)
	route("POST /register/cancel", s.registerCancel)
	route("GET /privacy", s.privacy)
	route("GET /accessibility", s.accessibility)
	route("GET /keys", s.keysShow)
	route("GET /keys/{id}/deactivate", s.keyDeactivateShow)
	route("POST /keys/{id}/deactivate", s.keyDeactivate)
	route("POST /keys/{id}/reactivate", s.keyReactivate)
	route("GET /keys/{id}/lost", s.keyLostShow)
	route("POST /keys/{id}/lost", s.keyLost)
	route("GET /keys/activate", s.wizardShow)
	route("POST /keys/activate", s.wizardSubmit)
	route("GET /keys/activate/qr", s.wizardQR)
	route("GET /profile", s.profileShow)
	route("POST /profile/language", s.profileLanguage)
	route("POST /profile/email", s.profileEmail)
	route("POST /profile/email/code", s.profileEmailCode)
	route("POST /profile/email/cancel", s.profileEmailCancel)
	route("GET /info", s.infoShow)
	route("GET /info/why", s.infoWhy)
	s.operatorRoutes(route)
	s.helpdeskRoutes(route)
	route("/", func(http.ResponseWriter, *http.Request) error { return errNotFound })
	s.oidcRoutes(outerRoute, route)

	var chain http.Handler = app
	chain = s.checkCSRF(chain)
	chain = s.limitBody(chain)
	chain = s.negotiateLanguage(chain)
	chain = s.loadSession(chain)

	outerRoute("GET /healthz", http.HandlerFunc(s.healthz))
	outerRoute("GET /readyz", http.HandlerFunc(s.readyz))
	outerRoute("GET /static/{path...}", s.handle(s.serveStatic))
	if s.cfg.DevMailbox {
		outerRoute(devmailbox.Path, s.deps.Mailbox)
		outerRoute(devmailbox.Path+"/", s.deps.Mailbox)
	}
	if s.deps.DemoService != nil {
		outerRoute(DemoServicePath, s.deps.DemoService)
	}
	outer.Handle("/", chain)

	var h http.Handler = outer
	h = s.recoverPanics(h)
	h = s.securityHeaders(h)
	h = s.logRequests(h)
	return h
}
