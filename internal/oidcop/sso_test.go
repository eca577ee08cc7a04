package oidcop_test

// End-to-end single sign-on: a relying party built on coreos/go-oidc and x/oauth2 against a
// real Kilt (real database, real HTTP server, the real sign-in form), on SQLite and
// PostgreSQL.
//
// MUSTs of OpenID Connect Core 1.0 and Discovery 1.0 that the OpenID Foundation's Basic OP
// test plan (oidcc-basic-certification-test-plan) checks, and the test covering each:
//
//   - Discovery: issuer equals the URL the document is fetched from; authorization_endpoint,
//     token_endpoint, jwks_uri, response_types_supported (code), subject_types_supported,
//     id_token_signing_alg_values_supported (RS256) present — TestDiscovery (and go-oidc's
//     NewProvider refuses a mismatched issuer in every flow test).
//   - oidcc-server: response_type=code answers a code with the state sent — TestCodeFlow.
//   - oidcc-idtoken-signature / -kid-absent-*: ID token signed with a published RS256 key,
//     kid in the header — TestCodeFlow (go-oidc verifies against the JWKS by kid).
//   - oidcc-idtoken-rs256; unsigned (alg none) refused — TestForgedIDTokens.
//   - iss, sub, aud, exp, iat in the ID token; aud contains the client_id; sub stable and
//     never the e-mail — TestCodeFlow.
//   - oidcc-nonce: the nonce sent is returned in the ID token — TestCodeFlow.
//   - oidcc-userinfo-get / -post-header: userinfo answers with the bearer token, sub equal to
//     the ID token's — TestCodeFlow.
//   - oidcc-scope-email / -phone: scope claims in userinfo — TestCodeFlow.
//   - oidcc-ensure-redirect-uri-in-authorization-request, -registered-redirect-uri: an
//     unregistered redirect URI gets an error page, never a redirect — TestRedirectURIMismatch.
//   - oidcc-codereuse / -30seconds: a code used twice fails and revokes what it issued —
//     TestCodeUsedTwice.
//   - oidcc-prompt-none-not-logged-in: login_required — TestPromptNone.
//   - oidcc-prompt-login / oidcc-max-age-1: a new sign-in is asked — TestPromptLogin.
//   - oidcc-ensure-request-without-nonce-succeeds-for-code-flow — TestPKCE (no nonce sent).
//   - oidcc-refresh-token: refresh answers new tokens, rotated — TestRefresh.
//   - auth_time present when max_age sent — TestPromptLogin.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"kilt/internal/account"
	"kilt/internal/config"
	"kilt/internal/kilttest"
	"kilt/internal/mail/smtptest"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/server"
	"kilt/internal/sqlstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

const password = "Jaksy-Kun-2026!"

// kilt is one Kilt on a database, served at url (an in-process server whose handler can be
// switched to another instance on the same database).
type kilt struct {
	url     string
	app     *server.App
	handler *atomic.Value
	// env delivers mail and SMS to real in-process servers.
	env *kilttest.Env
}

func openApp(t *testing.T, dbURL, base string, env *kilttest.Env) *server.App {
	t.Helper()
	return openAppLog(t, dbURL, base, env, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// openAppLog is openApp logging to log.
func openAppLog(t *testing.T, dbURL, base string, env *kilttest.Env, log *slog.Logger) *server.App {
	t.Helper()
	return openAppWith(t, dbURL, base, env, log, nil, nil)
}

// openAppWith is openAppLog on clock (nil: the real one) with the variables of more on top.
func openAppWith(t *testing.T, dbURL, base string, env *kilttest.Env, log *slog.Logger, clock func() time.Time, more map[string]string) *server.App {
	t.Helper()
	vars := map[string]string{"KILT_BASE_URL": base, "KILT_DATABASE_URL": dbURL, "KILT_ARGON2_MEMORY": "8192",
		"KILT_ARGON2_TIME": "1", "KILT_SMTP_URL": "smtp://" + env.Mail.Addr() + "?starttls=false",
		"KILT_SMS_PROVIDER": "webhook", "KILT_SMS_WEBHOOK_URL": env.SMS.URL}
	for k, v := range more {
		vars[k] = v
	}
	fs := flag.NewFlagSet("sso", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := config.Load(fs, nil, func(k string) string { return vars[k] }, config.Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	app, err := server.Open(context.Background(), cfg, log, clock, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

func startKilt(t *testing.T, dbURL string) *kilt {
	t.Helper()
	return startKiltWith(t, dbURL, nil, nil)
}

// startKiltWith is startKilt on clock (nil: the real one) with the variables of more.
func startKiltWith(t *testing.T, dbURL string, clock func() time.Time, more map[string]string) *kilt {
	t.Helper()
	k := &kilt{handler: &atomic.Value{}, env: &kilttest.Env{DatabaseURL: dbURL,
		Mail: smtptest.Start(t, smtptest.Options{Security: smtptest.Plain}), SMS: kilttest.StartSMSGateway(t)}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	k.url = "http://" + srv.Listener.Addr().String()
	k.app = openAppWith(t, dbURL, k.url, k.env, slog.New(slog.NewTextHandler(io.Discard, nil)), clock, more)
	k.env.App, k.env.URL = k.app, k.url
	k.handler.Store(k.app.Handler(nil))
	srv.Start()
	t.Cleanup(srv.Close)
	return k
}

// rp is a relying party: a registered client with go-oidc and x/oauth2.
type rp struct {
	conf     oauth2.Config
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
}

const rpRedirect = "http://127.0.0.1:9/cb"

func newRP(t *testing.T, k *kilt, n oidc.NewClient) *rp {
	t.Helper()
	if n.Name == "" {
		n.Name = "Tax office"
	}
	if n.RedirectURIs == nil {
		n.RedirectURIs = []string{rpRedirect}
	}
	if n.PostLogoutRedirectURIs == nil {
		n.PostLogoutRedirectURIs = []string{"http://127.0.0.1:9/bye"}
	}
	c, secret, err := k.app.OIDC.AddClient(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gooidc.NewProvider(context.Background(), k.url)
	if err != nil {
		t.Fatal(err)
	}
	return &rp{
		conf: oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: n.RedirectURIs[0],
			Scopes: []string{gooidc.ScopeOpenID, "email", "phone", gooidc.ScopeOfflineAccess}},
		provider: p, verifier: p.Verifier(&gooidc.Config{ClientID: c.ID}),
	}
}

// browser is a citizen's browser: a cookie jar, and redirects followed except to the
// relying party (whose answer the test reads).
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), "http://127.0.0.1:9/") {
			return nil
		}
		return http.ErrUseLastResponse
	}}
}

func addAccount(t *testing.T, k *kilt, email string) *account.Account {
	t.Helper()
	a, err := k.app.Accounts.Add(context.Background(), account.NewAccount{Email: email, EmailVerified: true,
		Phone: "+77011234567", PhoneVerified: true, Password: password, Confirm: password})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// authorize starts an authorization in b and returns the response to it (after redirects
// inside Kilt).
func authorize(t *testing.T, b *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// signIn posts the sign-in form and returns the final response (the redirect to the RP).
func signIn(t *testing.T, b *http.Client, k *kilt, email string) *http.Response {
	t.Helper()
	resp, err := b.PostForm(k.url+"/login", url.Values{"identifier": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// answer is the authorization response the RP got.
func answer(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("want a redirect to the relying party, got %d %s", resp.StatusCode, resp.Request.URL)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), "http://127.0.0.1:9/") {
		t.Fatalf("redirected to %q, not the relying party", resp.Header.Get("Location"))
	}
	return loc.Query()
}

type flow struct {
	verifier, state, nonce string
}

func newFlow() flow {
	return flow{verifier: oauth2.GenerateVerifier(), state: oauth2.GenerateVerifier()[:20], nonce: oauth2.GenerateVerifier()[:20]}
}

func (r *rp) authURL(f flow, extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), gooidc.Nonce(f.nonce)}, extra...)
	return r.conf.AuthCodeURL(f.state, opts...)
}

// login runs the code flow through the sign-in form and returns the code.
// signedIn registers a first-party relying party, signs email in through it in a new browser
// and exchanges the code: the start of most tests.
func signedIn(t *testing.T, k *kilt, email string) (*rp, *http.Client, *oauth2.Token) {
	t.Helper()
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	b := browser(t)
	f := newFlow()
	tok, err := r.conf.Exchange(context.Background(), login(t, k, r, b, email, f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	return r, b, tok
}

func login(t *testing.T, k *kilt, r *rp, b *http.Client, email string, f flow) string {
	t.Helper()
	resp := authorize(t, b, r.authURL(f))
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Request.URL.Path, "/login") {
		t.Fatalf("authorize: %d at %s, want the sign-in page", resp.StatusCode, resp.Request.URL)
	}
	q := answer(t, signIn(t, b, k, email))
	if q.Get("state") != f.state || q.Get("iss") != k.url || q.Get("code") == "" {
		t.Fatalf("authorization response %v: want code, state %q and iss %q", q, f.state, k.url)
	}
	return q.Get("code")
}

func each(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, d := range kilttest.Dialects {
		t.Run(d, func(t *testing.T) { fn(t, kilttest.DatabaseURL(t, d)) })
	}
}

func TestDiscovery(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	resp, err := http.Get(k.url + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != k.url {
		t.Errorf("issuer %v, want %s", d["issuer"], k.url)
	}
	for name, path := range map[string]string{"authorization_endpoint": "/oauth/authorize", "token_endpoint": "/oauth/token",
		"userinfo_endpoint": "/oauth/userinfo", "jwks_uri": "/oauth/keys", "revocation_endpoint": "/oauth/revoke",
		"introspection_endpoint": "/oauth/introspect", "end_session_endpoint": "/oauth/end_session"} {
		if d[name] != k.url+path {
			t.Errorf("%s = %v, want %s", name, d[name], k.url+path)
		}
	}
	if d["authorization_response_iss_parameter_supported"] != true {
		t.Error("authorization_response_iss_parameter_supported is not true")
	}
	if !strings.Contains(jsonString(d["id_token_signing_alg_values_supported"]), `"RS256"`) {
		t.Errorf("id_token_signing_alg_values_supported = %v", d["id_token_signing_alg_values_supported"])
	}
	if got := jsonString(d["code_challenge_methods_supported"]); got != `["S256"]` {
		t.Errorf("code_challenge_methods_supported = %s, want S256 only", got)
	}
	if got := jsonString(d["response_types_supported"]); got != `["code"]` {
		t.Errorf("response_types_supported = %s, want code only", got)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCodeFlow: discovery, the code flow with PKCE through the sign-in form, the ID token's
// claims, userinfo, introspection, revocation, refresh and logout.
func TestCodeFlow(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		k := startKilt(t, dbURL)
		acct := addAccount(t, k, "aigerim@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		b := browser(t)
		f := newFlow()

		// The sign-in page names the application.
		resp, err := b.Get(r.authURL(f, oauth2.SetAuthURLParam("ui_locales", "en"), oauth2.SetAuthURLParam("login_hint", "aigerim@mail.kz")))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "Sign in to continue to Tax office") || !strings.Contains(string(page), `value="aigerim@mail.kz"`) {
			t.Fatalf("sign-in page does not name the application or prefill the hint:\n%s", page)
		}
		// The form's redirects end at the application: form-action allows its origin only.
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9;") {
			t.Errorf("sign-in page CSP %q does not allow the application's origin in form-action", csp)
		}
		q := answer(t, signIn(t, b, k, "aigerim@mail.kz"))
		if q.Get("state") != f.state || q.Get("iss") != k.url {
			t.Fatalf("answer %v", q)
		}
		tok, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := r.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var claims struct {
			Sub      string   `json:"sub"`
			Nonce    string   `json:"nonce"`
			AMR      []string `json:"amr"`
			SID      string   `json:"sid"`
			AuthTime int64    `json:"auth_time"`
			Email    string   `json:"email"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if claims.Nonce != f.nonce || claims.SID == "" || claims.AuthTime == 0 || len(claims.AMR) != 1 || claims.AMR[0] != "pwd" {
			t.Errorf("ID token claims %+v: want the nonce, sid, auth_time and amr [pwd]", claims)
		}
		if claims.Sub == "" || strings.Contains(claims.Sub, "aigerim") || claims.Sub == "1" || claims.Sub != k.app.OIDC.Subject(acct.ID) {
			t.Errorf("sub %q: want the opaque stable subject", claims.Sub)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}

		// userinfo from the database.
		ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var uc struct {
			Phone         string `json:"phone_number"`
			PhoneVerified bool   `json:"phone_number_verified"`
		}
		_ = ui.Claims(&uc)
		if ui.Subject != claims.Sub || ui.Email != "aigerim@mail.kz" || !ui.EmailVerified || uc.Phone != "+77011234567" || !uc.PhoneVerified {
			t.Errorf("userinfo %+v %+v", ui, uc)
		}

		// introspection (the client's own token only).
		if !introspect(t, k, r, tok.AccessToken) {
			t.Error("introspection: a live token is inactive")
		}
		other := newRP(t, k, oidc.NewClient{Name: "Other"})
		if introspect(t, k, other, tok.AccessToken) {
			t.Error("introspection: another client sees the token active")
		}

		// refresh rotates.
		tok2 := refresh(t, r, tok.RefreshToken)
		if tok2 == nil || tok2.RefreshToken == tok.RefreshToken {
			t.Fatal("refresh did not rotate")
		}

		// revocation: the access token at once, the refresh token with its grant.
		revoke(t, k, r, tok2.AccessToken)
		if introspect(t, k, r, tok2.AccessToken) {
			t.Error("a revoked access token is active")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok2)); err == nil {
			t.Error("userinfo answers a revoked access token")
		}
		// A refresh token revoked takes its whole grant with it (RFC 7009 2.1): the access
		// token issued with the code, still live until then, too.
		if !introspect(t, k, r, tok.AccessToken) {
			t.Fatal("the code's access token is inactive before the revocation")
		}
		revoke(t, k, r, tok2.RefreshToken)
		if refresh(t, r, tok2.RefreshToken) != nil {
			t.Error("a revoked refresh token refreshes")
		}
		if introspect(t, k, r, tok.AccessToken) {
			t.Error("an access token of the grant whose refresh token was revoked is active")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("userinfo answers an access token of the grant whose refresh token was revoked")
		}

		// Single sign-on: signed in already, a new authorization answers at once. Then
		// logout with end_session and the registered URI.
		f2 := newFlow()
		q = answer(t, authorize(t, b, r.authURL(f2)))
		if q.Get("state") != f2.state || q.Get("code") == "" {
			t.Fatalf("a signed-in browser's authorization: %v", q)
		}
		tok3, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f2.verifier))
		if err != nil {
			t.Fatal(err)
		}
		hint, _ := tok3.Extra("id_token").(string)
		resp, err = b.Get(k.url + "/oauth/end_session?" + url.Values{"id_token_hint": {hint},
			"post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"s1"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:9/bye?state=s1" {
			t.Errorf("end_session redirected to %q", loc)
		}
		if refresh(t, r, tok3.RefreshToken) != nil || introspect(t, k, r, tok3.AccessToken) {
			t.Error("tokens of an ended session still work")
		}
		// The browser is signed out: a new authorization shows the form.
		if resp := authorize(t, b, r.authURL(newFlow())); !strings.HasSuffix(resp.Request.URL.Path, "/login") || resp.StatusCode != 200 {
			t.Errorf("after logout: %d %s, want the sign-in form", resp.StatusCode, resp.Request.URL)
		}
	})
}

func introspect(t *testing.T, k *kilt, r *rp, token string) bool {
	t.Helper()
	req, _ := http.NewRequest("POST", k.url+"/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(r.conf.ClientID), url.QueryEscape(r.conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != 200 {
		t.Fatalf("introspection: %d", resp.StatusCode)
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out.Active
}

func revoke(t *testing.T, k *kilt, r *rp, token string) {
	t.Helper()
	req, _ := http.NewRequest("POST", k.url+"/oauth/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(r.conf.ClientID), url.QueryEscape(r.conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revocation: %d", resp.StatusCode)
	}
}

// refresh returns the refreshed tokens, nil when refused.
func refresh(t *testing.T, r *rp, rt string) *oauth2.Token {
	t.Helper()
	tok, err := r.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		return nil
	}
	return tok
}

// TestCodeUsedTwice: the second redemption fails and revokes what the first issued.
func TestCodeUsedTwice(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		k := startKilt(t, dbURL)
		addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		f := newFlow()
		code := login(t, k, r, browser(t), "a@mail.kz", f)
		tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); err == nil {
			t.Fatal("a code redeemed twice")
		}
		if introspect(t, k, r, tok.AccessToken) {
			t.Error("the first redemption's access token survived the reuse")
		}
		if refresh(t, r, tok.RefreshToken) != nil {
			t.Error("the first redemption's refresh token survived the reuse")
		}
	})
}

// TestCodeOfAnotherClient: a code is bound to the client that asked for it.
func TestCodeOfAnotherClient(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	thief := newRP(t, k, oidc.NewClient{Name: "Thief", FirstParty: true})
	f := newFlow()
	code := login(t, k, r, browser(t), "a@mail.kz", f)
	if _, err := thief.conf.Exchange(context.Background(), code, oauth2.VerifierOption(f.verifier)); err == nil {
		t.Fatal("another client redeemed the code")
	}
}

// TestPKCE: a challenge is required (S256 only) and the verifier must match.
func TestPKCE(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		k := startKilt(t, dbURL)
		addAccount(t, k, "a@mail.kz")
		for _, public := range []bool{false, true} {
			r := newRP(t, k, oidc.NewClient{FirstParty: true, Public: public})
			b := browser(t)
			// No challenge, or plain: an error to the client, no sign-in.
			for name, u := range map[string]string{
				"missing": r.conf.AuthCodeURL("st"),
				"plain": r.conf.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)),
					oauth2.SetAuthURLParam("code_challenge_method", "plain")),
			} {
				q := answer(t, authorize(t, b, u))
				if q.Get("error") != "invalid_request" || q.Get("code") != "" || q.Get("iss") != k.url {
					t.Errorf("public=%v PKCE %s: answer %v, want invalid_request with iss", public, name, q)
				}
			}
			// A wrong verifier, then none: refused (no nonce sent: allowed for the code flow).
			f := newFlow()
			resp := authorize(t, b, r.conf.AuthCodeURL(f.state, oauth2.S256ChallengeOption(f.verifier)))
			if resp.StatusCode != 200 {
				t.Fatalf("authorize without nonce: %d", resp.StatusCode)
			}
			code := answer(t, signIn(t, b, k, "a@mail.kz")).Get("code")
			ctx := context.Background()
			if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
				t.Errorf("public=%v: a wrong verifier redeemed the code", public)
			}
			if _, err := r.conf.Exchange(ctx, code); err == nil {
				t.Errorf("public=%v: a code redeemed without verifier", public)
			}
		}
	})
}

// TestRedirectURIMismatch: anything but a registered redirect URI gets Kilt's error page,
// never a redirect.
func TestRedirectURIMismatch(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	const reg = "https://rp.example.kz/cb"
	r := newRP(t, k, oidc.NewClient{RedirectURIs: []string{reg, "http://127.0.0.1:8000/cb"}})
	f := newFlow()
	for _, bad := range []string{
		"https://rp.example.kz/c",          // prefix
		"https://rp.example.kz/cb/more",    // suffix
		"https://rp.example.kz/cb.evil",    // suffix
		"https://RP.example.kz/cb",         // case
		"https://rp.example.kz/CB",         // case
		"https://rp.example.kz/cb?x=1",     // extra query
		"https://rp.example.kz/%63b",       // encoded characters
		"https://rp.example.kz%2F@evil/cb", // encoded characters
		"http://127.0.0.1:8001/cb",         // another port, confidential client
		"https://evil.example/cb",
		"",
	} {
		r.conf.RedirectURL = bad
		resp, err := browser(t).Get(r.authURL(f))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || resp.Request.URL.Path != "/oauth/authorize" {
			t.Errorf("redirect_uri %q: %d at %s, want a 400 page and no redirect", bad, resp.StatusCode, resp.Request.URL)
		}
		if !strings.Contains(string(body), "<html") {
			t.Errorf("redirect_uri %q: not an error page", bad)
		}
	}
	// A public native client may use another loopback port (RFC 8252).
	pub := newRP(t, k, oidc.NewClient{Public: true, RedirectURIs: []string{"http://127.0.0.1:8000/cb"}})
	pub.conf.RedirectURL = "http://127.0.0.1:9/cb"
	resp := authorize(t, browser(t), pub.authURL(f))
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/login" {
		t.Errorf("public client on another loopback port: %d at %s, want the sign-in page", resp.StatusCode, resp.Request.URL)
	}
	// A request object could carry another redirect URI: refused with the error page.
	r.conf.RedirectURL = reg
	resp, _ = browser(t).Get(r.authURL(f, oauth2.SetAuthURLParam("request", "eyJhbGciOiJub25lIn0.e30.")))
	if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Path != "/oauth/authorize" {
		t.Errorf("request object: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// An unknown client: the error page too.
	r.conf.ClientID, r.conf.RedirectURL = "unknown", reg
	resp, _ = browser(t).Get(r.authURL(f))
	if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Path != "/oauth/authorize" {
		t.Errorf("unknown client: %d at %s", resp.StatusCode, resp.Request.URL)
	}
}

// TestRefreshUsedTwice: a rotated refresh token presented again revokes the whole grant: its
// refresh tokens and its access tokens, which userinfo and introspection then refuse.
func TestRefreshUsedTwice(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		k := startKilt(t, dbURL)
		addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		f := newFlow()
		tok, err := r.conf.Exchange(context.Background(), login(t, k, r, browser(t), "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		next := refresh(t, r, tok.RefreshToken)
		if next == nil {
			t.Fatal("first refresh refused")
		}
		if refresh(t, r, tok.RefreshToken) != nil {
			t.Fatal("a rotated refresh token refreshed again")
		}
		if refresh(t, r, next.RefreshToken) != nil {
			t.Error("the family survived the reuse")
		}
		for i, at := range []*oauth2.Token{tok, next} {
			if introspect(t, k, r, at.AccessToken) {
				t.Errorf("access token %d of the grant is active after the reuse", i+1)
			}
			if _, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(at)); err == nil {
				t.Errorf("userinfo answers access token %d of the grant after the reuse", i+1)
			}
		}
	})
}

// TestOneSignaturePerTokenResponse: a code exchange and a refresh each cost one signature
// (SPEC §7), the ID token's: the access token is opaque — 32 random bytes, not a JWT, only
// its SHA-256 in the database — and still answers userinfo and introspection.
func TestOneSignaturePerTokenResponse(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		k := startKilt(t, dbURL)
		addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		f := newFlow()
		code := login(t, k, r, browser(t), "a@mail.kz", f)
		before := k.app.OIDC.Signatures()
		tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if n := k.app.OIDC.Signatures() - before; n != 1 {
			t.Errorf("a code exchange made %d signatures, want 1", n)
		}
		before = k.app.OIDC.Signatures()
		next := refresh(t, r, tok.RefreshToken)
		if next == nil {
			t.Fatal("refresh refused")
		}
		if n := k.app.OIDC.Signatures() - before; n != 1 {
			t.Errorf("a refresh made %d signatures, want 1", n)
		}
		if _, err := r.verifier.Verify(ctx, next.Extra("id_token").(string)); err != nil {
			t.Errorf("the refreshed ID token: %v", err)
		}
		for _, at := range []string{tok.AccessToken, next.AccessToken} {
			if strings.Contains(at, ".") || len(at) != 43 {
				t.Fatalf("access token %q: want 32 random bytes in base64url, not a JWT", at)
			}
		}
		// At rest, only the hash: no column of the token's row holds the token.
		var n int
		q := "SELECT count(*) FROM oidc_tokens WHERE id = $1 OR family = $1 OR auth_request_id = $1 OR hash = $2"
		if err := k.app.DB.QueryRow(ctx, q, next.AccessToken, []byte(next.AccessToken)).Scan(&n); err != nil || n != 0 {
			t.Errorf("the access token is stored as is (%d rows, %v)", n, err)
		}
		if err := k.app.DB.QueryRow(ctx, "SELECT count(*) FROM oidc_tokens WHERE hash = $1", hashOf(next.AccessToken)).Scan(&n); err != nil || n != 1 {
			t.Errorf("the access token's hash: %d rows, %v; want 1", n, err)
		}
		if !introspect(t, k, r, next.AccessToken) {
			t.Error("introspection: the refreshed access token is inactive")
		}
		if ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(next)); err != nil || ui.Email != "a@mail.kz" {
			t.Errorf("userinfo with the opaque token: %+v, %v", ui, err)
		}
		// A token that is not one of Kilt's, or one changed by a character, is refused.
		forged := *next
		c := byte('A')
		if next.AccessToken[0] == 'A' {
			c = 'B'
		}
		forged.AccessToken = string(c) + next.AccessToken[1:]
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(&forged)); err == nil {
			t.Error("userinfo answered a changed access token")
		}
		if introspect(t, k, r, forged.AccessToken) {
			t.Error("introspection: a changed access token is active")
		}
	})
}

func hashOf(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// TestTokensAfterPasswordChange: a password change (even one keeping the session the tokens
// came from) and a lock end every token of the account.
func TestTokensAfterPasswordChange(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clock := &movedClock{}
		k := startKiltWith(t, dbURL, clock.now, nil)
		acct := addAccount(t, k, "a@mail.kz")
		r, _, tok := signedIn(t, k, "a@mail.kz")
		sessions := tokenSessions(t, k, tok)
		clock.advance(time.Millisecond) // the change is later than the tokens, at microsecond precision
		if err := k.app.Accounts.ChangePassword(ctx, acct.ID, sessions, password, "Zhana-Kupiya-2026!", "Zhana-Kupiya-2026!",
			account.Client{Lang: "en"}); err != nil {
			t.Fatal(err)
		}
		if refresh(t, r, tok.RefreshToken) != nil || introspect(t, k, r, tok.AccessToken) {
			t.Error("tokens survived the password change")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("userinfo answered after the password change")
		}
	})
}

// tokenSessions finds the Kilt session of the access token.
func tokenSessions(t *testing.T, k *kilt, tok *oauth2.Token) int64 {
	t.Helper()
	l, err := k.app.OIDC.AccessToken(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return l.Token.SessionID
}

// TestPromptNone: without a session, login_required to the client; with one, a code at
// once.
func TestPromptNone(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	b := browser(t)
	f := newFlow()
	q := answer(t, authorize(t, b, r.authURL(f, oauth2.SetAuthURLParam("prompt", "none"))))
	if q.Get("error") != "login_required" || q.Get("state") != f.state || q.Get("iss") != k.url {
		t.Errorf("prompt=none without a session: %v", q)
	}
	login(t, k, r, b, "a@mail.kz", newFlow())
	q = answer(t, authorize(t, b, r.authURL(f, oauth2.SetAuthURLParam("prompt", "none"))))
	if q.Get("code") == "" {
		t.Errorf("prompt=none with a session: %v", q)
	}
}

// TestPromptLogin: prompt=login and max_age=0 show the form although signed in; the new
// sign-in answers, with auth_time.
func TestPromptLogin(t *testing.T) {
	clock := &movedClock{}
	k := startKiltWith(t, kilttest.DatabaseURL(t, "sqlite"), clock.now, nil)
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	b := browser(t)
	login(t, k, r, b, "a@mail.kz", newFlow())
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		f := newFlow()
		clock.advance(2 * time.Second) // max_age and auth_time count whole seconds
		before := clock.now().Unix()
		resp := authorize(t, b, r.authURL(f, opt))
		if resp.StatusCode != 200 || resp.Request.URL.Path != "/login" {
			t.Fatalf("%v: %d at %s, want the sign-in form", opt, resp.StatusCode, resp.Request.URL)
		}
		q := answer(t, signIn(t, b, k, "a@mail.kz"))
		tok, err := r.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			AuthTime int64 `json:"auth_time"`
		}
		_ = idt.Claims(&c)
		if c.AuthTime < before { // the sign-in before was at least 2 s (of Kilt's clock) earlier
			t.Errorf("%v: auth_time %d is before this sign-in (%d)", opt, c.AuthTime, before)
		}
	}
}

// TestForgedIDTokens: an ID token whose alg is changed to none or HS256 (keyed with the
// public key) is refused by the relying party: Kilt publishes only asymmetric keys.
func TestForgedIDTokens(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	f := newFlow()
	tok, err := r.conf.Exchange(context.Background(), login(t, k, r, browser(t), "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw := tok.Extra("id_token").(string)
	if _, err := r.verifier.Verify(context.Background(), raw); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
	parts := strings.Split(raw, ".")
	resp, err := http.Get(k.url + "/oauth/keys")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(jwks), `"kty":"oct"`) || strings.Contains(string(jwks), `"d":`) {
		t.Fatalf("the JWKS publishes a symmetric or private key: %s", jwks)
	}
	for _, alg := range []string{"none", "HS256"} {
		var h map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		_ = json.Unmarshal(hb, &h)
		h["alg"] = alg
		hb, _ = json.Marshal(h)
		signing := base64.RawURLEncoding.EncodeToString(hb) + "." + parts[1]
		sig := ""
		if alg == "HS256" {
			m := hmac.New(sha256.New, jwks)
			m.Write([]byte(signing))
			sig = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
		if _, err := r.verifier.Verify(context.Background(), signing+"."+sig); err == nil {
			t.Errorf("an ID token with alg %s verified", alg)
		}
	}
}

// TestPostLogoutNotRegistered: end_session never redirects to an unregistered URI.
func TestPostLogoutNotRegistered(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	b := browser(t)
	f := newFlow()
	tok, err := r.conf.Exchange(context.Background(), login(t, k, r, b, "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://evil.example/", "http://127.0.0.1:9/bye/", "http://127.0.0.1:9/byeX"} {
		resp, err := b.Get(k.url + "/oauth/end_session?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
			"post_logout_redirect_uri": {u}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" || resp.StatusCode < 400 {
			t.Errorf("post_logout_redirect_uri %q: %d, Location %q; want an error and no redirect", u, resp.StatusCode, loc)
		}
	}
}

// TestSecondInstance: a flow begun on one Kilt is finished on another on the same
// PostgreSQL (one URL in front, as behind a load balancer).
func TestSecondInstance(t *testing.T) {
	ctx := context.Background()
	dbURL := kilttest.DatabaseURL(t, "postgres")
	k := startKilt(t, dbURL)
	addAccount(t, k, "a@mail.kz")
	second := openApp(t, dbURL, k.url, k.env)
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	b := browser(t)
	f := newFlow()
	if resp := authorize(t, b, r.authURL(f)); resp.StatusCode != 200 {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	k.handler.Store(second.Handler(nil)) // the rest on the second instance
	q := answer(t, signIn(t, b, k, "a@mail.kz"))
	tok, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("the second instance's ID token: %v (the instances must share the signing key)", err)
	}
	if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatal(err)
	}
}

// TestConsent: a third-party application gets the consent page (in the citizen's language)
// once per client and scope set; a refusal answers access_denied; /account lists the
// application and revoking it ends its tokens. A first-party one is never asked (the other
// tests).
func TestConsent(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		k := startKilt(t, dbURL)
		addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{Name: "Bank KZ"})
		b := browser(t)
		get := func(u string) (*http.Response, string) {
			resp, err := b.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(body)
		}
		post := func(path string, v url.Values) *http.Response {
			resp, err := b.PostForm(k.url+path, v)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		f := newFlow()
		authorize(t, b, r.authURL(f, oauth2.SetAuthURLParam("ui_locales", "kk")))
		resp := signIn(t, b, k, "a@mail.kz")
		if resp.StatusCode != 200 || resp.Request.URL.Path != "/oauth/consent" {
			t.Fatalf("third-party sign-in: %d at %s, want the consent page", resp.StatusCode, resp.Request.URL)
		}
		for _, lang := range []string{"kk", "ru", "en"} {
			_, body := get(k.url + "/oauth/consent?lang=" + lang)
			want := map[string]string{"kk": "«Bank KZ» мыналарды сұрайды:", "ru": "«Bank KZ» запрашивает:", "en": "Bank KZ asks for:"}[lang]
			if !strings.Contains(body, want) || !strings.Contains(body, `lang="`+lang+`"`) {
				t.Errorf("consent page in %s lacks %q", lang, want)
			}
		}
		q := answer(t, post("/oauth/consent", url.Values{"decision": {"deny"}}))
		if q.Get("error") != "access_denied" || q.Get("state") != f.state || q.Get("iss") != k.url {
			t.Errorf("deny: %v", q)
		}

		f = newFlow()
		if resp := authorize(t, b, r.authURL(f)); resp.Request.URL.Path != "/oauth/consent" {
			t.Fatalf("after a refusal: %s, want the consent page again", resp.Request.URL)
		}
		q = answer(t, post("/oauth/consent", url.Values{"decision": {"allow"}}))
		tok, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		// Once per client and scope set: the next authorization answers at once, unless
		// prompt=consent.
		if q := answer(t, authorize(t, b, r.authURL(newFlow()))); q.Get("code") == "" {
			t.Errorf("consent asked twice: %v", q)
		}
		if resp := authorize(t, b, r.authURL(newFlow(), oauth2.SetAuthURLParam("prompt", "consent"))); resp.Request.URL.Path != "/oauth/consent" {
			t.Errorf("prompt=consent: %s, want the consent page", resp.Request.URL)
		}

		_, body := get(k.url + "/account?lang=en")
		if !strings.Contains(body, "Bank KZ") || !strings.Contains(body, "Revoke access") {
			t.Fatalf("the account page does not list the application")
		}
		post("/account/apps/revoke", url.Values{"client_id": {r.conf.ClientID}})
		if refresh(t, r, tok.RefreshToken) != nil || introspect(t, k, r, tok.AccessToken) {
			t.Error("tokens survived revoking the application")
		}
		if _, body := get(k.url + "/account?lang=en"); strings.Contains(body, "Bank KZ") {
			t.Error("a revoked application is still listed")
		}
	})
}

// TestRecoveryDetour: from the application's sign-in page the citizen forgets the password,
// resets it by the e-mail link in the same browser, signs in and lands back in the
// application with a code; the tokens issued before the reset no longer work.
func TestRecoveryDetour(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		k := startKilt(t, dbURL)
		addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		// Tokens from an earlier sign-in in another browser.
		f0 := newFlow()
		old, err := r.conf.Exchange(ctx, login(t, k, r, browser(t), "a@mail.kz", f0), oauth2.VerifierOption(f0.verifier))
		if err != nil {
			t.Fatal(err)
		}

		b := browser(t)
		f := newFlow()
		authorize(t, b, r.authURL(f))
		resp, err := b.PostForm(k.url+"/recovery/email", url.Values{"email": {"a@mail.kz"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		link := k.env.LatestLink(t, "a@mail.kz", "/recovery/reset")
		resp, err = b.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(page)
		if m == nil {
			t.Fatalf("no reset form after the link: %d\n%s", resp.StatusCode, page)
		}
		const newPassword = "Zhana-Kupiya-2026!"
		resp, err = b.PostForm(k.url+"/recovery/reset", url.Values{"token": {string(m[1])}, "password": {newPassword},
			"password_confirm": {newPassword}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Request.URL.Path != "/login" || !strings.Contains(string(page), "Tax office") {
			t.Fatalf("after «Сақтау»: %s, want the sign-in page still naming the application", resp.Request.URL)
		}
		resp, err = b.PostForm(k.url+"/login", url.Values{"identifier": {"a@mail.kz"}, "password": {newPassword}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		q := answer(t, resp)
		if q.Get("state") != f.state || q.Get("code") == "" {
			t.Fatalf("after the detour: %v", q)
		}
		if _, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier)); err != nil {
			t.Fatal(err)
		}
		if refresh(t, r, old.RefreshToken) != nil || introspect(t, k, r, old.AccessToken) {
			t.Error("tokens issued before the password reset still work")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(old)); err == nil {
			t.Error("userinfo answered a token issued before the reset")
		}
	})
}

// TestBackchannelLogout: signing out on Kilt sends each client that had the session a
// logout token through the outbox; a failed delivery stays pending for a retry; the token
// verifies against Kilt's keys and names the session (sid) and the subject.
func TestBackchannelLogout(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		var got atomic.Value
		var fail atomic.Bool
		fail.Store(true)
		rpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			got.Store(r.PostFormValue("logout_token"))
		}))
		defer rpSrv.Close()
		clock := &movedClock{}
		k := startKiltWith(t, dbURL, clock.now, nil)
		addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true, BackchannelLogoutURI: rpSrv.URL + "/backchannel"})
		b := browser(t)
		f := newFlow()
		tok, err := r.conf.Exchange(ctx, login(t, k, r, b, "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var idc struct {
			SID string `json:"sid"`
		}
		_ = idt.Claims(&idc)

		resp, err := b.PostForm(k.url+"/logout", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if refresh(t, r, tok.RefreshToken) != nil {
			t.Error("the refresh token outlived the sign-out")
		}
		if _, err := k.app.Dispatcher.Step(ctx); err != nil {
			t.Fatal(err)
		}
		msgs, err := k.app.Outbox.List(ctx, outbox.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].Channel != outbox.Backchannel || msgs[0].Status != outbox.StatusPending || msgs[0].Attempts != 1 {
			t.Fatalf("after a failed delivery: %+v, want one pending back-channel message", msgs)
		}
		// The relying party recovers; the message is not sent again before its backoff (at
		// most 5 s after the first attempt), and is once the backoff has passed.
		fail.Store(false)
		if _, err := k.app.Dispatcher.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if got.Load() != nil {
			t.Fatal("the logout token was sent again before its backoff")
		}
		clock.advance(5 * time.Second)
		if _, err := k.app.Dispatcher.Step(ctx); err != nil {
			t.Fatal(err)
		}
		raw, _ := got.Load().(string)
		if raw == "" {
			t.Fatal("no logout token delivered after the backoff")
		}
		lt, err := r.provider.VerifierContext(ctx, &gooidc.Config{ClientID: r.conf.ClientID, SkipExpiryCheck: false}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("logout token: %v", err)
		}
		var c struct {
			SID    string         `json:"sid"`
			Events map[string]any `json:"events"`
			Nonce  string         `json:"nonce"`
		}
		_ = lt.Claims(&c)
		if c.SID != idc.SID || lt.Subject != idt.Subject || c.Nonce != "" {
			t.Errorf("logout token sid %q sub %q nonce %q; want sid %q sub %q and no nonce", c.SID, lt.Subject, c.Nonce, idc.SID, idt.Subject)
		}
		if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
			t.Errorf("logout token events %v", c.Events)
		}
	})
}

// TestTokensAfterLock: an operator's lock ends the account's tokens at once; unlocking
// does not bring them back.
func TestTokensAfterLock(t *testing.T) {
	ctx := context.Background()
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	acct := addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	f := newFlow()
	tok, err := r.conf.Exchange(ctx, login(t, k, r, browser(t), "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.app.Sessions.SetLocked(ctx, acct.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	if introspect(t, k, r, tok.AccessToken) {
		t.Error("an access token of a locked account is active")
	}
	if err := k.app.Sessions.SetLocked(ctx, acct.ID, false, "test"); err != nil {
		t.Fatal(err)
	}
	if refresh(t, r, tok.RefreshToken) != nil || introspect(t, k, r, tok.AccessToken) {
		t.Error("tokens came back after the unlock")
	}
}

// TestRegistrationDetour: from the application's sign-in page the citizen registers (the
// e-mail link opened in the same browser), signs in and lands back in the application.
func TestRegistrationDetour(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	b := browser(t)
	f := newFlow()
	authorize(t, b, r.authURL(f))
	post := func(u string, v url.Values) (*http.Response, string) {
		resp, err := b.PostForm(u, v)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	post(k.url+"/register", url.Values{"email": {"new@mail.kz"}, "password": {password}, "password_confirm": {password},
		"consent_version": {kilttest.ConsentVersion}})
	resp, err := b.Get(k.env.LatestLink(t, "new@mail.kz", "/register/confirm"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no confirmation form: %s\n%s", resp.Request.URL, page)
	}
	// The confirmation proves the registrant: it asks for the password chosen at registration.
	resp, body := post(k.url+"/register/confirm", url.Values{"token": {string(m[1])}, "password": {password}})
	if resp.Request.URL.Path != "/login" || !strings.Contains(body, "Tax office") {
		t.Fatalf("after confirming: %s, want the sign-in page still naming the application", resp.Request.URL)
	}
	q := answer(t, signIn(t, b, k, "new@mail.kz"))
	if q.Get("state") != f.state || q.Get("code") == "" {
		t.Fatalf("after the registration detour: %v", q)
	}
	if _, err := r.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(f.verifier)); err != nil {
		t.Fatal(err)
	}
}
