package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"kilt/internal/audit"
	"kilt/internal/recovery"
)

// TestAuditsInFewStatements: a batch's audit events go in multi-row INSERTs of 2^k ≤ 64
// rows, in order: 75 events are 4 statements (64 + 8 + 2 + 1), not 75 as before.
func TestAuditsInFewStatements(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		es := make([]audit.Event, 75)
		for i := range es {
			es[i] = audit.Event{Type: audit.RecoveryRequested, At: t0.Add(time.Duration(i) * time.Second),
				IP: "10.0.0.1", UserAgent: "test", Detail: fmt.Sprintf("event %d", i)}
		}
		before, _ := db.Counts()
		if err := NewRecovery(db).InTx(ctx, func(tx recovery.Tx) error { return tx.Audits(ctx, es) }); err != nil {
			t.Fatal(err)
		}
		if after, _ := db.Counts(); after-before != 4 {
			t.Errorf("75 audit events took %d statements, want 4", after-before)
		}
		rows, err := db.Query(ctx, `SELECT at, type, ip, user_agent, detail FROM audit_events ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for ; rows.Next(); i++ {
			var e audit.Event
			if err := rows.Scan(TimeCol(&e.At), &e.Type, &e.IP, &e.UserAgent, &e.Detail); err != nil {
				t.Fatal(err)
			}
			if i < len(es) && (e != es[i]) {
				t.Errorf("row %d: %+v, want %+v", i, e, es[i])
			}
		}
		if err := rows.Err(); err != nil || i != len(es) {
			t.Errorf("%d rows (%v), want %d", i, err, len(es))
		}
	})
}
