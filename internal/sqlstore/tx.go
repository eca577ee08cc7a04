package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
)

// Tx is a transaction begun by InTx. It is valid only inside the function given to InTx.
type Tx struct {
	tx *sql.Tx
	db *DB
	// shared: the transaction carries a batch of callers (batch.go); one caller's
	// cancellation must not interrupt a statement, which would roll back the others' work.
	shared bool
}

// stmtCtx is the context a statement of the transaction runs under; it counts the statement.
func (tx *Tx) stmtCtx(ctx context.Context) context.Context {
	tx.db.statements.Add(1)
	if tx.shared {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// Dialect reports the SQL dialect of the transaction's database.
func (tx *Tx) Dialect() Dialect { return tx.db.dialect }

// Exec runs a statement that returns no rows.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.stmtCtx(ctx)
	if st := tx.db.prepared(query, false); st != nil {
		return tx.tx.StmtContext(ctx, st).ExecContext(ctx, tx.db.convertArgs(args)...)
	}
	return tx.tx.ExecContext(ctx, query, tx.db.convertArgs(args)...)
}

// Query runs a statement that returns rows.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = tx.stmtCtx(ctx)
	if st := tx.db.prepared(query, false); st != nil {
		return tx.tx.StmtContext(ctx, st).QueryContext(ctx, tx.db.convertArgs(args)...)
	}
	return tx.tx.QueryContext(ctx, query, tx.db.convertArgs(args)...)
}

// QueryRow runs a statement that returns at most one row; errors are deferred to Scan.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = tx.stmtCtx(ctx)
	if st := tx.db.prepared(query, false); st != nil {
		return tx.tx.StmtContext(ctx, st).QueryRowContext(ctx, tx.db.convertArgs(args)...)
	}
	return tx.tx.QueryRowContext(ctx, query, tx.db.convertArgs(args)...)
}

// InTx runs fn in a transaction: it commits if fn returns nil and rolls back otherwise,
// including when fn panics (the panic then continues). fn's error is returned unchanged, so
// its kind and sentinels survive; a failure to begin or commit is returned wrapped.
//
// fn must use only tx: InTx (or DB.Exec) called from inside fn on the same database returns
// ErrNestedTx, since on SQLite it would wait for the outer transaction, which waits for it,
// and on PostgreSQL it would run outside the outer transaction's atomicity. fn runs once:
// InTx never retries it.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	if db.nested() {
		return ErrNestedTx
	}
	if db.batch != nil {
		// Nobody writing: the transaction runs at once in the caller's goroutine. Handing
		// it to the writer goroutine and back costs two waits for a core, long ones when
		// the cores are busy hashing; batching pays only when writers queue.
		if db.tryLockWrite() {
			defer db.unlockWrite()
			return unavailable(db.runTx(ctx, fn))
		}
		return unavailable(db.inTxBatched(ctx, fn))
	}
	return unavailable(db.inTx(ctx, fn))
}

func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	if err := db.lockWrite(ctx); err != nil {
		return err
	}
	defer db.unlockWrite()
	return db.runTx(ctx, fn)
}

// runTx runs fn in a transaction of its own; on SQLite the caller holds the write gate.
func (db *DB) runTx(ctx context.Context, fn func(tx *Tx) error) error {
	db.transactions.Add(1)
	sqlTx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// Runs on an error and while a panic unwinds; the rollback's own error adds
			// nothing to fn's.
			_ = sqlTx.Rollback()
		}
	}()

	if err := db.runFn(sqlTx, fn); err != nil {
		return err
	}
	done = true // Commit ends the transaction even when it fails.
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// ErrNestedTx is the error of InTx or DB.Exec called, on the same database, from inside a
// function given to InTx. The function must use the *Tx it was given.
var ErrNestedTx = errors.New("sqlstore: InTx or DB.Exec called inside a transaction of the same database; use the *Tx given to the function")

// A nested call is recognised by its stack: every function given to InTx is called through
// callTxFn, so a goroutine inside one has callTxFn's return address on its stack, and InTx
// looks for it there (runtime.Callers, no symbols read). While no transaction's function
// runs anywhere in the process it is one atomic load. A marker in a context cannot do it:
// the function is given no context of its own, so a nested call passes its caller's, which
// other goroutines (writing in parallel, rightly waiting their turn) may pass too. The
// goroutine, not the database, is what is recognised: a transaction's function may not
// begin a transaction of another database either (nothing in Kilt does; on SQLite it could
// wait on a writer that waits for it).

// txFns counts the transactions' functions running in the process.
var txFns atomic.Int64

// runFn runs fn on a transaction of its own.
func (db *DB) runFn(sqlTx *sql.Tx, fn func(tx *Tx) error) error {
	return callTxFn(&Tx{tx: sqlTx, db: db}, fn)
}

// callTxFn is the one place a transaction's function is called (runFn, runSaved). It must
// not be inlined: its frame is the marker nested looks for.
//
//go:noinline
func callTxFn(tx *Tx, fn func(tx *Tx) error) error {
	txFns.Add(1)
	defer txFns.Add(-1)
	return fn(tx)
}

// txFnReturn is the address callTxFn's call of fn returns to: the marker on the stack.
var txFnReturn = func() uintptr {
	var pc [1]uintptr
	// Skip runtime.Callers and this function: the first frame left is callTxFn's.
	_ = callTxFn(nil, func(*Tx) error { runtime.Callers(2, pc[:]); return nil })
	return pc[0]
}()

// nested reports whether the calling goroutine is running a transaction's function.
func (db *DB) nested() bool {
	if txFns.Load() == 0 {
		return false
	}
	var pcs [64]uintptr
	for skip := 2; ; skip += len(pcs) {
		n := runtime.Callers(skip, pcs[:])
		for _, pc := range pcs[:n] {
			if pc == txFnReturn {
				return true
			}
		}
		if n < len(pcs) {
			return false
		}
	}
}
