package sqlstore

import (
	"testing"
	"time"

	"kilt/internal/oidc"
	"kilt/internal/session"
)

func TestOIDCContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		oidc.TestStore(t, NewOIDC(db), func(t *testing.T) (int64, int64) { return oidcSeed(t, db) })
	})
}

// oidcSeed makes an account with one session.
func oidcSeed(t testing.TB, db *DB) (accountID, sessionID int64) {
	t.Helper()
	a := newAccount("sso@mail.kz", "")
	if err := createAccount(t.Context(), db, a, entry(0)); err != nil {
		t.Fatal(err)
	}
	s := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
	if err := NewSessions(db).InTx(t.Context(), func(tx session.Tx) error {
		return tx.InsertSession(t.Context(), s, []byte("session-token-hash"))
	}); err != nil {
		t.Fatal(err)
	}
	return a.ID, s.ID
}

// oidcSeedClient is oidcSeed with a client, c1.
func oidcSeedClient(t testing.TB, db *DB) (accountID, sessionID int64) {
	t.Helper()
	accountID, sessionID = oidcSeed(t, db)
	if err := NewOIDC(db).InTx(t.Context(), func(tx oidc.Tx) error {
		return tx.InsertClient(t.Context(), &oidc.Client{ID: "c1", Name: "Portal", RedirectURIs: []string{"https://a/cb"},
			Scopes: oidc.KnownScopes, CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	return accountID, sessionID
}

// TestIssueTokensStatements: redeeming a code or a refresh token and inserting what it
// issues is one statement and no transaction on PostgreSQL (before: BEGIN, UPDATE, INSERT,
// COMMIT), two statements in one transaction on SQLite, which has no data-modifying WITH.
// DB.Counts counts what was sent.
func TestIssueTokensStatements(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		acct, sess := oidcSeedClient(t, db)
		s := NewOIDC(db)
		if err := s.InTx(ctx, func(tx oidc.Tx) error {
			if err := tx.InsertAuthRequest(ctx, &oidc.AuthRequest{ID: "ar1", ClientID: "c1", RedirectURI: "https://a/cb",
				Scopes: []string{"openid"}, MaxAge: -1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				return err
			}
			return tx.InsertCode(ctx, &oidc.Code{Hash: []byte("code"), AuthRequestID: "ar1", ExpiresAt: t0.Add(time.Minute)})
		}); err != nil {
			t.Fatal(err)
		}
		tok := func(id, kind string) *oidc.Token {
			return &oidc.Token{ID: id, Kind: kind, Hash: []byte(id + "-hash"), Family: "f", AuthRequestID: "ar1", ClientID: "c1",
				AccountID: acct, SessionID: sess, Scopes: []string{"openid"}, AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		}
		wantS, wantT := uint64(2), uint64(1)
		if db.Dialect() == Postgres {
			wantS, wantT = 1, 0
		}
		for _, c := range []struct {
			name string
			r    oidc.Redemption
			ts   []*oidc.Token
		}{
			{"code", oidc.Redemption{CodeHash: []byte("code")}, []*oidc.Token{tok("a1", oidc.KindAccess), tok("r1", oidc.KindRefresh)}},
			{"refresh", oidc.Redemption{RefreshID: "r1"}, []*oidc.Token{tok("a2", oidc.KindAccess), tok("r2", oidc.KindRefresh)}},
		} {
			s0, x0 := db.Counts()
			ok, err := s.IssueTokens(ctx, c.r, time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC), c.ts...)
			if err != nil || !ok {
				t.Fatalf("%s: IssueTokens: %v, %v", c.name, ok, err)
			}
			if s1, x1 := db.Counts(); s1-s0 != wantS || x1-x0 != wantT {
				t.Errorf("%s: %d statements in %d transactions, want %d in %d", c.name, s1-s0, x1-x0, wantS, wantT)
			}
		}
	})
}
