// Package sqlstore is the only package that speaks SQL. It runs on SQLite (modernc.org/sqlite,
// no cgo) and on PostgreSQL (pgx through database/sql), chosen by the database URL, and
// implements the ports the domain packages declare. It returns storage errors only: not found
// (kilt.ErrNotFound), a unique violation (IsUniqueViolation), unavailable (errors.go).
//
// Queries are written once with $1, $2… placeholders, which both drivers bind by number; the
// other differences between the dialects are listed in dialect.go. Times are stored at
// microsecond precision: a value read back equals t.Truncate(time.Microsecond) in UTC.
//
// Every multi-statement change goes through DB.InTx, whose function uses only its *Tx; InTx
// inside InTx returns ErrNestedTx instead of waiting for itself (tx.go). On SQLite the writers
// of a process queue on a gate (gate.go) and every transaction begins IMMEDIATE. A single
// write outside a transaction uses DB.Exec, which queues too; a write that returns rows
// (INSERT … RETURNING) goes in InTx, since DB.Query and DB.QueryRow do not queue.
package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Querier runs single statements. Both *DB and *Tx implement it, so store code can be
// written once for use inside and outside a transaction.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// DB is a pool of connections to one database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect Dialect
	// writeGate, on SQLite only, admits one writer (InTx, Exec) of this process at a time.
	// SQLite has one write lock per file anyway; queueing here hands it over without the
	// busy handler's sleeps. Writers in other processes are still handled by busy_timeout.
	writeGate chan struct{}
	// batch, on SQLite only, runs write transactions in groups (batch.go).
	batch *batcher
	// stmts, on SQLite only, keeps the prepared statements (stmts.go).
	stmts *stmtCache
	// ckptStop and ckptDone, on a SQLite file only, stop and await the checkpointer
	// (checkpoint.go).
	ckptStop, ckptDone chan struct{}
	ckptOnce           sync.Once
	// statements and transactions count what was sent to the database (Counts).
	statements, transactions atomic.Uint64
	// heldSince is when the write gate's holder took it (written and read by the holder
	// only); held sums the nanoseconds it was held (WriteHeld).
	heldSince time.Time
	held      atomic.Int64
}

// Counts returns the statements and the transactions run on db since it was opened: with
// two round trips a transaction (begin, commit), what the database was asked per request is
// read off them (kilt_db_statements_total, kilt_db_transactions_total; docs/performance.md).
func (db *DB) Counts() (statements, transactions uint64) {
	return db.statements.Load(), db.transactions.Load()
}

// Dialect reports the SQL dialect of the database.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.stopBatcher()
	db.stopCheckpointer()
	db.closeStmts()
	return db.db.Close()
}

// Ping reports whether the database can be reached.
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// Exec runs a statement that returns no rows. On SQLite it waits its turn among the writers
// of this process, since a statement run with Exec is a write.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.nested() {
		return nil, ErrNestedTx
	}
	if err := db.lockWrite(ctx); err != nil {
		return nil, err
	}
	defer db.unlockWrite()
	db.statements.Add(1)
	var res sql.Result
	var err error
	if st := db.prepared(query, true); st != nil {
		res, err = st.ExecContext(ctx, db.convertArgs(args)...)
	} else {
		res, err = db.db.ExecContext(ctx, query, db.convertArgs(args)...)
	}
	return res, unavailable(err)
}

// Query runs a statement that returns rows. A write with RETURNING belongs in InTx.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db.statements.Add(1)
	var rows *sql.Rows
	var err error
	if st := db.prepared(query, true); st != nil {
		rows, err = st.QueryContext(ctx, db.convertArgs(args)...)
	} else {
		rows, err = db.db.QueryContext(ctx, query, db.convertArgs(args)...)
	}
	return rows, unavailable(err)
}

// QueryRow runs a statement that returns at most one row; errors are deferred to Scan, which
// returns sql.ErrNoRows when there is no row. A write with RETURNING belongs in InTx.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	db.statements.Add(1)
	if st := db.prepared(query, true); st != nil {
		return st.QueryRowContext(ctx, db.convertArgs(args)...)
	}
	return db.db.QueryRowContext(ctx, query, db.convertArgs(args)...)
}

// pointRead is the context of a one-row read by a unique key outside any transaction
// (OIDC.ReadToken, OIDC.ReadCode, FloorRead). On SQLite it is ctx without its cancellation:
// such a read takes microseconds and does not wait (in WAL mode readers never wait for the
// writer), while a cancellable context costs every statement two goroutines — database/sql's
// watcher of the rows and the driver's interrupter — and a progress handler
// (BenchmarkReadToken). On PostgreSQL a read can wait on the network, so it keeps ctx and its
// deadline.
func (db *DB) pointRead(ctx context.Context) context.Context {
	if db.dialect == SQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// convertArgs returns args with times made SQLite's INTEGER microseconds. It copies args
// only when it changes one.
func (db *DB) convertArgs(args []any) []any {
	if db.dialect != SQLite {
		return args
	}
	var out []any
	for i, a := range args {
		v, ok := sqliteTime(a)
		if !ok {
			continue
		}
		if out == nil {
			out = make([]any, len(args))
			copy(out, args)
		}
		out[i] = v
	}
	if out == nil {
		return args
	}
	return out
}

// sqliteTime converts a time argument to Unix microseconds, or to nil for a NULL, and
// reports whether a was a time argument.
func sqliteTime(a any) (any, bool) {
	switch v := a.(type) {
	case time.Time:
		return v.UnixMicro(), true
	case *time.Time:
		if v == nil {
			return nil, true
		}
		return v.UnixMicro(), true
	case sql.NullTime:
		if !v.Valid {
			return nil, true
		}
		return v.Time.UnixMicro(), true
	}
	return nil, false
}
