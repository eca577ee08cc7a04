package pgtest

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestURLGivesSeparateDatabases(t *testing.T) {
	first, second := URL(t), URL(t)
	if first == second {
		t.Fatalf("two calls returned the same URL %s", first)
	}
	for _, url := range []string{first, second} {
		if !strings.HasPrefix(url, "postgres://kilt@127.0.0.1:") {
			t.Errorf("URL() = %s, want postgres://kilt@127.0.0.1:…", url)
		}
	}
	db1, db2 := open(t, first), open(t, second)
	if _, err := db1.ExecContext(t.Context(), `CREATE TABLE mine (x INTEGER)`); err != nil {
		t.Fatalf("creating a table in the first database: %v", err)
	}
	var visible bool
	if err := db2.QueryRowContext(t.Context(), `SELECT to_regclass('mine') IS NOT NULL`).Scan(&visible); err != nil {
		t.Fatal(err)
	}
	if visible {
		t.Error("a table created in the first database is visible in the second")
	}
	var encoding string
	if err := db1.QueryRowContext(t.Context(), `SHOW server_encoding`).Scan(&encoding); err != nil {
		t.Fatal(err)
	}
	if encoding != "UTF8" {
		t.Errorf("server_encoding = %s, want UTF8", encoding)
	}
}

// fakeInstall creates dir with executable initdb and postgres files.
func fakeInstall(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindBin(t *testing.T) {
	good := filepath.Join(t.TempDir(), "bin")
	fakeInstall(t, good)
	empty := t.TempDir()

	if got, err := findBin(good); err != nil || got != good {
		t.Errorf("findBin(%s) = %q, %v, want the directory itself", good, got, err)
	}
	// A KILT_PG_BIN that is wrong is reported, not silently replaced by another install.
	if _, err := findBin(empty); err == nil || !strings.Contains(err.Error(), "KILT_PG_BIN") {
		t.Errorf("findBin(empty dir) error = %v, want one naming KILT_PG_BIN", err)
	}
}

func TestNewestInstalled(t *testing.T) {
	root := t.TempDir()
	fakeInstall(t, filepath.Join(root, "9.6", "bin"))
	fakeInstall(t, filepath.Join(root, "15", "bin"))
	fakeInstall(t, filepath.Join(root, "14", "bin"))
	if err := os.MkdirAll(filepath.Join(root, "16", "bin"), 0o755); err != nil { // no binaries
		t.Fatal(err)
	}
	if got, want := newestInstalled(root), filepath.Join(root, "15", "bin"); got != want {
		t.Errorf("newestInstalled = %q, want %q", got, want)
	}
	if got := newestInstalled(filepath.Join(root, "missing")); got != "" {
		t.Errorf("newestInstalled(missing) = %q, want empty", got)
	}
}

func TestTail(t *testing.T) {
	var lines []string
	for i := range 15 {
		lines = append(lines, strings.Repeat("x", i))
	}
	got := tail([]byte(strings.Join(lines, "\n") + "\n"))
	if want := strings.Join(lines[5:], "\n"); got != want {
		t.Errorf("tail = %q, want the last 10 lines %q", got, want)
	}
}
