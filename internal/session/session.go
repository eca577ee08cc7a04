// Package session keeps server-side sessions. A session is named by a random 32-byte token
// that the browser holds in a cookie or an API client sends as a bearer token; the database
// holds only the token's SHA-256, so a dump of it signs nobody in. A session ends when it is
// idle longer than the idle timeout, when it reaches its absolute lifetime, on sign-out, on
// sign-out everywhere, and when the account's password changes.
package session

import (
	"context"
	"errors"
	"time"

	"kilt"
)

// CodeUnauthorized is the error code of a missing, unknown or expired session.
const CodeUnauthorized = kilt.CodeUnauthorized

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
}

// Store is what sessions need from storage.
type Store interface {
	// CreateSession inserts s with the hash of its token, setting s.ID.
	CreateSession(ctx context.Context, s *Session, tokenHash []byte) error
	// SessionByTokenHash returns the session or kilt.ErrNotFound.
	SessionByTokenHash(ctx context.Context, tokenHash []byte) (*Session, error)
	TouchSession(ctx context.Context, id int64, seen time.Time) error
	DeleteSession(ctx context.Context, id int64) error
	// DeleteAccountSessions deletes every session of the account but except (0: none) and
	// reports how many it deleted.
	DeleteAccountSessions(ctx context.Context, accountID, except int64) (int64, error)
}

// Config holds the lifetimes of SPEC §3.
type Config struct {
	IdleTimeout     time.Duration // default 30 min
	AbsoluteTimeout time.Duration // default 12 h
}

// touchEvery limits how often a session's last-seen time is written: a request stream from
// one client costs one write a minute, not one per request. Idle expiry is so exact to a
// minute, on the safe side never (the check uses the stored time).
const touchEvery = time.Minute

// Service creates, checks and ends sessions.
type Service struct {
	store Store
	clock kilt.Clock
	cfg   Config
}

// NewService returns a Service; zero lifetimes take the defaults.
func NewService(store Store, clock kilt.Clock, cfg Config) *Service {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	return &Service{store: store, clock: clock, cfg: cfg}
}

// Create starts a session for the account and returns it with its token, which is shown to
// the client once and never stored.
func (s *Service) Create(ctx context.Context, accountID int64, ip, userAgent string) (*Session, string, error) {
	token, hash, err := kilt.NewToken()
	if err != nil {
		return nil, "", err
	}
	now := s.clock()
	sess := &Session{
		AccountID: accountID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.cfg.AbsoluteTimeout), IP: ip, UserAgent: kilt.Truncate(userAgent, 512),
	}
	if err := s.store.CreateSession(ctx, sess, hash); err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// Authenticate returns the live session a token names, refreshing its idle timer. A
// malformed, unknown, idle or expired token gets 401 unauthorized; an expired session is
// deleted on the way.
func (s *Service) Authenticate(ctx context.Context, token string) (*Session, error) {
	if !kilt.WellFormedToken(token) {
		return nil, kilt.E(kilt.KindUnauthorized, CodeUnauthorized)
	}
	sess, err := s.store.SessionByTokenHash(ctx, kilt.HashToken(token))
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, kilt.E(kilt.KindUnauthorized, CodeUnauthorized)
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.IdleTimeout)) {
		if err := s.store.DeleteSession(ctx, sess.ID); err != nil {
			return nil, err
		}
		return nil, kilt.E(kilt.KindUnauthorized, CodeUnauthorized)
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return nil, err
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// IdleExpiresAt is when the session ends if it is not used again.
func (s *Service) IdleExpiresAt(sess *Session) time.Time {
	t := sess.LastSeenAt.Add(s.cfg.IdleTimeout)
	if sess.ExpiresAt.Before(t) {
		return sess.ExpiresAt
	}
	return t
}

// Revoke ends one session (sign out).
func (s *Service) Revoke(ctx context.Context, id int64) error { return s.store.DeleteSession(ctx, id) }

// RevokeAll ends every session of the account (sign out everywhere) and reports how many.
func (s *Service) RevokeAll(ctx context.Context, accountID int64) (int64, error) {
	return s.store.DeleteAccountSessions(ctx, accountID, 0)
}
