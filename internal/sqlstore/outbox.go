package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"kilt"
	"kilt/internal/outbox"
)

// Outbox implements outbox.Store.
type Outbox struct{ db *DB }

// NewOutbox returns the outbox store on db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db} }

var _ outbox.Store = (*Outbox)(nil)

const outboxColumns = `id, channel, kind, lang, recipient, account_id, params, secret, status, attempts,
	next_attempt_at, lease_until, last_error, created_at, sent_at`

// scanMessage is the one scan helper of outbox rows; its column order is outboxColumns.
func scanMessage(row interface{ Scan(...any) error }) (outbox.Message, error) {
	var m outbox.Message
	var accountID sql.NullInt64
	var params string
	var secret sql.NullString
	var lease, sent *time.Time
	err := row.Scan(&m.ID, &m.Channel, &m.Kind, &m.Lang, &m.To, &accountID, &params, &secret, &m.Status,
		&m.Attempts, TimeCol(&m.NextAttemptAt), NullTimeCol(&lease), &m.LastError, TimeCol(&m.CreatedAt), NullTimeCol(&sent))
	if err != nil {
		return m, err
	}
	m.AccountID = accountID.Int64
	if lease != nil {
		m.LeaseUntil = *lease
	}
	if sent != nil {
		m.SentAt = *sent
	}
	if err := json.Unmarshal([]byte(params), &m.Params); err != nil {
		return m, err
	}
	if secret.Valid {
		if err := json.Unmarshal([]byte(secret.String), &m.Secret); err != nil {
			return m, err
		}
	}
	return m, nil
}

// enqueue inserts m as pending and due now, in whatever transaction q is: the flows' stores
// call it in the transaction of the state that causes the message.
func enqueue(ctx context.Context, q Querier, m *outbox.Message) error {
	params, err := json.Marshal(nonNil(m.Params))
	if err != nil {
		return err
	}
	var secret any
	if len(m.Secret) > 0 {
		b, err := json.Marshal(m.Secret)
		if err != nil {
			return err
		}
		secret = string(b)
	}
	var account any
	if m.AccountID != 0 {
		account = m.AccountID
	}
	m.Status, m.Attempts, m.NextAttemptAt = outbox.StatusPending, 0, m.CreatedAt
	// A message someone is waiting for (a link, a code) goes before notices.
	priority := 1
	if secret != nil {
		priority = 0
	}
	return q.QueryRow(ctx, `INSERT INTO outbox (channel, kind, lang, recipient, account_id, params, secret, status,
		attempts, next_attempt_at, created_at, updated_at, priority)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, $9, $10) RETURNING id`,
		m.Channel, m.Kind, m.Lang, m.To, account, string(params), secret, m.Status, m.CreatedAt, priority).Scan(&m.ID)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Enqueue implements outbox.Store.
func (s *Outbox) Enqueue(ctx context.Context, m *outbox.Message) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return enqueue(ctx, tx, m) })
}

// Claim implements outbox.Store. On PostgreSQL the due rows are locked with SKIP LOCKED, so
// dispatchers of several instances each take different messages without waiting for one
// another; on SQLite the write transaction already serialises claims.
func (s *Outbox) Claim(ctx context.Context, ch outbox.Channel, owner string, now time.Time, lease time.Duration, limit int) ([]outbox.Message, error) {
	var out []outbox.Message
	err := s.db.InTx(ctx, func(tx *Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, claimStatement(tx.Dialect()), owner, now.Add(lease), now, limit, ch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// claimStatement is Claim's statement: $1 the owner, $2 the lease's end, $3 now, $4 the
// limit, $5 the channel. "status IN" is what lets SQLite, which has no statistics, search
// the lane's index by channel and status: without it the search ran by channel alone, over
// every sent message the outbox keeps (TestClaimReadsOnlyWhatIsDue).
func claimStatement(d Dialect) string { return claimStatements[d] }

var claimStatements = func() map[Dialect]string {
	m := map[Dialect]string{}
	for _, d := range []Dialect{SQLite, Postgres} {
		m[d] = `UPDATE outbox SET status = 'sending', claimed_by = $1, lease_until = $2,
			attempts = attempts + 1, updated_at = $3
			WHERE id IN (SELECT id FROM outbox
				WHERE channel = $5 AND status IN ('pending', 'sending') AND ((status = 'pending' AND next_attempt_at <= $3) OR (status = 'sending' AND lease_until <= $3))
				ORDER BY priority, next_attempt_at, id LIMIT $4` + skipLocked[d] + `)
			RETURNING ` + outboxColumns
	}
	return m
}()

// markSent is one statement whatever the number of ids (idArray).
var markSent = map[Dialect]string{
	SQLite: `UPDATE outbox SET status = 'sent', sent_at = $1, updated_at = $1, secret = NULL, lease_until = NULL,
		last_error = '' WHERE id IN (SELECT value FROM json_each($2)) AND claimed_by = $3 AND status = 'sending'`,
	Postgres: `UPDATE outbox SET status = 'sent', sent_at = $1, updated_at = $1, secret = NULL, lease_until = NULL,
		last_error = '' WHERE id = ANY($2::bigint[]) AND claimed_by = $3 AND status = 'sending'`,
}

// MarkSent implements outbox.Store: one statement for all of ids.
func (s *Outbox) MarkSent(ctx context.Context, ids []int64, owner string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, markSent[tx.Dialect()], now, idArray(tx.Dialect(), ids), owner)
		return err
	})
}

// MarkFailed implements outbox.Store.
func (s *Outbox) MarkFailed(ctx context.Context, id int64, owner string, now time.Time, f outbox.Failure) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		switch {
		case f.BlockReason != "":
			_, err = tx.Exec(ctx, `UPDATE outbox SET status = 'blocked', last_error = $1, secret = NULL, lease_until = NULL,
				updated_at = $2 WHERE id = $3 AND claimed_by = $4 AND status = 'sending'`, f.BlockReason, now, id, owner)
		case f.Abandon:
			_, err = tx.Exec(ctx, `UPDATE outbox SET status = 'abandoned', last_error = $1, secret = NULL, lease_until = NULL,
				updated_at = $2 WHERE id = $3 AND claimed_by = $4 AND status = 'sending'`, f.Error, now, id, owner)
		default:
			_, err = tx.Exec(ctx, `UPDATE outbox SET status = 'pending', last_error = $1, next_attempt_at = $2,
				lease_until = NULL, updated_at = $3 WHERE id = $4 AND claimed_by = $5 AND status = 'sending'`,
				f.Error, f.Next, now, id, owner)
		}
		return err
	})
}

// List implements outbox.Store.
func (s *Outbox) List(ctx context.Context, f outbox.Filter) ([]outbox.Message, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE ($1 = '' OR status = $1)
		ORDER BY id DESC LIMIT $2`, string(f.Status), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outbox.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Retry implements outbox.Store.
func (s *Outbox) Retry(ctx context.Context, id int64, now time.Time) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		m, err := scanMessage(tx.QueryRow(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE id = $1`+forUpdate[tx.Dialect()], id))
		if errors.Is(err, sql.ErrNoRows) {
			return kilt.ErrNotFound
		}
		if err != nil {
			return err
		}
		if m.Status != outbox.StatusAbandoned && m.Status != outbox.StatusBlocked {
			return kilt.Errorf(kilt.KindConflict, outbox.CodeNotRetryable, "message %d is %s; only abandoned or blocked messages are retried", id, m.Status)
		}
		if m.Secret == nil && carriesSecret[m.Kind] {
			return kilt.Errorf(kilt.KindConflict, outbox.CodeSecretErased, "message %d's link or code was erased when it was given up; the person must ask for a new one", id)
		}
		_, err = tx.Exec(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, last_error = '',
			claimed_by = '', updated_at = $1 WHERE id = $2`, now, id)
		return err
	})
}

// carriesSecret lists the kinds whose message is worthless without its erased secret.
var carriesSecret = map[outbox.Kind]bool{
	outbox.RegistrationLink: true, outbox.RegistrationCode: true,
	outbox.RecoveryLink: true, outbox.RecoveryCode: true,
}

// Depth implements outbox.Store.
func (s *Outbox) Depth(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest *time.Time
	err := s.db.QueryRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status IN ('pending', 'sending')`).
		Scan(&n, NullTimeCol(&oldest))
	if err != nil || oldest == nil {
		return n, time.Time{}, err
	}
	return n, *oldest, nil
}

// SMSBudget is the global daily SMS budget, held in the database so that every instance
// spends from the same one. It implements sms.Budget, sms.BudgetRefunder and
// sms.BudgetReporter.
type SMSBudget struct{ db *DB }

// NewSMSBudget returns the budget store on db.
func NewSMSBudget(db *DB) *SMSBudget { return &SMSBudget{db: db} }

// Take reserves one SMS of day's budget of limit (0: unlimited) and reports whether one was
// left. The conditional UPDATE is what makes it atomic across instances.
func (b *SMSBudget) Take(ctx context.Context, day string, limit int) (bool, error) {
	ok := false
	err := b.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sms_budget (day, used) VALUES ($1, 0) ON CONFLICT (day) DO NOTHING`, day); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE sms_budget SET used = used + 1 WHERE day = $1 AND ($2 = 0 OR used < $2)`, day, limit)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, err
}

// Refund gives back one SMS of day's budget.
func (b *SMSBudget) Refund(ctx context.Context, day string) error {
	return b.db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sms_budget SET used = used - 1 WHERE day = $1 AND used > 0`, day)
		return err
	})
}

// Used reports how many SMS of day's budget were spent.
func (b *SMSBudget) Used(ctx context.Context, day string) (int, error) {
	var n int
	err := b.db.QueryRow(ctx, `SELECT used FROM sms_budget WHERE day = $1`, day).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
