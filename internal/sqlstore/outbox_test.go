package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"kilt"
	"kilt/internal/outbox"
)

func enqueueN(t *testing.T, s *Outbox, n int, kind outbox.Kind) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		m := &outbox.Message{Channel: outbox.Email, Kind: kind, Lang: "kk", To: "a@mail.kz",
			Params: map[string]string{"minutes": "30"}, Secret: map[string]string{"link": "https://kilt.test/r?token=T" + string(rune('a'+i%26))},
			CreatedAt: t0}
		if err := s.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

func TestOutboxClaimMarkAndErase(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewOutbox(db)
		ids := enqueueN(t, s, 3, outbox.RecoveryLink)
		if n, oldest, err := s.Depth(ctx); err != nil || n != 3 || !oldest.Equal(t0) {
			t.Errorf("depth: %d %v %v, want 3 at t0", n, oldest, err)
		}
		got, err := s.Claim(ctx, outbox.Email, "me", t0, time.Minute, 2)
		if err != nil || len(got) != 2 {
			t.Fatalf("claim: %d, %v; want 2", len(got), err)
		}
		m := got[0]
		if m.ID != ids[0] || m.Status != outbox.StatusSending || m.Attempts != 1 || m.Secret["link"] == "" ||
			m.Params["minutes"] != "30" || !m.LeaseUntil.Equal(t0.Add(time.Minute)) {
			t.Errorf("claimed message: %+v", m)
		}
		// A claimed message is not claimed again before its lease ends.
		again, _ := s.Claim(ctx, outbox.Email, "other", t0.Add(30*time.Second), time.Minute, 10)
		if len(again) != 1 || again[0].ID != ids[2] {
			t.Errorf("second claimer got %d messages, want only the unclaimed one", len(again))
		}
		if err := s.MarkSent(ctx, ids[:1], "me", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		// The failure of a dispatcher whose claim was taken over changes nothing.
		if err := s.MarkFailed(ctx, ids[1], "not-the-owner", t0, outbox.Failure{Abandon: true, Error: "x"}); err != nil {
			t.Fatal(err)
		}
		next := t0.Add(5 * time.Second)
		if err := s.MarkFailed(ctx, ids[1], "me", t0.Add(time.Second), outbox.Failure{Error: "451 try later", Next: next}); err != nil {
			t.Fatal(err)
		}
		list, err := s.List(ctx, outbox.Filter{})
		if err != nil || len(list) != 3 {
			t.Fatalf("list: %d, %v", len(list), err)
		}
		byID := map[int64]outbox.Message{}
		for _, m := range list {
			byID[m.ID] = m
		}
		if m := byID[ids[0]]; m.Status != outbox.StatusSent || m.Secret != nil || !m.SentAt.Equal(t0.Add(time.Second)) {
			t.Errorf("sent message: status %s secret %v sent %v; want sent, secret erased", m.Status, m.Secret, m.SentAt)
		}
		if m := byID[ids[1]]; m.Status != outbox.StatusPending || m.LastError != "451 try later" || !m.NextAttemptAt.Equal(next) || m.Secret == nil {
			t.Errorf("failed message: %+v; want pending for a retry, secret kept", m)
		}
		if got, _ := s.Claim(ctx, outbox.Email, "me", next.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
			t.Errorf("claimed %d before the retry was due", len(got))
		}
		// The lease of "other" ends: the message is claimed again, its attempt counted.
		got, _ = s.Claim(ctx, outbox.Email, "me", t0.Add(2*time.Minute), time.Minute, 10)
		if len(got) != 2 {
			t.Fatalf("after the lease and the backoff: claimed %d, want 2", len(got))
		}
		for _, m := range got {
			if m.Attempts != 2 {
				t.Errorf("message %d attempts %d, want 2", m.ID, m.Attempts)
			}
		}
		if err := s.MarkFailed(ctx, ids[1], "me", t0, outbox.Failure{BlockReason: "country_not_allowed"}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkFailed(ctx, ids[2], "me", t0, outbox.Failure{Abandon: true, Error: "550 no such user"}); err != nil {
			t.Fatal(err)
		}
		blocked, _ := s.List(ctx, outbox.Filter{Status: outbox.StatusBlocked})
		if len(blocked) != 1 || blocked[0].LastError != "country_not_allowed" || blocked[0].Secret != nil {
			t.Errorf("blocked: %+v", blocked)
		}
		// A given-up message whose link was erased cannot be retried; one without a secret can.
		if err := s.Retry(ctx, ids[2], t0); kilt.ErrorCode(err) != outbox.CodeSecretErased {
			t.Errorf("retry of an erased link: got %v", err)
		}
		if err := s.Retry(ctx, ids[0], t0); kilt.ErrorCode(err) != outbox.CodeNotRetryable {
			t.Errorf("retry of a sent message: got %v", err)
		}
		notice := enqueueN(t, s, 1, outbox.PasswordChanged)[0]
		got, _ = s.Claim(ctx, outbox.Email, "me", t0.Add(time.Hour), time.Minute, 10)
		if len(got) != 1 {
			t.Fatalf("claimed %d", len(got))
		}
		_ = s.MarkFailed(ctx, notice, "me", t0, outbox.Failure{Abandon: true, Error: "x"})
		if err := s.Retry(ctx, notice, t0.Add(time.Hour)); err != nil {
			t.Errorf("retry of an abandoned notice: %v", err)
		}
		if got, _ := s.Claim(ctx, outbox.Email, "me", t0.Add(time.Hour), time.Minute, 10); len(got) != 1 || got[0].Attempts != 1 {
			t.Errorf("after retry: claimed %v", got)
		}
		if n, _, _ := s.Depth(ctx); n != 1 {
			t.Errorf("depth at the end: %d, want 1 (the notice being sent)", n)
		}
	})
}

// TestOutboxConcurrentClaimsNeverOverlap: dispatchers claiming at once never get the same
// message (SKIP LOCKED on PostgreSQL, the write lock on SQLite).
func TestOutboxConcurrentClaimsNeverOverlap(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		s := NewOutbox(db)
		enqueueN(t, s, 200, outbox.PasswordChanged)
		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := string(rune('A' + w))
				for {
					got, err := s.Claim(context.Background(), outbox.Email, owner, t0, time.Minute, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						if prev, ok := seen[m.ID]; ok {
							t.Errorf("message %d claimed by %s and %s", m.ID, prev, owner)
						}
						seen[m.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != 200 {
			t.Errorf("claimed %d distinct messages, want 200", len(seen))
		}
	})
}

func TestSMSBudget(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		b := NewSMSBudget(db)
		var wg sync.WaitGroup
		var mu sync.Mutex
		granted := 0
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := b.Take(ctx, "2026-11-25", 3)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if granted != 3 {
			t.Errorf("granted %d of a budget of 3", granted)
		}
		if ok, _ := b.Take(ctx, "2026-11-26", 3); !ok {
			t.Errorf("a new day has no budget")
		}
		if n, _ := b.Used(ctx, "2026-11-25"); n != 3 {
			t.Errorf("used %d, want 3", n)
		}
		if err := b.Refund(ctx, "2026-11-25"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.Take(ctx, "2026-11-25", 3); !ok {
			t.Errorf("a refunded SMS cannot be taken again")
		}
		for range 5 {
			if ok, _ := b.Take(ctx, "2026-11-27", 0); !ok {
				t.Fatal("an unlimited budget refused")
			}
		}
	})
}

// TestMarkSentIsOneStatement: MarkSent marks any number of messages in one statement, and
// only those whose claim the owner still holds. Before, it took one message a call.
func TestMarkSentIsOneStatement(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewOutbox(db)
		ids := enqueueN(t, s, 5, outbox.RecoveryLink)
		if got, err := s.Claim(ctx, outbox.Email, "me", t0, time.Minute, 4); err != nil || len(got) != 4 {
			t.Fatalf("claim: %d, %v; want 4", len(got), err)
		}
		if got, err := s.Claim(ctx, outbox.Email, "other", t0, time.Minute, 4); err != nil || len(got) != 1 {
			t.Fatalf("claim: %d, %v; want 1", len(got), err)
		}
		before, _ := db.Counts()
		if err := s.MarkSent(ctx, ids, "me", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if after, _ := db.Counts(); after-before != 1 {
			t.Errorf("MarkSent of 5 ran %d statements, want 1", after-before)
		}
		list, err := s.List(ctx, outbox.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			sent := m.ID != ids[4] // the fifth is "other"'s
			if sent && (m.Status != outbox.StatusSent || m.Secret != nil || !m.SentAt.Equal(t0.Add(time.Second))) {
				t.Errorf("message %d: status %s secret %v; want sent, secret erased", m.ID, m.Status, m.Secret)
			}
			if !sent && (m.Status != outbox.StatusSending || m.Secret == nil) {
				t.Errorf("another's message %d: status %s; want left sending with its secret", m.ID, m.Status)
			}
		}
	})
}
