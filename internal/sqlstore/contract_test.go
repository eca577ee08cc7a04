package sqlstore

import (
	"testing"

	"kilt/internal/account/accounttest"
	"kilt/internal/recovery/recoverytest"
)

// The contract suites the domain packages export, run on both databases.

func TestAccountStoreContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) { accounttest.Run(t, NewAccounts(db)) })
}

func TestRecoveryStoreContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) { recoverytest.Run(t, NewRecovery(db), NewAccounts(db)) })
}
