package password

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"kilt"
)

// DefaultMaxWait is how long a hash waits for a free slot before the caller is told the
// service is busy, when NewHasher is given no pool (and KILT_HASH_WAIT's default). Five
// seconds lets a burst of 256 sign-ins at once — about three seconds of hashing on two cores
// — be served whole: a 503 after two seconds of waiting was the worst answer a person could
// get (kept waiting, then told to come back), and each cost the work of an attempt counted
// and taken back. Memory does not depend on it: waiting callers hold no hashing memory.
const DefaultMaxWait = 5 * time.Second

// Pool bounds how many password hashes run at once. Argon2id at the default cost holds
// 19 MiB for the whole computation, so an unbounded number of concurrent hashes is an
// unbounded amount of memory: the pool turns load beyond the machine's hashing rate into
// a short wait and then a 503 with Retry-After, never into swapping or an OOM kill.
//
// A Pool is safe for concurrent use. The zero value is not usable; call NewPool.
type Pool struct {
	slots   chan struct{}
	maxWait time.Duration
	// share is the most callers one client may have at the slots, running or waiting for
	// one: the pool's size. Its further callers wait for a turn of their own client, not in
	// the pool's queue, so anyone else is queued behind at most one round of the pool —
	// while a client alone may still use every slot.
	share   int
	mu      sync.Mutex
	clients map[string]*clientShare

	busy     atomic.Int64
	waiting  atomic.Int64
	maxBusy  atomic.Int64
	waits    atomic.Uint64
	rejected atomic.Uint64
	served   atomic.Uint64
}

// PoolStats is a snapshot of a Pool's counters, for metrics and tests.
type PoolStats struct {
	Size     int    // slots: the most functions that ever run at once
	Busy     int    // functions running now
	Waiting  int    // callers waiting for a slot now
	MaxBusy  int    // the high-water mark of Busy since the pool was made
	Waits    uint64 // callers that found no free slot and had to wait (served or not)
	Rejected uint64 // callers turned away because no slot freed within the maximum wait
	Served   uint64 // functions run to completion
}

// NewPool returns a pool of size slots whose callers wait at most maxWait for one.
// size <= 0 means runtime.NumCPU(), one hash per core. maxWait <= 0 means callers never
// wait: a call that finds every slot busy is rejected at once.
func NewPool(size int, maxWait time.Duration) *Pool {
	if size <= 0 {
		size = runtime.NumCPU()
	}
	return &Pool{slots: make(chan struct{}, size), maxWait: max(maxWait, 0), share: size,
		clients: map[string]*clientShare{}}
}

// clientShare is the share of the pool one client holds.
type clientShare struct {
	turns chan struct{} // capacity: the pool's share
	refs  int           // callers holding or waiting for a turn; the entry goes at zero
}

type clientKeyType struct{}

// WithClient returns ctx naming the client a hash is computed for (its IP, or its /64 for
// IPv6): Do then gives that client at most its fair share of the pool. A ctx without a
// client is not limited by share.
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, clientKeyType{}, client)
}

// turn waits for one of the client's turns and returns its release, or why it got none.
func (p *Pool) turn(ctx context.Context, client string, g *group) (release func(), err error) {
	p.mu.Lock()
	c := p.clients[client]
	if c == nil {
		c = &clientShare{turns: make(chan struct{}, p.share)}
		p.clients[client] = c
	}
	c.refs++
	p.mu.Unlock()
	done := func() {
		p.mu.Lock()
		if c.refs--; c.refs == 0 {
			delete(p.clients, client)
		}
		p.mu.Unlock()
	}
	select {
	case c.turns <- struct{}{}:
	default:
		p.waits.Add(1)
		if err := p.acquire(ctx, c.turns, g); err != nil {
			done()
			return nil, err
		}
	}
	return func() { <-c.turns; done() }, nil
}

// group is the computations of one request that run side by side (an account's hash and
// its history key, the history checks): once one of them holds a slot the request has been
// admitted, and the others wait for a slot as long as their context lets them instead of
// being refused after the pool's maximum wait. Without it a reset on a pool of one slot
// (or a full pool) would be refused half done by its own first computation.
type group struct {
	once     sync.Once
	admitted chan struct{} // closed once a computation of the group held a slot
}

type groupKeyType struct{}

// Together returns ctx under which the calls of Do are one request's computations (see
// group). A ctx already naming a group is returned as it is.
func Together(ctx context.Context) context.Context {
	if _, ok := ctx.Value(groupKeyType{}).(*group); ok {
		return ctx
	}
	return context.WithValue(ctx, groupKeyType{}, &group{admitted: make(chan struct{})})
}

func (g *group) admit() {
	if g != nil {
		g.once.Do(func() { close(g.admitted) })
	}
}

// wasAdmitted reports whether a computation of g held a slot; a nil group never was.
func (g *group) wasAdmitted() bool {
	if g == nil {
		return false
	}
	select {
	case <-g.admitted:
		return true
	default:
		return false
	}
}

// acquire sends on ch (a slot or a client's turn) within the pool's maximum wait — or
// without a bound once g was admitted — and returns why it could not.
func (p *Pool) acquire(ctx context.Context, ch chan struct{}, g *group) error {
	var admitted <-chan struct{}
	var timeout <-chan time.Time
	if g != nil {
		admitted = g.admitted
	}
	if !g.wasAdmitted() {
		if p.maxWait == 0 {
			p.rejected.Add(1)
			return p.busyError()
		}
		timer := time.NewTimer(p.maxWait)
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		select {
		case ch <- struct{}{}:
			return nil
		case <-admitted:
			admitted, timeout = nil, nil // admitted: wait as long as ctx lets
		case <-timeout:
			if !g.wasAdmitted() {
				p.rejected.Add(1)
				return p.busyError()
			}
			timeout = nil
		case <-ctx.Done():
			return p.ctxError(ctx.Err())
		}
	}
}

// Do runs fn in the calling goroutine once a slot is free (and, when ctx names a client (see
// WithClient), once that client holds fewer than its share of slots) and returns nil after fn returns.
// If no slot frees within the pool's maximum wait it does not run fn and returns a
// kilt.KindUnavailable error with code kilt.CodeBusy and a RetryAfter of at least one
// second; if ctx ends first it returns a kilt.KindUnavailable error wrapping ctx.Err().
// Under a ctx of Together, once one call of the group held a slot the others wait for
// theirs without that bound.
func (p *Pool) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return p.ctxError(err)
	}
	g, _ := ctx.Value(groupKeyType{}).(*group)
	if client, ok := ctx.Value(clientKeyType{}).(string); ok {
		release, err := p.turn(ctx, client, g)
		if err != nil {
			return err
		}
		defer release()
	}
	select {
	case p.slots <- struct{}{}:
	default:
		if err := p.wait(ctx, g); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil { // ended while the slot was being taken: fn is not wanted
		<-p.slots
		return p.ctxError(err)
	}
	g.admit()
	p.run(fn)
	return nil
}

// wait blocks until the caller holds a slot, or returns why it does not.
func (p *Pool) wait(ctx context.Context, g *group) error {
	p.waits.Add(1)
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	return p.acquire(ctx, p.slots, g)
}

// run executes fn in the slot the caller holds and frees it, even if fn panics.
func (p *Pool) run(fn func()) {
	n := p.busy.Add(1)
	for {
		high := p.maxBusy.Load()
		if n <= high || p.maxBusy.CompareAndSwap(high, n) {
			break
		}
	}
	defer func() {
		p.busy.Add(-1)
		<-p.slots
	}()
	fn()
	p.served.Add(1)
}

// busyError tells the client to come back after about as long as it was made to wait: a
// slot that did not free within maxWait is unlikely to free much sooner for a retry.
// Retry-After is in whole seconds, so the value is rounded up and never below one second.
func (p *Pool) busyError() error {
	retry := max((p.maxWait + time.Second - 1).Truncate(time.Second), time.Second)
	return kilt.Errorf(kilt.KindUnavailable, kilt.CodeBusy,
		"password hashing pool: no free slot within %v", p.maxWait).WithRetryAfter(retry)
}

func (p *Pool) ctxError(err error) error {
	return kilt.Errorf(kilt.KindUnavailable, kilt.CodeUnavailable,
		"password hashing pool: waiting for a slot: %w", err)
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	return PoolStats{
		Size:     cap(p.slots),
		Busy:     int(p.busy.Load()),
		Waiting:  int(p.waiting.Load()),
		MaxBusy:  int(p.maxBusy.Load()),
		Waits:    p.waits.Load(),
		Rejected: p.rejected.Load(),
		Served:   p.served.Load(),
	}
}
