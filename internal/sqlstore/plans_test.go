package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"kilt/internal/outbox"
)

// queryPlan returns the database's plan for query with args, one line per node: SQLite's
// EXPLAIN QUERY PLAN details, PostgreSQL's EXPLAIN text. The statement is not run.
func queryPlan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	explain := map[Dialect]string{SQLite: "EXPLAIN QUERY PLAN ", Postgres: "EXPLAIN "}[db.Dialect()]
	rows, err := db.Query(context.Background(), explain+query, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		switch v := vals[len(vals)-1].(type) { // SQLite's detail, PostgreSQL's QUERY PLAN
		case string:
			lines = append(lines, v)
		case []byte:
			lines = append(lines, string(v))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// fillSent adds n sent e-mails to the outbox, copies of the message id, as a portal's
// outbox holds them for KILT_RETENTION_MESSAGES (30 days by default). PostgreSQL then
// gathers its statistics, as its autovacuum does in time; SQLite has none unless ANALYZE
// runs, which Kilt does not do, so its planner goes by the indexes alone.
func fillSent(t testing.TB, db *DB, id int64, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1)
		INSERT INTO outbox (channel, kind, lang, recipient, params, status, next_attempt_at, created_at, updated_at, sent_at, priority)
		SELECT o.channel, o.kind, o.lang, o.recipient, o.params, 'sent', o.next_attempt_at, o.created_at, o.updated_at, o.created_at, o.priority
		FROM outbox o, seq WHERE o.id = $2`, n, id); err != nil {
		t.Fatalf("filling the outbox: %v", err)
	}
	if db.Dialect() == Postgres {
		if _, err := db.Exec(ctx, `ANALYZE outbox`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClaimReadsOnlyWhatIsDue: a dispatcher's claim finds its messages through the lane's
// index by channel and status, so the sent messages the outbox keeps for a month are never
// read. A claim that searched the index by channel alone read every sent e-mail of the
// retention period on every claim, inside SQLite's one write transaction (docs/performance.md,
// session 14).
func TestClaimReadsOnlyWhatIsDue(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		s := NewOutbox(db)
		ids := enqueueN(t, s, 3, outbox.RecoveryLink)
		fillSent(t, db, ids[0], 20000)
		now := t0.Add(time.Minute)
		plan := queryPlan(t, db, claimStatement(db.Dialect()), "me", now.Add(time.Minute), now, 16, outbox.Email)
		t.Logf("plan:\n%s", plan)
		switch db.Dialect() {
		case SQLite:
			if !strings.Contains(plan, "outbox_lane (channel=? AND status=?)") {
				t.Errorf("the claim does not search the lane's index by channel and status:\n%s", plan)
			}
		case Postgres:
			if strings.Contains(plan, "Seq Scan on outbox") || !strings.Contains(plan, "status = ") {
				t.Errorf("the claim does not search an index by status:\n%s", plan)
			}
		}
		// And it still claims what is due, in order.
		got, err := s.Claim(context.Background(), outbox.Email, "me", now, time.Minute, 2)
		if err != nil || len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] {
			t.Fatalf("claim among the sent: %v, %v; want the first two of %v", got, err, ids)
		}
	})
}
