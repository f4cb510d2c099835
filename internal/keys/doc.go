// Package keys is the digital-key abstraction shared by the logon flow, the portal, the
// phase-out policy and the OpenID provider.
//
// A Kind is one kind of key (password, tokencard, emailcode, totp, later WebAuthn). Every kind
// has a name, a level of assurance and display names in the catalogues
// ("key.<name>.name", "key.<name>.short"). What a kind can do beyond that is expressed by
// optional capability interfaces, found by type assertion, so a new kind brings only what it
// needs and the logon flow never names a kind:
//
//   - Challenger: a second step after username and password (a code, later a WebAuthn
//     assertion). Begin prepares the step, Verify checks the answer.
//   - Resender: the citizen may ask for a new code (e-mail).
//   - Enroller: the citizen can activate a new key of this kind in My digital keys. The kind
//     begins an enrolment (e-mails a registration code, draws a secret), shows it as typed
//     fields (EnrolmentView), normalises an answer (a malformed one is a format error,
//     IsFormatError, and is never counted) and checks it, returning the key to create; the portal counts wrong
//     answers before they are compared and creates the key, with everything that goes with
//     it, in one transaction.
//   - EnrolmentResender: a new registration code; Preparer: something to do before the
//     enrolment begins (install an authenticator app).
//
// Token cards and passwords are never Enrollers: cards are only imported (SPEC §2).
//
// A kind is handed Store, the few storage methods kinds use (the codes they check, the
// counters they advance, and transactions it views through narrow interfaces of its own with
// store.InTx), or, where it only checks a code, CodeStore. A typed code is read one way
// everywhere — the logon's code step, the activation wizard, a new e-mail address's code — by
// NormalizeCode (spaces and dashes dropped, then exactly the digits asked for, else
// ErrCodeEmpty or ErrCodeFormat, which say what is wrong); IsCode is the shape check it uses.
//
// The Registry is built in the composition root (internal/app) with the kinds that are enabled.
package keys
