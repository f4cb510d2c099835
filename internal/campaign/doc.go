// Package campaign is the operator's view of a key kind's phase-out (SPEC §5, issue 9): the
// campaign report and the reminder rounds.
//
// A Report counts, for one kind, the citizens with an active key of it by when they last used
// it (never, within a month, 1–6 months, 6–12 months, longer), those at risk of being locked
// out (an active key of the kind and no active key of another kind of level substantial), what
// the phase-out pop-up led to (prompts shown, each choice, migrations) and the migrations per
// day and target kind, with the kind's phase and policy dates. Every figure is an aggregate
// query of the store (store.Campaigns): nothing is counted by reading every row, so a report
// over a million citizens takes well under the two seconds the issue allows (make bench). The
// pop-up's events are written by the logon (audit.PhaseoutPromptShown, audit.PhaseoutChoice),
// migrations by My digital keys (audit.KeyDeactivated with Detail cause "migration" and
// "replaced_by"); the report reads them by the event's KeyKind, or its Detail "kind".
//
// The citizens at risk are streamed as CSV (WriteAtRiskCSV), a keyset page at a time, with
// cells defused against formula injection.
//
// Remind runs a reminder round: the phase-out reminder e-mail to every citizen at risk, once
// per round. A round is a row (kind, number); each citizen reminded is a row (round, account),
// unique, written in the transaction that enqueues the e-mail, a batch per transaction. So an
// interrupted round is continued by the next call (which reminds only those not reminded
// yet), two calls at once share the work without duplicates, and a finished round is not
// repeated unless a new round is asked for (RoundFinishedError). Every round's start, resume
// and end is an audited operator action.
package campaign
