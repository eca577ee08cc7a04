package recovery

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
)

// NumberCheck reports whether an SMS may go to an E.164 number at all (the allowed
// countries, a mobile number): sms.Guard.Check.
type NumberCheck = account.NumberCheck

// Processor resolves recorded requests in the background: a known, verified, unlocked
// identifier gets a link or a code through the outbox; anything else gets nothing. Its
// decisions are invisible to the person who asked: they were answered already.
type Processor struct {
	store  Store
	clock  kilt.Clock
	cfg    Config
	check  NumberCheck
	outbox outbox.Waker
	log    *slog.Logger
	codes  []byte
	keys   []byte
	wake   chan struct{}
	poll   time.Duration
	batch  int
	// gather waits, after a wake that found the last batch not full, for more requests to
	// gather before the next batch is taken (gatherFor; tests replace it).
	gather func(ctx context.Context)
}

// gatherFor is how long the processor lets requests gather after a wake. Each batch is one
// transaction: on SQLite one turn of the single writer and one commit writing the touched
// pages (the audit trail's, the outbox's, the tokens', the rate limits', the requests'), on
// PostgreSQL one commit waiting for the WAL flush. Woken by every request at a few thousand
// requests a second, the processor took batches of one or two, and paid that per request,
// competing for the writer with the requests themselves (docs/performance.md, "Recovery
// requests"). A few milliseconds gather a batch of several at that rate; the e-mail or SMS
// leaves that much later, which nobody waiting for one notices.
const gatherFor = 3 * time.Millisecond

// NewProcessor returns a processor. check may be nil (no destination check).
func NewProcessor(store Store, clock kilt.Clock, cfg Config, check NumberCheck, dispatcher outbox.Waker, log *slog.Logger) *Processor {
	cfg = cfg.withDefaults()
	return &Processor{store: store, clock: clock, cfg: cfg, check: check, outbox: dispatcher, log: log,
		codes: kilt.DeriveKey(cfg.Secret, "sms-code"), keys: ratelimit.IdentifierKey(cfg.Secret),
		wake: make(chan struct{}, 1), poll: time.Second, batch: 64, gather: waitFor(gatherFor)}
}

// waitFor returns a function that waits d or until its ctx ends.
func waitFor(d time.Duration) func(ctx context.Context) {
	return func(ctx context.Context) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// Wake makes a running processor look now. It never blocks.
func (p *Processor) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run resolves requests until ctx ends: when woken, and every second as a fallback.
func (p *Processor) Run(ctx context.Context) {
	t := time.NewTicker(p.poll)
	defer t.Stop()
	for {
		for {
			n, err := p.Step(context.WithoutCancel(ctx))
			if err != nil {
				p.log.Error("recovery: resolving requests failed", "err", err)
				break
			}
			if n < p.batch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			p.gather(ctx)
		case <-t.C:
		}
	}
}

// Step resolves one batch of requests and reports how many. The requests are deleted in the
// transaction that resolves them: a crash in between leaves them for the next try.
func (p *Processor) Step(ctx context.Context) (int, error) {
	sent, n := false, 0
	err := p.store.InTx(ctx, func(tx Tx) error {
		sent = false
		reqs, err := tx.Requests(ctx, p.batch)
		if err != nil {
			return err
		}
		// Resolving a request locks rows of its account (its rate-limit row, its live
		// links). Every processor — one per instance — resolves its batch in one order of
		// the accounts' identifiers, so that two batches never lock two accounts in opposite
		// orders (on PostgreSQL two instances deadlocked in the order of the requests' ids).
		slices.SortStableFunc(reqs, func(a, b Request) int {
			return cmp.Or(strings.Compare(string(a.Channel), string(b.Channel)), strings.Compare(lockKey(a), lockKey(b)))
		})
		ids := make([]int64, len(reqs))
		events := make([]audit.Event, len(reqs))
		for i, r := range reqs {
			ok, ev, err := p.resolve(ctx, tx, r)
			if err != nil {
				return err
			}
			sent = sent || ok
			ids[i], events[i] = r.ID, ev
		}
		n = len(reqs)
		if err := tx.DeleteRequests(ctx, ids); err != nil {
			return err
		}
		// The batch's audit rows go in together: a few statements, not one a request.
		return tx.Audits(ctx, events)
	})
	if err != nil {
		return 0, err
	}
	if sent {
		p.outbox.Wake()
	}
	return n, nil
}

// lockKey is the identifier of r's account as the lookup reads it.
func lockKey(r Request) string {
	if r.Channel == outbox.Email {
		return account.EmailKey(r.Identifier)
	}
	return r.Identifier
}

// resolve handles one request inside the resolving transaction and reports whether it
// enqueued a message, and the audit event that records what it did (Step writes the batch's
// together).
func (p *Processor) resolve(ctx context.Context, tx Tx, r Request) (bool, audit.Event, error) {
	now := p.clock()
	ev := audit.Event{Type: audit.RecoveryRequested, IP: r.IP, UserAgent: r.UserAgent, At: now, Detail: string(r.Channel)}
	var a *account.Account
	var err error
	if r.Channel == outbox.Email {
		a, err = tx.AccountByEmail(ctx, account.EmailKey(r.Identifier))
	} else {
		a, err = tx.AccountByPhone(ctx, r.Identifier)
	}
	if err != nil && !errors.Is(err, kilt.ErrNotFound) {
		return false, ev, err
	}
	if a == nil {
		ev.Detail += " unknown " + mask(r)
		return false, ev, nil
	}
	ev.AccountID = a.ID
	verified := a.EmailVerified
	if r.Channel == outbox.SMS {
		verified = a.PhoneVerified
	}
	var flow Flow
	if r.Channel == outbox.SMS {
		if flow, err = tx.Flow(ctx, r.FlowID); err != nil && !errors.Is(err, kilt.ErrNotFound) {
			return false, ev, err
		}
	}
	switch {
	case !verified:
		ev.Detail += " not verified: nothing sent"
		return false, ev, nil
	case a.Locked:
		ev.Detail += " account locked: nothing sent"
		return false, ev, nil
	case r.Channel == outbox.SMS && now.Before(a.SMSPausedUntil):
		ev.Detail += " SMS paused after wrong codes: nothing sent"
		return false, ev, nil
	case r.Channel == outbox.SMS && !now.Before(flow.ExpiresAt):
		ev.Detail += " flow ended: nothing sent"
		return false, ev, nil
	}
	checks := []ratelimit.Check{{Limit: p.cfg.Limits.PerAccount, Key: strconv.FormatInt(a.ID, 10)}}
	if r.Channel == outbox.SMS {
		if p.check != nil {
			if err := p.check(a.Phone); err != nil {
				ev.Detail += " number refused: " + outbox.BlockReason(err)
				return false, ev, nil
			}
		}
		key := kilt.KeyedHash(p.keys, "p:"+a.Phone)
		checks = append(checks, ratelimit.Check{Limit: p.cfg.Limits.SMSNumberHour, Key: key},
			ratelimit.Check{Limit: p.cfg.Limits.SMSNumberDay, Key: key})
	}
	res, err := tx.Take(ctx, checks, now)
	if err != nil {
		return false, ev, err
	}
	if !res.Allowed {
		p.cfg.refused(res)
		ev.Type, ev.Detail = audit.RecoveryLimited, ev.Detail+" over "+strings.Join(res.Refused, ",")
		return false, ev, nil
	}
	msg := &outbox.Message{Channel: r.Channel, Lang: r.Lang, AccountID: a.ID, CreatedAt: now}
	if r.Channel == outbox.Email {
		token, hash, err := kilt.NewToken()
		if err != nil {
			return false, ev, err
		}
		// A newer link kills the older unused ones.
		if err := tx.UseTokens(ctx, a.ID, PurposeLink, now); err != nil {
			return false, ev, err
		}
		if err := tx.InsertToken(ctx, Token{Hash: hash, AccountID: a.ID, Purpose: PurposeLink, CreatedAt: now,
			ExpiresAt: now.Add(p.cfg.LinkLifetime)}); err != nil {
			return false, ev, err
		}
		msg.Kind, msg.To = outbox.RecoveryLink, a.Email
		msg.SetPayload(outbox.LinkPayload{Link: p.cfg.ResetURL + "?token=" + token, Lifetime: p.cfg.LinkLifetime})
	} else {
		code, err := kilt.NewCode()
		if err != nil {
			return false, ev, err
		}
		// The flow is bound to the account and gets its code. (The code's lifetime and the
		// count of wrong entries were set when the request was made, the same for every flow.)
		flow.AccountID, flow.CodeMAC = a.ID, kilt.CodeMAC(p.codes, r.FlowID, code)
		if err := tx.UpdateFlow(ctx, flow); err != nil {
			return false, ev, err
		}
		msg.Kind, msg.To = outbox.RecoveryCode, a.Phone
		msg.SetPayload(outbox.CodePayload{Code: code, Lifetime: p.cfg.CodeLifetime})
	}
	if err := tx.Enqueue(ctx, msg); err != nil {
		return false, ev, err
	}
	return true, ev, nil
}

// mask is the identifier of a request as the audit trail may keep it.
func mask(r Request) string {
	if r.Channel == outbox.Email {
		return account.MaskEmail(r.Identifier)
	}
	return account.MaskPhone(r.Identifier)
}
