package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
	"kilt/internal/session"
)

func benchDB(b *testing.B) *DB {
	b.Helper()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkSessionLookup is the work behind every signed-in request: the session by the
// hash of its token, in the session port's transaction.
func BenchmarkSessionLookup(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	a := newAccount("a@mail.kz", "")
	if err := createAccount(ctx, db, a, entry(0)); err != nil {
		b.Fatal(err)
	}
	s := NewSessions(db)
	hash := []byte("0123456789abcdef0123456789abcdef")
	if err := s.InTx(ctx, func(tx session.Tx) error {
		return tx.InsertSession(ctx, &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}, hash)
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.InTx(ctx, func(tx session.Tx) error {
			_, err := tx.SessionByTokenHash(ctx, hash)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRateLimitTake is one request-path limit check (IP and identifier) in its own
// transaction.
func BenchmarkRateLimitTake(b *testing.B) {
	db := benchDB(b)
	s := NewRateLimits(db)
	ctx := context.Background()
	ip := ratelimit.Limit{Name: "ip", Count: 1 << 30, Period: time.Hour}
	id := ratelimit.Limit{Name: "identifier", Count: 1 << 30, Period: time.Hour}
	i := 0
	for b.Loop() {
		i++
		checks := []ratelimit.Check{{Limit: ip, Key: "192.0.2.1"}, {Limit: id, Key: fmt.Sprintf("k%d", i%1000)}}
		if res, err := s.Take(ctx, checks, t0); err != nil || !res.Allowed {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkNestedCheck is what InTx pays to refuse nesting while another goroutine's
// transaction is open (as under load): a walk of the caller's stack for callTxFn.
func BenchmarkNestedCheck(b *testing.B) {
	db := openTestDB(b, testURL(b, SQLite))
	hold, release := make(chan struct{}), make(chan struct{})
	go db.InTx(b.Context(), func(*Tx) error { close(hold); <-release; return nil })
	<-hold
	defer close(release)
	for b.Loop() {
		if db.nested() {
			b.Fatal("nested outside a transaction's function")
		}
	}
}

// BenchmarkReadToken is the read behind every userinfo and introspection request (and the
// first of a refresh): the token by its hash with its account and session, outside any
// transaction, under a request's context (cancellable), from parallel callers.
func BenchmarkReadToken(b *testing.B) {
	db := benchDB(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acct, sess := oidcSeedClient(b, db)
	s := NewOIDC(db)
	if err := s.InTx(ctx, func(tx oidc.Tx) error {
		return tx.InsertTokens(ctx, &oidc.Token{ID: "a1", Kind: oidc.KindAccess, Hash: []byte("access-hash"), AuthRequestID: "ar1",
			ClientID: "c1", AccountID: acct, SessionID: sess, Scopes: []string{"openid"}, AuthTime: t0, CreatedAt: t0,
			ExpiresAt: t0.Add(time.Hour)})
	}); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, _, err := s.ReadToken(ctx, []byte("access-hash")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOutboxMessageAmongSent is one e-mail's life in the outbox — enqueued, claimed,
// marked sent, three transactions — with the sent messages of a retention period already
// there: what each claim reads should not grow with them (TestClaimReadsOnlyWhatIsDue).
func BenchmarkOutboxMessageAmongSent(b *testing.B) {
	for _, sent := range []int{0, 10000, 100000} {
		b.Run(fmt.Sprintf("sent=%d", sent), func(b *testing.B) {
			db := benchDB(b)
			ctx := context.Background()
			s := NewOutbox(db)
			msg := func() *outbox.Message {
				return &outbox.Message{Channel: outbox.Email, Kind: outbox.RecoveryLink, Lang: "kk", To: "a@mail.kz",
					Params: map[string]string{"minutes": "30"}, Secret: map[string]string{"link": "https://kilt.test/r?token=T"}, CreatedAt: t0}
			}
			first := msg()
			if err := s.Enqueue(ctx, first); err != nil {
				b.Fatal(err)
			}
			if sent > 0 {
				fillSent(b, db, first.ID, sent)
			}
			now := t0.Add(time.Minute)
			for b.Loop() {
				if err := s.Enqueue(ctx, msg()); err != nil {
					b.Fatal(err)
				}
				got, err := s.Claim(ctx, outbox.Email, "me", now, time.Minute, 16)
				if err != nil || len(got) == 0 {
					b.Fatalf("claimed %d: %v", len(got), err)
				}
				ids := make([]int64, len(got))
				for i, m := range got {
					ids[i] = m.ID
				}
				if err := s.MarkSent(ctx, ids, "me", now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
