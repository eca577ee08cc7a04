package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Opening a database: the URL forms, the connection PRAGMAs and the size of each pool.

// The PRAGMAs set on every SQLite connection, in order. busy_timeout comes first so that the
// others wait for a lock instead of failing. synchronous=NORMAL is durable in WAL mode except
// for the last transactions before a power loss, never corrupting, and saves an fsync per
// commit. temp_store=MEMORY keeps temporary structures — above all the journal of the
// savepoints that group commit wraps each transaction in (batch.go) — off the disk: without
// it every batch wrote and re-read a temporary file.
const sqliteParams = "_pragma=busy_timeout(5000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_pragma=temp_store(MEMORY)" +
	"&_txlock=immediate"

// sqliteMemory is the path of a private in-memory SQLite database.
const sqliteMemory = ":memory:"

// Open connects to the database named by url and pings it. Accepted forms:
//
//	sqlite:PATH          a SQLite file, created with mode 0600 (and its parent directory with
//	                     mode 0700) if missing
//	sqlite:///ABS/PATH   the same, with an absolute path
//	sqlite::memory:      a private in-memory SQLite database on one connection, for tests
//	postgres://… or postgresql://…   a PostgreSQL connection URL (pgx syntax; behind a
//	                     pooler in transaction mode, add default_query_exec_mode=exec)
//
// Errors never include the URL, which may carry a password.
func Open(ctx context.Context, url string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	}
	return nil, fmt.Errorf("sqlstore: unsupported database URL %s: want sqlite:PATH, sqlite::memory:, postgres://… or postgresql://…",
		describeScheme(url))
}

// describeScheme names the scheme of url for an error message without showing the rest of
// it, which may hold a password.
func describeScheme(url string) string {
	if url == "" {
		return "(empty)"
	}
	i := strings.IndexByte(url, ':')
	if i <= 0 || i > 20 {
		return "(no scheme)"
	}
	for _, r := range url[:i] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return "(no scheme)"
		}
	}
	return fmt.Sprintf("with scheme %q", url[:i])
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if strings.HasPrefix(path, "//") {
		// sqlite:///abs/path, the URL spelling; sqlite://host/… names no file.
		path = strings.TrimPrefix(path, "//")
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("sqlstore: SQLite URL must be sqlite:PATH or sqlite:///ABSOLUTE/PATH")
		}
	}
	if path == "" {
		return nil, fmt.Errorf("sqlstore: SQLite URL has no path: want sqlite:PATH")
	}

	var dsn string
	if path == sqliteMemory {
		dsn = sqliteMemory + "?" + sqliteParams
	} else {
		path = filepath.Clean(path)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: creating the database directory: %w", err)
		}
		// The database holds password hashes and the server secret: create it readable by
		// its owner only. SQLite gives its -wal and -shm files the mode of the database file.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: creating the database file: %w", err)
		}
		f.Close()
		dsn = "file:" + escapeSQLitePath(path) + "?" + sqliteParams +
			fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", walBackstopPages)
	}

	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening SQLite database: %w", err)
	}
	if path == sqliteMemory {
		// Every connection to ":memory:" is a database of its own: keep exactly one, forever.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
		sqldb.SetConnMaxLifetime(0)
		sqldb.SetConnMaxIdleTime(0)
	} else {
		// WAL lets readers run beside the one writer, and the driver is CPU-bound Go code, so
		// about two connections per core keep the cores busy; writers take one of them at a
		// time (writeGate). Idle connections are kept: each one holds its page cache, and
		// reopening would rerun the PRAGMAs.
		n := max(4, 2*runtime.GOMAXPROCS(0))
		sqldb.SetMaxOpenConns(n)
		sqldb.SetMaxIdleConns(n)
	}
	db := &DB{db: sqldb, dialect: SQLite, writeGate: make(chan struct{}, 1), stmts: &stmtCache{}}
	if err := db.Ping(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlstore: opening SQLite database: %w", err)
	}
	db.startBatcher()
	if path != sqliteMemory {
		db.startCheckpointer()
	}
	return db, nil
}

// escapeSQLitePath makes path safe inside a SQLite "file:" URI, in which '?' starts the query,
// '#' a fragment, and '%' an escape.
func escapeSQLitePath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx masks the password in its message. The error is not wrapped: its ConnString
		// field holds the URL unmasked, and a logger walking the chain could print it.
		return nil, fmt.Errorf("sqlstore: invalid PostgreSQL URL: %s", err.Error())
	}
	sqldb := stdlib.OpenDB(*cfg)
	// PostgreSQL serves each connection with a process of its own and allows 100 by default,
	// shared by every instance: a few per core suffice, since a request holds a connection
	// only for its queries. Connections are recycled so that a failover or a changed DNS
	// name is followed within half an hour.
	n := max(8, 4*runtime.GOMAXPROCS(0))
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n)
	sqldb.SetConnMaxLifetime(30 * time.Minute)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{db: sqldb, dialect: Postgres}
	if err := db.Ping(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlstore: connecting to PostgreSQL: %w", err)
	}
	return db, nil
}
