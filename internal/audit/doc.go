// Package audit records what happens to citizens' accounts and keys in the append-only audit
// log, and exports it.
//
// The event types and the reasons of failed logons are constants here, so every flow names
// them the same way and reports can count them. A Recorder stamps an event with the time (from
// its clock) and a default actor, stores it with the Appender it is given — usually the
// transaction of the change it describes, so the change and its record commit together — and
// writes a structured log line with the same fields.
//
// Audit events never hold a secret: no password, code, TOTP secret or session id, not in the
// fields and not in Detail. Failed logons for unknown usernames carry account id 0, so the log
// does not enumerate usernames either.
//
// Export writes the log as JSON Lines for `sleutelbos admin audit export`, paging through the
// store so memory stays flat however long the log is.
package audit
