package sqlstore

import (
	"context"

	"kilt/internal/session"
)

// AccountSessions implements session.Tx.
func (t sessionTx) AccountSessions(ctx context.Context, accountID int64) ([]session.Session, error) {
	rows, err := t.tx.Query(ctx, `SELECT id, account_id, created_at, last_seen_at, expires_at, ip, user_agent
		FROM sessions WHERE account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.Session
	for rows.Next() {
		var s session.Session
		if err := rows.Scan(&s.ID, &s.AccountID, TimeCol(&s.CreatedAt), TimeCol(&s.LastSeenAt), TimeCol(&s.ExpiresAt),
			&s.IP, &s.UserAgent); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
