package oidcop_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"kilt/internal/account"
	"kilt/internal/desk"
	"kilt/internal/kilttest"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/server"
)

// logoutSink is a relying party's back-channel logout endpoint: a real HTTP server that
// keeps every logout token posted to it.
type logoutSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newLogoutSink(t *testing.T) *logoutSink {
	s := &logoutSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.tokens = append(s.tokens, r.PostFormValue("logout_token"))
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// take returns the tokens received since the last call.
func (s *logoutSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.tokens
	s.tokens = nil
	return out
}

// TestBackchannelLogoutOnEveryEnd: every way a session ends — sign-out by the API and the
// pages, sign-out everywhere, end_session, a password change (the other sessions) and a
// reset, a lock from the command line and from the desk, the desk's revoke-sessions — sends
// the client that had the session one logout token through the outbox, signed by a key of
// the JWKS, for that client, naming the session (sid) and the subject, with the back-channel
// logout event and no nonce; and the session's refresh token is dead at once.
func TestBackchannelLogoutOnEveryEnd(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		k := startKilt(t, dbURL)
		sink := newLogoutSink(t)
		r := newRP(t, k, oidc.NewClient{FirstParty: true, BackchannelLogoutURI: sink.srv.URL + "/backchannel"})
		operator := addAccount(t, k, "operator@mail.kz")
		admin := &desk.Principal{Operator: desk.Operator{AccountID: operator.ID, Role: desk.RoleAdmin}}
		const newPassword = "Zhana-Kupiya-2026!"

		// apiSession signs the account in through the API: another session of it.
		apiSession := func(t *testing.T, email string) string {
			t.Helper()
			resp := k.env.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": email, "password": password})
			if resp.Status != http.StatusCreated {
				t.Fatalf("API sign-in: %d %s", resp.Status, resp.Body)
			}
			var v struct {
				Token string `json:"token"`
			}
			resp.JSON(t, &v)
			return v.Token
		}
		do := func(t *testing.T, b *http.Client, method, path string, body url.Values, header ...string) {
			t.Helper()
			var rd io.Reader
			if body != nil {
				rd = strings.NewReader(body.Encode())
			}
			req, _ := http.NewRequestWithContext(ctx, method, k.url+path, rd)
			if body != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 400 {
				t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
			}
		}

		tests := []struct {
			name string
			end  func(t *testing.T, a *account.Account, b *http.Client, idToken string)
		}{
			{"API sign-out", func(t *testing.T, a *account.Account, b *http.Client, _ string) {
				do(t, b, "DELETE", "/api/v1/sessions/current", nil)
			}},
			{"page sign-out", func(t *testing.T, a *account.Account, b *http.Client, _ string) {
				do(t, b, "POST", "/logout", url.Values{})
			}},
			{"API sign-out everywhere", func(t *testing.T, a *account.Account, b *http.Client, _ string) {
				do(t, http.DefaultClient, "DELETE", "/api/v1/sessions", nil, "Authorization", "Bearer "+apiSession(t, a.Email))
			}},
			{"page sign-out everywhere", func(t *testing.T, a *account.Account, b *http.Client, _ string) {
				do(t, b, "POST", "/logout/everywhere", url.Values{})
			}},
			{"end_session", func(t *testing.T, a *account.Account, b *http.Client, idToken string) {
				do(t, b, "GET", "/oauth/end_session?"+url.Values{"id_token_hint": {idToken}}.Encode(), nil)
			}},
			{"password change", func(t *testing.T, a *account.Account, b *http.Client, _ string) {
				// From another session: that one stays, the application's ends.
				tok := apiSession(t, a.Email)
				resp := k.env.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": password,
					"password": newPassword, "password_confirm": newPassword}, "Authorization", "Bearer "+tok)
				if resp.Status != http.StatusNoContent && resp.Status != http.StatusOK {
					t.Fatalf("password change: %d %s", resp.Status, resp.Body)
				}
			}},
			{"password reset", func(t *testing.T, a *account.Account, _ *http.Client, _ string) {
				b2 := browser(t)
				do(t, b2, "POST", "/recovery/email", url.Values{"email": {a.Email}})
				resp, err := b2.Get(k.env.LatestLink(t, a.Email, "/recovery/reset"))
				if err != nil {
					t.Fatal(err)
				}
				page, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(page)
				if m == nil {
					t.Fatalf("no reset form: %s", page)
				}
				do(t, b2, "POST", "/recovery/reset", url.Values{"token": {string(m[1])}, "password": {newPassword},
					"password_confirm": {newPassword}})
			}},
			{"lock from the command line", func(t *testing.T, a *account.Account, _ *http.Client, _ string) {
				if err := k.app.Sessions.SetLocked(ctx, a.ID, true, "by a test"); err != nil {
					t.Fatal(err)
				}
			}},
			{"lock at the desk", func(t *testing.T, a *account.Account, _ *http.Client, _ string) {
				if _, err := k.app.Desk.Lookup(ctx, admin, desk.Client{IP: "192.0.2.9"}, a.Email); err != nil {
					t.Fatal(err)
				}
				if err := k.app.Desk.Act(ctx, admin, desk.Client{IP: "192.0.2.9"}, a.ID, desk.ActionLock, "a test"); err != nil {
					t.Fatal(err)
				}
			}},
			{"freeze", func(t *testing.T, a *account.Account, _ *http.Client, _ string) {
				// A phone added from another session (ending no session) sends the e-mail a
				// notice; its freeze link ends every session.
				tok := apiSession(t, a.Email)
				const number = "+77051230000"
				resp := k.env.Do(t, "POST", "/api/v1/account/channels", map[string]string{"phone": number, "current_password": password},
					"Authorization", "Bearer "+tok)
				var started struct {
					ID string `json:"channel_change_id"`
				}
				resp.JSON(t, &started)
				resp = k.env.Do(t, "POST", "/api/v1/account/channels/"+started.ID+"/verify",
					map[string]string{"code": k.env.LatestCode(t, number)}, "Authorization", "Bearer "+tok)
				if resp.Status != http.StatusOK {
					t.Fatalf("verify: %d %s", resp.Status, resp.Body)
				}
				_, freeze, _ := strings.Cut(k.env.LatestLink(t, a.Email, "/freeze?token="), "?token=")
				if resp := k.env.Do(t, "POST", "/api/v1/freeze", map[string]string{"token": freeze}); resp.Status != http.StatusNoContent {
					t.Fatalf("freeze: %d %s", resp.Status, resp.Body)
				}
			}},
			{"revoke-sessions at the desk", func(t *testing.T, a *account.Account, _ *http.Client, _ string) {
				if _, err := k.app.Desk.Lookup(ctx, admin, desk.Client{IP: "192.0.2.9"}, a.Email); err != nil {
					t.Fatal(err)
				}
				if err := k.app.Desk.Act(ctx, admin, desk.Client{IP: "192.0.2.9"}, a.ID, desk.ActionRevokeSessions, "a test"); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := addAccountN(t, k, i)
				b := browser(t)
				f := newFlow()
				tok, err := r.conf.Exchange(ctx, login(t, k, r, b, a.Email, f), oauth2.VerifierOption(f.verifier))
				if err != nil {
					t.Fatal(err)
				}
				rawID, _ := tok.Extra("id_token").(string)
				idt, err := r.verifier.Verify(ctx, rawID)
				if err != nil {
					t.Fatal(err)
				}
				var idc struct {
					SID string `json:"sid"`
				}
				if err := idt.Claims(&idc); err != nil || idc.SID == "" {
					t.Fatalf("ID token sid %q: %v", idc.SID, err)
				}
				sink.take()

				tt.end(t, a, b, rawID)

				if refresh(t, r, tok.RefreshToken) != nil {
					t.Error("the refresh token outlived the end of its session")
				}
				msgs, err := k.app.Outbox.List(ctx, outbox.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					if m.Channel == outbox.Backchannel && len(m.Secret) != 0 {
						t.Errorf("a back-channel message keeps a secret in the outbox: %v", m.Secret)
					}
				}
				if _, err := k.app.Dispatcher.Step(ctx); err != nil {
					t.Fatal(err)
				}
				got := sink.take()
				if len(got) != 1 {
					t.Fatalf("got %d logout tokens, want 1", len(got))
				}
				lt, err := r.provider.VerifierContext(ctx, &gooidc.Config{ClientID: r.conf.ClientID}).Verify(ctx, got[0])
				if err != nil {
					t.Fatalf("logout token: %v", err)
				}
				var c struct {
					SID    string         `json:"sid"`
					Events map[string]any `json:"events"`
					Nonce  *string        `json:"nonce"`
				}
				if err := lt.Claims(&c); err != nil {
					t.Fatal(err)
				}
				if c.SID != idc.SID || lt.Subject != idt.Subject || c.Nonce != nil {
					t.Errorf("logout token sid %q sub %q nonce %v; want sid %q sub %q and no nonce", c.SID, lt.Subject, c.Nonce, idc.SID, idt.Subject)
				}
				if ev, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(c.Events) != 1 {
					t.Errorf("logout token events %v (%v)", c.Events, ev)
				}
			})
		}
	})
}

// addAccountN adds the i-th account of a test (its own e-mail and phone).
func addAccountN(t *testing.T, k *kilt, i int) *account.Account {
	t.Helper()
	a, err := k.app.Accounts.Add(context.Background(), account.NewAccount{Email: "citizen" + string(rune('a'+i)) + "@mail.kz",
		EmailVerified: true, Phone: "+770176543" + string(rune('0'+i/10)) + string(rune('0'+i%10)), PhoneVerified: true, Password: password, Confirm: password})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPagesInUILocales: the consent page a signed-in browser is sent to, and the error pages
// of an unknown client and of an unregistered redirect URI, are in the language ui_locales
// asks for (the first Kilt speaks), whatever the browser's Accept-Language.
func TestPagesInUILocales(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{Name: "Bank KZ"})
	b := browser(t)
	f := newFlow()
	authorize(t, b, r.authURL(f))
	signIn(t, b, k, "a@mail.kz") // now signed in, on the consent page
	get := func(u string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept-Language", "kk")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	for _, tt := range []struct{ locales, lang string }{{"ru", "ru"}, {"de-DE en-US", "en"}, {"kk", "kk"}} {
		resp, body := get(r.authURL(newFlow(), oauth2.SetAuthURLParam("ui_locales", tt.locales)))
		if resp.Request.URL.Path != "/oauth/consent" || !strings.Contains(body, `lang="`+tt.lang+`"`) {
			t.Errorf("ui_locales %q: consent page at %s, want it in %s", tt.locales, resp.Request.URL, tt.lang)
		}
		for _, q := range []url.Values{
			{"client_id": {"no-such-client"}, "redirect_uri": {rpRedirect}},
			{"client_id": {r.conf.ClientID}, "redirect_uri": {rpRedirect + "/other"}},
		} {
			q.Set("ui_locales", tt.locales)
			q.Set("response_type", "code")
			resp, body := get(k.url + "/oauth/authorize?" + q.Encode())
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `lang="`+tt.lang+`"`) {
				t.Errorf("ui_locales %q, %s: %d, want the error page in %s", tt.locales, q.Get("client_id"), resp.StatusCode, tt.lang)
			}
		}
	}
}

// movedClock is the real time moved forward by hand: Kilt's clock for a test that passes
// the sessions' lifetimes, while the tokens signed by the real time (ID and logout tokens)
// still verify with go-oidc.
type movedClock struct{ by atomic.Int64 }

func (c *movedClock) now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond).Add(time.Duration(c.by.Load()))
}

func (c *movedClock) advance(d time.Duration) { c.by.Add(int64(d)) }

// TestBackchannelLogoutOnTimeout: a session that times out and is never used again — idle
// past the idle timeout, or past its absolute lifetime though used — ends at the retention
// job's next round as every session ends: the application that had it gets exactly one
// logout token naming it (verified by the relying party's library) and its refresh token is
// dead, while a live session's application gets nothing and keeps refreshing. So does an
// application that took only an access token, long expired when the session ends. Two
// instances running the round at once queue each session's logout once. (Not a case of
// TestBackchannelLogoutOnEveryEnd: it needs a clock moved past the lifetimes, which would end
// that test's other sessions too.)
func TestBackchannelLogoutOnTimeout(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clock := &movedClock{}
		more := map[string]string{"KILT_SESSION_IDLE": "30m", "KILT_SESSION_LIFETIME": "2h", "KILT_RETENTION_INTERVAL": "0s"}
		k := startKiltWith(t, dbURL, clock.now, more)
		sink, shortSink := newLogoutSink(t), newLogoutSink(t)
		r := newRP(t, k, oidc.NewClient{FirstParty: true, BackchannelLogoutURI: sink.srv.URL + "/backchannel"})
		// short takes no refresh token: its access token expires after 10 minutes and the
		// provider's rows of it would be pruned an hour later, the session still going on.
		short := newRP(t, k, oidc.NewClient{Name: "Short", FirstParty: true, BackchannelLogoutURI: shortSink.srv.URL + "/backchannel"})
		short.conf.Scopes = []string{gooidc.ScopeOpenID}

		// signedIn is a citizen signed in to an application: the browser, the tokens, the sid.
		type signedIn struct {
			b   *http.Client
			tok *oauth2.Token
			sid string
		}
		n := 0
		signIn := func(t *testing.T, r *rp) signedIn {
			t.Helper()
			a := addAccountN(t, k, n)
			n++
			b := browser(t)
			f := newFlow()
			tok, err := r.conf.Exchange(ctx, login(t, k, r, b, a.Email, f), oauth2.VerifierOption(f.verifier))
			if err != nil {
				t.Fatal(err)
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := r.verifier.Verify(ctx, rawID)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				SID string `json:"sid"`
			}
			if err := idt.Claims(&c); err != nil || c.SID == "" {
				t.Fatalf("sid %q: %v", c.SID, err)
			}
			return signedIn{b, tok, c.SID}
		}
		// use makes a request of Kilt in each citizen's session, which must be live.
		use := func(t *testing.T, ss ...signedIn) {
			t.Helper()
			for _, s := range ss {
				resp, err := s.b.Get(k.url + "/account")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/account" {
					t.Fatalf("the session is not live: %d at %s", resp.StatusCode, resp.Request.URL.Path)
				}
			}
		}
		round := func(t *testing.T, apps ...*server.App) {
			t.Helper()
			var wg sync.WaitGroup
			errs := make(chan error, len(apps))
			for _, app := range apps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := app.Retention.RunOnce(ctx)
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		// logouts delivers the queued messages and returns the sids r's sink got, each
		// logout token verified for r.
		logouts := func(t *testing.T, r *rp, sink *logoutSink) []string {
			t.Helper()
			if _, err := k.app.Dispatcher.Step(ctx); err != nil {
				t.Fatal(err)
			}
			var sids []string
			for _, raw := range sink.take() {
				lt, err := r.provider.VerifierContext(ctx, &gooidc.Config{ClientID: r.conf.ClientID}).Verify(ctx, raw)
				if err != nil {
					t.Fatalf("logout token: %v", err)
				}
				var c struct {
					SID    string         `json:"sid"`
					Events map[string]any `json:"events"`
				}
				if err := lt.Claims(&c); err != nil {
					t.Fatal(err)
				}
				if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
					t.Errorf("logout token events %v", c.Events)
				}
				sids = append(sids, c.SID)
			}
			slices.Sort(sids)
			return sids
		}
		want := func(t *testing.T, got []string, want ...signedIn) {
			t.Helper()
			w := []string{}
			for _, s := range want {
				w = append(w, s.sid)
			}
			slices.Sort(w)
			if !slices.Equal(append([]string{}, got...), w) {
				t.Errorf("logout tokens for sessions %q, want one each for %q", got, w)
			}
		}

		idle, lifetime, access := signIn(t, r), signIn(t, r), signIn(t, short)
		sink.take()
		shortSink.take()

		clock.advance(25 * time.Minute) // 0:25
		use(t, lifetime, access)
		round(t, k.app)
		want(t, logouts(t, r, sink))

		clock.advance(25 * time.Minute) // 0:50: idle has not been used for 50 minutes
		use(t, lifetime, access)
		live := signIn(t, r)
		sink.take()
		round(t, k.app)
		want(t, logouts(t, r, sink), idle)
		if refresh(t, r, idle.tok.RefreshToken) != nil {
			t.Error("the refresh token outlived its idle session")
		}

		clock.advance(25 * time.Minute) // 1:15: access's token expired an hour ago
		use(t, lifetime, access, live)
		round(t, k.app)
		want(t, logouts(t, r, sink))
		want(t, logouts(t, short, shortSink))

		clock.advance(20 * time.Minute) // 1:35
		use(t, lifetime, live)
		round(t, k.app)
		want(t, logouts(t, short, shortSink))

		clock.advance(15 * time.Minute) // 1:50: access not used for 35 minutes
		use(t, lifetime, live)
		round(t, k.app)
		want(t, logouts(t, short, shortSink), access)
		want(t, logouts(t, r, sink))

		clock.advance(15 * time.Minute) // 2:05: lifetime is past its 2 hours, seen 15 minutes ago
		round(t, k.app)
		want(t, logouts(t, r, sink), lifetime)
		if refresh(t, r, lifetime.tok.RefreshToken) != nil {
			t.Error("the refresh token outlived its session's lifetime")
		}
		if refresh(t, r, live.tok.RefreshToken) == nil {
			t.Error("a live session's refresh token was refused")
		}

		// Two instances on the same database run their round at once: the sessions that
		// timed out are logged out once each.
		other := openAppWith(t, dbURL, k.url, k.env, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.now, more)
		late := signIn(t, r)
		sink.take()
		clock.advance(31 * time.Minute)
		round(t, k.app, other)
		want(t, logouts(t, r, sink), live, late)
	})
}
