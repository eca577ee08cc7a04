package retention_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"kilt/internal/retention"
	"kilt/internal/sqlstore"
)

func openDB(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "kilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRunPrunesAtOnceAndStopsWithItsContext: kilt serve's job prunes when it starts (not
// an interval later), and returns when its context ends; with interval 0 it does nothing.
func TestRunPrunesAtOnceAndStopsWithItsContext(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if _, err := db.Exec(ctx, `INSERT INTO rate_limits (name, key, tat) VALUES ('recovery_ip', 'k', $1)`, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	count := func() int {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM rate_limits`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	off := retention.New(sqlstore.NewRetention(db), clock, retention.Config{Interval: 0, Ages: retention.DefaultAges()}, nil, nil)
	off.Run(ctx) // returns at once
	if n := count(); n != 1 {
		t.Fatalf("interval 0 pruned: %d rows left, want 1", n)
	}

	deleted := make(chan string, 1)
	job := retention.New(sqlstore.NewRetention(db), clock, retention.Config{Interval: time.Hour, Ages: retention.DefaultAges()}, nil,
		func(table string, n int) { deleted <- table })
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		job.Run(rctx)
	}()
	if got := <-deleted; got != "rate_limits" {
		t.Errorf("first round deleted from %s, want rate_limits", got)
	}
	cancel()
	<-done
	if n := count(); n != 0 {
		t.Errorf("%d rows left, want 0", n)
	}
}

// TestUnconfiguredClassIsKept: a class without an age is not pruned.
func TestUnconfiguredClassIsKept(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if _, err := db.Exec(ctx, `INSERT INTO login_throttle (key, failures, last_failed_at) VALUES ('k', 3, $1)`, now.AddDate(-1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	job := retention.New(sqlstore.NewRetention(db), func() time.Time { return now },
		retention.Config{Ages: map[retention.Class]time.Duration{retention.Expired: time.Hour}}, nil, nil)
	got, err := job.RunOnce(ctx)
	if err != nil || got["login_throttle"] != 0 {
		t.Fatalf("RunOnce: %v %v, want nothing deleted from login_throttle", got, err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM login_throttle`).Scan(&n); err != nil || n != 1 {
		t.Errorf("login_throttle: %d rows (%v), want 1", n, err)
	}
}
