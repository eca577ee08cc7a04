package sessiontest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"kilt/internal/session"
)

// runEnded checks DeleteEndedSessions, the claim of the retention job's sweep: it deletes
// and returns the sessions at or past their absolute end or last seen at or before the idle
// cutoff (both bounds included), at most limit of them, never a live one; and transactions
// racing for the same ended sessions each get a different share, every session once.
func runEnded(t *testing.T, h Harness) {
	ctx := context.Background()
	a := newAccount(h, t, "ended@mail.kz", "")
	expiredBy, seenBy := t0.Add(12*time.Hour), t0.Add(11*time.Hour)
	add := func(t *testing.T, seen, expires time.Time) *session.Session {
		t.Helper()
		s := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: seen, ExpiresAt: expires, IP: "192.0.2.8", UserAgent: "ua"}
		hash := []byte(fmt.Sprintf("ended-%d-%d-%032d", seen.UnixMicro(), expires.UnixMicro(), time.Now().UnixNano()))
		if err := h.Store.InTx(ctx, func(tx session.Tx) error { return tx.InsertSession(ctx, s, hash) }); err != nil {
			t.Fatal(err)
		}
		return s
	}
	sweep := func(t *testing.T, limit int) []session.Session {
		t.Helper()
		var got []session.Session
		if err := h.Store.InTx(ctx, func(tx session.Tx) (err error) {
			got, err = tx.DeleteEndedSessions(ctx, expiredBy, seenBy, limit)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	// ids lists the sessions of the account, sorted (the other subtests' sessions, left in
	// the database, have ended too).
	ids := func(ss []session.Session) []int64 {
		out := make([]int64, 0, len(ss))
		for _, s := range ss {
			if s.AccountID == a.ID {
				out = append(out, s.ID)
			}
		}
		slices.Sort(out)
		return out
	}

	t.Run("which", func(t *testing.T) {
		sweep(t, 1000) // the other subtests' sessions, first
		µs := time.Microsecond
		live := add(t, seenBy.Add(µs), expiredBy.Add(µs))                 // just inside both
		idle := add(t, seenBy, expiredBy.Add(time.Hour))                  // last seen exactly at the cutoff
		expired := add(t, seenBy.Add(time.Minute), expiredBy)             // at its absolute end exactly
		both := add(t, seenBy.Add(-time.Hour), expiredBy.Add(-time.Hour)) // long gone
		first := sweep(t, 2)
		if len(first) != 2 {
			t.Fatalf("limit 2: got %d sessions, want 2", len(first))
		}
		rest := sweep(t, 10)
		got := ids(append(first, rest...))
		want := ids([]session.Session{*idle, *expired, *both})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ended sessions %v, want %v (live: %d)", got, want, live.ID)
		}
		for _, s := range append(first, rest...) {
			if s.ID == both.ID && (s.AccountID != a.ID || !s.LastSeenAt.Equal(both.LastSeenAt) || !s.ExpiresAt.Equal(both.ExpiresAt)) {
				t.Errorf("returned %+v, want %+v", s, both)
			}
		}
		if again := sweep(t, 10); len(again) != 0 {
			t.Errorf("a second sweep ended %v again", ids(again))
		}
		if err := h.Store.InTx(ctx, func(tx session.Tx) error {
			got, err := tx.SessionIDs(ctx, a.ID)
			if err == nil && fmt.Sprint(got) != fmt.Sprint([]int64{live.ID}) {
				t.Errorf("sessions left %v, want the live one [%d]", got, live.ID)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("racing sweeps", func(t *testing.T) {
		const n = 24
		var want []session.Session
		for i := range n {
			want = append(want, *add(t, seenBy.Add(-time.Duration(i)*time.Minute), expiredBy.Add(time.Hour)))
		}
		var mu sync.Mutex
		var got []session.Session
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var batch []session.Session
					err := h.Store.InTx(ctx, func(tx session.Tx) (err error) {
						batch, err = tx.DeleteEndedSessions(ctx, expiredBy, seenBy, 5)
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					got = append(got, batch...)
					mu.Unlock()
					if len(batch) < 5 {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Each sweeper stops at its first short batch, which may be short only because the
		// others held the rest: what is left is swept once more.
		got = append(got, sweep(t, n)...)
		if g, w := ids(got), ids(want); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("racing sweeps ended %v, want each of %v once", g, w)
		}
	})
}
