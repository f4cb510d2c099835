package clock

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clock")
	if _, err := FromFile(path); err == nil {
		t.Error("FromFile of a missing file: no error")
	}
	if err := os.WriteFile(path, []byte("tomorrow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := FromFile(path); err == nil {
		t.Error("FromFile of a file without an instant: no error")
	}
	write := func(s string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// A distinct modification time per write, whatever the file system's resolution.
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	// Written an hour ago: the clock stands an hour after the file's instant.
	write("2024-01-15T10:00:00Z", time.Now().Add(-time.Hour))
	c, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Now()
	if want := time.Date(2024, 1, 15, 11, 0, 0, 0, time.UTC); got.Before(want) || got.Sub(want) > time.Minute {
		t.Errorf("Now = %s, want just after %s", got, want)
	}
	write("2024-01-31T00:00:00+01:00", time.Now())
	got = c.Now()
	if want := time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC); got.Before(want) || got.Sub(want) > time.Minute {
		t.Errorf("Now after rewriting the file = %s, want just after %s", got, want)
	}
	write("garbage", time.Now().Add(time.Second))
	if got2 := c.Now(); got2.Before(got) || got2.Sub(got) > time.Minute {
		t.Errorf("Now after a bad write = %s, want the clock running on from %s", got2, got)
	}
}
