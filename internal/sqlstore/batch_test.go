package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBatchedTransactionsKeepTheirOwnOutcome: many write transactions at once on SQLite
// share commits, yet each is applied or rolled back on its own, a panic reaches only its
// caller, and a caller that gives up does not spoil the others.
func TestBatchedTransactionsKeepTheirOwnOutcome(t *testing.T) {
	db := openTestDB(t, "sqlite:"+filepath.Join(t.TempDir(), "b.db"))
	createSample(t, db)
	const n = 200
	refuse := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			ctx := context.Background()
			if i%10 == 7 {
				c, cancel := context.WithCancel(ctx)
				cancel() // gave up before its turn
				ctx = c
			}
			errs[i] = db.InTx(ctx, func(tx *Tx) error {
				insertSample(t, tx, fmt.Sprintf("row%d", i))
				switch {
				case i%10 == 3:
					return refuse
				case i%10 == 5:
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		want := 1
		switch i % 10 {
		case 3:
			want = 0
			if !errors.Is(errs[i], refuse) {
				t.Errorf("%d: error %v, want its own", i, errs[i])
			}
		case 5:
			want = 0
			if panics[i] != "boom" {
				t.Errorf("%d: panic %v, want boom re-raised in the caller", i, panics[i])
			}
		case 7:
			want = 0
			if !errors.Is(errs[i], context.Canceled) {
				t.Errorf("%d: error %v, want context.Canceled", i, errs[i])
			}
		default:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("%d: %v %v", i, errs[i], panics[i])
			}
		}
		if got := countSample(t, db, fmt.Sprintf("row%d", i)); got != want {
			t.Errorf("row%d: %d rows, want %d", i, got, want)
		}
	}
}

// TestLoneTransactionRunsInItsCaller: a write transaction that meets no other runs in its
// caller's goroutine, not handed to the writer goroutine and back; it still commits.
func TestLoneTransactionRunsInItsCaller(t *testing.T) {
	db := openTestDB(t, "sqlite:"+filepath.Join(t.TempDir(), "lone.db"))
	createSample(t, db)
	var stack string
	err := db.InTx(t.Context(), func(tx *Tx) error {
		buf := make([]byte, 64<<10)
		stack = string(buf[:runtime.Stack(buf, false)])
		insertSample(t, tx, "lone")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stack, "(*DB).writer") || !strings.Contains(stack, "TestLoneTransactionRunsInItsCaller") {
		t.Errorf("the transaction did not run in its caller's goroutine:\n%s", stack)
	}
	if got := countSample(t, db, "lone"); got != 1 {
		t.Errorf("%d rows, want 1", got)
	}
}

// TestBatchOfOneHasNoSavepoint: a batch of one transaction runs its function with no
// SAVEPOINT and RELEASE around it (two statements more than it asked for, before), and
// still keeps its own outcome: a failing function leaves nothing behind.
func TestBatchOfOneHasNoSavepoint(t *testing.T) {
	db := openTestDB(t, "sqlite:"+filepath.Join(t.TempDir(), "one.db"))
	createSample(t, db)
	run := func(name string, fail error) error {
		r := &batchReq{ctx: t.Context(), done: make(chan struct{}), fn: func(tx *Tx) error {
			insertSample(t, tx, name)
			return fail
		}}
		before, _ := db.Counts()
		db.runBatch([]*batchReq{r})
		if after, _ := db.Counts(); after-before != 1 {
			t.Errorf("%s: a batch of one ran %d statements, want its 1", name, after-before)
		}
		return r.err
	}
	if err := run("kept", nil); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	if err := run("refused", refuse); !errors.Is(err, refuse) {
		t.Errorf("error %v, want its own", err)
	}
	if got := countSample(t, db, "kept"); got != 1 {
		t.Errorf("kept: %d rows, want 1", got)
	}
	if got := countSample(t, db, "refused"); got != 0 {
		t.Errorf("refused: %d rows, want 0", got)
	}
}

// TestWriteHeldIsTheWritersTime: WriteHeld grows by at least the time a write transaction's
// function ran (the gate is held around it, its begin and its commit), and not for a read
// outside any transaction; on PostgreSQL, which has no gate, it stays 0.
func TestWriteHeldIsTheWritersTime(t *testing.T) {
	forEachEmptyDialect(t, func(t *testing.T, db *DB) {
		createSample(t, db)
		before := db.WriteHeld()
		var inside time.Duration
		err := db.InTx(t.Context(), func(tx *Tx) error {
			start := time.Now()
			insertSample(t, tx, "held")
			inside = time.Since(start)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		held := db.WriteHeld() - before
		if db.Dialect() == Postgres {
			if db.WriteHeld() != 0 {
				t.Errorf("PostgreSQL: WriteHeld %v, want 0", db.WriteHeld())
			}
			return
		}
		if inside <= 0 || held < inside {
			t.Errorf("the write gate was held %v for a transaction whose function ran %v", held, inside)
		}
		afterWrite := db.WriteHeld()
		if got := countSample(t, db, "held"); got != 1 {
			t.Fatalf("%d rows, want 1", got)
		}
		if db.WriteHeld() != afterWrite {
			t.Errorf("a read outside any transaction counted %v as held", db.WriteHeld()-afterWrite)
		}
	})
}
