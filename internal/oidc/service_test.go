package oidc_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/kilttest"
	"kilt/internal/oidc"
	"kilt/internal/password"
	"kilt/internal/session"
	"kilt/internal/sqlstore"
)

// The domain service directly: a fake clock, a real SQLite database.

type fixture struct {
	svc     *oidc.Service
	clock   *kilttest.Clock
	client  *oidc.Client
	sess    *oidc.Session
	account int64
	db      *sqlstore.DB
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clock := kilttest.NewClock()
	now := clock.Now()
	a := &account.Account{Email: "a@mail.kz", EmailVerified: true, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
	if err := sqlstore.NewAccounts(db).InTx(ctx, func(tx account.Tx) error {
		return tx.InsertAccount(ctx, a, password.HistoryEntry{PasswordHash: "x", SkeletonHash: "y", CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	s := &session.Session{AccountID: a.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)}
	if err := sqlstore.NewSessions(db).InTx(ctx, func(tx session.Tx) error { return tx.InsertSession(ctx, s, []byte("token-hash")) }); err != nil {
		t.Fatal(err)
	}
	svc := oidc.NewService(sqlstore.NewOIDC(db), clock.Now, oidc.Config{Secret: []byte("a server secret of at least 32 bytes!")})
	if err := svc.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	c, _, err := svc.AddClient(ctx, oidc.NewClient{Name: "App", RedirectURIs: []string{"https://app.example.kz/cb"}, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, clock: clock, client: c, account: a.ID, db: db,
		sess: &oidc.Session{ID: s.ID, AccountID: a.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: s.ExpiresAt}}
}

const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

func (f *fixture) code(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	a := &oidc.AuthRequest{ClientID: f.client.ID, RedirectURI: "https://app.example.kz/cb", Scopes: []string{"openid", "offline_access"},
		CodeChallenge: challenge, MaxAge: -1}
	if err := f.svc.NewAuthRequest(ctx, a, "S256"); err != nil {
		t.Fatal(err)
	}
	_, code, err := f.svc.Complete(ctx, a.ID, f.sess, []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestCodeLifetime: a code works for 60 s, then not.
func TestCodeLifetime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	code := f.code(t)
	f.clock.Advance(oidc.CodeLifetime - time.Second)
	if _, err := f.svc.Redeem(ctx, code); err != nil {
		t.Fatalf("a 59 s old code: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.Redeem(ctx, code); kilt.ErrorCode(err) != oidc.CodeInvalidGrant {
		t.Fatalf("a 60 s old code: got %v, want invalid grant", err)
	}
}

// TestAuthRequestLifetime: a pending authorization lasts 30 minutes.
func TestAuthRequestLifetime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := &oidc.AuthRequest{ClientID: f.client.ID, RedirectURI: "https://app.example.kz/cb", Scopes: []string{"openid"},
		CodeChallenge: challenge, MaxAge: -1}
	if err := f.svc.NewAuthRequest(ctx, a, "S256"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(oidc.AuthRequestLifetime - time.Second)
	if _, err := f.svc.AuthRequest(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.AuthRequest(ctx, a.ID); kilt.ErrorKind(err) != kilt.KindGone {
		t.Fatalf("after 30 min: got %v, want gone", err)
	}
	if _, _, err := f.svc.Complete(ctx, a.ID, f.sess, nil); kilt.ErrorKind(err) != kilt.KindGone {
		t.Fatalf("completing an expired request: got %v, want gone", err)
	}
}

// TestNewAuthRequestRefusals: PKCE S256 required, openid required, scopes narrowed to the
// client's, redirect URI exact.
func TestNewAuthRequestRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	base := func() *oidc.AuthRequest {
		return &oidc.AuthRequest{ClientID: f.client.ID, RedirectURI: "https://app.example.kz/cb", Scopes: []string{"openid"},
			CodeChallenge: challenge, MaxAge: -1}
	}
	for name, tc := range map[string]struct {
		mod    func(*oidc.AuthRequest)
		method string
		code   string
	}{
		"no challenge":   {func(a *oidc.AuthRequest) { a.CodeChallenge = "" }, "S256", oidc.CodeInvalidRequest},
		"plain":          {func(a *oidc.AuthRequest) {}, "plain", oidc.CodeInvalidRequest},
		"short":          {func(a *oidc.AuthRequest) { a.CodeChallenge = "abc" }, "S256", oidc.CodeInvalidRequest},
		"no openid":      {func(a *oidc.AuthRequest) { a.Scopes = []string{"email"} }, "S256", oidc.CodeInvalidRequest},
		"redirect":       {func(a *oidc.AuthRequest) { a.RedirectURI += "/" }, "S256", oidc.CodeRedirectURI},
		"unknown client": {func(a *oidc.AuthRequest) { a.ClientID = "nope" }, "S256", oidc.CodeUnknownClient},
	} {
		a := base()
		tc.mod(a)
		if err := f.svc.NewAuthRequest(ctx, a, tc.method); kilt.ErrorCode(err) != tc.code {
			t.Errorf("%s: got %v, want %s", name, err, tc.code)
		}
	}
	a := base()
	a.Scopes = []string{"openid", "admin", "email", "openid"}
	if err := f.svc.NewAuthRequest(ctx, a, "S256"); err != nil {
		t.Fatal(err)
	}
	if len(a.Scopes) != 2 || a.Scopes[0] != "openid" || a.Scopes[1] != "email" {
		t.Errorf("scopes %v, want [openid email]", a.Scopes)
	}
}

// TestRefreshDiesWithIdleSession: a refresh token dies when its session is idle longer
// than the idle timeout.
func TestRefreshDiesWithIdleSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g, err := f.svc.Redeem(ctx, f.code(t))
	if err != nil {
		t.Fatal(err)
	}
	is, err := f.svc.IssueTokens(ctx, g, true)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(29 * time.Minute)
	if _, err := f.svc.Refresh(ctx, is.Refresh); err != nil {
		t.Fatalf("refresh within the session's idle time: %v", err)
	}
	f.clock.Advance(2 * time.Minute)
	if _, err := f.svc.Refresh(ctx, is.Refresh); kilt.ErrorCode(err) != oidc.CodeInvalidGrant {
		t.Fatalf("refresh after the session went idle: got %v", err)
	}
}

// TestKeyRotation: the old key stays published for KeyGrace after a rotation, then not;
// the new one signs. Keys sealed under another secret do not open.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old, err := f.svc.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old.Alg != oidc.AlgRS256 {
		t.Errorf("first key %s, want RS256", old.Alg)
	}
	if err := f.svc.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := f.svc.SigningKey(ctx); k.ID != old.ID {
		t.Fatal("EnsureKey replaced an existing key")
	}
	k, err := f.svc.RotateKeys(ctx, oidc.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := f.svc.SigningKey(ctx); now.ID != k.ID || now.Alg != oidc.AlgES256 {
		t.Fatalf("after rotation the signing key is %s", now.ID)
	}
	ids := func() map[string]bool {
		ks, err := f.svc.PublicKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, k := range ks {
			m[k.ID] = true
		}
		return m
	}
	if m := ids(); !m[old.ID] || !m[k.ID] {
		t.Errorf("published right after rotation: %v, want both", m)
	}
	f.clock.Advance(oidc.KeyGrace + time.Second)
	if m := ids(); m[old.ID] || !m[k.ID] {
		t.Errorf("published after the grace: %v, want the new key only", m)
	}
	if _, err := f.svc.RotateKeys(ctx, "HS256"); err == nil {
		t.Error("a symmetric algorithm was accepted")
	}
}

// other is another process on the fixture's database (the `kilt` command line).
func (f *fixture) other() *oidc.Service {
	return oidc.NewService(sqlstore.NewOIDC(f.db), f.clock.Now, oidc.Config{Secret: []byte("a server secret of at least 32 bytes!")})
}

// TestClientCache: a client is read again after ClientCacheTTL, so a secret rotated or a
// client removed by the command line (another process) stops working on a running server
// within it; through the server's own service at once.
func TestClientCache(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, secret, err := f.svc.AddClient(ctx, oidc.NewClient{Name: "Tax", RedirectURIs: []string{"https://tax.example.kz/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CheckSecret(ctx, c.ID, secret); err != nil {
		t.Fatalf("the secret: %v", err)
	}
	if err := f.svc.CheckSecret(ctx, c.ID, secret[:len(secret)-1]+"x"); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	// Rotated by the command line: the old secret works until the entry expires, then not.
	newSecret, err := f.other().RotateSecret(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(oidc.ClientCacheTTL - time.Millisecond)
	if err := f.svc.CheckSecret(ctx, c.ID, secret); err != nil {
		t.Fatalf("within the cache's lifetime: %v", err)
	}
	f.clock.Advance(time.Millisecond)
	if err := f.svc.CheckSecret(ctx, c.ID, secret); err == nil {
		t.Error("the rotated secret still works after ClientCacheTTL")
	}
	if err := f.svc.CheckSecret(ctx, c.ID, newSecret); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	// Through the server's own service: at once.
	latest, err := f.svc.RotateSecret(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f.svc.CheckSecret(ctx, c.ID, newSecret) == nil || f.svc.CheckSecret(ctx, c.ID, latest) != nil {
		t.Error("a rotation through the service is not seen at once")
	}
	// Removed by the command line: unknown after ClientCacheTTL.
	if err := f.other().RemoveClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(oidc.ClientCacheTTL)
	if _, err := f.svc.Client(ctx, c.ID); kilt.ErrorCode(err) != oidc.CodeUnknownClient {
		t.Errorf("a removed client after ClientCacheTTL: got %v", err)
	}
	if err := f.svc.CheckSecret(ctx, c.ID, latest); err == nil {
		t.Error("a removed client's secret still works")
	}
}

// TestSigningKeyCache: after a rotation by the command line the running server signs with
// the new key within KeyCacheTTL, and publishes it at once (the old one too).
func TestSigningKeyCache(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old, err := f.svc.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.other().RotateKeys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := f.svc.PublicKeys(ctx)
	if err != nil || len(ks) != 2 {
		t.Fatalf("published right after a rotation elsewhere: %d keys, %v; want both", len(ks), err)
	}
	if cur, _ := f.svc.SigningKey(ctx); cur.ID != old.ID {
		t.Errorf("signing with %s within KeyCacheTTL, want the cached %s", cur.ID, old.ID)
	}
	f.clock.Advance(oidc.KeyCacheTTL)
	if cur, _ := f.svc.SigningKey(ctx); cur.ID != k.ID {
		t.Errorf("signing with %s after KeyCacheTTL, want the new %s", cur.ID, k.ID)
	}
	if oidc.KeyCacheTTL+oidc.IDTokenLifetime >= oidc.KeyGrace {
		t.Error("a token signed with a retired key just before the cache expired could outlive the key's publication")
	}
}

// TestRedirectMatching: byte for byte; a public client's loopback port may differ.
func TestRedirectMatching(t *testing.T) {
	conf := &oidc.Client{RedirectURIs: []string{"https://a.example/cb", "http://127.0.0.1:8000/cb"}}
	pub := &oidc.Client{Public: true, RedirectURIs: conf.RedirectURIs}
	for _, tc := range []struct {
		uri        string
		conf, pubc bool
	}{
		{"https://a.example/cb", true, true},
		{"https://a.example/cb/", false, false},
		{"https://A.example/cb", false, false},
		{"https://a.example/cb?x", false, false},
		{"https://a.example:443/cb", false, false},
		{"http://127.0.0.1:8000/cb", true, true},
		{"http://127.0.0.1:9999/cb", false, true},
		{"http://127.0.0.1/cb", false, true},
		{"http://127.0.0.1:9999/cb2", false, false},
		{"http://localhost:8000/cb", false, false},
		{"http://[::1]:8000/cb", false, false},
	} {
		if got := conf.RedirectAllowed(tc.uri); got != tc.conf {
			t.Errorf("confidential %q: %v, want %v", tc.uri, got, tc.conf)
		}
		if got := pub.RedirectAllowed(tc.uri); got != tc.pubc {
			t.Errorf("public %q: %v, want %v", tc.uri, got, tc.pubc)
		}
	}
}
