package recovery

import (
	"context"
	"errors"
	"log/slog"
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
type NumberCheck func(e164 string) error

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
}

// NewProcessor returns a processor. check may be nil (no destination check).
func NewProcessor(store Store, clock kilt.Clock, cfg Config, check NumberCheck, dispatcher outbox.Waker, log *slog.Logger) *Processor {
	cfg = cfg.withDefaults()
	return &Processor{store: store, clock: clock, cfg: cfg, check: check, outbox: dispatcher, log: log,
		codes: kilt.DeriveKey(cfg.Secret, "sms-code"), keys: ratelimit.IdentifierKey(cfg.Secret),
		wake: make(chan struct{}, 1), poll: time.Second, batch: 64}
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
		case <-t.C:
		}
	}
}

// Step resolves one batch of requests and reports how many.
func (p *Processor) Step(ctx context.Context) (int, error) {
	sent := false
	n, err := p.store.Resolve(ctx, p.batch, func(ctx context.Context, tx ResolveTx, r Request) error {
		ok, err := p.resolve(ctx, tx, r)
		sent = sent || ok
		return err
	})
	if sent {
		p.outbox.Wake()
	}
	return n, err
}

// resolve handles one request inside the resolving transaction and reports whether it
// enqueued a message.
func (p *Processor) resolve(ctx context.Context, tx ResolveTx, r Request) (bool, error) {
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
		return false, err
	}
	if a == nil {
		ev.Detail += " unknown " + mask(r)
		return false, tx.Audit(ctx, ev)
	}
	ev.AccountID = a.ID
	verified := a.EmailVerified
	if r.Channel == outbox.SMS {
		verified = a.PhoneVerified
	}
	switch {
	case !verified:
		ev.Detail += " not verified: nothing sent"
		return false, tx.Audit(ctx, ev)
	case a.Locked:
		ev.Detail += " account locked: nothing sent"
		return false, tx.Audit(ctx, ev)
	case r.Channel == outbox.SMS && now.Before(a.SMSPausedUntil):
		ev.Detail += " SMS paused after wrong codes: nothing sent"
		return false, tx.Audit(ctx, ev)
	}
	checks := []ratelimit.Check{{Limit: p.cfg.Limits.PerAccount, Key: strconv.FormatInt(a.ID, 10)}}
	if r.Channel == outbox.SMS {
		if p.check != nil {
			if err := p.check(a.Phone); err != nil {
				ev.Detail += " number refused: " + outbox.BlockReason(err)
				return false, tx.Audit(ctx, ev)
			}
		}
		key := kilt.KeyedHash(p.keys, "p:"+a.Phone)
		checks = append(checks, ratelimit.Check{Limit: p.cfg.Limits.SMSNumberHour, Key: key},
			ratelimit.Check{Limit: p.cfg.Limits.SMSNumberDay, Key: key})
	}
	res, err := tx.Take(ctx, checks, now)
	if err != nil {
		return false, err
	}
	if !res.Allowed {
		p.cfg.refused(res)
		ev.Type, ev.Detail = audit.RecoveryLimited, ev.Detail+" over "+strings.Join(res.Refused, ",")
		return false, tx.Audit(ctx, ev)
	}
	msg := &outbox.Message{Channel: r.Channel, Lang: r.Lang, AccountID: a.ID, CreatedAt: now}
	if r.Channel == outbox.Email {
		token, hash, err := kilt.NewToken()
		if err != nil {
			return false, err
		}
		if err := tx.IssueLink(ctx, a.ID, hash, now, now.Add(p.cfg.LinkLifetime)); err != nil {
			return false, err
		}
		msg.Kind, msg.To = outbox.RecoveryLink, a.Email
		msg.SetPayload(outbox.LinkPayload{Link: p.cfg.ResetURL + "?token=" + token, Lifetime: p.cfg.LinkLifetime})
	} else {
		code, err := kilt.NewCode()
		if err != nil {
			return false, err
		}
		if err := tx.SetFlowCode(ctx, r.FlowID, a.ID, kilt.CodeMAC(p.codes, r.FlowID, code)); err != nil {
			return false, err
		}
		msg.Kind, msg.To = outbox.RecoveryCode, a.Phone
		msg.SetPayload(outbox.CodePayload{Code: code, Lifetime: p.cfg.CodeLifetime})
	}
	if err := tx.Enqueue(ctx, msg); err != nil {
		return false, err
	}
	return true, tx.Audit(ctx, ev)
}

// mask is the identifier of a request as the audit trail may keep it.
func mask(r Request) string {
	if r.Channel == outbox.Email {
		return account.MaskEmail(r.Identifier)
	}
	return account.MaskPhone(r.Identifier)
}
