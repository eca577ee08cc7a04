package account

import (
	"context"
	"errors"
	"strconv"
	"time"

	"kilt"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/password"
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
	// FreezeURL is BASE_URL/freeze, the "this wasn't me" page of security notices.
	FreezeURL string
	// Deletion configures the deletion of accounts.
	Deletion DeletionConfig
	// EndSessions ends the account's sessions but except in tx when its password changes:
	// session.Service.EndAccount, which also revokes the account's single sign-on tokens and
	// tells the applications (back-channel logout). Nil deletes the session rows only.
	EndSessions func(ctx context.Context, tx Tx, accountID, except int64) error
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

// NumberCheck reports whether an SMS may go to an E.164 number at all (the allowed
// countries, a mobile number): sms.Guard.Check.
type NumberCheck func(e164 string) error

// ParseSMSPhone parses a number a code is to be sent to: 400 invalid_phone for one that is
// not a number, 400 phone_not_supported for one check says can never receive an SMS
// (toll-free, fixed-line, another country). Registration and recovery both ask it, so the
// two answer a number alike; the answer depends on the number alone, never on an account.
// A nil check allows every number.
func (s *Service) ParseSMSPhone(raw string, check NumberCheck) (string, error) {
	e164, err := s.ParsePhone(raw)
	if err != nil {
		return "", err
	}
	if check != nil && check(e164) != nil {
		return "", kilt.E(kilt.KindInvalid, CodePhoneNotSupported)
	}
	return e164, nil
}

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
	now := s.clock()
	h, err := s.policy.NewPassword(ctx, s.hasher, s.pepper, n.Password, n.Confirm, a.subject(nil), now)
	if err != nil {
		return nil, err
	}
	a.PasswordHash = h.PasswordHash
	a.CreatedAt, a.UpdatedAt, a.PasswordChangedAt = now, now, now
	if err := s.store.InTx(ctx, func(tx Tx) error { return insertAccount(ctx, tx, a, h) }); err != nil {
		return nil, err
	}
	return a, nil
}

// insertAccount inserts a in tx: 409 identifier_taken when an identifier has an account.
func insertAccount(ctx context.Context, tx Tx, a *Account, h password.HistoryEntry) error {
	err := tx.InsertAccount(ctx, a, h)
	if kilt.ErrorKind(err) == kilt.KindConflict {
		return kilt.Errorf(kilt.KindConflict, CodeIdentifierTaken, "identifier already has an account")
	}
	return err
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
	a, err := s.checkCurrentPassword(ctx, accountID, current)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, a, passwordChange{keepSessionID: keepSessionID,
		audit: audit.Event{Type: audit.PasswordChanged, IP: c.IP, UserAgent: c.UserAgent}}, pw, confirm, c.Lang)
}

// ResetPassword sets pw for the account with a recovery token (its hash), which the change
// consumes in its own transaction: 410 link_invalid if the token was used meanwhile, or if
// the account is gone or locked; 422 if the policy refuses pw (the token stays usable).
// Every session ends; no one is signed in by it.
func (s *Service) ResetPassword(ctx context.Context, accountID int64, tokenHash []byte, pw, confirm string, c Client) error {
	a, err := s.store.AccountByID(ctx, accountID)
	if errors.Is(err, kilt.ErrNotFound) || (err == nil && a.Locked) {
		return kilt.E(kilt.KindGone, CodeLinkInvalid)
	}
	if err != nil {
		return err
	}
	return s.setPassword(ctx, a, passwordChange{tokenHash: tokenHash,
		audit: audit.Event{Type: audit.PasswordReset, IP: c.IP, UserAgent: c.UserAgent}}, pw, confirm, c.Lang)
}

// passwordChange is what differs between a signed-in change and a reset.
type passwordChange struct {
	keepSessionID int64  // the session that made the change (0: none)
	tokenHash     []byte // the recovery token that allows it (nil: a signed-in change)
	audit         audit.Event
}

// setPassword applies the policy to pw for account a (the hashing outside any
// transaction), then stores it in one transaction with everything a new password means:
// the recovery token that allowed it consumed (single use); the history entry added and
// the history trimmed to the policy's size; every other link and code of the account
// killed; every session but the one that made the change ended; the sign-in slow-down
// cleared; the notices queued; the audit event recorded.
func (s *Service) setPassword(ctx context.Context, a *Account, change passwordChange, pw, confirm, lang string) error {
	history, err := s.store.PasswordHistory(ctx, a.ID, s.policy.HistorySize)
	if err != nil {
		return err
	}
	now := s.clock()
	// The policy, the history check and the new hashes: at most 3 Argon2id computations
	// (2 over a keyed history), whatever the history holds (password.Policy.NewPassword).
	h, err := s.policy.NewPassword(ctx, s.hasher, s.pepper, pw, confirm, a.subject(history), now)
	if err != nil {
		return err
	}
	gone := kilt.E(kilt.KindGone, CodeLinkInvalid)
	return s.store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.AccountByID(ctx, a.ID)
		if err != nil {
			return err
		}
		if change.tokenHash != nil {
			// A lock that came after the check above still wins.
			if cur.Locked {
				return gone
			}
			purpose, err := tx.TokenPurpose(ctx, change.tokenHash)
			if errors.Is(err, kilt.ErrNotFound) {
				return gone
			} else if err != nil {
				return err
			}
			if err := tx.UseToken(ctx, change.tokenHash, a.ID, now); errors.Is(err, kilt.ErrNotFound) {
				return gone
			} else if err != nil {
				return err
			}
			// A reset through a channel verified before the frozen event lifts the freeze;
			// one through another channel sets the password and leaves the account frozen.
			if cur.Frozen() && lifts(cur, purpose) {
				if err := tx.Unfreeze(ctx, a.ID, now); err != nil {
					return err
				}
				if err := tx.Audit(ctx, audit.Event{Type: audit.AccountUnfrozen, AccountID: a.ID, At: now,
					IP: change.audit.IP, UserAgent: change.audit.UserAgent, Detail: "reset through " + resetChannels[purpose]}); err != nil {
					return err
				}
			}
		}
		if err := tx.UpdatePassword(ctx, a.ID, h.PasswordHash, now); err != nil {
			return err
		}
		if err := tx.AddHistory(ctx, a.ID, h, s.policy.HistorySize); err != nil {
			return err
		}
		// Every outstanding link and code of the account dies with the old password.
		if err := tx.UseAllTokens(ctx, a.ID, now); err != nil {
			return err
		}
		if err := tx.EndAccountFlows(ctx, a.ID, now); err != nil {
			return err
		}
		if err := s.endSessions(ctx, tx, a.ID, change.keepSessionID); err != nil {
			return err
		}
		if err := tx.ClearLoginThrottle(ctx, s.throttleKey(a, Identifier{})); err != nil {
			return err
		}
		notices, err := s.notices(ctx, tx, cur, change.audit.Type, lang, now)
		if err != nil {
			return err
		}
		for _, m := range notices {
			if err := tx.Enqueue(ctx, &m); err != nil {
				return err
			}
		}
		ev := change.audit
		ev.AccountID, ev.At = a.ID, now
		return tx.Audit(ctx, ev)
	})
}

// endSessions ends the account's sessions but except in tx (Config.EndSessions).
func (s *Service) endSessions(ctx context.Context, tx Tx, accountID, except int64) error {
	if s.cfg.EndSessions != nil {
		return s.cfg.EndSessions(ctx, tx, accountID, except)
	}
	if _, err := tx.DeleteSessions(ctx, accountID, except); err != nil {
		return err
	}
	return tx.DeleteOperatorSessions(ctx, accountID)
}

// notices are the "your password was changed" messages, one to every verified channel of
// the account. They carry the time and the freeze link, never a code or password.
func (s *Service) notices(ctx context.Context, tx Tx, a *Account, event, lang string, now time.Time) ([]outbox.Message, error) {
	return SecurityNotices(ctx, tx, a, s.cfg.FreezeURL, Notice{Kind: outbox.PasswordChanged, Event: event, Lang: lang, At: now,
		Payload: func(link string) outbox.Payload {
			return outbox.PasswordChangedPayload{Time: now, RecoveryURL: s.cfg.RecoveryURL, FreezeURL: link}
		}})
}
