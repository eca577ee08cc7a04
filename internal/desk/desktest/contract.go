// Package desktest is the contract every store of the desk (desk.Port) must pass; each
// database runs it (internal/sqlstore's TestDeskContract on SQLite and PostgreSQL).
package desktest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/desk"
)

// NewAccount creates an account with the e-mail (or "") and phone (or "") and returns its id.
type NewAccount func(t *testing.T, email, phone string) int64

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func in(t *testing.T, p desk.Port, fn func(tx desk.Tx) error) {
	t.Helper()
	if err := p.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// Run runs the contract on p.
func Run(t *testing.T, p desk.Port, newAccount NewAccount) {
	ctx := context.Background()
	a := newAccount(t, "aigerim@mail.kz", "+77011234567")
	b := newAccount(t, "", "+77017654321")

	t.Run("operators", func(t *testing.T) {
		in(t, p, func(tx desk.Tx) error {
			if _, err := tx.Operator(ctx, a); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("Operator of a non-operator: got %v, want ErrNotFound", err)
			}
			op := &desk.Operator{AccountID: a, Role: desk.RoleSupport, PendingSecret: []byte{1, 2}, EnrolTicketHash: []byte("ticket"),
				EnrolExpiresAt: t0.Add(time.Minute), CreatedAt: t0}
			if err := tx.SaveOperator(ctx, op); err != nil {
				return err
			}
			got, err := tx.OperatorByTicket(ctx, []byte("ticket"))
			if err != nil {
				return err
			}
			if got.Role != desk.RoleSupport || !bytes.Equal(got.PendingSecret, []byte{1, 2}) || !got.EnrolExpiresAt.Equal(op.EnrolExpiresAt) ||
				!got.CreatedAt.Equal(t0) || got.Enrolled() {
				t.Errorf("OperatorByTicket = %+v, want %+v", got, op)
			}
			op.Role, op.TOTPSecret, op.PendingSecret, op.EnrolTicketHash, op.EnrolExpiresAt, op.LastStep =
				desk.RoleAdmin, []byte{9}, nil, nil, time.Time{}, 42
			if err := tx.SaveOperator(ctx, op); err != nil {
				return err
			}
			if got, err = tx.Operator(ctx, a); err != nil {
				return err
			}
			if got.Role != desk.RoleAdmin || !got.Enrolled() || got.LastStep != 42 || got.PendingSecret != nil || !got.EnrolExpiresAt.IsZero() {
				t.Errorf("after update: %+v", got)
			}
			if _, err := tx.OperatorByTicket(ctx, []byte("ticket")); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("cleared ticket still finds: %v", err)
			}
			list, err := tx.Operators(ctx)
			if err != nil {
				return err
			}
			if len(list) != 1 || list[0].AccountID != a || list[0].Email != "aigerim@mail.kz" || list[0].Phone != "+77011234567" {
				t.Errorf("Operators = %+v", list)
			}
			return nil
		})
	})

	t.Run("backup codes are single use", func(t *testing.T) {
		in(t, p, func(tx desk.Tx) error {
			if err := tx.ReplaceBackupCodes(ctx, a, [][]byte{[]byte("c1"), []byte("c2")}, t0); err != nil {
				return err
			}
			for i, want := range []bool{true, false} {
				ok, err := tx.UseBackupCode(ctx, a, []byte("c1"), t0)
				if err != nil || ok != want {
					t.Errorf("use %d: got %v, %v; want %v", i+1, ok, err, want)
				}
			}
			if ok, err := tx.UseBackupCode(ctx, a, []byte("zz"), t0); err != nil || ok {
				t.Errorf("unknown code: got %v, %v", ok, err)
			}
			// Replacing forgets the old codes.
			if err := tx.ReplaceBackupCodes(ctx, a, [][]byte{[]byte("c3")}, t0); err != nil {
				return err
			}
			if ok, err := tx.UseBackupCode(ctx, a, []byte("c2"), t0); err != nil || ok {
				t.Errorf("replaced code: got %v, %v", ok, err)
			}
			return nil
		})
	})

	t.Run("console sessions", func(t *testing.T) {
		in(t, p, func(tx desk.Tx) error {
			s := &desk.Session{AccountID: a, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(8 * time.Hour), IP: "10.0.0.1", UserAgent: "ua"}
			if err := tx.CreateSession(ctx, s, []byte("h1")); err != nil {
				return err
			}
			if err := tx.TouchSession(ctx, s.ID, t0.Add(time.Minute)); err != nil {
				return err
			}
			got, err := tx.SessionByHash(ctx, []byte("h1"))
			if err != nil {
				return err
			}
			if got.ID != s.ID || got.AccountID != a || !got.LastSeenAt.Equal(t0.Add(time.Minute)) || !got.ExpiresAt.Equal(s.ExpiresAt) || got.IP != "10.0.0.1" {
				t.Errorf("SessionByHash = %+v", got)
			}
			if err := tx.DeleteOperatorSessions(ctx, a); err != nil {
				return err
			}
			if _, err := tx.SessionByHash(ctx, []byte("h1")); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("after DeleteOperatorSessions: %v", err)
			}
			return nil
		})
	})

	t.Run("accounts", func(t *testing.T) {
		in(t, p, func(tx desk.Tx) error {
			got, err := tx.AccountByEmailKey(ctx, account.EmailKey("aigerim@mail.kz"))
			if err != nil || got.ID != a {
				t.Errorf("AccountByEmailKey: %v, %v", got, err)
			}
			if got, err := tx.AccountByPhone(ctx, "+77017654321"); err != nil || got.ID != b {
				t.Errorf("AccountByPhone: %v, %v", got, err)
			}
			if _, err := tx.AccountByID(ctx, 1<<40); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("unknown id: %v", err)
			}
			if err := tx.SetLocked(ctx, b, true, t0); err != nil {
				return err
			}
			if got, _ := tx.AccountByID(ctx, b); got == nil || !got.Locked {
				t.Errorf("SetLocked did not lock: %+v", got)
			}
			if err := tx.SetLocked(ctx, 1<<40, true, t0); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("SetLocked of no account: %v", err)
			}
			if n, err := tx.SessionCount(ctx, b); err != nil || n != 0 {
				t.Errorf("SessionCount = %d, %v", n, err)
			}
			if last, err := tx.LastSignIn(ctx, b); err != nil || !last.IsZero() {
				t.Errorf("LastSignIn of a new account = %v, %v", last, err)
			}
			return nil
		})
		// A taken identifier is a conflict, and changes nothing.
		err := p.InTx(ctx, func(tx desk.Tx) error {
			return tx.SetEmail(ctx, b, "Aigerim@mail.kz", account.EmailKey("Aigerim@mail.kz"), t0)
		})
		if kilt.ErrorKind(err) != kilt.KindConflict || kilt.ErrorCode(err) != account.CodeIdentifierTaken {
			t.Errorf("SetEmail to a taken address: %v, want conflict identifier_taken", err)
		}
		err = p.InTx(ctx, func(tx desk.Tx) error { return tx.SetPhone(ctx, b, "+77011234567", t0) })
		if kilt.ErrorKind(err) != kilt.KindConflict {
			t.Errorf("SetPhone to a taken number: %v, want conflict", err)
		}
		in(t, p, func(tx desk.Tx) error {
			if err := tx.SetEmail(ctx, b, "new@mail.kz", account.EmailKey("new@mail.kz"), t0); err != nil {
				return err
			}
			got, err := tx.AccountByID(ctx, b)
			if err != nil {
				return err
			}
			if got.Email != "new@mail.kz" || !got.EmailVerified {
				t.Errorf("after SetEmail: %+v", got)
			}
			return nil
		})
	})

	t.Run("slips are single use", func(t *testing.T) {
		in(t, p, func(tx desk.Tx) error {
			s := &desk.Slip{AccountID: a, OperatorID: a, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
			if err := tx.InsertSlip(ctx, s, []byte("mac1")); err != nil {
				return err
			}
			got, err := tx.SlipByMAC(ctx, []byte("mac1"))
			if err != nil {
				return err
			}
			if got.ID != s.ID || got.AccountID != a || got.OperatorID != a || got.UsedAt != nil || !got.ExpiresAt.Equal(s.ExpiresAt) {
				t.Errorf("SlipByMAC = %+v", got)
			}
			for i, want := range []bool{true, false} {
				if ok, err := tx.UseSlip(ctx, s.ID, t0); err != nil || ok != want {
					t.Errorf("use %d: %v, %v; want %v", i+1, ok, err, want)
				}
			}
			if got, _ := tx.SlipByMAC(ctx, []byte("mac1")); got == nil || got.UsedAt == nil {
				t.Errorf("a used slip shows no use: %+v", got)
			}
			s2 := &desk.Slip{AccountID: a, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := tx.InsertSlip(ctx, s2, []byte("mac2")); err != nil {
				return err
			}
			if err := tx.KillSlips(ctx, a, t0); err != nil {
				return err
			}
			if ok, err := tx.UseSlip(ctx, s2.ID, t0); err != nil || ok {
				t.Errorf("killed slip used: %v, %v", ok, err)
			}
			if _, err := tx.SlipByMAC(ctx, []byte("nope")); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("unknown slip: %v", err)
			}
			for i := range 3 {
				if err := tx.AddSlipFailure(ctx, "ip1", t0.Add(time.Duration(i)*20*time.Minute)); err != nil {
					return err
				}
			}
			if n, err := tx.SlipFailures(ctx, "ip1", t0.Add(10*time.Minute)); err != nil || n != 2 {
				t.Errorf("SlipFailures since +10 min = %d, %v; want 2", n, err)
			}
			if n, err := tx.SlipFailures(ctx, "ip2", t0.Add(-time.Hour)); err != nil || n != 0 {
				t.Errorf("SlipFailures of another IP = %d, %v", n, err)
			}
			return tx.IssueResetToken(ctx, a, []byte("reset-hash-of-32-bytes-000000000"), t0, t0.Add(15*time.Minute))
		})
	})

	t.Run("audit", func(t *testing.T) {
		in(t, p, func(tx desk.Tx) error {
			for i, e := range []desk.Event{
				{At: t0, Type: "one", AccountID: b, OperatorID: a, Detail: "r1"},
				{At: t0.Add(time.Hour), Type: "two", AccountID: b},
				{At: t0.Add(2 * time.Hour), Type: "three", OperatorID: a},
			} {
				if err := tx.Record(ctx, e); err != nil {
					t.Fatalf("Record %d: %v", i, err)
				}
			}
			recent, err := tx.Recent(ctx, b, 10)
			if err != nil {
				return err
			}
			if len(recent) != 2 || recent[0].Type != "two" || recent[1].OperatorID != a || recent[1].Detail != "r1" {
				t.Errorf("Recent = %+v", recent)
			}
			evs, err := tx.Events(ctx, t0, t0.Add(2*time.Hour), 0, 10)
			if err != nil {
				return err
			}
			if len(evs) != 2 || evs[0].Type != "one" || evs[1].Type != "two" {
				t.Errorf("Events [t0, t0+2h) = %+v", evs)
			}
			if evs, err = tx.Events(ctx, t0, t0.Add(3*time.Hour), evs[0].ID, 1); err != nil || len(evs) != 1 || evs[0].Type != "two" {
				t.Errorf("Events after the first, one: %+v, %v", evs, err)
			}
			ops, err := tx.OperatorEvents(ctx, t0, 10)
			if err != nil {
				return err
			}
			if len(ops) != 2 || ops[0].Type != "three" || ops[1].Type != "one" {
				t.Errorf("OperatorEvents = %+v, want three and one, newest first", ops)
			}
			if ops, err = tx.OperatorEvents(ctx, t0.Add(time.Hour), 10); err != nil || len(ops) != 1 {
				t.Errorf("OperatorEvents since +1h = %+v, %v", ops, err)
			}
			// Only a look-up event naming both, at or after since, counts.
			if err := tx.Record(ctx, desk.Event{At: t0.Add(3 * time.Hour), Type: desk.EventLookup, AccountID: b, OperatorID: a}); err != nil {
				return err
			}
			for _, c := range []struct {
				operator, account int64
				since             time.Time
				want              bool
			}{
				{a, b, t0.Add(3 * time.Hour), true},
				{a, b, t0.Add(3*time.Hour + time.Second), false},
				{b, b, t0, false}, // another operator
				{a, a, t0, false}, // another account
			} {
				if got, err := tx.LookedUp(ctx, c.operator, c.account, c.since); err != nil || got != c.want {
					t.Errorf("LookedUp(%d, %d, %v) = %v, %v; want %v", c.operator, c.account, c.since, got, err, c.want)
				}
			}
			return nil
		})
	})

	t.Run("a failed transaction changes nothing", func(t *testing.T) {
		boom := errors.New("boom")
		err := p.InTx(ctx, func(tx desk.Tx) error {
			if err := tx.SetLocked(ctx, a, true, t0); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		in(t, p, func(tx desk.Tx) error {
			got, err := tx.AccountByID(ctx, a)
			if err == nil && got.Locked {
				t.Error("a rolled-back lock stuck")
			}
			return err
		})
	})

	t.Run("removing an operator", func(t *testing.T) {
		in(t, p, func(tx desk.Tx) error {
			if err := tx.DeleteOperator(ctx, a); err != nil {
				return err
			}
			if err := tx.DeleteOperator(ctx, a); !errors.Is(err, kilt.ErrNotFound) {
				t.Errorf("second delete: %v", err)
			}
			return nil
		})
	})
}
