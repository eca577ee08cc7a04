package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group commit on SQLite. SQLite has one write lock per database: every write transaction
// of the process waits for the one before it, and each pays its own BEGIN and COMMIT. Under
// load that queue, not the CPU, is the limit (docs/performance.md). So the write
// transactions waiting at one moment run one after the other inside a single SQLite
// transaction, each in a SAVEPOINT of its own: a function that fails is rolled back to its
// savepoint alone, and one COMMIT makes all the others durable together. Each caller still
// sees exactly the outcome of its own function — applied with the batch, or not at all.
// A transaction that finds no writer at all does not wait for the writer goroutine: InTx
// runs it at once in the caller's goroutine (tx.go).

// maxBatch bounds how many transactions share one commit.
const maxBatch = 64

// batchReq is one InTx call waiting for the writer.
type batchReq struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	err  error
	pan  any // a panic of fn, re-raised in the caller's goroutine
	done chan struct{}
}

// batcher runs the write transactions of a SQLite DB in groups.
type batcher struct {
	reqs      chan *batchReq
	closed    chan struct{}
	closeOnce sync.Once
	stopped   chan struct{}
}

// errClosed is the answer to a transaction asked of a closed database.
var errClosed = errors.New("sqlstore: database closed")

func (db *DB) startBatcher() {
	db.batch = &batcher{reqs: make(chan *batchReq), closed: make(chan struct{}), stopped: make(chan struct{})}
	go db.writer()
}

// stopBatcher stops the writer after the batch in hand.
func (db *DB) stopBatcher() {
	if db.batch == nil {
		return
	}
	db.batch.closeOnce.Do(func() { close(db.batch.closed) })
	<-db.batch.stopped
}

// inTxBatched hands fn to the writer and waits for its outcome.
func (db *DB) inTxBatched(ctx context.Context, fn func(tx *Tx) error) error {
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case db.batch.reqs <- r:
	case <-db.batch.closed:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-r.done
	if r.pan != nil {
		panic(r.pan)
	}
	return r.err
}

// writer takes the transactions waiting at each moment and runs them as one batch.
func (db *DB) writer() {
	defer close(db.batch.stopped)
	for {
		var first *batchReq
		select {
		case first = <-db.batch.reqs:
		case <-db.batch.closed:
			return
		}
		batch := []*batchReq{first}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-db.batch.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		db.runBatch(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// runBatch runs the batch in one transaction, each function in its own savepoint.
func (db *DB) runBatch(batch []*batchReq) {
	fail := func(err error) {
		for _, r := range batch {
			if r.err == nil && r.pan == nil {
				r.err = err
			}
		}
	}
	// The batch's own context: a caller that gives up must not interrupt the statements of
	// the others (an interrupted write rolls the whole SQLite transaction back).
	ctx := context.Background()
	if err := db.lockWrite(ctx); err != nil {
		fail(err)
		return
	}
	defer db.unlockWrite()
	db.transactions.Add(1)
	sqlTx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("sqlstore: begin transaction: %w", err))
		return
	}
	tx := &Tx{tx: sqlTx, db: db, shared: true}
	// A batch of one needs no savepoint: its function failing rolls back the transaction,
	// which holds nothing else.
	saved := len(batch) > 1
	applied := 0
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if !saved {
			if r.err, r.pan = runSaved(tx, r.fn); r.err == nil && r.pan == nil {
				applied++
			}
			continue
		}
		if _, err := tx.Exec(ctx, "SAVEPOINT kilt_tx"); err != nil {
			r.err = err
			continue
		}
		r.err, r.pan = runSaved(tx, r.fn)
		if r.err != nil || r.pan != nil {
			if _, err := tx.Exec(ctx, "ROLLBACK TO kilt_tx"); err != nil {
				_ = sqlTx.Rollback()
				fail(fmt.Errorf("sqlstore: rolling back one transaction of a batch: %w", err))
				return
			}
		} else {
			applied++
		}
		if _, err := tx.Exec(ctx, "RELEASE kilt_tx"); err != nil {
			_ = sqlTx.Rollback()
			fail(fmt.Errorf("sqlstore: releasing a savepoint: %w", err))
			return
		}
	}
	if applied == 0 {
		_ = sqlTx.Rollback()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		fail(fmt.Errorf("sqlstore: commit: %w", err))
	}
}

// runSaved runs fn, turning a panic into a value to re-raise in the caller.
func runSaved(tx *Tx, fn func(tx *Tx) error) (err error, pan any) {
	defer func() {
		if v := recover(); v != nil {
			pan = v
		}
	}()
	return callTxFn(tx, fn), nil
}
