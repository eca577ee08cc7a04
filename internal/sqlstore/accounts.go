package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
)

// Accounts implements account.Store.
type Accounts struct{ db *DB }

// NewAccounts returns the account store on db.
func NewAccounts(db *DB) *Accounts { return &Accounts{db: db} }

var _ account.Store = (*Accounts)(nil)

const accountColumns = `id, email, email_verified, phone, phone_verified, password_hash, locked, lang,
	created_at, updated_at, password_changed_at, sms_paused_until, consent_version, consent_at, frozen_at, frozen_trust`

// accountColumnsOrZero is accountColumns of an outer-joined accounts a on PostgreSQL, each
// column that scanAccount does not take as NULL coalesced to its zero: a missing account
// scans as one with id 0.
var accountColumnsOrZero = func() string {
	zero := map[string]string{"id": "0", "email_verified": "false", "phone_verified": "false", "password_hash": "''",
		"locked": "false", "lang": "''", "created_at": "'epoch'", "updated_at": "'epoch'", "password_changed_at": "'epoch'",
		"consent_at": "'epoch'", "frozen_trust": "''"}
	nullable := []string{"email", "phone", "sms_paused_until", "consent_version", "frozen_at"}
	var out []string
	for _, c := range strings.Split(accountColumns, ",") {
		c = strings.TrimSpace(c)
		switch z, ok := zero[c]; {
		case ok:
			out = append(out, "COALESCE(a."+c+", "+z+")")
		case slices.Contains(nullable, c):
			out = append(out, "a."+c)
		default:
			panic("sqlstore: accountColumnsOrZero does not know column " + c)
		}
	}
	return strings.Join(out, ", ")
}()

// scanAccount is the one scan helper of accounts; its column order is accountColumns.
func scanAccount(row interface{ Scan(...any) error }) (*account.Account, error) {
	var a account.Account
	var email, phone sql.NullString
	var paused, frozen *time.Time
	var consent sql.NullString
	err := row.Scan(&a.ID, &email, &a.EmailVerified, &phone, &a.PhoneVerified, &a.PasswordHash,
		&a.Locked, &a.Lang, TimeCol(&a.CreatedAt), TimeCol(&a.UpdatedAt), TimeCol(&a.PasswordChangedAt), NullTimeCol(&paused),
		&consent, TimeCol(&a.ConsentAt), NullTimeCol(&frozen), &a.FrozenTrust)
	a.ConsentVersion = consent.String
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
	if frozen != nil {
		a.FrozenAt = *frozen
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

// InTx implements account.Store.
func (s *Accounts) InTx(ctx context.Context, fn func(tx account.Tx) error) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return fn(accountTx{tx}) })
}

// accountTx is account.Tx on one transaction. Its registration rows are in registrations.go.
type accountTx struct{ tx *Tx }

// errConflict is the storage error of an insert that breaks a uniqueness constraint.
var errConflict = &kilt.Error{Kind: kilt.KindConflict, Code: "conflict", Message: "unique constraint violated"}

func (t accountTx) AccountByID(ctx context.Context, id int64) (*account.Account, error) {
	return scanAccount(t.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`+forUpdate[t.tx.Dialect()], id))
}

func (t accountTx) AccountByEmail(ctx context.Context, key string) (*account.Account, error) {
	return scanAccount(t.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`+forUpdate[t.tx.Dialect()], key))
}

func (t accountTx) AccountByPhone(ctx context.Context, e164 string) (*account.Account, error) {
	return scanAccount(t.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE phone = $1`+forUpdate[t.tx.Dialect()], e164))
}

// InsertAccount inserts a and its first history entry, setting a.ID; a taken identifier is
// errConflict.
func (t accountTx) InsertAccount(ctx context.Context, a *account.Account, h password.HistoryEntry) error {
	emailKey := ""
	if a.Email != "" {
		emailKey = account.EmailKey(a.Email)
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO accounts (email, email_key, email_verified, phone, phone_verified,
		password_hash, locked, lang, created_at, updated_at, password_changed_at, consent_version, consent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		nullable(a.Email), nullable(emailKey), a.EmailVerified, nullable(a.Phone), a.PhoneVerified,
		a.PasswordHash, a.Locked, a.Lang, a.CreatedAt, a.UpdatedAt, a.PasswordChangedAt,
		nullable(a.ConsentVersion), nullTime(a.ConsentAt)).Scan(&a.ID)
	if IsUniqueViolation(err) {
		return errConflict
	}
	if err != nil {
		return err
	}
	return insertHistory(ctx, t.tx, a.ID, h)
}

func (t accountTx) UpdatePassword(ctx context.Context, accountID int64, hash string, now time.Time) error {
	res, err := t.tx.Exec(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2, password_changed_at = $2
		WHERE id = $3`, hash, now, accountID)
	return oneRow(res, err)
}

func (t accountTx) SetLocked(ctx context.Context, accountID int64, locked bool, now time.Time) error {
	res, err := t.tx.Exec(ctx, `UPDATE accounts SET locked = $1, updated_at = $2 WHERE id = $3`, locked, now, accountID)
	return oneRow(res, err)
}

func (t accountTx) AddHistory(ctx context.Context, accountID int64, h password.HistoryEntry, keep int) error {
	if keep < 1 {
		return fmt.Errorf("sqlstore: history size %d", keep)
	}
	if err := insertHistory(ctx, t.tx, accountID, h); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `DELETE FROM password_history WHERE account_id = $1 AND id NOT IN
		(SELECT id FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2)`, accountID, keep)
	return err
}

func (t accountTx) UseToken(ctx context.Context, hash []byte, accountID int64, now time.Time) error {
	res, err := t.tx.Exec(ctx, `UPDATE recovery_tokens SET used_at = $1
		WHERE token_hash = $2 AND account_id = $3 AND used_at IS NULL AND expires_at > $1`, now, hash, accountID)
	return oneRow(res, err)
}

func (t accountTx) UseAllTokens(ctx context.Context, accountID int64, now time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE recovery_tokens SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL`, now, accountID)
	return err
}

func (t accountTx) EndAccountFlows(ctx context.Context, accountID int64, now time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE recovery_flows SET code_hmac = NULL, expires_at = $1 WHERE account_id = $2 AND expires_at > $1`,
		now, accountID)
	return err
}

func (t accountTx) DeleteSessions(ctx context.Context, accountID, except int64) ([]int64, error) {
	return deleteSessions(ctx, t.tx, accountID, except)
}

func (t accountTx) DeleteOperatorSessions(ctx context.Context, accountID int64) error {
	return deleteOperatorSessions(ctx, t.tx, accountID)
}

func (t accountTx) SessionClients(ctx context.Context, sessionID int64) ([]string, error) {
	return oidcTx(t).SessionClients(ctx, sessionID)
}

func (t accountTx) Client(ctx context.Context, id string) (*oidc.Client, error) {
	return oidcTx(t).Client(ctx, id)
}

func (t accountTx) RevokeTokens(ctx context.Context, f oidc.TokenFilter, now time.Time) (int64, error) {
	return oidcTx(t).RevokeTokens(ctx, f, now)
}

func (t accountTx) ClearLoginThrottle(ctx context.Context, key string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM login_throttle WHERE key = $1`, key)
	return err
}

func (t accountTx) Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	return takeLimits(ctx, t.tx, checks, now)
}

func (t accountTx) Enqueue(ctx context.Context, m *outbox.Message) error {
	return enqueue(ctx, t.tx, m)
}

func (t accountTx) Audit(ctx context.Context, e audit.Event) error { return recordAudit(ctx, t.tx, e) }

func insertHistory(ctx context.Context, q Querier, accountID int64, h password.HistoryEntry) error {
	_, err := q.Exec(ctx, `INSERT INTO password_history (account_id, password_hash, skeleton_hash, history_key, created_at)
		VALUES ($1, $2, $3, $4, $5)`, accountID, h.PasswordHash, h.SkeletonHash, h.Key, h.CreatedAt)
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
	rows, err := s.db.Query(ctx, `SELECT password_hash, skeleton_hash, history_key, created_at FROM password_history
		WHERE account_id = $1 ORDER BY id DESC LIMIT $2`, accountID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []password.HistoryEntry
	for rows.Next() {
		var h password.HistoryEntry
		if err := rows.Scan(&h.PasswordHash, &h.SkeletonHash, &h.Key, TimeCol(&h.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
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
