// Package admin implements `sleutelbos admin …`, the operator's commands: users (with the bulk
// import of citizens, their export and deletion), token card import and (demo) printing, the
// mail outbox, the audit export and secret generation, phase-out policies, the operator role
// (users grant-operator, revoke-operator) and the campaign's report, at-risk list and reminder
// rounds (phaseout report, at-risk, remind; campaign.go).
//
// Every command takes the same configuration flags as serve (before the command words), opens
// the node through app.Open so it sees the same database and secrets, validates its input in
// one place and reports every problem at once, and records what it changed in the audit log.
package admin
