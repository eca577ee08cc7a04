package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strings"

	"kilt"
	"kilt/internal/audit"
)

// Audit implements audit.Store.
type Audit struct{ db *DB }

// NewAudit returns the audit store on db.
func NewAudit(db *DB) *Audit { return &Audit{db: db} }

var _ audit.Store = (*Audit)(nil)

// recordAudit inserts e in whatever transaction q is, so an event commits with what it
// records.
func recordAudit(ctx context.Context, q Querier, e audit.Event) error {
	return recordAudits(ctx, q, []audit.Event{e})
}

// maxAuditRows is the most rows one INSERT of recordAudits carries.
const maxAuditRows = 64

// insertAudits[k] inserts 2^k audit rows: recordAudits writes a batch in chunks of those
// sizes only, so the statements are a handful of fixed texts, each prepared once (stmts.go).
var insertAudits = func() []string {
	var out []string
	for n := 1; n <= maxAuditRows; n *= 2 {
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_events (at, type, account_id, ip, user_agent, detail) VALUES `)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", 6*i+1, 6*i+2, 6*i+3, 6*i+4, 6*i+5, 6*i+6)
		}
		out = append(out, b.String())
	}
	return out
}()

// recordAudits inserts es in order, in whatever transaction q is: in multi-row INSERTs of
// 2^k ≤ 64 rows each, so a batch of n events takes at most ⌈n/64⌉ + 6 statements.
func recordAudits(ctx context.Context, q Querier, es []audit.Event) error {
	for len(es) > 0 {
		k := bits.Len(uint(min(len(es), maxAuditRows))) - 1
		chunk := es[:1<<k]
		es = es[len(chunk):]
		args := make([]any, 0, 6*len(chunk))
		for _, e := range chunk {
			args = appendAuditArgs(args, e)
		}
		if _, err := q.Exec(ctx, insertAudits[k], args...); err != nil {
			return err
		}
	}
	return nil
}

// appendAuditArgs appends e's six columns of audit_events (at, type, account_id, ip,
// user_agent, detail) to args: no account is NULL, the user agent at most 256 bytes.
func appendAuditArgs(args []any, e audit.Event) []any {
	var account any
	if e.AccountID != 0 {
		account = e.AccountID
	}
	return append(args, e.At, e.Type, account, e.IP, kilt.Truncate(e.UserAgent, 256), e.Detail)
}

// Record implements audit.Store.
func (s *Audit) Record(ctx context.Context, e audit.Event) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return recordAudit(ctx, tx, e) })
}

// Recent implements audit.Store.
func (s *Audit) Recent(ctx context.Context, accountID int64, n int) ([]audit.Event, error) {
	rows, err := s.db.Query(ctx, `SELECT id, at, type, account_id, ip, user_agent, detail FROM audit_events
		WHERE account_id = $1 ORDER BY id DESC LIMIT $2`, accountID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var account sql.NullInt64
		if err := rows.Scan(&e.ID, TimeCol(&e.At), &e.Type, &account, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, err
		}
		e.AccountID = account.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}
