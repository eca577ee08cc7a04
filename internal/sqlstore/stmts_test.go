package sqlstore

import (
	"database/sql"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// cachedStmt returns the statement kept for query, waiting (boundedly) for one being
// prepared in the background.
func cachedStmt(t *testing.T, db *DB, query string) *sql.Stmt {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v, ok := db.stmts.m.Load(query)
		if !ok {
			return nil
		}
		if st := v.(*sql.Stmt); st != preparing {
			return st
		}
		runtime.Gosched()
	}
	t.Fatalf("statement %q still being prepared after 10 s", query)
	return nil
}

func TestPreparedStatementsAreKept(t *testing.T) {
	db := openTestDB(t, testURL(t, SQLite))
	createSample(t, db)
	const count = `SELECT COUNT(*) FROM sample WHERE name = $1`
	insertSample(t, db, "a")
	if got := countSample(t, db, "a"); got != 1 {
		t.Fatalf("count = %d, want 1", got)
	}
	first := cachedStmt(t, db, count)
	if first == nil {
		t.Fatalf("no statement kept for %q", count)
	}
	insertSample(t, db, "b")
	if got := countSample(t, db, "b"); got != 1 {
		t.Errorf("count = %d, want 1", got)
	}
	if again := cachedStmt(t, db, count); again != first {
		t.Errorf("the statement was prepared again")
	}

	// A kept statement survives a change of the schema (SQLite recompiles it).
	if _, err := db.Exec(t.Context(), `ALTER TABLE sample ADD COLUMN extra TEXT`); err != nil {
		t.Fatal(err)
	}
	if got := countSample(t, db, "a"); got != 1 {
		t.Errorf("after ALTER TABLE: count = %d, want 1", got)
	}

	// Inside a transaction a new query runs unprepared and is prepared for the next use.
	const note = `UPDATE sample SET note = $1 WHERE name = $2`
	for i := range 2 {
		err := db.InTx(t.Context(), func(tx *Tx) error {
			_, err := tx.Exec(t.Context(), note, fmt.Sprint("n", i), "a")
			return err
		})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		var got string
		if err := db.QueryRow(t.Context(), `SELECT note FROM sample WHERE name = $1`, "a").Scan(&got); err != nil || got != fmt.Sprint("n", i) {
			t.Errorf("update %d: note = %q, %v", i, got, err)
		}
	}
	if cachedStmt(t, db, note) == nil {
		t.Errorf("no statement kept for %q", note)
	}

	// A script runs, unprepared.
	const script = `INSERT INTO sample (name) VALUES ('s1'); INSERT INTO sample (name) VALUES ('s2')`
	if _, err := db.Exec(t.Context(), script); err != nil {
		t.Fatal(err)
	}
	if countSample(t, db, "s1") != 1 || countSample(t, db, "s2") != 1 {
		t.Errorf("the script did not run whole")
	}
	if _, ok := db.stmts.m.Load(script); ok {
		t.Errorf("a script was kept as a statement")
	}
}

func TestPreparedStatementsBounded(t *testing.T) {
	db := openTestDB(t, testURL(t, SQLite))
	for i := range maxStmts + 40 {
		var got int
		if err := db.QueryRow(t.Context(), fmt.Sprintf(`SELECT $1 + %d`, i), 1).Scan(&got); err != nil || got != i+1 {
			t.Fatalf("query %d: %d, %v", i, got, err)
		}
	}
	if n := db.stmts.n.Load(); n != maxStmts {
		t.Errorf("%d statements kept, want the bound %d", n, maxStmts)
	}
}

// TestPreparedInTxOnMemory: on a pool of one connection, a transaction's new statement must
// not wait for a second connection to prepare it (it did, forever).
func TestPreparedInTxOnMemory(t *testing.T) {
	db := openTestDB(t, "sqlite::memory:")
	createSample(t, db)
	done := make(chan error, 1)
	go func() {
		done <- db.InTx(t.Context(), func(tx *Tx) error {
			if _, err := tx.Exec(t.Context(), `INSERT INTO sample (name) VALUES ($1)`, "m"); err != nil {
				return err
			}
			_, err := tx.Exec(t.Context(), `UPDATE sample SET note = $1 WHERE name = $2`, "x", "m")
			return err
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a transaction on sqlite::memory: hangs")
	}
	if got := countSample(t, db, "m"); got != 1 {
		t.Errorf("count = %d, want 1", got)
	}
}
