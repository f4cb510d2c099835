// Package devmailbox is the development mailbox: with no SMTP server configured (the embedded
// default), e-mails stay in the outbox in state held, and this handler lists and shows them so
// a developer or a demo user can read codes and confirmations.
//
// New returns a self-contained http.Handler for GET /dev/mailbox (the newest messages first:
// time, recipient, subject, state, language) and GET /dev/mailbox/{id} (headers, the text body
// in a <pre>, the HTML body in a sandboxed iframe through srcdoc — no scripts, no same-origin
// access — and its source as escaped text). Pages are valid, accessible HTML (a <main>
// landmark, <html lang>, a <title>, a captioned table with column headers, a titled iframe) from
// one small embedded html/template; every word comes from the "mailbox.*" keys of the i18n
// catalogues, in the language the lang function picks for the request.
//
// The composition root mounts it only with --demo or --dev-mailbox and no SMTP server (config
// refuses --dev-mailbox on https or behind a proxy); otherwise the route does not exist (404). It never changes anything and sends nothing.
package devmailbox
