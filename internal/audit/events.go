package audit

// Event types.
const (
	LogonSuccess        = "logon.success"         // a citizen logged on; KeyKind says with what
	LogonFailure        = "logon.failure"         // a logon step failed; Reason says why
	LogonThrottled      = "logon.throttled"       // requests refused by a throttle (logon steps, code checks in My digital keys): two per throttle period, see ReasonThrottleStarted
	KeyLocked           = "key.locked"            // a key was locked after too many failures
	KeyActivated        = "key.activated"         // a key became active; Detail["via"] is "recovery_code" when a helpdesk recovery code let the citizen in
	KeyDeactivated      = "key.deactivated"       // a key was deactivated; Detail["cause"] says why
	KeyExpired          = "key.expired"           // a key expired
	KeyReactivated      = "key.reactivated"       // a locked key made active again by its citizen, or a phased-out key by a policy change
	EnrolmentFailure    = "key.enrolment_failure" // a wrong, expired or throttled registration code; Reason says which
	EmailChangeFailure  = "email.change_failure"  // a wrong, expired or throttled code for a new e-mail address
	PortalForged        = "portal.forged"         // a request to My digital keys named something the page never offered; Detail["field"] says what; past a few per account they are aggregated (logon.throttled, scope forged:ID)
	EmailChanged        = "email.changed"         // a citizen's e-mail address changed
	PhaseoutPromptShown = "phaseout.prompt_shown" // the phase-out pop-up was shown
	PhaseoutChoice      = "phaseout.choice"       // the citizen's answer to the phase-out pop-up
	OperatorAction      = "operator.action"       // an operator changed something (admin command)
	SessionLogout       = "session.logout"        // a citizen signed out
	PasswordChanged     = "password.changed"      // a citizen's password changed
	TokencardImported   = "tokencard.imported"    // token cards were imported
	AccountCreated      = "account.created"       // an account was created; Detail["via"] is "registration" for a self-registration
	// RegistrationRequested: a self-registration e-mail was sent — the code, or to an address
	// an account already has (Detail["in_use"], AccountID that account) the notice that
	// someone tried; Detail: address (masked), in_use, resend.
	RegistrationRequested = "registration.requested"
	// RegistrationFailure: a self-registration's code was wrong, expired or used up, or its
	// username taken; Reason says which, Detail["address"] the address (masked).
	RegistrationFailure = "registration.failure"
	OIDCAuthorized      = "oidc.authorized"    // an online service's logon request was completed; Detail: client, level, acr
	OIDCTokenIssued     = "oidc.token_issued"  // an authorization code was exchanged for tokens; Detail: client
	OIDCCodeReplayed    = "oidc.code_replayed" // a used authorization code came back: what it gave is revoked
	OIDCLogout          = "oidc.logout"        // an online service ended the citizen's session (RP-initiated logout)
)

// ChallengeRepeated: a new logon was asked the question an earlier logon was asked and nobody
// answered right yet (a token card position stays asked until then), a re-draw attempt;
// Detail["asked"] holds the question's arguments (the card position).
const ChallengeRepeated = "logon.challenge_repeated"

// Reasons of a logon.throttled event. Refused requests are aggregated (SPEC §8), not one row
// each: a throttle period with refusals gets one "started" event, at its first refusal (with the
// request's account and address), and one "ended" event with the total once the period is over
// (written by the next reservation of the scope or by the serve sweeper). Detail holds "scope",
// "refused" (1 when started, the total when ended) and "until" (RFC 3339).
const (
	ReasonThrottleStarted = "throttle_started"
	ReasonThrottleEnded   = "throttle_ended"
)

// Reasons of a logon.failure.
const (
	ReasonBadCredentials = "bad_credentials" // unknown username or wrong password (never told apart)
	ReasonWrongCode      = "wrong_code"      // a wrong security code
	ReasonCodeExpired    = "code_expired"    // the e-mailed code expired
	ReasonCodeTries      = "code_tries"      // too many wrong guesses of one code
	ReasonCodeUsed       = "code_used"       // a right code that was accepted before (a replayed TOTP step)
	ReasonKeyMissing     = "key_missing"     // no active key of the chosen kind
	ReasonKeyLocked      = "key_locked"      // the chosen key is locked
	ReasonOtherAccount   = "other_account"   // a step-up bound to one citizen was tried with another's password
	ReasonUsernameTaken  = "username_taken"  // a self-registration's username was taken (said after its code was right)
	ReasonForged         = "forged"          // a form named what the page never offered (a phase-out pop-up answer); Detail["field"] says which
)

// Actors: who caused an event.
const (
	ActorCitizen  = "citizen"
	ActorOperator = "operator"
	ActorSystem   = "system"
	ActorHelpdesk = "helpdesk" // a helpdesk agent; Detail["agent"] names them
)

// AccountDeleted: an operator deleted an account (admin users delete) with its keys, codes,
// sessions and messages. Reason is the operator's reason; AccountID is the pseudonym the
// account's earlier events were given, so the deleted citizen's trail stays linkable but no
// longer names them.
const AccountDeleted = "account.deleted"
