package sqlstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/password"
)

// legacySkeletonHash is a history skeleton hash as Kilt wrote it before migration 0050
// (a released format, so written out here by hand): Argon2id of HMAC-SHA256(pepper,
// skeleton) under a salt of its own.
func legacySkeletonHash(pepper []byte, pw string, n int) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(password.Skeleton(pw)))
	salt := fmt.Appendf(nil, "legacy-salt-%04d", n)
	key := argon2.IDKey(m.Sum(nil), salt, 1, 64, 1, password.KeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return "$argon2id$v=19$m=64,t=1,p=1$" + b64(salt) + "$" + b64(key)
}

// TestHistoryKeysMigration: an account whose history was written before migration 0050
// keeps it through the migration, and the rule still sees every entry of the mixed
// history that the next changes make, on both databases.
func TestHistoryKeysMigration(t *testing.T) {
	forEachEmptyDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ms, err := db.migrations()
		if err != nil {
			t.Fatal(err)
		}
		split := 0
		for split < len(ms) && ms[split].version < 50 {
			split++
		}
		if _, err := db.migrate(ctx, ms[:split]); err != nil {
			t.Fatal(err)
		}
		secret := []byte("0123456789abcdef0123456789abcdef")
		pepper := kilt.DeriveKey(secret, "password-history")
		hasher := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1}, nil)
		old := []string{"Kokzhal-Berkut-3", "Zhuldyz-Aspan-5", "Bayterek-Orman-8"} // oldest first
		current := old[len(old)-1]
		hash, err := hasher.Hash(ctx, current)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO accounts (email, email_key, email_verified, password_hash, lang,
			created_at, updated_at, password_changed_at) VALUES ($1, $1, $2, $3, 'kk', $4, $4, $4) RETURNING id`,
			"a@mail.kz", true, hash, t0).Scan(&id); err != nil {
			t.Fatal(err)
		}
		for i, pw := range old {
			h, err := hasher.Hash(ctx, pw)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO password_history (account_id, password_hash, skeleton_hash, created_at)
				VALUES ($1, $2, $3, $4)`, id, h, legacySkeletonHash(pepper, pw, i), t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.migrate(ctx, ms[split:]); err != nil {
			t.Fatalf("migrating a database with a history: %v", err)
		}

		store := NewAccounts(db)
		history, err := store.PasswordHistory(ctx, id, 10)
		if err != nil || len(history) != 3 || history[0].Key != "" || history[0].SkeletonHash == "" {
			t.Fatalf("the legacy history after the migration: %+v %v", history, err)
		}
		svc := account.NewService(store, NewAudit(db), hasher, password.DefaultPolicy(),
			func() time.Time { return t0 }, account.Config{Secret: secret})
		client := account.Client{IP: "192.0.2.1", Lang: "kk"}
		change := func(pw string) error {
			err := svc.ChangePassword(ctx, id, 0, current, pw, pw, client)
			if err == nil {
				current = pw
			}
			return err
		}
		if err := change("Saryarka-Dala-6"); err != nil {
			t.Fatal(err)
		}
		history, err = store.PasswordHistory(ctx, id, 10)
		if err != nil || len(history) != 4 || history[0].Key == "" || history[0].SkeletonHash != "" || history[1].Key != "" {
			t.Fatalf("the history after a change: %+v %v, want a keyed entry before the legacy ones", history, err)
		}
		for _, pw := range []string{"KOKZHAL:berkut:1", "zhuldyz_ASPAN_9", "saryarka-DALA-0"} {
			if got := kilt.ErrorCode(change(pw)); got != string(password.Reused) {
				t.Errorf("a look-alike %q of a history entry: got %q, want %q", pw, got, password.Reused)
			}
		}
		if err := change("Altyn-Kyran-2!"); err != nil {
			t.Errorf("a new password over a mixed history: %v", err)
		}
	})
}
