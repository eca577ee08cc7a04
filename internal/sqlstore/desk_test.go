package sqlstore

import (
	"context"
	"testing"

	"kilt/internal/desk/desktest"
)

// TestDeskContract runs the desk's store contract on both databases.
func TestDeskContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		desktest.Run(t, NewDesk(db), func(t *testing.T, email, phone string) int64 {
			a := newAccount(email, phone)
			if err := createAccount(context.Background(), db, a, entry(0)); err != nil {
				t.Fatal(err)
			}
			return a.ID
		})
	})
}
