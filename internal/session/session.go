// Package session signs people in and out and says who is signed in, for the pages, the API
// and the command line alike. A session is named by a random 32-byte token that the browser
// holds in a cookie or an API client sends as a bearer token; the database holds only the
// token's SHA-256, so a dump of it signs nobody in. A session ends when it is idle longer
// than the idle timeout, when it reaches its absolute lifetime (ended on its next use, or by
// the retention job's sweep, EndTimedOut, if it is never used again), on sign-out, on sign-out
// everywhere, when the account's password changes, and when the account is frozen ("this
// wasn't me", freeze.go). Reauthenticate asks a session's password again for the changes
// that need it (valid 5 minutes).
//
// There is one way for sessions to end, whichever domain ends them: Service.EndAccount (and
// the single-session end inside this package), in the caller's transaction, which tells the
// single sign-on provider (Config.Provider) so that the sessions' tokens are revoked and the
// applications that had them get a back-channel logout in that same transaction. A domain
// whose transaction ends sessions embeds EndTx in its own Tx.
//
// Every rule lives here and runs in one transaction of the Store port: counting a sign-in
// attempt, the slow-down, rotating the session at sign-in, upgrading a weak hash, and the
// audit event of each step. The properties and the tests that prove them are listed in
// docs/security.md (sections "Hashing", "Rate limits", "Sessions").
package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
)

// Error codes of sign-in and sessions.
const (
	// CodeUnauthorized is the error code of a missing, unknown or expired session.
	CodeUnauthorized       = kilt.CodeUnauthorized
	CodeInvalidCredentials = "invalid_credentials"
	CodeLoginThrottled     = account.CodeLoginThrottled // also a change of password's slow-down
	CodeAccountLocked      = "account_locked"
	// CodeAccountFrozen: the account was frozen ("this wasn't me"); recover the password.
	CodeAccountFrozen    = account.CodeAccountFrozen
	CodePasswordRequired = account.CodePasswordRequired
	// CodeRateLimited: the client IP made too many sign-in attempts.
	CodeRateLimited = "rate_limited"
)

// Session is one signed-in browser or API client.
type Session struct {
	ID         int64
	AccountID  int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end of the session, whatever its activity.
	ExpiresAt time.Time
	IP        string
	UserAgent string
	// ReauthAt is when the session last gave the account's password again (zero: never).
	ReauthAt time.Time
}

// Throttle is the sign-in slow-down state of one key: how many sign-ins failed in a row and
// when the last one did.
type Throttle struct {
	Failures     int
	LastFailedAt time.Time
}

// Store is the one port of the session domain: it runs fn in a transaction, committing
// when fn returns nil and rolling back otherwise. fn must not call InTx again.
type Store interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	// ReadSession reads the session of tokenHash and its account outside any transaction
	// (on SQLite without waiting for the writers): kilt.ErrNotFound when there is no such
	// session, a nil account when its account is gone.
	ReadSession(ctx context.Context, tokenHash []byte) (*Session, *account.Account, error)
	// StartSession is a successful sign-in's writes, atomically: it forgets the slow-down
	// keys (as Tx.DeleteThrottles, taking their rows in the same order), inserts s with the
	// hash of its token, setting s.ID, and records e. A key named twice is an error and
	// changes nothing. On PostgreSQL one statement, without BEGIN and COMMIT.
	StartSession(ctx context.Context, keys []string, s *Session, tokenHash []byte, e audit.Event) error
}

// Tx is what one transaction of the session domain may do: row operations only. Lookups
// return kilt.ErrNotFound for a missing row; every other error is a storage error.
type Tx interface {
	AccountByID(ctx context.Context, id int64) (*account.Account, error)
	// AccountByEmailKey looks an account up by account.EmailKey of its address.
	AccountByEmailKey(ctx context.Context, key string) (*account.Account, error)
	AccountByPhone(ctx context.Context, e164 string) (*account.Account, error)
	// UpdatePasswordHash replaces the account's hash only if it is still oldHash and
	// reports whether it did (a concurrent change of password wins over an upgrade).
	UpdatePasswordHash(ctx context.Context, accountID int64, oldHash, newHash string, now time.Time) (bool, error)
	// ReplaceHistoryEntry replaces the account's history entries whose password hash is
	// oldHash by e (their creation time is kept).
	ReplaceHistoryEntry(ctx context.Context, accountID int64, oldHash string, e password.HistoryEntry) error
	// SetLocked sets the account's locked flag; kilt.ErrNotFound if there is no account.
	SetLocked(ctx context.Context, accountID int64, locked bool, now time.Time) error
	// UseAllTokens marks every unused link and reset token of the account used at now.
	UseAllTokens(ctx context.Context, accountID int64, now time.Time) error
	// EndAccountFlows ends every live recovery flow of the account: no code, expired at now.
	EndAccountFlows(ctx context.Context, accountID int64, now time.Time) error

	// ThrottlesForUpdate returns the states of keys, in their order (zero for a key with
	// none), and locks them until the transaction ends, so concurrent attempts on one key are
	// counted one after the other; two transactions taking the same keys in any order must
	// not deadlock. A key named twice is an error. One statement, whatever the number of keys.
	ThrottlesForUpdate(ctx context.Context, keys []string) ([]Throttle, error)
	// AttemptState is what a sign-in attempt reads before its password is checked: the
	// account id names (nil if none, looked up as AccountByEmailKey or AccountByPhone) and
	// ThrottlesForUpdate(keys), in one statement on a database that can (one round trip
	// fewer per sign-in), else in two.
	AttemptState(ctx context.Context, id account.Identifier, keys []string) (*account.Account, []Throttle, error)
	// PutThrottles stores ts[i] as the state of keys[i]; DeleteThrottles forgets the keys.
	// One statement each, whatever the number of keys.
	PutThrottles(ctx context.Context, keys []string, ts []Throttle) error
	DeleteThrottles(ctx context.Context, keys []string) error
	// TakeLimits applies rate limits atomically (ratelimit.Store.Take in this transaction).
	TakeLimits(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error)

	// InsertSession inserts s with the hash of its token, setting s.ID.
	InsertSession(ctx context.Context, s *Session, tokenHash []byte) error
	SessionByTokenHash(ctx context.Context, tokenHash []byte) (*Session, error)
	TouchSession(ctx context.Context, id int64, seen time.Time) error
	// DeleteSession deletes one session and reports whether it existed.
	DeleteSession(ctx context.Context, id int64) (bool, error)
	// SessionIDs lists the ids of the account's sessions.
	SessionIDs(ctx context.Context, accountID int64) ([]int64, error)
	// DeleteEndedSessions deletes at most limit sessions whose absolute end is at or before
	// expiredBy or that were last seen at or before seenBy, and returns them. Two
	// transactions at once never return the same session, and neither waits for the rows
	// the other holds (on PostgreSQL it passes over them; SQLite serialises writers).
	DeleteEndedSessions(ctx context.Context, expiredBy, seenBy time.Time, limit int) ([]Session, error)
	EndTx
	// AccountSessions returns every session of the account, oldest first.
	AccountSessions(ctx context.Context, accountID int64) ([]Session, error)

	RecordAudit(ctx context.Context, e audit.Event) error

	// SetReauth records that session id gave its password again at t.
	SetReauth(ctx context.Context, id int64, t time.Time) error
	// UseFreezeToken marks the unused, unexpired freeze token with that hash used at now and
	// returns it, or kilt.ErrNotFound (of two transactions racing for one token, one finds it).
	UseFreezeToken(ctx context.Context, hash []byte, now time.Time) (account.FreezeToken, error)
	// CompletedChannelChanges returns the account's completed, unreverted channel changes
	// completed at or after since, newest first.
	CompletedChannelChanges(ctx context.Context, accountID int64, since time.Time) ([]account.ChannelChange, error)
	// RevertChannelChange sets the account's channel of ch's kind to value (verified or not;
	// "" clears it) and marks ch reverted at now.
	RevertChannelChange(ctx context.Context, accountID int64, ch account.ChannelChange, value string, verified bool, now time.Time) error
	// KillAccountSecrets ends the account's pending channel changes, its unused freeze
	// tokens and its unused slip codes at now.
	KillAccountSecrets(ctx context.Context, accountID int64, now time.Time) error
	// KillSlips marks the account's unused slip codes (the desk's) used at now.
	KillSlips(ctx context.Context, accountID int64, now time.Time) error
	// EndChannelChanges ends the account's pending channel changes: no token, no code.
	EndChannelChanges(ctx context.Context, accountID int64, now time.Time) error
	// CancelDeletion deletes the account's pending deletion and reports whether there was
	// one (a freeze cancels it).
	CancelDeletion(ctx context.Context, accountID int64) (bool, error)
	// SetFrozen freezes the account at now, trusting the channels named in trust.
	SetFrozen(ctx context.Context, accountID int64, now time.Time, trust string) error
	// Enqueue queues a message in the outbox (the freeze's notice).
	Enqueue(ctx context.Context, m *outbox.Message) error
}

// EndTx is what ending an account's sessions needs of a transaction: the session rows, and
// what the single sign-on provider needs to revoke their tokens and tell the applications
// (oidc.LogoutTx). Every domain whose transaction ends sessions — a password change or
// reset, an operator's action, a freeze, a deletion — embeds it in its own Tx and calls
// Service.EndAccount in that transaction: there is one way for sessions to end.
type EndTx interface {
	// DeleteSessions deletes every session of the account but except (0: none) and returns
	// the ids of those it deleted.
	DeleteSessions(ctx context.Context, accountID, except int64) ([]int64, error)
	// DeleteOperatorSessions deletes the account's console sessions (an operator's).
	DeleteOperatorSessions(ctx context.Context, accountID int64) error
	oidc.LogoutTx
}

// Provider is the single sign-on provider (oidc.Service), told of every end of a session in
// the transaction that ends it: it revokes the sessions' tokens (all of the account's when
// wholeAccount) and queues the back-channel logout messages.
type Provider interface {
	SessionsEnded(ctx context.Context, tx oidc.LogoutTx, accountID int64, sessionIDs []int64, wholeAccount bool) error
}

// Config holds the lifetimes of sessions and the limits of sign-in.
type Config struct {
	IdleTimeout     time.Duration // default 30 min
	AbsoluteTimeout time.Duration // default 12 h
	// PhoneRegion is the default country of phone numbers written without one ("KZ").
	PhoneRegion string
	// Secret is the server secret; the service derives its keys from it.
	Secret []byte
	// PerClient slows down failed sign-ins of one identifier from one client (IP, or /64
	// for IPv6); PerIdentifier is the higher ceiling over all clients. See DefaultConfig.
	PerClient, PerIdentifier SlowDown
	// PerIP limits sign-in attempts of one client IP before any password is hashed.
	PerIP ratelimit.Limit
	// OnLimit, if set, is called with a limit's name when it refuses (a metric).
	OnLimit func(name string)
	// Provider, if set, is told of every end of a session (single sign-on).
	Provider Provider
	// RecoveryURL is the recovery page the notice of a freeze points to.
	RecoveryURL string
}

// DefaultConfig returns the defaults: sessions idle 30 min, 12 h at most; 5 free failures
// per identifier and client, then 1 s doubling up to 15 min; a ceiling of 50 failures per
// identifier over all clients with the same doubling; 30 attempts per client IP a minute.
func DefaultConfig() Config {
	return Config{
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, PhoneRegion: "KZ",
		PerClient:     SlowDown{Free: 5, Base: time.Second, Max: 15 * time.Minute, Window: 24 * time.Hour},
		PerIdentifier: SlowDown{Free: 50, Base: time.Second, Max: 15 * time.Minute, Window: 24 * time.Hour},
		PerIP:         ratelimit.Limit{Name: "login_ip", Count: 30, Period: time.Minute},
	}
}

// touchEvery limits how often a session's last-seen time is written: a request stream from
// one client costs one write a minute, not one per request. Idle expiry is so exact to a
// minute, on the safe side never (the check uses the stored time).
const touchEvery = time.Minute

// Client describes who asks, for the audit trail and the limits.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
}

// Service signs people in and out and says who is signed in.
type Service struct {
	store  Store
	hasher *password.Hasher
	policy password.Policy
	clock  kilt.Clock
	cfg    Config
	pepper []byte // keys password-history skeleton hashes
	idKey  []byte // keys the slow-down keys
	// listKey keys the public ids of sessions (list.go).
	listKey []byte
}

// NewService returns a Service; zero fields of cfg take DefaultConfig's values (a zero
// PerIP limit switches the per-IP limit off only when its Name is set).
func NewService(store Store, hasher *password.Hasher, policy password.Policy, clock kilt.Clock, cfg Config) *Service {
	d := DefaultConfig()
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = d.IdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = d.AbsoluteTimeout
	}
	if cfg.PhoneRegion == "" {
		cfg.PhoneRegion = d.PhoneRegion
	}
	if cfg.PerClient == (SlowDown{}) {
		cfg.PerClient = d.PerClient
	}
	if cfg.PerIdentifier == (SlowDown{}) {
		cfg.PerIdentifier = d.PerIdentifier
	}
	if cfg.PerIP.Name == "" {
		cfg.PerIP = d.PerIP
	}
	return &Service{store: store, hasher: hasher, policy: policy, clock: clock, cfg: cfg,
		pepper: kilt.DeriveKey(cfg.Secret, "password-history"),
		idKey:  kilt.DeriveKey(cfg.Secret, "login-throttle"), listKey: kilt.DeriveKey(cfg.Secret, "session-id")}
}

// unauthorized is the answer for a missing, unknown, expired or ended session.
func unauthorized() error { return kilt.E(kilt.KindUnauthorized, CodeUnauthorized) }

// Current returns the live session a token names and its account, refreshing the session's
// idle timer. A malformed, unknown, idle or expired token gets 401 unauthorized (an expired
// session is deleted on the way), and so does a session whose account is gone. A locked
// account's session gets 403 account_locked, on every surface: the session is kept, so an
// operator's unlock restores it, but nothing may be done with it meanwhile but sign out.
func (s *Service) Current(ctx context.Context, token string) (*Session, *account.Account, error) {
	if !kilt.WellFormedToken(token) {
		return nil, nil, unauthorized()
	}
	// A signed-in request reads; it writes only to end a dead session or, at most once every
	// touchEvery, to record that the session was seen (what the idle timeout counts from).
	sess, acct, err := s.store.ReadSession(ctx, kilt.HashToken(token))
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, nil, unauthorized()
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.clock()
	// A frozen account has no sessions (Freeze ends them in its transaction): one found here
	// was read before that committed, and ends as well.
	if acct == nil || s.ended(sess, now) || acct.Frozen() {
		return nil, nil, s.endSession(ctx, sess)
	}
	if acct.Locked {
		return nil, nil, kilt.E(kilt.KindForbidden, CodeAccountLocked)
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.InTx(ctx, func(tx Tx) error { return tx.TouchSession(ctx, sess.ID, now) }); err != nil {
			return nil, nil, err
		}
		sess.LastSeenAt = now
	}
	return sess, acct, nil
}

// ended reports whether sess has passed its absolute or idle lifetime at now.
func (s *Service) ended(sess *Session, now time.Time) bool {
	return !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.IdleTimeout))
}

// EndTimedOut ends at most limit sessions that timed out — idle for the idle timeout or past
// their absolute lifetime — and were not used again (a session used after its end is ended
// by Current on the way), in one transaction, and reports how many ended. Each ends through
// the one end path: deleted, its tokens revoked, and a back-channel logout queued for each
// application that had it, so no application keeps a session its citizen no longer has. The
// retention job calls it each round, batch after batch until one comes back short; several
// instances may at once, and each session is ended, and each logout queued, by one of them.
// No audit event is recorded: a timeout is nobody's act, and Current's end records none.
func (s *Service) EndTimedOut(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.store.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		// ended's rule, for the store: at or past the absolute end, or last seen an idle
		// timeout ago or more. Cut at the microsecond both databases keep, downwards, so that
		// the store's rounding never takes a session ended does not call ended.
		cut := now.Truncate(time.Microsecond)
		gone, err := tx.DeleteEndedSessions(ctx, cut, cut.Add(-s.cfg.IdleTimeout), limit)
		if err != nil {
			return err
		}
		n = len(gone)
		var accounts []int64
		ids := map[int64][]int64{}
		for i := range gone {
			sess := &gone[i]
			if !s.ended(sess, now) {
				// The store deleted a live session: undo it all rather than sign anyone out.
				return fmt.Errorf("session: the store ended session %d, which is live", sess.ID)
			}
			if ids[sess.AccountID] == nil {
				accounts = append(accounts, sess.AccountID)
			}
			ids[sess.AccountID] = append(ids[sess.AccountID], sess.ID)
		}
		for _, a := range accounts {
			if err := s.tell(ctx, tx, a, ids[a], false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// endSession deletes a session found dead and returns the answer for it (401), or the
// storage error of deleting it.
func (s *Service) endSession(ctx context.Context, sess *Session) error {
	if err := s.store.InTx(ctx, func(tx Tx) error { _, err := s.end(ctx, tx, sess.AccountID, sess.ID); return err }); err != nil {
		return err
	}
	return unauthorized()
}

// end ends one session of the account in tx — every end of a single session goes through
// here — and reports whether it was still there: the provider revokes its tokens and tells
// the applications that had it.
func (s *Service) end(ctx context.Context, tx Tx, accountID, id int64) (bool, error) {
	ok, err := tx.DeleteSession(ctx, id)
	if err != nil || !ok {
		return ok, err
	}
	return true, s.tell(ctx, tx, accountID, []int64{id}, false)
}

// EndAccount ends every session of the account but except (0: none) in tx, a transaction of
// any domain that ends sessions (see EndTx), and reports how many ended. Every token the
// provider issued to the account is revoked, and each application that had one of the
// sessions gets a back-channel logout message, in the same transaction. The caller records
// its own audit event.
func (s *Service) EndAccount(ctx context.Context, tx EndTx, accountID, except int64) (int64, error) {
	return s.endAllBut(ctx, tx, accountID, except, true)
}

// endAllBut ends every session of the account but except in tx and reports how many ended;
// wholeAccount revokes every token of the account as well (its credentials changed, or an
// operator acted on it), otherwise the tokens of the ended sessions only (a session kept,
// signing the others out, keeps its applications). An operator's console sessions are
// among the others, whichever session is kept: a password changed or reset, a sign-out
// everywhere or of the other sessions, a freeze or a desk action ends them too.
func (s *Service) endAllBut(ctx context.Context, tx EndTx, accountID, except int64, wholeAccount bool) (int64, error) {
	ids, err := tx.DeleteSessions(ctx, accountID, except)
	if err != nil {
		return 0, err
	}
	if err := tx.DeleteOperatorSessions(ctx, accountID); err != nil {
		return 0, err
	}
	return int64(len(ids)), s.tell(ctx, tx, accountID, ids, wholeAccount)
}

// tell tells the provider, if any, that sessions ended.
func (s *Service) tell(ctx context.Context, tx oidc.LogoutTx, accountID int64, ids []int64, wholeAccount bool) error {
	if s.cfg.Provider == nil || (len(ids) == 0 && !wholeAccount) {
		return nil
	}
	return s.cfg.Provider.SessionsEnded(ctx, tx, accountID, ids, wholeAccount)
}

// live returns the live session token names in tx, or the answer for there being none
// (401 unauthorized); an expired session is deleted on the way. err is a storage error.
func (s *Service) live(ctx context.Context, tx Tx, token string) (sess *Session, answer, err error) {
	if !kilt.WellFormedToken(token) {
		return nil, unauthorized(), nil
	}
	sess, err = tx.SessionByTokenHash(ctx, kilt.HashToken(token))
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, unauthorized(), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if s.ended(sess, s.clock()) {
		_, err = s.end(ctx, tx, sess.AccountID, sess.ID)
		return nil, unauthorized(), err
	}
	return sess, nil, nil
}

// IdleExpiresAt is when the session ends if it is not used again.
func (s *Service) IdleExpiresAt(sess *Session) time.Time {
	t := sess.LastSeenAt.Add(s.cfg.IdleTimeout)
	if sess.ExpiresAt.Before(t) {
		return sess.ExpiresAt
	}
	return t
}

// SignOut ends the session token names (sign out) and records it in the audit trail, in
// one transaction: 401 unauthorized if there is no live session. A locked account's session
// may sign out too: it only takes access away.
func (s *Service) SignOut(ctx context.Context, token string, c Client) error {
	var answer error
	err := s.store.InTx(ctx, func(tx Tx) error {
		sess, a, err := s.live(ctx, tx, token)
		if answer = a; err != nil || a != nil {
			return err
		}
		if _, err := s.end(ctx, tx, sess.AccountID, sess.ID); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.event(audit.SessionRevoked, sess.AccountID, c, ""))
	})
	if err != nil {
		return err
	}
	return answer
}

// End ends the session id of the account (an end that does not come with the session's token:
// an application's end_session request), recording it in the same transaction. A session
// that has already ended is nothing to do.
func (s *Service) End(ctx context.Context, id, accountID int64, c Client) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		ok, err := s.end(ctx, tx, accountID, id)
		if err != nil || !ok {
			return err
		}
		return tx.RecordAudit(ctx, s.event(audit.SessionRevoked, accountID, c, ""))
	})
}

// SignOutAll ends every session of the account whose session token names (sign out
// everywhere), records it in the audit trail in the same transaction, and reports how many
// sessions ended: 401 unauthorized if there is no live session. A locked account may too.
func (s *Service) SignOutAll(ctx context.Context, token string, c Client) (int64, error) {
	var n int64
	var answer error
	err := s.store.InTx(ctx, func(tx Tx) error {
		sess, a, err := s.live(ctx, tx, token)
		if answer = a; err != nil || a != nil {
			return err
		}
		if n, err = s.EndAccount(ctx, tx, sess.AccountID, 0); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.event(audit.SessionsRevokedAll, sess.AccountID, c, strconv.FormatInt(n, 10)+" sessions"))
	})
	if err != nil {
		return 0, err
	}
	return n, answer
}

// SetLocked locks or unlocks an account (an operator's action) and records it, with by
// saying who did it, in one transaction. A locked account cannot sign in, and its open
// sessions answer 403 account_locked until it is unlocked; for the applications of single
// sign-on they end at the lock (their tokens revoked, a back-channel logout sent), and an
// unlock does not bring the tokens back. Locking also kills every link,
// reset token and code of the account for good (the desk's slip codes and the codes and
// links of pending channel changes included), so a link issued before the lock does not
// work again after an unlock (docs/security.md, "Registration, recovery and password
// change"). It returns kilt.ErrNotFound if there is no such account.
func (s *Service) SetLocked(ctx context.Context, accountID int64, locked bool, by string) error {
	typ := audit.AccountUnlocked
	if locked {
		typ = audit.AccountLocked
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		now := s.clock()
		if err := tx.SetLocked(ctx, accountID, locked, now); err != nil {
			return err
		}
		if locked {
			if err := tx.UseAllTokens(ctx, accountID, now); err != nil {
				return err
			}
			if err := tx.EndAccountFlows(ctx, accountID, now); err != nil {
				return err
			}
			if err := tx.KillSlips(ctx, accountID, now); err != nil {
				return err
			}
			if err := tx.EndChannelChanges(ctx, accountID, now); err != nil {
				return err
			}
			// The sessions are kept (suspended), but for the applications they end: every
			// token of the account is revoked for good and each application that had one of
			// the sessions gets its back-channel logout.
			ids, err := tx.SessionIDs(ctx, accountID)
			if err != nil {
				return err
			}
			if err := s.tell(ctx, tx, accountID, ids, true); err != nil {
				return err
			}
		}
		return tx.RecordAudit(ctx, s.event(typ, accountID, Client{}, by))
	})
}

// event is an audit event of now about the account, from c.
func (s *Service) event(typ string, accountID int64, c Client, detail string) audit.Event {
	return audit.Event{Type: typ, AccountID: accountID, IP: c.IP, UserAgent: c.UserAgent, Detail: detail, At: s.clock()}
}
