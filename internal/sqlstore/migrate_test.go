package sqlstore

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// migrationNames returns the names of ms.
func migrationNames(ms []migration) []string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names
}

func TestEmbeddedMigrations(t *testing.T) {
	lite, err := sqliteMigrations()
	if err != nil {
		t.Fatalf("SQLite migrations: %v", err)
	}
	pg, err := postgresMigrations()
	if err != nil {
		t.Fatalf("PostgreSQL migrations: %v", err)
	}
	if len(lite) == 0 || lite[0].name != "0001_settings" {
		t.Errorf("first SQLite migration: got %v, want 0001_settings first", migrationNames(lite))
	}
	// Every change is made in both dialects, under the same version and name.
	if diff := cmp.Diff(migrationNames(lite), migrationNames(pg)); diff != "" {
		t.Errorf("SQLite and PostgreSQL migrations differ (-sqlite +postgres):\n%s", diff)
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []migration
		wantErr string
	}{
		{
			name: "sorted by version",
			fsys: fstest.MapFS{
				"m/0010_ten.sql":   file("TEN"),
				"m/0002_two.sql":   file("TWO"),
				"m/0001_first.sql": file("ONE"),
			},
			want: []migration{{1, "0001_first", "ONE"}, {2, "0002_two", "TWO"}, {10, "0010_ten", "TEN"}},
		},
		{name: "short version", fsys: fstest.MapFS{"m/1_a.sql": file("")}, wantErr: "1_a.sql is not a migration"},
		{name: "upper case", fsys: fstest.MapFS{"m/0001_A.sql": file("")}, wantErr: "0001_A.sql is not a migration"},
		{name: "other file", fsys: fstest.MapFS{"m/0001_a.sql": file(""), "m/README.md": file("")}, wantErr: "README.md is not a migration"},
		{name: "version zero", fsys: fstest.MapFS{"m/0000_a.sql": file("")}, wantErr: "positive"},
		{
			name:    "same version twice",
			fsys:    fstest.MapFS{"m/0001_a.sql": file(""), "m/0001_b.sql": file("")},
			wantErr: "0001_a and 0001_b have the same version",
		},
		{name: "no directory", fsys: fstest.MapFS{}, wantErr: "reading migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadMigrations(tt.fsys, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadMigrations error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(migration{})); diff != "" {
				t.Errorf("loadMigrations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	forEachEmptyDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		all, err := db.migrations()
		if err != nil {
			t.Fatal(err)
		}

		current, err := db.MigrationsCurrent(ctx)
		if err != nil || current {
			t.Errorf("MigrationsCurrent before Migrate = %v, %v, want false, nil", current, err)
		}

		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if diff := cmp.Diff(migrationNames(all), applied); diff != "" {
			t.Errorf("first Migrate applied (-want +got):\n%s", diff)
		}

		rows, err := db.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var recorded []string
		for rows.Next() {
			var version int
			var name string
			var at time.Time
			if err := rows.Scan(&version, &name, TimeCol(&at)); err != nil {
				t.Fatal(err)
			}
			if at.IsZero() || !strings.HasPrefix(name, fmt.Sprintf("%04d_", version)) {
				t.Errorf("recorded version %d, name %q, applied at %v", version, name, at)
			}
			recorded = append(recorded, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(migrationNames(all), recorded); diff != "" {
			t.Errorf("schema_migrations (-want +got):\n%s", diff)
		}

		if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)`, "k", "v"); err != nil {
			t.Errorf("settings table after Migrate: %v", err)
		}

		again, err := db.Migrate(ctx)
		if err != nil || len(again) != 0 {
			t.Errorf("second Migrate = %v, %v, want nothing applied", again, err)
		}
		current, err = db.MigrationsCurrent(ctx)
		if err != nil || !current {
			t.Errorf("MigrationsCurrent after Migrate = %v, %v, want true, nil", current, err)
		}
	})
}

// TestMigrateConcurrently starts several instances on one new database at once: all succeed
// and each migration is applied by exactly one of them.
func TestMigrateConcurrently(t *testing.T) {
	for _, d := range testDialects {
		t.Run(d.String(), func(t *testing.T) {
			url := testURL(t, d)
			const instances = 4
			dbs := make([]*DB, instances)
			for i := range dbs {
				dbs[i] = openTestDB(t, url)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			var applied []string
			for _, db := range dbs {
				wg.Go(func() {
					names, err := db.Migrate(t.Context())
					if err != nil {
						t.Errorf("Migrate: %v", err)
					}
					mu.Lock()
					applied = append(applied, names...)
					mu.Unlock()
				})
			}
			wg.Wait()
			all, err := dbs[0].migrations()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(applied)
			if diff := cmp.Diff(migrationNames(all), applied); diff != "" {
				t.Errorf("migrations applied by all instances together (-want +got):\n%s", diff)
			}
			for i, db := range dbs {
				if current, err := db.MigrationsCurrent(t.Context()); err != nil || !current {
					t.Errorf("instance %d: MigrationsCurrent = %v, %v, want true, nil", i, current, err)
				}
			}
		})
	}
}

func TestMigrateStopsAtFailure(t *testing.T) {
	ms := []migration{
		{1, "0001_one", "CREATE TABLE one (x INTEGER);\nCREATE TABLE one_more (x INTEGER);\n"},
		{2, "0002_two", "CREATE TABLE two (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n"},
		{3, "0003_three", "CREATE TABLE three (x INTEGER);\n"},
	}
	forEachEmptyDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		applied, err := db.migrate(ctx, ms)
		if err == nil || !strings.Contains(err.Error(), "0002_two") {
			t.Errorf("migrate error = %v, want one naming 0002_two", err)
		}
		if diff := cmp.Diff([]string{"0001_one"}, applied); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
		tables := []struct {
			name   string
			exists bool
		}{
			{"one", true},
			{"one_more", true}, // a file may hold several statements
			{"two", false},     // the failed migration left nothing behind
			{"three", false},   // and nothing after it ran
		}
		for _, tbl := range tables {
			_, err := db.Exec(ctx, `INSERT INTO `+tbl.name+` (x) VALUES (1)`)
			if exists := err == nil; exists != tbl.exists {
				t.Errorf("table %s exists = %v (%v), want %v", tbl.name, exists, err, tbl.exists)
			}
		}
		if current, err := db.migrationsCurrent(ctx, ms); err != nil || current {
			t.Errorf("migrationsCurrent(all) = %v, %v, want false, nil", current, err)
		}
		if current, err := db.migrationsCurrent(ctx, ms[:1]); err != nil || !current {
			t.Errorf("migrationsCurrent(first) = %v, %v, want true, nil", current, err)
		}

		// Once fixed, the rest is applied.
		fixed := slices.Clone(ms)
		fixed[1].script = "CREATE TABLE two (x INTEGER);\n"
		applied, err = db.migrate(ctx, fixed)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"0002_two", "0003_three"}, applied); diff != "" {
			t.Errorf("applied after the fix (-want +got):\n%s", diff)
		}
	})
}
