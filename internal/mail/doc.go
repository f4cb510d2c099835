// Package mail turns an event ("send this citizen a logon code") into a complete e-mail in the
// citizen's language and puts it in the durable outbox.
//
// A Composer holds the parsed templates. Each template is a pair of files embedded under
// templates/: NAME.txt.tmpl (text/template) defines the "subject" and the plain-text "body";
// NAME.html.tmpl (html/template) defines the HTML "body". The layouts layout.txt.tmpl and
// layout.html.tmpl wrap every body with the greeting and the footer. Templates contain no words:
// every sentence comes from the i18n catalogues (catalog/*/mail.json) through the T function,
// which is bound to the recipient's language when the templates are parsed (one parsed set per
// language, so rendering needs no locking and no cloning). T refuses a key that is missing from
// the catalogue, so a typo fails the render instead of reaching a citizen. NewComposer parses
// every template for every language and fails when one is missing.
//
// Render produces a store.Message: subject, text and HTML bodies, a fresh Message-ID that stays
// the same across delivery retries (so receivers can de-duplicate), and the pending state (held
// when no SMTP server is configured, for the development mailbox). Enqueue renders and calls
// Outbox.Enqueue; call it with the transaction-bound store of the change that causes the
// message, so that the change and its e-mail commit or roll back together.
//
// Bad input is refused early: ValidateAddress is meant for the moment an address is entered
// (its error is an i18n.LocalizedError a form can show), and is checked again at enqueue. CR and
// LF never reach a header: names and subjects are flattened to one line before they are stored,
// and the SMTP sender (package outbox) encodes headers on top of that. A rendered message above
// ComposerConfig.MaxBytes is refused with ErrTooLarge.
//
// Delivery itself is package outbox's job.
package mail
