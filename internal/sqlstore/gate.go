package sqlstore

import "context"

// The write gate, on SQLite only: a semaphore of one that admits one writer (InTx, Exec) of
// this process at a time. SQLite has one write lock per file anyway; queueing here hands it
// over without the busy handler's sleeps of up to 100 ms. Writers in other processes are
// still handled by busy_timeout.

// lockWrite waits, on SQLite, until this process has no other writer, or until ctx ends.
func (db *DB) lockWrite(ctx context.Context) error {
	if db.writeGate == nil {
		return nil
	}
	select {
	case db.writeGate <- struct{}{}:
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
		return true
	default:
		return false
	}
}

func (db *DB) unlockWrite() {
	if db.writeGate != nil {
		<-db.writeGate
	}
}
