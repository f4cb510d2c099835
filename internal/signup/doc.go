// Package signup is self-registration (SPEC §11, issue 13): a citizen creates an account with a
// username, a name, an e-mail address, a preferred language and a password; the account exists
// only once they enter the code sent to the address, and they are then logged on with their
// password key (level low) and sent to the activation wizard for a key of level substantial.
// (The package is called signup to keep it apart from the activation wizard's "registration
// code" of a new key.)
//
// A Service moves one registration, kept in the browser's session as a Pending:
//
//	Start        the form is checked (every field, the one password policy of
//	             internal/password), the password hashed (argon2id), and an e-mail sent: the
//	             code, or — when an account already has the address — a notice that someone
//	             tried to register with it, which carries no code
//	Resend       a new e-mail of the same kind; the previous code stops working
//	CheckCode    the code is counted, then compared; the right one verifies the address
//	Complete     in the caller's transaction (the web layer's session rotation): the account,
//	             its audit events and the welcome e-mail
//	ChangeUsername  after a verified code, when the username was taken meanwhile
//	Cancel       the registration stops
//
// No answer reveals another account. A taken address gets the same pages, in the same time
// class, as a free one — the password is hashed either way, the same statements run, one
// e-mail is written — and only its mailbox learns the difference. Whether the username is
// taken is not looked at before the code was entered: the code proves that the citizen reads
// the address, and only then are they told that the username cannot be used and asked for
// another (a few tries), so a guesser needs a mailbox and a code per handful of usernames.
//
// Every e-mail is a row of the store (store.Signup), so the limits hold on every node: per
// e-mail address the code rules of the e-mailed codes (emailcode.Config: a few codes per
// window) and at most Config.PerEmail e-mails a day, so nobody can flood an address with
// codes or notices; per client address a Quota of registrations started or codes resent, and
// wrong codes count against the address's code limiter as on every other code page.
package signup
