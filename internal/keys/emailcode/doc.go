// Package emailcode is the "security code by e-mail" key kind: after username and password the
// citizen enters a 6-digit code that was e-mailed to them.
//
// Codes are issued by Issue and checked by Check, both also used outside logon (the
// registration code that activates the key — BeginEnrolment, ResendEnrolment, CheckEnrolment —
// and the portal's verification of a new e-mail address, purpose store.CodeEmailChange). The rules, all from Config:
//
//   - a code is valid for Validity (5 minutes) and used at most once (store.Codes.UseCode is
//     atomic, so two concurrent right answers give one success);
//   - a newer code of the same purpose supersedes the older ones;
//   - after TriesPerCode (5) wrong answers the code is dead (ErrCodeTries);
//   - at most MaxCodes (3) codes per purpose per Window (15 minutes) are issued; over that,
//     a keys.ResendLimitError says how long until the oldest leaves the window.
//
// Codes are drawn uniformly (no modulo bias) from the injected random source and stored only as
// a keyed hash binding the purpose, the account and the address it was sent to, so a code
// cannot be replayed for another purpose, account or address. The code row and its e-mail are
// written through the same store (in one transaction), so they commit together.
//
// A wrong answer is counted in the store before Verify or Check returns ErrWrongCode: a caller
// that runs them inside a transaction must commit it even when they fail, or the count is lost.
package emailcode
