// Package account manages citizens' accounts: creating them with every field validated, and
// changing passwords. Later, the profile and verified e-mail changes of My digital keys live
// here too. Validation problems are LocalizedErrors, so the same rules speak the citizen's
// language on a web form and English on the operator's command line.
package account
