package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
)

// Prepared statements on SQLite. Compiling a statement (parsing, planning) costs about as
// much as running one of Kilt's small statements, and every request runs the same few dozen
// queries; so on SQLite each distinct query is prepared once per connection and kept
// (database/sql re-prepares it on a connection that has not seen it). PostgreSQL needs none
// of this: pgx keeps its own cache of prepared statements on each connection.
//
// Queries are constants of the program, so the cache is bounded by the program text; the
// bound below is only a guard, past which a query runs unprepared as before.

// maxStmts bounds the prepared statements kept.
const maxStmts = 256

// stmtCache holds the prepared statements of a SQLite DB.
type stmtCache struct {
	m sync.Map // query as written ($N) → *sql.Stmt, or preparing while one is being made
	n atomic.Int32
	// background counts the statements being prepared in the background: Close waits for
	// them, or one could open a connection — and SQLite its -wal and -shm files — after the
	// database was closed.
	background sync.WaitGroup
}

// preparing marks a query whose statement is being prepared.
var preparing = new(sql.Stmt)

// prepared returns the prepared statement for query, or nil when it runs unprepared: on
// PostgreSQL, for a script of several statements, when the cache is full, or while the
// statement is being prepared.
//
// A statement missing from the cache is prepared at once when wait is true, and otherwise
// in the background for the next use: a transaction holds its connection, and preparing
// takes another one, which in a pool of one (sqlite::memory:) would never come.
func (db *DB) prepared(query string, wait bool) *sql.Stmt {
	if db.stmts == nil {
		return nil
	}
	if v, ok := db.stmts.m.Load(query); ok {
		if st := v.(*sql.Stmt); st != preparing {
			return st
		}
		return nil
	}
	if strings.IndexByte(query, ';') >= 0 || db.stmts.n.Load() >= maxStmts {
		return nil
	}
	if _, loaded := db.stmts.m.LoadOrStore(query, preparing); loaded {
		return nil
	}
	if !wait {
		db.stmts.background.Go(func() { db.prepare(query) })
		return nil
	}
	return db.prepare(query)
}

// prepare prepares query and keeps it; on failure (a closed database, or a query in error,
// which running it reports) it forgets the query, so a later use tries again.
func (db *DB) prepare(query string) *sql.Stmt {
	// Not tied to any request: preparing is quick, and an abandoned one would be wasted.
	st, err := db.db.PrepareContext(context.Background(), query)
	if err != nil {
		db.stmts.m.Delete(query)
		return nil
	}
	db.stmts.m.Store(query, st)
	db.stmts.n.Add(1)
	return st
}

// closeStmts waits for the statements being prepared in the background and closes every
// prepared statement; the DB is closing, so nothing prepares any more.
func (db *DB) closeStmts() {
	if db.stmts == nil {
		return
	}
	db.stmts.background.Wait()
	db.stmts.m.Range(func(k, v any) bool {
		if st := v.(*sql.Stmt); st != preparing {
			st.Close()
		}
		db.stmts.m.Delete(k)
		return true
	})
}
