// Package totp is the "security code via mobile app" key kind: RFC 6238 time-based codes from an
// authenticator app (SHA-1, 6 digits, 30-second steps, ±1 step accepted, so a code remains
// valid for about 60 seconds).
//
// The 160-bit secret is never stored in plaintext: Key.Data holds it sealed with the
// secrets.Keyring (AES-256-GCM, the key id inside the blob for rotation) with the additional
// data "totp:<account id>", so a blob copied to another account does not open. Key.Counter is
// the last accepted time step; a code is accepted only when store.Keys.AdvanceKeyCounter moves
// the counter forward to its step, so no step is ever accepted twice, even by two server nodes
// at the same moment (ErrReplayed).
//
// Activation (Enroller, Preparer) first asks the citizen to install an authenticator app, then
// draws a fresh secret that travels in the enrolment state only sealed ("totp-enrol:<account
// id>"). ViewEnrolment opens it per request for the page: the otpauth:// URI (the portal draws
// the QR code from it) and base32 text in groups of four. CheckEnrolment accepts a code of the
// current step ±Skew within the enrolment window and returns the key to create, its counter at
// that code's step, so the registration code never logs on.
//
// Code and NewSecretForDemo support tests and the demo citizen.
package totp
