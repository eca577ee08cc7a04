package account

import (
	"context"
	"crypto/hmac"
	"errors"
	"time"

	"kilt"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
)

// Error codes of registration.
const (
	CodeRegistrationInvalid = "registration_invalid" // unknown, expired, used or superseded
	CodeChannelRequired     = "channel_required"     // neither or both of email and phone
	CodePhoneNotSupported   = "phone_not_supported"  // not a mobile number of an allowed country
	CodeCodeInvalid         = "code_invalid"
	CodeCodeFormat          = "code_format"
)

// Registration is a registration waiting for its identifier to be confirmed.
type Registration struct {
	ID         string
	Channel    outbox.Channel
	Identifier string // normalised e-mail or E.164
	// PasswordHash and SkeletonHash become the account's password and first history entry.
	PasswordHash string
	SkeletonHash string
	Lang         string
	TokenHash    []byte // e-mail: the confirmation link's token
	CodeMAC      []byte // phone: the code
	Attempts     int
	// Duplicate: the identifier already had an account. Such a registration answers like
	// any other and can never be completed; its owner was told to recover instead.
	Duplicate bool
	CreatedAt time.Time
	ExpiresAt time.Time
}

// RegistrationStore is what registration needs from storage.
type RegistrationStore interface {
	// Take applies rate-limit checks (all or nothing).
	Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error)
	// Register records r and enqueues one message, in one transaction: fresh when r's
	// identifier has no account, else dup (and r is marked Duplicate, its token and code
	// dropped). The work is the same either way.
	Register(ctx context.Context, r *Registration, fresh, dup outbox.Message, ev audit.Event) error
	// Complete finds the live registration by token hash (e-mail) and creates its account,
	// verified, in one transaction. kilt.ErrNotFound when there is none; kind conflict when
	// the identifier got an account meanwhile.
	CompleteByToken(ctx context.Context, tokenHash []byte, now time.Time, ev audit.Event) (*Account, error)
	// VerifyCode checks a code within one transaction holding the registration: check
	// decides (true: create the account, verified); a wrong code counts an attempt. It returns
	// the account (nil when wrong), the registration as it is after the attempt, and
	// kilt.ErrNotFound for an unknown, expired or completed registration.
	VerifyCode(ctx context.Context, id string, now time.Time, check func(r Registration) bool, ev audit.Event) (*Account, Registration, error)
}

// RegistrationConfig holds registration's lifetimes and limits.
type RegistrationConfig struct {
	LinkLifetime time.Duration // 24 h: a confirmation link
	CodeLifetime time.Duration // 10 min: a confirmation code
	CodeAttempts int           // 5
	PerIP        ratelimit.Limit
	// PerIdentifier counts registrations of an identifier whether or not it has an account.
	PerIdentifier ratelimit.Limit
	// SMSNumberHour and SMSNumberDay are shared with recovery (same names, same keys).
	SMSNumberHour ratelimit.Limit
	SMSNumberDay  ratelimit.Limit
	ConfirmURL    string // BASE_URL/register/confirm
	RecoveryURL   string // BASE_URL/recovery
	Secret        []byte
	// OnLimit, when set, is told the name of every limit that refused something (metrics).
	OnLimit func(name string)
	// OnFlow, when set, is told of registrations started and completed ("registration",
	// channel, "started"|"completed") and of wrong codes.
	OnFlow func(flow, channel, event string)
}

func (c RegistrationConfig) flow(channel outbox.Channel, event string) {
	if c.OnFlow != nil {
		c.OnFlow("registration", string(channel), event)
	}
}

// Registrations registers new accounts, enumeration-safe: a taken identifier gets the same
// answer as a free one, and its owner a "you already have an account" message.
type Registrations struct {
	store   RegistrationStore
	hasher  *password.Hasher
	policy  password.Policy
	clock   kilt.Clock
	cfg     RegistrationConfig
	accts   *Service
	check   func(e164 string) error
	wake    outbox.Waker
	codeKey []byte
	keys    []byte
	pepper  []byte
}

// NewRegistrations returns the registration service. check tells whether an SMS may go to a
// number (nil: any).
func NewRegistrations(store RegistrationStore, accts *Service, clock kilt.Clock, cfg RegistrationConfig,
	check func(e164 string) error, wake outbox.Waker) *Registrations {
	if cfg.LinkLifetime <= 0 {
		cfg.LinkLifetime = 24 * time.Hour
	}
	if cfg.CodeLifetime <= 0 {
		cfg.CodeLifetime = 10 * time.Minute
	}
	if cfg.CodeAttempts <= 0 {
		cfg.CodeAttempts = 5
	}
	return &Registrations{store: store, hasher: accts.hasher, policy: accts.policy, clock: clock, cfg: cfg,
		accts: accts, check: check, wake: wake,
		codeKey: kilt.DeriveKey(cfg.Secret, "registration-code"), keys: ratelimit.IdentifierKey(cfg.Secret),
		pepper: accts.pepper}
}

// Register starts a registration with an e-mail address or a phone number (exactly one)
// and a password. It returns the registration's id and channel; 400 for a malformed or
// unsupported identifier, 422 for a password the policy refuses, 429 over the limits of
// the IP or the identifier.
func (g *Registrations) Register(ctx context.Context, c Client, email, phone, pw, confirm string) (string, outbox.Channel, error) {
	if (email == "") == (phone == "") {
		return "", "", kilt.E(kilt.KindInvalid, CodeChannelRequired)
	}
	r := &Registration{Lang: c.Lang}
	var subject password.Subject
	var limitKey string
	if email != "" {
		addr, err := ParseEmail(email)
		if err != nil {
			return "", "", err
		}
		r.Channel, r.Identifier, subject.Email, limitKey = outbox.Email, addr, addr, "e:"+EmailKey(addr)
	} else {
		e164, err := g.accts.ParsePhone(phone)
		if err != nil {
			return "", "", err
		}
		if g.check != nil && g.check(e164) != nil {
			return "", "", kilt.E(kilt.KindInvalid, CodePhoneNotSupported)
		}
		r.Channel, r.Identifier, subject.Phone, limitKey = outbox.SMS, e164, e164, "p:"+e164
	}
	if err := g.policy.Validate(ctx, g.hasher, g.pepper, pw, confirm, subject); err != nil {
		return "", "", err
	}
	// The limits come before the hashing, so a client over them costs no Argon2id work. They
	// apply to taken and free identifiers alike.
	key := kilt.KeyedHash(g.keys, limitKey)
	checks := append(ratelimit.ClientChecks(g.cfg.PerIP, c.IP), ratelimit.Check{Limit: g.cfg.PerIdentifier, Key: key})
	if r.Channel == outbox.SMS {
		checks = append(checks, ratelimit.Check{Limit: g.cfg.SMSNumberHour, Key: key}, ratelimit.Check{Limit: g.cfg.SMSNumberDay, Key: key})
	}
	res, err := g.store.Take(ctx, checks, g.clock())
	if err != nil {
		return "", "", err
	}
	if !res.Allowed {
		if g.cfg.OnLimit != nil {
			for _, n := range res.Refused {
				g.cfg.OnLimit(n)
			}
		}
		return "", "", kilt.E(kilt.KindRateLimited, "rate_limited").WithRetryAfter(res.RetryAfter)
	}
	// The password is hashed for a taken identifier too: the same work, the same time.
	hash, err := g.hasher.Hash(ctx, pw)
	if err != nil {
		return "", "", err
	}
	now := g.clock()
	h, err := g.hasher.NewHistoryEntry(ctx, g.pepper, pw, hash, now)
	if err != nil {
		return "", "", err
	}
	if r.ID, err = kilt.NewID(); err != nil {
		return "", "", err
	}
	r.PasswordHash, r.SkeletonHash, r.CreatedAt = hash, h.SkeletonHash, now
	fresh := outbox.Message{Channel: r.Channel, Lang: c.Lang, To: r.Identifier, CreatedAt: now}
	if r.Channel == outbox.Email {
		token, tokenHash, err := kilt.NewToken()
		if err != nil {
			return "", "", err
		}
		r.TokenHash, r.ExpiresAt = tokenHash, now.Add(g.cfg.LinkLifetime)
		fresh.Kind = outbox.RegistrationLink
		fresh.SetPayload(outbox.LinkPayload{Link: g.cfg.ConfirmURL + "?token=" + token, Lifetime: g.cfg.LinkLifetime})
	} else {
		code, err := kilt.NewCode()
		if err != nil {
			return "", "", err
		}
		r.CodeMAC, r.ExpiresAt = kilt.CodeMAC(g.codeKey, r.ID, code), now.Add(g.cfg.CodeLifetime)
		fresh.Kind = outbox.RegistrationCode
		fresh.SetPayload(outbox.CodePayload{Code: code, Lifetime: g.cfg.CodeLifetime})
	}
	dup := outbox.Message{Channel: r.Channel, Kind: outbox.AlreadyRegistered, Lang: c.Lang, To: r.Identifier, CreatedAt: now}
	dup.SetPayload(outbox.AlreadyRegisteredPayload{RecoveryURL: g.cfg.RecoveryURL})
	ev := audit.Event{Type: audit.RegistrationRequested, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: string(r.Channel)}
	if err := g.store.Register(ctx, r, fresh, dup, ev); err != nil {
		return "", "", err
	}
	g.cfg.flow(r.Channel, "started")
	g.wake.Wake()
	return r.ID, r.Channel, nil
}

// Confirm completes an e-mail registration with its link's token: the account is created
// with its address verified. Unknown, expired, used and superseded links all get 410
// registration_invalid.
func (g *Registrations) Confirm(ctx context.Context, c Client, token string) (*Account, error) {
	gone := kilt.E(kilt.KindGone, CodeRegistrationInvalid)
	if !kilt.WellFormedToken(token) {
		return nil, gone
	}
	now := g.clock()
	a, err := g.store.CompleteByToken(ctx, kilt.HashToken(token), now,
		audit.Event{Type: audit.RegistrationCompleted, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: "email"})
	if errors.Is(err, kilt.ErrNotFound) || kilt.ErrorKind(err) == kilt.KindConflict {
		return nil, gone
	}
	if err == nil {
		g.cfg.flow(outbox.Email, "completed")
	}
	return a, err
}

// Verify completes a phone registration with its code: the account is created with its
// number verified. A wrong code is 422 code_invalid with details.attempts_left (a taken
// number's registration answers every code so); after the last attempt, or for an unknown
// or expired registration, 410 registration_invalid.
func (g *Registrations) Verify(ctx context.Context, c Client, id, code string) (*Account, error) {
	gone := kilt.E(kilt.KindGone, CodeRegistrationInvalid)
	if !kilt.WellFormedID(id) {
		return nil, gone
	}
	if !kilt.WellFormedCode(code) {
		return nil, kilt.E(kilt.KindInvalid, CodeCodeFormat)
	}
	now := g.clock()
	mac := kilt.CodeMAC(g.codeKey, id, code)
	a, r, err := g.store.VerifyCode(ctx, id, now, func(r Registration) bool {
		return r.Attempts < g.cfg.CodeAttempts && !r.Duplicate && r.CodeMAC != nil && hmac.Equal(r.CodeMAC, mac)
	}, audit.Event{Type: audit.RegistrationCompleted, IP: c.IP, UserAgent: c.UserAgent, At: now, Detail: "sms"})
	switch {
	case errors.Is(err, kilt.ErrNotFound), kilt.ErrorKind(err) == kilt.KindConflict:
		return nil, gone
	case err != nil:
		return nil, err
	case a != nil:
		g.cfg.flow(outbox.SMS, "completed")
		return a, nil
	case r.Attempts > g.cfg.CodeAttempts:
		return nil, gone
	}
	g.cfg.flow(outbox.SMS, "code_failed")
	return nil, kilt.E(kilt.KindRule, CodeCodeInvalid).WithDetails("attempts_left", g.cfg.CodeAttempts-r.Attempts)
}
