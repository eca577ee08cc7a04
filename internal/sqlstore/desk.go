package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/desk"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
	"kilt/internal/recovery"
)

// Desk implements desk.Port: the service-centre desk's tables (migration 0030).
type Desk struct{ db *DB }

// NewDesk returns the desk's store on db.
func NewDesk(db *DB) *Desk { return &Desk{db: db} }

var _ desk.Port = (*Desk)(nil)

// InTx implements desk.Port.
func (s *Desk) InTx(ctx context.Context, fn func(desk.Tx) error) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return fn(deskTx{tx}) })
}

// PurposeDesk is the purpose of the reset tokens a slip code gives (recovery_tokens).
const PurposeDesk = "reset_desk"

type deskTx struct{ tx *Tx }

func (d deskTx) UseAllTokens(ctx context.Context, accountID int64, now time.Time) error {
	return accountTx(d).UseAllTokens(ctx, accountID, now)
}

func (d deskTx) EndAccountFlows(ctx context.Context, accountID int64, now time.Time) error {
	return accountTx(d).EndAccountFlows(ctx, accountID, now)
}

func (d deskTx) EndChannelChanges(ctx context.Context, accountID int64, now time.Time) error {
	return endChannelChanges(ctx, d.tx, accountID, now)
}

const operatorColumns = `account_id, role, totp_secret, pending_secret, enrol_ticket_hash, enrol_expires_at, last_step, created_at`

func scanOperator(row interface{ Scan(...any) error }) (*desk.Operator, error) {
	var o desk.Operator
	var role string
	err := row.Scan(&o.AccountID, &role, &o.TOTPSecret, &o.PendingSecret, &o.EnrolTicketHash,
		TimeCol(&o.EnrolExpiresAt), &o.LastStep, TimeCol(&o.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kilt.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	o.Role = desk.Role(role)
	return &o, nil
}

func (d deskTx) Operator(ctx context.Context, accountID int64) (*desk.Operator, error) {
	return scanOperator(d.tx.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE account_id = $1`+forUpdate[d.tx.Dialect()], accountID))
}

func (d deskTx) OperatorByTicket(ctx context.Context, ticketHash []byte) (*desk.Operator, error) {
	return scanOperator(d.tx.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE enrol_ticket_hash = $1`+forUpdate[d.tx.Dialect()], ticketHash))
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (d deskTx) SaveOperator(ctx context.Context, o *desk.Operator) error {
	_, err := d.tx.Exec(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (account_id) DO UPDATE SET role = excluded.role, totp_secret = excluded.totp_secret,
			pending_secret = excluded.pending_secret, enrol_ticket_hash = excluded.enrol_ticket_hash,
			enrol_expires_at = excluded.enrol_expires_at, last_step = excluded.last_step`,
		o.AccountID, string(o.Role), nullBytes(o.TOTPSecret), nullBytes(o.PendingSecret), nullBytes(o.EnrolTicketHash),
		nullTime(o.EnrolExpiresAt), o.LastStep, o.CreatedAt)
	return err
}

func (d deskTx) DeleteOperator(ctx context.Context, accountID int64) error {
	res, err := d.tx.Exec(ctx, `DELETE FROM operators WHERE account_id = $1`, accountID)
	return oneRow(res, err)
}

func (d deskTx) Operators(ctx context.Context) ([]desk.Listing, error) {
	rows, err := d.tx.Query(ctx, `SELECT o.account_id, o.role, o.totp_secret, o.pending_secret, o.enrol_ticket_hash,
		o.enrol_expires_at, o.last_step, o.created_at, a.email, a.phone
		FROM operators o JOIN accounts a ON a.id = o.account_id ORDER BY o.account_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []desk.Listing
	for rows.Next() {
		var l desk.Listing
		var role string
		var email, phone sql.NullString
		if err := rows.Scan(&l.AccountID, &role, &l.TOTPSecret, &l.PendingSecret, &l.EnrolTicketHash,
			TimeCol(&l.EnrolExpiresAt), &l.LastStep, TimeCol(&l.CreatedAt), &email, &phone); err != nil {
			return nil, err
		}
		l.Role, l.Email, l.Phone = desk.Role(role), email.String, phone.String
		out = append(out, l)
	}
	return out, rows.Err()
}

func (d deskTx) ReplaceBackupCodes(ctx context.Context, accountID int64, macs [][]byte, now time.Time) error {
	if _, err := d.tx.Exec(ctx, `DELETE FROM operator_backup_codes WHERE account_id = $1`, accountID); err != nil {
		return err
	}
	for _, m := range macs {
		if _, err := d.tx.Exec(ctx, `INSERT INTO operator_backup_codes (account_id, code_hmac, created_at) VALUES ($1, $2, $3)`,
			accountID, m, now); err != nil {
			return err
		}
	}
	return nil
}

func (d deskTx) UseBackupCode(ctx context.Context, accountID int64, mac []byte, now time.Time) (bool, error) {
	res, err := d.tx.Exec(ctx, `UPDATE operator_backup_codes SET used_at = $1
		WHERE account_id = $2 AND code_hmac = $3 AND used_at IS NULL`, now, accountID, mac)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (d deskTx) CreateSession(ctx context.Context, s *desk.Session, tokenHash []byte) error {
	return d.tx.QueryRow(ctx, `INSERT INTO console_sessions (token_hash, account_id, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		tokenHash, s.AccountID, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.IP, s.UserAgent).Scan(&s.ID)
}

func (d deskTx) SessionByHash(ctx context.Context, tokenHash []byte) (*desk.Session, error) {
	var s desk.Session
	err := d.tx.QueryRow(ctx, `SELECT id, account_id, created_at, last_seen_at, expires_at, ip, user_agent
		FROM console_sessions WHERE token_hash = $1`, tokenHash).Scan(&s.ID, &s.AccountID, TimeCol(&s.CreatedAt),
		TimeCol(&s.LastSeenAt), TimeCol(&s.ExpiresAt), &s.IP, &s.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kilt.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return &s, nil
}

func (d deskTx) TouchSession(ctx context.Context, id int64, now time.Time) error {
	_, err := d.tx.Exec(ctx, `UPDATE console_sessions SET last_seen_at = $1 WHERE id = $2`, now, id)
	return err
}

func (d deskTx) DeleteSession(ctx context.Context, id int64) error {
	_, err := d.tx.Exec(ctx, `DELETE FROM console_sessions WHERE id = $1`, id)
	return err
}

func (d deskTx) DeleteOperatorSessions(ctx context.Context, accountID int64) error {
	return deleteOperatorSessions(ctx, d.tx, accountID)
}

// deleteOperatorSessions deletes the account's console sessions (an operator's).
func deleteOperatorSessions(ctx context.Context, tx *Tx, accountID int64) error {
	_, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE account_id = $1`, accountID)
	return err
}

func (d deskTx) AccountByID(ctx context.Context, id int64) (*account.Account, error) {
	return scanAccount(d.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
}

func (d deskTx) AccountByEmailKey(ctx context.Context, key string) (*account.Account, error) {
	return scanAccount(d.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`, key))
}

func (d deskTx) AccountByPhone(ctx context.Context, e164 string) (*account.Account, error) {
	return scanAccount(d.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE phone = $1`, e164))
}

func (d deskTx) SessionCount(ctx context.Context, accountID int64) (int, error) {
	var n int
	err := d.tx.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE account_id = $1`, accountID).Scan(&n)
	return n, err
}

func (d deskTx) LastSignIn(ctx context.Context, accountID int64) (time.Time, error) {
	var t time.Time
	err := d.tx.QueryRow(ctx, `SELECT at FROM audit_events WHERE account_id = $1 AND type = $2 ORDER BY id DESC LIMIT 1`,
		accountID, audit.LoginSucceeded).Scan(TimeCol(&t))
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return t, err
}

func (d deskTx) SetLocked(ctx context.Context, accountID int64, locked bool, now time.Time) error {
	res, err := d.tx.Exec(ctx, `UPDATE accounts SET locked = $1, updated_at = $2 WHERE id = $3`, locked, now, accountID)
	return oneRow(res, err)
}

func (d deskTx) DeleteSessions(ctx context.Context, accountID, except int64) ([]int64, error) {
	return deleteSessions(ctx, d.tx, accountID, except)
}

func (d deskTx) SessionClients(ctx context.Context, sessionID int64) ([]string, error) {
	return oidcTx(d).SessionClients(ctx, sessionID)
}

func (d deskTx) Client(ctx context.Context, id string) (*oidc.Client, error) {
	return oidcTx(d).Client(ctx, id)
}

func (d deskTx) RevokeTokens(ctx context.Context, f oidc.TokenFilter, now time.Time) (int64, error) {
	return oidcTx(d).RevokeTokens(ctx, f, now)
}

func (d deskTx) SetEmail(ctx context.Context, accountID int64, email, key string, now time.Time) error {
	res, err := d.tx.Exec(ctx, `UPDATE accounts SET email = $1, email_key = $2, email_verified = $3, updated_at = $4 WHERE id = $5`,
		email, key, true, now, accountID)
	if IsUniqueViolation(err) {
		return kilt.Errorf(kilt.KindConflict, account.CodeIdentifierTaken, "identifier already has an account")
	}
	return oneRow(res, err)
}

func (d deskTx) SetPhone(ctx context.Context, accountID int64, e164 string, now time.Time) error {
	res, err := d.tx.Exec(ctx, `UPDATE accounts SET phone = $1, phone_verified = $2, updated_at = $3 WHERE id = $4`,
		e164, true, now, accountID)
	if IsUniqueViolation(err) {
		return kilt.Errorf(kilt.KindConflict, account.CodeIdentifierTaken, "identifier already has an account")
	}
	return oneRow(res, err)
}

func (d deskTx) Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	return takeLimits(ctx, d.tx, checks, now)
}

func (d deskTx) InsertSlip(ctx context.Context, s *desk.Slip, mac []byte) error {
	var op any
	if s.OperatorID != 0 {
		op = s.OperatorID
	}
	return d.tx.QueryRow(ctx, `INSERT INTO desk_codes (code_hmac, account_id, operator_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, mac, s.AccountID, op, s.CreatedAt, s.ExpiresAt).Scan(&s.ID)
}

func (d deskTx) KillSlips(ctx context.Context, accountID int64, now time.Time) error {
	return killSlips(ctx, d.tx, accountID, now)
}

// killSlips marks the account's unused slip codes used at now.
func killSlips(ctx context.Context, tx *Tx, accountID int64, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE desk_codes SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL`, now, accountID)
	return err
}

func (d deskTx) SlipByMAC(ctx context.Context, mac []byte) (*desk.Slip, error) {
	var s desk.Slip
	var op sql.NullInt64
	err := d.tx.QueryRow(ctx, `SELECT id, account_id, operator_id, created_at, expires_at, used_at FROM desk_codes
		WHERE code_hmac = $1`+forUpdate[d.tx.Dialect()], mac).Scan(&s.ID, &s.AccountID, &op, TimeCol(&s.CreatedAt),
		TimeCol(&s.ExpiresAt), NullTimeCol(&s.UsedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kilt.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	s.OperatorID = op.Int64
	return &s, nil
}

func (d deskTx) UseSlip(ctx context.Context, id int64, now time.Time) (bool, error) {
	res, err := d.tx.Exec(ctx, `UPDATE desk_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, now, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (d deskTx) SlipFailures(ctx context.Context, ipKey string, since time.Time) (int, error) {
	var n int
	err := d.tx.QueryRow(ctx, `SELECT COUNT(*) FROM desk_code_failures WHERE ip_key = $1 AND at > $2`, ipKey, since).Scan(&n)
	return n, err
}

func (d deskTx) AddSlipFailure(ctx context.Context, ipKey string, now time.Time) error {
	// Old failures count for nothing: each insert also sweeps what is older than a day.
	if _, err := d.tx.Exec(ctx, `DELETE FROM desk_code_failures WHERE at < $1`, now.Add(-24*time.Hour)); err != nil {
		return err
	}
	_, err := d.tx.Exec(ctx, `INSERT INTO desk_code_failures (ip_key, at) VALUES ($1, $2)`, ipKey, now)
	return err
}

func (d deskTx) IssueResetToken(ctx context.Context, accountID int64, tokenHash []byte, now, expires time.Time) error {
	return insertToken(ctx, d.tx, recovery.Token{Hash: tokenHash, AccountID: accountID, Purpose: PurposeDesk, CreatedAt: now, ExpiresAt: expires})
}

func (d deskTx) Record(ctx context.Context, e desk.Event) error {
	var acc, op any
	if e.AccountID != 0 {
		acc = e.AccountID
	}
	if e.OperatorID != 0 {
		op = e.OperatorID
	}
	_, err := d.tx.Exec(ctx, `INSERT INTO audit_events (at, type, account_id, operator_id, ip, user_agent, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.At, e.Type, acc, op, e.IP, kilt.Truncate(e.UserAgent, 256), kilt.Truncate(e.Detail, 700))
	return err
}

const eventColumns = `id, at, type, account_id, operator_id, ip, user_agent, detail`

func scanEvents(rows *sql.Rows, err error) ([]desk.Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []desk.Event
	for rows.Next() {
		var e desk.Event
		var acc, op sql.NullInt64
		if err := rows.Scan(&e.ID, TimeCol(&e.At), &e.Type, &acc, &op, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, err
		}
		e.AccountID, e.OperatorID = acc.Int64, op.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}

func (d deskTx) Recent(ctx context.Context, accountID int64, n int) ([]desk.Event, error) {
	return scanEvents(d.tx.Query(ctx, `SELECT `+eventColumns+` FROM audit_events WHERE account_id = $1 ORDER BY id DESC LIMIT $2`,
		accountID, n))
}

func (d deskTx) LookedUp(ctx context.Context, operatorID, accountID int64, since time.Time) (bool, error) {
	var one int
	err := d.tx.QueryRow(ctx, `SELECT 1 FROM audit_events WHERE account_id = $1 AND operator_id = $2 AND type = $3 AND at >= $4 LIMIT 1`,
		accountID, operatorID, desk.EventLookup, since).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, unavailable(err)
}

func (d deskTx) Events(ctx context.Context, from, to time.Time, afterID int64, n int) ([]desk.Event, error) {
	return scanEvents(d.tx.Query(ctx, `SELECT `+eventColumns+` FROM audit_events
		WHERE at >= $1 AND at < $2 AND id > $3 ORDER BY id LIMIT $4`, from, to, afterID, n))
}

func (d deskTx) OperatorEvents(ctx context.Context, since time.Time, n int) ([]desk.Event, error) {
	return scanEvents(d.tx.Query(ctx, `SELECT `+eventColumns+` FROM audit_events
		WHERE operator_id IS NOT NULL AND at >= $1 ORDER BY id DESC LIMIT $2`, since, n))
}

func (d deskTx) Enqueue(ctx context.Context, m *outbox.Message) error { return enqueue(ctx, d.tx, m) }
