package account_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// ImportRowsEnv sets how many citizens BenchmarkImport imports; make bench sets 1,000,000.
const ImportRowsEnv = "SLEUTELBOS_BENCH_IMPORT_ROWS"

// writeImportFile writes rows citizens with the same bcrypt hash (the import checks a hash's
// form and never recomputes it) and every 100th with a token card, streaming.
func writeImportFile(tb testing.TB, rows int, hash string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "citizens.csv")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	fmt.Fprintln(w, "username,name,email,language,password hash")
	for i := range rows {
		fmt.Fprintf(w, "citizen%07d,Citizen %d,citizen%d@example.org,nl,%s", i, i, i, hash)
		if i%100 == 0 {
			fmt.Fprintf(w, ",CARD-%07d", i)
			for p := range 24 {
				fmt.Fprintf(w, ",%06d", (i+p*7919)%1000000)
			}
		}
		w.WriteString("\n")
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		tb.Fatal(err)
	}
	return p
}

// importStats is what one measured import took.
type importStats struct {
	check, write time.Duration
	peakHeap     uint64 // bytes, sampled every 20 ms
	peakRSS      uint64 // bytes (VmHWM since it was reset), 0 where /proc is missing
}

// measureImport checks and imports the file at path into db, measuring it.
func measureImport(tb testing.TB, db *sqlstore.DB, path string, rows int) importStats {
	tb.Helper()
	ctx := context.Background()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	resetPeakRSS()
	var stats importStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			stats.peakHeap = max(stats.peakHeap, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	im := newImporter(tb, db)
	start := time.Now()
	report, err := im.Check(ctx, f, fi.Size())
	if err != nil {
		tb.Fatal(err)
	}
	stats.check = time.Since(start)
	if !report.OK() || report.New != rows {
		tb.Fatalf("check: %d problems (%v), %d new; want none, %d", report.ProblemCount, report.Problems, report.New, rows)
	}
	start = time.Now()
	done, err := im.Import(ctx, f, report, "citizens.csv")
	if err != nil {
		tb.Fatal(err)
	}
	stats.write = time.Since(start)
	close(stop)
	wg.Wait()
	stats.peakRSS = peakRSS()
	if done.New != rows || done.Cards != (rows+99)/100 {
		tb.Fatalf("imported %d citizens with %d cards, want %d with %d", done.New, done.Cards, rows, (rows+99)/100)
	}
	return stats
}

// resetPeakRSS resets the kernel's record of the process's peak resident memory (Linux 4.0+).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak resident memory since the last reset, or 0.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseUint(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkImport imports citizens with bcrypt-10 hashes (1% with a token card) into a fresh
// database of each backend: both passes, as admin users import runs them. It reports citizens
// per second over both passes, each pass's seconds, and the peak Go heap in use and peak
// resident memory of the process during the import (PostgreSQL's own memory not included).
// 10,000 citizens unless SLEUTELBOS_BENCH_IMPORT_ROWS says otherwise (make bench: 1,000,000).
func BenchmarkImport(b *testing.B) {
	rows := 10_000
	if s := os.Getenv(ImportRowsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q is not a positive number", ImportRowsEnv, s)
		}
		rows = n
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), 10)
	if err != nil {
		b.Fatal(err)
	}
	path := writeImportFile(b, rows, string(hash))
	for _, backend := range sqltest.Backends() {
		b.Run(fmt.Sprintf("%s/%d", backend.Name, rows), func(b *testing.B) {
			var total importStats
			for range b.N {
				b.StopTimer()
				db := backend.Open(b)
				b.StartTimer()
				s := measureImport(b, db, path, rows)
				total.check += s.check
				total.write += s.write
				total.peakHeap = max(total.peakHeap, s.peakHeap)
				total.peakRSS = max(total.peakRSS, s.peakRSS)
			}
			n := float64(b.N)
			b.ReportMetric(float64(rows)*n/(total.check+total.write).Seconds(), "citizens/s")
			b.ReportMetric(total.check.Seconds()/n, "check-s")
			b.ReportMetric(total.write.Seconds()/n, "write-s")
			b.ReportMetric(float64(total.peakHeap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(total.peakRSS)/(1<<20), "peak-RSS-MiB")
		})
	}
}

// TestImportAtScale runs BenchmarkImport's import at a small size on both backends (make test
// runs no benchmarks): more lines than one batch, cards among them, every row written.
func TestImportAtScale(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), 4)
	if err != nil {
		t.Fatal(err)
	}
	path := writeImportFile(t, 2345, string(hash))
	eachBackend(t, func(t *testing.T, db *sqlstore.DB) {
		s := measureImport(t, db, path, 2345)
		all, err := db.ListAccounts(context.Background(), 0, 0)
		if err != nil || len(all) != 2345 {
			t.Fatalf("%d accounts, %v; want 2345", len(all), err)
		}
		t.Logf("2,345 citizens: check %s, write %s, peak heap %d KiB", s.check, s.write, s.peakHeap>>10)
	})
}
