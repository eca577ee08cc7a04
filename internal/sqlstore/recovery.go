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
	"kilt/internal/audit"
	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
	"kilt/internal/recovery"
)

// Recovery implements recovery.Store.
type Recovery struct{ db *DB }

// NewRecovery returns the recovery store on db.
func NewRecovery(db *DB) *Recovery { return &Recovery{db: db} }

var _ recovery.Store = (*Recovery)(nil)

// InTx implements recovery.Store.
func (s *Recovery) InTx(ctx context.Context, fn func(tx recovery.Tx) error) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return fn(recoveryTx{tx}) })
}

// recoveryTx is recovery.Tx on one transaction.
type recoveryTx struct{ tx *Tx }

func (r recoveryTx) Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	return takeLimits(ctx, r.tx, checks, now)
}

func (r recoveryTx) InsertRequest(ctx context.Context, q recovery.Request) error {
	var flow any
	if q.FlowID != "" {
		flow = q.FlowID
	}
	_, err := r.tx.Exec(ctx, `INSERT INTO recovery_requests (channel, identifier, flow_id, lang, ip, user_agent, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, q.Channel, q.Identifier, flow, q.Lang, q.IP, kilt.Truncate(q.UserAgent, 256), q.CreatedAt)
	return err
}

func (r recoveryTx) Requests(ctx context.Context, limit int) ([]recovery.Request, error) {
	rows, err := r.tx.Query(ctx, `SELECT id, channel, identifier, flow_id, lang, ip, user_agent, created_at
		FROM recovery_requests ORDER BY id LIMIT $1`+skipLocked[r.tx.Dialect()], limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var reqs []recovery.Request
	for rows.Next() {
		var q recovery.Request
		var flow sql.NullString
		if err := rows.Scan(&q.ID, &q.Channel, &q.Identifier, &flow, &q.Lang, &q.IP, &q.UserAgent, TimeCol(&q.CreatedAt)); err != nil {
			return nil, err
		}
		q.FlowID = flow.String
		reqs = append(reqs, q)
	}
	return reqs, rows.Err()
}

func (r recoveryTx) DeleteRequest(ctx context.Context, id int64) error {
	_, err := r.tx.Exec(ctx, `DELETE FROM recovery_requests WHERE id = $1`, id)
	return err
}

// deleteRequests is one statement whatever the number of ids (so one prepared statement):
// the ids go as one array argument (idArray).
var deleteRequests = map[Dialect]string{
	SQLite:   `DELETE FROM recovery_requests WHERE id IN (SELECT value FROM json_each($1))`,
	Postgres: `DELETE FROM recovery_requests WHERE id = ANY($1::bigint[])`,
}

func (r recoveryTx) DeleteRequests(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := r.tx.Exec(ctx, deleteRequests[r.tx.Dialect()], idArray(r.tx.Dialect(), ids))
	return err
}

// idArray is ids as one statement argument, so that a statement on any number of rows is one
// prepared statement: a JSON array on SQLite (read with json_each), an array literal on
// PostgreSQL (cast to bigint[]).
func idArray(d Dialect, ids []int64) string {
	var b strings.Builder
	open, close := "[", "]"
	if d == Postgres {
		open, close = "{", "}"
	}
	b.WriteString(open)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteString(close)
	return b.String()
}

func (r recoveryTx) InsertFlow(ctx context.Context, f recovery.Flow) error {
	_, err := r.tx.Exec(ctx, `INSERT INTO recovery_flows (id, account_id, identifier, lang, code_hmac, code_expires_at, attempts,
		last_request_at, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		f.ID, nullID(f.AccountID), f.Identifier, f.Lang, f.CodeMAC, f.CodeExpiresAt, f.Attempts, f.LastRequestAt, f.CreatedAt, f.ExpiresAt)
	return err
}

// nullID stores 0 as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

const flowColumns = `id, account_id, identifier, lang, code_hmac, code_expires_at, attempts, last_request_at, created_at, expires_at`

func scanFlow(row interface{ Scan(...any) error }) (recovery.Flow, error) {
	var f recovery.Flow
	var account sql.NullInt64
	var codeExpires *time.Time
	err := row.Scan(&f.ID, &account, &f.Identifier, &f.Lang, &f.CodeMAC, NullTimeCol(&codeExpires), &f.Attempts,
		TimeCol(&f.LastRequestAt), TimeCol(&f.CreatedAt), TimeCol(&f.ExpiresAt))
	if errors.Is(err, sql.ErrNoRows) {
		return f, kilt.ErrNotFound
	}
	f.AccountID = account.Int64
	if codeExpires != nil {
		f.CodeExpiresAt = *codeExpires
	}
	return f, err
}

func (r recoveryTx) Flow(ctx context.Context, id string) (recovery.Flow, error) {
	return scanFlow(r.tx.QueryRow(ctx, `SELECT `+flowColumns+` FROM recovery_flows WHERE id = $1`+forUpdate[r.tx.Dialect()], id))
}

func (r recoveryTx) FlowNumber(ctx context.Context, id string) (string, error) {
	var number string
	err := r.tx.QueryRow(ctx, `SELECT identifier FROM recovery_flows WHERE id = $1`, id).Scan(&number)
	if errors.Is(err, sql.ErrNoRows) {
		return "", kilt.ErrNotFound
	}
	return number, err
}

func (r recoveryTx) UpdateFlow(ctx context.Context, f recovery.Flow) error {
	res, err := r.tx.Exec(ctx, `UPDATE recovery_flows SET account_id = $1, lang = $2, code_hmac = $3, code_expires_at = $4,
		attempts = $5, last_request_at = $6, expires_at = $7 WHERE id = $8`,
		nullID(f.AccountID), f.Lang, f.CodeMAC, f.CodeExpiresAt, f.Attempts, f.LastRequestAt, f.ExpiresAt, f.ID)
	return oneRow(res, err)
}

// oneRow turns an update that touched no row into kilt.ErrNotFound.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return kilt.ErrNotFound
	}
	return nil
}

func (r recoveryTx) EndFlows(ctx context.Context, identifier string, now time.Time) error {
	_, err := r.tx.Exec(ctx, `UPDATE recovery_flows SET code_hmac = NULL, expires_at = $1 WHERE identifier = $2 AND expires_at > $1`,
		now, identifier)
	return err
}

func (r recoveryTx) AccountByEmail(ctx context.Context, key string) (*account.Account, error) {
	return scanAccount(r.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`, key))
}

func (r recoveryTx) AccountByPhone(ctx context.Context, e164 string) (*account.Account, error) {
	return scanAccount(r.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE phone = $1`, e164))
}

func (r recoveryTx) PauseSMS(ctx context.Context, accountID int64, until time.Time) error {
	res, err := r.tx.Exec(ctx, `UPDATE accounts SET sms_paused_until = $1 WHERE id = $2`, until, accountID)
	return oneRow(res, err)
}

func (r recoveryTx) InsertToken(ctx context.Context, t recovery.Token) error {
	return insertToken(ctx, r.tx, t)
}

func insertToken(ctx context.Context, tx *Tx, t recovery.Token) error {
	_, err := tx.Exec(ctx, `INSERT INTO recovery_tokens (token_hash, account_id, purpose, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.AccountID, t.Purpose, t.CreatedAt, t.ExpiresAt)
	return err
}

func (r recoveryTx) Token(ctx context.Context, hash []byte) (recovery.Token, error) {
	t := recovery.Token{Hash: hash}
	var used *time.Time
	err := r.tx.QueryRow(ctx, `SELECT account_id, purpose, created_at, expires_at, used_at FROM recovery_tokens WHERE token_hash = $1`,
		hash).Scan(&t.AccountID, &t.Purpose, TimeCol(&t.CreatedAt), TimeCol(&t.ExpiresAt), NullTimeCol(&used))
	if errors.Is(err, sql.ErrNoRows) {
		return t, kilt.ErrNotFound
	}
	if used != nil {
		t.UsedAt = *used
	}
	return t, err
}

func (r recoveryTx) UseTokens(ctx context.Context, accountID int64, purpose string, now time.Time) error {
	_, err := r.tx.Exec(ctx, `UPDATE recovery_tokens SET used_at = $1 WHERE account_id = $2 AND purpose = $3 AND used_at IS NULL`,
		now, accountID, purpose)
	return err
}

func (r recoveryTx) AddCodeFailure(ctx context.Context, key string, accountID int64, at time.Time) error {
	return addCodeFailure(ctx, r.tx, key, accountID, at)
}

func (r recoveryTx) CodeFailures(ctx context.Context, key string, since time.Time) (int, error) {
	return countCodeFailures(ctx, r.tx, key, since)
}

func (r recoveryTx) PruneCodeFailures(ctx context.Context, key string, before time.Time) error {
	return pruneCodeFailures(ctx, r.tx, key, before)
}

func (r recoveryTx) Enqueue(ctx context.Context, m *outbox.Message) error {
	return enqueue(ctx, r.tx, m)
}

func (r recoveryTx) Audit(ctx context.Context, e audit.Event) error { return recordAudit(ctx, r.tx, e) }

func (r recoveryTx) Audits(ctx context.Context, es []audit.Event) error {
	return recordAudits(ctx, r.tx, es)
}
