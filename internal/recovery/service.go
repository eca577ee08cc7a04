package recovery

import (
	"context"
	"errors"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
)

// Service runs the recovery flows.
type Service struct {
	store    Store
	accounts *account.Service
	clock    kilt.Clock
	cfg      Config
	check    NumberCheck
	codeKey  []byte
	limitKey []byte
	// wake tells the processor a request is waiting.
	wake outbox.Waker
}

// NewService returns a Service. check tells whether an SMS may go to a number (nil: any):
// the same check as registration's, so that both refuse alike a number that can never
// receive one. wake is the Processor; the surfaces call Wake after the answer is written.
func NewService(store Store, accounts *account.Service, clock kilt.Clock, cfg Config, check NumberCheck, wake outbox.Waker) *Service {
	cfg = cfg.withDefaults()
	return &Service{store: store, accounts: accounts, clock: clock, cfg: cfg, check: check, wake: wake,
		codeKey: kilt.DeriveKey(cfg.Secret, "sms-code"), limitKey: ratelimit.IdentifierKey(cfg.Secret)}
}

// Config returns the configuration in force.
func (s *Service) Config() Config { return s.cfg }

// Wake tells the processor that requests are waiting. The surfaces call it after they have
// written their answer, so that the processor's work for a known identifier cannot delay
// the answer and tell it apart from an unknown one.
func (s *Service) Wake() { s.wake.Wake() }

// limited is the answer over a request-path limit: these limits apply to every identifier
// alike, so saying so reveals nothing about accounts.
func limited(res ratelimit.Result) error {
	return kilt.E(kilt.KindRateLimited, account.CodeRateLimited).WithRetryAfter(res.RetryAfter)
}

// request records r (and the flow f of a phone request) when the request-path limits allow.
func (s *Service) request(ctx context.Context, r Request, f *Flow, checks []ratelimit.Check) error {
	var res ratelimit.Result
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if res, err = tx.Take(ctx, checks, r.CreatedAt); err != nil || !res.Allowed {
			return err
		}
		if f != nil {
			if err := tx.InsertFlow(ctx, *f); err != nil {
				return err
			}
		}
		return tx.InsertRequest(ctx, r)
	})
	if err != nil {
		return err
	}
	if !res.Allowed {
		s.cfg.refused(res)
		return limited(res)
	}
	return nil
}

// RequestEmail records a request for a recovery link to email. It answers the same
// whether or not the address has an account: nil, or 400 for an address that is not one,
// or 429 over the limits of the client's IP or of the address. The caller calls Wake once
// the answer is written.
func (s *Service) RequestEmail(ctx context.Context, c Client, email string) error {
	addr, err := account.ParseEmail(email)
	if err != nil {
		return err
	}
	now := s.clock()
	r := Request{Channel: outbox.Email, Identifier: addr, Lang: c.Lang, IP: c.IP, UserAgent: c.UserAgent, CreatedAt: now}
	if err := s.request(ctx, r, nil, s.requestChecks(c, "e:"+account.EmailKey(addr))); err != nil {
		return err
	}
	s.cfg.flow("email", "started")
	return nil
}

// FlowInfo is what a client learns of a phone flow.
type FlowInfo struct {
	ID          string
	ResendAfter time.Duration
	ExpiresIn   time.Duration
}

// RequestPhone starts a phone flow for phone and records a request for a code. Every
// number gets a flow — one without an account gets one that can never succeed — and the
// same answer; a number that can never receive an SMS is refused, 400 phone_not_supported,
// as registration refuses it (account.Service.ParseSMSPhone). The caller calls Wake once
// the answer is written.
func (s *Service) RequestPhone(ctx context.Context, c Client, phone string) (FlowInfo, error) {
	e164, err := s.accounts.ParseSMSPhone(phone, s.check)
	if err != nil {
		return FlowInfo{}, err
	}
	id, err := kilt.NewID()
	if err != nil {
		return FlowInfo{}, err
	}
	now := s.clock()
	f := &Flow{ID: id, Identifier: e164, Lang: c.Lang, CodeExpiresAt: now.Add(s.cfg.CodeLifetime),
		LastRequestAt: now, CreatedAt: now, ExpiresAt: now.Add(s.cfg.FlowLifetime)}
	r := Request{Channel: outbox.SMS, Identifier: e164, FlowID: id, Lang: c.Lang, IP: c.IP, UserAgent: c.UserAgent, CreatedAt: now}
	if err := s.request(ctx, r, f, s.requestChecks(c, "p:"+e164)); err != nil {
		return FlowInfo{}, err
	}
	s.cfg.flow("sms", "started")
	return FlowInfo{ID: id, ResendAfter: s.cfg.ResendCooldown, ExpiresIn: s.cfg.CodeLifetime}, nil
}

// Resend asks for a new code in a flow, after the cool-down: 429 resend_too_soon with the
// seconds left before it, 410 flow_gone for an unknown or expired flow. The old code dies
// and the count of wrong entries starts again, for every flow alike, so a flow without an
// account behaves as one with. The caller calls Wake once the answer is written.
func (s *Service) Resend(ctx context.Context, c Client, flowID string) (FlowInfo, error) {
	gone := kilt.E(kilt.KindGone, CodeFlowGone)
	if !kilt.WellFormedID(flowID) {
		return FlowInfo{}, gone
	}
	now := s.clock()
	var res ratelimit.Result
	err := s.store.InTx(ctx, func(tx Tx) error {
		f, err := tx.Flow(ctx, flowID)
		if err != nil {
			return err
		}
		if !now.Before(f.ExpiresAt) {
			return kilt.ErrNotFound
		}
		if wait := f.LastRequestAt.Add(s.cfg.ResendCooldown).Sub(now); wait > 0 {
			res = ratelimit.Result{RetryAfter: wait}
			return nil
		}
		if res, err = tx.Take(ctx, ratelimit.ClientChecks(s.cfg.Limits.PerIP, c.IP), now); err != nil || !res.Allowed {
			return err
		}
		f.CodeMAC, f.Attempts, f.CodeExpiresAt, f.LastRequestAt = nil, 0, now.Add(s.cfg.CodeLifetime), now
		if err := tx.UpdateFlow(ctx, f); err != nil {
			return err
		}
		lang := c.Lang
		if lang == "" {
			lang = f.Lang
		}
		return tx.InsertRequest(ctx, Request{Channel: outbox.SMS, Identifier: f.Identifier, FlowID: f.ID, Lang: lang,
			IP: c.IP, UserAgent: c.UserAgent, CreatedAt: now})
	})
	if errors.Is(err, kilt.ErrNotFound) {
		return FlowInfo{}, gone
	}
	if err != nil {
		return FlowInfo{}, err
	}
	if !res.Allowed {
		s.cfg.refused(res)
		code := account.CodeRateLimited
		if len(res.Refused) == 0 {
			code = CodeResendTooSoon
		}
		return FlowInfo{}, kilt.E(kilt.KindRateLimited, code).WithRetryAfter(res.RetryAfter).
			WithDetails("resend_after", int((res.RetryAfter+time.Second-1)/time.Second))
	}
	return FlowInfo{ID: flowID, ResendAfter: s.cfg.ResendCooldown, ExpiresIn: s.cfg.CodeLifetime}, nil
}

// requestChecks are the request-path limits: the client's IP, and the identifier whether
// or not it has an account (keyed by a keyed hash, so the table never holds identifiers).
func (s *Service) requestChecks(c Client, identifier string) []ratelimit.Check {
	return append(ratelimit.ClientChecks(s.cfg.Limits.PerIP, c.IP),
		ratelimit.Check{Limit: s.cfg.Limits.PerIdentifier, Key: kilt.KeyedHash(s.limitKey, identifier)})
}

// failureKey is the key wrong codes of a number are counted under: a keyed hash, the same
// for a number with or without an account, so that neither the count nor its cost tells
// them apart and the table never holds numbers.
func failureKey(limitKey []byte, e164 string) string { return kilt.KeyedHash(limitKey, "p:"+e164) }

// verdict is what a code check decided.
type verdict int

const (
	verdictWrong verdict = iota
	verdictCorrect
	verdictGone
	verdictExpired
	verdictLimited
)

// Verify checks a code entered in a flow. A correct code gives a reset token that can only
// set the password, for ResetLifetime. A wrong one is 422 code_invalid with
// details.attempts_left; an expired code 410 code_expired; a flow that is unknown, expired,
// whose code was used up, or whose number is paused by wrong codes, 410 flow_gone; over
// the client's limit of checks, 429. A flow without an account answers exactly as one with
// an account answers a wrong code, and its failures count and pause alike.
func (s *Service) Verify(ctx context.Context, c Client, flowID, code string) (string, error) {
	if !kilt.WellFormedID(flowID) {
		return "", kilt.E(kilt.KindGone, CodeFlowGone)
	}
	if !kilt.WellFormedCode(code) {
		return "", kilt.E(kilt.KindInvalid, account.CodeCodeFormat)
	}
	token, hash, err := kilt.NewToken()
	if err != nil {
		return "", err
	}
	now := s.clock()
	mac := kilt.CodeMAC(s.codeKey, flowID, code)
	var v verdict
	var res ratelimit.Result
	var attempts int
	err = s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if res, err = tx.Take(ctx, ratelimit.ClientChecks(s.cfg.Limits.VerifyPerIP, c.IP), now); err != nil || !res.Allowed {
			v = verdictLimited
			return err
		}
		// The checks of one number are decided one after the other: its limit's row is
		// taken (and locked) before the flow's, so the count of wrong codes is exact.
		number, err := tx.FlowNumber(ctx, flowID)
		if err != nil {
			return err
		}
		key := failureKey(s.limitKey, number)
		if res, err = tx.Take(ctx, []ratelimit.Check{{Limit: s.cfg.Limits.VerifyPerNumber, Key: key}}, now); err != nil || !res.Allowed {
			v = verdictLimited
			return err
		}
		f, err := tx.Flow(ctx, flowID)
		if err != nil {
			return err
		}
		if !now.Before(f.ExpiresAt) {
			v = verdictGone
			return nil
		}
		// While the number is paused no code is checked: the pause bounds the guesses of
		// every flow of the number together, not of each.
		failures, err := tx.CodeFailures(ctx, key, now.Add(-s.cfg.FailureWindow))
		if err != nil {
			return err
		}
		if failures >= s.cfg.AccountFailures {
			v = verdictGone
			return nil
		}
		otc := kilt.OneTimeCode{MAC: f.CodeMAC, Attempts: f.Attempts, ExpiresAt: f.CodeExpiresAt}
		if f.AccountID == 0 {
			otc.MAC = nil // a flow without an account can never succeed
		}
		switch kilt.CheckCode(&otc, mac, s.cfg.CodeAttempts, now) {
		case kilt.CodeSpent:
			v = verdictGone
			return nil
		case kilt.CodeExpired:
			v = verdictExpired
			return nil
		case kilt.CodeMatched:
			v = verdictCorrect
			// The code is spent; what it bought is a token that can only set the password.
			f.CodeMAC, f.Attempts, f.ExpiresAt = nil, otc.Attempts, now
			if err := tx.UpdateFlow(ctx, f); err != nil {
				return err
			}
			return tx.InsertToken(ctx, Token{Hash: hash, AccountID: f.AccountID, Purpose: PurposePhone,
				CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetLifetime)})
		}
		v, attempts = verdictWrong, otc.Attempts
		f.CodeMAC, f.Attempts = otc.MAC, otc.Attempts
		if err := tx.UpdateFlow(ctx, f); err != nil {
			return err
		}
		return s.countFailure(ctx, tx, f, key, failures+1, now)
	})
	switch {
	case errors.Is(err, kilt.ErrNotFound):
		return "", kilt.E(kilt.KindGone, CodeFlowGone)
	case err != nil:
		return "", err
	case v == verdictLimited:
		s.cfg.refused(res)
		return "", limited(res)
	case v == verdictGone:
		return "", kilt.E(kilt.KindGone, CodeFlowGone)
	case v == verdictExpired:
		return "", kilt.E(kilt.KindGone, CodeCodeExpired)
	case v == verdictCorrect:
		return token, nil
	}
	s.cfg.flow("sms", "code_failed")
	return "", kilt.E(kilt.KindRule, account.CodeCodeInvalid).WithDetails("attempts_left", max(s.cfg.CodeAttempts-attempts, 0))
}

// countFailure records a wrong code of flow f, whose number now has failures wrong codes
// within the window. At the limit, every live flow of the number ends and its account (if
// any) stops getting codes for PauseFor: the same work with or without an account.
func (s *Service) countFailure(ctx context.Context, tx Tx, f Flow, key string, failures int, now time.Time) error {
	if err := tx.PruneCodeFailures(ctx, key, now.Add(-s.cfg.FailureWindow)); err != nil {
		return err
	}
	if err := tx.AddCodeFailure(ctx, key, f.AccountID, now); err != nil {
		return err
	}
	if failures >= s.cfg.AccountFailures {
		if err := tx.EndFlows(ctx, f.Identifier, now); err != nil {
			return err
		}
		a, err := tx.AccountByPhone(ctx, f.Identifier)
		switch {
		case errors.Is(err, kilt.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := tx.PauseSMS(ctx, a.ID, now.Add(s.cfg.PauseFor)); err != nil {
				return err
			}
			if err := tx.Audit(ctx, audit.Event{Type: audit.SMSPaused, AccountID: a.ID, At: now,
				Detail: "too many wrong codes"}); err != nil {
				return err
			}
		}
	}
	return tx.Audit(ctx, audit.Event{Type: audit.CodeFailed, AccountID: f.AccountID, At: now})
}

// liveToken returns the live token with that hash, or kilt.ErrNotFound.
func (s *Service) liveToken(ctx context.Context, hash []byte) (Token, error) {
	var t Token
	now := s.clock()
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		t, err = tx.Token(ctx, hash)
		return err
	})
	if err == nil && !t.live(now) {
		err = kilt.ErrNotFound
	}
	return t, err
}

// Check reports, changing nothing, whether token can still set a password: nil, or 410
// link_invalid for an invalid, expired or used token (a page shows that at once instead of
// after the person typed a new password twice).
func (s *Service) Check(ctx context.Context, token string) error {
	if !kilt.WellFormedToken(token) {
		return kilt.E(kilt.KindGone, CodeLinkInvalid)
	}
	_, err := s.liveToken(ctx, kilt.HashToken(token))
	if errors.Is(err, kilt.ErrNotFound) {
		return kilt.E(kilt.KindGone, CodeLinkInvalid)
	}
	return err
}

// Reset sets a new password with a token: an e-mail link's or the reset token of a
// verified code. Invalid, expired and used tokens, and the tokens of a locked account, all
// get 410 link_invalid; a password the policy refuses gets 422 and leaves the token usable.
// The token is consumed in the same transaction as the new password (account.ResetPassword).
func (s *Service) Reset(ctx context.Context, c Client, token, pw, confirm string) error {
	gone := kilt.E(kilt.KindGone, CodeLinkInvalid)
	if !kilt.WellFormedToken(token) {
		return gone
	}
	hash := kilt.HashToken(token)
	t, err := s.liveToken(ctx, hash)
	if errors.Is(err, kilt.ErrNotFound) {
		return gone
	}
	if err != nil {
		return err
	}
	if err := s.accounts.ResetPassword(ctx, t.AccountID, hash, pw, confirm,
		account.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}); err != nil {
		return err
	}
	channel := "email"
	if t.Purpose == PurposePhone {
		channel = "sms"
	}
	s.cfg.flow(channel, "completed")
	return nil
}
