package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"kilt"
	"kilt/internal/account"
)

// The citizen's own account (SPEC §9): channel changes, freeze tokens, the frozen state and
// re-authentication, for account.Tx, session.Tx and desk.Tx.

const channelChangeColumns = `id, account_id, kind, value, old_value, old_verified, token_hash, code_hmac, attempts,
	decoy, lang, created_at, sent_at, expires_at, completed_at, reverted_at`

// scanChannelChange is the one scan helper of channel_changes; its column order is
// channelChangeColumns.
func scanChannelChange(row interface{ Scan(...any) error }) (account.ChannelChange, error) {
	var c account.ChannelChange
	var completed, reverted *time.Time
	err := row.Scan(&c.ID, &c.AccountID, &c.Kind, &c.Value, &c.OldValue, &c.OldVerified, &c.TokenHash, &c.CodeMAC, &c.Attempts,
		&c.Decoy, &c.Lang, TimeCol(&c.CreatedAt), TimeCol(&c.SentAt), TimeCol(&c.ExpiresAt), NullTimeCol(&completed), NullTimeCol(&reverted))
	if errors.Is(err, sql.ErrNoRows) {
		return c, kilt.ErrNotFound
	}
	if err != nil {
		return c, unavailable(err)
	}
	if completed != nil {
		c.CompletedAt = *completed
	}
	if reverted != nil {
		c.RevertedAt = *reverted
	}
	return c, nil
}

func (t accountTx) InsertChannelChange(ctx context.Context, c account.ChannelChange) error {
	return insertChannelChange(ctx, t.tx, c)
}

// InsertChannelChange implements desk.Tx: a channel set at the desk, for a freeze to revert.
func (d deskTx) InsertChannelChange(ctx context.Context, c account.ChannelChange) error {
	return insertChannelChange(ctx, d.tx, c)
}

func insertChannelChange(ctx context.Context, tx *Tx, c account.ChannelChange) error {
	_, err := tx.Exec(ctx, `INSERT INTO channel_changes (id, account_id, kind, value, old_value, old_verified, token_hash,
		code_hmac, attempts, decoy, lang, created_at, sent_at, expires_at, completed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		c.ID, c.AccountID, c.Kind, c.Value, c.OldValue, c.OldVerified, c.TokenHash, c.CodeMAC, c.Attempts, c.Decoy, c.Lang,
		c.CreatedAt, c.SentAt, c.ExpiresAt, nullTime(c.CompletedAt))
	return err
}

func (t accountTx) ChannelChange(ctx context.Context, id string) (account.ChannelChange, error) {
	return scanChannelChange(t.tx.QueryRow(ctx, `SELECT `+channelChangeColumns+` FROM channel_changes WHERE id = $1`+
		forUpdate[t.tx.Dialect()], id))
}

func (t accountTx) ChannelChangeByToken(ctx context.Context, hash []byte) (account.ChannelChange, error) {
	return scanChannelChange(t.tx.QueryRow(ctx, `SELECT `+channelChangeColumns+` FROM channel_changes WHERE token_hash = $1`+
		forUpdate[t.tx.Dialect()], hash))
}

func (t accountTx) UpdateChannelChange(ctx context.Context, c account.ChannelChange) error {
	res, err := t.tx.Exec(ctx, `UPDATE channel_changes SET token_hash = $1, code_hmac = $2, attempts = $3, sent_at = $4,
		expires_at = $5, completed_at = $6, old_value = $7, old_verified = $8 WHERE id = $9`,
		c.TokenHash, c.CodeMAC, c.Attempts, c.SentAt, c.ExpiresAt, nullTime(c.CompletedAt), c.OldValue, c.OldVerified, c.ID)
	return oneRow(res, err)
}

func (t accountTx) PendingChannelChange(ctx context.Context, accountID int64, now time.Time) (account.ChannelChange, error) {
	return scanChannelChange(t.tx.QueryRow(ctx, `SELECT `+channelChangeColumns+` FROM channel_changes
		WHERE account_id = $1 AND completed_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 1`, accountID, now))
}

func (t accountTx) EndChannelChanges(ctx context.Context, accountID int64, now time.Time) error {
	return endChannelChanges(ctx, t.tx, accountID, now)
}

// endChannelChanges ends the account's pending changes: no token, no code, expired at now.
func endChannelChanges(ctx context.Context, tx *Tx, accountID int64, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE channel_changes SET token_hash = NULL, code_hmac = NULL, decoy = $1, expires_at = $2
		WHERE account_id = $3 AND completed_at IS NULL AND expires_at > $2`, false, now, accountID)
	return err
}

func (t accountTx) SetChannel(ctx context.Context, accountID int64, kind, value string, verified bool, now time.Time) error {
	return setChannel(ctx, t.tx, accountID, kind, value, verified, now)
}

// setChannel sets the account's e-mail (and its key) or phone; "" clears it. A value of
// another account is an error of kind conflict.
func setChannel(ctx context.Context, tx *Tx, accountID int64, kind, value string, verified bool, now time.Time) error {
	var res sql.Result
	var err error
	if kind == account.ChannelEmail {
		key := ""
		if value != "" {
			key = account.EmailKey(value)
		}
		res, err = tx.Exec(ctx, `UPDATE accounts SET email = $1, email_key = $2, email_verified = $3, updated_at = $4 WHERE id = $5`,
			nullable(value), nullable(key), verified, now, accountID)
	} else {
		res, err = tx.Exec(ctx, `UPDATE accounts SET phone = $1, phone_verified = $2, updated_at = $3 WHERE id = $4`,
			nullable(value), verified, now, accountID)
	}
	if IsUniqueViolation(err) {
		return kilt.Errorf(kilt.KindConflict, account.CodeIdentifierTaken, "identifier already has an account")
	}
	return oneRow(res, err)
}

func (t accountTx) TokenPurpose(ctx context.Context, hash []byte) (string, error) {
	var purpose string
	err := t.tx.QueryRow(ctx, `SELECT purpose FROM recovery_tokens WHERE token_hash = $1`, hash).Scan(&purpose)
	if errors.Is(err, sql.ErrNoRows) {
		return "", kilt.ErrNotFound
	}
	return purpose, err
}

func (t accountTx) InsertFreezeToken(ctx context.Context, hash []byte, ft account.FreezeToken) error {
	return insertFreezeToken(ctx, t.tx, hash, ft)
}

func insertFreezeToken(ctx context.Context, tx *Tx, hash []byte, ft account.FreezeToken) error {
	_, err := tx.Exec(ctx, `INSERT INTO freeze_tokens (token_hash, account_id, event, channels, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, hash, ft.AccountID, ft.Event, ft.Channels, ft.CreatedAt, ft.ExpiresAt)
	return err
}

func (t accountTx) Unfreeze(ctx context.Context, accountID int64, now time.Time) error {
	res, err := t.tx.Exec(ctx, `UPDATE accounts SET frozen_at = NULL, frozen_trust = '', updated_at = $1 WHERE id = $2`, now, accountID)
	return oneRow(res, err)
}

// InsertFreezeToken implements desk.Tx: the set-channel notice's freeze link.
func (d deskTx) InsertFreezeToken(ctx context.Context, hash []byte, ft account.FreezeToken) error {
	return insertFreezeToken(ctx, d.tx, hash, ft)
}

func (t sessionTx) SetReauth(ctx context.Context, id int64, at time.Time) error {
	res, err := t.tx.Exec(ctx, `UPDATE sessions SET reauth_at = $1 WHERE id = $2`, at, id)
	return oneRow(res, err)
}

func (t sessionTx) UseFreezeToken(ctx context.Context, hash []byte, now time.Time) (account.FreezeToken, error) {
	var ft account.FreezeToken
	// One statement marks and returns the token: of two transactions racing for it, the
	// second finds it used (PostgreSQL waits for the first's row lock, then re-checks).
	err := t.tx.QueryRow(ctx, `UPDATE freeze_tokens SET used_at = $1
		WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
		RETURNING account_id, event, channels, created_at, expires_at`, now, hash).
		Scan(&ft.AccountID, &ft.Event, &ft.Channels, TimeCol(&ft.CreatedAt), TimeCol(&ft.ExpiresAt))
	if errors.Is(err, sql.ErrNoRows) {
		return ft, kilt.ErrNotFound
	}
	return ft, err
}

func (t sessionTx) CompletedChannelChanges(ctx context.Context, accountID int64, since time.Time) ([]account.ChannelChange, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+channelChangeColumns+` FROM channel_changes
		WHERE account_id = $1 AND completed_at IS NOT NULL AND completed_at >= $2 AND reverted_at IS NULL
		ORDER BY completed_at DESC, created_at DESC`, accountID, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []account.ChannelChange
	for rows.Next() {
		c, err := scanChannelChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t sessionTx) RevertChannelChange(ctx context.Context, accountID int64, ch account.ChannelChange, value string, verified bool, now time.Time) error {
	if err := setChannel(ctx, t.tx, accountID, ch.Kind, value, verified, now); err != nil {
		return err
	}
	res, err := t.tx.Exec(ctx, `UPDATE channel_changes SET reverted_at = $1 WHERE id = $2`, now, ch.ID)
	return oneRow(res, err)
}

func (t sessionTx) KillAccountSecrets(ctx context.Context, accountID int64, now time.Time) error {
	if err := endChannelChanges(ctx, t.tx, accountID, now); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, `UPDATE freeze_tokens SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL`, now, accountID); err != nil {
		return err
	}
	return killSlips(ctx, t.tx, accountID, now)
}

func (t sessionTx) SetFrozen(ctx context.Context, accountID int64, now time.Time, trust string) error {
	res, err := t.tx.Exec(ctx, `UPDATE accounts SET frozen_at = $1, frozen_trust = $2, updated_at = $1 WHERE id = $3`, now, trust, accountID)
	return oneRow(res, err)
}
