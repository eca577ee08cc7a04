package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"kilt"
)

// Renderer turns a message kind and its data into text in a language (notify.Renderer).
type Renderer interface {
	Render(kind Kind, ch Channel, lang string, data map[string]string) (Rendered, error)
}

// Config tunes a dispatcher. Zero fields take the defaults.
type Config struct {
	Workers     int           // messages sent at once (default 4)
	Batch       int           // messages claimed at once (default 64)
	Lease       time.Duration // how long a claim lasts before another dispatcher may take over (default 1 min)
	Poll        time.Duration // how often to look without being woken (default 1 s)
	MaxAttempts int           // attempts before a message is abandoned (default 10)
	Backoff     time.Duration // wait after the first failure, doubling each time (default 5 s)
	MaxBackoff  time.Duration // the longest wait between attempts (default 1 h)
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.Backoff <= 0 {
		c.Backoff = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	return c
}

// Observer is told the outcome of every attempt, for metrics. Its methods must be cheap
// and safe for concurrent use.
type Observer interface {
	Sent(ch Channel)
	Failed(ch Channel, abandoned bool)
	Blocked(ch Channel, reason string)
}

// Dispatcher sends what the outbox holds: claim → render → send → mark.
type Dispatcher struct {
	store    Store
	senders  map[Channel]Sender
	renderer Renderer
	clock    kilt.Clock
	cfg      Config
	log      *slog.Logger
	obs      Observer
	owner    string
	// lanes: one per channel, each with its own wake-up, so one channel's backlog never
	// delays another's messages.
	lanes map[Channel]chan struct{}
}

// NewDispatcher returns a dispatcher. obs may be nil.
func NewDispatcher(store Store, senders map[Channel]Sender, renderer Renderer, clock kilt.Clock, cfg Config, log *slog.Logger, obs Observer) *Dispatcher {
	var b [6]byte
	_, _ = rand.Read(b[:])
	d := &Dispatcher{store: store, senders: senders, renderer: renderer, clock: clock, cfg: cfg.withDefaults(),
		log: log, obs: obs, owner: "d-" + hex.EncodeToString(b[:]), lanes: map[Channel]chan struct{}{}}
	for ch := range senders {
		d.lanes[ch] = make(chan struct{}, 1)
	}
	return d
}

// Wake makes a running dispatcher look for messages now. It never blocks.
func (d *Dispatcher) Wake() {
	for _, wake := range d.lanes {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// Run dispatches until ctx ends, each channel in its own lane: whenever woken, and every
// poll interval as a fallback (another instance's messages, retries falling due). It
// returns when ctx ends, after the batches in hand are marked; what is unsent stays in the
// outbox for the next start.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for ch, wake := range d.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runLane(ctx, ch, wake)
		}()
	}
	wg.Wait()
}

func (d *Dispatcher) runLane(ctx context.Context, ch Channel, wake chan struct{}) {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		for {
			n, err := d.stepLane(context.WithoutCancel(ctx), ch)
			if err != nil {
				d.log.Error("outbox dispatch failed", "channel", string(ch), "err", err)
				break
			}
			if n < d.cfg.Batch || ctx.Err() != nil {
				break // drained; a full batch means there may be more at once
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
	}
}

// Step claims one batch of due messages of every channel and attempts each, Workers at a
// time per channel. It reports how many it claimed.
func (d *Dispatcher) Step(ctx context.Context) (int, error) {
	total := 0
	for ch := range d.lanes {
		n, err := d.stepLane(ctx, ch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// stepLane claims one batch of the channel's due messages, attempts each, and marks the
// delivered ones sent together, in one statement once the batch is done: the lease already
// has to cover the whole batch, whose messages were all claimed at once, so marking them
// then rather than one by one keeps no message from its next claim any longer.
func (d *Dispatcher) stepLane(ctx context.Context, ch Channel) (int, error) {
	msgs, err := d.store.Claim(ctx, ch, d.owner, d.clock(), d.cfg.Lease, d.cfg.Batch)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	work := make(chan *Message)
	var mu sync.Mutex
	var sent []int64
	var wg sync.WaitGroup
	for range min(d.cfg.Workers, len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				if d.attempt(ctx, m) {
					mu.Lock()
					sent = append(sent, m.ID)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range msgs {
		work <- &msgs[i]
	}
	close(work)
	wg.Wait()
	if err := d.store.MarkSent(ctx, sent, d.owner, d.clock()); err != nil {
		d.log.Error("outbox: marking sent failed", "channel", string(ch), "messages", len(sent), "err", err)
	}
	return len(msgs), nil
}

// attempt sends one claimed message and reports whether it was delivered; a failure it
// records at once.
func (d *Dispatcher) attempt(ctx context.Context, m *Message) bool {
	// The message's logger is made only when something is logged: a delivery is logged at
	// debug level, usually off, and formatting its attributes cost 13 allocations a message.
	log := func() *slog.Logger {
		return d.log.With("message_id", m.ID, "channel", string(m.Channel), "kind", string(m.Kind), "attempt", m.Attempts)
	}
	err := d.send(ctx, m)
	now := d.clock()
	if err == nil {
		if d.obs != nil {
			d.obs.Sent(m.Channel)
		}
		if d.log.Enabled(ctx, slog.LevelDebug) {
			log().Debug("message sent")
		}
		return true
	}
	f := Failure{Error: errorText(err)}
	switch {
	case BlockReason(err) != "":
		f.BlockReason = BlockReason(err)
		if d.obs != nil {
			d.obs.Blocked(m.Channel, f.BlockReason)
		}
		log().Warn("message blocked", "reason", f.BlockReason)
	case IsPermanent(err) || m.Attempts >= d.cfg.MaxAttempts:
		f.Abandon = true
		if d.obs != nil {
			d.obs.Failed(m.Channel, true)
		}
		log().Warn("message abandoned", "err", f.Error)
	default:
		f.Next = now.Add(d.backoff(m.Attempts))
		if d.obs != nil {
			d.obs.Failed(m.Channel, false)
		}
		log().Info("message attempt failed; will retry", "err", f.Error, "next", f.Next)
	}
	if err := d.store.MarkFailed(ctx, m.ID, d.owner, now, f); err != nil {
		log().Error("outbox: marking failure failed", "err", err)
	}
	return false
}

func (d *Dispatcher) send(ctx context.Context, m *Message) error {
	s, ok := d.senders[m.Channel]
	if !ok {
		return Permanent(errors.New("no sender for channel " + string(m.Channel)))
	}
	r, err := d.renderer.Render(m.Kind, m.Channel, m.Lang, m.Data())
	if err != nil {
		return Permanent(err)
	}
	r.To, r.ID, r.Kind = m.To, m.ID, m.Kind
	sctx, cancel := context.WithTimeout(ctx, d.cfg.Lease/2)
	defer cancel()
	return s.Send(sctx, r)
}

// backoff is the wait after the n-th failed attempt: Backoff·2^(n−1), at most MaxBackoff,
// less up to a fifth at random so that many messages failing together do not retry in step.
func (d *Dispatcher) backoff(n int) time.Duration {
	w := d.cfg.MaxBackoff
	if n >= 1 && n < 31 {
		if b := d.cfg.Backoff << (n - 1); b > 0 && b < w {
			w = b
		}
	}
	if j, err := rand.Int(rand.Reader, big.NewInt(int64(w/5)+1)); err == nil {
		w -= time.Duration(j.Int64())
	}
	return w
}

// errorText is what is kept of an error: one line, bounded. Senders never put secrets in
// errors; the bound keeps a chatty server's reply from bloating the row.
func errorText(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
