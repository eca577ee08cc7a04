package accounttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kilt"
	"kilt/internal/account"
)

// testChannels: channel changes round-trip, a pending change ends and a completed one stays,
// SetChannel refuses another account's identifier and clears one; freeze tokens are stored
// and a freeze lifted.
func testChannels(t *testing.T, s account.Store) {
	ctx := context.Background()
	a := NewAccount("chan@mail.kz", "")
	Insert(t, s, a)
	b := NewAccount("", "+77029876543")
	Insert(t, s, b)
	phone := account.ChannelChange{ID: "chg-phone", AccountID: a.ID, Kind: account.ChannelPhone, Value: "+77021112233",
		CodeMAC: []byte("mac"), Lang: "kk", CreatedAt: T0, SentAt: T0, ExpiresAt: T0.Add(10 * time.Minute)}
	email := account.ChannelChange{ID: "chg-email", AccountID: a.ID, Kind: account.ChannelEmail, Value: "new@mail.kz",
		TokenHash: []byte("token-hash"), Lang: "ru", CreatedAt: T0, SentAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	done := account.ChannelChange{ID: "chg-done", AccountID: a.ID, Kind: account.ChannelEmail, OldValue: "old@mail.kz",
		OldVerified: true, CreatedAt: T0, SentAt: T0, CompletedAt: T0, ExpiresAt: T0.Add(account.RevertWindow)}
	err := s.InTx(ctx, func(tx account.Tx) error {
		for _, c := range []account.ChannelChange{phone, email, done} {
			if err := tx.InsertChannelChange(ctx, c); err != nil {
				return err
			}
		}
		got, err := tx.ChannelChange(ctx, "chg-phone")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(phone, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		if got, err := tx.ChannelChangeByToken(ctx, []byte("token-hash")); err != nil || got.ID != "chg-email" {
			t.Errorf("by token: %+v %v", got, err)
		}
		if _, err := tx.ChannelChange(ctx, "nope"); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("unknown change: %v, want ErrNotFound", err)
		}
		phone.Attempts, phone.SentAt = 2, T0.Add(time.Minute)
		if err := tx.UpdateChannelChange(ctx, phone); err != nil {
			return err
		}
		if got, _ := tx.ChannelChange(ctx, "chg-phone"); got.Attempts != 2 || !got.SentAt.Equal(phone.SentAt) {
			t.Errorf("after update: %+v", got)
		}
		if got, err := tx.PendingChannelChange(ctx, a.ID, T0); err != nil || got.CompletedAt != (time.Time{}) {
			t.Errorf("PendingChannelChange: %+v %v", got, err)
		}
		now := T0.Add(2 * time.Minute)
		if err := tx.EndChannelChanges(ctx, a.ID, now); err != nil {
			return err
		}
		if _, err := tx.PendingChannelChange(ctx, a.ID, now); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("PendingChannelChange after EndChannelChanges: %v, want ErrNotFound", err)
		}
		for _, id := range []string{"chg-phone", "chg-email"} {
			if got, _ := tx.ChannelChange(ctx, id); got.CodeMAC != nil || got.TokenHash != nil || !got.ExpiresAt.Equal(now) || got.Pending(now) {
				t.Errorf("%s after EndChannelChanges: %+v", id, got)
			}
		}
		if got, _ := tx.ChannelChange(ctx, "chg-done"); !got.ExpiresAt.Equal(done.ExpiresAt) {
			t.Errorf("EndChannelChanges touched a completed change: %+v", got)
		}
		if err := tx.SetChannel(ctx, a.ID, account.ChannelPhone, "+77021112233", true, now); err != nil {
			return err
		}
		if got, _ := tx.AccountByPhone(ctx, "+77021112233"); got == nil || got.ID != a.ID || !got.PhoneVerified {
			t.Errorf("SetChannel phone: %+v", got)
		}
		if err := tx.SetChannel(ctx, a.ID, account.ChannelEmail, "", false, now); err != nil {
			return err
		}
		if _, err := tx.AccountByEmail(ctx, account.EmailKey("chan@mail.kz")); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("the cleared address still names the account: %v", err)
		}
		if err := tx.InsertFreezeToken(ctx, []byte("freeze-hash"), account.FreezeToken{AccountID: a.ID, Event: "password_changed",
			Channels: "email phone", CreatedAt: T0, ExpiresAt: T0.Add(account.FreezeLifetime)}); err != nil {
			return err
		}
		if _, err := tx.TokenPurpose(ctx, []byte("no such token")); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("TokenPurpose of no token: %v", err)
		}
		return tx.Unfreeze(ctx, a.ID, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another account's identifier is a conflict (in a transaction of its own: on
	// PostgreSQL a failed statement ends the transaction).
	err = s.InTx(ctx, func(tx account.Tx) error {
		return tx.SetChannel(ctx, a.ID, account.ChannelPhone, "+77029876543", true, T0)
	})
	if kilt.ErrorKind(err) != kilt.KindConflict {
		t.Errorf("SetChannel to another account's number: %v, want a conflict", err)
	}
}
