// Package web is the citizen-facing HTTP side of Sleutelbos: the logon pages of SPEC §3, My
// digital keys (SPEC §4, on top of internal/portal), the header every page shares, sessions,
// and the protections of SPEC §8 (CSRF, security headers, body limits, session timeouts).
//
// New builds a Server from a Config (plain values from the composition root) and Deps (the
// store, the catalogues, the logon service, the clock and randomness). Everything is parsed and
// checked at New: a missing template fails the start, not the first request.
//
// A request passes two layers. The outer layer serves everything that needs no session —
// /healthz, /readyz, /static/, the development mailbox, the demo online service and the
// OpenID provider's machine endpoints — behind the request log, the security headers and
// panic recovery. Everything else passes the application chain:
//
//	loadSession → negotiateLanguage → limitBody (size, UTF-8) → checkCSRF → route
//
// Routes are private by default: routes.go lists the public ones (the outer layer's, the logon
// pages, "Create an account", help, the privacy and accessibility statements, the OpenID provider's browser
// endpoints, the 404) and guard (access.go) wraps every other route so that a logged-off request goes to
// the logon — a page coming back to itself afterwards, a form changing nothing. Routes that
// change keys or the e-mail address (recentRoutes) also need a recent logon of the level the
// portal asks for (portal.Service.CheckAuth); otherwise the citizen logs on again and returns.
// The operator pages under /operator (operator.go: a phase-out's campaign, its chart, the
// at-risk CSV, reminders, over internal/campaign) need the operator role, read from the store
// on every request, and a logon at level substantial.
//
// Each middleware fills a per-request state (the session, the account, the language, the CSRF
// token) that handlers and the error pages read, so even a 413 or a 500 is shown in the
// citizen's language with the normal header.
//
// Handlers return an error; serveError maps it to a status and a localised error page. A
// *i18n.LocalizedError is shown in its own words; anything else is logged and shown as the
// generic message, so internal details never reach a citizen. Pages are typed structs that
// embed BasePage (language, translator, CSRF token, header data); templates are embedded and
// translated through BasePage.T.
//
// Sessions are server-side rows (store.Sessions). The "sid" cookie holds 32 random bytes; only
// their SHA-256 is stored. On https every cookie is "__Host-"-prefixed (cookies.go). A form's
// CSRF token is an HMAC of the session id, or before a session exists of the "csrf" cookie, so
// a token from one session is refused in another (csrf.go). Idle and absolute timeouts are
// enforced when a session is read, the last-seen time is written at most once a minute, and the
// id changes at every logon: the rotation commits only when it removed the old row, together
// with the logon's record (login.Service.Complete), so of parallel requests completing one
// logon exactly one wins; the others, and any request whose session vanished (errSessionGone),
// go to the chooser with a flash and leave the session cookie alone. The logon transaction
// (login.Transaction) lives in the session's JSON data between requests, so any node can
// continue a logon another node started. The winner's browser also gets a signed device cookie
// (device.go) that gives its later password attempts a failure budget of their own. A logon
// started without a session — on the chooser or by an online service — takes one of its
// address's logon starts (Deps.StartQuota).
//
// The OpenID provider (internal/oidcop, Deps.OIDC) is mounted by oidc.go: its machine endpoints
// in the outer layer, its browser endpoints as pages. oidc_login.go is the bridge to the logon:
// a session that meets an online service's request completes it (single sign-on); otherwise a
// logon starts at the request's level, bound to the logged-on citizen if there is one, and
// returns to /oidc/continue, which answers the online service through a page that moves on by
// itself (after a form, the CSP's form-action would block a redirect to another site).
// oidc_logout.go ends the session at an online service's request. These endpoints are public
// routes: each answers a visitor without a session itself.
//
// The activation wizard (portal.Wizard) lives in the session too. wizard_submit.go is its one
// adapter: it checks the form belongs to the wizard and step in the session (so Back, a double
// click or an old tab change nothing), calls one transition, saves the session once and
// redirects (POST → 303 → GET); wizard_show.go renders the step the wizard is at; wizard_qr.go
// draws the QR code of an app key being activated, only for this session's wizard.
//
// "Create an account" (register.go, Config.Registration, Deps.Signup) keeps the registration in
// progress (signup.Pending) in the pre-logon session; the right code creates the account inside
// the session rotation that logs the citizen on at level low (the rotation's callback gets its
// transaction), and the citizen goes to the activation wizard. A registration started without
// a session counts against the registration quota of its address, not the logon starts.
//
// "Forgot your username and/or password?" (forgot.go, reset.go, Deps.Recovery): the two request
// forms redirect to the same page whatever they found; the reset link keeps a recovery.Reset in
// the session and leaves its address at once, then asks a token card's or app's code when the
// citizen has one (the logon's own code step) and the new password; /recover opens a reset with
// a helpdesk recovery code. The helpdesk console (helpdesk.go, Deps.Helpdesk) lives under
// /helpdesk, behind the helpdesk role and a substantial logon (checkHelpdesk, from guard).
//
// A form answered with errors sets BasePage.Errors and gets the GOV.UK error pattern from
// templates/partials.html — the logon pages and My digital keys alike; a notice about what
// happened before (the logon expired or was completed elsewhere, the citizen signed out, a key
// was deactivated, a new registration code was sent) travels in a one-time flash cookie, never in the URL.
//
// Files follow the flows: login_show.go (the key chooser), login_choose.go, login_password.go,
// login_code.go (with "send a new code"), login_finish.go, register.go, forgot.go, reset.go,
// helpdesk.go, portal_lost.go, logout.go, home.go, help.go (help,
// privacy notice, accessibility statement), health.go, oidc*.go, portal_keys.go (key list,
// deactivate, reactivate), wizard_*.go, portal_profile.go and portal_info.go; portal_page.go
// holds the portal pages' base and notices; the machinery lives in server.go, routes.go,
// access.go, middleware.go, csrf.go, cookies.go, device.go, session.go, render.go and errors.go.
package web
