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
	"kilt/internal/ratelimit"
	"kilt/internal/recovery"
)

// Recovery implements recovery.Store.
type Recovery struct{ db *DB }

// NewRecovery returns the recovery store on db.
func NewRecovery(db *DB) *Recovery { return &Recovery{db: db} }

var _ recovery.Store = (*Recovery)(nil)

func insertRequest(ctx context.Context, tx *Tx, r recovery.Request) error {
	var flow any
	if r.FlowID != "" {
		flow = r.FlowID
	}
	_, err := tx.Exec(ctx, `INSERT INTO recovery_requests (channel, identifier, flow_id, lang, ip, user_agent, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.Channel, r.Identifier, flow, r.Lang, r.IP, kilt.Truncate(r.UserAgent, 256), r.CreatedAt)
	return err
}

// Request implements recovery.Store.
func (s *Recovery) Request(ctx context.Context, r recovery.Request, f *recovery.Flow, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	var res ratelimit.Result
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		if res, err = takeLimits(ctx, tx, checks, now); err != nil || !res.Allowed {
			return err
		}
		if f != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO recovery_flows (id, identifier, lang, code_expires_at, attempts,
				last_request_at, created_at, expires_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $7)`,
				f.ID, f.Identifier, f.Lang, f.CodeExpiresAt, f.LastRequestAt, f.CreatedAt, f.ExpiresAt); err != nil {
				return err
			}
		}
		return insertRequest(ctx, tx, r)
	})
	return res, err
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

// Resend implements recovery.Store.
func (s *Recovery) Resend(ctx context.Context, r recovery.Request, cooldown time.Duration, codeExpires time.Time,
	checks []ratelimit.Check, now time.Time) (recovery.Flow, ratelimit.Result, error) {
	var f recovery.Flow
	var res ratelimit.Result
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		f, err = scanFlow(tx.QueryRow(ctx, `SELECT `+flowColumns+` FROM recovery_flows WHERE id = $1`+forUpdate[tx.Dialect()], r.FlowID))
		if err != nil {
			return err
		}
		if !now.Before(f.ExpiresAt) {
			return kilt.ErrNotFound
		}
		if wait := f.LastRequestAt.Add(cooldown).Sub(now); wait > 0 {
			res = ratelimit.Result{RetryAfter: wait}
			return nil
		}
		if res, err = takeLimits(ctx, tx, checks, now); err != nil || !res.Allowed {
			return err
		}
		// The old code dies and the count of wrong entries starts again, for every flow alike.
		if _, err := tx.Exec(ctx, `UPDATE recovery_flows SET code_hmac = NULL, attempts = 0, code_expires_at = $1,
			last_request_at = $2 WHERE id = $3`, codeExpires, now, f.ID); err != nil {
			return err
		}
		f.Attempts, f.CodeMAC, f.CodeExpiresAt, f.LastRequestAt = 0, nil, codeExpires, now
		r.Identifier = f.Identifier
		if r.Lang == "" {
			r.Lang = f.Lang
		}
		return insertRequest(ctx, tx, r)
	})
	return f, res, err
}

// Resolve implements recovery.Store. The requests are deleted in the transaction that
// resolves them: a crash in between leaves them in place for the next try, and on
// PostgreSQL SKIP LOCKED keeps instances from resolving one twice.
func (s *Recovery) Resolve(ctx context.Context, limit int, fn func(ctx context.Context, tx recovery.ResolveTx, r recovery.Request) error) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(tx *Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `SELECT id, channel, identifier, flow_id, lang, ip, user_agent, created_at
			FROM recovery_requests ORDER BY id LIMIT $1`+skipLocked[tx.Dialect()], limit)
		if err != nil {
			return err
		}
		var reqs []recovery.Request
		for rows.Next() {
			var r recovery.Request
			var flow sql.NullString
			if err := rows.Scan(&r.ID, &r.Channel, &r.Identifier, &flow, &r.Lang, &r.IP, &r.UserAgent, TimeCol(&r.CreatedAt)); err != nil {
				rows.Close()
				return err
			}
			r.FlowID = flow.String
			reqs = append(reqs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rtx := resolveTx{tx: tx}
		for _, r := range reqs {
			if err := fn(ctx, rtx, r); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM recovery_requests WHERE id = $1`, r.ID); err != nil {
				return err
			}
		}
		n = len(reqs)
		return nil
	})
	return n, err
}

// resolveTx is recovery.ResolveTx on one transaction.
type resolveTx struct{ tx *Tx }

func (r resolveTx) AccountByEmail(ctx context.Context, key string) (*account.Account, error) {
	return scanAccount(r.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`, key))
}

func (r resolveTx) AccountByPhone(ctx context.Context, e164 string) (*account.Account, error) {
	return scanAccount(r.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE phone = $1`, e164))
}

func (r resolveTx) Take(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	return takeLimits(ctx, r.tx, checks, now)
}

func (r resolveTx) IssueLink(ctx context.Context, accountID int64, tokenHash []byte, now, expires time.Time) error {
	// A newer link kills the older unused ones.
	if _, err := r.tx.Exec(ctx, `UPDATE recovery_tokens SET used_at = $1 WHERE account_id = $2 AND purpose = $3 AND used_at IS NULL`,
		now, accountID, recovery.PurposeLink); err != nil {
		return err
	}
	return insertToken(ctx, r.tx, accountID, tokenHash, recovery.PurposeLink, now, expires)
}

func insertToken(ctx context.Context, tx *Tx, accountID int64, hash []byte, purpose string, now, expires time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO recovery_tokens (token_hash, account_id, purpose, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, hash, accountID, purpose, now, expires)
	return err
}

func (r resolveTx) SetFlowCode(ctx context.Context, flowID string, accountID int64, mac []byte) error {
	_, err := r.tx.Exec(ctx, `UPDATE recovery_flows SET account_id = $1, code_hmac = $2 WHERE id = $3`, accountID, mac, flowID)
	return err
}

func (r resolveTx) Enqueue(ctx context.Context, m *outbox.Message) error {
	return enqueue(ctx, r.tx, m)
}

func (r resolveTx) Audit(ctx context.Context, e audit.Event) error { return recordAudit(ctx, r.tx, e) }

// Verify implements recovery.Store.
func (s *Recovery) Verify(ctx context.Context, flowID string, now time.Time, failures int, window, pause time.Duration,
	check func(f recovery.Flow) recovery.VerifyOutcome) (recovery.Flow, error) {
	var f recovery.Flow
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		f, err = scanFlow(tx.QueryRow(ctx, `SELECT `+flowColumns+` FROM recovery_flows WHERE id = $1`+forUpdate[tx.Dialect()], flowID))
		if err != nil {
			return err
		}
		out := check(f)
		if out.Gone || out.Expired {
			return nil
		}
		f.Attempts++
		if out.Correct {
			// The code is spent; what it bought is a token that can only set the password.
			if _, err := tx.Exec(ctx, `UPDATE recovery_flows SET attempts = $1, code_hmac = NULL, expires_at = $2 WHERE id = $3`,
				f.Attempts, now, f.ID); err != nil {
				return err
			}
			return insertToken(ctx, tx, f.AccountID, out.ResetTokenHash, recovery.PurposePhone, now, out.ResetExpires)
		}
		if out.KillCode {
			f.CodeMAC = nil
		}
		if _, err := tx.Exec(ctx, `UPDATE recovery_flows SET attempts = $1, code_hmac = $2 WHERE id = $3`,
			f.Attempts, f.CodeMAC, f.ID); err != nil {
			return err
		}
		var account any
		if f.AccountID != 0 {
			account = f.AccountID
		}
		if _, err := tx.Exec(ctx, `INSERT INTO code_failures (account_id, at) VALUES ($1, $2)`, account, now); err != nil {
			return err
		}
		// The same count is made for a flow without an account (of the failures without one),
		// so that both cost the same.
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM code_failures WHERE account_id IS NOT DISTINCT FROM $1 AND at > $2`,
			account, now.Add(-window)).Scan(&n); err != nil {
			return err
		}
		if f.AccountID != 0 && n >= failures {
			if _, err := tx.Exec(ctx, `UPDATE accounts SET sms_paused_until = $1 WHERE id = $2`, now.Add(pause), f.AccountID); err != nil {
				return err
			}
			if err := recordAudit(ctx, tx, audit.Event{Type: audit.SMSPaused, AccountID: f.AccountID, At: now,
				Detail: "too many wrong codes"}); err != nil {
				return err
			}
		}
		return recordAudit(ctx, tx, audit.Event{Type: audit.CodeFailed, AccountID: f.AccountID, At: now})
	})
	return f, err
}

// TokenAccount implements recovery.Store.
func (s *Recovery) TokenAccount(ctx context.Context, tokenHash []byte, now time.Time) (int64, string, error) {
	var id int64
	var purpose string
	err := s.db.QueryRow(ctx, `SELECT account_id, purpose FROM recovery_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`,
		tokenHash, now).Scan(&id, &purpose)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", kilt.ErrNotFound
	}
	return id, purpose, unavailable(err)
}
