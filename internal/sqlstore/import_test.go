package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kilt/internal/account"
	"kilt/internal/password"
	"kilt/internal/userimport"
)

const importHash = "$2b$04$abcdefghijklmnopqrstuuXkX8yZbUDqUfjM1k4ZqZvsR1Hx6yEQu"

func importRow(line int, email, phone string) userimport.Row {
	created := t0.Add(-time.Duration(line) * time.Hour)
	return userimport.Row{Line: line, Account: account.Account{
		Email: email, EmailVerified: email != "", Phone: phone, PhoneVerified: false,
		PasswordHash: fmt.Sprintf("%s-%d", importHash, line), CreatedAt: created, UpdatedAt: t0, PasswordChangedAt: created}}
}

func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportAccounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewAccounts(db)
		rows := []userimport.Row{
			importRow(1, "Aigerim@mail.kz", "+77011234567"),
			importRow(2, "", "+77017654321"),
			importRow(3, "bolat@mail.kz", ""),
		}
		got, err := s.ImportAccounts(ctx, rows, false)
		if err != nil {
			t.Fatal(err)
		}
		want := []userimport.Outcome{userimport.Created, userimport.Created, userimport.Created}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outcomes differ (-want +got):\n%s", diff)
		}
		// Every field round-trips, and the history entry is the imported hash without a
		// skeleton hash, dated at the last (unknown, so creation) change.
		for _, r := range rows {
			var a *account.Account
			if r.Account.Email != "" {
				a, err = s.AccountByEmail(ctx, account.EmailKey(r.Account.Email))
			} else {
				a, err = s.AccountByPhone(ctx, r.Account.Phone)
			}
			if err != nil {
				t.Fatalf("line %d: %v", r.Line, err)
			}
			w := r.Account
			w.ID = a.ID
			if diff := cmp.Diff(&w, a); diff != "" {
				t.Errorf("line %d: account differs (-want +got):\n%s", r.Line, diff)
			}
			h, err := s.PasswordHistory(ctx, a.ID, 6)
			if err != nil {
				t.Fatal(err)
			}
			wantH := []password.HistoryEntry{{PasswordHash: r.Account.PasswordHash, CreatedAt: r.Account.PasswordChangedAt}}
			if diff := cmp.Diff(wantH, h); diff != "" {
				t.Errorf("line %d: history differs (-want +got):\n%s", r.Line, diff)
			}
		}

		// The same rows again change nothing.
		got, err = s.ImportAccounts(ctx, rows, false)
		if err != nil {
			t.Fatal(err)
		}
		want = []userimport.Outcome{userimport.Existing, userimport.Existing, userimport.Existing}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("second import: outcomes differ (-want +got):\n%s", diff)
		}
		if n, h := countRows(t, db, "accounts"), countRows(t, db, "password_history"); n != 3 || h != 3 {
			t.Errorf("after the second import: %d accounts, %d history entries; want 3 and 3", n, h)
		}
	})
}

func TestImportAccountsCollisions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewAccounts(db)
		if _, err := s.ImportAccounts(ctx, []userimport.Row{
			importRow(1, "aigerim@mail.kz", ""),
			importRow(2, "", "+77011234567"),
			importRow(3, "bolat@mail.kz", "+77017654321"),
		}, false); err != nil {
			t.Fatal(err)
		}
		rows := []userimport.Row{
			importRow(10, "AIGERIM@mail.kz", ""),             // e-mail taken, in another case
			importRow(11, "aigerim@mail.kz", "+77011234567"), // e-mail and phone on two accounts
			importRow(12, "bolat@mail.kz", "+77017654321"),   // both on the same account
			importRow(13, "bolat@mail.kz", "+77019999999"),   // e-mail taken, phone free: not merged
			importRow(14, "new@mail.kz", "+77010000001"),     // new
			importRow(15, "NEW@mail.kz", ""),                 // an earlier row of the batch has it
			importRow(16, "other@mail.kz", "+77010000001"),   // the phone of row 14
			importRow(17, "new@mail.kz", "+77011234567"),     // row 14's e-mail, account 2's phone
			importRow(18, "", "+77010000002"),                // new
		}
		got, err := s.ImportAccounts(ctx, rows, false)
		if err != nil {
			t.Fatal(err)
		}
		want := []userimport.Outcome{userimport.Existing, userimport.Conflict, userimport.Existing,
			userimport.Existing, userimport.Created, userimport.Existing, userimport.Existing,
			userimport.Conflict, userimport.Created}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outcomes differ (-want +got):\n%s", diff)
		}
		if n, h := countRows(t, db, "accounts"), countRows(t, db, "password_history"); n != 5 || h != 5 {
			t.Errorf("%d accounts, %d history entries; want 5 and 5", n, h)
		}
		a, err := s.AccountByEmail(ctx, "bolat@mail.kz")
		if err != nil || a.Phone != "+77017654321" || a.PasswordHash != importRow(3, "", "").Account.PasswordHash {
			t.Errorf("bolat@mail.kz is %+v, %v; want it untouched", a, err)
		}
		a, err = s.AccountByPhone(ctx, "+77010000001")
		if err != nil || a.Email != "new@mail.kz" {
			t.Errorf("+77010000001 is %+v, %v; want row 14's account", a, err)
		}
	})
}

func TestImportAccountsDryRun(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewAccounts(db)
		if _, err := s.ImportAccounts(ctx, []userimport.Row{importRow(1, "aigerim@mail.kz", "")}, false); err != nil {
			t.Fatal(err)
		}
		got, err := s.ImportAccounts(ctx, []userimport.Row{importRow(1, "aigerim@mail.kz", ""), importRow(2, "new@mail.kz", "")}, true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]userimport.Outcome{userimport.Existing, userimport.Created}, got); diff != "" {
			t.Errorf("outcomes differ (-want +got):\n%s", diff)
		}
		if n, h := countRows(t, db, "accounts"), countRows(t, db, "password_history"); n != 1 || h != 1 {
			t.Errorf("after a dry run: %d accounts, %d history entries; want 1 and 1", n, h)
		}
	})
}

func TestImportAccountsLargeBatch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		s := NewAccounts(db)
		rows := make([]userimport.Row, 5000)
		for i := range rows {
			rows[i] = importRow(i+1, fmt.Sprintf("user%d@mail.kz", i), fmt.Sprintf("+7701%07d", i))
		}
		start := time.Now()
		got, err := s.ImportAccounts(ctx, rows, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d rows in one batch: %v", len(rows), time.Since(start))
		for i, o := range got {
			if o != userimport.Created {
				t.Fatalf("row %d: outcome %d, want created", i+1, o)
			}
		}
		if n, h := countRows(t, db, "accounts"), countRows(t, db, "password_history"); n != len(rows) || h != len(rows) {
			t.Errorf("%d accounts, %d history entries; want %d each", n, h, len(rows))
		}
		// Every history entry belongs to the account with the same hash.
		var wrong int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM password_history h JOIN accounts a ON a.id = h.account_id
			WHERE h.password_hash <> a.password_hash OR h.skeleton_hash <> ''`).Scan(&wrong); err != nil || wrong != 0 {
			t.Errorf("%d history entries do not match their account (%v)", wrong, err)
		}
	})
}

func TestImportAccountsEmpty(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		got, err := NewAccounts(db).ImportAccounts(t.Context(), nil, false)
		if err != nil || len(got) != 0 {
			t.Errorf("got %v, %v; want nothing", got, err)
		}
	})
}
