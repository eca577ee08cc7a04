package sqlstore

import (
	"testing"
)

// TestSessionIDsNeverReused: a session's id is the sid of its ID tokens and logout tokens,
// and tokens and authorizations keep it after the session ends, so no later session may
// take it. SQLite gave the next session the id of the newest one ended (INTEGER PRIMARY KEY
// without AUTOINCREMENT): an ID token of the ended session then named the new one. The
// sessions present at migration 0058 keep their ids, and the ids a token or an authorization
// still holds are not handed out either.
func TestSessionIDsNeverReused(t *testing.T) {
	forEachEmptyDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ms, err := db.migrations()
		if err != nil {
			t.Fatal(err)
		}
		split := 0
		for split < len(ms) && ms[split].version < 58 {
			split++
		}
		if _, err := db.migrate(ctx, ms[:split]); err != nil {
			t.Fatal(err)
		}
		var acct int64
		if err := db.QueryRow(ctx, `INSERT INTO accounts (email, email_key, email_verified, password_hash, lang,
			created_at, updated_at, password_changed_at) VALUES ($1, $1, $2, 'x', 'kk', $3, $3, $3) RETURNING id`,
			"a@mail.kz", true, t0).Scan(&acct); err != nil {
			t.Fatal(err)
		}
		n := 0
		newSession := func() int64 {
			t.Helper()
			n++
			var id int64
			if err := db.QueryRow(ctx, `INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at)
				VALUES ($1, $2, $3, $3, $3) RETURNING id`, []byte{byte(n)}, acct, t0).Scan(&id); err != nil {
				t.Fatal(err)
			}
			return id
		}
		end := func(id int64) {
			t.Helper()
			if _, err := db.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
		}
		kept := newSession()
		ended := newSession()
		end(ended) // before the migration; an authorization still holds its id
		if _, err := db.Exec(ctx, `INSERT INTO oidc_clients (id, name, secret_hash, redirect_uris, post_logout_redirect_uris,
			backchannel_logout_uri, scopes, public, first_party, created_at) VALUES ('c', 'C', NULL, '', '', '', '', $1, $1, $2)`,
			false, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO oidc_auth_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge,
			prompt, max_age, login_hint, ui_locales, created_at, expires_at, account_id, session_id)
			VALUES ('r', 'c', '', '', '', '', '', '', -1, '', '', $1, $1, $2, $3)`, t0, acct, ended); err != nil {
			t.Fatal(err)
		}
		if _, err := db.migrate(ctx, ms); err != nil {
			t.Fatal(err)
		}
		var got int64
		if err := db.QueryRow(ctx, `SELECT id FROM sessions WHERE token_hash = $1`, []byte{1}).Scan(&got); err != nil || got != kept {
			t.Fatalf("the session kept through the migration: id %d (%v), want %d", got, err, kept)
		}
		seen := map[int64]bool{kept: true, ended: true}
		for range 3 {
			id := newSession()
			if seen[id] {
				t.Fatalf("a new session took id %d, which an earlier session had", id)
			}
			seen[id] = true
			end(id)
		}
	})
}
