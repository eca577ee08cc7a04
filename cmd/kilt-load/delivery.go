package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kilt/internal/outbox"
	"kilt/internal/sqlstore"
)

// delivery measures how fast the running server's outbox hands e-mails to an SMTP server
// (target: at least 500 a second, connections reused; docs/performance.md). The tool writes N e-mails straight
// into the outbox table (N is --count, 5,000 by default) and its SMTP sink times their
// arrival; the rate is the messages received over the time from the first to the last.
// The server's KILT_OUTBOX_WORKERS sets how many it sends at once; --concurrency here only
// sets how many goroutines write the messages.
//
// The messages are written due at one instant a little after the writing is expected to
// end, so that the server finds them all waiting at once and the rate is its own, not the
// tool's writing. The server's dispatcher polls for messages other processes wrote (once a
// second), so the first arrives up to a second after they fall due; that wait is reported
// but not in the rate. Each message's latency is from the instant it fell due to its
// arrival. Every run's messages carry a run ID in their recipient, so that messages left
// over from an earlier run, which the server may still be sending, are not counted.
//
// --duration bounds the wait from the instant the messages fall due; messages not received
// by then stay in the outbox and the server keeps sending them (to a sink that is gone, so
// it retries with backoff and finally abandons them).
type delivery struct {
	env    *Env
	n      int
	prefix string
	due    time.Time
	notes  []Note

	mu       sync.Mutex
	arrivals []time.Time
	all      chan struct{} // closed when n messages arrived
}

// deliveryDefault is the number of e-mails without --count: 10 s at the target rate.
const deliveryDefault = 5000

func (*delivery) Name() string { return "delivery" }

func (*delivery) Summary() string {
	return "time the server's outbox sending e-mails written into it to the tool's SMTP sink; --count e-mails (default 5000); needs --database"
}

func (*delivery) Unit() string { return "messages" }

func (*delivery) Sinks() (mail, sms bool) { return true, false }

func (*delivery) Requirements(a sinkAddrs) []requirement {
	return []requirement{needMailSink(a.Mail, "the e-mails go elsewhere and the tool sees none of them")}
}

// Prepare writes the e-mails into the outbox, due once the writing is expected to be done.
func (d *delivery) Prepare(ctx context.Context, env *Env) error {
	if !env.HasDatabase {
		return errors.New("the delivery scenario writes its e-mails into the outbox: give --database (the server's KILT_DATABASE_URL)")
	}
	d.env = env
	d.n = deliveryDefault
	if env.Count > 0 {
		d.n = int(env.Count)
	}
	db, err := sqlstore.Open(ctx, env.Config.DatabaseURL)
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer db.Close()
	if ok, err := db.MigrationsCurrent(ctx); err != nil {
		return fmt.Errorf("reading the database's migrations: %w", err)
	} else if !ok {
		return errors.New("the database's migrations are not current: start kilt on it first")
	}

	var run [6]byte
	_, _ = rand.Read(run[:])
	d.prefix = "delivery-" + hex.EncodeToString(run[:]) + "-"
	d.all = make(chan struct{})
	env.Mail.Watch(d.arrived)

	start := time.Now()
	d.due = start.Add(writeTime(d.n)).UTC().Truncate(time.Microsecond)
	if err := d.enqueue(ctx, sqlstore.NewOutbox(db)); err != nil {
		return err
	}
	took := time.Since(start)
	d.notes = append(d.notes, Note{Name: "e-mails written", Value: fmt.Sprintf("%d in %.2f s (%.0f /s), due %.2f s after the first",
		d.n, took.Seconds(), float64(d.n)/took.Seconds(), d.due.Sub(start).Seconds())})
	fmt.Fprintf(env.Log, "outbox: %d e-mails written in %v; due at %s\n", d.n, took.Round(time.Millisecond), d.due.Local().Format("15:04:05.000"))
	if time.Now().After(d.due) {
		fmt.Fprintf(env.Log, "warning: writing the e-mails took longer than planned: the server began sending before the last "+
			"was written, and the rate may be the writing's; measure with fewer (--count)\n")
	}
	return nil
}

// writeTime is the time allowed for writing n messages: a second, and 0.5 ms each (the
// outbox takes a few thousand single-row transactions a second on SQLite).
func writeTime(n int) time.Duration { return time.Second + time.Duration(n)*500*time.Microsecond }

// enqueue writes the n messages with as many goroutines as clients (at most 16: on SQLite
// the writes take turns anyway).
func (d *delivery) enqueue(ctx context.Context, store *sqlstore.Outbox) error {
	// A password-changed notice as Kilt writes one: its freeze link is the secret part.
	var notice outbox.Message
	notice.SetPayload(outbox.PasswordChangedPayload{Time: d.due, RecoveryURL: "https://kilt.test/recovery",
		FreezeURL: "https://kilt.test/freeze?token=load-run-freeze-token-0000000000000000000"})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	for range min(d.env.Clients, 16) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= d.n {
					return
				}
				m := &outbox.Message{Channel: outbox.Email, Kind: outbox.PasswordChanged, Lang: "kk",
					To: fmt.Sprintf("%s%d@load.kilt.test", d.prefix, i), Params: notice.Params, Secret: notice.Secret, CreatedAt: d.due}
				if err := store.Enqueue(ctx, m); err != nil {
					once.Do(func() { first = fmt.Errorf("writing e-mail %d into the outbox: %w", i, err); cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// arrived is the mail sink's watch: it keeps the arrival time of each of this run's
// messages.
func (d *delivery) arrived(to []string, at time.Time) {
	if !slices.ContainsFunc(to, func(a string) bool { return strings.HasPrefix(a, d.prefix) }) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.arrivals) >= d.n {
		return // a repeat: the server sent one again after losing the answer
	}
	d.arrivals = append(d.arrivals, at)
	if len(d.arrivals) == d.n {
		close(d.all)
	}
}

// Measure waits until every message arrived, the run's duration passed after they fell
// due, or ctx ends, and returns the tally: the received messages as operations, each with
// its time from due to arrival; the run's time from the first arrival to the last.
func (d *delivery) Measure(ctx context.Context, lim limits) *tally {
	t := newTally()
	timer := time.NewTimer(time.Until(d.due.Add(lim.Duration)))
	defer timer.Stop()
	select {
	case <-d.all:
		t.Stopped = stoppedByReceived
	case <-timer.C:
		t.Stopped = stoppedByDuration
	case <-ctx.Done():
		t.Stopped = stoppedByInterrupt
	}
	d.env.Mail.Watch(nil)
	d.mu.Lock()
	arrivals := slices.Clone(d.arrivals)
	d.mu.Unlock()
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	for _, at := range arrivals {
		t.Durations = append(t.Durations, at.Sub(d.due))
	}
	t.Successes = int64(len(arrivals))
	received := fmt.Sprintf("%d of %d", len(arrivals), d.n)
	if len(arrivals) > 0 {
		t.Wall = arrivals[len(arrivals)-1].Sub(arrivals[0])
		received += fmt.Sprintf("; the first %.0f ms after they fell due (the server polls for them every second)",
			ms(arrivals[0].Sub(d.due)))
	}
	d.notes = append(d.notes, Note{Name: "e-mails received", Value: received})
	return t
}

// Notes returns the writing's and the arrivals' figures.
func (d *delivery) Notes() []Note { return d.notes }
