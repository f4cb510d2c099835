// Package account manages citizens' accounts: creating them with every field validated, and
// changing passwords. Later, the profile and verified e-mail changes of My digital keys live
// here too. Validation problems are LocalizedErrors, so the same rules speak the citizen's
// language on a web form and English on the operator's command line.
//
// The operator's bulk and data-protection work is here as well. An Importer brings citizens
// from another system with their password hashes (and token cards) from a CSV file in two
// streaming passes — Check reports every problem with its line number and writes nothing,
// Import writes the checked file in one transaction — so an import is all or nothing, constant
// in memory but for its duplicate check, and idempotent (taken usernames are skipped). Export
// writes everything held about a citizen as JSON, without secrets; Delete removes a citizen and
// keeps their audit events under a keyed pseudonym (import.go and gdpr.go say why).
package account
