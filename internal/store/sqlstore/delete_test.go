package sqlstore_test

import (
	"slices"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestDeleteAccountLeavesNoRow: every table with an account_id column is one whose rows
// DeleteAccount deletes, or the audit log (kept, pseudonymised). A migration that adds such a
// table makes this fail until DeleteAccount says what becomes of its rows, so deleting a
// citizen never leaves their data behind.
func TestDeleteAccountLeavesNoRow(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		q := `SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c
			WHERE m.type = 'table' AND c.name = 'account_id' ORDER BY m.name`
		if db.Dialect() == "postgres" {
			q = `SELECT table_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND column_name = 'account_id' ORDER BY table_name`
		}
		rows, err := db.SQL().QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(tables) < len(sqlstore.AccountRows) {
			t.Fatalf("found the account_id columns of %q only", tables)
		}
		for _, table := range tables {
			if table != "audit_events" && !slices.Contains(sqlstore.AccountRows, table) {
				t.Errorf("table %s has an account_id column, but DeleteAccount neither deletes its rows nor pseudonymises them", table)
			}
		}
	})
}
