package sqlstore

import (
	"context"
	"database/sql"

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
	var account any
	if e.AccountID != 0 {
		account = e.AccountID
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_events (at, type, account_id, ip, user_agent, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.At, e.Type, account, e.IP, kilt.Truncate(e.UserAgent, 256), e.Detail)
	return err
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
