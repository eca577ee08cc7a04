// Package recoverytest is the contract every recovery.Store must keep, as a test suite that
// each store runs on each of its databases (package sqlstore: SQLite and PostgreSQL). The
// rows recovery shares with package account (tokens and flows that a new password or a
// lock ends) are checked through both ports.
package recoverytest

import (
	"context"
	"errors"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/account/accounttest"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
	"kilt/internal/recovery"
)

var t0 = accounttest.T0

// Run checks s, with accounts the account store of the same database (empty, migrated).
func Run(t *testing.T, s recovery.Store, accounts account.Store) {
	a := accounttest.NewAccount("aigerim@mail.kz", "+77011234567")
	accounttest.Insert(t, accounts, a)
	t.Run("requests", func(t *testing.T) { testRequests(t, s) })
	t.Run("flows", func(t *testing.T) { testFlows(t, s, accounts, a) })
	t.Run("tokens", func(t *testing.T) { testTokens(t, s, accounts, a) })
	t.Run("failures", func(t *testing.T) { testFailures(t, s, a) })
	t.Run("rest", func(t *testing.T) { testRest(t, s, a) })
}

func inTx(t *testing.T, s recovery.Store, fn func(ctx context.Context, tx recovery.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.InTx(ctx, func(tx recovery.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func testRequests(t *testing.T, s recovery.Store) {
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		for i, id := range []string{"", "flow-r1", ""} {
			r := recovery.Request{Channel: outbox.Email, Identifier: "x@mail.kz", FlowID: id, Lang: "ru", IP: "192.0.2.1",
				UserAgent: "UA", CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			if err := tx.InsertRequest(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	// A request recorded in a transaction that fails is not recorded.
	boom := errors.New("boom")
	err := s.InTx(context.Background(), func(tx recovery.Tx) error {
		if err := tx.InsertRequest(context.Background(), recovery.Request{Channel: outbox.SMS, Identifier: "+7", CreatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: got %v, want the function's error", err)
	}
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		reqs, err := tx.Requests(ctx, 2)
		if err != nil {
			return err
		}
		if len(reqs) != 2 || reqs[0].FlowID != "" || reqs[1].FlowID != "flow-r1" || reqs[0].Lang != "ru" ||
			reqs[0].IP != "192.0.2.1" || !reqs[1].CreatedAt.Equal(t0.Add(time.Second)) {
			t.Fatalf("the oldest two: %+v", reqs)
		}
		for _, r := range reqs {
			if err := tx.DeleteRequest(ctx, r.ID); err != nil {
				return err
			}
		}
		rest, err := tx.Requests(ctx, 10)
		if err != nil {
			return err
		}
		if len(rest) != 1 || !rest[0].CreatedAt.Equal(t0.Add(2*time.Second)) {
			t.Errorf("after deleting two: %+v, want the third only", rest)
		}
		return tx.DeleteRequest(ctx, rest[0].ID)
	})
}

func testFlows(t *testing.T, s recovery.Store, accounts account.Store, a *account.Account) {
	f := recovery.Flow{ID: "flow-1", Identifier: a.Phone, Lang: "kk", CodeExpiresAt: t0.Add(5 * time.Minute),
		LastRequestAt: t0, CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
	other := f
	other.ID, other.Identifier = "flow-2", "+77017654321"
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		for _, f := range []recovery.Flow{f, other} {
			if err := tx.InsertFlow(ctx, f); err != nil {
				return err
			}
		}
		got, err := tx.Flow(ctx, f.ID)
		if err != nil {
			return err
		}
		if got.AccountID != 0 || got.CodeMAC != nil || got.Identifier != f.Identifier || !got.CodeExpiresAt.Equal(f.CodeExpiresAt) ||
			!got.ExpiresAt.Equal(f.ExpiresAt) {
			t.Errorf("round trip: got %+v, want %+v", got, f)
		}
		if _, err := tx.Flow(ctx, "nope"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown flow: got %v, want ErrNotFound", err)
		}
		if n, err := tx.FlowNumber(ctx, f.ID); err != nil || n != f.Identifier {
			t.Errorf("the flow's number: got %q %v, want %q", n, err, f.Identifier)
		}
		if _, err := tx.FlowNumber(ctx, "nope"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("the number of an unknown flow: got %v, want ErrNotFound", err)
		}
		f.AccountID, f.CodeMAC, f.Attempts, f.LastRequestAt = a.ID, []byte("mac"), 3, t0.Add(time.Minute)
		if err := tx.UpdateFlow(ctx, f); err != nil {
			return err
		}
		if got, err := tx.Flow(ctx, f.ID); err != nil || got.AccountID != a.ID || string(got.CodeMAC) != "mac" || got.Attempts != 3 ||
			!got.LastRequestAt.Equal(f.LastRequestAt) {
			t.Errorf("after the update: %+v %v", got, err)
		}
		if err := tx.UpdateFlow(ctx, recovery.Flow{ID: "nope"}); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("update of an unknown flow: got %v, want ErrNotFound", err)
		}
		// EndFlows ends the live flows of one number.
		if err := tx.EndFlows(ctx, a.Phone, t0.Add(2*time.Minute)); err != nil {
			return err
		}
		if got, _ := tx.Flow(ctx, f.ID); got.CodeMAC != nil || !got.ExpiresAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("after EndFlows: %+v", got)
		}
		if got, _ := tx.Flow(ctx, other.ID); !got.ExpiresAt.Equal(other.ExpiresAt) {
			t.Errorf("another number's flow ended: %+v", got)
		}
		// A new live flow of the account, for the account port to end.
		f.ID, f.ExpiresAt = "flow-3", t0.Add(30*time.Minute)
		return tx.InsertFlow(ctx, f)
	})
	ctx := context.Background()
	if err := accounts.InTx(ctx, func(tx account.Tx) error { return tx.EndAccountFlows(ctx, a.ID, t0.Add(3*time.Minute)) }); err != nil {
		t.Fatal(err)
	}
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		if got, _ := tx.Flow(ctx, "flow-3"); got.CodeMAC != nil || !got.ExpiresAt.Equal(t0.Add(3*time.Minute)) {
			t.Errorf("after EndAccountFlows: %+v", got)
		}
		if got, _ := tx.Flow(ctx, other.ID); !got.ExpiresAt.Equal(other.ExpiresAt) {
			t.Errorf("EndAccountFlows ended a flow without the account: %+v", got)
		}
		return nil
	})
}

func testTokens(t *testing.T, s recovery.Store, accounts account.Store, a *account.Account) {
	tok := func(b byte, purpose string, expires time.Time) recovery.Token {
		return recovery.Token{Hash: []byte{b, 9, 9, 9}, AccountID: a.ID, Purpose: purpose, CreatedAt: t0, ExpiresAt: expires}
	}
	link1, link2 := tok(1, recovery.PurposeLink, t0.Add(30*time.Minute)), tok(2, recovery.PurposeLink, t0.Add(30*time.Minute))
	reset, expired := tok(3, recovery.PurposePhone, t0.Add(15*time.Minute)), tok(4, recovery.PurposeLink, t0.Add(time.Second))
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		for _, k := range []recovery.Token{link1, reset, expired} {
			if err := tx.InsertToken(ctx, k); err != nil {
				return err
			}
		}
		got, err := tx.Token(ctx, link1.Hash)
		if err != nil {
			return err
		}
		if got.AccountID != a.ID || got.Purpose != recovery.PurposeLink || !got.ExpiresAt.Equal(link1.ExpiresAt) || !got.UsedAt.IsZero() {
			t.Errorf("round trip: got %+v, want %+v", got, link1)
		}
		if _, err := tx.Token(ctx, []byte("nope")); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown token: got %v, want ErrNotFound", err)
		}
		// UseTokens ends the unused tokens of one purpose only.
		if err := tx.UseTokens(ctx, a.ID, recovery.PurposeLink, t0.Add(time.Minute)); err != nil {
			return err
		}
		if got, _ := tx.Token(ctx, link1.Hash); !got.UsedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("a link after UseTokens: %+v", got)
		}
		if got, _ := tx.Token(ctx, reset.Hash); !got.UsedAt.IsZero() {
			t.Errorf("a reset token was used by UseTokens of links: %+v", got)
		}
		return tx.InsertToken(ctx, link2)
	})
	// The account port uses a token once, only while it lives, only for its account.
	ctx := context.Background()
	use := func(hash []byte, accountID int64, now time.Time) error {
		return accounts.InTx(ctx, func(tx account.Tx) error { return tx.UseToken(ctx, hash, accountID, now) })
	}
	now := t0.Add(2 * time.Minute)
	for name, err := range map[string]error{
		"a used token":     use(link1.Hash, a.ID, now),
		"an expired token": use(expired.Hash, a.ID, now),
		"another's token":  use(link2.Hash, a.ID+1000, now),
		"an unknown token": use([]byte("nope"), a.ID, now),
	} {
		if !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", name, err)
		}
	}
	if err := use(link2.Hash, a.ID, now); err != nil {
		t.Fatalf("a live token: %v", err)
	}
	if err := use(link2.Hash, a.ID, now); !errors.Is(err, kilt.ErrNotFound) {
		t.Errorf("a token used twice: got %v, want ErrNotFound", err)
	}
	if err := accounts.InTx(ctx, func(tx account.Tx) error { return tx.UseAllTokens(ctx, a.ID, now) }); err != nil {
		t.Fatal(err)
	}
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		if got, _ := tx.Token(ctx, reset.Hash); !got.UsedAt.Equal(now) {
			t.Errorf("after UseAllTokens: %+v", got)
		}
		return nil
	})
}

func testFailures(t *testing.T, s recovery.Store, a *account.Account) {
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		for i := range 3 {
			if err := tx.AddCodeFailure(ctx, "key-a", a.ID, t0.Add(time.Duration(i)*time.Hour)); err != nil {
				return err
			}
		}
		if err := tx.AddCodeFailure(ctx, "key-b", 0, t0); err != nil {
			return err
		}
		for _, c := range []struct {
			key   string
			since time.Time
			want  int
		}{
			{"key-a", t0.Add(-time.Second), 3}, {"key-a", t0, 2}, {"key-b", t0.Add(-time.Second), 1}, {"key-c", t0.Add(-time.Hour), 0},
		} {
			if n, err := tx.CodeFailures(ctx, c.key, c.since); err != nil || n != c.want {
				t.Errorf("failures of %s since %v: got %d %v, want %d", c.key, c.since, n, err, c.want)
			}
		}
		if err := tx.PruneCodeFailures(ctx, "key-a", t0.Add(time.Hour)); err != nil {
			return err
		}
		if n, _ := tx.CodeFailures(ctx, "key-a", t0.Add(-24*time.Hour)); n != 1 {
			t.Errorf("after pruning up to the second: got %d, want 1", n)
		}
		if n, _ := tx.CodeFailures(ctx, "key-b", t0.Add(-24*time.Hour)); n != 1 {
			t.Errorf("pruning one key touched another: got %d, want 1", n)
		}
		return nil
	})
}

func testRest(t *testing.T, s recovery.Store, a *account.Account) {
	inTx(t, s, func(ctx context.Context, tx recovery.Tx) error {
		if err := tx.PauseSMS(ctx, a.ID, t0.Add(24*time.Hour)); err != nil {
			return err
		}
		if err := tx.PauseSMS(ctx, a.ID+1000, t0); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("pause of an unknown account: got %v, want ErrNotFound", err)
		}
		got, err := tx.AccountByPhone(ctx, a.Phone)
		if err != nil {
			return err
		}
		if got.ID != a.ID || !got.SMSPausedUntil.Equal(t0.Add(24*time.Hour)) {
			t.Errorf("by phone after the pause: %+v", got)
		}
		if got, err := tx.AccountByEmail(ctx, account.EmailKey(a.Email)); err != nil || got.ID != a.ID {
			t.Errorf("by e-mail: %+v %v", got, err)
		}
		if _, err := tx.AccountByPhone(ctx, "+77000000000"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown number: got %v, want ErrNotFound", err)
		}
		one := []ratelimit.Check{{Limit: ratelimit.Limit{Name: "contract", Count: 1, Period: time.Hour}, Key: "k"}}
		if res, err := tx.Take(ctx, one, t0); err != nil || !res.Allowed {
			t.Errorf("the first take: %+v %v", res, err)
		}
		if res, err := tx.Take(ctx, one, t0); err != nil || res.Allowed {
			t.Errorf("the second take: %+v %v, want refused", res, err)
		}
		m := &outbox.Message{Channel: outbox.SMS, Kind: outbox.RecoveryCode, Lang: "kk", To: a.Phone, AccountID: a.ID,
			Params: map[string]string{"minutes": "5"}, Secret: map[string]string{"code": "123456"}, CreatedAt: t0}
		if err := tx.Enqueue(ctx, m); err != nil || m.ID == 0 {
			t.Errorf("enqueue: id %d, %v", m.ID, err)
		}
		return tx.Audit(ctx, audit.Event{Type: audit.CodeFailed, AccountID: a.ID, At: t0})
	})
}
