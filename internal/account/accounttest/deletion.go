package accounttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
)

// testDeletion: a deletion is recorded once per account; its cancel hash is single use and
// dies when the deletion is due; due deletions are claimed, and an erased account keeps its
// id and nothing that names it.
func testDeletion(t *testing.T, s account.Store) {
	ctx := context.Background()
	a := NewAccount("deleted@mail.kz", "+77019998877")
	Insert(t, s, a)
	due := T0.Add(14 * 24 * time.Hour)
	hash := kilt.HashToken("cancel-token")
	in := func(fn func(tx account.Tx) error) {
		t.Helper()
		if err := s.InTx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	in(func(tx account.Tx) error {
		return tx.InsertDeletion(ctx, account.Deletion{AccountID: a.ID, RequestedAt: T0, DueAt: due}, hash)
	})
	if d, err := s.DeletionOf(ctx, a.ID); err != nil || !d.Pending() || !d.DueAt.Equal(due) {
		t.Errorf("DeletionOf outside a transaction: got %+v, %v", d, err)
	}
	if _, err := s.DeletionOf(ctx, a.ID+1000); !errors.Is(err, kilt.ErrNotFound) {
		t.Errorf("DeletionOf of an account without one: %v, want not found", err)
	}
	err := s.InTx(ctx, func(tx account.Tx) error {
		return tx.InsertDeletion(ctx, account.Deletion{AccountID: a.ID, RequestedAt: T0, DueAt: due}, kilt.HashToken("other"))
	})
	if kilt.ErrorKind(err) != kilt.KindConflict {
		t.Errorf("a second deletion: got %v, want a conflict", err)
	}
	in(func(tx account.Tx) error {
		d, err := tx.DeletionOf(ctx, a.ID)
		if err != nil || !d.Pending() || !d.DueAt.Equal(due) || !d.RequestedAt.Equal(T0) {
			t.Errorf("DeletionOf: got %+v, %v", d, err)
		}
		if live, err := tx.LiveCancelHash(ctx, hash, due); err != nil || live {
			t.Errorf("the hash when due: live %v, %v; want dead", live, err)
		}
		if live, err := tx.LiveCancelHash(ctx, hash, T0); err != nil || !live {
			t.Errorf("the hash before: live %v, %v; want live", live, err)
		}
		if _, err := tx.CancelDeletionByHash(ctx, hash, due); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("cancel when due: got %v, want not found", err)
		}
		if ids, err := tx.ClaimDueDeletions(ctx, due.Add(-time.Microsecond), 10); err != nil || len(ids) != 0 {
			t.Errorf("claimed before due: %v, %v", ids, err)
		}
		return nil
	})
	in(func(tx account.Tx) error {
		id, err := tx.CancelDeletionByHash(ctx, hash, T0)
		if err != nil || id != a.ID {
			t.Errorf("cancel by hash: got %d, %v", id, err)
		}
		if _, err := tx.CancelDeletionByHash(ctx, hash, T0); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("the hash used twice: got %v, want not found", err)
		}
		if ok, err := tx.CancelDeletion(ctx, a.ID); err != nil || ok {
			t.Errorf("cancel after the cancel: %v, %v", ok, err)
		}
		return tx.InsertDeletion(ctx, account.Deletion{AccountID: a.ID, RequestedAt: T0, DueAt: due}, hash)
	})
	in(func(tx account.Tx) error {
		ids, err := tx.ClaimDueDeletions(ctx, due, 10)
		if err != nil || len(ids) != 1 || ids[0] != a.ID {
			t.Fatalf("claimed when due: %v, %v", ids, err)
		}
		return tx.EraseAccount(ctx, a.ID, due)
	})
	in(func(tx account.Tx) error {
		got, err := tx.AccountByID(ctx, a.ID)
		if err != nil || got.Email != "" || got.Phone != "" || got.PasswordHash != "" || got.EmailVerified || got.PhoneVerified {
			t.Errorf("the erased account: %+v, %v", got, err)
		}
		if _, err := tx.AccountByEmail(ctx, account.EmailKey("deleted@mail.kz")); !errors.Is(err, kilt.ErrNotFound) {
			t.Errorf("the erased account is still found by its address: %v", err)
		}
		d, err := tx.DeletionOf(ctx, a.ID)
		if err != nil || d.Pending() || !d.ErasedAt.Equal(due) {
			t.Errorf("the erased deletion: %+v, %v", d, err)
		}
		if ids, err := tx.ClaimDueDeletions(ctx, due.Add(time.Hour), 10); err != nil || len(ids) != 0 {
			t.Errorf("an erased account is due again: %v, %v", ids, err)
		}
		return nil
	})
	// Its identifiers are free for a new account.
	Insert(t, s, NewAccount("deleted@mail.kz", "+77019998877"))
}
