package oidc

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"kilt"
)

// Seed makes an account with one session in the store's database, for the contract.
type Seed func(t *testing.T) (accountID, sessionID int64)

// TestStore is the contract every Store must pass; each database runs it (sqlstore's tests).
func TestStore(t *testing.T, s Store, seed Seed) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 123456000, time.UTC)
	in := func(fn func(Tx) error) {
		t.Helper()
		if err := s.InTx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	acct, sess := seed(t)

	// Clients round-trip; a duplicate id is ErrConflict; an unknown one ErrNotFound.
	c := &Client{ID: "c1", Name: "Portal", SecretHash: []byte("h"), RedirectURIs: []string{"https://a/cb", "https://b/cb"},
		PostLogoutRedirectURIs: []string{"https://a/"}, BackchannelLogoutURI: "https://a/bc", Scopes: KnownScopes, CreatedAt: t0}
	in(func(tx Tx) error { return tx.InsertClient(ctx, c) })
	in(func(tx Tx) error {
		got, err := tx.Client(ctx, "c1")
		if err != nil {
			return err
		}
		if got.Name != c.Name || !slices.Equal(got.RedirectURIs, c.RedirectURIs) || !slices.Equal(got.Scopes, c.Scopes) ||
			string(got.SecretHash) != "h" || !got.CreatedAt.Equal(t0) || got.BackchannelLogoutURI != c.BackchannelLogoutURI {
			t.Errorf("client round trip: got %+v, want %+v", got, c)
		}
		return nil
	})
	if err := s.InTx(ctx, func(tx Tx) error { return tx.InsertClient(ctx, c) }); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate client: got %v, want ErrConflict", err)
	}
	in(func(tx Tx) error {
		if _, err := tx.Client(ctx, "nope"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown client: got %v, want ErrNotFound", err)
		}
		if err := tx.SetClientSecret(ctx, "nope", nil); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("secret of an unknown client: got %v, want ErrNotFound", err)
		}
		return nil
	})

	// Authorization requests round-trip and take their sign-in.
	a := &AuthRequest{ID: "ar1", ClientID: "c1", RedirectURI: "https://a/cb", Scopes: []string{"openid", "email"}, State: "st",
		Nonce: "n", CodeChallenge: "ch", Prompt: []string{"login"}, MaxAge: -1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	in(func(tx Tx) error { return tx.InsertAuthRequest(ctx, a) })
	a.AccountID, a.SessionID, a.AuthTime, a.AMR, a.Done = acct, sess, t0, []string{"pwd"}, true
	in(func(tx Tx) error { return tx.UpdateAuthRequest(ctx, a) })
	in(func(tx Tx) error {
		got, err := tx.AuthRequest(ctx, "ar1")
		if err != nil {
			return err
		}
		if !got.Done || got.AccountID != acct || got.SessionID != sess || !got.AuthTime.Equal(t0) ||
			!slices.Equal(got.AMR, a.AMR) || got.State != "st" || got.MaxAge != -1 || !slices.Equal(got.Prompt, a.Prompt) {
			t.Errorf("auth request round trip: got %+v", got)
		}
		return nil
	})

	// A code is used once.
	in(func(tx Tx) error {
		return tx.InsertCode(ctx, &Code{Hash: []byte("code-hash"), AuthRequestID: "ar1", ExpiresAt: t0.Add(time.Minute)})
	})
	for i, want := range []bool{true, false} {
		in(func(tx Tx) error {
			ok, err := tx.UseCode(ctx, []byte("code-hash"), t0)
			if ok != want {
				t.Errorf("UseCode #%d: got %v, want %v", i+1, ok, want)
			}
			return err
		})
	}
	in(func(tx Tx) error {
		got, err := tx.Code(ctx, []byte("code-hash"))
		if err != nil {
			return err
		}
		if got.UsedAt == nil || got.AuthRequestID != "ar1" {
			t.Errorf("used code: got %+v", got)
		}
		return nil
	})

	// Tokens: a refresh token rotates once; revocation by family, session, account.
	rt := &Token{ID: "r1", Kind: KindRefresh, Hash: []byte("rh"), Family: "f1", AuthRequestID: "ar1", ClientID: "c1",
		AccountID: acct, SessionID: sess, Scopes: []string{"openid"}, AuthTime: t0, AMR: []string{"pwd"}, CreatedAt: t0,
		ExpiresAt: t0.Add(time.Hour)}
	at := &Token{ID: "a1", Kind: KindAccess, Hash: []byte("ah"), Family: "", AuthRequestID: "ar1", ClientID: "c1", AccountID: acct,
		SessionID: sess, Scopes: []string{"openid"}, AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	in(func(tx Tx) error {
		return tx.InsertTokens(ctx, rt, at)
	})
	in(func(tx Tx) error {
		got, err := tx.TokenByHash(ctx, []byte("rh"))
		if err != nil {
			return err
		}
		if got.ID != "r1" || got.Family != "f1" || got.SessionID != sess || got.RotatedAt != nil || got.RevokedAt != nil {
			t.Errorf("refresh token round trip: got %+v", got)
		}
		for i, want := range []bool{true, false} {
			if ok, err := tx.RotateToken(ctx, "r1", t0); err != nil || ok != want {
				t.Errorf("RotateToken #%d: got %v, %v; want %v", i+1, ok, err, want)
			}
		}
		ids, err := tx.SessionClients(ctx, sess)
		if err != nil || !slices.Equal(ids, []string{"c1"}) {
			t.Errorf("SessionClients: got %v, %v", ids, err)
		}
		if n, err := tx.RevokeTokens(ctx, TokenFilter{AuthRequestID: "ar1"}, t0); err != nil || n != 2 {
			t.Errorf("RevokeTokens by request: got %d, %v; want 2", n, err)
		}
		if n, err := tx.RevokeTokens(ctx, TokenFilter{AccountID: acct}, t0); err != nil || n != 0 {
			t.Errorf("RevokeTokens again: got %d, %v; want 0 (already revoked)", n, err)
		}
		got, err = tx.Token(ctx, "a1")
		if err != nil {
			return err
		}
		if got.RevokedAt == nil {
			t.Error("access token not revoked")
		}
		return nil
	})

	// Consents upsert and delete.
	in(func(tx Tx) error {
		if err := tx.PutConsent(ctx, &Consent{AccountID: acct, ClientID: "c1", Scopes: []string{"openid"}, GrantedAt: t0}); err != nil {
			return err
		}
		if err := tx.PutConsent(ctx, &Consent{AccountID: acct, ClientID: "c1", Scopes: []string{"openid", "email"}, GrantedAt: t0}); err != nil {
			return err
		}
		got, err := tx.Consent(ctx, acct, "c1")
		if err != nil {
			return err
		}
		if !slices.Equal(got.Scopes, []string{"openid", "email"}) {
			t.Errorf("consent: got %v", got.Scopes)
		}
		ids, err := tx.ConnectedClients(ctx, acct, t0)
		if err != nil || !slices.Equal(ids, []string{"c1"}) {
			t.Errorf("ConnectedClients: got %v, %v", ids, err)
		}
		if err := tx.DeleteConsent(ctx, acct, "c1"); err != nil {
			return err
		}
		if _, err := tx.Consent(ctx, acct, "c1"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("deleted consent: got %v", err)
		}
		return nil
	})

	// Keys: one active at a time; a retired key is listed while recent.
	in(func(tx Tx) error {
		if _, err := tx.ActiveKey(ctx); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("no key yet: got %v", err)
		}
		return tx.InsertKey(ctx, &Key{ID: "k1", Alg: AlgRS256, Sealed: []byte("s1"), CreatedAt: t0})
	})
	if err := s.InTx(ctx, func(tx Tx) error {
		return tx.InsertKey(ctx, &Key{ID: "k2", Alg: AlgRS256, Sealed: []byte("s2"), CreatedAt: t0})
	}); !errors.Is(err, ErrConflict) {
		t.Errorf("a second active key: got %v, want ErrConflict", err)
	}
	in(func(tx Tx) error {
		if err := tx.RetireActiveKey(ctx, t0.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.InsertKey(ctx, &Key{ID: "k2", Alg: AlgES256, Sealed: []byte("s2"), CreatedAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		k, err := tx.ActiveKey(ctx)
		if err != nil || k.ID != "k2" {
			t.Errorf("active key after rotation: got %+v, %v", k, err)
		}
		ks, err := tx.Keys(ctx, t0)
		if err != nil || len(ks) != 2 {
			t.Errorf("published keys: got %d, %v; want 2", len(ks), err)
		}
		ks, err = tx.Keys(ctx, t0.Add(2*time.Hour))
		if err != nil || len(ks) != 1 || ks[0].ID != "k2" {
			t.Errorf("published keys after the grace: got %+v, %v; want k2 only", ks, err)
		}
		return nil
	})

	// Accounts and sessions are read.
	in(func(tx Tx) error {
		a, err := tx.Account(ctx, acct)
		if err != nil || a.ID != acct {
			t.Errorf("Account: got %+v, %v", a, err)
		}
		se, err := tx.Session(ctx, sess)
		if err != nil || se.AccountID != acct {
			t.Errorf("Session: got %+v, %v", se, err)
		}
		if _, err := tx.Session(ctx, sess+1000); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown session: got %v", err)
		}
		return nil
	})

	// A token is read by its hash with its account and session outside a transaction.
	if tk, a, se, err := s.ReadToken(ctx, []byte("ah")); err != nil || tk.ID != "a1" || tk.Kind != KindAccess ||
		tk.RevokedAt == nil || !tk.ExpiresAt.Equal(t0.Add(time.Minute)) || !slices.Equal(tk.Scopes, []string{"openid"}) ||
		a == nil || a.ID != acct || se == nil || se.ID != sess || se.AccountID != acct || se.ExpiresAt.IsZero() {
		t.Errorf("ReadToken: got %+v, %+v, %+v, %v", tk, a, se, err)
	}
	if tk, _, _, err := s.ReadToken(ctx, []byte("rh")); err != nil || tk.ID != "r1" || tk.Family != "f1" || tk.RotatedAt == nil {
		t.Errorf("ReadToken of the refresh token: got %+v, %v", tk, err)
	}
	if _, _, _, err := s.ReadToken(ctx, []byte("nope")); !errors.Is(err, kilt.ErrNotFound) {
		t.Errorf("ReadToken of no token: got %v, want ErrNotFound", err)
	}
	if c, r, a, se, err := s.ReadCode(ctx, []byte("code-hash")); err != nil || c.AuthRequestID != "ar1" || c.UsedAt == nil ||
		r.ID != "ar1" || !r.Done || r.AccountID != acct || r.State != "st" || !slices.Equal(r.AMR, []string{"pwd"}) ||
		a == nil || a.ID != acct || se == nil || se.ID != sess {
		t.Errorf("ReadCode: got %+v, %+v, %+v, %+v, %v", c, r, a, se, err)
	}
	if _, _, _, _, err := s.ReadCode(ctx, []byte("nope")); !errors.Is(err, kilt.ErrNotFound) {
		t.Errorf("ReadCode of no code: got %v, want ErrNotFound", err)
	}
	if c, err := s.ReadClient(ctx, "c1"); err != nil || c.Name != "Portal" || string(c.SecretHash) != "h" {
		t.Errorf("ReadClient: got %+v, %v", c, err)
	}
	if _, err := s.ReadClient(ctx, "nope"); !errors.Is(err, kilt.ErrNotFound) {
		t.Errorf("ReadClient of no client: got %v, want ErrNotFound", err)
	}
	if k, err := s.ReadActiveKey(ctx); err != nil || k.ID != "k2" || k.Alg != AlgES256 {
		t.Errorf("ReadActiveKey: got %+v, %v; want k2", k, err)
	}

	// Expired rows go: tokens by their expiry once their session has ended (until then the
	// end of the session must find them to tell their clients), requests (and codes) by
	// theirs.
	ended := &Token{ID: "a2", Kind: KindAccess, AuthRequestID: "ar1", ClientID: "c1", AccountID: acct,
		SessionID: sess + 1000, Scopes: []string{"openid"}, AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute),
		Hash: []byte("ended-access-hash")}
	in(func(tx Tx) error { return tx.InsertTokens(ctx, ended) })
	in(func(tx Tx) error {
		n, err := tx.DeleteExpired(ctx, t0, t0.Add(30*time.Minute))
		if err != nil || n != 1 {
			t.Errorf("DeleteExpired: %d, %v; want 1 (the access token of the ended session)", n, err)
		}
		if _, err := tx.Token(ctx, "a2"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("an expired token of an ended session stayed: %v", err)
		}
		if _, err := tx.Token(ctx, "a1"); err != nil {
			t.Errorf("an expired token of a live session went: %v", err)
		}
		if ids, err := tx.SessionClients(ctx, sess); err != nil || !slices.Equal(ids, []string{"c1"}) {
			t.Errorf("the live session's clients after pruning: %v, %v; want [c1]", ids, err)
		}
		if _, err := tx.AuthRequest(ctx, "ar1"); err != nil {
			t.Errorf("a live request went: %v", err)
		}
		n, err = tx.DeleteExpired(ctx, t0.Add(2*time.Hour), t0)
		if err != nil || n != 1 {
			t.Errorf("DeleteExpired of the request: %d, %v; want 1", n, err)
		}
		if _, err := tx.Code(ctx, []byte("code-hash")); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("the code of a deleted request stayed: %v", err)
		}
		return nil
	})

	// Removing a client removes what hangs on it.
	in(func(tx Tx) error { return tx.DeleteClient(ctx, "c1") })
	in(func(tx Tx) error {
		if _, err := tx.Token(ctx, "r1"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("token of a removed client: got %v", err)
		}
		return nil
	})
}
