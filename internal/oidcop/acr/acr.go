// Package acr maps OpenID Connect acr values (authentication context class references) to
// Sleutelbos' levels of assurance and back. The table is configuration: by default the eIDAS
// URIs, and the aliases of Belgium's FAS for online services that migrate from it.
package acr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

// Default is the default table: the eIDAS level URIs and the FAS aliases (Level200 is a
// password, low; Level400 is a password and a security code, substantial). Earlier entries
// name a level first when the request does not say how to name it.
const Default = "http://eidas.europa.eu/LoA/low=low," +
	"http://eidas.europa.eu/LoA/substantial=substantial," +
	"http://eidas.europa.eu/LoA/high=high," +
	"urn:be:fedict:iam:fas:Level200=low," +
	"urn:be:fedict:iam:fas:Level400=substantial"

// maxValueLen bounds one acr value; URIs are much shorter.
const maxValueLen = 256

// entry is one acr value and the level it names.
type entry struct {
	value string
	level keys.Level
}

// Table maps acr values to levels, in configuration order. The zero Table names nothing.
type Table struct {
	entries []entry
}

// Parse reads a table written as "value=level,value=level,…" with levels low, substantial or
// high. Every level must have at least one value (the ID token always names the level it
// reached), values are unique and contain no spaces (acr_values is space-separated). Every
// problem is reported at once.
func Parse(spec string) (Table, error) {
	var t Table
	var errs []error
	seen := map[string]bool{}
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			errs = append(errs, fmt.Errorf("entry %d is empty", i+1))
			continue
		}
		// A URI may hold '=' in a query; the level never does, so split at the last one.
		sep := strings.LastIndexByte(item, '=')
		if sep < 0 {
			errs = append(errs, fmt.Errorf("entry %d %q: want value=level", i+1, item))
			continue
		}
		value, name := strings.TrimSpace(item[:sep]), strings.TrimSpace(item[sep+1:])
		level, err := keys.ParseLevel(name)
		switch {
		case value == "":
			errs = append(errs, fmt.Errorf("entry %d %q: no acr value before '='", i+1, item))
			continue
		case len(value) > maxValueLen:
			errs = append(errs, fmt.Errorf("entry %d: the acr value is longer than %d characters", i+1, maxValueLen))
			continue
		case strings.ContainsFunc(value, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r > '~' }):
			errs = append(errs, fmt.Errorf("entry %d %q: an acr value is printable ASCII without spaces or quotes", i+1, value))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("entry %d %q: %w", i+1, item, err))
			continue
		case seen[value]:
			errs = append(errs, fmt.Errorf("entry %d: %q is listed twice", i+1, value))
			continue
		}
		seen[value] = true
		t.entries = append(t.entries, entry{value: value, level: level})
	}
	for _, l := range []keys.Level{keys.LevelLow, keys.LevelSubstantial, keys.LevelHigh} {
		if len(errs) == 0 && t.first(l) == "" {
			errs = append(errs, fmt.Errorf("no acr value names level %s", l))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Table{}, err
	}
	return t, nil
}

// MustParse is Parse for tables known to be valid (Default); it panics otherwise.
func MustParse(spec string) Table {
	t, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return t
}

// Values lists every acr value, in table order (acr_values_supported).
func (t Table) Values() []string {
	out := make([]string, len(t.entries))
	for i, e := range t.entries {
		out[i] = e.value
	}
	return out
}

// Level returns the level value names.
func (t Table) Level(value string) (keys.Level, bool) {
	for _, e := range t.entries {
		if e.value == value {
			return e.level, true
		}
	}
	return keys.LevelNone, false
}

// MinLevel returns the minimum level a request's acr_values ask for: acr_values lists values
// any of which satisfies the request, so the lowest level named counts. Unknown values are
// passed over; ok is false when none is known.
func (t Table) MinLevel(requested []string) (level keys.Level, ok bool) {
	for _, v := range requested {
		if l, known := t.Level(v); known && (!ok || l < level) {
			level, ok = l, true
		}
	}
	return level, ok
}

// Name returns the acr value that names reached for a request that asked requested: one of
// the requested values when one names exactly that level; otherwise a value of the same
// family as the first known requested value (the same URI or URN prefix, so an online service
// that speaks FAS hears FAS); otherwise the table's first value for the level.
func (t Table) Name(reached keys.Level, requested []string) string {
	for _, v := range requested {
		if l, ok := t.Level(v); ok && l == reached {
			return v
		}
	}
	for _, v := range requested {
		if _, ok := t.Level(v); !ok {
			continue
		}
		prefix := family(v)
		for _, e := range t.entries {
			if e.level == reached && family(e.value) == prefix {
				return e.value
			}
		}
		break
	}
	return t.first(reached)
}

// first returns the first value naming level, or "".
func (t Table) first(level keys.Level) string {
	for _, e := range t.entries {
		if e.level == level {
			return e.value
		}
	}
	return ""
}

// family is a value up to its last '/' or ':' ("http://eidas.europa.eu/LoA/",
// "urn:be:fedict:iam:fas:").
func family(v string) string {
	return v[:strings.LastIndexAny(v, "/:")+1]
}
