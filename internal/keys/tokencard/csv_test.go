package tokencard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/keystest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// line builds a CSV line for username and serial whose codes are 100001+pos (or as replaced).
func line(username, serial string, replace map[int]string) string {
	f := []string{username, serial}
	for pos := 1; pos <= Positions; pos++ {
		c := fmt.Sprintf("%06d", 100000+pos)
		if r, ok := replace[pos]; ok {
			c = r
		}
		f = append(f, c)
	}
	return strings.Join(f, ",")
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	header := "username,serial," + strings.Repeat("code,", Positions-1) + "code"
	tests := []struct {
		name      string
		in        string
		wantCards []string // username/serial/line of each card
		wantErrs  []string // the problems listed, in order
		wantCode  map[int]string
	}{
		{
			name:      "header and blank lines skipped",
			in:        header + "\n\n" + line("alice", "1001", nil) + "\n\n" + line("bob", "1002", nil) + "\n",
			wantCards: []string{"alice/1001/3", "bob/1002/5"},
		},
		{
			name:      "no header, CRLF, no final newline",
			in:        line("alice", "1001", nil) + "\r\n" + line("bob", "1002", nil),
			wantCards: []string{"alice/1001/1", "bob/1002/2"},
		},
		{
			name:      "byte order mark before the header",
			in:        "\ufeff" + header + "\n" + line("alice", "1001", nil) + "\n",
			wantCards: []string{"alice/1001/2"},
		},
		{
			name:      "byte order mark before data",
			in:        "\ufeff" + line("alice", "1001", nil) + "\n",
			wantCards: []string{"alice/1001/1"},
		},
		{
			name:      "spaces around fields accepted",
			in:        line(" alice ", " 1001\t", map[int]string{1: "  123456 ", 24: " 654321"}) + "\n",
			wantCards: []string{"alice/1001/1"},
			wantCode:  map[int]string{1: "123456", 24: "654321"},
		},
		{
			name:     "wrong column counts",
			in:       line("alice", "1001", nil) + ",123456\n" + "bob,1002,123456\n" + line("carol", "1003", nil) + "\n",
			wantErrs: []string{"line 1: 27 columns, want 26", "line 2: 3 columns, want 26"},
		},
		{
			name: "codes of wrong length, with non-digits or inner spaces",
			in: line("alice", "1001", map[int]string{12: "12345", 13: "1234567"}) + "\n" +
				line("bob", "1002", map[int]string{3: "12a456", 4: "123 456", 5: ""}) + "\n",
			wantErrs: []string{
				"line 1: code 12 has 5 digits, want 6",
				"line 1: code 13 has 7 digits, want 6",
				`line 2: code 3 "12a456" is not 6 digits`,
				`line 2: code 4 "123 456" is not 6 digits`,
				`line 2: code 5 "" is not 6 digits`,
			},
		},
		{
			name: "duplicate serials",
			in: line("alice", "123", nil) + "\n" + line("bob", "456", nil) + "\n" +
				line("carol", "123", nil) + "\n" + line("dave", "123", nil) + "\n",
			wantErrs: []string{
				"line 3: serial 123 appears again (first on line 1)",
				"line 4: serial 123 appears again (first on line 1)",
			},
		},
		{
			name:     "empty username and serial",
			in:       line("", "", nil) + "\n",
			wantErrs: []string{"line 1: username is empty", "line 1: serial is empty"},
		},
		{
			name: "every problem at once, in line order",
			in: header + "\n" + line("alice", "9", nil) + "\n" + "short,line\n" +
				line("bob", "9", map[int]string{7: "1"}) + "\n",
			wantErrs: []string{
				"line 3: 2 columns, want 26",
				"line 4: serial 9 appears again (first on line 2)",
				"line 4: code 7 has 1 digits, want 6",
			},
		},
		{
			name:     "empty file",
			in:       "",
			wantErrs: []string{},
		},
		{
			name:     "header only",
			in:       header + "\n",
			wantErrs: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cards, err := ParseCSV(strings.NewReader(tt.in))
			if tt.wantErrs != nil {
				if err == nil {
					t.Fatalf("ParseCSV = %d cards, want an error", len(cards))
				}
				if cards != nil {
					t.Errorf("ParseCSV returned %d cards with an error", len(cards))
				}
				var ie *ImportError
				if !errors.As(err, &ie) {
					if len(tt.wantErrs) != 0 {
						t.Fatalf("error %v is not an *ImportError", err)
					}
					return
				}
				var got []string
				for _, p := range ie.Problems {
					got = append(got, p.String())
				}
				if diff := cmp.Diff(tt.wantErrs, got); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error text %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCSV: %v", err)
			}
			var got []string
			for _, c := range cards {
				got = append(got, fmt.Sprintf("%s/%s/%d", c.Username, c.Serial, c.Line))
			}
			if diff := cmp.Diff(tt.wantCards, got); diff != "" {
				t.Errorf("cards (-want +got):\n%s", diff)
			}
			for pos, want := range tt.wantCode {
				if got := cards[0].Codes[pos-1]; got != want {
					t.Errorf("code %d = %q, want %q", pos, got, want)
				}
			}
		})
	}
}

func TestImport(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		h := testHasher(t)
		alice := keystest.NewAccount(t, db, "alice")
		bob := keystest.NewAccount(t, db, "Bob")
		carol := keystest.NewAccount(t, db, "carol")
		parse := func(lines ...string) []Card {
			t.Helper()
			cards, err := ParseCSV(strings.NewReader(strings.Join(lines, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			return cards
		}
		countKeys := func(a store.Account) int {
			t.Helper()
			ks, err := db.ListKeys(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return len(ks)
		}

		// An unknown username on line 3 leaves nothing behind, and every unknown one is named.
		cards := parse(line("alice", "1001", nil), line("bob", "1002", nil), line("mallory", "1003", nil), line("eve", "1004", nil))
		n, err := Import(ctx, db, h, cards, keystest.Start())
		if err == nil || n != 0 {
			t.Fatalf("Import with unknown usernames = %d, %v; want 0 and an error", n, err)
		}
		for _, want := range []string{`line 3: unknown username "mallory"`, `line 4: unknown username "eve"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if countKeys(alice)+countKeys(bob) != 0 {
			t.Fatal("a failed import left keys behind")
		}

		// All good: usernames match case-insensitively.
		n, err = Import(ctx, db, h, parse(line("ALICE", "1001", nil), line("bob", "1002", nil)), keystest.Start())
		if err != nil || n != 2 {
			t.Fatalf("Import = %d, %v; want 2, nil", n, err)
		}
		ks, err := db.ListKeys(ctx, alice.ID)
		if err != nil || len(ks) != 1 {
			t.Fatalf("alice's keys = %v, %v", ks, err)
		}
		k := ks[0]
		if k.Kind != "tokencard" || k.Status != store.KeyActive || k.Serial != "1001" || !k.ActivatedAt.Equal(keystest.Start()) {
			t.Errorf("imported key = %+v", k)
		}
		if strings.Contains(string(k.Data), "100001") {
			t.Errorf("imported key data holds a plaintext code: %s", k.Data)
		}
		kind, err := New(h, keystest.NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		ch := keys.Challenge{State: "2"}
		k.Counter = 2 // as Begin would have stored it
		if err := kind.Verify(ctx, db, alice, k, ch, "100002"); err != nil {
			t.Errorf("imported card code 2: %v", err)
		}

		// A serial already imported fails the whole file (carol's card on line 1 too).
		n, err = Import(ctx, db, h, parse(line("carol", "2001", nil), line("carol", "1002", nil)), keystest.Start())
		if err == nil || n != 0 {
			t.Fatalf("Import of a stored serial = %d, %v; want 0 and an error", n, err)
		}
		if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "line 2: serial 1002 is already imported") {
			t.Errorf("error = %v, want line 2 and serial 1002, wrapping store.ErrConflict", err)
		}
		if countKeys(carol) != 0 {
			t.Error("a failed import left carol's first card behind")
		}
	})
}
