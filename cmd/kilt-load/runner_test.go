package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeScenario answers without a network: do(n) for the n-th call (from 0), or the
// outcome of status(n).
type fakeScenario struct {
	calls  atomic.Int64
	status func(ctx context.Context, n int64) (int, error)
	do     func(ctx context.Context, n int64) (Outcome, error)
}

func (*fakeScenario) Name() string                        { return "fake" }
func (*fakeScenario) Summary() string                     { return "" }
func (*fakeScenario) Prepare(context.Context, *Env) error { return nil }
func (f *fakeScenario) Do(ctx context.Context, client int) (Outcome, error) {
	n := f.calls.Add(1) - 1
	if f.do != nil {
		return f.do(ctx, n)
	}
	status, err := f.status(ctx, n)
	return Outcome{Status: status}, err
}

func TestRunLoadCount(t *testing.T) {
	f := &fakeScenario{status: func(_ context.Context, n int64) (int, error) {
		switch n % 4 {
		case 0, 1:
			return 201, nil
		case 2:
			return 503, nil
		}
		return 0, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	}}
	got := runLoad(context.Background(), f, 8, limits{Duration: time.Minute, Count: 100, Timeout: time.Second})
	if got.Requests() != 100 || f.calls.Load() != 100 {
		t.Errorf("recorded %d, called %d times, want 100 and 100", got.Requests(), f.calls.Load())
	}
	if got.Statuses[201] != 50 || got.Statuses[503] != 25 || got.Errors["connection refused"] != 25 {
		t.Errorf("statuses %v, errors %v, want 50×201, 25×503, 25 connection refused", got.Statuses, got.Errors)
	}
	if got.Stopped != stoppedByCount {
		t.Errorf("stopped %q, want %q", got.Stopped, stoppedByCount)
	}
}

// TestRunLoadClassesAndSteps: the classes and steps of the outcomes are tallied apart, a
// class's failures included, and the steps keep their order.
func TestRunLoadClassesAndSteps(t *testing.T) {
	f := &fakeScenario{do: func(_ context.Context, n int64) (Outcome, error) {
		steps := []Step{{"first", time.Millisecond}, {"second", 2 * time.Millisecond}}
		switch n % 3 {
		case 0:
			return Outcome{Status: 202, Class: "known", Steps: steps}, nil
		case 1:
			return Outcome{Status: 429, Class: "unknown", Steps: steps[:1]}, nil
		}
		return Outcome{Class: "unknown"}, fmt.Errorf("dial: %w", syscall.ECONNRESET)
	}}
	got := runLoad(context.Background(), f, 3, limits{Duration: time.Minute, Count: 30, Timeout: time.Second})
	if got.Successes != 10 {
		t.Errorf("successes %d, want 10", got.Successes)
	}
	known, unknown := got.Classes["known"], got.Classes["unknown"]
	if known == nil || unknown == nil || len(got.Classes) != 2 {
		t.Fatalf("classes %v, want known and unknown", got.Classes)
	}
	if len(known.Durations) != 10 || known.Statuses[202] != 10 || known.Errors != 0 {
		t.Errorf("known: %d durations, statuses %v, %d errors; want 10, 10×202, 0", len(known.Durations), known.Statuses, known.Errors)
	}
	if len(unknown.Durations) != 20 || unknown.Statuses[429] != 10 || unknown.Errors != 10 {
		t.Errorf("unknown: %d durations, statuses %v, %d errors; want 20, 10×429, 10", len(unknown.Durations), unknown.Statuses, unknown.Errors)
	}
	if want := []string{"first", "second"}; !slices.Equal(got.StepOrder, want) {
		t.Errorf("step order %v, want %v", got.StepOrder, want)
	}
	if len(got.Steps["first"]) != 20 || len(got.Steps["second"]) != 10 {
		t.Errorf("steps: %d first, %d second; want 20 and 10", len(got.Steps["first"]), len(got.Steps["second"]))
	}
}

// TestRunLoadInterrupt cancels the run while every client waits inside an operation: those
// operations are dropped, the finished ones kept, and the run says it was interrupted.
func TestRunLoadInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const clients, quick = 4, 10
	waiting := make(chan struct{}, clients)
	f := &fakeScenario{status: func(ctx context.Context, n int64) (int, error) {
		if n < quick {
			return 201, nil
		}
		waiting <- struct{}{}
		<-ctx.Done()
		return 0, ctx.Err()
	}}
	go func() {
		for range clients {
			<-waiting
		}
		cancel()
	}()
	got := runLoad(ctx, f, clients, limits{Duration: time.Minute, Timeout: time.Second})
	if got.Requests() != quick || got.Statuses[201] != quick || len(got.Errors) != 0 {
		t.Errorf("recorded %d (statuses %v, errors %v), want the %d finished ones only",
			got.Requests(), got.Statuses, got.Errors, quick)
	}
	if got.Stopped != stoppedByInterrupt {
		t.Errorf("stopped %q, want %q", got.Stopped, stoppedByInterrupt)
	}
}

func TestErrorClass(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", syscall.ECONNREFUSED), "connection refused"},
		{fmt.Errorf("x: %w", syscall.ECONNRESET), "connection reset"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("x: %w", errNotLoopback), "refused: not loopback"},
		{errors.New("something odd"), "something odd"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := errorClass(tt.err); got != tt.want {
				t.Errorf("errorClass(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(*options) error
	}{
		{name: "defaults", args: []string{"login"}, check: func(o *options) error {
			if o.concurrency != 32 || o.accounts != 32 || o.duration != 10*time.Second || o.count != 0 {
				return fmt.Errorf("got %+v", o)
			}
			return nil
		}},
		{name: "count alone runs under the hard cap", args: []string{"--count", "50", "login"}, check: func(o *options) error {
			if o.count != 50 || o.duration != maxDuration {
				return fmt.Errorf("count %d, duration %v, want 50 and %v", o.count, o.duration, maxDuration)
			}
			return nil
		}},
		{name: "flags after the scenario", args: []string{"login", "--concurrency", "4"}, check: func(o *options) error {
			if o.concurrency != 4 || o.accounts != 4 {
				return fmt.Errorf("concurrency %d, accounts %d, want 4 and 4", o.concurrency, o.accounts)
			}
			return nil
		}},
		{name: "full-recovery: 64 accounts per client", args: []string{"--concurrency", "3", "full-recovery"}, check: func(o *options) error {
			if o.accounts != 3*accountsPerClient {
				return fmt.Errorf("accounts %d, want %d", o.accounts, 3*accountsPerClient)
			}
			return nil
		}},
		{name: "full-recovery: --accounts wins", args: []string{"--concurrency", "3", "--accounts", "5", "full-recovery"}, check: func(o *options) error {
			if o.accounts != 5 {
				return fmt.Errorf("accounts %d, want 5", o.accounts)
			}
			return nil
		}},
		{name: "no scenario", args: nil, wantErr: true},
		{name: "unknown scenario", args: []string{"nope"}, wantErr: true},
		{name: "duration over the cap", args: []string{"--duration", "11m", "login"}, wantErr: true},
		{name: "zero concurrency", args: []string{"--concurrency", "0", "login"}, wantErr: true},
		{name: "count over the cap", args: []string{"--count", "10000001", "login"}, wantErr: true},
		{name: "extra argument", args: []string{"login", "more"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args, discard{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseArgs(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if tt.check != nil {
				if err := tt.check(o); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
