package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
)

// Registrations implements account.RegistrationStore.
type Registrations struct{ db *DB }

// NewRegistrations returns the registration store on db.
func NewRegistrations(db *DB) *Registrations { return &Registrations{db: db} }

var _ account.RegistrationStore = (*Registrations)(nil)

// Take implements account.RegistrationStore.
func (s *Registrations) Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	return NewRateLimits(s.db).Take(ctx, checks, now)
}

// Register implements account.RegistrationStore.
func (s *Registrations) Register(ctx context.Context, r *account.Registration, fresh, dup outbox.Message, ev audit.Event) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		q, key := `SELECT id, email FROM accounts WHERE email_key = $1`, account.EmailKey(r.Identifier)
		if r.Channel == outbox.SMS {
			q, key = `SELECT id, phone FROM accounts WHERE phone = $1`, r.Identifier
		}
		var id int64
		var to string
		err := tx.QueryRow(ctx, q, key).Scan(&id, &to)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		msg := fresh
		if err == nil {
			// The owner is told at the address the account has, as it was registered.
			r.Duplicate, r.TokenHash, r.CodeMAC, msg = true, nil, nil, dup
			msg.AccountID, msg.To = id, to
			ev.AccountID = id
		}
		if _, err := tx.Exec(ctx, `INSERT INTO registrations (id, channel, identifier, password_hash, skeleton_hash, lang,
			token_hash, code_hmac, attempts, duplicate, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11)`,
			r.ID, r.Channel, r.Identifier, r.PasswordHash, r.SkeletonHash, r.Lang, r.TokenHash, r.CodeMAC,
			r.Duplicate, r.CreatedAt, r.ExpiresAt); err != nil {
			return err
		}
		if err := enqueue(ctx, tx, &msg); err != nil {
			return err
		}
		return recordAudit(ctx, tx, ev)
	})
}

const registrationColumns = `id, channel, identifier, password_hash, skeleton_hash, lang, token_hash, code_hmac,
	attempts, duplicate, created_at, expires_at`

func scanRegistration(row interface{ Scan(...any) error }) (account.Registration, error) {
	var r account.Registration
	err := row.Scan(&r.ID, &r.Channel, &r.Identifier, &r.PasswordHash, &r.SkeletonHash, &r.Lang, &r.TokenHash, &r.CodeMAC,
		&r.Attempts, &r.Duplicate, TimeCol(&r.CreatedAt), TimeCol(&r.ExpiresAt))
	if errors.Is(err, sql.ErrNoRows) {
		return r, kilt.ErrNotFound
	}
	return r, err
}

// complete creates the account of registration r in tx and marks r completed.
func complete(ctx context.Context, tx *Tx, r account.Registration, now time.Time, ev audit.Event) (*account.Account, error) {
	a := &account.Account{PasswordHash: r.PasswordHash, Lang: r.Lang, CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
	if r.Channel == outbox.Email {
		a.Email, a.EmailVerified = r.Identifier, true
	} else {
		a.Phone, a.PhoneVerified = r.Identifier, true
	}
	h := password.HistoryEntry{PasswordHash: r.PasswordHash, SkeletonHash: r.SkeletonHash, CreatedAt: now}
	if err := insertAccount(ctx, tx, a, h); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE registrations SET completed_at = $1, token_hash = NULL, code_hmac = NULL WHERE id = $2`,
		now, r.ID); err != nil {
		return nil, err
	}
	ev.AccountID = a.ID
	return a, recordAudit(ctx, tx, ev)
}

// CompleteByToken implements account.RegistrationStore.
func (s *Registrations) CompleteByToken(ctx context.Context, tokenHash []byte, now time.Time, ev audit.Event) (*account.Account, error) {
	var a *account.Account
	err := s.db.InTx(ctx, func(tx *Tx) error {
		r, err := scanRegistration(tx.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations
			WHERE token_hash = $1 AND completed_at IS NULL AND expires_at > $2 AND duplicate = $3`+forUpdate[tx.Dialect()],
			tokenHash, now, false))
		if err != nil {
			return err
		}
		a, err = complete(ctx, tx, r, now, ev)
		return err
	})
	return a, err
}

// VerifyCode implements account.RegistrationStore.
func (s *Registrations) VerifyCode(ctx context.Context, id string, now time.Time, check func(r account.Registration) bool,
	ev audit.Event) (*account.Account, account.Registration, error) {
	var a *account.Account
	var r account.Registration
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		r, err = scanRegistration(tx.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations
			WHERE id = $1 AND channel = 'sms' AND completed_at IS NULL AND expires_at > $2`+forUpdate[tx.Dialect()], id, now))
		if err != nil {
			return err
		}
		if check(r) {
			a, err = complete(ctx, tx, r, now, ev)
			return err
		}
		r.Attempts++
		_, err = tx.Exec(ctx, `UPDATE registrations SET attempts = $1 WHERE id = $2`, r.Attempts, r.ID)
		return err
	})
	return a, r, err
}
