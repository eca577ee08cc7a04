package account

import (
	"context"
	"strconv"
	"time"
	"unicode/utf8"

	"kilt"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/password"
)

// Error codes of the account services.
const (
	CodeLoginThrottled   = "login_throttled"
	CodeIdentifierTaken  = "identifier_taken"
	CodeWrongPassword    = "current_password_incorrect"
	CodePasswordRequired = "password_required"
)

// ThrottleConfig says how sign-in failures slow a key down: the first Free failures cost
// nothing, then each further failure makes the next attempt wait Base·2^(n−Free), at most
// Max; a key's count starts again Window after its last failure.
type ThrottleConfig struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// DefaultThrottle is 5 free failures, then 1 s doubling up to 15 min, forgotten after 24 h.
func DefaultThrottle() ThrottleConfig {
	return ThrottleConfig{Free: 5, Base: time.Second, Max: 15 * time.Minute, Window: 24 * time.Hour}
}

// wait reports how long from now the key must wait before its next attempt (0 for none).
func (c ThrottleConfig) wait(t Throttle, now time.Time) time.Duration {
	if t.Failures < c.Free || now.Sub(t.LastFailedAt) >= c.Window {
		return 0
	}
	d := c.Max
	if shift := t.Failures - c.Free; shift < 30 {
		if b := c.Base << shift; b > 0 && b < c.Max {
			d = b
		}
	}
	return t.LastFailedAt.Add(d).Sub(now)
}

// Config is what the account services need to know.
type Config struct {
	// PhoneRegion is the default country of phone numbers written without one ("KZ").
	PhoneRegion string
	Throttle    ThrottleConfig
	// Secret is the server secret; the services derive their keys from it.
	Secret []byte
	// RecoveryURL is the recovery page that "password changed" notices point to.
	RecoveryURL string
}

// Service creates accounts, signs people in and changes passwords.
type Service struct {
	store  Store
	audit  audit.Store
	hasher *password.Hasher
	policy password.Policy
	clock  kilt.Clock
	cfg    Config
	pepper []byte // keys password-history skeleton hashes
}

// NewService returns a Service. Sign-ins are recorded in trail.
func NewService(store Store, trail audit.Store, hasher *password.Hasher, policy password.Policy, clock kilt.Clock, cfg Config) *Service {
	if cfg.PhoneRegion == "" {
		cfg.PhoneRegion = "KZ"
	}
	if cfg.Throttle == (ThrottleConfig{}) {
		cfg.Throttle = DefaultThrottle()
	}
	return &Service{
		store: store, audit: trail, hasher: hasher, policy: policy, clock: clock, cfg: cfg,
		pepper: kilt.DeriveKey(cfg.Secret, "password-history"),
	}
}

// Policy returns the password policy the service enforces.
func (s *Service) Policy() password.Policy { return s.policy }

// ParseIdentifier parses an identifier with the service's default phone region.
func (s *Service) ParseIdentifier(raw string) (Identifier, error) {
	return ParseIdentifier(raw, s.cfg.PhoneRegion)
}

// ParsePhone parses a phone number with the service's default region.
func (s *Service) ParsePhone(raw string) (string, error) { return ParsePhone(raw, s.cfg.PhoneRegion) }

// NewAccount is what an operator (or, verified later, a person registering) gives to create
// an account. At least one of Email and Phone is set; they are parsed by Add.
type NewAccount struct {
	Email, Phone      string
	EmailVerified     bool
	PhoneVerified     bool
	Password, Confirm string
	Lang              string
}

// Add validates n against the password policy and creates the account. It returns a
// *kilt.Error: invalid for a malformed identifier, rule (422) for a policy violation,
// conflict (identifier_taken) when an identifier already has an account.
func (s *Service) Add(ctx context.Context, n NewAccount) (*Account, error) {
	a := &Account{EmailVerified: n.EmailVerified, PhoneVerified: n.PhoneVerified, Lang: n.Lang}
	var err error
	if n.Email == "" && n.Phone == "" {
		return nil, kilt.Errorf(kilt.KindInvalid, CodeInvalidIdentifier, "an e-mail address or a phone number is required")
	}
	if n.Email != "" {
		if a.Email, err = ParseEmail(n.Email); err != nil {
			return nil, err
		}
	}
	if n.Phone != "" {
		if a.Phone, err = s.ParsePhone(n.Phone); err != nil {
			return nil, err
		}
	}
	if err := s.policy.Validate(ctx, s.hasher, s.pepper, n.Password, n.Confirm, a.subject(nil)); err != nil {
		return nil, err
	}
	now := s.clock()
	a.PasswordHash, err = s.hasher.Hash(ctx, n.Password)
	if err != nil {
		return nil, err
	}
	h, err := s.hasher.NewHistoryEntry(ctx, s.pepper, n.Password, a.PasswordHash, now)
	if err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt, a.PasswordChangedAt = now, now, now
	if err := s.store.CreateAccount(ctx, a, h); err != nil {
		return nil, err
	}
	return a, nil
}

// Lookup returns the account an identifier names, or kilt.ErrNotFound.
func (s *Service) Lookup(ctx context.Context, id Identifier) (*Account, error) {
	if id.Kind == Email {
		return s.store.AccountByEmail(ctx, id.Key())
	}
	return s.store.AccountByPhone(ctx, id.Value)
}

// ByID returns the account with the given ID, or kilt.ErrNotFound.
func (s *Service) ByID(ctx context.Context, id int64) (*Account, error) {
	return s.store.AccountByID(ctx, id)
}

// Recent returns the account's newest n audit events, newest first.
func (s *Service) Recent(ctx context.Context, accountID int64, n int) ([]audit.Event, error) {
	return s.audit.Recent(ctx, accountID, n)
}

// countAttempt counts a sign-in attempt before the password is checked — so a burst of
// parallel guesses is counted in full — or refuses it while the key must wait. A success
// clears the count afterwards.
func (s *Service) countAttempt(ctx context.Context, key string) error {
	now := s.clock()
	return s.store.UpdateLoginThrottle(ctx, key, func(t *Throttle) error {
		if wait := s.cfg.Throttle.wait(*t, now); wait > 0 {
			return kilt.E(kilt.KindRateLimited, CodeLoginThrottled).WithRetryAfter(wait)
		}
		if now.Sub(t.LastFailedAt) >= s.cfg.Throttle.Window {
			t.Failures = 0
		}
		t.Failures++
		t.LastFailedAt = now
		return nil
	})
}

// uncount takes back the attempt counted for key when its password was never checked (the
// hashing pool was busy): an overloaded service must not slow honest people down, and an
// attempt that checked nothing gave an attacker nothing. It returns err.
func (s *Service) uncount(ctx context.Context, key string, err error) error {
	_ = s.store.UpdateLoginThrottle(ctx, key, func(t *Throttle) error {
		t.Failures = max(t.Failures-1, 0)
		return nil
	})
	return err
}

// throttleKey is the slow-down key of a signed-in account's password checks (change of
// password). Sign-in has its own keys (package session).
func (s *Service) throttleKey(a *Account, _ Identifier) string {
	return "a:" + strconv.FormatInt(a.ID, 10)
}

// ChangePassword changes the password of a signed-in account after checking the current
// one: the policy applies (history included), every other session of the account is
// revoked, and keepSessionID stays signed in. A wrong current password counts as a failed
// sign-in.
func (s *Service) ChangePassword(ctx context.Context, accountID, keepSessionID int64, current, pw, confirm string, c Client) error {
	if current == "" {
		return kilt.E(kilt.KindInvalid, CodePasswordRequired)
	}
	if utf8.RuneCountInString(current) > s.policy.MaxLength {
		return kilt.E(kilt.KindForbidden, CodeWrongPassword)
	}
	a, err := s.store.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	key := s.throttleKey(a, Identifier{})
	if err := s.countAttempt(ctx, key); err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, current, a.PasswordHash)
	if err != nil {
		return s.uncount(ctx, key, err)
	}
	if !ok {
		return kilt.E(kilt.KindForbidden, CodeWrongPassword)
	}
	if err := s.store.ClearLoginThrottle(ctx, key); err != nil {
		return err
	}
	return s.setPassword(ctx, a, PasswordChange{KeepSessionID: keepSessionID,
		Audit: audit.Event{Type: audit.PasswordChanged, IP: c.IP, UserAgent: c.UserAgent}}, pw, confirm, c.Lang)
}

// ResetPassword sets pw for account a with a recovery token (its hash), which the change
// consumes in its own transaction: 410 link_invalid if the token was used meanwhile, 422
// if the policy refuses pw (the token stays usable). Every session ends; no one is signed
// in by it.
func (s *Service) ResetPassword(ctx context.Context, a *Account, tokenHash []byte, pw, confirm string, c Client) error {
	return s.setPassword(ctx, a, PasswordChange{ConsumeTokenHash: tokenHash,
		Audit: audit.Event{Type: audit.PasswordReset, IP: c.IP, UserAgent: c.UserAgent}}, pw, confirm, c.Lang)
}

// setPassword applies the policy to pw for account a and stores it with its history entry
// and everything else change describes.
func (s *Service) setPassword(ctx context.Context, a *Account, change PasswordChange, pw, confirm, lang string) error {
	history, err := s.store.PasswordHistory(ctx, a.ID, s.policy.HistorySize)
	if err != nil {
		return err
	}
	if err := s.policy.Validate(ctx, s.hasher, s.pepper, pw, confirm, a.subject(history)); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	now := s.clock()
	h, err := s.hasher.NewHistoryEntry(ctx, s.pepper, pw, hash, now)
	if err != nil {
		return err
	}
	change.AccountID, change.Hash, change.History, change.HistorySize, change.Now = a.ID, hash, h, s.policy.HistorySize, now
	change.ThrottleKey = s.throttleKey(a, Identifier{})
	change.Notices = s.notices(a, lang, now)
	change.Audit.AccountID, change.Audit.At = a.ID, now
	return s.store.ChangePassword(ctx, change)
}

// notices are the "your password was changed" messages, one to every verified channel of
// the account. They carry the time and the way to recover, never a link, code or password.
func (s *Service) notices(a *Account, lang string, now time.Time) []outbox.Message {
	if lang == "" {
		lang = a.Lang
	}
	notice := func(ch outbox.Channel, to string) outbox.Message {
		m := outbox.Message{Channel: ch, Kind: outbox.PasswordChanged, Lang: lang, To: to, AccountID: a.ID, CreatedAt: now}
		m.SetPayload(outbox.PasswordChangedPayload{Time: now, RecoveryURL: s.cfg.RecoveryURL})
		return m
	}
	var out []outbox.Message
	if a.Email != "" && a.EmailVerified {
		out = append(out, notice(outbox.Email, a.Email))
	}
	if a.Phone != "" && a.PhoneVerified {
		out = append(out, notice(outbox.SMS, a.Phone))
	}
	return out
}
