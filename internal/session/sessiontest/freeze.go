package sessiontest

import (
	"context"
	"errors"
	"testing"
	"time"

	"kilt"
	"kilt/internal/session"
)

// runFreeze: a session's re-authentication time round-trips; an unknown freeze token is not
// found; a frozen account reads frozen, with the channels its freeze trusts; nothing else
// of the freeze fails on an account with nothing to kill or revert.
func runFreeze(t *testing.T, h Harness) {
	ctx := context.Background()
	in := func(fn func(tx session.Tx) error) {
		t.Helper()
		if err := h.Store.InTx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	a := newAccount(h, t, "frozen@mail.kz", "")
	sess := &session.Session{AccountID: a.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	hash := []byte("freeze-session-token-hash-000000")
	in(func(tx session.Tx) error { return tx.InsertSession(ctx, sess, hash) })
	at := t0.Add(time.Minute)
	in(func(tx session.Tx) error { return tx.SetReauth(ctx, sess.ID, at) })
	if got, _, err := h.Store.ReadSession(ctx, hash); err != nil || !got.ReauthAt.Equal(at) {
		t.Errorf("ReauthAt after SetReauth: %+v %v", got, err)
	}
	in(func(tx session.Tx) error {
		if _, err := tx.UseFreezeToken(ctx, []byte("no such token"), at); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("UseFreezeToken of no token: %v, want ErrNotFound", err)
		}
		if got, err := tx.CompletedChannelChanges(ctx, a.ID, t0); err != nil || len(got) != 0 {
			t.Errorf("CompletedChannelChanges of an account without any: %v %v", got, err)
		}
		if err := tx.KillAccountSecrets(ctx, a.ID, at); err != nil {
			return err
		}
		if err := tx.SetFrozen(ctx, a.ID, at, "email"); err != nil {
			return err
		}
		got, err := tx.AccountByID(ctx, a.ID)
		if err != nil {
			return err
		}
		if !got.Frozen() || !got.FrozenAt.Equal(at) || got.FrozenTrust != "email" {
			t.Errorf("after SetFrozen: frozen at %v trusting %q", got.FrozenAt, got.FrozenTrust)
		}
		return nil
	})
}
