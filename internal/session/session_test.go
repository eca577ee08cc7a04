package session_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/oidc"
	"kilt/internal/password"
	"kilt/internal/session"
	"kilt/internal/sqlstore"
)

const goodPassword = "Zheltoqsan-1986!"

// fixture is a session service on a real SQLite database with a clock moved by hand.
type fixture struct {
	db     *sqlstore.DB
	svc    *session.Service
	hasher *password.Hasher
	now    time.Time
}

func (f *fixture) clock() time.Time { return f.now }

func newFixture(t *testing.T, cfg session.Config) *fixture {
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
	f := &fixture{db: db, now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	f.hasher = password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1}, password.NewPool(2, time.Second))
	cfg.Secret = []byte("a test secret of enough length for the keys")
	f.svc = session.NewService(sqlstore.NewSessions(db), f.hasher, password.DefaultPolicy(), f.clock, cfg)
	return f
}

// addAccount creates an account with pw hashed as given (hash "" for a fresh Argon2id hash).
func (f *fixture) addAccount(t *testing.T, email, phone, pw, hash string) *account.Account {
	t.Helper()
	ctx := context.Background()
	if hash == "" {
		var err error
		if hash, err = f.hasher.Hash(ctx, pw); err != nil {
			t.Fatal(err)
		}
	}
	a := &account.Account{Email: email, EmailVerified: email != "", Phone: phone, PhoneVerified: phone != "",
		PasswordHash: hash, Lang: "kk", CreatedAt: f.now, UpdatedAt: f.now, PasswordChangedAt: f.now}
	if err := sqlstore.NewAccounts(f.db).InTx(ctx, func(tx account.Tx) error {
		return tx.InsertAccount(ctx, a, password.HistoryEntry{PasswordHash: hash, SkeletonHash: "sk", CreatedAt: f.now})
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) events(t *testing.T, accountID int64) []string {
	t.Helper()
	ev, err := sqlstore.NewAudit(f.db).Recent(context.Background(), accountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(ev) - 1; i >= 0; i-- {
		out = append(out, ev[i].Type)
	}
	return out
}

func client(ip string) session.Client { return session.Client{IP: ip, UserAgent: "test", Lang: "kk"} }

func wantCode(t *testing.T, what string, err error, kind kilt.Kind, code string) {
	t.Helper()
	if kilt.ErrorKind(err) != kind || kilt.ErrorCode(err) != code {
		t.Errorf("%s: got %v, want %v %s", what, err, kind, code)
	}
}

func TestSignInRotatesSessionAndAudits(t *testing.T) {
	f := newFixture(t, session.Config{})
	ctx := context.Background()
	a := f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	first, err := f.svc.SignIn(ctx, "A@mail.kz", goodPassword, "", client("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Account.ID != a.ID || first.Session.AccountID != a.ID || first.Token == "" {
		t.Fatalf("sign-in: %+v", first)
	}
	// Signing in again from the same browser ends the session it had: a token planted
	// before sign-in is worth nothing after it.
	second, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, first.Token, client("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Current(ctx, first.Token); kilt.ErrorKind(err) != kilt.KindUnauthorized {
		t.Errorf("old session after sign-in: got %v, want 401", err)
	}
	sess, acct, err := f.svc.Current(ctx, second.Token)
	if err != nil || sess.ID != second.Session.ID || acct.ID != a.ID {
		t.Errorf("current: %v %v %v", sess, acct, err)
	}
	if err := f.svc.SignOut(ctx, second.Token, client("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SignOut(ctx, second.Token, client("192.0.2.1")); kilt.ErrorKind(err) != kilt.KindUnauthorized {
		t.Errorf("signing out again: got %v, want 401", err)
	}
	if _, _, err := f.svc.Current(ctx, second.Token); kilt.ErrorKind(err) != kilt.KindUnauthorized {
		t.Errorf("after sign-out: got %v, want 401", err)
	}
	want := []string{audit.LoginSucceeded, audit.LoginSucceeded, audit.SessionRevoked}
	if got := f.events(t, a.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit: got %v, want %v", got, want)
	}
}

func TestSignInAnswersUnknownAndWrongAlike(t *testing.T) {
	f := newFixture(t, session.Config{})
	ctx := context.Background()
	a := f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	for _, id := range []string{"a@mail.kz", "ghost@mail.kz"} {
		before := f.hasher.Pool().Stats().Served
		_, err := f.svc.SignIn(ctx, id, "Wrong-Password-1", "", client("192.0.2.1"))
		wantCode(t, id, err, kilt.KindUnauthorized, session.CodeInvalidCredentials)
		if n := f.hasher.Pool().Stats().Served - before; n != 1 {
			t.Errorf("%s: %d hashing jobs, want 1", id, n)
		}
	}
	if got := f.events(t, a.ID); fmt.Sprint(got) != fmt.Sprint([]string{audit.LoginFailed}) {
		t.Errorf("audit: %v", got)
	}
	_, err := f.svc.SignIn(ctx, "not an identifier", goodPassword, "", client("192.0.2.1"))
	if kilt.ErrorKind(err) != kilt.KindInvalid {
		t.Errorf("malformed identifier: got %v, want invalid", err)
	}
	_, err = f.svc.SignIn(ctx, "a@mail.kz", "", "", client("192.0.2.1"))
	wantCode(t, "empty password", err, kilt.KindInvalid, session.CodePasswordRequired)
}

func TestCurrentExpires(t *testing.T) {
	f := newFixture(t, session.Config{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour})
	ctx := context.Background()
	f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	in, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	// Used every 20 minutes, it lives until its absolute end.
	for range 2 {
		f.now = f.now.Add(20 * time.Minute)
		if _, _, err := f.svc.Current(ctx, in.Token); err != nil {
			t.Fatalf("at %v: %v", f.now, err)
		}
	}
	f.now = f.now.Add(20 * time.Minute)
	if _, _, err := f.svc.Current(ctx, in.Token); kilt.ErrorKind(err) != kilt.KindUnauthorized {
		t.Errorf("past the absolute lifetime: got %v, want 401", err)
	}
	in, err = f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(31 * time.Minute)
	if _, _, err := f.svc.Current(ctx, in.Token); kilt.ErrorKind(err) != kilt.KindUnauthorized {
		t.Errorf("idle: got %v, want 401", err)
	}
	for _, tok := range []string{"", "short", "!!!!"} {
		if _, _, err := f.svc.Current(ctx, tok); kilt.ErrorKind(err) != kilt.KindUnauthorized {
			t.Errorf("token %q: got %v, want 401", tok, err)
		}
	}
}

func TestLockedAccount(t *testing.T) {
	f := newFixture(t, session.Config{})
	ctx := context.Background()
	a := f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	in, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetLocked(ctx, a.ID, true, "by a test"); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Current(ctx, in.Token)
	wantCode(t, "locked account's session", err, kilt.KindForbidden, session.CodeAccountLocked)
	_, err = f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1"))
	wantCode(t, "locked sign-in", err, kilt.KindForbidden, session.CodeAccountLocked)
	if err := f.svc.SetLocked(ctx, a.ID, false, "by a test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Current(ctx, in.Token); err != nil {
		t.Errorf("after unlock: %v", err)
	}
	// A locked account's session may still sign out.
	if err := f.svc.SetLocked(ctx, a.ID, true, "by a test"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SignOut(ctx, in.Token, client("192.0.2.1")); err != nil {
		t.Errorf("sign-out of a locked account: %v", err)
	}
	if err := f.svc.SetLocked(ctx, a.ID+100, true, "x"); err == nil {
		t.Error("locking an unknown account succeeded")
	}
	want := []string{audit.LoginSucceeded, audit.AccountLocked, audit.LoginFailed, audit.AccountUnlocked,
		audit.AccountLocked, audit.SessionRevoked}
	if got := f.events(t, a.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit: got %v, want %v", got, want)
	}
}

func TestSignOutAll(t *testing.T) {
	f := newFixture(t, session.Config{})
	ctx := context.Background()
	a := f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	b := f.addAccount(t, "b@mail.kz", "", goodPassword, "")
	var toks []string
	for range 3 {
		in, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1"))
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, in.Token)
	}
	other, err := f.svc.SignIn(ctx, "b@mail.kz", goodPassword, "", client("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.SignOutAll(ctx, toks[0], client("192.0.2.1")); err != nil || n != 3 {
		t.Errorf("sign out everywhere: %d %v, want 3", n, err)
	}
	for _, tok := range toks {
		if _, _, err := f.svc.Current(ctx, tok); kilt.ErrorKind(err) != kilt.KindUnauthorized {
			t.Errorf("after sign-out everywhere: got %v, want 401", err)
		}
	}
	if _, _, err := f.svc.Current(ctx, other.Token); err != nil {
		t.Errorf("another account's session: %v", err)
	}
	if got := f.events(t, a.ID); got[len(got)-1] != audit.SessionsRevokedAll {
		t.Errorf("audit: %v", got)
	}
	_ = b
}

// TestSlowDownAfterFailures: five free failures per identifier and client, then the wait
// doubles; a success forgets the failures.
func TestSlowDownAfterFailures(t *testing.T) {
	f := newFixture(t, session.Config{})
	ctx := context.Background()
	f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	for i := range 5 {
		_, err := f.svc.SignIn(ctx, "a@mail.kz", "Wrong-Password-1", "", client("192.0.2.1"))
		wantCode(t, fmt.Sprint("failure ", i+1), err, kilt.KindUnauthorized, session.CodeInvalidCredentials)
	}
	_, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1"))
	wantCode(t, "after five failures", err, kilt.KindRateLimited, session.CodeLoginThrottled)
	if e, _ := kilt.AsError(err); e == nil || e.RetryAfter != time.Second {
		t.Errorf("wait: %v, want 1s", err)
	}
	f.now = f.now.Add(time.Second)
	if _, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1")); err != nil {
		t.Errorf("after the wait: %v", err)
	}
	if _, err := f.svc.SignIn(ctx, "a@mail.kz", "Wrong-Password-1", "", client("192.0.2.1")); kilt.ErrorKind(err) != kilt.KindUnauthorized {
		t.Errorf("after a success: got %v, want 401", err)
	}
}

// countingStore is a session store that counts its transactions.
type countingStore struct {
	session.Store
	txs int
}

func (s *countingStore) InTx(ctx context.Context, fn func(session.Tx) error) error {
	s.txs++
	return s.Store.InTx(ctx, fn)
}

// TestCurrentReadsOnly: a signed-in request opens no transaction (on SQLite none waits for
// the writers); the session's last-seen time is written at most once a minute, and the idle
// timeout counts from it. Before, every Current ran in a write transaction.
func TestCurrentReadsOnly(t *testing.T) {
	f := newFixture(t, session.Config{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour})
	store := &countingStore{Store: sqlstore.NewSessions(f.db)}
	f.svc = session.NewService(store, f.hasher, password.DefaultPolicy(), f.clock,
		session.Config{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Secret: []byte("a test secret of enough length for the keys")})
	ctx := context.Background()
	f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	in, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, "", client("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	signedIn := f.now
	store.txs = 0
	for range 3 {
		f.now = f.now.Add(15 * time.Second)
		sess, _, err := f.svc.Current(ctx, in.Token)
		if err != nil {
			t.Fatal(err)
		}
		if !sess.LastSeenAt.Equal(signedIn) {
			t.Errorf("last seen %v within the minute, want %v", sess.LastSeenAt, signedIn)
		}
	}
	if store.txs != 0 {
		t.Errorf("%d transactions for three requests within a minute, want 0", store.txs)
	}
	f.now = signedIn.Add(time.Minute)
	sess, _, err := f.svc.Current(ctx, in.Token)
	if err != nil {
		t.Fatal(err)
	}
	if store.txs != 1 || !sess.LastSeenAt.Equal(f.now) {
		t.Errorf("a minute on: %d transactions, last seen %v; want 1 and %v", store.txs, sess.LastSeenAt, f.now)
	}
	// Written, not only returned: the idle timeout now counts from that minute.
	f.now = signedIn.Add(30*time.Minute + 30*time.Second)
	if _, _, err := f.svc.Current(ctx, in.Token); err != nil {
		t.Errorf("30 min after the last write, 30.5 after sign-in: %v, want the session alive", err)
	}
}

// endings is a provider that records what it was told.
type endings struct{ got []string }

func (e *endings) SessionsEnded(_ context.Context, _ oidc.LogoutTx, accountID int64, ids []int64, whole bool) error {
	e.got = append(e.got, fmt.Sprintf("%d:%v:%v", accountID, ids, whole))
	return nil
}

// TestEveryEndTellsTheProvider: every way the session domain ends sessions tells the
// provider which sessions of which account ended, and whether the whole account's tokens
// go: sign-out, end_session's end, sign-in replacing a session, a session found expired,
// sign-out everywhere, EndAccount with a session kept, and a lock (sessions suspended).
func TestEveryEndTellsTheProvider(t *testing.T) {
	p := &endings{}
	f := newFixture(t, session.Config{Provider: p})
	ctx := context.Background()
	a := f.addAccount(t, "a@mail.kz", "", goodPassword, "")
	signIn := func(old string) *session.SignedIn {
		t.Helper()
		in, err := f.svc.SignIn(ctx, "a@mail.kz", goodPassword, old, client("192.0.2.1"))
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	expect := func(what string, want ...string) {
		t.Helper()
		if fmt.Sprint(p.got) != fmt.Sprint(want) {
			t.Errorf("%s: the provider was told %v, want %v", what, p.got, want)
		}
		p.got = nil
	}
	s1 := signIn("")
	expect("a sign-in")
	if err := f.svc.SignOut(ctx, s1.Token, client("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	expect("sign-out", fmt.Sprintf("%d:[%d]:false", a.ID, s1.Session.ID))

	s2 := signIn("")
	if err := f.svc.End(ctx, s2.Session.ID, a.ID, client("")); err != nil {
		t.Fatal(err)
	}
	expect("end_session", fmt.Sprintf("%d:[%d]:false", a.ID, s2.Session.ID))

	s3 := signIn("")
	s4 := signIn(s3.Token)
	expect("a sign-in replacing a session", fmt.Sprintf("%d:[%d]:false", a.ID, s3.Session.ID))

	f.now = f.now.Add(31 * time.Minute)
	if _, _, err := f.svc.Current(ctx, s4.Token); err == nil {
		t.Fatal("an idle session is current")
	}
	expect("an idle session", fmt.Sprintf("%d:[%d]:false", a.ID, s4.Session.ID))

	s5, s6 := signIn(""), signIn("")
	if n, err := f.svc.SignOutAll(ctx, s5.Token, client("192.0.2.1")); err != nil || n != 2 {
		t.Fatalf("sign-out everywhere: %d, %v", n, err)
	}
	expect("sign-out everywhere", fmt.Sprintf("%d:[%d %d]:true", a.ID, s5.Session.ID, s6.Session.ID))

	s7, s8 := signIn(""), signIn("")
	err := sqlstore.NewSessions(f.db).InTx(ctx, func(tx session.Tx) error {
		n, err := f.svc.EndAccount(ctx, tx, a.ID, s8.Session.ID)
		if n != 1 {
			t.Errorf("EndAccount ended %d sessions, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	expect("EndAccount keeping one", fmt.Sprintf("%d:[%d]:true", a.ID, s7.Session.ID))

	if err := f.svc.SetLocked(ctx, a.ID, true, "by a test"); err != nil {
		t.Fatal(err)
	}
	expect("a lock", fmt.Sprintf("%d:[%d]:true", a.ID, s8.Session.ID))
	if err := f.svc.SetLocked(ctx, a.ID, false, "by a test"); err != nil {
		t.Fatal(err)
	}
	expect("an unlock")
}
