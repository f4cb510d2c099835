// Package tokencard is the legacy paper card ("security code via token"): a card with a serial
// number and 24 numbered codes of 6 digits. After username and password the citizen is asked
// for the code at one position, chosen at random and never the position asked last time. A
// position stays asked — in every new logon, on every node — until someone answers it right:
// otherwise whoever knows the password and one stolen code could restart the logon until the
// card's position is the one they know.
//
// The card's codes are never stored in plaintext: Key.Serial holds the serial, Key.Data a JSON
// document with one keyed hash per position (secrets.Hasher, domain "tokencard", bound to the
// serial and the position), and Key.Counter the position asked last, whether it was answered
// right, and the number of draws (so it only grows).
//
// Cards are never newly activated (there is no Enroller): they come from the operator's CSV
// import (ParseCSV validates the whole file and reports every problem at once, Import creates
// all keys in one transaction or none). For demo mode, DemoCodes derives a card's codes from
// the demo seed, so the demo card can be printed again without keeping plaintext codes
// anywhere.
package tokencard
