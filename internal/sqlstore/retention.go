package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"kilt/internal/retention"
)

// retentionTable says which rows of a table have expired: those whose time column is
// before the cutoff and that match cond (SQL, may be empty). Adding a table to the
// retention job is one line here.
type retentionTable struct {
	name  string
	class retention.Class
	time  string // the column compared with the cutoff
	cond  string // more of the WHERE clause, ANDed; "" for none
	date  bool   // the time column is a TEXT date "2006-01-02" (UTC), not a time
}

// retentionTables are the tables the retention job prunes. Accounts and password history
// are not here on purpose: they are never pruned by age (an erasure removes what an account
// held). Nor are
// recovery_requests: the processor deletes each as it resolves it, and an old one is a
// request still to answer.
var retentionTables = []retentionTable{
	{name: "sessions", class: retention.Expired, time: "expires_at"},
	{name: "recovery_tokens", class: retention.Expired, time: "expires_at"},
	{name: "recovery_flows", class: retention.Expired, time: "expires_at"},
	{name: "registrations", class: retention.Expired, time: "expires_at"},
	{name: "code_failures", class: retention.Counter, time: "at"},
	{name: "login_throttle", class: retention.Counter, time: "last_failed_at"},
	{name: "rate_limits", class: retention.Void, time: "tat"},
	{name: "outbox", class: retention.Message, time: "updated_at", cond: "status IN ('sent', 'blocked', 'abandoned')"},
	{name: "sms_budget", class: retention.Message, time: "day", date: true},
	{name: "console_sessions", class: retention.Expired, time: "expires_at"},
	{name: "desk_codes", class: retention.Expired, time: "expires_at"},
	{name: "desk_code_failures", class: retention.Counter, time: "at"},
	// A channel change expires with its link or code, or, completed, at the end of the
	// window in which a freeze reverts it; a freeze token after its 7 days.
	{name: "channel_changes", class: retention.Expired, time: "expires_at"},
	{name: "freeze_tokens", class: retention.Expired, time: "expires_at"},
	// The audit trail by the time of each event (index audit_events_at).
	{name: "audit_events", class: retention.Audit, time: "at"},
}

// rowRef names a row for a batch delete: the rowid of SQLite (every table but WITHOUT
// ROWID ones has it) and the ctid of PostgreSQL, so one statement serves any primary key.
var rowRef = map[Dialect]string{SQLite: "rowid", Postgres: "ctid"}

// retentionLockSpace is the first key of the PostgreSQL advisory locks that keep two
// instances from pruning one table at the same moment ("kilt" in ASCII).
const retentionLockSpace = 0x6b696c74

// Retention implements retention.Store.
type Retention struct {
	db      *DB
	queries sync.Map // table name → string
}

// NewRetention returns the retention store on db.
func NewRetention(db *DB) *Retention { return &Retention{db: db} }

var _ retention.Store = (*Retention)(nil)

// Tables implements retention.Store.
func (s *Retention) Tables() []retention.Table {
	out := make([]retention.Table, len(retentionTables))
	for i, t := range retentionTables {
		out[i] = retention.Table{Name: t.name, Class: t.class}
	}
	return out
}

// query is the batch delete of t: the rows picked by a LIMITed subquery (neither dialect
// has a portable DELETE … LIMIT), skipping rows another transaction holds on PostgreSQL
// rather than waiting for them.
func (s *Retention) query(t retentionTable) string {
	if q, ok := s.queries.Load(t.name); ok {
		return q.(string)
	}
	d := s.db.Dialect()
	where := t.time + " < $1"
	if t.cond != "" {
		where += " AND " + t.cond
	}
	q := fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s LIMIT $2%s)",
		t.name, rowRef[d], rowRef[d], t.name, where, skipLocked[d])
	s.queries.Store(t.name, q)
	return q
}

// Prune implements retention.Store. On PostgreSQL each batch first tries the table's
// advisory lock for its transaction: an instance that does not get it deletes nothing this
// time instead of queueing behind the other.
func (s *Retention) Prune(ctx context.Context, table string, cutoff time.Time, limit int) (int, error) {
	var t retentionTable
	for _, rt := range retentionTables {
		if rt.name == table {
			t = rt
		}
	}
	if t.name == "" {
		return 0, fmt.Errorf("sqlstore: retention: unknown table %q", table)
	}
	var arg any = cutoff.UTC()
	if t.date {
		arg = cutoff.UTC().Format(time.DateOnly)
	}
	var n int64
	err := s.db.InTx(ctx, func(tx *Tx) error {
		if tx.Dialect() == Postgres {
			var got bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, hashtext($2))`,
				retentionLockSpace, t.name).Scan(&got); err != nil || !got {
				return err
			}
		}
		res, err := tx.Exec(ctx, s.query(t), arg, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
