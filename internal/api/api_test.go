package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/account"
	"kilt/internal/kilttest"
	"kilt/internal/sqlstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

const goodPassword = "Tulpar-Sunkar-77"

// forEachDialect runs f against a fresh Kilt on SQLite and on PostgreSQL.
func forEachDialect(t *testing.T, env map[string]string, f func(t *testing.T, e *kilttest.Env)) {
	for _, d := range kilttest.Dialects {
		t.Run(d, func(t *testing.T) {
			f(t, kilttest.Start(t, d, env))
		})
	}
}

func addAccount(t *testing.T, e *kilttest.Env, email, phone, pw string) *account.Account {
	t.Helper()
	a, err := e.App.Accounts.Add(context.Background(), account.NewAccount{Email: email, Phone: phone,
		EmailVerified: email != "", PhoneVerified: phone != "", Password: pw, Confirm: pw})
	if err != nil {
		t.Fatalf("adding %s%s: %v", email, phone, err)
	}
	return a
}

type loginResult struct {
	Token   string `json:"token"`
	Session struct {
		ID int64 `json:"id"`
	} `json:"session"`
	Account struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
		Phone string `json:"phone"`
	} `json:"account"`
}

func login(t *testing.T, e *kilttest.Env, identifier, pw string) (*kilttest.Response, loginResult) {
	t.Helper()
	r := e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": identifier, "password": pw})
	var out loginResult
	if r.Status == http.StatusCreated {
		r.JSON(t, &out)
	}
	return r, out
}

func mustLogin(t *testing.T, e *kilttest.Env, identifier, pw string) loginResult {
	t.Helper()
	r, out := login(t, e, identifier, pw)
	if r.Status != http.StatusCreated || out.Token == "" {
		t.Fatalf("login %s: got %d %s, want 201 with a token", identifier, r.Status, r.Body)
	}
	return out
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestSignInAndOut(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		a := addAccount(t, e, "Aigerim.N@Mail.KZ", "", goodPassword)
		r, out := login(t, e, "  aigerim.n@mail.kz ", goodPassword)
		if r.Status != http.StatusCreated {
			t.Fatalf("login: got %d %s, want 201", r.Status, r.Body)
		}
		if out.Account.ID != a.ID || out.Account.Email != "Aigerim.N@mail.kz" || len(out.Token) != 43 {
			t.Errorf("login body: got %+v", out)
		}
		if strings.Contains(string(r.Body), "argon2") {
			t.Errorf("login body shows the password hash: %s", r.Body)
		}
		cookie := r.Header.Get("Set-Cookie")
		for _, want := range []string{"kilt=" + out.Token, "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(cookie, want) {
				t.Errorf("cookie %q lacks %q", cookie, want)
			}
		}
		if strings.Contains(cookie, "Secure") {
			t.Errorf("cookie on a plain-http base URL is Secure: %q", cookie)
		}
		// The same token works as a bearer token and as the cookie.
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(out.Token)...); r.Status != 200 {
			t.Errorf("current by bearer: got %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, "Cookie", "kilt="+out.Token); r.Status != 200 {
			t.Errorf("current by cookie: got %d %s", r.Status, r.Body)
		}
		if r := e.Do(t, "DELETE", "/api/v1/sessions/current", nil, bearer(out.Token)...); r.Status != http.StatusNoContent {
			t.Errorf("sign out: got %d %s, want 204", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(out.Token)...); r.Status != 401 || r.ErrorCode() != "unauthorized" {
			t.Errorf("after sign out: got %d %s, want 401 unauthorized", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil); r.Status != 401 {
			t.Errorf("no token: got %d, want 401", r.Status)
		}
	})
}

func TestPhoneSpellings(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		a := addAccount(t, e, "", "+7 701 123 45 67", goodPassword)
		if a.Phone != "+77011234567" {
			t.Fatalf("stored phone: got %q, want E.164", a.Phone)
		}
		for _, id := range []string{"+7 701 123 45 67", "87011234567", "7011234567", "+7 (701) 123-45-67"} {
			if out := mustLogin(t, e, id, goodPassword); out.Account.ID != a.ID {
				t.Errorf("%q signed in as %d, want %d", id, out.Account.ID, a.ID)
			}
		}
	})
}

func TestUnknownAndWrongAnswerAlike(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "known@example.kz", "", goodPassword)
		wrong, _ := login(t, e, "known@example.kz", "Wrong-Password-1")
		unknown, _ := login(t, e, "nobody@example.kz", "Wrong-Password-1")
		if wrong.Status != 401 || unknown.Status != 401 {
			t.Fatalf("got %d and %d, want 401 for both", wrong.Status, unknown.Status)
		}
		if string(wrong.Body) != string(unknown.Body) {
			t.Errorf("bodies differ:\n%s\n%s", wrong.Body, unknown.Body)
		}
		if wrong.ErrorCode() != "invalid_credentials" {
			t.Errorf("code: got %q", wrong.ErrorCode())
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length"} {
			if wrong.Header.Get(h) != unknown.Header.Get(h) {
				t.Errorf("header %s differs: %q vs %q", h, wrong.Header.Get(h), unknown.Header.Get(h))
			}
		}
	})
}

func TestSignOutEverywhere(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@example.kz", "", goodPassword)
		other := addAccount(t, e, "b@example.kz", "", goodPassword)
		s1 := mustLogin(t, e, "a@example.kz", goodPassword)
		s2 := mustLogin(t, e, "a@example.kz", goodPassword)
		s3 := mustLogin(t, e, "b@example.kz", goodPassword)
		if r := e.Do(t, "DELETE", "/api/v1/sessions", nil, bearer(s1.Token)...); r.Status != 204 {
			t.Fatalf("sign out everywhere: got %d %s", r.Status, r.Body)
		}
		for _, tok := range []string{s1.Token, s2.Token} {
			if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(tok)...); r.Status != 401 {
				t.Errorf("a session of the account survived: %d", r.Status)
			}
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(s3.Token)...); r.Status != 200 {
			t.Errorf("another account's session (%d) was ended: %d", other.ID, r.Status)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@example.kz", "", goodPassword)
		idle := mustLogin(t, e, "a@example.kz", goodPassword)
		e.Clock.Advance(29 * time.Minute)
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(idle.Token)...); r.Status != 200 {
			t.Fatalf("after 29 min idle: got %d, want 200", r.Status)
		}
		e.Clock.Advance(30*time.Minute + time.Second)
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(idle.Token)...); r.Status != 401 {
			t.Errorf("after 30 min idle: got %d, want 401", r.Status)
		}

		active := mustLogin(t, e, "a@example.kz", goodPassword)
		for i := 0; i < 35; i++ { // 35 × 20 min = 11 h 40 min, always active
			e.Clock.Advance(20 * time.Minute)
			if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(active.Token)...); r.Status != 200 {
				t.Fatalf("active session died after %d min: %d", (i+1)*20, r.Status)
			}
		}
		e.Clock.Advance(20 * time.Minute) // 12 h: the absolute lifetime
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(active.Token)...); r.Status != 401 {
			t.Errorf("after 12 h: got %d, want 401", r.Status)
		}
	})
}

func TestChangePassword(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@example.kz", "", goodPassword)
		here := mustLogin(t, e, "a@example.kz", goodPassword)
		elsewhere := mustLogin(t, e, "a@example.kz", goodPassword)
		const newPassword = "Kokpar-Baiga-2026"

		r := e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": "Not-The-One-1",
			"password": newPassword, "password_confirm": newPassword}, bearer(here.Token)...)
		if r.Status != 403 || r.ErrorCode() != "current_password_incorrect" {
			t.Errorf("wrong current: got %d %s, want 403 current_password_incorrect", r.Status, r.Body)
		}
		r = e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword,
			"password": "short", "password_confirm": "shorter"}, bearer(here.Token)...)
		var policyErr struct {
			Error struct {
				Code    string `json:"code"`
				Details struct {
					Violations []struct{ Code, Message string } `json:"violations"`
				} `json:"details"`
			} `json:"error"`
		}
		r.JSON(t, &policyErr)
		if r.Status != 422 || len(policyErr.Error.Details.Violations) < 4 {
			t.Errorf("weak password: got %d %s, want 422 listing every broken rule", r.Status, r.Body)
		}
		for _, v := range policyErr.Error.Details.Violations {
			if v.Message == "" || v.Message == v.Code {
				t.Errorf("violation %s has no message", v.Code)
			}
		}
		r = e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword,
			"password": newPassword, "password_confirm": newPassword}, bearer(here.Token)...)
		if r.Status != 204 {
			t.Fatalf("change: got %d %s, want 204", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(here.Token)...); r.Status != 200 {
			t.Errorf("the session that changed the password ended: %d", r.Status)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(elsewhere.Token)...); r.Status != 401 {
			t.Errorf("another session survived the change: %d", r.Status)
		}
		if r, _ := login(t, e, "a@example.kz", goodPassword); r.Status != 401 {
			t.Errorf("old password: got %d, want 401", r.Status)
		}
		mustLogin(t, e, "a@example.kz", newPassword)
		// Back to the first password: it is among the last six, so refused.
		r = e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": newPassword,
			"password": goodPassword, "password_confirm": goodPassword}, bearer(here.Token)...)
		if r.Status != 422 || r.ErrorCode() != "password_reused" {
			t.Errorf("reuse: got %d %s, want 422 password_reused", r.Status, r.Body)
		}
	})
}

func TestLoginSlowsDownButAnswersAlike(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "a@example.kz", "", goodPassword)
		for _, id := range []string{"a@example.kz", "ghost@example.kz"} {
			for i := 0; i < 5; i++ {
				if r, _ := login(t, e, id, "Wrong-Password-1"); r.Status != 401 {
					t.Fatalf("%s failure %d: got %d, want 401", id, i+1, r.Status)
				}
			}
			r, _ := login(t, e, id, goodPassword)
			if r.Status != 429 || r.ErrorCode() != "login_throttled" || r.Header.Get("Retry-After") != "1" {
				t.Errorf("%s after 5 failures: got %d %s Retry-After %q, want 429 login_throttled 1",
					id, r.Status, r.Body, r.Header.Get("Retry-After"))
			}
		}
		e.Clock.Advance(time.Second)
		if r, _ := login(t, e, "a@example.kz", "Wrong-Password-2"); r.Status != 401 {
			t.Fatalf("after waiting: got %d, want 401", r.Status)
		}
		r, _ := login(t, e, "a@example.kz", goodPassword)
		if r.Status != 429 || r.Header.Get("Retry-After") != "2" {
			t.Errorf("sixth failure doubles the wait: got %d Retry-After %q, want 429 and 2", r.Status, r.Header.Get("Retry-After"))
		}
		e.Clock.Advance(2 * time.Second)
		mustLogin(t, e, "a@example.kz", goodPassword)
		// A success forgets the failures.
		if r, _ := login(t, e, "a@example.kz", "Wrong-Password-3"); r.Status != 401 {
			t.Errorf("after a success: got %d, want 401", r.Status)
		}
	})
}

func TestLockedAccount(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		a := addAccount(t, e, "a@example.kz", "", goodPassword)
		s := mustLogin(t, e, "a@example.kz", goodPassword)
		if err := e.App.Sessions.SetLocked(context.Background(), a.ID, true, "test"); err != nil {
			t.Fatal(err)
		}
		if r, _ := login(t, e, "a@example.kz", goodPassword); r.Status != 403 || r.ErrorCode() != "account_locked" {
			t.Errorf("locked sign-in: got %d %s, want 403 account_locked", r.Status, r.Body)
		}
		if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(s.Token)...); r.Status != 403 {
			t.Errorf("locked account's session: got %d, want 403", r.Status)
		}
		if err := e.App.Sessions.SetLocked(context.Background(), a.ID, false, "test"); err != nil {
			t.Fatal(err)
		}
		mustLogin(t, e, "a@example.kz", goodPassword)
	})
}

func TestMalformedRequests(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@example.kz", "", goodPassword)
	before := e.App.Pool.Stats().Served
	tests := []struct {
		name, body, code string
		headers          []string
	}{
		{"not json", `identifier=a`, "malformed_request", nil},
		{"array", `[{"identifier":"a@example.kz","password":"x"}]`, "malformed_request", nil},
		{"wrong type", `{"identifier":42,"password":"x"}`, "malformed_request", nil},
		{"duplicated field", `{"identifier":"a@example.kz","identifier":"b@example.kz","password":"x"}`, "malformed_request", nil},
		{"unknown field", `{"identifier":"a@example.kz","password":"x","admin":true}`, "malformed_request", nil},
		{"trailing data", `{"identifier":"a@example.kz","password":"x"} {}`, "malformed_request", nil},
		{"invalid utf-8", "{\"identifier\":\"a@example.kz\",\"password\":\"\xff\xfe\"}", "malformed_request", nil},
		{"huge body", `{"identifier":"` + strings.Repeat("a", 70000) + `","password":"x"}`, "request_too_large", nil},
		{"crlf in e-mail", `{"identifier":"a@example.kz\r\nBcc: x@evil.kz","password":"x"}`, "invalid_email", nil},
		{"bad identifier", `{"identifier":"not a phone","password":"x"}`, "invalid_identifier", nil},
		{"empty password", `{"identifier":"a@example.kz","password":""}`, "password_required", nil},
		{"wrong content type", `{"identifier":"a@example.kz","password":"x"}`, "malformed_request", []string{"Content-Type", "text/plain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.Do(t, "POST", "/api/v1/sessions", tt.body, tt.headers...)
			if r.Status != 400 || r.ErrorCode() != tt.code {
				t.Errorf("got %d %s, want 400 %s", r.Status, r.Body, tt.code)
			}
		})
	}
	if got := e.App.Pool.Stats().Served - before; got != 0 {
		t.Errorf("malformed requests did hashing work: %d hashes, want 0", got)
	}
}

func TestHugePasswordRefusedBeforeHashing(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@example.kz", "", goodPassword)
	a := mustLogin(t, e, "a@example.kz", goodPassword)
	before := e.App.Pool.Stats().Served
	huge := strings.Repeat("Aa1!", 2500) // 10 KB
	r, _ := login(t, e, "a@example.kz", huge)
	if r.Status != 422 || r.ErrorCode() != "password_too_long" {
		t.Errorf("sign-in with 10 KB: got %d %s, want 422 password_too_long", r.Status, r.Body)
	}
	r = e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword,
		"password": huge, "password_confirm": huge}, bearer(a.Token)...)
	if r.Status != 422 || r.ErrorCode() != "password_too_long" {
		t.Errorf("change to 10 KB: got %d %s, want 422 password_too_long", r.Status, r.Body)
	}
	// The change verified the current password (one hash); the 10 KB one was never hashed.
	if got := e.App.Pool.Stats().Served - before; got != 1 {
		t.Errorf("hashes done: got %d, want 1 (the current password's check)", got)
	}
}

// TestHashingPoolBoundsConcurrentSignIns: many sign-ins at once never run more hashes at
// once than the pool has workers; the rest wait their turn or get 503 with Retry-After.
//
// Each sign-in comes from an address of its own (through the trusted proxy), so that neither
// one client's share of the pool nor its sign-in slow-down is what is tested, only the pool.
// With the long wait the last of n sign-ins waits for about n/2 hashes before it: with 64,
// 32 hashes of 8 MiB, far within the minute the wait allows even under -race on a loaded
// machine (it was 200 sign-ins from one address, the last behind 100 hashes, against 50 s).
func TestHashingPoolBoundsConcurrentSignIns(t *testing.T) {
	for _, tt := range []struct {
		name       string
		wait       string
		n          int
		wantReject bool
	}{
		{"short wait refuses some", "20ms", 200, true},
		{"long wait serves all", "1m", 64, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := kilttest.Start(t, "sqlite", map[string]string{"KILT_HASH_WORKERS": "2", "KILT_HASH_WAIT": tt.wait,
				"KILT_LIMIT_LOGIN_IP": "0/1m", "KILT_TRUSTED_PROXIES": "127.0.0.1/32"})
			const accounts = 16
			for i := range accounts {
				addAccount(t, e, fmt.Sprintf("a%d@example.kz", i), "", goodPassword)
			}
			statuses := make([]int, tt.n)
			retry := make([]string, tt.n)
			var wg sync.WaitGroup
			for i := range tt.n {
				wg.Go(func() {
					// Several sign-ins per account at once: refusals for a busy pool must not
					// count as failures, or honest people get slowed down by an overload.
					r := e.Do(t, "POST", "/api/v1/sessions",
						map[string]string{"identifier": fmt.Sprintf("a%d@example.kz", i%accounts), "password": goodPassword},
						"X-Forwarded-For", fmt.Sprintf("198.18.%d.%d", i/256, i%256))
					statuses[i], retry[i] = r.Status, r.Header.Get("Retry-After")
				})
			}
			wg.Wait()
			counts := map[int]int{}
			for i, s := range statuses {
				counts[s]++
				if s == 503 && retry[i] == "" {
					t.Errorf("503 without Retry-After")
				}
			}
			if counts[201]+counts[503] != tt.n {
				t.Errorf("statuses: %v, want only 201 and 503", counts)
			}
			if tt.wantReject && counts[503] == 0 || !tt.wantReject && counts[503] != 0 {
				t.Errorf("statuses %v: want rejections %v", counts, tt.wantReject)
			}
			st := e.App.Pool.Stats()
			if st.MaxBusy > 2 || st.MaxBusy < 1 {
				t.Errorf("at most %d hashes ran at once, want 1..2", st.MaxBusy)
			}
			t.Logf("statuses %v, pool %+v", counts, st)
		})
	}
}

func TestPasswordPolicyDescribed(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	r := e.Do(t, "GET", "/api/v1/password-policy", nil)
	var p struct {
		MinLength   int `json:"min_length"`
		MaxLength   int `json:"max_length"`
		HistorySize int `json:"history_size"`
		Rules       []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"rules"`
	}
	r.JSON(t, &p)
	if r.Status != 200 || p.MinLength != 8 || p.MaxLength != 128 || p.HistorySize != 6 || len(p.Rules) < 8 {
		t.Errorf("got %d %s", r.Status, r.Body)
	}
	for _, rule := range p.Rules {
		if rule.Message == "" || rule.Message == rule.Code || strings.Contains(rule.Message, "{") {
			t.Errorf("rule %s: message %q, want a filled-in Kazakh text", rule.Code, rule.Message)
		}
	}
	if !strings.Contains(string(r.Body), "кем дегенде 8 символдан") {
		t.Errorf("policy in Kazakh by default: %s", r.Body)
	}
}

func TestErrorsAndHeaders(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	r := e.Do(t, "POST", "/api/v1/sessions", `{}`, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if r.Status != 403 || r.ErrorCode() != "cross_origin" {
		t.Errorf("cross-origin POST: got %d %s, want 403 cross_origin", r.Status, r.Body)
	}
	r = e.Do(t, "PUT", "/api/v1/sessions", `{}`)
	if r.Status != 405 || r.ErrorCode() != "method_not_allowed" {
		t.Errorf("PUT: got %d %s, want 405 method_not_allowed", r.Status, r.Body)
	}
	r = e.Do(t, "GET", "/api/v1/nothing-here", nil, "Accept-Language", "ru")
	if r.Status != 404 || r.ErrorCode() != "not_found" || !strings.Contains(string(r.Body), "Не найдено") {
		t.Errorf("unknown path: got %d %s, want 404 in Russian", r.Status, r.Body)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "X-Frame-Options": "DENY",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s: got %q, want %q", h, got, want)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Errorf("no request id")
	}
	if r := e.Do(t, "GET", "/healthz", nil); r.Status != 200 {
		t.Errorf("healthz: %d", r.Status)
	}
	if r := e.Do(t, "GET", "/readyz", nil); r.Status != 200 {
		t.Errorf("readyz: %d %s", r.Status, r.Body)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "a@example.kz", "", goodPassword)
	s := mustLogin(t, e, "a@example.kz", goodPassword)
	login(t, e, "a@example.kz", "Wrong-Guess-99!")
	e.Do(t, "GET", "/api/v1/sessions/current?token="+s.Token, nil, bearer(s.Token)...)
	e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword,
		"password": "Kokpar-Baiga-2026", "password_confirm": "Kokpar-Baiga-2026"}, bearer(s.Token)...)
	log := e.Log.String()
	if !strings.Contains(log, `"route":"POST /api/v1/sessions"`) {
		t.Fatalf("the log is not captured:\n%s", log)
	}
	for _, secret := range []string{goodPassword, "Wrong-Guess-99!", "Kokpar-Baiga-2026", s.Token, "a@example.kz"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

// TestBusyPoolDoesNotSlowDownHonestPeople: sign-ins refused with 503 because every hashing
// worker was busy checked no password, so they do not count towards the slow-down.
func TestBusyPoolDoesNotSlowDownHonestPeople(t *testing.T) {
	e := kilttest.Start(t, "sqlite", map[string]string{"KILT_HASH_WORKERS": "1", "KILT_HASH_WAIT": "1ms"})
	addAccount(t, e, "a@example.kz", "", goodPassword)
	hold, held := make(chan struct{}), make(chan struct{})
	go func() {
		_ = e.App.Pool.Do(context.Background(), func() { close(held); <-hold })
	}()
	<-held
	for _, id := range []string{"a@example.kz", "ghost@example.kz"} {
		for i := range 8 {
			if r, _ := login(t, e, id, goodPassword); r.Status != 503 || r.Header.Get("Retry-After") == "" {
				t.Fatalf("%s attempt %d with the pool held: got %d, want 503 with Retry-After", id, i+1, r.Status)
			}
		}
	}
	close(hold)
	mustLogin(t, e, "a@example.kz", goodPassword)
	if r, _ := login(t, e, "ghost@example.kz", goodPassword); r.Status != 401 {
		t.Errorf("unknown identifier after the storm: got %d, want 401 (not slowed down)", r.Status)
	}
}
