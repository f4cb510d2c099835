package keys

import "fmt"

// Level is an eIDAS level of assurance. The zero Level is below every real level.
type Level int

// Levels of assurance, in increasing order.
const (
	LevelNone Level = iota
	LevelLow
	LevelSubstantial
	LevelHigh
)

// String returns the eIDAS name: low, substantial or high.
func (l Level) String() string {
	switch l {
	case LevelLow:
		return "low"
	case LevelSubstantial:
		return "substantial"
	case LevelHigh:
		return "high"
	}
	return "none"
}

// Meets reports whether l is at least min.
func (l Level) Meets(min Level) bool { return l >= min }

// ParseLevel parses an eIDAS level name.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "low":
		return LevelLow, nil
	case "substantial":
		return LevelSubstantial, nil
	case "high":
		return LevelHigh, nil
	}
	return LevelNone, fmt.Errorf("level of assurance %q: want low, substantial or high", s)
}
