package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"kilt/internal/ratelimit"
)

// takeLimits applies checks in the transaction tx: it reads the state of each key, lets
// ratelimit.Apply decide, and writes the new states only when every check allows. On
// PostgreSQL the rows are made first and locked, so concurrent requests of one key are
// decided one after the other.
func takeLimits(ctx context.Context, tx *Tx, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	var live []ratelimit.Check
	for _, c := range checks {
		if c.Limit.Enabled() {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return ratelimit.Result{Allowed: true}, nil
	}
	states := make([]time.Time, len(live))
	for i, c := range live {
		if tx.Dialect() == Postgres {
			if _, err := tx.Exec(ctx, `INSERT INTO rate_limits (name, key, tat) VALUES ($1, $2, $3)
				ON CONFLICT (name, key) DO NOTHING`, c.Limit.Name, c.Key, time.Unix(0, 0)); err != nil {
				return ratelimit.Result{}, err
			}
		}
		err := tx.QueryRow(ctx, `SELECT tat FROM rate_limits WHERE name = $1 AND key = $2`+forUpdate[tx.Dialect()],
			c.Limit.Name, c.Key).Scan(TimeCol(&states[i]))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return ratelimit.Result{}, err
		}
	}
	res, next := ratelimit.Apply(live, states, now)
	for i, c := range live {
		if next == nil {
			break
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rate_limits (name, key, tat) VALUES ($1, $2, $3)
			ON CONFLICT (name, key) DO UPDATE SET tat = excluded.tat`, c.Limit.Name, c.Key, next[i]); err != nil {
			return ratelimit.Result{}, err
		}
	}
	return res, nil
}

// RateLimits implements ratelimit.Store.
type RateLimits struct{ db *DB }

// NewRateLimits returns the rate-limit store on db.
func NewRateLimits(db *DB) *RateLimits { return &RateLimits{db: db} }

var _ ratelimit.Store = (*RateLimits)(nil)

// Take implements ratelimit.Store.
func (s *RateLimits) Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	var res ratelimit.Result
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		res, err = takeLimits(ctx, tx, checks, now)
		return err
	})
	return res, err
}
