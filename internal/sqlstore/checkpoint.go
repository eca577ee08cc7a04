package sqlstore

import (
	"context"
	"time"
)

// Checkpoints on SQLite. In WAL mode a commit appends pages to the -wal file, and a
// checkpoint copies them back into the database file and syncs it. Left to SQLite, the
// commit that crosses wal_autocheckpoint runs the checkpoint itself, holding the write lock
// meanwhile: under load that is the writer — and every request queued behind it — stalled
// for a copy and two fsyncs. So a file database is checkpointed by a goroutine of its own,
// beside the writer (PASSIVE: it never blocks readers or the writer and copies what it can),
// and the automatic checkpoint stays only as a backstop for a WAL that this goroutine could
// not keep small: a process that is not serving, or one whose checkpoints keep failing.

const (
	// checkpointEvery is how often the checkpointer runs.
	checkpointEvery = 250 * time.Millisecond
	// walBackstopPages is the automatic checkpoint's threshold, in pages (64 MiB at the
	// default 4 KiB page): far above what the checkpointer lets the WAL reach under load.
	walBackstopPages = 16384
)

// startCheckpointer runs PASSIVE checkpoints every checkpointEvery until stopCheckpointer.
func (db *DB) startCheckpointer() {
	db.ckptStop = make(chan struct{})
	db.ckptDone = make(chan struct{})
	go func() {
		defer close(db.ckptDone)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-db.ckptStop:
				return
			case <-t.C:
				// A failed checkpoint (the database busy or closing) is retried at the next
				// tick; the backstop bounds the WAL meanwhile.
				_, _ = db.checkpoint(context.Background())
			}
		}
	}()
}

// stopCheckpointer stops the checkpointer; SQLite checkpoints once more when the last
// connection closes.
func (db *DB) stopCheckpointer() {
	if db.ckptStop == nil {
		return
	}
	db.ckptOnce.Do(func() { close(db.ckptStop) })
	<-db.ckptDone
}

// checkpoint runs one PASSIVE checkpoint and returns the number of frames in the WAL that
// it has not copied back.
func (db *DB) checkpoint(ctx context.Context) (left int, err error) {
	var busy, frames, copied int
	err = db.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames - copied, err
}
