package sqlstore

import (
	"context"
	"time"
)

// The write gate, on SQLite only: a semaphore of one that admits one writer (InTx, Exec) of
// this process at a time. SQLite has one write lock per file anyway; queueing here hands it
// over without the busy handler's sleeps of up to 100 ms. Writers in other processes are
// still handled by busy_timeout. The time the gate is held, summed (WriteHeld), is how busy
// that one writer is: its rate near one second a second, writes queue.

// lockWrite waits, on SQLite, until this process has no other writer, or until ctx ends.
func (db *DB) lockWrite(ctx context.Context) error {
	if db.writeGate == nil {
		return nil
	}
	select {
	case db.writeGate <- struct{}{}:
		db.heldSince = time.Now()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryLockWrite takes the write gate, on SQLite, only if no writer of this process holds it
// or waits for it.
func (db *DB) tryLockWrite() bool {
	select {
	case db.writeGate <- struct{}{}:
		db.heldSince = time.Now()
		return true
	default:
		return false
	}
}

func (db *DB) unlockWrite() {
	if db.writeGate != nil {
		db.held.Add(int64(time.Since(db.heldSince)))
		<-db.writeGate
	}
}

// WriteHeld is how long, in all, this process has held the write gate since the database
// was opened: on SQLite, the time its one writer was busy; 0 on PostgreSQL.
func (db *DB) WriteHeld() time.Duration { return time.Duration(db.held.Load()) }
