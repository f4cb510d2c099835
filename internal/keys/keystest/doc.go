// Package keystest holds the behaviour every key kind with a logon step (a keys.Challenger)
// must show, as one suite that each kind's package runs against the real stores:
//
//	func TestChallenger(t *testing.T) {
//		for _, b := range sqltest.Backends() {
//			t.Run(b.Name, func(t *testing.T) { keystest.RunChallenger(t, harness(b)) })
//		}
//	}
//
// The kind supplies a Harness whose Setup builds a fresh Fixture per subtest: a store, the kind
// wired to a Clock the suite can advance, an account with an active key, and a way to find the
// right answer to a challenge (read the e-mailed code from the outbox, compute the TOTP code,
// look up the card code). The suite checks that the right answer is accepted, a wrong one is
// retryable (keys.ErrWrongCode), surrounding spaces are ignored, malformed answers are wrong,
// challenges hold no secret and — where the kind promises it — an answer is accepted once only,
// also under concurrency, and expires.
//
// RunEnroller is the same for every kind citizens can activate in My digital keys (a
// keys.Enroller): the enrolment begins in the caller's transaction, holds no secret, shows typed
// fields, returns the key to create (the portal stores it) for a right answer, refuses
// malformed answers before any check, expires, is bound to its account, and the key it returns
// logs on.
//
// It also provides the small test doubles the kinds share: Clock, a recording Mailer that
// writes to the outbox, and NewAccount.
package keystest
