// Package demo creates the demo citizens of `sleutelbos serve --demo`, so a newcomer can log on
// with every key kind and walk the token phase-out without importing anything, and serves the
// demo online service (service.go): a relying party of the node itself, built on go-oidc and
// x/oauth2 like an online service written in Go, that shows the whole OpenID Connect round trip
// — log on, the ID token's and userinfo's claims, a step-up to substantial, log out.
//
// Creation is idempotent: a citizen that exists is left alone. The secrets of demo keys are
// derived from the node's hash key (a "demo seed"), so the same codes can be printed again on
// every start without ever storing them in plaintext — which also means they are only as secret
// as the demo mode that prints them, and must never be used for real people.
//
// Print shows each authenticator app secret three ways: base32 for typing, the otpauth:// URI,
// and that URI's QR code drawn in Unicode half blocks (TerminalQR), so a phone can scan it off
// the terminal.
package demo
