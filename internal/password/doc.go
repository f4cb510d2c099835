// Package password hashes and verifies citizens' passwords with argon2id and holds the policy
// for new passwords.
//
// A Hasher produces PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>") that carry
// their own parameters, so the parameters can be raised later: Verify checks a password against
// whatever parameters its hash was made with and reports needsRehash when they differ from the
// current ones, and the logon flow then stores a fresh hash of the (correct) password.
//
// argon2id is memory-hard on purpose: every hash takes Params.Memory KiB. To keep memory
// bounded under load, a Hasher runs at most maxConcurrent hashes at once (GOMAXPROCS by
// default); further callers wait their turn, or give up when their context ends.
//
// Logon must not reveal whether a username exists. When the username is unknown, the caller
// runs Equalize, which costs one hash like Verify does, so both answers take the same time.
//
// ValidateNew is the policy for a password a citizen chooses: at least MinLength characters,
// at most MaxBytes bytes, valid UTF-8. Its errors are i18n.LocalizedError values the web layer
// shows in the citizen's language.
package password
