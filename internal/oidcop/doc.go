// Package oidcop is Sleutelbos' OpenID Provider (SPEC §6): online services send citizens here
// to log on, asking a minimum level of assurance, and get back an ID token saying who logged
// on, at what level (acr), with which methods (amr) and when (auth_time).
//
// It is built on github.com/zitadel/oidc/v3's op package, which supplies the token response
// (ID token claims, at_hash and c_hash, RS256 signing), id_token_hint verification and the
// protocol types. The rest is ours, because the op package leaves it open or does it
// differently from what a login service of record needs:
//
//   - Authorize checks every parameter and stores the request (store.AuthRequest). It
//     requires PKCE S256 from every client (the op package only from public ones), evaluates
//     acr_values against the configured table (internal/oidcop/acr), keeps prompt and max_age
//     for the logon, refuses request objects, and never redirects to a URI the client did not
//     register: such requests get a *PageError, which the web layer shows in the citizen's
//     language.
//   - The web layer sends the citizen to LoginPath?id=…, asks Decide whether the session in
//     the browser meets the request (level, prompt=login, max_age, prompt=none), starts a
//     logon bound to the same citizen when it does not, and calls Complete, which records the
//     logon once (a second completion is refused on every node) and issues the code.
//   - The token endpoint authenticates the client first, consumes the code when it looks it
//     up, and revokes the access token of a code presented twice (RFC 6749 §4.1.2). No refresh
//     tokens are issued: an ID token issued on refresh would carry no acr.
//   - Signing keys live in the database (store.SigningKey), private halves sealed with the
//     encryption keyring; every node signs with the key of the highest active generation.
//     A new key is published twice the JWKS cache lifetime before it signs, an old one until
//     KeyRetention after it stopped; JWKS answers say how long they may be cached.
//   - Subjects are keyed hashes of the account id (pairwise per client when registered so);
//     the sid claim is the session's own stable identifier.
//
// Protocol errors are values (Error); the machine endpoints (Handler: discovery, JWKS, token,
// userinfo) answer them as JSON, the browser endpoints as redirects to the online service.
package oidcop
