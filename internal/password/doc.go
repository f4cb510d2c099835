// Package password hashes and verifies citizens' passwords with argon2id and holds the policy
// for new passwords. It also verifies the hashes of citizens imported from another system —
// bcrypt, and PBKDF2-SHA256/512 in PHC, passlib or Django form (formats.go, Inspect) — which the
// logon then replaces by argon2id hashes, and an empty hash, no password at all, which never
// matches.
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
// Logon must not reveal whether a username exists, whatever mix of parameters the stored hashes
// were made with. A Hasher works in cost classes (an algorithm with its parameters) and makes
// every failure cost what the dearest class in use costs: when the username is unknown the
// caller runs Equalize, one hash of the dearest class; a wrong password of a cheaper class waits
// in Verify until it took as long. The classes in use are the configured one and the store's
// (WithStoredClasses), legacy ones included; equalize.go explains the choices. An account
// without a usable password fails like a wrong password, at an unknown username's cost.
//
// ValidateNew is the one policy for a password a citizen chooses, wherever it is chosen (the
// admin commands, self-registration, a reset): at least MinLength characters, at most MaxBytes
// bytes, valid UTF-8, not the username or e-mail address and not on the list of common
// passwords shipped with the binary (common_passwords.txt, 49,233 passwords from zxcvbn's
// frequency lists; common_passwords.NOTICE says where from and under which licence), both in
// any letter case. Its errors are i18n.LocalizedError values the web layer shows in the
// citizen's language.
package password
