// Package portal is My digital keys (SPEC §4): the citizen's key list, the four-step
// activation wizard, My profile and Info. It knows nothing of HTTP: the web layer decodes a
// request, calls one method here, and renders the result.
//
// The Service holds the business rules; every change it makes — a key activated, deactivated
// or reactivated, an e-mail address changed — commits in one transaction together with what
// goes with it: a replaced key deactivated, the e-mails in the citizen's language, the audit
// events. It declares the few storage methods it uses (Store, whose keys.Store part it hands
// the key kinds) and, for each kind of change, the narrow view of its transaction (keyStore,
// profileStore, enrolStore, entered with store.InTx). It takes the key kinds from the
// registry: a kind that citizens can activate is a keys.Enroller, which checks the citizen's
// answer and returns the key to create; the Service creates it.
//
// The Wizard is the activation in progress, a state machine with explicit steps (confirm the
// e-mail address → select a key → activate it → confirmation) that owns its state. Its fields
// are unexported; it is stored in the server-side session as JSON, so a wizard started on one
// node continues on another. Illegal transitions are errors, never silent resets, and the
// wizard expires. Two submissions of the same activation never create two keys: the key is
// created in the transaction that uses the activation's single-use token (a store.Code of
// purpose store.CodeEnrolment), whichever request comes first.
//
// Key changes need a recent logon (Config.RecentLogon, 15 minutes): see CheckAuth for the rule
// on the level that logon must have reached.
package portal
