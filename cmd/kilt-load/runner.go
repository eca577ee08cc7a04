package main

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Hard limits: whatever the flags say, a run ends by itself.
const (
	maxDuration = 10 * time.Minute
	maxCount    = 10_000_000
	// stopGrace is how long after its time is up a run waits for operations in flight
	// (beyond their own timeout) before it cuts them off.
	stopGrace = 5 * time.Second
)

// limits say when a run ends: when Duration has passed or Count operations have been
// started, whichever comes first (Count 0: no count). Timeout bounds each HTTP request.
type limits struct {
	Duration time.Duration
	Count    int64
	Timeout  time.Duration
}

// Stop reasons of a run.
const (
	stoppedByDuration  = "duration reached"
	stoppedByCount     = "count reached"
	stoppedByInterrupt = "interrupted"
	stoppedByHardCap   = "operations in flight cut off at the hard cap"
	stoppedByReceived  = "every message received"
)

// tally is what a run recorded.
type tally struct {
	Wall      time.Duration
	Durations []time.Duration // one per recorded operation, any outcome
	Statuses  map[int]int64   // by HTTP status
	Errors    map[string]int64
	// Successes counts the operations that did their work: the 2xx answers, or what a
	// measurer counts as done.
	Successes int64
	// Classes and Steps hold what the outcomes said, when they said it (see Outcome).
	Classes map[string]*classTally
	Steps   map[string][]time.Duration
	// StepOrder lists the step names in the order they were first seen.
	StepOrder []string
	Stopped   string
}

// classTally is what the operations of one class recorded.
type classTally struct {
	Durations []time.Duration
	Statuses  map[int]int64
	Errors    int64
}

func newTally() *tally {
	return &tally{Statuses: map[int]int64{}, Errors: map[string]int64{}, Classes: map[string]*classTally{},
		Steps: map[string][]time.Duration{}}
}

// Requests returns the number of recorded operations.
func (t *tally) Requests() int64 { return int64(len(t.Durations)) }

// record adds one finished operation: its outcome o, its duration d and its error.
func (t *tally) record(o Outcome, d time.Duration, err error) {
	t.Durations = append(t.Durations, d)
	if err != nil {
		t.addError(err)
	} else {
		t.Statuses[o.Status]++
		if o.Status >= 200 && o.Status < 300 {
			t.Successes++
		}
	}
	if o.Class != "" {
		c := t.class(o.Class)
		c.Durations = append(c.Durations, d)
		if err != nil {
			c.Errors++
		} else {
			c.Statuses[o.Status]++
		}
	}
	for _, s := range o.Steps {
		t.addStep(s.Name, s.Duration)
	}
}

func (t *tally) class(name string) *classTally {
	c, ok := t.Classes[name]
	if !ok {
		c = &classTally{Statuses: map[int]int64{}}
		t.Classes[name] = c
	}
	return c
}

func (t *tally) addStep(name string, ds ...time.Duration) {
	if _, ok := t.Steps[name]; !ok {
		t.StepOrder = append(t.StepOrder, name)
	}
	t.Steps[name] = append(t.Steps[name], ds...)
}

// merge adds everything p recorded to t.
func (t *tally) merge(p *tally) {
	t.Durations = append(t.Durations, p.Durations...)
	for k, v := range p.Statuses {
		t.Statuses[k] += v
	}
	for k, v := range p.Errors {
		t.Errors[k] += v
	}
	t.Successes += p.Successes
	for name, pc := range p.Classes {
		c := t.class(name)
		c.Durations = append(c.Durations, pc.Durations...)
		for k, v := range pc.Statuses {
			c.Statuses[k] += v
		}
		c.Errors += pc.Errors
	}
	for _, name := range p.StepOrder {
		t.addStep(name, p.Steps[name]...)
	}
}

// runLoad runs s with the given number of clients until lim says stop or ctx ends (Ctrl-C).
// Every client calls s.Do in a loop; each call is timed from before it starts to after it
// returns. An operation cut off by ctx or the hard cap is not recorded: its time and
// outcome would be the tool's, not the server's. The run's wall time runs from the moment
// every client is released to the end of the last operation.
func runLoad(ctx context.Context, s looper, clients int, lim limits) *tally {
	opCtx, cancel := context.WithTimeout(ctx, lim.Duration+lim.Timeout+stopGrace)
	defer cancel()

	var (
		started atomic.Int64
		cut     atomic.Bool
		countOK atomic.Bool
		wg      sync.WaitGroup
		release = make(chan struct{})
		parts   = make([]*tally, clients)
	)
	var deadline time.Time
	for i := range clients {
		part := newTally()
		parts[i] = part
		wg.Go(func() {
			<-release
			for {
				if ctx.Err() != nil || !time.Now().Before(deadline) {
					return
				}
				if lim.Count > 0 && started.Add(1) > lim.Count {
					countOK.Store(true)
					return
				}
				t0 := time.Now()
				o, err := s.Do(opCtx, i)
				d := time.Since(t0)
				if err != nil && opCtx.Err() != nil {
					cut.Store(true)
					return
				}
				part.record(o, d, err)
			}
		})
	}
	start := time.Now()
	deadline = start.Add(lim.Duration)
	close(release)
	wg.Wait()

	t := newTally()
	t.Wall = time.Since(start)
	for _, p := range parts {
		t.merge(p)
	}
	switch {
	case ctx.Err() != nil:
		t.Stopped = stoppedByInterrupt
	case cut.Load():
		t.Stopped = stoppedByHardCap
	case countOK.Load():
		t.Stopped = stoppedByCount
	default:
		t.Stopped = stoppedByDuration
	}
	return t
}

// maxErrorClasses bounds the distinct error texts a client keeps; the rest count as other.
const maxErrorClasses = 20

func (t *tally) addError(err error) {
	c := errorClass(err)
	if _, ok := t.Errors[c]; !ok && len(t.Errors) >= maxErrorClasses {
		c = "other"
	}
	t.Errors[c]++
}

// errorClass names a transport error briefly, so that a thousand refused connections are
// one line of the report.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errNotLoopback):
		return "refused: not loopback"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by server"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return msg
}
