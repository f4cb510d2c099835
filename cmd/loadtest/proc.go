package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The kernel's own CPU accounting, read from /proc (Linux): a process's user and system time
// in clock ticks (/proc/PID/stat), its peak resident set (/proc/PID/status VmHWM), the
// machine's load average and CPU model. The driver's own CPU time comes from getrusage.

// procStat is the part of /proc/PID/stat the driver uses.
type procStat struct {
	PID, PPID int
	Comm      string
	// UTime and STime are the process's own user and system time; CUTime and CSTime those of
	// its children that have exited and been waited for. All in clock ticks.
	UTime, STime, CUTime, CSTime uint64
}

// parseStat parses the contents of /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself hold spaces and parentheses, so the fields after it are found
// from the last ')'.
func parseStat(b []byte) (procStat, error) {
	s := string(bytes.TrimSpace(b))
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 1 || closing < open {
		return procStat{}, fmt.Errorf("stat %q: no (comm)", truncate(s, 60))
	}
	var st procStat
	var err error
	if st.PID, err = strconv.Atoi(strings.TrimSpace(s[:open])); err != nil {
		return procStat{}, fmt.Errorf("stat %q: pid: %w", truncate(s, 60), err)
	}
	st.Comm = s[open+1 : closing]
	// rest[0] is field 3 (state); ppid is field 4, utime..cstime are fields 14..17.
	rest := strings.Fields(s[closing+1:])
	if len(rest) < 15 {
		return procStat{}, fmt.Errorf("stat of %d: %d fields after comm, want at least 15", st.PID, len(rest))
	}
	if st.PPID, err = strconv.Atoi(rest[1]); err != nil {
		return procStat{}, fmt.Errorf("stat of %d: ppid: %w", st.PID, err)
	}
	for i, dst := range []*uint64{&st.UTime, &st.STime, &st.CUTime, &st.CSTime} {
		if *dst, err = strconv.ParseUint(rest[11+i], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("stat of %d: field %d: %w", st.PID, 14+i, err)
		}
	}
	return st, nil
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// allStats reads /proc/*/stat of every process still there when it is read.
func allStats() ([]procStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // it exited meanwhile
		}
		out = append(out, st)
	}
	return out, nil
}

// ticks converts clock ticks to a duration.
func ticks(n uint64, hz int64) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(hz)
}

// atClkTck is the auxiliary vector entry of the clock tick rate (sysconf(_SC_CLK_TCK)).
const atClkTck = 17

// parseAuxv finds AT_CLKTCK in an auxiliary vector (/proc/self/auxv: pairs of native words).
func parseAuxv(b []byte, wordSize int, order binary.ByteOrder) (int64, error) {
	word := func(p []byte) uint64 {
		if wordSize == 4 {
			return uint64(order.Uint32(p))
		}
		return order.Uint64(p)
	}
	for i := 0; i+2*wordSize <= len(b); i += 2 * wordSize {
		typ, val := word(b[i:]), word(b[i+wordSize:])
		if typ == 0 {
			break
		}
		if typ == atClkTck {
			if val == 0 {
				return 0, errors.New("auxv: AT_CLKTCK is 0")
			}
			return int64(val), nil
		}
	}
	return 0, errors.New("auxv: no AT_CLKTCK")
}

// clockTicks returns the kernel's clock tick rate, the unit of /proc/PID/stat times: from the
// auxiliary vector the kernel gave this process, else from getconf CLK_TCK.
func clockTicks() (int64, error) {
	if b, err := os.ReadFile("/proc/self/auxv"); err == nil {
		if hz, err := parseAuxv(b, strconv.IntSize/8, binary.NativeEndian); err == nil {
			return hz, nil
		}
	}
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 0, fmt.Errorf("clock tick rate: neither /proc/self/auxv nor getconf CLK_TCK: %w", err)
	}
	hz, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || hz <= 0 {
		return 0, fmt.Errorf("getconf CLK_TCK said %q", strings.TrimSpace(string(out)))
	}
	return hz, nil
}

// parseStatusKiB returns the value in KiB of a "Key:   123 kB" line of /proc/PID/status.
func parseStatusKiB(b []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status %s: %q", key, strings.TrimSpace(v))
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("status: no %s", key)
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	kib, err := parseStatusKiB(b, "VmHWM")
	return kib * 1024, err
}

// resetPeakRSS sets the process's VmHWM back to its current RSS (Linux 4.0+), so the next
// peakRSS is the peak of what follows. It reports whether that worked.
func resetPeakRSS(pid int) bool {
	return os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "clear_refs"), []byte("5"), 0) == nil
}

// parseLoadavg returns the 1, 5 and 15 minute load averages of /proc/loadavg.
func parseLoadavg(b []byte) ([3]float64, error) {
	var l [3]float64
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return l, fmt.Errorf("loadavg %q", strings.TrimSpace(string(b)))
	}
	for i := range l {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return l, fmt.Errorf("loadavg %q: %w", strings.TrimSpace(string(b)), err)
		}
		l[i] = v
	}
	return l, nil
}

// loadavg reads /proc/loadavg; zeros when it cannot.
func loadavg() [3]float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return [3]float64{}
	}
	l, _ := parseLoadavg(b)
	return l
}

// parseCPUModel returns the first "model name" of /proc/cpuinfo and how many processors it
// lists.
func parseCPUModel(b []byte) (string, int) {
	model, n := "", 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	return model, n
}

// cpuModel describes the machine's processors.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	model, n := parseCPUModel(b)
	if model == "" {
		model = "unknown CPU model"
	}
	return fmt.Sprintf("%s, %d processors", model, n)
}

// selfCPU returns the user plus system CPU time this process has used (getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
