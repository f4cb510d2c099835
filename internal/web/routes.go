package web

import "net/http"

// routes builds the handler tree. The outer mux serves what needs no session; everything else
// passes the application chain (session, language, body limit, CSRF) to the application mux.
//
//	GET  /healthz            process alive
//	GET  /readyz             database answers
//	GET  /static/{path...}   embedded assets
//	     /dev/mailbox[/]     the development mailbox (only with Config.DevMailbox)
//	GET  /                   welcome page, or 303 to /login
//	GET  /login              key chooser (?level=low|substantial|high, ?return=/local/path)
//	POST /login/choose       start the logon with a kind → /login/password
//	GET  /login/password     username and password
//	POST /login/password
//	GET  /login/code         the kind's security code step
//	POST /login/code
//	POST /login/resend       send a new code
//	POST /logout
//	GET  /help/forgot        forgotten username or password, the helpdesk
//	GET  /privacy            the built-in privacy notice
//	GET  /accessibility      the built-in accessibility statement
//	     /oidc/…, /.well-known/openid-configuration   the OpenID provider (oidc.go)
//	     /demo-service/      the demo online service (only with Deps.DemoService)
//	everything else          localised 404
func (s *Server) routes() http.Handler {
	app := http.NewServeMux()
	app.Handle("GET /{$}", s.handle(s.home))
	app.Handle("GET /login", s.handle(s.loginShow))
	app.Handle("POST /login/choose", s.handle(s.loginChoose))
	app.Handle("GET /login/password", s.handle(s.loginPasswordShow))
	app.Handle("POST /login/password", s.handle(s.loginPasswordSubmit))
	app.Handle("GET /login/code", s.handle(s.loginCodeShow))
	app.Handle("POST /login/code", s.handle(s.loginCodeSubmit))
	app.Handle("POST /login/resend", s.handle(s.loginResend))
	app.Handle("POST /logout", s.handle(s.logout))
	app.Handle("GET /help/forgot", s.handle(s.helpForgot))
	app.Handle("GET /privacy", s.handle(s.privacy))
	app.Handle("GET /accessibility", s.handle(s.accessibility))
	app.Handle("/", s.handle(func(http.ResponseWriter, *http.Request) error { return errNotFound }))
	outer := http.NewServeMux()
	s.oidcRoutes(outer, app)

	var chain http.Handler = app
	chain = s.checkCSRF(chain)
	chain = s.limitBody(chain)
	chain = s.negotiateLanguage(chain)
	chain = s.loadSession(chain)

	outer.HandleFunc("GET /healthz", s.healthz)
	outer.HandleFunc("GET /readyz", s.readyz)
	outer.Handle("GET /static/{path...}", s.handle(s.serveStatic))
	if s.cfg.DevMailbox {
		outer.Handle("/dev/mailbox", s.deps.Mailbox)
		outer.Handle("/dev/mailbox/", s.deps.Mailbox)
	}
	if s.deps.DemoService != nil {
		outer.Handle(DemoServicePath, s.deps.DemoService)
	}
	outer.Handle("/", chain)

	var h http.Handler = outer
	h = s.recoverPanics(h)
	h = s.securityHeaders(h)
	h = s.logRequests(h)
	return h
}
