// Package password is the "password" key kind: a logon with username and password alone, at
// the low level of assurance.
//
// Every account has one. The kind has no Challenger: the password itself is checked by the
// logon flow (internal/login with internal/password's argon2id hashing), before any second
// step, so this package only describes the kind to the key registry.
package password
