package sqlstore

import (
	"testing"

	"kilt/internal/oidc"
	"kilt/internal/session"
)

func TestOIDCContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		oidc.TestStore(t, NewOIDC(db), func(t *testing.T) (int64, int64) {
			a := newAccount("sso@mail.kz", "")
			if err := NewAccounts(db).CreateAccount(t.Context(), a, entry(0)); err != nil {
				t.Fatal(err)
			}
			s := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * 3600e9)}
			if err := NewSessions(db).InTx(t.Context(), func(tx session.Tx) error {
				return tx.InsertSession(t.Context(), s, []byte("session-token-hash"))
			}); err != nil {
				t.Fatal(err)
			}
			return a.ID, s.ID
		})
	})
}
