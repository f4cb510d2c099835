// Package outbox delivers the e-mail that package mail put in the durable outbox.
//
// # Flow
//
// A change and its e-mail are written in one database transaction (mail.Composer.Enqueue with
// the transaction's store), so a message exists exactly when its cause was committed. A Worker
// inside `sleutelbos serve` then loops: ClaimMessages leases a batch of due messages to this node
// (PostgreSQL: FOR UPDATE SKIP LOCKED, so nodes pass over each other's rows; SQLite has one
// writer), a Sender delivers each one, and the outcome is recorded while the lease holds:
// MarkSent; RetryLater with exponential back-off (BaseBackoff·2^(attempt-1), capped at
// MaxBackoff, optionally jittered) for temporary failures; MarkFailed with the server's answer
// for permanent ones (SMTP 5xx) or after MaxAttempts. A message whose worker died stays claimed
// until its lease ends and is then claimed again by any node. Wake lets an enqueue nudge the
// worker instead of waiting for the next poll.
//
// SMTPSender is the real Sender, built on github.com/wneessen/go-mail: one connection per
// message with STARTTLS (mandatory, opportunistic or none) or implicit TLS, SMTP AUTH, and
// timeouts, all from Config. It sets Message-ID (the one stored at enqueue), Date, From, To with
// the display name, Subject, Auto-Submitted: auto-generated, and a multipart/alternative text and
// HTML body. Names and subjects are flattened to one line before go-mail encodes them, so a
// header cannot be injected.
//
// # Exactly once, and where it is only at least once
//
// Leases make sure two nodes never hold the same message at the same time, and every outcome
// is recorded only while the lease is still this node's. The worker also stops starting
// deliveries when less than Timeout remains of its lease and gives the rest of the batch back.
// SMTP itself cannot be made exactly-once: if a node dies after the server accepted the DATA but
// before MarkSent commits, the message is sent again after the lease. That window is one
// database round trip; the worker finishes a delivery in progress on shutdown instead of
// aborting it, and records the outcome with a context that shutdown does not cancel. Every
// retry carries the same Message-ID, so receiving systems can discard the rare duplicate.
//
// # Operations
//
// Status and Retry print for `sleutelbos admin mail status` and `admin mail retry ID|--failed`.
// Without a configured SMTP server no worker runs and messages are enqueued held; the
// development mailbox (package devmailbox) shows them. Package smtptest is an in-process SMTP
// server for tests.
package outbox
