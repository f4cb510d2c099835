// Package smtptest runs a real SMTP server in the test process, on 127.0.0.1 with a random
// port, built on github.com/emersion/go-smtp. Tests of the outbox, of other packages that send
// mail, and the end-to-end harness deliver to it over TCP exactly as to a production relay.
//
// Start returns a running Server, stopped when the test ends. It records every DATA it reads
// (Attempts) and the messages it accepted (Messages), parsed with net/mail, with helpers for the
// decoded subject and the text and HTML parts. Knobs make it misbehave on purpose: answer 4xx or
// 5xx for the next N messages (FailNext, TempFailNext, RejectNext), require AUTH PLAIN with
// given credentials (RequireAuth), delay its answers (SetDelay), and go down and come back on the
// same port (Stop, Restart). WithSTARTTLS offers STARTTLS with a throwaway self-signed
// certificate; ClientTLSConfig trusts it.
package smtptest
