package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"kilt"
	"kilt/internal/account"
)

// The rows of account deletion (migration 0045) and the erasure itself.

func (t accountTx) InsertDeletion(ctx context.Context, d account.Deletion, cancelHash []byte) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO account_deletions (account_id, requested_at, due_at, cancel_hash)
		VALUES ($1, $2, $3, $4)`, d.AccountID, d.RequestedAt, d.DueAt, cancelHash)
	if IsUniqueViolation(err) {
		return errConflict
	}
	return err
}

func (t accountTx) DeletionOf(ctx context.Context, accountID int64) (*account.Deletion, error) {
	return deletionOf(ctx, t.tx, accountID)
}

// deletionOf reads the account's deletion row: kilt.ErrNotFound if there is none.
func deletionOf(ctx context.Context, q Querier, accountID int64) (*account.Deletion, error) {
	d := account.Deletion{AccountID: accountID}
	var erased *time.Time
	err := q.QueryRow(ctx, `SELECT requested_at, due_at, erased_at FROM account_deletions WHERE account_id = $1`, accountID).
		Scan(TimeCol(&d.RequestedAt), TimeCol(&d.DueAt), NullTimeCol(&erased))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kilt.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if erased != nil {
		d.ErasedAt = *erased
	}
	return &d, nil
}

func (t accountTx) CancelDeletion(ctx context.Context, accountID int64) (bool, error) {
	return cancelDeletion(ctx, t.tx, accountID)
}

// CancelDeletion: a freeze cancels the account's pending deletion (session.Tx).
func (t sessionTx) CancelDeletion(ctx context.Context, accountID int64) (bool, error) {
	return cancelDeletion(ctx, t.tx, accountID)
}

func cancelDeletion(ctx context.Context, tx *Tx, accountID int64) (bool, error) {
	res, err := tx.Exec(ctx, `DELETE FROM account_deletions WHERE account_id = $1 AND erased_at IS NULL`, accountID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CancelDeletionByHash implements account.Tx: one DELETE … RETURNING, so of two
// transactions using one link only one gets a row.
func (t accountTx) CancelDeletionByHash(ctx context.Context, cancelHash []byte, now time.Time) (int64, error) {
	var id int64
	err := t.tx.QueryRow(ctx, `DELETE FROM account_deletions
		WHERE cancel_hash = $1 AND erased_at IS NULL AND due_at > $2 RETURNING account_id`, cancelHash, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, kilt.ErrNotFound
	}
	return id, err
}

func (t accountTx) LiveCancelHash(ctx context.Context, cancelHash []byte, now time.Time) (bool, error) {
	var n int
	err := t.tx.QueryRow(ctx, `SELECT COUNT(*) FROM account_deletions
		WHERE cancel_hash = $1 AND erased_at IS NULL AND due_at > $2`, cancelHash, now).Scan(&n)
	return n == 1, err
}

// ClaimDueDeletions implements account.Tx. On PostgreSQL the rows are locked and rows
// another instance holds are skipped; on SQLite the transaction holds the write lock.
func (t accountTx) ClaimDueDeletions(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := t.tx.Query(ctx, `SELECT account_id FROM account_deletions WHERE erased_at IS NULL AND due_at <= $1
		ORDER BY due_at, account_id LIMIT $2`+skipLocked[t.tx.Dialect()], now, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// erasure is what erasing an account ($1, at $2) does to each table that refers to it,
// in order (a row before the rows it refers to). Tables named in erasureKept keep their
// rows on purpose; TestErasureCoversEveryTable fails when a table with an account column is
// in neither list, so a new table cannot be forgotten here.
var erasure = []struct{ table, stmt string }{
	{"oidc_codes", `DELETE FROM oidc_codes WHERE auth_request_id IN (SELECT id FROM oidc_auth_requests WHERE account_id = $1)`},
	{"oidc_tokens", `DELETE FROM oidc_tokens WHERE account_id = $1`},
	{"oidc_auth_requests", `DELETE FROM oidc_auth_requests WHERE account_id = $1`},
	{"oidc_consents", `DELETE FROM oidc_consents WHERE account_id = $1`},
	{"sessions", `DELETE FROM sessions WHERE account_id = $1`},
	{"password_history", `DELETE FROM password_history WHERE account_id = $1`},
	{"recovery_tokens", `DELETE FROM recovery_tokens WHERE account_id = $1`},
	{"recovery_flows", `DELETE FROM recovery_flows WHERE account_id = $1`},
	{"code_failures", `DELETE FROM code_failures WHERE account_id = $1`},
	// Channel changes hold old and new identifiers; freeze links die with the account.
	{"channel_changes", `DELETE FROM channel_changes WHERE account_id = $1`},
	{"freeze_tokens", `DELETE FROM freeze_tokens WHERE account_id = $1`},
	// The back-channel logouts the erasure itself queued (they carry the subject and session
	// ids, no identifier) stay until delivered; every other message goes.
	{"outbox", `DELETE FROM outbox WHERE account_id = $1 AND channel <> 'backchannel'`},
	{"desk_codes", `DELETE FROM desk_codes WHERE account_id = $1`},
	{"operator_backup_codes", `DELETE FROM operator_backup_codes WHERE account_id = $1`},
	{"console_sessions", `DELETE FROM console_sessions WHERE account_id = $1`},
	{"operators", `DELETE FROM operators WHERE account_id = $1`},
	// The trail keeps the account id, the kind and the time of each event: not where from,
	// with what browser, nor the note (which may hold a masked identifier).
	{"audit_events", `UPDATE audit_events SET ip = '', user_agent = '', detail = '' WHERE account_id = $1`},
	{"accounts", `UPDATE accounts SET email = '', email_key = NULL, email_verified = $3, phone = NULL,
		phone_verified = $3, password_hash = '', locked = $3, lang = '', sms_paused_until = NULL, frozen_at = NULL, frozen_trust = '',
		updated_at = $2 WHERE id = $1`},
	{"account_deletions", `UPDATE account_deletions SET erased_at = $2, cancel_hash = NULL WHERE account_id = $1`},
}

// The account row keeps consent_version and consent_at: which text was agreed to and when
// names nobody, and is the record of the consent under which the account's data was held.

// erasureKept are the columns that refer to an account and are not erased with it: an
// operator's id on the events and slips of the accounts they served (an id names nobody
// once the operator's own account is erased).
var erasureKept = map[string]bool{"audit_events.operator_id": true, "desk_codes.operator_id": true}

// byIdentifier are the rows that name the account by an identifier rather than its id,
// each statement with the identifiers it takes: the e-mail address (e), its key (k), the
// phone number (p); ” where the account has none, which matches nothing.
var byIdentifier = []struct{ table, stmt, args string }{
	{"outbox", `DELETE FROM outbox WHERE recipient IN ($1, $2) AND recipient <> ''`, "ep"},
	{"recovery_requests", `DELETE FROM recovery_requests WHERE identifier IN ($1, $2) AND identifier <> ''`, "ep"},
	{"recovery_flows", `DELETE FROM recovery_flows WHERE identifier = $1 AND identifier <> ''`, "p"},
	{"registrations", `DELETE FROM registrations WHERE identifier_key IN ($1, $2) AND identifier_key <> ''`, "kp"},
}

// EraseAccount implements account.Tx.
func (t accountTx) EraseAccount(ctx context.Context, accountID int64, now time.Time) error {
	var email, key, phone sql.NullString
	err := t.tx.QueryRow(ctx, `SELECT email, email_key, phone FROM accounts WHERE id = $1`, accountID).Scan(&email, &key, &phone)
	if errors.Is(err, sql.ErrNoRows) {
		return kilt.ErrNotFound
	}
	if err != nil {
		return err
	}
	ids := map[rune]string{'e': email.String, 'k': key.String, 'p': phone.String}
	for _, e := range byIdentifier {
		var args []any
		for _, c := range e.args {
			args = append(args, ids[c])
		}
		if _, err := t.tx.Exec(ctx, e.stmt, args...); err != nil {
			return err
		}
	}
	// Each statement takes the account ($1), and those that write a time or a flag now ($2)
	// and false ($3): PostgreSQL refuses an argument a statement does not use.
	all := []any{accountID, now, false}
	for _, e := range erasure {
		n := 1
		for strings.Contains(e.stmt, "$"+strconv.Itoa(n+1)) {
			n++
		}
		if _, err := t.tx.Exec(ctx, e.stmt, all[:n]...); err != nil {
			return err
		}
	}
	return nil
}

// DeletionOf implements account.Store: a read outside any transaction.
func (s *Accounts) DeletionOf(ctx context.Context, accountID int64) (*account.Deletion, error) {
	d, err := deletionOf(ctx, s.db, accountID)
	if err != nil && !errors.Is(err, kilt.ErrNotFound) {
		return nil, unavailable(err)
	}
	return d, err
}

// SessionsOf implements account.Store.
func (s *Accounts) SessionsOf(ctx context.Context, accountID int64) ([]account.ExportSession, error) {
	rows, err := s.db.Query(ctx, `SELECT created_at, last_seen_at, expires_at, ip, user_agent FROM sessions
		WHERE account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []account.ExportSession
	for rows.Next() {
		var e account.ExportSession
		if err := rows.Scan(TimeCol(&e.CreatedAt), TimeCol(&e.LastSeenAt), TimeCol(&e.ExpiresAt), &e.IP, &e.UserAgent); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeletionDue implements desk.Tx: when the account's pending deletion is due (zero: none).
func (d deskTx) DeletionDue(ctx context.Context, accountID int64) (time.Time, error) {
	del, err := deletionOf(ctx, d.tx, accountID)
	if errors.Is(err, kilt.ErrNotFound) || (err == nil && !del.Pending()) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return del.DueAt, nil
}
