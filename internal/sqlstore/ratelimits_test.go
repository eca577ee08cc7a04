package sqlstore

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kilt/internal/ratelimit"
)

func TestRateLimitsContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		store := NewRateLimits(db)
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		ip := ratelimit.Limit{Name: "ip", Count: 3, Period: time.Hour}
		id := ratelimit.Limit{Name: "identifier", Count: 2, Period: time.Hour}
		take := func(key string, at time.Time) ratelimit.Result {
			t.Helper()
			res, err := store.Take(t.Context(), []ratelimit.Check{{Limit: ip, Key: "192.0.2.1"}, {Limit: id, Key: key}}, at)
			if err != nil {
				t.Fatalf("Take: %v", err)
			}
			return res
		}
		for i := range 2 {
			if res := take("a", now); !res.Allowed {
				t.Fatalf("take %d of a: refused %v", i+1, res.Refused)
			}
		}
		res := take("a", now)
		if res.Allowed || len(res.Refused) != 1 || res.Refused[0] != "identifier" || res.RetryAfter != 30*time.Minute {
			t.Fatalf("third take of a: %+v, want refused by identifier for 30m", res)
		}
		// The refusal used up nothing: the IP has one action left, which b gets.
		if res := take("b", now); !res.Allowed {
			t.Fatalf("first take of b: refused %v", res.Refused)
		}
		if res := take("c", now); res.Allowed || res.Refused[0] != "ip" || res.RetryAfter != 20*time.Minute {
			t.Fatalf("fourth take from the IP: %+v, want refused by ip for 20m", res)
		}
		// Time gives back: after 20 minutes the IP has room for one more.
		if res := take("c", now.Add(20*time.Minute)); !res.Allowed {
			t.Fatalf("after 20 minutes: refused %v", res.Refused)
		}

		// A limit switched off is not stored, and alone it allows everything.
		off := ratelimit.Limit{Name: "off"}
		if res, err := store.Take(t.Context(), []ratelimit.Check{{Limit: off, Key: "x"}}, now); err != nil || !res.Allowed {
			t.Fatalf("a limit switched off: %+v, %v", res, err)
		}
		var n int
		if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM rate_limits WHERE name = 'off'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("rows of a limit switched off: %d, %v", n, err)
		}

		// One key checked twice in one take is a mistake of the caller, not a decision.
		twice := []ratelimit.Check{{Limit: id, Key: "d"}, {Limit: id, Key: "d"}}
		if _, err := store.Take(t.Context(), twice, now); err == nil {
			t.Errorf("one key checked twice: no error")
		}
	})
}

// TestRateLimitsConcurrent: takes racing for the same keys — named in either order — are
// decided one after the other: exactly Count of them are allowed, and none deadlocks.
func TestRateLimitsConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		store := NewRateLimits(db)
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		a := ratelimit.Limit{Name: "a", Count: 10, Period: time.Hour}
		b := ratelimit.Limit{Name: "b", Count: 1000, Period: time.Hour}
		var allowed atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			checks := []ratelimit.Check{{Limit: a, Key: "k"}, {Limit: b, Key: "k"}}
			if i%2 == 1 {
				checks[0], checks[1] = checks[1], checks[0]
			}
			wg.Go(func() {
				res, err := store.Take(t.Context(), checks, now)
				if err != nil {
					errs <- err
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Take: %v", err)
		}
		if got := allowed.Load(); got != 10 {
			t.Errorf("%d of 40 racing takes allowed, want 10", got)
		}
	})
}

// TestTakeIsTwoStatements: applying limits costs one transaction of two statements whatever
// the number of keys — on PostgreSQL too, where the read also makes and locks the rows
// (before, a third statement made them first). DB.Counts counts what was sent.
func TestTakeIsTwoStatements(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		store := NewRateLimits(db)
		lim := ratelimit.Limit{Name: "count", Count: 5, Period: time.Hour}
		checks := []ratelimit.Check{{Limit: lim, Key: "a"}, {Limit: lim, Key: "b"}, {Limit: lim, Key: "c"}}
		for round := range 2 { // new rows, then existing ones
			s0, t0 := db.Counts()
			res, err := store.Take(t.Context(), checks, time.Date(2026, 12, 4, 9, 0, round, 0, time.UTC))
			if err != nil || !res.Allowed {
				t.Fatalf("round %d: %+v, %v", round, res, err)
			}
			s1, t1 := db.Counts()
			if s1-s0 != 2 || t1-t0 != 1 {
				t.Errorf("round %d: %d statements in %d transactions, want 2 in 1", round, s1-s0, t1-t0)
			}
		}
	})
}
