package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestImportSurvivesKill kills `admin users import` with SIGKILL half-way through writing a
// large file — once the database shows the uncommitted rows growing — and finds none of the
// file's citizens, cards or events in the database; the same import then runs to its end.
func TestImportSurvivesKill(t *testing.T) {
	t.Parallel()
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		t.Parallel()
		dir := t.TempDir()
		url := "sqlite:" + filepath.Join(dir, "sleutelbos.db")
		if b.Name == "postgres" {
			url = sqltest.PostgresURL(t)
		}
		testImportSurvivesKill(t, dir, url)
	})
}

// importLines is the size of the killed import: big enough to take seconds to write.
const importLines = 150_000

func testImportSurvivesKill(t *testing.T, dir, url string) {
	ctx := context.Background()
	file := filepath.Join(dir, "citizens.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	codes := strings.Repeat(",123456", 24)
	for i := range importLines {
		fmt.Fprintf(w, "citizen%06d,Citizen %d,c%d@example.org,nl,$2b$10$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", i, i, i)
		if i%50 == 0 {
			fmt.Fprintf(w, ",CARD-%d%s", i, codes)
		}
		w.WriteString("\n")
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	before := store.Account{Username: "before", Name: "Here Before"}
	if err := db.CreateAccount(ctx, &before); err != nil {
		t.Fatal(err)
	}
	// written measures what the database has written so far, committed or not: the SQLite
	// write-ahead log (a large transaction spills its pages there), PostgreSQL's accounts heap.
	written := func() int64 {
		if db.Dialect() == "postgres" {
			var n int64
			if err := db.SQL().QueryRowContext(ctx, `SELECT pg_relation_size('accounts')`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		fi, err := os.Stat(filepath.Join(dir, "sleutelbos.db-wal"))
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	args := []string{"admin", "--data-dir", dir, "--database-url", url, "--encryption-keys", procEncKeys, "--hash-key", procHashKey,
		"users", "import", file}

	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	writing := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "writing ") {
				close(writing)
			}
		}
		io.Copy(io.Discard, out)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-writing:
	case err := <-exited:
		t.Fatalf("the import exited before it started writing: %v", err)
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the import did not start writing in time")
	}
	start := written()
	deadline := time.Now().Add(2 * time.Minute)
	for written() < start+2<<20 { // 2 MiB of uncommitted rows
		select {
		case err := <-exited:
			t.Fatalf("the import ended (%v) before it could be killed half-way: make the file larger", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the import wrote nothing in two minutes")
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the import exited with %v, want killed half-way", err)
	}

	all, err := db.ListAccounts(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != before.ID {
		t.Fatalf("after the kill, %d accounts (want only the one there before: nothing partly imported)", len(all))
	}
	if taken, err := db.TakenSerials(ctx, "tokencard", []string{"CARD-0", "CARD-50"}); err != nil || len(taken) != 0 {
		t.Fatalf("after the kill, card serials %q are taken (%v)", taken, err)
	}
	if evs, err := db.ListAudit(ctx, 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("after the kill, %d audit events (%v), want none", len(evs), err)
	}

	again := exec.Command(binary, args...)
	again.Env = cmd.Env
	if b, err := again.CombinedOutput(); err != nil || !strings.Contains(string(b), fmt.Sprintf("imported %d citizens (%d with a token card)", importLines, importLines/50)) {
		t.Fatalf("the import after the kill: %v\n%s", err, b)
	}
	if all, err := db.ListAccounts(ctx, 0, 0); err != nil || len(all) != importLines+1 {
		t.Errorf("after the second import: %d accounts, %v; want %d", len(all), err, importLines+1)
	}
}
