// Package ratelimit decides whether an action keyed by a client IP, an identifier or an
// account may happen now. Each limit allows Count actions per Period with a burst of up to
// Count, by the generic cell rate algorithm (GCRA): the state of a key is one time, its
// "theoretical arrival time", so a check is one read and one write of one row. The store
// keeps that time in the database, so limits hold across instances.
package ratelimit

import (
	"context"
	"time"

	"kilt"
)

// Limit is a rate: at most Count actions in any Period, all of them at once if need be.
type Limit struct {
	// Name identifies the limit in storage and metrics ("recovery_ip", "sms_number_hour").
	Name   string
	Count  int
	Period time.Duration
}

// Enabled reports whether the limit limits anything (a zero Count switches it off).
func (l Limit) Enabled() bool { return l.Count > 0 && l.Period > 0 }

// interval is the time one action uses up.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Count) }

// Decide applies one action to the state tat of a key at now. It returns the new state and,
// when the action is refused, how long until one would be allowed; a refused action leaves
// the state as it was.
func (l Limit) Decide(tat, now time.Time) (next time.Time, allowed bool, retryAfter time.Duration) {
	if !l.Enabled() {
		return tat, true, 0
	}
	if tat.Before(now) {
		tat = now
	}
	next = tat.Add(l.interval())
	if over := next.Sub(now) - l.Period; over > 0 {
		return tat, false, over
	}
	return next, true, 0
}

// Check is one limit applied to one key.
type Check struct {
	Limit Limit
	Key   string
}

// Result is the outcome of a set of checks taken together.
type Result struct {
	Allowed bool
	// RetryAfter is the longest wait among the refusing limits.
	RetryAfter time.Duration
	// Refused names the limits that refused.
	Refused []string
}

// Store applies checks atomically: either every check allows and all their states advance,
// or the action is refused and no state changes (a refused action does not use up budget).
type Store interface {
	Take(ctx context.Context, checks []Check, now time.Time) (Result, error)
}

// Apply is what stores call inside their transaction: given the current states of the
// checks' keys (zero time for a key never seen), it decides and returns the states to
// write (only when allowed).
func Apply(checks []Check, states []time.Time, now time.Time) (Result, []time.Time) {
	res := Result{Allowed: true}
	next := make([]time.Time, len(checks))
	for i, c := range checks {
		n, ok, wait := c.Limit.Decide(states[i], now)
		next[i] = n
		if !ok {
			res.Allowed = false
			res.Refused = append(res.Refused, c.Limit.Name)
			res.RetryAfter = max(res.RetryAfter, wait)
		}
	}
	if !res.Allowed {
		return res, nil
	}
	return res, next
}

// identifierLabel is the label of the key that hashes identifiers in limit keys.
const identifierLabel = "rate-limit"

// IdentifierKey derives from the server secret the key that hashes an identifier (an
// address, a number) into a limit key, so that the limits table holds none. Every flow
// derives it here: one identifier has one key whichever flow limits it, and a per-number
// budget spent by one flow counts in the others.
func IdentifierKey(secret []byte) []byte { return kilt.DeriveKey(secret, identifierLabel) }
