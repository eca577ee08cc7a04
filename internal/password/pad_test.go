package password

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestEveryHashCostsTheSameToCheck: a wrong password checked against a hash at the
// configured cost, one below it (made before the operator raised the cost), an imported
// argon2i and imported bcrypt hashes, and no hash at all (an unknown account) does the same
// work: the same Argon2 block passes, the same bcrypt rounds.
func TestEveryHashCostsTheSameToCheck(t *testing.T) {
	ctx := context.Background()
	salt := []byte("0123456789abcdef")
	bc := func(cost int) string {
		b, err := bcrypt.GenerateFromPassword([]byte("Imported-Pass-1"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hashes := map[string]string{
		"configured":       argon2Hash(t, "argon2id", "Tulpar-Sunkar-7", testParams, salt),
		"below the cost":   argon2Hash(t, "argon2id", "Tulpar-Sunkar-7", Params{Memory: 32, Time: 1, Threads: 1}, salt),
		"fewer passes":     argon2Hash(t, "argon2id", "Tulpar-Sunkar-7", Params{Memory: 16, Time: 3, Threads: 1}, salt),
		"imported argon2i": argon2Hash(t, "argon2i", "Tulpar-Sunkar-7", Params{Memory: 48, Time: 2, Threads: 2}, salt),
		"imported bcrypt4": bc(4),
		"imported bcrypt6": bc(6),
	}
	for _, observe := range []bool{true, false} {
		h := newTestHasher(t)
		if observe {
			// As the server does at start with the hashes its database holds.
			for _, e := range hashes {
				h.Observe(e)
			}
		} else {
			// Without that, the first check of each hash raises the budget; from then on
			// every check costs the same.
			for _, e := range hashes {
				if _, _, err := h.Verify(ctx, "Wrong-Password-1", e); err != nil {
					t.Fatal(err)
				}
			}
		}
		measure := func(check func() error) Work {
			before := h.Work()
			if err := check(); err != nil {
				t.Fatal(err)
			}
			after := h.Work()
			return Work{after.Argon2Blocks - before.Argon2Blocks, after.BcryptRounds - before.BcryptRounds}
		}
		want := measure(func() error { return h.DummyVerify(ctx, "Wrong-Password-1") })
		if want.BcryptRounds != 1<<6 || want.Argon2Blocks != 64*3 {
			t.Errorf("observe %v: the unknown path did %+v, want the costliest of each: 2^6 bcrypt rounds, 64 KiB × 3 passes", observe, want)
		}
		for name, e := range hashes {
			got := measure(func() error {
				ok, _, err := h.Verify(ctx, "Wrong-Password-1", e)
				if ok {
					t.Errorf("%s: a wrong password matched", name)
				}
				return err
			})
			if got != want {
				t.Errorf("observe %v: %s: work %+v, the unknown path %+v", observe, name, got, want)
			}
		}
	}
}

func TestCheckImport(t *testing.T) {
	salt := []byte("0123456789abcdef")
	weak, err := bcrypt.GenerateFromPassword([]byte("x"), 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, hash string
		weak       bool
	}{
		{"bcrypt 4", string(weak), true},
		{"argon2id m=64", argon2Hash(t, "argon2id", "x", testParams, salt), true},
		{"argon2id OWASP", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", false},
		{"argon2i m=9216,t=4", "$argon2i$v=19$m=9216,t=4,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", false},
		{"argon2id m=8192,t=1", "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", true},
	} {
		err := CheckImport(tt.hash)
		if errors.Is(err, ErrWeakImport) != tt.weak {
			t.Errorf("%s: got %v, want weak %v", tt.name, err, tt.weak)
		}
		if !tt.weak && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if err := CheckImport("$md5$x"); err == nil || errors.Is(err, ErrWeakImport) {
		t.Errorf("unreadable hash: got %v, want a malformed-hash error", err)
	}
}

// TestObserveHeads: the heads the server reads from its database raise the budget as the
// whole hashes would; what cannot be read is ignored.
func TestObserveHeads(t *testing.T) {
	h := newTestHasher(t)
	for _, head := range []string{"$2a$06$", "$argon2i$v=19$m=96,t=2,p=1$", "$2a$99$", "$argon2id$v=19$m=x$", "garbage", h.Head()} {
		h.Observe(head)
	}
	if h.budget.bcryptCost != 6 || h.budget.memory != 96 || h.budget.time != 2 {
		t.Errorf("budget: bcrypt %d, m=%d t=%d; want 6, 96, 2", h.budget.bcryptCost, h.budget.memory, h.budget.time)
	}
	if h.Head() != "$argon2id$v=19$m=64,t=1,p=1$" {
		t.Errorf("head: %q", h.Head())
	}
}

func TestHashHead(t *testing.T) {
	for encoded, want := range map[string]string{
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA": "$argon2id$v=19$m=19456,t=2,p=1$",
		"$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA":                  "$argon2i$v=19$m=65536,t=3,p=4$",
		"$2a$10$abcdefghijklmnopqrstuu1234567890123456789012345678901": "$2a$10$",
		"$2b$12$abcdefghijklmnopqrstuu1234567890123456789012345678901": "$2b$12$",
		"plain":                          "",
		"$argon2id$v=19$m=19456,t=2,p=1": "",
		"x$2a$10$abc":                    "",
	} {
		if got := HashHead(encoded); got != want {
			t.Errorf("HashHead(%q): got %q, want %q", encoded, got, want)
		}
	}
}
