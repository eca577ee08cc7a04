package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Migrations are plain SQL files, one directory per dialect, named NNNN_name.sql (four or
// more digits, then lower-case letters, digits and underscores). They are applied in the
// order of their numbers, each in its own transaction together with its row in
// schema_migrations, so a migration is applied entirely or not at all.
//
// A file is run as one script, so it may hold several statements separated by ';' (SQLite
// runs scripts natively; PostgreSQL does when a statement has no arguments, through the
// simple query protocol). It must not hold transaction control (BEGIN, COMMIT) nor
// statements PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY). It is run
// as written, with no arguments. A migration, once released, is never edited;
// a change is a new file, in both dialects.
//
//go:embed migrations
var migrationFiles embed.FS

// migrationLockKey is the key of the PostgreSQL advisory lock that serialises migrations
// across instances: "kilt_mig" in ASCII.
const migrationLockKey int64 = 0x6b696c745f6d6967

var migrationName = regexp.MustCompile(`^([0-9]{4,})_[a-z0-9_]+\.sql$`)

type migration struct {
	version int
	name    string // the file name without ".sql", as recorded and reported
	script  string
}

// The embedded migrations of each dialect, read once.
var (
	sqliteMigrations = sync.OnceValues(func() ([]migration, error) {
		return loadMigrations(migrationFiles, "migrations/sqlite")
	})
	postgresMigrations = sync.OnceValues(func() ([]migration, error) {
		return loadMigrations(migrationFiles, "migrations/postgres")
	})
)

func (db *DB) migrations() ([]migration, error) {
	if db.dialect == Postgres {
		return postgresMigrations()
	}
	return sqliteMigrations()
}

// loadMigrations reads the migrations in dir of fsys, sorted by version. Every file there
// must be a migration: a stray or misnamed file is an error rather than silently skipped.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reading migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			return nil, fmt.Errorf("sqlstore: %s/%s is not a migration: want NNNN_name.sql", dir, e.Name())
		}
		version, err := strconv.Atoi(m[1])
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("sqlstore: %s/%s: version must be a positive number", dir, e.Name())
		}
		script, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: reading migrations: %w", err)
		}
		ms = append(ms, migration{version: version, name: e.Name()[:len(e.Name())-len(".sql")], script: string(script)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlstore: migrations %s and %s have the same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// Migrate applies the embedded migrations that the database has not recorded yet, in order,
// and returns the names of those it applied (as "0001_settings"). Several instances may call
// it at once: each migration is applied by one of them. On error, the migrations before the
// failing one stay applied.
//
// Versions recorded in the database but not embedded (written by a newer release) are left
// alone, so an older release can run during a rolling deploy.
func (db *DB) Migrate(ctx context.Context) (applied []string, err error) {
	ms, err := db.migrations()
	if err != nil {
		return nil, err
	}
	return db.migrate(ctx, ms)
}

func (db *DB) migrate(ctx context.Context, ms []migration) (applied []string, err error) {
	err = db.migrationTx(ctx, func(tx *Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, createSchemaMigrations[db.dialect])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: creating schema_migrations: %w", err)
	}
	done, err := appliedVersions(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		ran := false
		err := db.migrationTx(ctx, func(tx *Tx) error {
			if err := lockMigrations(ctx, tx); err != nil {
				return err
			}
			// Another instance may have applied it since the set was read; the lock makes
			// this second look final.
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// The raw transaction: a script of several statements is not kept as a prepared one.
			if _, err := tx.tx.ExecContext(ctx, m.script); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now()); err != nil {
				return err
			}
			ran = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if ran {
			applied = append(applied, m.name)
		}
	}
	return applied, nil
}

// createSchemaMigrations creates the table of applied migrations in each dialect.
var createSchemaMigrations = map[Dialect]string{
	SQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL)`,
	Postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL)`,
}

// migrationTx runs fn in a transaction that waits its turn among the instances migrating, as
// long as ctx allows. On PostgreSQL the advisory lock (lockMigrations) waits without a
// limit; on SQLite the IMMEDIATE transaction waits only busy_timeout for the write lock,
// and another instance applying every migration back to back holds it longer than that on
// a loaded machine (it takes the lock again at once after each commit, while this one's busy
// handler sleeps): so a begin that found the lock taken for the whole timeout begins again.
// Nothing was written in a transaction that could not begin; a migration found applied on
// the second look inside it is skipped.
func (db *DB) migrationTx(ctx context.Context, fn func(tx *Tx) error) error {
	for {
		err := db.InTx(ctx, fn)
		if db.dialect != SQLite || !isSQLiteBusy(err) || ctx.Err() != nil {
			return err
		}
	}
}

// lockMigrations serialises migrations across instances until tx ends. On PostgreSQL it
// takes a transaction-scoped advisory lock (even CREATE TABLE IF NOT EXISTS can fail when
// run concurrently); on SQLite, the IMMEDIATE transaction already holds the write lock.
func lockMigrations(ctx context.Context, tx *Tx) error {
	if tx.Dialect() != Postgres {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey)
	return err
}

// appliedVersions returns the set of versions recorded in schema_migrations.
func appliedVersions(ctx context.Context, q Querier) (map[int]bool, error) {
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reading schema_migrations: %w", err)
	}
	defer rows.Close()
	done := make(map[int]bool)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlstore: reading schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: reading schema_migrations: %w", err)
	}
	return done, nil
}

// MigrationsCurrent reports whether every embedded migration is recorded as applied, which
// readiness checks require. It returns false, not an error, when nothing was ever migrated.
func (db *DB) MigrationsCurrent(ctx context.Context) (bool, error) {
	ms, err := db.migrations()
	if err != nil {
		return false, err
	}
	return db.migrationsCurrent(ctx, ms)
}

func (db *DB) migrationsCurrent(ctx context.Context, ms []migration) (bool, error) {
	var exists bool
	if err := db.QueryRow(ctx, schemaMigrationsExists[db.dialect]).Scan(&exists); err != nil {
		return false, fmt.Errorf("sqlstore: looking for schema_migrations: %w", err)
	}
	if !exists {
		return false, nil
	}
	done, err := appliedVersions(ctx, db)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if !done[m.version] {
			return false, nil
		}
	}
	return true, nil
}

// schemaMigrationsExists reports, in each dialect, whether schema_migrations exists.
var schemaMigrationsExists = map[Dialect]string{
	SQLite:   `SELECT COUNT(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`,
	Postgres: `SELECT to_regclass('schema_migrations') IS NOT NULL`,
}
