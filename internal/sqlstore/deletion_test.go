package sqlstore

import (
	"strings"
	"testing"
)

// TestErasureCoversEveryTable: every column of the schema that refers to an account
// (account_id, or a foreign key to accounts) is erased with the account, or kept on purpose
// (erasureKept). A table added later with an account column fails here until the erasure
// says what becomes of it.
func TestErasureCoversEveryTable(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		q := map[Dialect]string{
			SQLite: `SELECT m.name || '.' || p."from" FROM sqlite_master m, pragma_foreign_key_list(m.name) p
				WHERE m.type = 'table' AND p."table" = 'accounts'
				UNION SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c
				WHERE m.type = 'table' AND c.name = 'account_id'`,
			Postgres: `SELECT tc.table_name || '.' || kcu.column_name FROM information_schema.table_constraints tc
				JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name
				JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name
				WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.table_name = 'accounts'
				UNION SELECT table_name || '.' || column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND column_name = 'account_id'`,
		}[db.Dialect()]
		rows, err := db.Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		if err := eachString(rows, func(c string) { cols = append(cols, c) }); err != nil {
			t.Fatal(err)
		}
		erased := map[string]bool{}
		for _, e := range erasure {
			erased[e.table] = true
		}
		if len(cols) < 10 {
			t.Fatalf("found only %v: the query does not read the schema", cols)
		}
		for _, c := range cols {
			table, _, _ := strings.Cut(c, ".")
			if !erased[table] && !erasureKept[c] {
				t.Errorf("%s refers to an account, and erasing an account does nothing to it (sqlstore/deletion.go)", c)
			}
		}
	})
}
