package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"kilt/internal/password"
	"kilt/internal/sqlstore"
)

// window measures what is compared with the run, just before it and just after it: the
// floor (--floor), the raw Argon2id rate (--argon2), and the database and the server's
// memory (--soak).
type window struct {
	o      *options
	env    *Env
	stderr io.Writer

	floor       *floorServer
	calibrated  *float64 // the server's statements per 2xx, read before the floor (floor.go)
	metrics     []*url.URL
	floorBefore floorRate
	rawBefore   rawRate
	rs256Before rawSignRate
	cores       rawCores // where the raw loops run: the server's cores (--pid)
	soakDB      *sqlstore.DB
	soakStart   SoakSnapshot
}

// before takes the readings before the run.
func (w *window) before(ctx context.Context) error {
	if f, ok := w.o.scenario.(floored); ok && w.o.floor > 0 {
		if err := w.startFloor(ctx, f); err != nil {
			return err
		}
	}
	if w.o.argon2 || w.o.rs256 {
		c, err := serverCores(w.o.pid)
		if err != nil {
			return err
		}
		w.cores = c
	}
	if w.o.argon2 {
		fmt.Fprintf(w.stderr, "measuring the raw Argon2id rate (%s) on cores %s for %v before the run…\n", w.argon2Params(), w.cores, w.o.argon2Time)
		w.rawBefore = measureArgon2(ctx, w.argon2Params(), w.cores, w.o.argon2Time)
	}
	if w.o.rs256 {
		fmt.Fprintf(w.stderr, "measuring the raw RS256 signing rate on cores %s for %v before the run…\n", w.cores, w.o.argon2Time)
		w.rs256Before = measureRS256(ctx, w.cores, w.o.argon2Time)
	}
	if w.o.soak {
		db, err := sqlstore.Open(ctx, w.env.Config.DatabaseURL)
		if err != nil {
			return fmt.Errorf("--soak: %w", err)
		}
		w.soakDB = db
		if w.soakStart, err = w.snapshot(ctx); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// after takes the readings after the run and adds them to res.
func (w *window) after(ctx context.Context, res *Result) error {
	if w.soakDB != nil {
		fmt.Fprintf(w.stderr, "waiting %v for the retention job and the outbox…\n", w.o.settle)
		select {
		case <-time.After(w.o.settle):
		case <-ctx.Done():
			return ctx.Err()
		}
		end, err := w.snapshot(ctx)
		if err != nil {
			return err
		}
		res.Soak = &SoakResult{SettleS: w.o.settle.Seconds(), Start: w.soakStart, End: end}
	}
	if w.o.argon2 && ctx.Err() == nil {
		fmt.Fprintf(w.stderr, "measuring the raw Argon2id rate for %v after the run…\n", w.o.argon2Time)
		res.setArgon2(w.rawBefore, measureArgon2(ctx, w.argon2Params(), w.cores, w.o.argon2Time))
	}
	if w.o.rs256 && ctx.Err() == nil {
		fmt.Fprintf(w.stderr, "measuring the raw RS256 signing rate for %v after the run…\n", w.o.argon2Time)
		res.setRS256(w.rs256Before, measureRS256(ctx, w.cores, w.o.argon2Time))
	}
	if w.floor != nil && ctx.Err() == nil {
		idle(ctx, w.env.HTTP, w.metrics)
		fmt.Fprintf(w.stderr, "measuring the floor for %v after the run…\n", w.o.floor)
		res.setFloor(w.floor, w.calibrated, w.floorBefore, measureFloor(ctx, w.floor, w.env, w.o.concurrency, w.o.floor))
	}
	return ctx.Err()
}

// startFloor calibrates the floor of f (with --metrics and a looping scenario), starts its
// server and measures it before the run, once the server under test is idle.
func (w *window) startFloor(ctx context.Context, f floored) error {
	statements := f.FloorStatements()
	if w.o.metrics != "" {
		w.metrics, _ = parseTargets(w.o.metrics)
	}
	if s, ok := w.o.scenario.(looper); ok && len(w.metrics) > 0 {
		fmt.Fprintf(w.stderr, "calibrating the floor: %s for %v, statements per 2xx read off the server…\n", s.Name(), w.o.floor)
		per, err := calibrate(ctx, s, w.env, w.metrics, w.o.concurrency, w.o.floor)
		if err != nil {
			return fmt.Errorf("calibrating the floor: %w", err)
		}
		w.calibrated, statements = &per, floorStatements(per)
	}
	_, read := f.(readFloored)
	fl, err := startFloor(ctx, w.env.Config.DatabaseURL, statements, read, w.stderr)
	if err != nil {
		return err
	}
	w.floor = fl
	idle(ctx, w.env.HTTP, w.metrics)
	what := "statements a request"
	if read {
		what = "rows read a request"
	}
	fmt.Fprintf(w.stderr, "measuring the floor (%d %s) for %v before the run…\n", statements, what, w.o.floor)
	w.floorBefore = measureFloor(ctx, fl, w.env, w.o.concurrency, w.o.floor)
	return nil
}

func (w *window) argon2Params() password.Params {
	c := w.env.Config
	return password.Params{Memory: c.Argon2Memory, Time: c.Argon2Time, Threads: c.Argon2Threads}
}

// snapshot reads the database's size and rows and the server's RSS (with --pid).
func (w *window) snapshot(ctx context.Context) (SoakSnapshot, error) {
	size, err := w.soakDB.Size(ctx)
	if err != nil {
		return SoakSnapshot{}, fmt.Errorf("--soak: %w", err)
	}
	rows, err := w.soakDB.TableRows(ctx)
	if err != nil {
		return SoakSnapshot{}, fmt.Errorf("--soak: %w", err)
	}
	s := SoakSnapshot{DatabaseMiB: mib(uint64(size)), Rows: rows}
	if w.o.pid > 0 {
		if rss, _, err := procMemory(w.o.pid); err == nil {
			s.RSSMiB = mib(rss)
		}
	}
	return s, nil
}

// close stops the floor and closes the database.
func (w *window) close() {
	if w.floor != nil {
		w.floor.Close()
	}
	if w.soakDB != nil {
		w.soakDB.Close()
	}
}

// code is the exit code of a failed reading.
func (w *window) code(ctx context.Context) int {
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitFailed
}

// parseTargets parses a comma-separated list of --url values.
func parseTargets(raw string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(raw, ",") {
		u, err := parseTarget(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// readAllCounters sums the counters of every metrics URL; nil when one cannot be read.
func readAllCounters(ctx context.Context, client *http.Client, urls []*url.URL) serverCounters {
	if len(urls) == 0 {
		return nil
	}
	sum := serverCounters{}
	for _, u := range urls {
		c, err := readCounters(ctx, client, u.String())
		if err != nil {
			return nil
		}
		for k, v := range c {
			sum[k] += v
		}
	}
	return sum
}

// An expecter is a scenario whose run causes a known number of messages.
type expecter interface {
	Expected(t *tally) int64
}

// drainMessages waits, up to limit, until the sinks have received the messages the run
// caused, then a second more for any sent twice, and counts them.
func drainMessages(ctx context.Context, sc Scenario, env *Env, t *tally, before *SinkUsage, distinct *distinctSet, limit time.Duration) *DeliveryCheck {
	e, ok := sc.(expecter)
	if !ok || env.Mail == nil || distinct == nil {
		return nil
	}
	d := &DeliveryCheck{Expected: e.Expected(t)}
	start := time.Now()
	received := func() int64 { return env.Mail.Messages() - before.Mail.Messages }
	for received() < d.Expected && time.Since(start) < limit && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	d.WaitedS = time.Since(start).Seconds()
	time.Sleep(time.Second)
	d.Received, d.Distinct = received(), distinct.Len()
	return d
}
