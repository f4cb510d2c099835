package main

import (
	"encoding/binary"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	// Fields 1–17 of proc(5), then more; the command name holds a space and parentheses.
	line := "4242 (postgres: x) (y) S 17 4242 4242 0 -1 4194560 100 0 0 0 " +
		"1234 567 89 10 20 0 1 0 100 2000000 300 18446744073709551615\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PID: 4242, PPID: 17, Comm: "postgres: x) (y", UTime: 1234, STime: 567, CUTime: 89, CSTime: 10}
	if st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}

	for _, bad := range []string{"", "12 no comm", "x (c) S 1 2", "12 (c) S 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestReadStatOfThisProcess(t *testing.T) {
	t.Parallel()
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.PPID != os.Getppid() {
		t.Errorf("readStat(self) = pid %d ppid %d, want %d %d", st.PID, st.PPID, os.Getpid(), os.Getppid())
	}
}

func TestParseAuxv(t *testing.T) {
	t.Parallel()
	vec := func(order binary.ByteOrder, size int, pairs ...uint64) []byte {
		b := make([]byte, len(pairs)*size)
		for i, v := range pairs {
			if size == 4 {
				order.PutUint32(b[i*4:], uint32(v))
			} else {
				order.PutUint64(b[i*8:], v)
			}
		}
		return b
	}
	tests := []struct {
		name  string
		b     []byte
		size  int
		order binary.ByteOrder
		want  int64
	}{
		{"64-bit little endian", vec(binary.LittleEndian, 8, 6, 4096, 17, 100, 0, 0), 8, binary.LittleEndian, 100},
		{"32-bit big endian", vec(binary.BigEndian, 4, 6, 4096, 17, 250, 0, 0), 4, binary.BigEndian, 250},
		{"no AT_CLKTCK", vec(binary.LittleEndian, 8, 6, 4096, 0, 0), 8, binary.LittleEndian, 0},
		{"after AT_NULL", vec(binary.LittleEndian, 8, 0, 0, 17, 100), 8, binary.LittleEndian, 0},
		{"zero", vec(binary.LittleEndian, 8, 17, 0), 8, binary.LittleEndian, 0},
	}
	for _, tt := range tests {
		got, err := parseAuxv(tt.b, tt.size, tt.order)
		if got != tt.want || (err == nil) != (tt.want != 0) {
			t.Errorf("%s: parseAuxv = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
}

func TestClockTicksAgreesWithGetconf(t *testing.T) {
	t.Parallel()
	hz, err := clockTicks()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Fatalf("getconf CLK_TCK: %v", err)
	}
	want, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if hz != want {
		t.Errorf("clockTicks = %d, getconf CLK_TCK = %d", hz, want)
	}
	if got := ticks(250, 100); got != 2500*time.Millisecond {
		t.Errorf("ticks(250, 100) = %s, want 2.5s", got)
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	status := "Name:\tsleutelbos\nVmPeak:\t  900000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n"
	if got, err := parseStatusKiB([]byte(status), "VmHWM"); err != nil || got != 81234 {
		t.Errorf("VmHWM = %d, %v; want 81234", got, err)
	}
	if _, err := parseStatusKiB([]byte(status), "VmSwap"); err == nil {
		t.Error("a missing key was found")
	}
	if _, err := parseStatusKiB([]byte("VmHWM:\t12 MB\n"), "VmHWM"); err == nil {
		t.Error("a value in MB was accepted")
	}
	rss, err := peakRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("peakRSS(self) = %d, %v", rss, err)
	}
}

func TestParseLoadavgAndCPUInfo(t *testing.T) {
	t.Parallel()
	l, err := parseLoadavg([]byte("0.52 1.25 3.40 2/181 12345\n"))
	if err != nil || l != [3]float64{0.52, 1.25, 3.40} {
		t.Errorf("parseLoadavg = %v, %v", l, err)
	}
	if _, err := parseLoadavg([]byte("0.5 x 1")); err == nil {
		t.Error("a bad loadavg was accepted")
	}
	info := "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if model, n := parseCPUModel([]byte(info)); model != "AMD EPYC 7B13" || n != 2 {
		t.Errorf("parseCPUModel = %q, %d", model, n)
	}
}

func TestSelfCPUCountsWork(t *testing.T) {
	t.Parallel()
	before := selfCPU()
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++
	}
	if selfCPU() <= before {
		t.Errorf("selfCPU did not grow over 50 ms of busy work (%d iterations)", x)
	}
}
