// Package helpdesk is the helpdesk console's domain (SPEC §1 and §10, issue 12): a helpdesk
// agent — an account with the helpdesk role (store.RoleHelpdesk) — finds a citizen by exact
// username or e-mail address, sees what stands between them and a logon, and fixes it.
//
//	Find      one citizen, by exact username or e-mail address (audited: the agent saw them)
//	Citizen   their keys with states and last use, the throttles and lockouts on them, recent
//	          logons (time, key kind, outcome, address), the e-mails sent to them with their
//	          delivery state, and their audit trail
//	Explain   for a key kind and a level, why a logon fails now, in plain words and with what
//	          would fix it. The reasons are login.Service.Diagnose's: the logon's own rules,
//	          asked, not copied. The console adds what the logon does not know: the date a
//	          phase-out switched the kind off, and the server's answer when the last code
//	          e-mail bounced.
//	Lift…, Unlock, Deactivate, Resend, IssueRecoveryCode
//	          the fixes. Each needs a reason, is refused on the agent's own account and for a
//	          citizen or key the page did not show, and — in one transaction with the change —
//	          is audited with the agent's username and e-mailed to the citizen (the resent
//	          e-mail is itself the citizen's e-mail).
//
// A recovery code (72 hours, single use, the newest superseding older ones) is shown once to
// the agent, who reads it out or posts it; the store keeps a keyed hash (a store.Code of
// purpose CodeRecovery). The citizen types it with their username on the recovery page
// (internal/recovery: RedeemCode) and then sets a new password and activates one new key (the
// wizard takes that browser's logon as substantial for it: portal.Auth.Recovery).
package helpdesk
