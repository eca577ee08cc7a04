package api_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/kilttest"
)

// The account's sessions list, its export and its deletion (SPEC §9), on both databases.

const (
	chromeAndroid = "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	firefoxLinux  = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// trusted makes the test's loopback client a trusted proxy, so X-Forwarded-For names the
// client's address.
var trusted = map[string]string{"KILT_TRUSTED_PROXIES": "127.0.0.1/32, ::1/128"}

type sessionItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	Browser    string    `json:"browser"`
	System     string    `json:"system"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

func listSessions(t *testing.T, e *kilttest.Env, tok string) []sessionItem {
	t.Helper()
	r := e.Do(t, "GET", "/api/v1/sessions", nil, bearer(tok)...)
	if r.Status != http.StatusOK {
		t.Fatalf("list: got %d %s", r.Status, r.Body)
	}
	var out struct {
		Sessions []sessionItem `json:"sessions"`
	}
	r.JSON(t, &out)
	return out.Sessions
}

func loginAs(t *testing.T, e *kilttest.Env, identifier, ua, ip string) string {
	t.Helper()
	r := e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": identifier, "password": goodPassword},
		"User-Agent", ua, "X-Forwarded-For", ip)
	var out loginResult
	if r.Status != http.StatusCreated {
		t.Fatalf("login: got %d %s", r.Status, r.Body)
	}
	r.JSON(t, &out)
	return out.Token
}

// TestSessionsList: the list names each session's browser and system and masks its
// address, marks the current one, shows no token nor hash; one session ends by its id,
// another account's id is 404 and ends nothing, and "end all others" keeps this one.
func TestSessionsList(t *testing.T) {
	forEachDialect(t, trusted, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
		addAccount(t, e, "bolat@mail.kz", "", goodPassword)
		phone := loginAs(t, e, "aigerim@mail.kz", chromeAndroid, "203.0.113.77")
		e.Clock.Advance(2 * time.Minute)
		laptop := loginAs(t, e, "aigerim@mail.kz", firefoxLinux, "2001:db8:85a3:1:2:3:4:5")
		third := loginAs(t, e, "aigerim@mail.kz", "curl/8.5.0", "198.51.100.1")
		bolat := loginAs(t, e, "bolat@mail.kz", firefoxLinux, "192.0.2.9")

		list := listSessions(t, e, laptop)
		if len(list) != 3 {
			t.Fatalf("got %d sessions, want 3: %+v", len(list), list)
		}
		byBrowser := map[string]sessionItem{}
		for _, s := range list {
			byBrowser[s.Browser] = s
		}
		if s := byBrowser["Chrome"]; s.System != "Android" || s.IP != "203.0.113.*" || s.Current {
			t.Errorf("the phone's session: got %+v, want Chrome on Android from 203.0.113.*, not current", s)
		}
		if s := byBrowser["Firefox"]; s.System != "Linux" || s.IP != "2001:db8:85a3:*" || !s.Current {
			t.Errorf("this session: got %+v, want Firefox on Linux from 2001:db8:85a3:*, current", s)
		}
		if list[0].CreatedAt.Before(list[len(list)-1].CreatedAt) {
			t.Errorf("not newest first: %+v", list)
		}
		body := string(e.Do(t, "GET", "/api/v1/sessions", nil, bearer(laptop)...).Body)
		for _, tok := range []string{phone, laptop, third} {
			h := kilt.HashToken(tok)
			for _, secret := range []string{tok, hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h)} {
				if strings.Contains(body, secret) {
					t.Errorf("the list shows a token or its hash: %s", body)
				}
			}
		}

		// Another account's session id: 404, and that session lives on.
		other := listSessions(t, e, bolat)[0].ID
		if r := e.Do(t, "DELETE", "/api/v1/sessions/"+other, nil, bearer(laptop)...); r.Status != http.StatusNotFound || r.ErrorCode() != "session_not_found" {
			t.Errorf("another account's session: got %d %s, want 404 session_not_found", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(bolat)...); r.Status != http.StatusOK {
			t.Errorf("the other account's session after the refused end: got %d, want 200", r.Status)
		}

		// End the phone's session by its id.
		if r := e.Do(t, "DELETE", "/api/v1/sessions/"+byBrowser["Chrome"].ID, nil, bearer(laptop)...); r.Status != http.StatusNoContent {
			t.Fatalf("end one: got %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(phone)...); r.Status != http.StatusUnauthorized {
			t.Errorf("the ended session: got %d, want 401", r.Status)
		}
		if r := e.Do(t, "DELETE", "/api/v1/sessions/"+byBrowser["Chrome"].ID, nil, bearer(laptop)...); r.Status != http.StatusNotFound {
			t.Errorf("ending it again: got %d, want 404", r.Status)
		}

		// End all others: this one stays.
		r := e.Do(t, "DELETE", "/api/v1/sessions/others", nil, bearer(laptop)...)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"ended":1`) {
			t.Fatalf("end others: got %d %s, want 200 ended 1", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(third)...); r.Status != http.StatusUnauthorized {
			t.Errorf("another session after end others: got %d, want 401", r.Status)
		}
		if list := listSessions(t, e, laptop); len(list) != 1 || !list[0].Current {
			t.Errorf("after end others: got %+v, want this session alone", list)
		}

		// Ending this session by its id signs out.
		this := listSessions(t, e, laptop)[0].ID
		if r := e.Do(t, "DELETE", "/api/v1/sessions/"+this, nil, bearer(laptop)...); r.Status != http.StatusNoContent ||
			!strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("end this session: got %d, cookie %q; want 204 clearing the cookie", r.Status, r.Header.Get("Set-Cookie"))
		}
		if r := e.Do(t, "GET", "/api/v1/sessions", nil, bearer(laptop)...); r.Status != http.StatusUnauthorized {
			t.Errorf("list after ending this session: got %d, want 401", r.Status)
		}
	})
}

// TestExportHasNoSecret: the export holds the account, its channels, sessions and audit
// trail, and no password hash, token, token hash nor link.
func TestExportHasNoSecret(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		a := addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
		tok := loginAs(t, e, "aigerim@mail.kz", chromeAndroid, "")
		if r := e.Do(t, "DELETE", "/api/v1/account", map[string]string{"current_password": goodPassword}, bearer(tok)...); r.Status != http.StatusAccepted {
			t.Fatalf("delete: got %d %s", r.Status, r.Body)
		}
		cancel := tokenOf(t, e.LatestLink(t, "aigerim@mail.kz", "/deletion/cancel?token="))
		r := e.Do(t, "GET", "/api/v1/account/export", nil, bearer(tok)...)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
			t.Fatalf("export: got %d, Content-Disposition %q", r.Status, r.Header.Get("Content-Disposition"))
		}
		body := string(r.Body)
		for _, want := range []string{`"email"`, "aigerim@mail.kz", "+77011234567", `"login_succeeded"`, `"deletion_requested"`,
			chromeAndroid[:40], `"due_at"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the export lacks %q:\n%s", want, body)
			}
		}
		var hashes []string
		for _, s := range []string{tok, cancel} {
			h := kilt.HashToken(s)
			hashes = append(hashes, s, hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h))
		}
		for _, secret := range append(hashes, "argon2", a.PasswordHash[len(a.PasswordHash)-20:], "token", "hash") {
			if strings.Contains(body, secret) {
				t.Errorf("the export holds a secret (%q):\n%s", secret, body)
			}
		}
	})
}

// deleteAccount asks for the deletion of the account signed in with tok.
func deleteAccount(t *testing.T, e *kilttest.Env, tok, pw string) *kilttest.Response {
	t.Helper()
	return e.Do(t, "DELETE", "/api/v1/account", map[string]string{"current_password": pw}, bearer(tok)...)
}

// TestDeletionScheduledAndCancelled: a deletion is announced on every verified channel
// with a cancel link; signing in during the grace says when; the link cancels once; a
// signed-in cancel works too; wrong passwords count towards the account's slow-down.
func TestDeletionScheduledAndCancelled(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
		tok := mustLogin(t, e, "aigerim@mail.kz", goodPassword).Token
		if r := deleteAccount(t, e, tok, "Not-The-One-1"); r.Status != http.StatusForbidden || r.ErrorCode() != "current_password_incorrect" {
			t.Fatalf("wrong password: got %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "DELETE", "/api/v1/account/deletion", nil, bearer(tok)...); r.Status != http.StatusNotFound {
			t.Errorf("nothing scheduled after a wrong password: got %d", r.Status)
		}
		r := deleteAccount(t, e, tok, goodPassword)
		var got struct {
			Deletion struct {
				DueAt time.Time `json:"due_at"`
			} `json:"deletion"`
		}
		if r.Status != http.StatusAccepted {
			t.Fatalf("delete: got %d %s", r.Status, r.Body)
		}
		r.JSON(t, &got)
		if want := e.Clock.Now().Add(14 * 24 * time.Hour); !got.Deletion.DueAt.Equal(want) {
			t.Errorf("due: got %v, want %v (the default grace)", got.Deletion.DueAt, want)
		}
		// Asked again: the same deletion, nothing sent again.
		if r := deleteAccount(t, e, tok, goodPassword); r.Status != http.StatusAccepted || !strings.Contains(string(r.Body), got.Deletion.DueAt.Format(time.RFC3339)) {
			t.Errorf("asked again: got %d %s", r.Status, r.Body)
		}
		e.Deliver(t)
		mails, sms := e.MailTo(t, "aigerim@mail.kz"), e.SMSTo("+77011234567")
		if len(mails) != 1 || len(sms) != 1 {
			t.Fatalf("notices: got %d mails and %d SMS, want one of each", len(mails), len(sms))
		}
		link := mails[0].Link("/deletion/cancel?token=")
		if !strings.HasPrefix(link, "http://kilt.test/deletion/cancel?token=") || !strings.Contains(sms[0], "/deletion/cancel?token=") {
			t.Fatalf("cancel links: mail %q, SMS %q", link, sms[0])
		}
		if strings.Contains(e.Log.String(), tokenOf(t, link)) {
			t.Errorf("the log holds the cancel token")
		}

		// Signing in during the grace says when the account goes.
		r = e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": "+77011234567", "password": goodPassword})
		if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"deletion":{"requested_at"`) {
			t.Errorf("sign-in during the grace: got %d %s, want the deletion", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(tok)...); !strings.Contains(string(r.Body), `"due_at"`) {
			t.Errorf("current during the grace: %s", r.Body)
		}

		// The link cancels, once; the SMS's link is the same one.
		if r := e.Do(t, "POST", "/api/v1/account/deletion/cancel", map[string]string{"token": tokenOf(t, link)}); r.Status != http.StatusNoContent {
			t.Fatalf("cancel by link: got %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/account/deletion/cancel", map[string]string{"token": tokenOf(t, link)}); r.Status != http.StatusGone {
			t.Errorf("the link used twice: got %d, want 410", r.Status)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(tok)...); strings.Contains(string(r.Body), `"deletion"`) {
			t.Errorf("current after the cancel: %s", r.Body)
		}

		// Signed in, the owner cancels with the button's call.
		if r := deleteAccount(t, e, tok, goodPassword); r.Status != http.StatusAccepted {
			t.Fatalf("delete again: got %d", r.Status)
		}
		second := tokenOf(t, e.LatestLink(t, "aigerim@mail.kz", "/deletion/cancel?token="))
		if r := e.Do(t, "DELETE", "/api/v1/account/deletion", nil, bearer(tok)...); r.Status != http.StatusNoContent {
			t.Fatalf("signed-in cancel: got %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/account/deletion/cancel", map[string]string{"token": second}); r.Status != http.StatusGone {
			t.Errorf("the link of a deletion cancelled otherwise: got %d, want 410", r.Status)
		}

		// Wrong passwords count towards the account's slow-down, shared with a change of
		// password.
		for range 5 {
			deleteAccount(t, e, tok, "Not-The-One-1")
		}
		if r := deleteAccount(t, e, tok, goodPassword); r.Status != http.StatusTooManyRequests {
			t.Errorf("after 5 wrong passwords: got %d, want 429", r.Status)
		}
		if r := e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword, "password": newPassword,
			"password_confirm": newPassword}, bearer(tok)...); r.Status != http.StatusTooManyRequests {
			t.Errorf("a change of password after 5 wrong deletion passwords: got %d, want 429", r.Status)
		}
	})
}

// count is the one integer of q on the test's database.
func count(t *testing.T, e *kilttest.Env, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.App.DB.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestErasureOnTime: the retention job erases the account once its grace has passed and not
// a minute before: identifiers, hash, history, sessions, links, messages, grants; the audit
// keeps the account id and the kinds of events, nothing else; signing in is impossible and
// the identifiers are free again.
func TestErasureOnTime(t *testing.T) {
	forEachDialect(t, map[string]string{"KILT_DELETION_GRACE": "48h"}, func(t *testing.T, e *kilttest.Env) {
		ctx := context.Background()
		a := addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
		keep := addAccount(t, e, "bolat@mail.kz", "", goodPassword)
		tok := loginAs(t, e, "aigerim@mail.kz", chromeAndroid, "")
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "aigerim@mail.kz"})
		// A single sign-on grant: a client, a consent, an authorization request, a code, a token
		// of the account's session.
		now := e.Clock.Now()
		sessionID := int64(count(t, e, `SELECT MAX(id) FROM sessions WHERE account_id = $1`, a.ID))
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO oidc_clients (id, name, redirect_uris, backchannel_logout_uri, scopes, public, first_party, created_at)
				VALUES ('app', 'App', 'https://app.example/cb', 'https://app.example/logout', 'openid', $1, $1, $2)`, []any{false, now}},
			{`INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES ($1, 'app', 'openid', $2)`, []any{a.ID, now}},
			{`INSERT INTO oidc_auth_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge, prompt, max_age,
				login_hint, ui_locales, created_at, expires_at, account_id) VALUES ('req', 'app', 'https://app.example/cb', 'openid',
				'', '', '', '', 0, '', '', $1, $2, $3)`, []any{now, now.Add(1000 * time.Hour), a.ID}},
			{`INSERT INTO oidc_codes (hash, auth_request_id, created_at, expires_at) VALUES ($1, 'req', $2, $3)`,
				[]any{[]byte("code-hash"), now, now.Add(1000 * time.Hour)}},
			{`INSERT INTO oidc_tokens (id, kind, hash, auth_request_id, client_id, account_id, session_id, scopes, auth_time, amr,
				created_at, expires_at) VALUES ('tok', 'refresh', $1, 'req', 'app', $2, $5, 'openid', $3, 'pwd', $3, $4)`,
				[]any{[]byte("token-hash"), a.ID, now, now.Add(1000 * time.Hour), sessionID}},
		} {
			if _, err := e.App.DB.Exec(ctx, q.sql, q.args...); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
		if r := deleteAccount(t, e, tok, goodPassword); r.Status != http.StatusAccepted {
			t.Fatalf("delete: got %d %s", r.Status, r.Body)
		}
		e.Deliver(t)

		e.Clock.Advance(48*time.Hour - time.Minute)
		if _, err := e.App.Retention.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM accounts WHERE id = $1 AND email_key IS NOT NULL`, a.ID); n != 1 {
			t.Fatalf("a minute before the grace ends the account is erased")
		}
		if n := count(t, e, `SELECT COUNT(*) FROM oidc_tokens WHERE account_id = $1`, a.ID) +
			count(t, e, `SELECT COUNT(*) FROM oidc_consents WHERE account_id = $1`, a.ID) +
			count(t, e, `SELECT COUNT(*) FROM oidc_codes`); n != 3 {
			t.Fatalf("before the erasure the grant has %d of its 3 rows: the test proves nothing", n)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM freeze_tokens WHERE account_id = $1`, a.ID); n != 1 {
			t.Fatalf("before the erasure %d freeze links, want the deletion notice's: the test proves nothing", n)
		}

		e.Clock.Advance(time.Minute)
		deleted, err := e.App.Retention.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if deleted["account_erasure"] != 1 {
			t.Errorf("the job erased %d accounts, want 1", deleted["account_erasure"])
		}
		for _, q := range []string{
			`SELECT COUNT(*) FROM accounts WHERE id = $1 AND (email <> '' OR email_key IS NOT NULL OR phone IS NOT NULL OR password_hash <> '' OR lang <> '')`,
			`SELECT COUNT(*) FROM password_history WHERE account_id = $1`,
			`SELECT COUNT(*) FROM sessions WHERE account_id = $1`,
			`SELECT COUNT(*) FROM recovery_tokens WHERE account_id = $1`,
			`SELECT COUNT(*) FROM outbox WHERE (account_id = $1 AND channel <> 'backchannel') OR recipient IN ('aigerim@mail.kz', '+77011234567')`,
			`SELECT COUNT(*) FROM recovery_requests WHERE identifier IN ('aigerim@mail.kz', '+77011234567')`,
			`SELECT COUNT(*) FROM oidc_tokens WHERE account_id = $1`,
			`SELECT COUNT(*) FROM oidc_consents WHERE account_id = $1`,
			`SELECT COUNT(*) FROM oidc_auth_requests WHERE account_id = $1`,
			`SELECT COUNT(*) FROM oidc_codes`,
			`SELECT COUNT(*) FROM audit_events WHERE account_id = $1 AND (ip <> '' OR user_agent <> '' OR detail <> '')`,
			`SELECT COUNT(*) FROM account_deletions WHERE account_id = $1 AND (erased_at IS NULL OR cancel_hash IS NOT NULL)`,
			`SELECT COUNT(*) FROM freeze_tokens WHERE account_id = $1`,
			`SELECT COUNT(*) FROM channel_changes WHERE account_id = $1`,
		} {
			if n := count(t, e, strings.ReplaceAll(q, "$1", itoa(a.ID))); n != 0 {
				t.Errorf("after erasure %d rows: %s", n, q)
			}
		}
		if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE account_id = $1 AND type = 'login_succeeded'`, a.ID); n != 1 {
			t.Errorf("the trail lost the account's events: %d sign-ins, want 1", n)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE account_id = $1 AND type = 'account_erased'`, a.ID); n != 1 {
			t.Errorf("%d erasure events, want 1", n)
		}
		// The other account is untouched.
		if n := count(t, e, `SELECT COUNT(*) FROM password_history WHERE account_id = $1`, keep.ID); n != 1 {
			t.Errorf("the other account has %d history entries, want 1", n)
		}
		if _, r := login(t, e, "bolat@mail.kz", goodPassword); r.Account.ID != keep.ID {
			t.Errorf("the other account cannot sign in after the erasure")
		}
		if r, _ := login(t, e, "aigerim@mail.kz", goodPassword); r.Status != http.StatusUnauthorized {
			t.Errorf("sign-in after erasure: got %d, want 401", r.Status)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(tok)...); r.Status != http.StatusUnauthorized {
			t.Errorf("the session after erasure: got %d, want 401", r.Status)
		}
		addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
		// Later rounds erase nothing more.
		if deleted, _ := e.App.Retention.RunOnce(ctx); deleted["account_erasure"] != 0 {
			t.Errorf("a later round erased %d", deleted["account_erasure"])
		}
	})
}

// TestErasureOnceWithTwoRuns: two retention runs at once (two instances) erase a due
// account once: one erasure event, the other run finds nothing.
func TestErasureOnceWithTwoRuns(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		ctx := context.Background()
		var ids []int64
		for _, email := range []string{"a@mail.kz", "b@mail.kz", "c@mail.kz"} {
			a := addAccount(t, e, email, "", goodPassword)
			ids = append(ids, a.ID)
			if _, err := e.App.Accounts.RequestDeletion(ctx, a.ID, goodPassword, accountClient()); err != nil {
				t.Fatal(err)
			}
		}
		e.Clock.Advance(15 * 24 * time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 2 {
			wg.Go(func() {
				n, err := e.App.Accounts.EraseDue(ctx, 2)
				for err == nil && n > 0 {
					mu.Lock()
					total += n
					mu.Unlock()
					n, err = e.App.Accounts.EraseDue(ctx, 2)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if total != 3 {
			t.Errorf("the two runs erased %d accounts, want 3", total)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE type = 'account_erased'`); n != 3 {
			t.Errorf("%d erasure events, want 3 (one each)", n)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func accountClient() account.Client {
	return account.Client{IP: "192.0.2.1", UserAgent: "test", Lang: "kk"}
}

// TestCancelLinkRace: the cancel link sent twice at once cancels once: one 204, one 410,
// one cancel in the trail.
func TestCancelLinkRace(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		a := addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
		tok := mustLogin(t, e, "aigerim@mail.kz", goodPassword).Token
		if r := deleteAccount(t, e, tok, goodPassword); r.Status != http.StatusAccepted {
			t.Fatalf("delete: got %d", r.Status)
		}
		link := tokenOf(t, e.LatestLink(t, "aigerim@mail.kz", "/deletion/cancel?token="))
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = e.Do(t, "POST", "/api/v1/account/deletion/cancel", map[string]string{"token": link}).Status
			})
		}
		wg.Wait()
		if statuses[0]+statuses[1] != http.StatusNoContent+http.StatusGone {
			t.Errorf("got %v, want one 204 and one 410", statuses)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE account_id = $1 AND type = 'deletion_cancelled'`, a.ID); n != 1 {
			t.Errorf("%d cancels in the trail, want 1", n)
		}
	})
}

// TestErasureEndsSessionsTheOneWay: a session still there at the erasure ends the one way
// sessions end: the application that had it gets a back-channel logout, kept past the
// erasure until delivered.
func TestErasureEndsSessionsTheOneWay(t *testing.T) {
	forEachDialect(t, map[string]string{"KILT_DELETION_GRACE": "1h"}, func(t *testing.T, e *kilttest.Env) {
		ctx := context.Background()
		a := addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
		tok := mustLogin(t, e, "aigerim@mail.kz", goodPassword).Token
		sessionID := count(t, e, `SELECT MAX(id) FROM sessions WHERE account_id = $1`, a.ID)
		now := e.Clock.Now()
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO oidc_clients (id, name, redirect_uris, backchannel_logout_uri, scopes, public, first_party, created_at)
				VALUES ('app', 'App', 'https://app.example/cb', 'https://app.example/logout', 'openid', $1, $1, $2)`, []any{false, now}},
			{`INSERT INTO oidc_tokens (id, kind, hash, auth_request_id, client_id, account_id, session_id, scopes, auth_time, amr,
				created_at, expires_at) VALUES ('tok', 'refresh', $1, 'req', 'app', $2, $3, 'openid', $4, 'pwd', $4, $5)`,
				[]any{[]byte("token-hash"), a.ID, sessionID, now, now.Add(1000 * time.Hour)}},
		} {
			if _, err := e.App.DB.Exec(ctx, q.sql, q.args...); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
		if r := deleteAccount(t, e, tok, goodPassword); r.Status != http.StatusAccepted {
			t.Fatalf("delete: got %d", r.Status)
		}
		e.Clock.Advance(time.Hour)
		if n, err := e.App.Accounts.EraseDue(ctx, 10); err != nil || n != 1 {
			t.Fatalf("EraseDue: %d, %v", n, err)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM outbox WHERE account_id = $1 AND channel = 'backchannel'`, a.ID); n != 1 {
			t.Errorf("%d back-channel logouts queued by the erasure, want 1", n)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM sessions WHERE account_id = $1`, a.ID) + count(t, e, `SELECT COUNT(*) FROM oidc_tokens`); n != 0 {
			t.Errorf("%d sessions and tokens left", n)
		}
	})
}

// TestFreezeCancelsDeletion: the deletion notice carries the freeze link of every security
// notice beside its cancel link, on every channel; used, it freezes the account and cancels
// the deletion, so the cancel link dies with it and the erasure has nothing to do.
func TestFreezeCancelsDeletion(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
		tok := mustLogin(t, e, "aigerim@mail.kz", goodPassword).Token
		if r := deleteAccount(t, e, tok, goodPassword); r.Status != http.StatusAccepted {
			t.Fatalf("delete: got %d %s", r.Status, r.Body)
		}
		e.Deliver(t)
		mails, sms := e.MailTo(t, "aigerim@mail.kz"), e.SMSTo("+77011234567")
		if len(mails) != 1 || len(sms) != 1 {
			t.Fatalf("notices: got %d mails and %d SMS, want one of each", len(mails), len(sms))
		}
		freeze := tokenOf(t, mails[0].Link("/freeze?token="))
		if !strings.Contains(sms[0], "/freeze?token="+freeze) {
			t.Fatalf("the SMS lacks the mail's freeze link: %q", sms[0])
		}
		cancel := tokenOf(t, mails[0].Link("/deletion/cancel?token="))
		if r := e.Do(t, "POST", "/api/v1/freeze", map[string]string{"token": freeze}); r.Status != http.StatusNoContent {
			t.Fatalf("freeze: got %d %s", r.Status, r.Body)
		}
		if n := count(t, e, `SELECT count(*) FROM account_deletions`); n != 0 {
			t.Errorf("%d deletions after the freeze, want 0", n)
		}
		if r := e.Do(t, "POST", "/api/v1/account/deletion/cancel", map[string]string{"token": cancel}); r.Status != http.StatusGone {
			t.Errorf("the cancel link after the freeze: got %d, want 410", r.Status)
		}
		if r := e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": "aigerim@mail.kz", "password": goodPassword}); r.ErrorCode() != "account_frozen" {
			t.Errorf("sign-in after the freeze: got %d %s, want account_frozen", r.Status, r.Body)
		}
		e.Clock.Advance(15 * 24 * time.Hour)
		if n, err := e.App.Accounts.EraseDue(t.Context(), 10); err != nil || n != 0 {
			t.Fatalf("erasure past the cancelled date: %d erased, %v", n, err)
		}
		if n := count(t, e, `SELECT count(*) FROM accounts WHERE email = 'aigerim@mail.kz'`); n != 1 {
			t.Errorf("the frozen account was erased past the cancelled deletion's date")
		}
	})
}
