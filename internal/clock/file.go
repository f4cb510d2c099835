package clock

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// File is a clock that browser tests set from outside the process (serve --test-clock-file,
// demo mode only): the file holds an RFC 3339 instant, and the clock runs on from that
// instant as real time passes since the file was last written. Rewriting the file moves the
// clock. A file that cannot be read or parsed later leaves the clock where the last good
// reading put it (running on).
type File struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	base    time.Time // the instant in the file
	setAt   time.Time // the file's modification time: when base was the time
}

// FromFile returns a clock reading path, which must hold an instant now.
func FromFile(path string) (*File, error) {
	c := &File{path: path}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Now returns the file's instant plus the real time elapsed since it was read.
func (c *File) Now() time.Time {
	wall := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if fi, err := os.Stat(c.path); err == nil && !fi.ModTime().Equal(c.modTime) {
		_ = c.reloadLocked()
	}
	return c.base.Add(wall.Sub(c.setAt)).UTC()
}

func (c *File) reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked()
}

func (c *File) reloadLocked() error {
	fi, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("test clock: %w", err)
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("test clock: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("test clock %s: want an RFC 3339 instant: %w", c.path, err)
	}
	c.modTime, c.base, c.setAt = fi.ModTime(), t, fi.ModTime()
	return nil
}
