package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"kilt/internal/ratelimit"
)

// takeLimits applies checks in the transaction tx: it reads the state of each key, lets
// ratelimit.Apply decide, and writes the new states only when every check allows. Whatever
// the number of checks, that is one read and at most one write: two statements, two round
// trips. On PostgreSQL the read makes the missing rows and locks them all (an upsert whose
// update changes nothing, returning the rows), so concurrent requests of one key are decided
// one after the other, and always in the order of (name, key), so that two requests sharing
// keys never wait for each other in a cycle. The checks' (name, key) pairs must be distinct.
func takeLimits(ctx context.Context, tx *Tx, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	live := checks // a copy only when some limit is off
	if slices.ContainsFunc(checks, func(c ratelimit.Check) bool { return !c.Limit.Enabled() }) {
		live = nil
		for _, c := range checks {
			if c.Limit.Enabled() {
				live = append(live, c)
			}
		}
	}
	if len(live) == 0 {
		return ratelimit.Result{Allowed: true}, nil
	}
	// The statements name the keys in the order of (name, key): order[j] is the index in
	// live of the j-th key in that order.
	var order1 [4]int
	order := order1[:0]
	for i := range live {
		order = append(order, i)
	}
	if len(order) > 1 {
		slices.SortFunc(order, func(a, b int) int {
			return cmp.Or(strings.Compare(live[a].Limit.Name, live[b].Limit.Name), strings.Compare(live[a].Key, live[b].Key))
		})
	}
	// Each name and key is boxed once, for the read and the write both.
	perKey := 2
	if tx.Dialect() == Postgres {
		perKey = 3 // the read makes the missing rows: each key with the zero state
	}
	keys := make([]any, 0, perKey*len(order))
	for j, i := range order {
		c := live[i]
		if j > 0 {
			if p := live[order[j-1]]; c.Limit.Name == p.Limit.Name && c.Key == p.Key {
				return ratelimit.Result{}, fmt.Errorf("sqlstore: limit %s checked twice for one key", c.Limit.Name)
			}
		}
		keys = append(keys, c.Limit.Name, c.Key)
		if perKey == 3 {
			keys = append(keys, time.Unix(0, 0))
		}
	}
	q := limitQueries(tx.Dialect(), len(order))
	rows, err := tx.Query(ctx, q.read, keys...)
	if err != nil {
		return ratelimit.Result{}, err
	}
	states := make([]time.Time, len(live))
	var name, key string
	var tat time.Time
	for rows.Next() {
		if err := rows.Scan(&name, &key, TimeCol(&tat)); err != nil {
			rows.Close()
			return ratelimit.Result{}, err
		}
		for i, c := range live {
			if c.Limit.Name == name && c.Key == key {
				states[i] = tat
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ratelimit.Result{}, err
	}
	res, next := ratelimit.Apply(live, states, now)
	if next == nil {
		return res, nil
	}
	args := make([]any, 0, 3*len(order))
	for j, i := range order {
		args = append(args, keys[perKey*j], keys[perKey*j+1], next[i])
	}
	if _, err := tx.Exec(ctx, q.write, args...); err != nil {
		return ratelimit.Result{}, err
	}
	return res, nil
}

// limitStatements are the statements of takeLimits for a number of keys.
type limitStatements struct {
	read  string // the keys' states; on PostgreSQL the missing rows made and all locked
	write string // the new states
}

// limitStatementsCache holds limitQueries's answers by dialect and number of keys.
var limitStatementsCache sync.Map // [2]int{dialect, n} → limitStatements

// limitQueries returns the statements of takeLimits for n keys on dialect d.
func limitQueries(d Dialect, n int) limitStatements {
	k := [2]int{int(d), n}
	if v, ok := limitStatementsCache.Load(k); ok {
		return v.(limitStatements)
	}
	var match, values strings.Builder
	for i := range n {
		if i > 0 {
			match.WriteString(" OR ")
			values.WriteString(", ")
		}
		fmt.Fprintf(&match, "(name = $%d AND key = $%d)", 2*i+1, 2*i+2)
		fmt.Fprintf(&values, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
	}
	q := limitStatements{
		read:  `SELECT name, key, tat FROM rate_limits WHERE ` + match.String(),
		write: `INSERT INTO rate_limits (name, key, tat) VALUES ` + values.String() + ` ON CONFLICT (name, key) DO UPDATE SET tat = excluded.tat`,
	}
	if d == Postgres {
		// The rows are locked in the order of VALUES, which is that of (name, key).
		q.read = `INSERT INTO rate_limits (name, key, tat) VALUES ` + values.String() +
			` ON CONFLICT (name, key) DO UPDATE SET tat = rate_limits.tat RETURNING name, key, tat`
	}
	limitStatementsCache.Store(k, q)
	return q
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
