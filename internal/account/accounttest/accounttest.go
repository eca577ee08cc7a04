// Package accounttest is the contract every account.Store must keep, as a test suite that
// each store runs on each of its databases (package sqlstore: SQLite and PostgreSQL).
package accounttest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/outbox"
	"kilt/internal/password"
)

// T0 is the time the suite's rows are made at.
var T0 = time.Date(2026, 11, 25, 9, 0, 0, 123456000, time.UTC)

// NewAccount is an account of the suite, not yet stored.
func NewAccount(email, phone string) *account.Account {
	return &account.Account{Email: email, EmailVerified: email != "", Phone: phone, PhoneVerified: phone != "",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Lang: "kk",
		CreatedAt: T0, UpdatedAt: T0, PasswordChangedAt: T0}
}

// Insert stores a in a transaction of its own and fails the test if it cannot.
func Insert(t *testing.T, s account.Store, a *account.Account) {
	t.Helper()
	ctx := context.Background()
	if err := s.InTx(ctx, func(tx account.Tx) error {
		return tx.InsertAccount(ctx, a, password.HistoryEntry{PasswordHash: a.PasswordHash, CreatedAt: a.CreatedAt})
	}); err != nil {
		t.Fatalf("inserting %s%s: %v", a.Email, a.Phone, err)
	}
}

// Run checks s: a store on an empty, migrated database.
func Run(t *testing.T, s account.Store) {
	t.Run("accounts", func(t *testing.T) { testAccounts(t, s) })
	t.Run("registrations", func(t *testing.T) { testRegistrations(t, s) })
	t.Run("code failures", func(t *testing.T) { testCodeFailures(t, s) })
	t.Run("rollback", func(t *testing.T) { testRollback(t, s) })
	t.Run("channels", func(t *testing.T) { testChannels(t, s) })
	t.Run("deletion", func(t *testing.T) { testDeletion(t, s) })
}

func testAccounts(t *testing.T, s account.Store) {
	ctx := context.Background()
	a := NewAccount("Aigerim@mail.kz", "+77011234567")
	a.ConsentVersion, a.ConsentAt = "consent-v1", T0.Add(-time.Hour)
	Insert(t, s, a)
	if a.ID == 0 {
		t.Fatal("InsertAccount did not set the ID")
	}
	err := s.InTx(ctx, func(tx account.Tx) error {
		for name, get := range map[string]func() (*account.Account, error){
			"by id":    func() (*account.Account, error) { return tx.AccountByID(ctx, a.ID) },
			"by email": func() (*account.Account, error) { return tx.AccountByEmail(ctx, account.EmailKey("aigerim@MAIL.kz")) },
			"by phone": func() (*account.Account, error) { return tx.AccountByPhone(ctx, "+77011234567") },
		} {
			got, err := get()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got.ID != a.ID || got.Email != a.Email || got.Phone != a.Phone || !got.CreatedAt.Equal(a.CreatedAt) ||
				got.ConsentVersion != a.ConsentVersion || !got.ConsentAt.Equal(a.ConsentAt) {
				t.Errorf("%s: got %+v, want %+v", name, got, a)
			}
		}
		if _, err := tx.AccountByID(ctx, a.ID+1000); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown id: got %v, want ErrNotFound", err)
		}
		if err := tx.UpdatePassword(ctx, a.ID, "new-hash", T0.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.UpdatePassword(ctx, a.ID+1000, "x", T0); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("password of an unknown account: got %v, want ErrNotFound", err)
		}
		if err := tx.SetLocked(ctx, a.ID, true, T0.Add(2*time.Hour)); err != nil {
			return err
		}
		if err := tx.SetLocked(ctx, a.ID+1000, true, T0); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("lock of an unknown account: got %v, want ErrNotFound", err)
		}
		for n := 1; n <= 8; n++ {
			if err := tx.AddHistory(ctx, a.ID, password.HistoryEntry{PasswordHash: string(rune('a' + n)), CreatedAt: T0}, 6); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.AccountByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "new-hash" || !got.PasswordChangedAt.Equal(T0.Add(time.Hour)) || !got.Locked ||
		!got.UpdatedAt.Equal(T0.Add(2*time.Hour)) {
		t.Errorf("after the changes: %+v", got)
	}
	h, err := s.PasswordHistory(ctx, a.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 6 || h[0].PasswordHash != "i" || h[5].PasswordHash != "d" {
		t.Errorf("history: got %d entries %+v, want the newest 6, newest first", len(h), h)
	}

	// Identifiers are unique: the e-mail case-insensitively, the phone exactly; a taken one
	// is a conflict, and accounts without an identifier do not collide on it.
	for _, dup := range []*account.Account{NewAccount("AIGERIM@mail.kz", ""), NewAccount("", "+77011234567")} {
		err := s.InTx(ctx, func(tx account.Tx) error { return tx.InsertAccount(ctx, dup, password.HistoryEntry{CreatedAt: T0}) })
		if kilt.ErrorKind(err) != kilt.KindConflict {
			t.Errorf("duplicate %q/%q: got %v, want a conflict", dup.Email, dup.Phone, err)
		}
	}
	Insert(t, s, NewAccount("", "+77017654321"))
	other := NewAccount("other@mail.kz", "")
	Insert(t, s, other)
	// An account made without a registration has no consent recorded.
	if got, err := s.AccountByID(ctx, other.ID); err != nil || got.ConsentVersion != "" || !got.ConsentAt.IsZero() {
		t.Errorf("an account without consent: got %+v, %v", got, err)
	}
}

func testRegistrations(t *testing.T, s account.Store) {
	ctx := context.Background()
	reg := func(id, key string, tokenByte byte) account.Registration {
		return account.Registration{ID: id, Channel: outbox.Email, Identifier: "Dana@mail.kz", Key: key,
			PasswordHash: "hash", SkeletonHash: "skeleton", Lang: "ru", TokenHash: []byte{tokenByte, 1, 2, 3},
			CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	}
	older, newer, other := reg("reg-older", "dana@mail.kz", 1), reg("reg-newer", "dana@mail.kz", 2), reg("reg-other", "zhan@mail.kz", 3)
	older.SkeletonHash, older.HistoryKey = "", "history-key" // made since history keys
	older.ConsentVersion = "consent-v1"
	done := reg("reg-done", "dana@mail.kz", 4)
	done.TokenHash, done.CompletedAt = nil, T0
	phone := account.Registration{ID: "reg-phone", Channel: outbox.SMS, Identifier: "+77011234567", Key: "+77011234567",
		PasswordHash: "hash", SkeletonHash: "s", Lang: "kk", CodeMAC: []byte("mac"), CreatedAt: T0, ExpiresAt: T0.Add(10 * time.Minute)}
	err := s.InTx(ctx, func(tx account.Tx) error {
		for _, r := range []account.Registration{older, other, done, phone} {
			if err := tx.InsertRegistration(ctx, r); err != nil {
				return err
			}
		}
		got, err := tx.RegistrationByToken(ctx, older.TokenHash)
		if err != nil {
			return err
		}
		if got.ID != older.ID || got.Key != older.Key || got.PasswordHash != "hash" || got.HistoryKey != "history-key" ||
			got.SkeletonHash != "" || !got.ExpiresAt.Equal(older.ExpiresAt) ||
			!got.CompletedAt.IsZero() || got.Duplicate || got.ConsentVersion != "consent-v1" {
			t.Errorf("by token: got %+v, want %+v", got, older)
		}
		got, err = tx.Registration(ctx, phone.ID)
		if err != nil {
			return err
		}
		if string(got.CodeMAC) != "mac" || got.Channel != outbox.SMS || got.TokenHash != nil || got.SkeletonHash != "s" || got.HistoryKey != "" ||
			got.ConsentVersion != "" {
			t.Errorf("by id: got %+v, want %+v", got, phone)
		}
		if _, err := tx.Registration(ctx, "nope"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown id: got %v, want ErrNotFound", err)
		}
		if _, err := tx.RegistrationByToken(ctx, []byte("nope")); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown token: got %v, want ErrNotFound", err)
		}
		// A newer registration ends the pending ones of its key, and no other.
		if err := tx.EndRegistrations(ctx, outbox.Email, "dana@mail.kz", T0.Add(time.Minute)); err != nil {
			return err
		}
		if err := tx.InsertRegistration(ctx, newer); err != nil {
			return err
		}
		if _, err := tx.RegistrationByToken(ctx, older.TokenHash); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("the superseded registration's token still finds it: %v", err)
		}
		if got, err := tx.Registration(ctx, older.ID); err != nil || !got.ExpiresAt.Equal(T0.Add(time.Minute)) {
			t.Errorf("the superseded registration: %+v %v, want expired at the newer one's time", got, err)
		}
		if got, err := tx.Registration(ctx, done.ID); err != nil || !got.ExpiresAt.Equal(done.ExpiresAt) {
			t.Errorf("a completed registration was touched: %+v %v", got, err)
		}
		if _, err := tx.RegistrationByToken(ctx, other.TokenHash); err != nil {
			t.Errorf("another address's registration was ended: %v", err)
		}
		// Attempts, and completion.
		newer.Attempts, newer.TokenHash, newer.CompletedAt = 2, nil, T0.Add(2*time.Minute)
		if err := tx.UpdateRegistration(ctx, newer); err != nil {
			return err
		}
		if got, err := tx.Registration(ctx, newer.ID); err != nil || got.Attempts != 2 || !got.CompletedAt.Equal(newer.CompletedAt) {
			t.Errorf("after the update: %+v %v", got, err)
		}
		// A new code (Registrations.Resend): another MAC, the attempts back to 0, a later end.
		phone.CodeMAC, phone.Attempts, phone.ExpiresAt = []byte("mac2"), 0, T0.Add(15*time.Minute)
		if err := tx.UpdateRegistration(ctx, phone); err != nil {
			return err
		}
		if got, err := tx.Registration(ctx, phone.ID); err != nil || string(got.CodeMAC) != "mac2" || got.Attempts != 0 ||
			!got.ExpiresAt.Equal(phone.ExpiresAt) || !got.CompletedAt.IsZero() {
			t.Errorf("after a new code: %+v %v", got, err)
		}
		if err := tx.UpdateRegistration(ctx, account.Registration{ID: "nope"}); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("update of an unknown registration: got %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testCodeFailures: a number's wrong registration codes, by key, newest first, after a time
// (exclusive), pruned up to one (inclusive), each key on its own.
func testCodeFailures(t *testing.T, s account.Store) {
	ctx := context.Background()
	err := s.InTx(ctx, func(tx account.Tx) error {
		for i := range 3 {
			if err := tx.AddCodeFailure(ctx, "reg-key-a", T0.Add(time.Duration(i)*time.Hour)); err != nil {
				return err
			}
		}
		if err := tx.AddCodeFailure(ctx, "reg-key-b", T0); err != nil {
			return err
		}
		for _, c := range []struct {
			key   string
			since time.Time
			want  []time.Time
		}{
			{"reg-key-a", T0.Add(-time.Second), []time.Time{T0.Add(2 * time.Hour), T0.Add(time.Hour), T0}},
			{"reg-key-a", T0, []time.Time{T0.Add(2 * time.Hour), T0.Add(time.Hour)}},
			{"reg-key-b", T0.Add(-time.Second), []time.Time{T0}},
			{"reg-key-c", T0.Add(-time.Hour), nil},
		} {
			got, err := tx.CodeFailureTimes(ctx, c.key, c.since)
			if err != nil {
				return err
			}
			if len(got) != len(c.want) || !slices.EqualFunc(got, c.want, time.Time.Equal) {
				t.Errorf("failures of %s after %v: got %v, want %v", c.key, c.since, got, c.want)
			}
		}
		if err := tx.PruneCodeFailures(ctx, "reg-key-a", T0.Add(time.Hour)); err != nil {
			return err
		}
		if got, err := tx.CodeFailureTimes(ctx, "reg-key-a", T0.Add(-24*time.Hour)); err != nil || len(got) != 1 || !got[0].Equal(T0.Add(2*time.Hour)) {
			t.Errorf("after pruning up to the second: got %v %v, want the third", got, err)
		}
		if got, err := tx.CodeFailureTimes(ctx, "reg-key-b", T0.Add(-24*time.Hour)); err != nil || len(got) != 1 {
			t.Errorf("pruning one key touched another: got %v %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRollback(t *testing.T, s account.Store) {
	ctx := context.Background()
	a := NewAccount("rollback@mail.kz", "")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx account.Tx) error {
		if err := tx.InsertAccount(ctx, a, password.HistoryEntry{CreatedAt: T0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: got %v, want the function's error", err)
	}
	if _, err := s.AccountByEmail(ctx, account.EmailKey(a.Email)); !errors.Is(err, kilt.ErrNotFound) {
		t.Errorf("a rolled-back account exists: %v", err)
	}
}
