package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"kilt"
	"kilt/internal/session"
)

// Sessions implements session.Store.
type Sessions struct{ db *DB }

// NewSessions returns the session store on db.
func NewSessions(db *DB) *Sessions { return &Sessions{db: db} }

var _ session.Store = (*Sessions)(nil)

// CreateSession implements session.Store.
func (s *Sessions) CreateSession(ctx context.Context, sess *session.Session, tokenHash []byte) error {
	// A write that returns a row goes through InTx, which queues SQLite writers in-process.
	return s.db.InTx(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at, ip, user_agent)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			tokenHash, sess.AccountID, sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt, sess.IP, sess.UserAgent).Scan(&sess.ID)
	})
}

// SessionByTokenHash implements session.Store.
func (s *Sessions) SessionByTokenHash(ctx context.Context, tokenHash []byte) (*session.Session, error) {
	var sess session.Session
	err := s.db.QueryRow(ctx, `SELECT id, account_id, created_at, last_seen_at, expires_at, ip, user_agent
		FROM sessions WHERE token_hash = $1`, tokenHash).Scan(&sess.ID, &sess.AccountID, TimeCol(&sess.CreatedAt),
		TimeCol(&sess.LastSeenAt), TimeCol(&sess.ExpiresAt), &sess.IP, &sess.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kilt.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return &sess, nil
}

// TouchSession implements session.Store.
func (s *Sessions) TouchSession(ctx context.Context, id int64, seen time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, seen, id)
	return err
}

// DeleteSession implements session.Store.
func (s *Sessions) DeleteSession(ctx context.Context, id int64) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return err
}

// DeleteAccountSessions implements session.Store.
func (s *Sessions) DeleteAccountSessions(ctx context.Context, accountID, except int64) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1 AND id <> $2`, accountID, except)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
