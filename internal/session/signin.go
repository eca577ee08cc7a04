package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"
	"unicode/utf8"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
)

// SlowDown says how sign-in failures slow a key down: the first Free failures cost nothing,
// then each further failure makes the next attempt wait Base·2^(n−Free), at most Max; a
// key's count starts again Window after its last failure.
type SlowDown struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// wait reports how long from now the key must wait before its next attempt (0 for none).
func (c SlowDown) wait(t Throttle, now time.Time) time.Duration {
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

// count adds a failure to t at now.
func (c SlowDown) count(t Throttle, now time.Time) Throttle {
	if now.Sub(t.LastFailedAt) >= c.Window {
		t.Failures = 0
	}
	t.Failures++
	t.LastFailedAt = now
	return t
}

// SignedIn is the result of a sign-in: the new session, its token (shown to the client once,
// never stored) and the account.
type SignedIn struct {
	Session *Session
	Token   string
	Account *account.Account
}

// SignIn checks an identifier and password and starts a session. It answers an unknown
// identifier and a wrong password alike (401 invalid_credentials) after the same work; a
// client over the per-IP limit gets 429 rate_limited, an identifier slowed down by failures
// 429 login_throttled with the seconds to wait, known or not; a locked account with the
// right password gets 403 account_locked. On success the session that oldToken names, if
// any, ends and a new one starts (a token planted before sign-in is worth nothing after
// it); a hash below the configured cost is upgraded, its history entry with it.
func (s *Service) SignIn(ctx context.Context, rawIdentifier, pw, oldToken string, c Client) (*SignedIn, error) {
	return s.signIn(ctx, rawIdentifier, pw, oldToken, c, false)
}

// CheckPassword checks an identifier and password for the service-centre console, whose
// session is of its own kind: everything SignIn does — the per-IP limit, the slow-down
// counted before the check (so wrong passwords here slow the identifier down everywhere),
// the shared hashing pool, the dummy hash and the timing equalisation for an unknown
// identifier, the same answers, the upgrade of a weak hash — but no citizen session starts
// and none ends. A failure is audited as a failed console sign-in; the console records its
// own success once its second factor is checked. It returns the account.
func (s *Service) CheckPassword(ctx context.Context, rawIdentifier, pw string, c Client) (*account.Account, error) {
	in, err := s.signIn(ctx, rawIdentifier, pw, "", c, true)
	if err != nil {
		return nil, err
	}
	return in.Account, nil
}

// signIn is SignIn, or with console CheckPassword.
func (s *Service) signIn(ctx context.Context, rawIdentifier, pw, oldToken string, c Client, console bool) (*SignedIn, error) {
	id, err := account.ParseIdentifier(rawIdentifier, s.cfg.PhoneRegion)
	if err != nil {
		return nil, err
	}
	if pw == "" {
		return nil, kilt.E(kilt.KindInvalid, CodePasswordRequired)
	}
	// No valid password is longer than the policy allows: refuse before any hashing so a
	// huge password cannot buy expensive work.
	if utf8.RuneCountInString(pw) > s.policy.MaxLength {
		return nil, kilt.E(kilt.KindRule, string(password.TooLong)).
			WithDetails("violations", []string{string(password.TooLong)})
	}
	keys := s.throttleKeys(id, c.IP)
	a, err := s.countAttempt(ctx, id, c.IP, keys)
	if err != nil {
		return nil, err
	}

	// The password is checked outside any transaction: hashing takes milliseconds, and a
	// transaction holds locks (on SQLite, the database's write lock) meanwhile.
	hctx := password.WithClient(ctx, clientKey(c.IP))
	var ok, rehash bool
	if a == nil {
		// Same cost as a real verification, so timing does not tell the identifier is
		// unknown; and under overload the same 503 a real verification would get.
		err = s.hasher.DummyVerify(hctx, pw)
	} else {
		ok, rehash, err = s.hasher.Verify(hctx, pw, a.PasswordHash)
	}
	if err != nil {
		return nil, s.uncount(ctx, keys, err)
	}
	var upgrade *password.HistoryEntry
	var newHash string
	if ok && rehash && !a.Locked && !a.Frozen() {
		newHash, upgrade = s.upgradedHash(hctx, pw)
	}

	if a != nil && ok && !a.Locked && !a.Frozen() && upgrade == nil && !console && !kilt.WellFormedToken(oldToken) {
		// The common success — no weak hash to replace, no earlier session to end — is the
		// transaction below in one call of the store: the keys forgotten, the session
		// started, the sign-in recorded (on PostgreSQL one statement, no BEGIN and COMMIT).
		sess, token, hash, err := s.newSession(a.ID, c)
		if err != nil {
			return nil, err
		}
		if err := s.store.StartSession(ctx, keys, sess, hash, s.event(audit.LoginSucceeded, a.ID, c, "")); err != nil {
			return nil, err
		}
		return &SignedIn{Session: sess, Token: token, Account: a}, nil
	}

	var out *SignedIn
	var answer error
	err = s.store.InTx(ctx, func(tx Tx) error {
		ev := s.event(audit.LoginFailed, 0, c, "")
		if console {
			ev.Type = audit.ConsoleSignInFailed
		}
		switch {
		case a == nil:
			ev.Detail = "unknown " + id.Mask()
			answer = kilt.E(kilt.KindUnauthorized, CodeInvalidCredentials)
			return tx.RecordAudit(ctx, ev)
		case !ok:
			ev.AccountID, ev.Detail = a.ID, "wrong password"
			answer = kilt.E(kilt.KindUnauthorized, CodeInvalidCredentials)
			return tx.RecordAudit(ctx, ev)
		}
		// The right password: the failures of this identifier are forgotten.
		if err := tx.DeleteThrottles(ctx, keys); err != nil {
			return err
		}
		if a.Locked {
			ev.AccountID, ev.Detail = a.ID, "account locked"
			answer = kilt.E(kilt.KindForbidden, CodeAccountLocked)
			return tx.RecordAudit(ctx, ev)
		}
		if a.Frozen() {
			ev.AccountID, ev.Detail = a.ID, "account frozen"
			answer = frozen()
			return tx.RecordAudit(ctx, ev)
		}
		if upgrade != nil {
			// The weak hash goes, and with it the history entry of the same password: left
			// there, it would still give the password to whoever cracks it.
			done, err := tx.UpdatePasswordHash(ctx, a.ID, a.PasswordHash, newHash, s.clock())
			if err != nil {
				return err
			}
			if done {
				if err := tx.ReplaceHistoryEntry(ctx, a.ID, a.PasswordHash, *upgrade); err != nil {
					return err
				}
				a.PasswordHash = newHash
			}
		}
		if console {
			out = &SignedIn{Account: a}
			return nil
		}
		if err := s.endOld(ctx, tx, oldToken); err != nil {
			return err
		}
		sess, token, err := s.insert(ctx, tx, a.ID, c)
		if err != nil {
			return err
		}
		out = &SignedIn{Session: sess, Token: token, Account: a}
		ev.Type, ev.AccountID = audit.LoginSucceeded, a.ID
		return tx.RecordAudit(ctx, ev)
	})
	if err != nil {
		return nil, err
	}
	if answer != nil {
		return nil, answer
	}
	return out, nil
}

// upgradedHash hashes pw at the configured cost with its history entry. A failure (a busy
// pool) must not fail the sign-in: the old hash still verifies, and the next sign-in tries
// again. It returns a nil entry then.
func (s *Service) upgradedHash(ctx context.Context, pw string) (string, *password.HistoryEntry) {
	// The history is not read here: the key gets a salt of its own, which the account's
	// later entries then share (password.Hasher.NewHistoryEntry).
	e, err := s.hasher.NewHistoryEntry(ctx, s.pepper, pw, nil, s.clock())
	if err != nil {
		return "", nil
	}
	return e.PasswordHash, &e
}

// endOld ends the session oldToken names, whoever's it is.
func (s *Service) endOld(ctx context.Context, tx Tx, oldToken string) error {
	if !kilt.WellFormedToken(oldToken) {
		return nil
	}
	old, err := tx.SessionByTokenHash(ctx, kilt.HashToken(oldToken))
	if errors.Is(err, kilt.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.end(ctx, tx, old.AccountID, old.ID)
	return err
}

// newSession is a new session of the account, not yet stored, with its token and the
// token's hash.
func (s *Service) newSession(accountID int64, c Client) (*Session, string, []byte, error) {
	token, hash, err := kilt.NewToken()
	if err != nil {
		return nil, "", nil, err
	}
	now := s.clock()
	sess := &Session{
		AccountID: accountID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.cfg.AbsoluteTimeout), IP: c.IP, UserAgent: kilt.Truncate(c.UserAgent, 512),
	}
	return sess, token, hash, nil
}

// insert starts a session for the account in tx.
func (s *Service) insert(ctx context.Context, tx Tx, accountID int64, c Client) (*Session, string, error) {
	sess, token, hash, err := s.newSession(accountID, c)
	if err != nil {
		return nil, "", err
	}
	if err := tx.InsertSession(ctx, sess, hash); err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// countAttempt applies the per-IP limit, then counts a sign-in attempt on every slow-down
// key before the password is checked — so a burst of parallel guesses is counted in full —
// or refuses it while a key must wait. It returns the account the identifier names (nil if
// none). A success clears the count afterwards.
func (s *Service) countAttempt(ctx context.Context, id account.Identifier, ip string, keys []string) (*account.Account, error) {
	var a *account.Account
	var answer error
	now := s.clock()
	err := s.store.InTx(ctx, func(tx Tx) error {
		if s.cfg.PerIP.Enabled() {
			res, err := tx.TakeLimits(ctx, ratelimit.ClientChecks(s.cfg.PerIP, ip), now)
			if err != nil {
				return err
			}
			if !res.Allowed {
				if s.cfg.OnLimit != nil {
					s.cfg.OnLimit(s.cfg.PerIP.Name)
				}
				answer = kilt.E(kilt.KindRateLimited, CodeRateLimited).WithRetryAfter(res.RetryAfter)
				return nil
			}
		}
		var states []Throttle
		var err error
		a, states, err = tx.AttemptState(ctx, id, keys)
		if err != nil {
			return err
		}
		var wait time.Duration
		for i := range keys {
			if a != nil && states[i].LastFailedAt.Before(a.PasswordChangedAt) {
				// Failures before the password changed guessed at another password: a
				// reset gives its owner a fresh start.
				states[i] = Throttle{}
			}
			wait = max(wait, s.slowDown(i).wait(states[i], now))
		}
		if wait > 0 {
			answer = kilt.E(kilt.KindRateLimited, CodeLoginThrottled).WithRetryAfter(wait)
			return nil
		}
		for i := range states {
			states[i] = s.slowDown(i).count(states[i], now)
		}
		return tx.PutThrottles(ctx, keys, states)
	})
	if err != nil {
		return nil, err
	}
	return a, answer
}

// uncount takes back the attempt counted on keys when its password was never checked (the
// hashing pool was busy): an overloaded service must not slow honest people down, and an
// attempt that checked nothing gave an attacker nothing. It returns err.
func (s *Service) uncount(ctx context.Context, keys []string, err error) error {
	_ = s.store.InTx(ctx, func(tx Tx) error {
		states, err := tx.ThrottlesForUpdate(ctx, keys)
		if err != nil {
			return err
		}
		for i := range states {
			states[i].Failures = max(states[i].Failures-1, 0)
		}
		return tx.PutThrottles(ctx, keys, states)
	})
	return err
}

// slowDown is the rule of the i-th key of throttleKeys.
func (s *Service) slowDown(i int) SlowDown {
	if i == 0 {
		return s.cfg.PerClient
	}
	return s.cfg.PerIdentifier
}

// throttleKeys are the slow-down keys of a sign-in with id from ip: the identifier from that
// client, then the identifier from anywhere (the ceiling). Both are keyed hashes of the
// identifier, never the account: a known and an unknown identifier are slowed down alike,
// and the e-mail and the phone of one account are slowed down separately, so that a 429 on
// one after failures on the other cannot tell that both belong to one account. The table so
// never holds identifiers people merely typed.
func (s *Service) throttleKeys(id account.Identifier, ip string) []string {
	return []string{s.mac("c:", id.Key()+"\x00"+clientKey(ip)), s.mac("i:", id.Key())}
}

func (s *Service) mac(prefix, v string) string {
	m := hmac.New(sha256.New, s.idKey)
	m.Write([]byte(v))
	return prefix + hex.EncodeToString(m.Sum(nil)[:16])
}

// clientKey is what one client is, for the slow-down and the hashing pool's fair share: its
// IPv4 address, or the /64 of its IPv6 address (one subscriber's network gets a /64, so the
// addresses within it are one client).
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
