// Package retention deletes the rows Kilt no longer needs: expired sessions, links, flows
// and registrations (which hold password hashes), old failure counters, rate-limit states
// that say nothing any more, and sent messages. Nothing here deletes the audit trail,
// accounts or password history.
//
// The store lists its tables, each with a Class that says how long its rows are kept past
// their time; the Job prunes every table in short batches, at an interval, and reports the
// rows deleted per table. Several instances may run it at once: a batch deletes rows no
// other batch is deleting (the store's business), and a row deleted by one is simply not
// there for the other, so every row is deleted, and counted, once.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Class says how long a table's rows are kept past the time in their time column.
type Class string

// The classes. Config.Ages gives each its age.
const (
	// Expired rows carry their own end (a session's, a link's, a flow's, a registration's
	// expires_at); they are kept this long past it, for support questions and so that a
	// just-expired link still answers "expired" and not "unknown" (the same message anyway).
	Expired Class = "expired"
	// Counter rows are failures counted over a window (wrong codes over 24 h, the sign-in
	// slow-down forgotten after 24 h); their age must not be shorter than that window.
	Counter Class = "counter"
	// Message rows are delivered, blocked or abandoned outbox messages (their secret part is
	// already gone) and the days of the SMS budget: kept for the operator's questions.
	Message Class = "message"
	// Audit rows are the audit trail: kept a long time (a year by default) for the
	// operator's and the citizen's questions, then deleted so that the trail, which every
	// anonymous recovery request adds to, does not grow without bound.
	Audit Class = "audit"
	// Void rows say nothing once their time has passed (a rate-limit state whose theoretical
	// arrival time is in the past is the same as no state): deleted at once, age 0.
	Void Class = "void"
)

// Table is one table the store prunes.
type Table struct {
	// Name is the table's name, also the metric label.
	Name  string
	Class Class
}

// Store deletes expired rows. It is the package's port; sqlstore implements it.
type Store interface {
	// Tables lists the tables Prune knows.
	Tables() []Table
	// Prune deletes at most limit rows of the table whose time is before cutoff, in one
	// short transaction, and returns how many it deleted. It returns 0 without waiting when
	// another instance holds the rows (or the table's pruning lock) at that moment.
	Prune(ctx context.Context, table string, cutoff time.Time, limit int) (int, error)
}

// Config configures the Job.
type Config struct {
	// Interval is the time between two rounds; 0 turns the job off.
	Interval time.Duration
	// Batch is how many rows one delete removes at most; 0 means DefaultBatch. A small
	// batch holds its locks for a short time.
	Batch int
	// Ages is how long past its time a row of each class is kept. A class absent from the
	// map is not pruned (Void is always pruned at age 0).
	Ages map[Class]time.Duration
}

// DefaultBatch is the default number of rows per delete.
const DefaultBatch = 500

// DefaultAges are the ages of the classes unless configured.
func DefaultAges() map[Class]time.Duration {
	return map[Class]time.Duration{Expired: 24 * time.Hour, Counter: 48 * time.Hour, Message: 30 * 24 * time.Hour,
		Audit: 365 * 24 * time.Hour}
}

// Job prunes the store's tables.
type Job struct {
	store     Store
	clock     func() time.Time
	cfg       Config
	log       *slog.Logger
	onDeleted func(table string, n int)
}

// New returns a job on store. onDeleted, when set, is told how many rows of a table each
// batch deleted (metrics).
func New(store Store, clock func() time.Time, cfg Config, log *slog.Logger, onDeleted func(table string, n int)) *Job {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if log == nil {
		log = slog.Default()
	}
	return &Job{store: store, clock: clock, cfg: cfg, log: log, onDeleted: onDeleted}
}

// cutoff is the time before which the rows of class c go, and whether c is pruned at all.
func (j *Job) cutoff(c Class, now time.Time) (time.Time, bool) {
	if c == Void {
		return now, true
	}
	age, ok := j.cfg.Ages[c]
	if !ok || age < 0 {
		return time.Time{}, false
	}
	return now.Add(-age), true
}

// RunOnce prunes every table: batch after batch until one comes back short. It returns the
// rows deleted per table, and the first error met (a table that fails does not stop the
// others).
func (j *Job) RunOnce(ctx context.Context) (map[string]int, error) {
	now := j.clock()
	deleted := map[string]int{}
	var first error
	for _, t := range j.store.Tables() {
		cutoff, ok := j.cutoff(t.Class, now)
		if !ok {
			continue
		}
		for {
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
			n, err := j.store.Prune(ctx, t.Name, cutoff, j.cfg.Batch)
			if err != nil {
				if first == nil {
					first = fmt.Errorf("retention: %s: %w", t.Name, err)
				}
				break
			}
			deleted[t.Name] += n
			if n > 0 && j.onDeleted != nil {
				j.onDeleted(t.Name, n)
			}
			if n < j.cfg.Batch {
				break
			}
		}
	}
	return deleted, first
}

// Run prunes at once and then every Interval until ctx ends; it returns when the round in
// hand has stopped. With Interval 0 it returns at once.
func (j *Job) Run(ctx context.Context) {
	if j.cfg.Interval <= 0 {
		return
	}
	t := time.NewTicker(j.cfg.Interval)
	defer t.Stop()
	for {
		deleted, err := j.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			j.log.Error("retention: pruning failed", "err", err)
		}
		total := 0
		for _, n := range deleted {
			total += n
		}
		if total > 0 {
			j.log.Info("retention: rows deleted", "rows", total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
