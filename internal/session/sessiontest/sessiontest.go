// Package sessiontest is the contract every implementation of session.Store must pass. A
// store's tests call Run with a Harness on a fresh, migrated database; the suite uses only
// the port and the harness's helpers, so SQLite and PostgreSQL are checked by the same code.
package sessiontest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
	"kilt/internal/session"
)

// Harness is a store under test and what the suite needs beyond the port: a way to create
// accounts and to read back history and audit rows.
type Harness struct {
	Store      session.Store
	AddAccount func(t *testing.T, a *account.Account, h password.HistoryEntry)
	History    func(t *testing.T, accountID int64) []password.HistoryEntry
	Audit      func(t *testing.T, accountID int64) []audit.Event
}

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 123456000, time.UTC)

func newAccount(h Harness, t *testing.T, email, phone string) *account.Account {
	t.Helper()
	a := &account.Account{Email: email, EmailVerified: email != "", Phone: phone, PhoneVerified: phone != "",
		PasswordHash: "$2a$04$old-hash-" + email + phone, Lang: "kk", CreatedAt: t0, UpdatedAt: t0, PasswordChangedAt: t0}
	h.AddAccount(t, a, password.HistoryEntry{PasswordHash: a.PasswordHash, SkeletonHash: "sk-old", CreatedAt: t0})
	return a
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	in := func(t *testing.T, fn func(tx session.Tx) error) {
		t.Helper()
		if err := h.Store.InTx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("freeze", func(t *testing.T) { runFreeze(t, h) })
	t.Run("accounts", func(t *testing.T) {
		a := newAccount(h, t, "Aigerim@mail.kz", "+77011234567")
		in(t, func(tx session.Tx) error {
			for name, get := range map[string]func() (*account.Account, error){
				"id":    func() (*account.Account, error) { return tx.AccountByID(ctx, a.ID) },
				"email": func() (*account.Account, error) { return tx.AccountByEmailKey(ctx, account.EmailKey(a.Email)) },
				"phone": func() (*account.Account, error) { return tx.AccountByPhone(ctx, a.Phone) },
			} {
				got, err := get()
				if err != nil {
					t.Errorf("by %s: %v", name, err)
				} else if got.ID != a.ID || got.Email != a.Email || got.PasswordHash != a.PasswordHash {
					t.Errorf("by %s: got %+v", name, got)
				}
			}
			if _, err := tx.AccountByID(ctx, a.ID+1000); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("unknown id: got %v, want ErrNotFound", err)
			}
			if _, err := tx.AccountByEmailKey(ctx, "nobody@mail.kz"); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("unknown e-mail: got %v, want ErrNotFound", err)
			}
			if _, err := tx.AccountByPhone(ctx, "+77000000000"); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("unknown phone: got %v, want ErrNotFound", err)
			}
			return nil
		})
	})

	t.Run("lock", func(t *testing.T) {
		a := newAccount(h, t, "lock@mail.kz", "")
		in(t, func(tx session.Tx) error {
			if err := tx.SetLocked(ctx, a.ID, true, t0.Add(time.Minute)); err != nil {
				return err
			}
			got, err := tx.AccountByID(ctx, a.ID)
			if err != nil {
				return err
			}
			if !got.Locked || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
				t.Errorf("after lock: locked %v updated %v", got.Locked, got.UpdatedAt)
			}
			if err := tx.SetLocked(ctx, a.ID+1000, true, t0); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("lock unknown: got %v, want ErrNotFound", err)
			}
			return nil
		})
	})

	t.Run("upgrade hash and history", func(t *testing.T) {
		a := newAccount(h, t, "up@mail.kz", "")
		in(t, func(tx session.Tx) error {
			// An upgrade only replaces the hash it was computed from.
			if done, err := tx.UpdatePasswordHash(ctx, a.ID, "not-the-current-hash", "new", t0); err != nil || done {
				t.Errorf("stale upgrade: done %v err %v, want false nil", done, err)
			}
			if done, err := tx.UpdatePasswordHash(ctx, a.ID, a.PasswordHash, "upgraded", t0.Add(time.Hour)); err != nil || !done {
				t.Errorf("upgrade: done %v err %v, want true nil", done, err)
			}
			got, err := tx.AccountByID(ctx, a.ID)
			if err != nil {
				return err
			}
			if got.PasswordHash != "upgraded" || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
				t.Errorf("after upgrade: hash %q updated %v", got.PasswordHash, got.UpdatedAt)
			}
			return tx.ReplaceHistoryEntry(ctx, a.ID, a.PasswordHash,
				password.HistoryEntry{PasswordHash: "upgraded", Key: "key-new"})
		})
		// The legacy skeleton hash goes with the hash it was made beside.
		want := []password.HistoryEntry{{PasswordHash: "upgraded", Key: "key-new", CreatedAt: t0}}
		if diff := cmp.Diff(want, h.History(t, a.ID)); diff != "" {
			t.Errorf("history after replace (-want +got):\n%s", diff)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		a := newAccount(h, t, "s@mail.kz", "")
		other := newAccount(h, t, "not-s@mail.kz", "")
		sess := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour),
			IP: "192.0.2.7", UserAgent: "Mozilla/5.0 (Android) Қазақ"}
		hash := []byte("0123456789abcdef0123456789abcdef")
		in(t, func(tx session.Tx) error { return tx.InsertSession(ctx, sess, hash) })
		if sess.ID == 0 {
			t.Fatal("InsertSession did not set the ID")
		}
		// Read outside a transaction: the session and its account, or ErrNotFound.
		wantSession(t, h, hash, sess)
		if _, _, err := h.Store.ReadSession(ctx, []byte("nope")); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("ReadSession of an unknown token: %v, want ErrNotFound", err)
		}
		in(t, func(tx session.Tx) error {
			got, err := tx.SessionByTokenHash(ctx, hash)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(sess, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if err := tx.TouchSession(ctx, sess.ID, t0.Add(time.Minute)); err != nil {
				return err
			}
			if got, _ := tx.SessionByTokenHash(ctx, hash); got == nil || !got.LastSeenAt.Equal(t0.Add(time.Minute)) {
				t.Errorf("touch: got %+v", got)
			}
			if _, err := tx.SessionByTokenHash(ctx, []byte("nope")); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("unknown token: got %v, want ErrNotFound", err)
			}
			second := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0}
			if err := tx.InsertSession(ctx, second, []byte("another-hash")); err != nil {
				return err
			}
			third := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0}
			if err := tx.InsertSession(ctx, third, []byte("third-hash")); err != nil {
				return err
			}
			if err := tx.InsertSession(ctx, &session.Session{AccountID: other.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0},
				[]byte("others-hash")); err != nil {
				return err
			}
			// The account's own sessions, oldest first, and no other account's.
			all, err := tx.AccountSessions(ctx, a.ID)
			if err != nil || len(all) != 3 || all[0].ID != sess.ID || all[2].ID != third.ID || all[0].IP != sess.IP || all[0].UserAgent != sess.UserAgent || !all[0].CreatedAt.Equal(t0) {
				t.Errorf("AccountSessions: got %+v, %v; want the account's three, oldest first", all, err)
			}
			if ok, err := tx.DeleteSession(ctx, third.ID); err != nil || !ok {
				t.Errorf("delete one: %v, %v; want true", ok, err)
			}
			if ok, err := tx.DeleteSession(ctx, third.ID); err != nil || ok {
				t.Errorf("delete one again: %v, %v; want false", ok, err)
			}
			if ids, err := tx.SessionIDs(ctx, a.ID); err != nil || fmt.Sprint(ids) != fmt.Sprint([]int64{sess.ID, second.ID}) {
				t.Errorf("session ids: %v, %v; want [%d %d]", ids, err, sess.ID, second.ID)
			}
			if ids, err := tx.DeleteSessions(ctx, a.ID, sess.ID); err != nil || fmt.Sprint(ids) != fmt.Sprint([]int64{second.ID}) {
				t.Errorf("delete all but one: %v, %v; want [%d]", ids, err, second.ID)
			}
			if ids, err := tx.DeleteSessions(ctx, a.ID, 0); err != nil || fmt.Sprint(ids) != fmt.Sprint([]int64{sess.ID}) {
				t.Errorf("delete all: %v, %v; want [%d]", ids, err, sess.ID)
			}
			if _, err := tx.SessionByTokenHash(ctx, hash); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("after delete: got %v", err)
			}
			return nil
		})
	})

	t.Run("start session", func(t *testing.T) {
		// A sign-in's writes in one call: the keys forgotten, the session stored with its
		// ID, the event recorded; a key named twice changes nothing at all.
		a := newAccount(h, t, "start@mail.kz", "")
		keys := []string{"st:ip", "st:id"}
		in(t, func(tx session.Tx) error {
			return tx.PutThrottles(ctx, keys, []session.Throttle{{Failures: 4, LastFailedAt: t0}, {Failures: 2, LastFailedAt: t0}})
		})
		sess := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour),
			IP: "192.0.2.8", UserAgent: "Mozilla/5.0 (Android) Қазақ"}
		e := audit.Event{Type: audit.LoginSucceeded, AccountID: a.ID, At: t0, IP: "192.0.2.8", UserAgent: "Mozilla/5.0", Detail: ""}
		hash := []byte("start-0123456789abcdef0123456789")
		if err := h.Store.StartSession(ctx, []string{"st:dup", "st:dup"}, sess, hash, e); err == nil {
			t.Error("a key named twice was taken")
		}
		if _, _, err := h.Store.ReadSession(ctx, hash); !errors.Is(err, kilt.ErrNotFound) || sess.ID != 0 {
			t.Errorf("after the refused call: ReadSession %v, ID %d; want ErrNotFound and no ID", err, sess.ID)
		}
		if got := h.Audit(t, a.ID); len(got) != 0 {
			t.Errorf("after the refused call: %d events, want none", len(got))
		}
		if err := h.Store.StartSession(ctx, keys, sess, hash, e); err != nil {
			t.Fatal(err)
		}
		if sess.ID == 0 {
			t.Fatal("StartSession did not set the ID")
		}
		wantSession(t, h, hash, sess)
		wantOneEvent(t, h, a.ID, e)
		in(t, func(tx session.Tx) error {
			th, err := tx.ThrottlesForUpdate(ctx, keys)
			if err != nil {
				return err
			}
			if th[0].Failures != 0 || th[1].Failures != 0 {
				t.Errorf("throttles after StartSession: %+v, want forgotten", th)
			}
			return nil
		})
	})
	t.Run("ended sessions", func(t *testing.T) { runEnded(t, h) })

	t.Run("rollback", func(t *testing.T) {
		a := newAccount(h, t, "rb@mail.kz", "")
		boom := errors.New("boom")
		err := h.Store.InTx(ctx, func(tx session.Tx) error {
			if err := tx.InsertSession(ctx, &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0},
				[]byte("rolled-back")); err != nil {
				return err
			}
			if err := tx.RecordAudit(ctx, audit.Event{Type: audit.LoginSucceeded, AccountID: a.ID, At: t0}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v, want fn's error", err)
		}
		in(t, func(tx session.Tx) error {
			if _, err := tx.SessionByTokenHash(ctx, []byte("rolled-back")); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("rolled-back session: got %v, want ErrNotFound", err)
			}
			return nil
		})
		if ev := h.Audit(t, a.ID); len(ev) != 0 {
			t.Errorf("rolled-back audit events: %+v", ev)
		}
	})

	t.Run("audit", func(t *testing.T) {
		a := newAccount(h, t, "audit@mail.kz", "")
		e := audit.Event{Type: audit.SessionRevoked, AccountID: a.ID, At: t0, IP: "2001:db8::1", UserAgent: "curl", Detail: "d"}
		in(t, func(tx session.Tx) error { return tx.RecordAudit(ctx, e) })
		wantOneEvent(t, h, a.ID, e)
	})

	t.Run("throttle", func(t *testing.T) {
		k := []string{"k"}
		in(t, func(tx session.Tx) error {
			th, err := tx.ThrottlesForUpdate(ctx, k)
			if err != nil {
				return err
			}
			if len(th) != 1 || th[0].Failures != 0 {
				t.Errorf("new key: %+v", th)
			}
			return tx.PutThrottles(ctx, k, []session.Throttle{{Failures: 3, LastFailedAt: t0}})
		})
		in(t, func(tx session.Tx) error {
			th, err := tx.ThrottlesForUpdate(ctx, k)
			if err != nil {
				return err
			}
			if th[0].Failures != 3 || !th[0].LastFailedAt.Equal(t0) {
				t.Errorf("after put: %+v", th)
			}
			return tx.DeleteThrottles(ctx, k)
		})
		in(t, func(tx session.Tx) error {
			if th, err := tx.ThrottlesForUpdate(ctx, k); err != nil || th[0].Failures != 0 {
				t.Errorf("after delete: %+v %v", th, err)
			}
			return nil
		})
	})

	t.Run("throttle keys at once", func(t *testing.T) {
		// Several keys in one call, answered in the caller's order whatever the store's; a
		// key without a row reads as zero beside keys with one.
		in(t, func(tx session.Tx) error {
			return tx.PutThrottles(ctx, []string{"m:b", "m:a"},
				[]session.Throttle{{Failures: 2, LastFailedAt: t0}, {Failures: 7, LastFailedAt: t0.Add(time.Second)}})
		})
		in(t, func(tx session.Tx) error {
			th, err := tx.ThrottlesForUpdate(ctx, []string{"m:a", "m:none", "m:b"})
			if err != nil {
				return err
			}
			want := []session.Throttle{{Failures: 7, LastFailedAt: t0.Add(time.Second)}, {}, {Failures: 2, LastFailedAt: t0}}
			if len(th) != 3 || th[0].Failures != 7 || !th[0].LastFailedAt.Equal(want[0].LastFailedAt) ||
				th[1].Failures != 0 || th[2].Failures != 2 || !th[2].LastFailedAt.Equal(t0) {
				t.Errorf("read: got %+v, want %+v", th, want)
			}
			return tx.DeleteThrottles(ctx, []string{"m:b", "m:none"})
		})
		in(t, func(tx session.Tx) error {
			th, err := tx.ThrottlesForUpdate(ctx, []string{"m:b", "m:a"})
			if err != nil {
				return err
			}
			if th[0].Failures != 0 || th[1].Failures != 7 {
				t.Errorf("after deleting m:b: %+v", th)
			}
			return nil
		})
		// A key named twice is refused, and changes nothing.
		for name, call := range map[string]func(tx session.Tx) error{
			"read": func(tx session.Tx) error {
				_, err := tx.ThrottlesForUpdate(ctx, []string{"m:a", "m:a"})
				return err
			},
			"put": func(tx session.Tx) error {
				return tx.PutThrottles(ctx, []string{"m:a", "m:a"}, []session.Throttle{{Failures: 1}, {Failures: 1}})
			},
			"delete": func(tx session.Tx) error { return tx.DeleteThrottles(ctx, []string{"m:a", "m:a"}) },
		} {
			if err := h.Store.InTx(ctx, call); err == nil {
				t.Errorf("%s: a key named twice was taken", name)
			}
		}
		in(t, func(tx session.Tx) error {
			if th, err := tx.ThrottlesForUpdate(ctx, []string{"m:a"}); err != nil || th[0].Failures != 7 {
				t.Errorf("after refused calls: %+v %v", th, err)
			}
			return nil
		})
	})

	t.Run("attempt state", func(t *testing.T) {
		// The account an identifier names and the keys' states in one call: found by e-mail
		// (case aside) and by phone, nil when unknown, the states in the caller's order
		// beside it either way; a key named twice is refused.
		a := newAccount(h, t, "Attempt@Mail.kz", "+77015550142")
		in(t, func(tx session.Tx) error {
			return tx.PutThrottles(ctx, []string{"at:b"}, []session.Throttle{{Failures: 5, LastFailedAt: t0}})
		})
		byEmail := account.Identifier{Kind: account.Email, Value: "attempt@mail.kz"}
		byPhone := account.Identifier{Kind: account.Phone, Value: "+77015550142"}
		for name, id := range map[string]account.Identifier{"email": byEmail, "phone": byPhone} {
			in(t, func(tx session.Tx) error {
				got, th, err := tx.AttemptState(ctx, id, []string{"at:b", "at:a"})
				if err != nil {
					return err
				}
				if got == nil || got.ID != a.ID || got.Email != a.Email || got.Phone != a.Phone ||
					got.PasswordHash != a.PasswordHash || !got.PasswordChangedAt.Equal(t0) || got.Lang != "kk" || !got.EmailVerified {
					t.Errorf("%s: account %+v, want %+v", name, got, a)
				}
				if len(th) != 2 || th[0].Failures != 5 || !th[0].LastFailedAt.Equal(t0) || th[1].Failures != 0 {
					t.Errorf("%s: throttles %+v, want 5 then none", name, th)
				}
				return nil
			})
		}
		for name, id := range map[string]account.Identifier{
			"email": {Kind: account.Email, Value: "nobody@mail.kz"}, "phone": {Kind: account.Phone, Value: "+77015550143"}} {
			in(t, func(tx session.Tx) error {
				got, th, err := tx.AttemptState(ctx, id, []string{"at:a", "at:b"})
				if err != nil {
					return err
				}
				if got != nil {
					t.Errorf("unknown %s: got account %+v", name, got)
				}
				if len(th) != 2 || th[0].Failures != 0 || th[1].Failures != 5 {
					t.Errorf("unknown %s: throttles %+v, want none then 5", name, th)
				}
				return nil
			})
		}
		if err := h.Store.InTx(ctx, func(tx session.Tx) error {
			_, _, err := tx.AttemptState(ctx, byEmail, []string{"at:a", "at:a"})
			return err
		}); err == nil {
			t.Error("a key named twice was taken")
		}
	})

	t.Run("throttle counts concurrent attempts", func(t *testing.T) {
		// Attempts on one key made at once are counted one after the other, none lost,
		// while successful sign-ins clear the same key.
		const n = 12
		concurrently(t, n,
			func(i int) error {
				if i%2 == 1 { // as a sign-in takes them, with the account
					return countAttempt(ctx, h, "race")
				}
				return countFailure(ctx, h, "race")
			},
			func(i int) error {
				if i%4 == 0 {
					return clearKeys(ctx, h, "race")
				}
				return countFailure(ctx, h, "count")
			})
		in(t, func(tx session.Tx) error {
			th, err := tx.ThrottlesForUpdate(ctx, []string{"count"})
			if err != nil {
				return err
			}
			if th[0].Failures != n-n/4 {
				t.Errorf("counted %d attempts, want %d", th[0].Failures, n-n/4)
			}
			return nil
		})
	})

	t.Run("throttle keys taken in either order", func(t *testing.T) {
		// Two keys taken at once by transactions that name them in opposite orders, while
		// others clear another pair named in either order: every attempt is counted and
		// none fails (on PostgreSQL, rows locked in different orders would deadlock: a round
		// shows it most times, not always, so several rounds).
		const n, rounds = 64, 6
		owner := newAccount(h, t, "order@mail.kz", "")
		for range rounds {
			concurrently(t, n,
				func(i int) error {
					if i%2 == 0 {
						return countFailure(ctx, h, "o:x", "o:y")
					}
					return countFailure(ctx, h, "o:y", "o:x")
				},
				func(i int) error {
					switch i % 3 {
					case 0:
						if i%2 == 0 { // a successful sign-in's writes in one call
							return startSession(ctx, h, owner.ID, "o:q", "o:p")
						}
						return clearKeys(ctx, h, "o:q", "o:p")
					case 1:
						return countFailure(ctx, h, "o:p", "o:q")
					}
					return countFailure(ctx, h, "o:q", "o:p")
				})
		}
		in(t, func(tx session.Tx) error {
			th, err := tx.ThrottlesForUpdate(ctx, []string{"o:y", "o:x"})
			if err != nil {
				return err
			}
			if th[0].Failures != n*rounds || th[1].Failures != n*rounds {
				t.Errorf("counted %+v, want %d on each key", th, n*rounds)
			}
			return nil
		})
	})

	t.Run("limits", func(t *testing.T) {
		l := ratelimit.Limit{Name: "login_ip", Count: 2, Period: time.Minute}
		take := func() ratelimit.Result {
			var res ratelimit.Result
			in(t, func(tx session.Tx) error {
				var err error
				res, err = tx.TakeLimits(ctx, []ratelimit.Check{{Limit: l, Key: "192.0.2.1"}}, t0)
				return err
			})
			return res
		}
		if !take().Allowed || !take().Allowed {
			t.Fatal("the first two attempts were refused")
		}
		if res := take(); res.Allowed || res.RetryAfter <= 0 {
			t.Errorf("third attempt: %+v, want refused with a wait", res)
		}
	})
}

// countFailure counts one failure on each of keys in one transaction, as a sign-in does.
func countFailure(ctx context.Context, h Harness, keys ...string) error {
	return h.Store.InTx(ctx, func(tx session.Tx) error {
		th, err := tx.ThrottlesForUpdate(ctx, keys)
		if err != nil {
			return err
		}
		for i := range th {
			th[i].Failures++
		}
		return tx.PutThrottles(ctx, keys, th)
	})
}

// countAttempt is countFailure with the keys read as a sign-in reads them (AttemptState).
func countAttempt(ctx context.Context, h Harness, keys ...string) error {
	return h.Store.InTx(ctx, func(tx session.Tx) error {
		_, th, err := tx.AttemptState(ctx, account.Identifier{Kind: account.Email, Value: "race@mail.kz"}, keys)
		if err != nil {
			return err
		}
		for i := range th {
			th[i].Failures++
		}
		return tx.PutThrottles(ctx, keys, th)
	})
}

// clearKeys forgets keys in one transaction, as a successful sign-in does.
func clearKeys(ctx context.Context, h Harness, keys ...string) error {
	return h.Store.InTx(ctx, func(tx session.Tx) error { return tx.DeleteThrottles(ctx, keys) })
}

// wantOneEvent checks that the account's audit trail is e alone.
func wantOneEvent(t *testing.T, h Harness, accountID int64, e audit.Event) {
	t.Helper()
	got := h.Audit(t, accountID)
	if len(got) != 1 {
		t.Fatalf("got %d events, want 1", len(got))
	}
	got[0].ID = 0
	if diff := cmp.Diff(e, got[0]); diff != "" {
		t.Errorf("audit round trip (-want +got):\n%s", diff)
	}
}

// wantSession checks that ReadSession of hash, outside any transaction, gives sess and its
// account.
func wantSession(t *testing.T, h Harness, hash []byte, sess *session.Session) {
	t.Helper()
	got, acct, err := h.Store.ReadSession(context.Background(), hash)
	if err != nil || acct == nil || acct.ID != sess.AccountID || cmp.Diff(sess, got) != "" {
		t.Errorf("ReadSession = %+v, account %+v, %v; want %+v and account %d", got, acct, err, sess, sess.AccountID)
	}
}

// startSession forgets keys as a successful sign-in of the account does, starting a session.
func startSession(ctx context.Context, h Harness, accountID int64, keys ...string) error {
	hash := make([]byte, 32)
	if _, err := rand.Read(hash); err != nil {
		return err
	}
	sess := &session.Session{AccountID: accountID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	return h.Store.StartSession(ctx, keys, sess, hash, audit.Event{Type: audit.LoginSucceeded, AccountID: accountID, At: t0})
}

// concurrently runs each of fns n times (with i = 0…n−1), all at once, and reports every
// error.
func concurrently(t *testing.T, n int, fns ...func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n*len(fns))
	for i := range n {
		for _, fn := range fns {
			wg.Go(func() { errs <- fn(i) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
