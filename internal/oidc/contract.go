package oidc

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
		Nonce: "n", CodeChallenge: "ch", Prompt: []string{"login"}, MaxAge: -1, HintSubject: "sub-a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	in(func(tx Tx) error { return tx.InsertAuthRequest(ctx, a) })
	a.AccountID, a.SessionID, a.AuthTime, a.AMR, a.Done = acct, sess, t0, []string{"pwd"}, true
	in(func(tx Tx) error { return tx.UpdateAuthRequest(ctx, a) })
	in(func(tx Tx) error {
		got, err := tx.AuthRequest(ctx, "ar1")
		if err != nil {
			return err
		}
		if !got.Done || got.AccountID != acct || got.SessionID != sess || !got.AuthTime.Equal(t0) ||
			!slices.Equal(got.AMR, a.AMR) || got.State != "st" || got.MaxAge != -1 || !slices.Equal(got.Prompt, a.Prompt) ||
			got.HintSubject != "sub-a" {
			t.Errorf("auth request round trip: got %+v", got)
		}
		return nil
	})

	// IssueTokens redeems a code once: the first call marks it used and inserts the tokens,
	// a second issues nothing and reports it.
	tok := func(id, kind, hash, family string) *Token {
		return &Token{ID: id, Kind: kind, Hash: []byte(hash), Family: family, AuthRequestID: "ar1", ClientID: "c1",
			AccountID: acct, SessionID: sess, Scopes: []string{"openid"}, AuthTime: t0, AMR: []string{"pwd"},
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	issue := func(r Redemption, ts ...*Token) bool {
		t.Helper()
		ok, err := s.IssueTokens(ctx, r, t0, ts...)
		if err != nil {
			t.Fatalf("IssueTokens: %v", err)
		}
		return ok
	}
	absent := func(ids ...string) {
		t.Helper()
		in(func(tx Tx) error {
			for _, id := range ids {
				if _, err := tx.Token(ctx, id); !errors.Is(err, kilt.ErrNotFound) {
					t.Errorf("token %s of a refused redemption was inserted (%v)", id, err)
				}
			}
			return nil
		})
	}
	in(func(tx Tx) error {
		return tx.InsertCode(ctx, &Code{Hash: []byte("code-hash"), AuthRequestID: "ar1", CreatedAt: t0.Add(-time.Second),
			ExpiresAt: t0.Add(time.Minute)})
	})
	byCode := Redemption{CodeHash: []byte("code-hash")}
	rt, at := tok("r1", KindRefresh, "rh", "f1"), tok("a1", KindAccess, "ah", "")
	at.AMR, at.ExpiresAt = nil, t0.Add(time.Minute)
	if !issue(byCode, rt, at) {
		t.Fatal("IssueTokens of a fresh code issued nothing")
	}
	if issue(byCode, tok("a-again", KindAccess, "ah-again", "")) {
		t.Error("IssueTokens of a used code issued")
	}
	if issue(Redemption{CodeHash: []byte("no-such-code")}, tok("a-none", KindAccess, "ah-none", "")) {
		t.Error("IssueTokens of an unknown code issued")
	}
	absent("a-again", "a-none")
	in(func(tx Tx) error {
		got, err := tx.Code(ctx, []byte("code-hash"))
		if err != nil {
			return err
		}
		if got.UsedAt == nil || !got.UsedAt.Equal(t0) || got.AuthRequestID != "ar1" || !got.CreatedAt.Equal(t0.Add(-time.Second)) {
			t.Errorf("used code: got %+v", got)
		}
		return nil
	})

	// IssueTokens rotates a refresh token once: a second rotation of it issues nothing.
	if !issue(Redemption{RefreshID: "r1"}, tok("r2", KindRefresh, "rh2", "f1"), tok("a-of-r2", KindAccess, "ah-of-r2", "")) {
		t.Fatal("IssueTokens of a live refresh token issued nothing")
	}
	if issue(Redemption{RefreshID: "r1"}, tok("r3", KindRefresh, "rh3", "f1")) {
		t.Error("IssueTokens of a rotated refresh token issued")
	}
	absent("r3")

	// Redemptions racing: exactly one issues, whatever the database.
	const racers = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "race" + strconv.Itoa(i)
			ok, err := s.IssueTokens(ctx, Redemption{RefreshID: "r2"}, t0, tok(id, KindRefresh, id+"-hash", "f1"))
			if err != nil {
				t.Errorf("racing IssueTokens: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of %d racing rotations of one refresh token issued, want 1", n, racers)
	}

	// Tokens: revocation by grant (request), session, account.
	in(func(tx Tx) error {
		got, err := tx.TokenByHash(ctx, []byte("rh"))
		if err != nil {
			return err
		}
		if got.ID != "r1" || got.Family != "f1" || got.SessionID != sess || got.RotatedAt == nil || got.RevokedAt != nil {
			t.Errorf("refresh token round trip: got %+v", got)
		}
		ids, err := tx.SessionClients(ctx, sess)
		if err != nil || !slices.Equal(ids, []string{"c1"}) {
			t.Errorf("SessionClients: got %v, %v", ids, err)
		}
		// r1, a1, r2, a-of-r2 and the racer that won.
		if n, err := tx.RevokeTokens(ctx, TokenFilter{AuthRequestID: "ar1"}, t0); err != nil || n != 5 {
			t.Errorf("RevokeTokens by request: got %d, %v; want 5", n, err)
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
	for i := range racers { // the winner's token is revoked, the losers' were never inserted
		if issue(Redemption{RefreshID: "race" + strconv.Itoa(i)}, tok("r4", KindRefresh, "rh4", "f1")) {
			t.Errorf("IssueTokens of race%d, revoked or absent, issued", i)
		}
	}
	absent("r4")

	// RevokeTokens kills, before the tokens, the unexpired codes not yet redeemed of the
	// requests it selects (a code is tokens not issued yet): by session, by account and
	// client, by account, by grant; a code killed issues nothing. Not by token id, not an
	// expired code, not another session's or client's.
	in(func(tx Tx) error {
		return tx.InsertClient(ctx, &Client{ID: "c2", Name: "Other", RedirectURIs: []string{"https://c/cb"}, Scopes: KnownScopes,
			CreatedAt: t0})
	})
	codeOf := func(id, client string, session int64, expires time.Time) {
		t.Helper()
		r := &AuthRequest{ID: id, ClientID: client, RedirectURI: "https://c/cb", Scopes: []string{"openid"}, MaxAge: -1,
			CreatedAt: t0, ExpiresAt: t0.Add(3 * time.Hour)} // outlives the pruning below
		in(func(tx Tx) error {
			if err := tx.InsertAuthRequest(ctx, r); err != nil {
				return err
			}
			r.AccountID, r.SessionID, r.AuthTime, r.Done = acct, session, t0, true
			if err := tx.UpdateAuthRequest(ctx, r); err != nil {
				return err
			}
			return tx.InsertCode(ctx, &Code{Hash: []byte(id), AuthRequestID: id, CreatedAt: t0, ExpiresAt: expires})
		})
	}
	codeOf("k-session", "c1", sess, t0.Add(time.Minute))
	codeOf("k-other-session", "c1", sess+1000, t0.Add(time.Minute))
	codeOf("k-other-client", "c2", sess+1000, t0.Add(time.Minute))
	codeOf("k-grant", "c2", sess+1000, t0.Add(time.Minute))
	codeOf("k-expired", "c1", sess, t0)
	killed := func(step string, want map[string]bool) {
		t.Helper()
		in(func(tx Tx) error {
			for id, dead := range want {
				c, err := tx.Code(ctx, []byte(id))
				if err != nil {
					return err
				}
				if got := c.UsedAt != nil; got != dead {
					t.Errorf("after RevokeTokens %s: code %s used %v, want %v", step, id, got, dead)
				}
			}
			return nil
		})
	}
	for _, step := range []struct {
		name string
		f    TokenFilter
		want map[string]bool
	}{
		{"by token", TokenFilter{ID: "r2"}, map[string]bool{"k-session": false, "k-other-session": false}},
		{"by session", TokenFilter{SessionID: sess}, map[string]bool{"k-session": true, "k-other-session": false,
			"k-other-client": false, "k-expired": false}},
		{"by account and client", TokenFilter{AccountID: acct, ClientID: "c1"}, map[string]bool{"k-other-session": true,
			"k-other-client": false, "k-grant": false, "k-expired": false}},
		{"by grant", TokenFilter{AuthRequestID: "k-grant"}, map[string]bool{"k-grant": true, "k-other-client": false}},
		{"by account", TokenFilter{AccountID: acct}, map[string]bool{"k-other-client": true, "k-expired": false}},
	} {
		in(func(tx Tx) error { _, err := tx.RevokeTokens(ctx, step.f, t0); return err })
		killed(step.name, step.want)
	}
	for i, id := range []string{"k-session", "k-other-session", "k-other-client", "k-grant"} {
		kid := "killed" + strconv.Itoa(i)
		if issue(Redemption{CodeHash: []byte(id)}, tok(kid, KindAccess, kid+"-hash", "")) {
			t.Errorf("IssueTokens of code %s, killed by RevokeTokens, issued", id)
		}
		absent(kid)
	}

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
		!c.CreatedAt.Equal(t0.Add(-time.Second)) || !c.ExpiresAt.Equal(t0.Add(time.Minute)) ||
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
