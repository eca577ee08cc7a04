package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/outbox"
)

// The registration rows of account.Tx.

const registrationColumns = `id, channel, identifier, identifier_key, password_hash, skeleton_hash, history_key, lang, token_hash,
	code_hmac, attempts, duplicate, created_at, expires_at, completed_at, consent_version`

func scanRegistration(row interface{ Scan(...any) error }) (account.Registration, error) {
	var r account.Registration
	var completed *time.Time
	var consent sql.NullString
	err := row.Scan(&r.ID, &r.Channel, &r.Identifier, &r.Key, &r.PasswordHash, &r.SkeletonHash, &r.HistoryKey, &r.Lang, &r.TokenHash, &r.CodeMAC,
		&r.Attempts, &r.Duplicate, TimeCol(&r.CreatedAt), TimeCol(&r.ExpiresAt), NullTimeCol(&completed), &consent)
	r.ConsentVersion = consent.String
	if errors.Is(err, sql.ErrNoRows) {
		return r, kilt.ErrNotFound
	}
	if completed != nil {
		r.CompletedAt = *completed
	}
	return r, err
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (t accountTx) InsertRegistration(ctx context.Context, r account.Registration) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO registrations (id, channel, identifier, identifier_key, password_hash, skeleton_hash,
		history_key, lang, token_hash, code_hmac, attempts, duplicate, created_at, expires_at, completed_at, consent_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		r.ID, r.Channel, r.Identifier, r.Key, r.PasswordHash, r.SkeletonHash, r.HistoryKey, r.Lang, r.TokenHash, r.CodeMAC,
		r.Attempts, r.Duplicate, r.CreatedAt, r.ExpiresAt, nullTime(r.CompletedAt), nullable(r.ConsentVersion))
	return err
}

func (t accountTx) Registration(ctx context.Context, id string) (account.Registration, error) {
	return scanRegistration(t.tx.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations WHERE id = $1`+
		forUpdate[t.tx.Dialect()], id))
}

func (t accountTx) RegistrationByToken(ctx context.Context, hash []byte) (account.Registration, error) {
	return scanRegistration(t.tx.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations WHERE token_hash = $1`+
		forUpdate[t.tx.Dialect()], hash))
}

func (t accountTx) UpdateRegistration(ctx context.Context, r account.Registration) error {
	res, err := t.tx.Exec(ctx, `UPDATE registrations SET token_hash = $1, code_hmac = $2, attempts = $3, expires_at = $4,
		completed_at = $5 WHERE id = $6`, r.TokenHash, r.CodeMAC, r.Attempts, r.ExpiresAt, nullTime(r.CompletedAt), r.ID)
	return oneRow(res, err)
}

func (t accountTx) EndRegistrations(ctx context.Context, channel outbox.Channel, key string, now time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE registrations SET token_hash = NULL, code_hmac = NULL, expires_at = $1
		WHERE channel = $2 AND identifier_key = $3 AND completed_at IS NULL AND expires_at > $1`, now, channel, key)
	return err
}
