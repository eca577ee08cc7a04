package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/password"
	"kilt/internal/session"
	"kilt/internal/session/sessiontest"
	"kilt/internal/userimport"
)

// The store contract: what account.Store and session.Store promise, checked on both
// databases by the same code.

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 123456000, time.UTC)

func newAccount(email, phone string) *account.Account {
	return &account.Account{Email: email, EmailVerified: email != "", Phone: phone, PhoneVerified: phone != "",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Lang: "kk",
		CreatedAt: t0, UpdatedAt: t0, PasswordChangedAt: t0}
}

// entry is the nth history entry of a test account: keyed for even n, in the legacy format
// (before migration 0050) for odd n, so that every history mixes both.
func entry(n int) password.HistoryEntry {
	e := password.HistoryEntry{PasswordHash: fmt.Sprintf("pw-%d", n), CreatedAt: t0.Add(time.Duration(n) * time.Hour)}
	if n%2 == 0 {
		e.Key = fmt.Sprintf("key-%d", n)
	} else {
		e.SkeletonHash = fmt.Sprintf("sk-%d", n)
	}
	return e
}

// createAccount inserts a and its first history entry in a transaction of its own.
func createAccount(ctx context.Context, db *DB, a *account.Account, h password.HistoryEntry) error {
	return NewAccounts(db).InTx(ctx, func(tx account.Tx) error { return tx.InsertAccount(ctx, a, h) })
}

func TestAccountsContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewAccounts(db)
		a := newAccount("Aigerim@mail.kz", "+77011234567")
		if err := createAccount(ctx, db, a, entry(0)); err != nil {
			t.Fatal(err)
		}
		if a.ID == 0 {
			t.Fatal("CreateAccount did not set the ID")
		}
		for name, get := range map[string]func() (*account.Account, error){
			"by id":    func() (*account.Account, error) { return s.AccountByID(ctx, a.ID) },
			"by email": func() (*account.Account, error) { return s.AccountByEmail(ctx, "aigerim@mail.kz") },
			"by phone": func() (*account.Account, error) { return s.AccountByPhone(ctx, "+77011234567") },
		} {
			got, err := get()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(a, got); diff != "" {
				t.Errorf("%s: round trip differs (-want +got):\n%s", name, diff)
			}
		}
		if _, err := s.AccountByEmail(ctx, "nobody@mail.kz"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown e-mail: got %v, want ErrNotFound", err)
		}
		if _, err := s.AccountByID(ctx, 999); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown id: got %v, want ErrNotFound", err)
		}

		// Identifiers are unique: the e-mail case-insensitively, the phone exactly.
		for _, dup := range []*account.Account{newAccount("AIGERIM@mail.kz", ""), newAccount("", "+77011234567")} {
			err := createAccount(ctx, db, dup, entry(0))
			if kilt.ErrorKind(err) != kilt.KindConflict {
				t.Errorf("duplicate %q/%q: got %v, want a conflict", dup.Email, dup.Phone, err)
			}
		}
		// Accounts without one of the identifiers do not collide on the missing one.
		if err := createAccount(ctx, db, newAccount("", "+77017654321"), entry(0)); err != nil {
			t.Errorf("a second phone-only account: %v", err)
		}
		if err := createAccount(ctx, db, newAccount("other@mail.kz", ""), entry(0)); err != nil {
			t.Errorf("an e-mail-only account: %v", err)
		}

	})
}

func TestChangePasswordKeepsHistoryAndSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		accounts, sessions := NewAccounts(db), NewSessions(db)
		a := newAccount("a@mail.kz", "")
		if err := createAccount(ctx, db, a, entry(0)); err != nil {
			t.Fatal(err)
		}
		b := newAccount("b@mail.kz", "")
		if err := createAccount(ctx, db, b, entry(0)); err != nil {
			t.Fatal(err)
		}
		var keep, other, bs session.Session
		for i, s := range []*session.Session{&keep, &other, &bs} {
			s.AccountID = a.ID
			if s == &bs {
				s.AccountID = b.ID
			}
			s.CreatedAt, s.LastSeenAt, s.ExpiresAt = t0, t0, t0.Add(12*time.Hour)
			if err := sessions.InTx(ctx, func(tx session.Tx) error { return tx.InsertSession(ctx, s, []byte{byte(i), 1, 2, 3}) }); err != nil {
				t.Fatal(err)
			}
		}
		change := func(id int64, n int) error {
			return accounts.InTx(ctx, func(tx account.Tx) error {
				now := t0.Add(time.Duration(n) * time.Hour)
				if err := tx.UpdatePassword(ctx, id, fmt.Sprintf("pw-%d", n), now); err != nil {
					return err
				}
				if err := tx.AddHistory(ctx, id, entry(n), 6); err != nil {
					return err
				}
				_, err := tx.DeleteSessions(ctx, id, keep.ID)
				return err
			})
		}
		for n := 1; n <= 8; n++ {
			if err := change(a.ID, n); err != nil {
				t.Fatal(err)
			}
		}
		h, err := accounts.PasswordHistory(ctx, a.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []password.HistoryEntry{entry(8), entry(7), entry(6), entry(5), entry(4), entry(3)}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("history, newest first, 6 kept, both formats (-want +got):\n%s", diff)
		}
		if bh, _ := accounts.PasswordHistory(ctx, b.ID, 10); len(bh) != 1 {
			t.Errorf("another account's history was touched: %d entries", len(bh))
		}
		got2, _ := accounts.AccountByID(ctx, a.ID)
		if got2.PasswordHash != "pw-8" || !got2.PasswordChangedAt.Equal(t0.Add(8*time.Hour)) {
			t.Errorf("account after change: hash %q changed %v", got2.PasswordHash, got2.PasswordChangedAt)
		}
		for _, c := range []struct {
			s    *session.Session
			live bool
		}{{&keep, true}, {&other, false}, {&bs, true}} {
			err := sessions.InTx(ctx, func(tx session.Tx) error {
				_, err := tx.SessionByTokenHash(ctx, []byte{byte(map[*session.Session]int{&keep: 0, &other: 1, &bs: 2}[c.s]), 1, 2, 3})
				return err
			})
			if (err == nil) != c.live {
				t.Errorf("session %d: live %v, want %v (err %v)", c.s.ID, err == nil, c.live, err)
			}
		}
		if err := change(999, 1); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("change of unknown account: got %v, want ErrNotFound", err)
		}
	})
}

// TestSessionsContract runs the session port's contract suite, which the session package
// owns, on both databases.
func TestSessionsContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		sessiontest.Run(t, sessiontest.Harness{
			Store: NewSessions(db),
			AddAccount: func(t *testing.T, a *account.Account, h password.HistoryEntry) {
				t.Helper()
				if err := createAccount(context.Background(), db, a, h); err != nil {
					t.Fatal(err)
				}
			},
			History: func(t *testing.T, accountID int64) []password.HistoryEntry {
				t.Helper()
				h, err := NewAccounts(db).PasswordHistory(context.Background(), accountID, 10)
				if err != nil {
					t.Fatal(err)
				}
				return h
			},
			Audit: func(t *testing.T, accountID int64) []audit.Event {
				t.Helper()
				e, err := NewAudit(db).Recent(context.Background(), accountID, 100)
				if err != nil {
					t.Fatal(err)
				}
				return e
			},
		})
	})
}

// TestLoginThrottleCountsConcurrentAttempts: attempts on one key made at once are counted
// one after the other, none lost.
func TestLoginThrottleCountsConcurrentAttempts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewAccounts(db)
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.UpdateLoginThrottle(ctx, "k", func(th *account.Throttle) error {
					th.Failures++
					th.LastFailedAt = t0.Add(time.Duration(i) * time.Second)
					return nil
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var got account.Throttle
		refuse := errors.New("look only")
		if err := s.UpdateLoginThrottle(ctx, "k", func(th *account.Throttle) error { got = *th; return refuse }); !errors.Is(err, refuse) {
			t.Fatalf("fn's error: got %v", err)
		}
		if got.Failures != n {
			t.Errorf("failures: got %d, want %d", got.Failures, n)
		}
		if err := s.ClearLoginThrottle(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		_ = s.UpdateLoginThrottle(ctx, "k", func(th *account.Throttle) error { got = *th; return refuse })
		if got.Failures != 0 {
			t.Errorf("after clear: %d failures", got.Failures)
		}
	})
}

// TestLoginThrottleRacesClear: attempts counted while successful sign-ins clear the same key
// never fail — the row a count reads cannot vanish between being made and being locked.
func TestLoginThrottleRacesClear(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewAccounts(db)
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for i := range 400 {
			wg.Go(func() {
				if i%2 == 0 {
					errs <- s.ClearLoginThrottle(ctx, "race")
					return
				}
				errs <- s.UpdateLoginThrottle(ctx, "race", func(th *account.Throttle) error {
					th.Failures++
					return nil
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("racing a clear: %v", err)
			}
		}
	})
}

// TestHashHeads: the heads of the stored hashes not made at the current cost, each once.
func TestHashHeads(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		current := "$argon2id$v=19$m=19456,t=2,p=1$"
		for i, h := range []string{
			current + "c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
			current + "b3RoZXJzYWx0b3RoZXJzYQ$aGFzaA",
			"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
			"$argon2id$v=19$m=8192,t=1,p=1$b3RoZXJzYWx0b3RoZXJzYQ$aGFzaA",
			"$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
			"$2a$10$abcdefghijklmnopqrstuu1234567890123456789012345678901",
			"$2b$12$abcdefghijklmnopqrstuu1234567890123456789012345678901",
			"$2a$10$zbcdefghijklmnopqrstuu1234567890123456789012345678901",
		} {
			a := newAccount(fmt.Sprintf("h%d@mail.kz", i), "")
			a.PasswordHash = h
			if err := createAccount(ctx, db, a, entry(0)); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]int{}
		if err := NewSessions(db).HashHeads(ctx, current, func(h string) { got[h]++ }); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"$2a$10$": 1, "$2b$12$": 1, "$argon2id$v=19$m=8192,t=1,p=1$": 1, "$argon2i$v=19$m=65536,t=3,p=4$": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("heads (-want +got):\n%s", diff)
		}
	})
}

// TestHashHeadsKeptOnWrite: after the one fill from the accounts, start-up reads the heads
// from password_heads and never scans the accounts again: the current head of each start
// and the heads an import brings are recorded as they are written, and deleting the
// settings row has the next start fill the table from the accounts again.
func TestHashHeadsKeptOnWrite(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		sessions := NewSessions(db)
		heads := func(current string) []string {
			t.Helper()
			var got []string
			if err := sessions.HashHeads(ctx, current, func(h string) { got = append(got, h) }); err != nil {
				t.Fatal(err)
			}
			return got
		}
		current := "$argon2id$v=19$m=19456,t=2,p=1$"
		a := newAccount("first@mail.kz", "")
		a.PasswordHash = "$2a$10$abcdefghijklmnopqrstuu1234567890123456789012345678901"
		if err := createAccount(ctx, db, a, entry(0)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"$2a$10$"}, heads(current)); diff != "" {
			t.Errorf("the first start fills the heads from the accounts (-want +got):\n%s", diff)
		}
		// Written outside the importer (as no Kilt path writes it), so not seen: the start
		// reads the table, not the accounts.
		b := newAccount("direct@mail.kz", "")
		b.PasswordHash = "$2b$12$abcdefghijklmnopqrstuu1234567890123456789012345678901"
		if err := createAccount(ctx, db, b, entry(0)); err != nil {
			t.Fatal(err)
		}
		row := importRow(1, "imported@mail.kz", "")
		row.Account.PasswordHash = "$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA"
		if _, err := NewAccounts(db).ImportAccounts(ctx, []userimport.Row{row}, false); err != nil {
			t.Fatal(err)
		}
		cheaper := "$argon2id$v=19$m=8192,t=1,p=1$"
		want := []string{"$2a$10$", "$argon2i$v=19$m=65536,t=3,p=4$", current}
		if diff := cmp.Diff(want, heads(cheaper)); diff != "" {
			t.Errorf("a later start at another cost (-want +got):\n%s", diff)
		}
		if _, err := db.Exec(ctx, `DELETE FROM settings WHERE key = $1`, headsFilled); err != nil {
			t.Fatal(err)
		}
		want = []string{"$2a$10$", "$2b$12$", "$argon2i$v=19$m=65536,t=3,p=4$", cheaper}
		if diff := cmp.Diff(want, heads(current)); diff != "" {
			t.Errorf("after the settings row was deleted, filled again (-want +got):\n%s", diff)
		}
	})
}
