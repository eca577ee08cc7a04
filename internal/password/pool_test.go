package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"kilt"
)

// waitFor spins until cond holds, failing the test if it does not within a generous bound.
// It yields instead of sleeping: the goroutines it waits for are already runnable.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func TestPoolBoundsConcurrency(t *testing.T) {
	const size, callers = 4, 200
	pool := NewPool(size, time.Minute)
	release := make(chan struct{})
	var running, most atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			errs <- pool.Do(context.Background(), func() {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				<-release
				running.Add(-1)
			})
		})
	}
	// Every slot taken and every other caller queued: the bound is what holds them back.
	waitFor(t, "a full pool", func() bool {
		s := pool.Stats()
		return s.Busy == size && s.Waiting == callers-size
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Do: got %v, want nil", err)
		}
	}
	if got := most.Load(); got != size {
		t.Errorf("most functions running at once: got %d, want %d", got, size)
	}
	s := pool.Stats()
	want := PoolStats{Size: size, MaxBusy: size, Waits: callers - size, Served: callers}
	if s != want {
		t.Errorf("Stats: got %+v, want %+v", s, want)
	}
}

func TestPoolRejectsAfterMaxWait(t *testing.T) {
	const size, callers = 2, 200
	pool := NewPool(size, 20*time.Millisecond)
	release := make(chan struct{})
	var served atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			err := pool.Do(context.Background(), func() {
				served.Add(1)
				<-release
			})
			if err != nil {
				errs <- err
			}
		})
	}
	// The slots stay taken until everyone else has given up.
	waitFor(t, "the waiters to be rejected", func() bool {
		s := pool.Stats()
		return s.Busy == size && s.Rejected == callers-size
	})
	close(release)
	wg.Wait()
	close(errs)
	rejected := 0
	for err := range errs {
		rejected++
		e, ok := kilt.AsError(err)
		if !ok || e.Kind != kilt.KindUnavailable || e.Code != kilt.CodeBusy {
			t.Fatalf("Do: got %v, want a kilt error of kind unavailable, code busy", err)
		}
		if e.RetryAfter < time.Second {
			t.Errorf("RetryAfter: got %v, want at least 1s", e.RetryAfter)
		}
	}
	if rejected == 0 || rejected != callers-size {
		t.Errorf("rejected: got %d, want %d", rejected, callers-size)
	}
	if got := served.Load(); got != size {
		t.Errorf("served: got %d, want %d", got, size)
	}
	if got := pool.Stats().Served; got != size {
		t.Errorf("Stats().Served: got %d, want %d", got, size)
	}
}

func TestPoolContextEnds(t *testing.T) {
	pool := NewPool(1, time.Minute)
	release := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = pool.Do(context.Background(), func() { close(held); <-release })
	}()
	<-held
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- pool.Do(ctx, func() { t.Error("fn ran after its context ended") }) }()
	waitFor(t, "a waiter", func() bool { return pool.Stats().Waiting == 1 })
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do: got %v, want an error wrapping context.Canceled", err)
	}
	if got := kilt.ErrorKind(err); got != kilt.KindUnavailable {
		t.Errorf("kind: got %v, want unavailable", got)
	}
	if err := pool.Do(ctx, func() { t.Error("fn ran with an ended context") }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with an ended context: got %v, want context.Canceled", err)
	}
}

func TestPoolSizeDefaultsToCores(t *testing.T) {
	if got, want := NewPool(0, time.Second).Stats().Size, runtime.NumCPU(); got != want {
		t.Errorf("size: got %d, want %d", got, want)
	}
}

func TestPoolRetryAfter(t *testing.T) {
	tests := []struct {
		name    string
		maxWait time.Duration
		want    time.Duration
	}{
		{name: "no wait", maxWait: 0, want: time.Second},
		{name: "short wait", maxWait: 50 * time.Millisecond, want: time.Second},
		{name: "one second", maxWait: time.Second, want: time.Second},
		{name: "rounded up", maxWait: 1500 * time.Millisecond, want: 2 * time.Second},
		{name: "whole seconds", maxWait: 3 * time.Second, want: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := kilt.AsError(NewPool(1, tt.maxWait).busyError())
			if e.RetryAfter != tt.want {
				t.Errorf("RetryAfter: got %v, want %v", e.RetryAfter, tt.want)
			}
		})
	}
}

func TestPoolNoWaitRejectsAtOnce(t *testing.T) {
	pool := NewPool(1, 0)
	release := make(chan struct{})
	held := make(chan struct{})
	go func() { _ = pool.Do(context.Background(), func() { close(held); <-release }) }()
	<-held
	err := pool.Do(context.Background(), func() { t.Error("fn ran in a full pool") })
	close(release)
	if got := kilt.ErrorCode(err); got != kilt.CodeBusy {
		t.Errorf("code: got %q, want %q", got, kilt.CodeBusy)
	}
}

// TestPoolFairShare: a client with more callers than the pool has slots waits behind
// itself; another client's call runs as soon as a slot frees, before the flood's queued
// callers. It runs in a synctest bubble: synctest.Wait returns once every caller is parked
// on its channel (a check that fails goes on, so the bubble's goroutines still finish). Counting waits was not enough — a caller counts itself before it parks,
// so on a busy machine a flood caller could take the freed slot before the other client's
// caller reached its select, and the test failed in CI (-count=3000 under load: 1 in ~1,000).
func TestPoolFairShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(2, time.Minute)
		ctx := context.Background()
		flood := WithClient(ctx, "198.51.100.1")
		release := make(chan struct{})
		var mu sync.Mutex
		var order []string
		note := func(who string) func() {
			return func() { mu.Lock(); order = append(order, who); mu.Unlock() }
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { _ = p.Do(flood, func() { <-release }) })
		}
		synctest.Wait()
		if s := p.Stats(); s.Busy != 2 || s.Waits != 0 {
			t.Errorf("after the flood's first two calls: %+v, want both slots busy, no wait", s)
		}
		for range 6 {
			wg.Go(func() { _ = p.Do(flood, note("flood")) })
		}
		synctest.Wait()
		if s := p.Stats(); s.Waits != 6 || s.Waiting != 0 {
			t.Errorf("the flood queued: %+v, want 6 waits, none for a slot (they wait for the client's turn)", s)
		}
		other := make(chan struct{})
		wg.Go(func() { _ = p.Do(WithClient(ctx, "203.0.113.5"), note("other")); close(other) })
		synctest.Wait()
		if s := p.Stats(); s.Waits != 7 || s.Waiting != 1 {
			t.Errorf("the other client queued: %+v, want 7 waits, 1 for a slot", s)
		}
		release <- struct{}{} // one slot frees
		<-other
		release <- struct{}{}
		wg.Wait()
		if len(order) != 7 || order[0] != "other" {
			t.Errorf("order of the queued calls: %v, want the other client's first", order)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.clients) != 0 {
			t.Errorf("%d client entries left after every call returned", len(p.clients))
		}
	})
}

// TestPoolAdmitsARequestWhole: the second computation of one request (Together) waits for
// the slot its first holds instead of being refused after the pool's maximum wait, while
// another request's call in that time is refused as before. Before Together a reset on a
// pool of one slot was refused by its own account hash.
func TestPoolAdmitsARequestWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxWait = time.Millisecond
		pool := NewPool(1, maxWait)
		ctx := WithClient(Together(context.Background()), "192.0.2.1")
		hold, held := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() { first <- pool.Do(ctx, func() { close(held); <-hold }) }()
		<-held
		second := make(chan error, 1)
		ran := false
		go func() { second <- pool.Do(ctx, func() { ran = true }) }()
		synctest.Wait()
		if s := pool.Stats(); s.Waits != 1 {
			t.Errorf("the sibling: %+v, want it waiting", s)
		}
		if err := pool.Do(context.Background(), func() {}); kilt.ErrorCode(err) != kilt.CodeBusy {
			t.Errorf("another request while the slot is held: %v, want busy", err)
		}
		time.Sleep(5 * maxWait) // the bubble's clock: the sibling must still wait
		synctest.Wait()
		close(hold)
		if err := <-first; err != nil {
			t.Fatalf("first: %v", err)
		}
		if err := <-second; err != nil || !ran {
			t.Fatalf("the request's second computation: ran %v, err %v", ran, err)
		}
		if s := pool.Stats(); s.Rejected != 1 || s.Served != 2 {
			t.Errorf("stats %+v: want 1 rejected (the other request), 2 served", s)
		}
	})
}
