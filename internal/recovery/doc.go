// Package recovery gets a citizen who forgot their username or password back in (SPEC §10,
// issue 12):
//
//	ForgotUsername  an e-mail address is typed; when an account has it, the username is
//	                e-mailed to it
//	ForgotPassword  a username or an e-mail address is typed; when it names an account, a
//	                single-use reset link (valid Config.ResetValidity, 30 minutes) is e-mailed
//	                to the account's address
//	OpenReset       the link is followed: it gives a Reset, kept in the browser's session
//	ChooseFactor,   when the citizen holds a key the mailbox does not prove (a token card, an
//	SubmitFactor    app key), one of them is asked, through the logon's own code step
//	                (login.Service.BeginFactor and SubmitCode: its throttles and lockout)
//	SetPassword     the new password, under the one password policy (password.ValidateNew);
//	                in one transaction the link is used up, the hash replaced, every session
//	                of the citizen ended, the citizen e-mailed and the change audited
//
// The rule behind the second factor: someone who controls only the citizen's mailbox must not
// reach level substantial for a citizen who holds a token card or an app key. An account with
// no usable password (imported with `none`) sets its first one here.
//
// No answer reveals an account. Both request pages answer the same whether or not the typed
// address or username is known, and do the same work: an unknown one still draws a secret,
// renders the e-mail (into nothing) and writes its audit event; only the mailbox learns the
// difference. Both are limited per client address and per typed address or username
// (attempts.Quota, counted alike for known and unknown ones, each page apart), and a citizen
// gets at most Config.PerIdentifier reset links per hour whichever way they are asked for.
// RedeemCode (a helpdesk recovery code) counts only per client address, on its own count: the
// code's wrong tries (RecoveryTries) bound the guessing, and no stranger can use up the
// citizen's way back in by asking for e-mails in their name.
//
// A link is "<account id>.<secret>"; the store keeps only a keyed hash of the secret, as a
// store.Code of purpose CodeReset. Only the newest link of an account works, once.
package recovery
