package sqlstore

import (
	"context"
	"time"
)

// The wrong SMS codes of a number, counted under a keyed hash of it (code_failures): one
// table and one set of statements for recovery.Tx and account.Tx, which count under keys of
// their own.

func addCodeFailure(ctx context.Context, tx *Tx, key string, accountID int64, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO code_failures (key, account_id, at) VALUES ($1, $2, $3)`, key, nullID(accountID), at)
	return err
}

func countCodeFailures(ctx context.Context, tx *Tx, key string, since time.Time) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM code_failures WHERE key = $1 AND at > $2`, key, since).Scan(&n)
	return n, err
}

// codeFailureTimes returns the times of key's failures after since, newest first.
func codeFailureTimes(ctx context.Context, tx *Tx, key string, since time.Time) ([]time.Time, error) {
	rows, err := tx.Query(ctx, `SELECT at FROM code_failures WHERE key = $1 AND at > $2 ORDER BY at DESC`, key, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var times []time.Time
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(TimeCol(&at)); err != nil {
			return nil, err
		}
		times = append(times, at)
	}
	return times, rows.Err()
}

func pruneCodeFailures(ctx context.Context, tx *Tx, key string, before time.Time) error {
	_, err := tx.Exec(ctx, `DELETE FROM code_failures WHERE key = $1 AND at <= $2`, key, before)
	return err
}

// AddCodeFailure implements account.Tx: a registration's wrong code belongs to its number,
// never to an account.
func (t accountTx) AddCodeFailure(ctx context.Context, key string, at time.Time) error {
	return addCodeFailure(ctx, t.tx, key, 0, at)
}

// CodeFailureTimes implements account.Tx.
func (t accountTx) CodeFailureTimes(ctx context.Context, key string, since time.Time) ([]time.Time, error) {
	return codeFailureTimes(ctx, t.tx, key, since)
}

// PruneCodeFailures implements account.Tx.
func (t accountTx) PruneCodeFailures(ctx context.Context, key string, before time.Time) error {
	return pruneCodeFailures(ctx, t.tx, key, before)
}
