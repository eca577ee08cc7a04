package sqlstore

import "testing"

// TestLoadProbes: the load tool's floor writes n rows a request in one transaction, its read
// floor reads one row a request by primary key outside any transaction, and the database's
// size and row counts see them; the floor's tables go again.
func TestLoadProbes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		if err := db.CreateFloor(ctx); err != nil {
			t.Fatal(err)
		}
		size0, err := db.Size(ctx)
		if err != nil || size0 <= 0 {
			t.Fatalf("Size = %d, %v; want > 0", size0, err)
		}
		s0, t0 := db.Counts()
		for range 200 {
			if err := db.FloorWrite(ctx, "a key of some length for the rows to take room", 3); err != nil {
				t.Fatal(err)
			}
		}
		if s1, t1 := db.Counts(); s1-s0 != 600 || t1-t0 != 200 {
			t.Errorf("floor: %d statements in %d transactions, want 600 in 200", s1-s0, t1-t0)
		}
		s0, t0 = db.Counts()
		for n := range int64(3000) {
			if err := db.FloorRead(ctx, n); err != nil {
				t.Fatalf("FloorRead(%d): %v", n, err)
			}
		}
		if s1, t1 := db.Counts(); s1-s0 != 3000 || t1 != t0 {
			t.Errorf("read floor: %d statements in %d transactions, want 3000 in 0", s1-s0, t1-t0)
		}
		rows, err := db.TableRows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rows[floorTable] != 600 || rows[floorReadTable] != floorReadRows || rows["accounts"] != 0 || len(rows) < 10 {
			t.Errorf("rows: floor %d, read floor %d, accounts %d, %d tables; want 600, %d, 0 and every table",
				rows[floorTable], rows[floorReadTable], rows["accounts"], len(rows), floorReadRows)
		}
		if size1, err := db.Size(ctx); err != nil || size1 <= size0 {
			t.Errorf("size after 600 rows = %d, %v; want more than %d", size1, err, size0)
		}
		if err := db.DropFloor(ctx); err != nil {
			t.Fatal(err)
		}
		after, err := db.TableRows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{floorTable, floorReadTable} {
			if _, ok := after[table]; ok {
				t.Errorf("the floor's table %s is still there", table)
			}
		}
	})
}
