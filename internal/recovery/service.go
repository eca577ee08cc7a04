package recovery

import (
	"context"
	"crypto/hmac"
	"errors"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
)

// Service runs the recovery flows.
type Service struct {
	store    Store
	accounts *account.Service
	clock    kilt.Clock
	cfg      Config
	codeKey  []byte
	limitKey []byte
	// wake tells the processor a request is waiting.
	wake outbox.Waker
}

// NewService returns a Service. wake is told of every recorded request (the Processor).
func NewService(store Store, accounts *account.Service, clock kilt.Clock, cfg Config, wake outbox.Waker) *Service {
	cfg = cfg.withDefaults()
	return &Service{store: store, accounts: accounts, clock: clock, cfg: cfg, wake: wake,
		codeKey: kilt.DeriveKey(cfg.Secret, "sms-code"), limitKey: ratelimit.IdentifierKey(cfg.Secret)}
}

// Config returns the configuration in force.
func (s *Service) Config() Config { return s.cfg }

// limited is the answer over a request-path limit: these limits apply to every identifier
// alike, so saying so reveals nothing about accounts.
func limited(res ratelimit.Result) error {
	return kilt.E(kilt.KindRateLimited, CodeRateLimited).WithRetryAfter(res.RetryAfter)
}

// RequestEmail records a request for a recovery link to email. It answers the same
// whether or not the address has an account: nil, or 400 for an address that is not one,
// or 429 over the limits of the client's IP or of the address.
func (s *Service) RequestEmail(ctx context.Context, c Client, email string) error {
	addr, err := account.ParseEmail(email)
	if err != nil {
		return err
	}
	now := s.clock()
	r := Request{Channel: outbox.Email, Identifier: addr, Lang: c.Lang, IP: c.IP, UserAgent: c.UserAgent, CreatedAt: now}
	res, err := s.store.Request(ctx, r, nil, s.requestChecks(c, "e:"+account.EmailKey(addr)), now)
	if err != nil {
		return err
	}
	if !res.Allowed {
		s.cfg.refused(res)
		return limited(res)
	}
	s.cfg.flow("email", "started")
	s.wake.Wake()
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
// same answer.
func (s *Service) RequestPhone(ctx context.Context, c Client, phone string) (FlowInfo, error) {
	e164, err := s.accounts.ParsePhone(phone)
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
	res, err := s.store.Request(ctx, r, f, s.requestChecks(c, "p:"+e164), now)
	if err != nil {
		return FlowInfo{}, err
	}
	if !res.Allowed {
		s.cfg.refused(res)
		return FlowInfo{}, limited(res)
	}
	s.cfg.flow("sms", "started")
	s.wake.Wake()
	return FlowInfo{ID: id, ResendAfter: s.cfg.ResendCooldown, ExpiresIn: s.cfg.CodeLifetime}, nil
}

// Resend asks for a new code in a flow, after the cool-down: 429 resend_too_soon with the
// seconds left before it, 410 flow_gone for an unknown or expired flow.
func (s *Service) Resend(ctx context.Context, c Client, flowID string) (FlowInfo, error) {
	if !kilt.WellFormedID(flowID) {
		return FlowInfo{}, kilt.E(kilt.KindGone, CodeFlowGone)
	}
	now := s.clock()
	r := Request{Channel: outbox.SMS, FlowID: flowID, Lang: c.Lang, IP: c.IP, UserAgent: c.UserAgent, CreatedAt: now}
	f, res, err := s.store.Resend(ctx, r, s.cfg.ResendCooldown, now.Add(s.cfg.CodeLifetime), ratelimit.ClientChecks(s.cfg.Limits.PerIP, c.IP), now)
	if errors.Is(err, kilt.ErrNotFound) {
		return FlowInfo{}, kilt.E(kilt.KindGone, CodeFlowGone)
	}
	if err != nil {
		return FlowInfo{}, err
	}
	if !res.Allowed {
		s.cfg.refused(res)
		code := CodeRateLimited
		if len(res.Refused) == 0 {
			code = CodeResendTooSoon
		}
		return FlowInfo{}, kilt.E(kilt.KindRateLimited, code).WithRetryAfter(res.RetryAfter).
			WithDetails("resend_after", int((res.RetryAfter+time.Second-1)/time.Second))
	}
	s.wake.Wake()
	return FlowInfo{ID: f.ID, ResendAfter: s.cfg.ResendCooldown, ExpiresIn: s.cfg.CodeLifetime}, nil
}

// requestChecks are the request-path limits: the client's IP, and the identifier whether
// or not it has an account (keyed by a keyed hash, so the table never holds identifiers).
func (s *Service) requestChecks(c Client, identifier string) []ratelimit.Check {
	return append(ratelimit.ClientChecks(s.cfg.Limits.PerIP, c.IP),
		ratelimit.Check{Limit: s.cfg.Limits.PerIdentifier, Key: kilt.KeyedHash(s.limitKey, identifier)})
}

// Verify checks a code entered in a flow. A correct code gives a reset token that can only
// set the password, for ResetLifetime. A wrong one is 422 code_invalid with
// details.attempts_left; an expired code 410 code_expired; a flow that is unknown, expired
// or whose code was used up, 410 flow_gone. A flow without an account answers exactly as
// one with an account answers a wrong code.
func (s *Service) Verify(ctx context.Context, c Client, flowID, code string) (string, error) {
	if !kilt.WellFormedID(flowID) {
		return "", kilt.E(kilt.KindGone, CodeFlowGone)
	}
	if !kilt.WellFormedCode(code) {
		return "", kilt.E(kilt.KindInvalid, CodeCodeFormat)
	}
	token, hash, err := kilt.NewToken()
	if err != nil {
		return "", err
	}
	now := s.clock()
	mac := kilt.CodeMAC(s.codeKey, flowID, code)
	var out VerifyOutcome
	f, err := s.store.Verify(ctx, flowID, now, s.cfg.AccountFailures, s.cfg.FailureWindow, s.cfg.PauseFor,
		func(f Flow) VerifyOutcome {
			switch {
			case !now.Before(f.ExpiresAt) || f.Attempts >= s.cfg.CodeAttempts:
				out = VerifyOutcome{Gone: true}
			case !now.Before(f.CodeExpiresAt):
				out = VerifyOutcome{Expired: true}
			case f.CodeMAC != nil && f.AccountID != 0 && hmac.Equal(f.CodeMAC, mac):
				out = VerifyOutcome{Correct: true, ResetTokenHash: hash, ResetExpires: now.Add(s.cfg.ResetLifetime)}
			default:
				out = VerifyOutcome{KillCode: f.Attempts+1 >= s.cfg.CodeAttempts}
			}
			return out
		})
	switch {
	case errors.Is(err, kilt.ErrNotFound):
		return "", kilt.E(kilt.KindGone, CodeFlowGone)
	case err != nil:
		return "", err
	case out.Gone:
		return "", kilt.E(kilt.KindGone, CodeFlowGone)
	case out.Expired:
		return "", kilt.E(kilt.KindGone, CodeCodeExpired)
	case out.Correct:
		return token, nil
	}
	s.cfg.flow("sms", "code_failed")
	return "", kilt.E(kilt.KindRule, CodeWrongCode).WithDetails("attempts_left", max(s.cfg.CodeAttempts-f.Attempts, 0))
}

// Check reports, changing nothing, whether token can still set a password: nil, or 410
// link_invalid for an invalid, expired or used token (a page shows that at once instead of
// after the person typed a new password twice).
func (s *Service) Check(ctx context.Context, token string) error {
	if !kilt.WellFormedToken(token) {
		return kilt.E(kilt.KindGone, CodeLinkInvalid)
	}
	_, _, err := s.store.TokenAccount(ctx, kilt.HashToken(token), s.clock())
	if errors.Is(err, kilt.ErrNotFound) {
		return kilt.E(kilt.KindGone, CodeLinkInvalid)
	}
	return err
}

// Reset sets a new password with a token: an e-mail link's or the reset token of a
// verified code. Invalid, expired and used tokens all get 410 link_invalid; a password the
// policy refuses gets 422 and leaves the token usable. The token is consumed in the same
// transaction as the new password, which also ends every session and every other link and
// code of the account and sends the "password changed" notice.
func (s *Service) Reset(ctx context.Context, c Client, token, pw, confirm string) error {
	gone := kilt.E(kilt.KindGone, CodeLinkInvalid)
	if !kilt.WellFormedToken(token) {
		return gone
	}
	hash := kilt.HashToken(token)
	accountID, purpose, err := s.store.TokenAccount(ctx, hash, s.clock())
	if errors.Is(err, kilt.ErrNotFound) {
		return gone
	}
	if err != nil {
		return err
	}
	a, err := s.accounts.ByID(ctx, accountID)
	if errors.Is(err, kilt.ErrNotFound) {
		return gone
	}
	if err != nil {
		return err
	}
	if err := s.accounts.ResetPassword(ctx, a, hash, pw, confirm, account.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}); err != nil {
		return err
	}
	channel := "email"
	if purpose == PurposePhone {
		channel = "sms"
	}
	s.cfg.flow(channel, "completed")
	return nil
}

// Codes of malformed input.
const (
	CodeCodeFormat  = "code_format"
	CodeCodeExpired = "code_expired"
)
