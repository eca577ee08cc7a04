package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/password"
)

// Accounts implements account.Store.
type Accounts struct{ db *DB }

// NewAccounts returns the account store on db.
func NewAccounts(db *DB) *Accounts { return &Accounts{db: db} }

var _ account.Store = (*Accounts)(nil)

const accountColumns = `id, email, email_verified, phone, phone_verified, password_hash, locked, lang,
	created_at, updated_at, password_changed_at, sms_paused_until`

// scanAccount is the one scan helper of accounts; its column order is accountColumns.
func scanAccount(row interface{ Scan(...any) error }) (*account.Account, error) {
	var a account.Account
	var email, phone sql.NullString
	var paused *time.Time
	err := row.Scan(&a.ID, &email, &a.EmailVerified, &phone, &a.PhoneVerified, &a.PasswordHash,
		&a.Locked, &a.Lang, TimeCol(&a.CreatedAt), TimeCol(&a.UpdatedAt), TimeCol(&a.PasswordChangedAt), NullTimeCol(&paused))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kilt.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	a.Email, a.Phone = email.String, phone.String
	if paused != nil {
		a.SMSPausedUntil = *paused
	}
	return &a, nil
}

// nullable stores "" as NULL, so that UNIQUE ignores accounts without that identifier.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateAccount implements account.Store.
func (s *Accounts) CreateAccount(ctx context.Context, a *account.Account, h password.HistoryEntry) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return insertAccount(ctx, tx, a, h) })
}

// insertAccount inserts a and its first history entry in tx, setting a.ID; a taken
// identifier is a *kilt.Error of kind conflict, code identifier_taken.
func insertAccount(ctx context.Context, tx *Tx, a *account.Account, h password.HistoryEntry) error {
	emailKey := ""
	if a.Email != "" {
		emailKey = account.EmailKey(a.Email)
	}
	err := tx.QueryRow(ctx, `INSERT INTO accounts (email, email_key, email_verified, phone, phone_verified,
		password_hash, locked, lang, created_at, updated_at, password_changed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		nullable(a.Email), nullable(emailKey), a.EmailVerified, nullable(a.Phone), a.PhoneVerified,
		a.PasswordHash, a.Locked, a.Lang, a.CreatedAt, a.UpdatedAt, a.PasswordChangedAt).Scan(&a.ID)
	if IsUniqueViolation(err) {
		return kilt.Errorf(kilt.KindConflict, account.CodeIdentifierTaken, "identifier already has an account")
	}
	if err != nil {
		return err
	}
	return insertHistory(ctx, tx, a.ID, h)
}

func insertHistory(ctx context.Context, q Querier, accountID int64, h password.HistoryEntry) error {
	_, err := q.Exec(ctx, `INSERT INTO password_history (account_id, password_hash, skeleton_hash, created_at)
		VALUES ($1, $2, $3, $4)`, accountID, h.PasswordHash, h.SkeletonHash, h.CreatedAt)
	return err
}

// AccountByID implements account.Store.
func (s *Accounts) AccountByID(ctx context.Context, id int64) (*account.Account, error) {
	return scanAccount(s.db.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
}

// AccountByEmail implements account.Store.
func (s *Accounts) AccountByEmail(ctx context.Context, key string) (*account.Account, error) {
	return scanAccount(s.db.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`, key))
}

// AccountByPhone implements account.Store.
func (s *Accounts) AccountByPhone(ctx context.Context, e164 string) (*account.Account, error) {
	return scanAccount(s.db.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE phone = $1`, e164))
}

// PasswordHistory implements account.Store.
func (s *Accounts) PasswordHistory(ctx context.Context, accountID int64, n int) ([]password.HistoryEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT password_hash, skeleton_hash, created_at FROM password_history
		WHERE account_id = $1 ORDER BY id DESC LIMIT $2`, accountID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []password.HistoryEntry
	for rows.Next() {
		var h password.HistoryEntry
		if err := rows.Scan(&h.PasswordHash, &h.SkeletonHash, TimeCol(&h.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ChangePassword implements account.Store.
func (s *Accounts) ChangePassword(ctx context.Context, c account.PasswordChange) error {
	if c.HistorySize < 1 {
		return fmt.Errorf("sqlstore: history size %d", c.HistorySize)
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		if c.ConsumeTokenHash != nil {
			// Single use: of two resets racing with one token, exactly one finds it unused.
			res, err := tx.Exec(ctx, `UPDATE recovery_tokens SET used_at = $1
				WHERE token_hash = $2 AND account_id = $3 AND used_at IS NULL AND expires_at > $1`,
				c.Now, c.ConsumeTokenHash, c.AccountID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return kilt.E(kilt.KindGone, "link_invalid")
			}
		}
		res, err := tx.Exec(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2, password_changed_at = $2
			WHERE id = $3`, c.Hash, c.Now, c.AccountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return kilt.ErrNotFound
		}
		// Every outstanding link and code of the account dies with the old password.
		if _, err := tx.Exec(ctx, `UPDATE recovery_tokens SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL`,
			c.Now, c.AccountID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE recovery_flows SET code_hmac = NULL, expires_at = $1 WHERE account_id = $2 AND expires_at > $1`,
			c.Now, c.AccountID); err != nil {
			return err
		}
		if c.ThrottleKey != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM login_throttle WHERE key = $1`, c.ThrottleKey); err != nil {
				return err
			}
		}
		for i := range c.Notices {
			if err := enqueue(ctx, tx, &c.Notices[i]); err != nil {
				return err
			}
		}
		if c.Audit.Type != "" {
			if err := recordAudit(ctx, tx, c.Audit); err != nil {
				return err
			}
		}
		if err := insertHistory(ctx, tx, c.AccountID, c.History); err != nil {
			return err
		}
		// Keep the newest HistorySize entries: the policy compares with no more, and fewer
		// hashes kept is less for a thief to test.
		if _, err := tx.Exec(ctx, `DELETE FROM password_history WHERE account_id = $1 AND id NOT IN
			(SELECT id FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2)`,
			c.AccountID, c.HistorySize); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1 AND id <> $2`, c.AccountID, c.KeepSessionID)
		return err
	})
}

// UpdateLoginThrottle implements account.Store. One upsert makes the key's row if it is
// missing, locks it and returns it: a separate insert and SELECT … FOR UPDATE left a window
// in which a concurrent successful sign-in could delete the row (ClearLoginThrottle) between
// the two, and the SELECT found nothing (seen on PostgreSQL as a 500). On SQLite the
// IMMEDIATE transaction already holds the database's write lock.
func (s *Accounts) UpdateLoginThrottle(ctx context.Context, key string, fn func(t *account.Throttle) error) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		var t account.Throttle
		err := tx.QueryRow(ctx, `INSERT INTO login_throttle (key, failures, last_failed_at) VALUES ($1, 0, $2)
			ON CONFLICT (key) DO UPDATE SET key = excluded.key
			RETURNING failures, last_failed_at`, key, time.Unix(0, 0)).Scan(&t.Failures, TimeCol(&t.LastFailedAt))
		if err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE login_throttle SET failures = $1, last_failed_at = $2 WHERE key = $3`,
			t.Failures, t.LastFailedAt, key)
		return err
	})
}

// ClearLoginThrottle implements account.Store.
func (s *Accounts) ClearLoginThrottle(ctx context.Context, key string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM login_throttle WHERE key = $1`, key)
	return err
}
