package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"kilt/internal/retention"
)

// retentionFixture inserts one row of a table whose time column holds at, and names the
// row by tag so the test can tell which rows are left.
type retentionFixture struct {
	insert func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error
	count  string // counts the rows with the tag ($1)
}

var retentionFixtures = map[string]retentionFixture{
	"sessions": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at, user_agent)
				VALUES ($1, $2, $3, $3, $3, $4)`, []byte(tag), acct, at, tag)
			return err
		},
		count: `SELECT COUNT(*) FROM sessions WHERE user_agent = $1`,
	},
	"recovery_tokens": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO recovery_tokens (token_hash, account_id, purpose, created_at, expires_at, used_at)
				VALUES ($1, $2, $3, $4, $4, $4)`, []byte(tag), acct, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM recovery_tokens WHERE purpose = $1`,
	},
	"recovery_flows": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO recovery_flows (id, identifier, lang, last_request_at, created_at, expires_at)
				VALUES ($1, '+77011234567', 'kk', $2, $2, $2)`, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM recovery_flows WHERE id = $1`,
	},
	"registrations": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO registrations (id, channel, identifier, password_hash, skeleton_hash, lang, created_at, expires_at)
				VALUES ($1, 'email', 'a@mail.kz', '$argon2id$…', 'sk', 'kk', $2, $2)`, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM registrations WHERE id = $1`,
	},
	"code_failures": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			// Tagged by account: the fixture makes one account per tag.
			_, err := db.Exec(ctx, `INSERT INTO code_failures (account_id, at) VALUES ($1, $2)`, acct, at)
			return err
		},
		count: `SELECT COUNT(*) FROM code_failures f JOIN accounts a ON a.id = f.account_id WHERE a.email = $1`,
	},
	"login_throttle": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO login_throttle (key, failures, last_failed_at) VALUES ($1, 3, $2)`, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM login_throttle WHERE key = $1`,
	},
	"rate_limits": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO rate_limits (name, key, tat) VALUES ('recovery_ip', $1, $2)`, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM rate_limits WHERE key = $1`,
	},
	"outbox": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO outbox (channel, kind, lang, recipient, status, next_attempt_at, created_at, updated_at, sent_at)
				VALUES ('email', 'recovery_link', 'kk', $1, 'sent', $2, $2, $2, $2)`, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM outbox WHERE recipient = $1`,
	},
	"console_sessions": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			if _, err := db.Exec(ctx, `INSERT INTO operators (account_id, role, created_at) VALUES ($1, 'support', $2)
				ON CONFLICT (account_id) DO NOTHING`, acct, at); err != nil {
				return err
			}
			_, err := db.Exec(ctx, `INSERT INTO console_sessions (token_hash, account_id, created_at, last_seen_at, expires_at, user_agent)
				VALUES ($1, $2, $3, $3, $3, $4)`, []byte(tag), acct, at, tag)
			return err
		},
		count: `SELECT COUNT(*) FROM console_sessions WHERE user_agent = $1`,
	},
	"desk_codes": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO desk_codes (code_hmac, account_id, created_at, expires_at) VALUES ($1, $2, $3, $3)`,
				[]byte(tag), acct, at)
			return err
		},
		count: `SELECT COUNT(*) FROM desk_codes c JOIN accounts a ON a.id = c.account_id WHERE a.email = $1`,
	},
	"desk_code_failures": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO desk_code_failures (ip_key, at) VALUES ($1, $2)`, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM desk_code_failures WHERE ip_key = $1`,
	},
	"channel_changes": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO channel_changes (id, account_id, kind, value, created_at, sent_at, expires_at)
				VALUES ($1, $2, 'email', 'n@mail.kz', $3, $3, $3)`, tag, acct, at)
			return err
		},
		count: `SELECT COUNT(*) FROM channel_changes WHERE id = $1`,
	},
	"freeze_tokens": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO freeze_tokens (token_hash, account_id, event, channels, created_at, expires_at)
				VALUES ($1, $2, $3, 'email', $4, $4)`, []byte(tag), acct, tag, at)
			return err
		},
		count: `SELECT COUNT(*) FROM freeze_tokens WHERE event = $1`,
	},
	"audit_events": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO audit_events (at, type, account_id, detail) VALUES ($1, 'login_failed', $2, $3)`, at, acct, tag)
			return err
		},
		count: `SELECT COUNT(*) FROM audit_events WHERE detail = $1`,
	},
	"sms_budget": {
		insert: func(ctx context.Context, db *DB, acct int64, tag string, at time.Time) error {
			_, err := db.Exec(ctx, `INSERT INTO sms_budget (day, used) VALUES ($1, 7)`, at.UTC().Format(time.DateOnly))
			return err
		},
		count: `SELECT COUNT(*) FROM sms_budget WHERE day = $1`,
	},
}

// TestRetentionDeletesWhatExpired: for every table, a row just past its age goes and a
// row just within it stays, by the fake clock (the audit trail after a year); a message still
// to send is never pruned by age, and an audit event younger than a year stays.
func TestRetentionDeletesWhatExpired(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := t0.Add(100 * 24 * time.Hour)
		ages := retention.DefaultAges()
		var deleted sync.Map
		job := retention.New(NewRetention(db), func() time.Time { return now }, retention.Config{Batch: 2, Ages: ages}, nil,
			func(table string, n int) {
				v, _ := deleted.LoadOrStore(table, new(int))
				*v.(*int) += n
			})
		type row struct{ table, tag, countArg string }
		var gone, kept []row
		for _, tbl := range NewRetention(db).Tables() {
			fx, ok := retentionFixtures[tbl.Name]
			if !ok {
				t.Errorf("table %s has no fixture in retention_test.go", tbl.Name)
				continue
			}
			age := ages[tbl.Class]
			step := time.Minute
			if tbl.Name == "sms_budget" {
				step = 24 * time.Hour // a day is the unit: the day before the cutoff's day goes
			}
			// Three rows past the age (more than a batch of 2), one within it.
			for i, at := range []time.Time{now.Add(-age - step), now.Add(-age - 2*step), now.Add(-age - 3*step), now.Add(-age + step)} {
				tag := fmt.Sprintf("%s-%d@mail.kz", tbl.Name, i)
				a := newAccount(tag, "")
				if err := createAccount(ctx, db, a, entry(0)); err != nil {
					t.Fatal(err)
				}
				if err := fx.insert(ctx, db, a.ID, tag, at); err != nil {
					t.Fatalf("%s: insert: %v", tbl.Name, err)
				}
				countArg := tag
				if tbl.Name == "sms_budget" {
					countArg = at.UTC().Format(time.DateOnly)
				}
				if i < 3 {
					gone = append(gone, row{tbl.Name, tag, countArg})
				} else {
					kept = append(kept, row{tbl.Name, tag, countArg})
				}
			}
		}
		// Never pruned by age: a message still to send. Within its year: an audit event.
		if _, err := db.Exec(ctx, `INSERT INTO outbox (channel, kind, lang, recipient, status, next_attempt_at, created_at, updated_at)
			VALUES ('sms', 'recovery_code', 'kk', 'pending@mail.kz', 'pending', $1, $1, $1)`, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO audit_events (at, type, detail) VALUES ($1, 'login_failed', 'ancient')`, t0); err != nil {
			t.Fatal(err)
		}

		got, err := job.RunOnce(ctx)
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		count := func(r row) int {
			var n int
			if err := db.QueryRow(ctx, retentionFixtures[r.table].count, r.countArg).Scan(&n); err != nil {
				t.Fatalf("%s: count: %v", r.table, err)
			}
			return n
		}
		for _, r := range gone {
			if n := count(r); n != 0 {
				t.Errorf("%s: the expired row %s is still there", r.table, r.tag)
			}
		}
		for _, r := range kept {
			if n := count(r); n != 1 {
				t.Errorf("%s: the live row %s is gone", r.table, r.tag)
			}
		}
		for _, tbl := range NewRetention(db).Tables() {
			v, _ := deleted.Load(tbl.Name)
			reported := 0
			if v != nil {
				reported = *v.(*int)
			}
			if got[tbl.Name] != 3 || reported != 3 {
				t.Errorf("%s: RunOnce says %d deleted, the metric %d; want 3", tbl.Name, got[tbl.Name], reported)
			}
		}
		// Nothing grows without bound: the trail, which every anonymous recovery request
		// adds to, is pruned too.
		if _, ok := deleted.Load("audit_events"); !ok {
			t.Errorf("the audit trail is never pruned")
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM outbox WHERE status = 'pending') + (SELECT COUNT(*) FROM audit_events WHERE detail = 'ancient')`).Scan(&n); err != nil || n != 2 {
			t.Errorf("the pending message and the audit event: %d left (%v), want 2", n, err)
		}
		// Idempotent: a second round finds nothing.
		again, err := job.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for name, n := range again {
			if n != 0 {
				t.Errorf("second round deleted %d rows of %s", n, name)
			}
		}
	})
}

// TestRetentionJobsAtOnce: two instances pruning the same database at the same time
// delete every expired row exactly once between them, and neither fails.
func TestRetentionJobsAtOnce(t *testing.T) {
	for _, dialect := range testDialects {
		t.Run(dialect.String(), func(t *testing.T) { retentionJobsAtOnce(t, dialect) })
	}
}

func retentionJobsAtOnce(t *testing.T, dialect Dialect) {
	{
		ctx := context.Background()
		url := testURL(t, dialect)
		// Two handles on one database: two instances.
		db, other := openTestDB(t, url), openTestDB(t, url)
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(24 * time.Hour)
		const rows = 1200
		err := db.InTx(ctx, func(tx *Tx) error {
			for i := range rows {
				// Expired (tat in the past) and live (tat in the future) rate-limit states.
				for _, at := range []time.Time{now.Add(-time.Duration(i+1) * time.Second), now.Add(time.Hour)} {
					if _, err := tx.Exec(ctx, `INSERT INTO rate_limits (name, key, tat) VALUES ($1, $2, $3)`,
						"recovery_ip", fmt.Sprintf("k%d-%d", i, at.Unix()), at); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		totals := make([]int, 2)
		errs := make([]error, 2)
		for i, d := range []*DB{db, other} {
			wg.Go(func() {
				job := retention.New(NewRetention(d), func() time.Time { return now }, retention.Config{Batch: 50, Ages: retention.DefaultAges()}, nil, nil)
				// Rounds until a round finds nothing, as the ticker would run them.
				for {
					got, err := job.RunOnce(ctx)
					if err != nil {
						errs[i] = err
						return
					}
					totals[i] += got["rate_limits"]
					if got["rate_limits"] == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}
		if sum := totals[0] + totals[1]; sum != rows {
			t.Errorf("deleted %d + %d = %d rows, want each of the %d expired rows once", totals[0], totals[1], sum, rows)
		}
		var left int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM rate_limits`).Scan(&left); err != nil || left != rows {
			t.Errorf("%d rows left (%v), want the %d live ones", left, err, rows)
		}
	}
}
