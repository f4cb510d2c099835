// Package login is the logon transaction of SPEC §3: choose a key → username and password → the
// key's code step → done.
//
// A Transaction is a plain value with an explicit Step; the Service moves it from step to step
// and never touches HTTP. The web layer keeps the Transaction in the server-side session (as
// JSON), so a logon started on one node can finish on another. Everything the Service decides —
// throttling, lockout, which key answers the challenge — is read from and written to the store,
// so all nodes agree.
//
// The Service knows no key kind by name except the always-present password: what a kind asks
// after the password comes from the keys.Challenger capability. Wrong usernames and wrong
// passwords get the same error, the same throttling (counted per typed username, under a keyed
// hash of it — or, from a browser whose device cookie names that username, per device) and the
// same cost (password.Hasher makes every failure cost what the dearest hash parameters in use
// cost), so nothing reveals whether a username exists. A code's shape is checked
// (keys.NormalizeCode) before any attempt is counted. Refusals by a throttle are recorded twice
// per throttle period, not per request (audit.Throttled).
//
// A done transaction is not a logon yet: Complete records it (logon.success) inside the
// transaction that gives the citizen the logged-on session, so it is recorded once, by the
// request that completed it.
package login
