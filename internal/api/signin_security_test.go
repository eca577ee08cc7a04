package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"kilt/internal/account"
	"kilt/internal/kilttest"
	"kilt/internal/password"
	"kilt/internal/sqlstore"
)

// loginFrom signs in as a client at ip (X-Forwarded-For, believed from the trusted
// loopback proxy) and returns the status and error code.
func loginFrom(t *testing.T, e *kilttest.Env, ip, identifier, pw string) (int, string) {
	t.Helper()
	r := e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": identifier, "password": pw},
		"X-Forwarded-For", ip)
	return r.Status, r.ErrorCode()
}

// trustLoopback makes the test's requests name their client in X-Forwarded-For.
var trustLoopback = map[string]string{"KILT_TRUSTED_PROXIES": "127.0.0.1/32"}

// TestSignInUpgradeReplacesWeakHistoryEntry: when the first sign-in upgrades an imported
// weak hash, the history entry of the same password is replaced in the same transaction —
// the weak hash is nowhere left to crack.
func TestSignInUpgradeReplacesWeakHistoryEntry(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		ctx := context.Background()
		weak, err := bcrypt.GenerateFromPassword([]byte(goodPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		now := e.Clock.Now()
		a := &account.Account{Email: "imported@example.kz", EmailVerified: true, PasswordHash: string(weak), Lang: "kk",
			CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
		accounts := sqlstore.NewAccounts(e.App.DB)
		// As the importer stores it: the history entry is the imported hash, no skeleton.
		if err := accounts.InTx(ctx, func(tx account.Tx) error {
			return tx.InsertAccount(ctx, a, password.HistoryEntry{PasswordHash: string(weak), CreatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
		mustLogin(t, e, "imported@example.kz", goodPassword)
		got, err := accounts.AccountByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
			t.Fatalf("the hash was not upgraded: %.10s…", got.PasswordHash)
		}
		history, err := accounts.PasswordHistory(ctx, a.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(history) != 1 {
			t.Fatalf("history has %d entries, want 1", len(history))
		}
		if h := history[0]; h.PasswordHash != got.PasswordHash || h.Key == "" || !h.CreatedAt.Equal(now) {
			t.Errorf("history entry: hash %.12s… (account %.12s…), key set %v, created %v; want the new hash, a history key, the old time",
				h.PasswordHash, got.PasswordHash, h.Key != "", h.CreatedAt)
		}
		// The history still knows the password: it cannot be set again.
		tok := mustLogin(t, e, "imported@example.kz", goodPassword).Token
		r := e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword,
			"password": goodPassword, "password_confirm": goodPassword}, bearer(tok)...)
		if r.Status != 422 {
			t.Errorf("setting the same password again: got %d %s, want 422", r.Status, r.Body)
		}
	})
}

// TestSignInSlowDownIsPerClient: failures from one client slow down that client on that
// identifier, not the owner signing in from elsewhere.
func TestSignInSlowDownIsPerClient(t *testing.T) {
	forEachDialect(t, trustLoopback, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@example.kz", "+77011234567", goodPassword)
		for range 5 {
			if s, _ := loginFrom(t, e, "203.0.113.9", "a@example.kz", "Wrong-Guess-1"); s != 401 {
				t.Fatalf("failure: got %d, want 401", s)
			}
		}
		if s, code := loginFrom(t, e, "203.0.113.9", "a@example.kz", goodPassword); s != 429 || code != "login_throttled" {
			t.Errorf("the guessing client: got %d %s, want 429 login_throttled", s, code)
		}
		// The same /64 is the same client.
		if s, _ := loginFrom(t, e, "2001:db8:1:2::1", "a@example.kz", "Wrong-Guess-2"); s != 401 {
			t.Fatalf("an IPv6 client: got %d, want 401", s)
		}
		for i := range 4 {
			loginFrom(t, e, fmt.Sprintf("2001:db8:1:2::%x", i+2), "a@example.kz", "Wrong-Guess-2")
		}
		if s, _ := loginFrom(t, e, "2001:db8:1:2:ffff::1", "a@example.kz", goodPassword); s != 429 {
			t.Errorf("another address of the guessing /64: got %d, want 429", s)
		}
		if s, _ := loginFrom(t, e, "198.51.100.7", "a@example.kz", goodPassword); s != 201 {
			t.Errorf("the owner from another client: got %d, want 201", s)
		}
	})
}

// TestSignInSlowDownDoesNotLinkIdentifiers: failures on an account's e-mail do not slow its
// phone down: the phone answers as a phone without an account does, so 429 against 401
// cannot tell that the two belong to one account.
func TestSignInSlowDownDoesNotLinkIdentifiers(t *testing.T) {
	forEachDialect(t, trustLoopback, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@example.kz", "+77011234567", goodPassword)
		for range 6 {
			loginFrom(t, e, "203.0.113.9", "a@example.kz", "Wrong-Guess-1")
		}
		linked, lcode := loginFrom(t, e, "203.0.113.9", "+77011234567", "Wrong-Guess-1")
		unlinked, ucode := loginFrom(t, e, "203.0.113.9", "+77017654321", "Wrong-Guess-1")
		if linked != unlinked || lcode != ucode || linked != 401 {
			t.Errorf("the account's phone: %d %s; a phone without an account: %d %s; want both 401 invalid_credentials",
				linked, lcode, unlinked, ucode)
		}
	})
}

// TestSignInSlowDownCeiling: failures from many clients add up to a ceiling per identifier
// (ten times the free failures per client), past which every client waits.
func TestSignInSlowDownCeiling(t *testing.T) {
	forEachDialect(t, trustLoopback, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@example.kz", "", goodPassword)
		for c := range 10 {
			for range 5 {
				if s, _ := loginFrom(t, e, fmt.Sprintf("203.0.113.%d", c+1), "a@example.kz", "Wrong-Guess-1"); s != 401 {
					t.Fatalf("client %d: got %d, want 401", c, s)
				}
			}
		}
		if s, code := loginFrom(t, e, "198.51.100.7", "a@example.kz", goodPassword); s != 429 || code != "login_throttled" {
			t.Errorf("past the ceiling: got %d %s, want 429 login_throttled", s, code)
		}
		// An identifier without an account has the same ceiling.
		for c := range 10 {
			for range 5 {
				loginFrom(t, e, fmt.Sprintf("203.0.113.%d", c+1), "ghost@example.kz", "Wrong-Guess-1")
			}
		}
		if s, code := loginFrom(t, e, "198.51.100.7", "ghost@example.kz", goodPassword); s != 429 || code != "login_throttled" {
			t.Errorf("unknown identifier past the ceiling: got %d %s, want 429 login_throttled", s, code)
		}
	})
}

// TestSignInPerIPLimitBeforeHashing: one client's attempts are limited per IP before any
// password is hashed; other clients are not affected.
func TestSignInPerIPLimitBeforeHashing(t *testing.T) {
	forEachDialect(t, map[string]string{"KILT_TRUSTED_PROXIES": "127.0.0.1/32", "KILT_LIMIT_LOGIN_IP": "10/1m"},
		func(t *testing.T, e *kilttest.Env) {
			addAccount(t, e, "a@example.kz", "", goodPassword)
			for i := range 10 {
				if s, _ := loginFrom(t, e, "203.0.113.9", fmt.Sprintf("ghost%d@example.kz", i), "Wrong-Guess-1"); s != 401 {
					t.Fatalf("attempt %d: got %d, want 401", i+1, s)
				}
			}
			before := e.App.Pool.Stats().Served
			r := e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": "ghost99@example.kz", "password": "Wrong-Guess-1"},
				"X-Forwarded-For", "203.0.113.9")
			if r.Status != 429 || r.ErrorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
				t.Errorf("eleventh attempt: got %d %s Retry-After %q, want 429 rate_limited with Retry-After",
					r.Status, r.ErrorCode(), r.Header.Get("Retry-After"))
			}
			if n := e.App.Pool.Stats().Served - before; n != 0 {
				t.Errorf("the refused attempt hashed %d times, want 0", n)
			}
			if s, _ := loginFrom(t, e, "198.51.100.7", "a@example.kz", goodPassword); s != 201 {
				t.Errorf("another client: got %d, want 201", s)
			}
		})
}
