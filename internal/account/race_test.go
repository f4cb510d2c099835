//go:build race

package account_test

// raceDetector: the race detector slows bcrypt some forty times.
const raceDetector = true
