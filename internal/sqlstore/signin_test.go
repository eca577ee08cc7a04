package sqlstore

import (
	"testing"
	"time"

	"kilt/internal/account"
	"kilt/internal/password"
	"kilt/internal/session"
)

// TestSignInStatements: one successful sign-in costs two transactions of eight statements in
// all — the per-IP limit (2), the account (1), both slow-down keys read and locked at once
// (1) and counted at once (1); then both keys cleared at once (1), the session (1), the
// audit event (1). Before, each key cost its own statements: 11. DB.Counts counts what was
// sent, so this is the figure kilt_db_statements_total shows per sign-in. On PostgreSQL the
// last three are one statement without a transaction (BEGIN and COMMIT are round trips
// too), and the account is read in the statement that takes the keys (AttemptState): five
// statements, one transaction; before, eight in two, then six in one.
func TestSignInStatements(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
		hasher := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1}, password.NewPool(1, time.Second))
		hash, err := hasher.Hash(ctx, "Zheltoqsan-1986!")
		if err != nil {
			t.Fatal(err)
		}
		a := &account.Account{Email: "count@mail.kz", EmailVerified: true, PasswordHash: hash, Lang: "kk",
			CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
		if err := createAccount(ctx, db, a, password.HistoryEntry{PasswordHash: hash, SkeletonHash: "sk", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		cfg := session.DefaultConfig()
		cfg.Secret = []byte("a test secret of enough length for the keys")
		svc := session.NewService(NewSessions(db), hasher, password.DefaultPolicy(), func() time.Time { return now }, cfg)
		for round := range 2 { // new slow-down rows, then rows a failure left
			if round == 1 {
				if _, err := svc.SignIn(ctx, "count@mail.kz", "wrong password", "", session.Client{IP: "192.0.2.7"}); err == nil {
					t.Fatal("a wrong password signed in")
				}
			}
			s0, t0 := db.Counts()
			if _, err := svc.SignIn(ctx, "count@mail.kz", "Zheltoqsan-1986!", "", session.Client{IP: "192.0.2.7"}); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			s1, t1 := db.Counts()
			// On PostgreSQL the success's writes are one statement outside a transaction
			// (Sessions.StartSession); SQLite runs them in a transaction of its writer.
			wantS, wantT := uint64(8), uint64(2)
			if db.Dialect() == Postgres {
				wantS, wantT = 5, 1
			}
			if s1-s0 != wantS || t1-t0 != wantT {
				t.Errorf("round %d: %d statements in %d transactions, want %d in %d", round, s1-s0, t1-t0, wantS, wantT)
			}
		}
	})
}
