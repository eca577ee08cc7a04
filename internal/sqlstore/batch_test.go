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
