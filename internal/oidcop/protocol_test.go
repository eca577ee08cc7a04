package oidcop_test

// The protocol's edges that the single sign-on audit (branch audit-sso) found open: repeated
// and unsupported authorization parameters, POST at the authorization and logout endpoints,
// caching of token responses, the id_token_hint at both endpoints, the post-logout redirect
// of public clients, userinfo's bearer errors, and a sign-out that left an authorization
// pending.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"kilt/internal/account"
	"kilt/internal/kilttest"
	"kilt/internal/oidc"
)

// noFollow is a client that follows no redirect (an application's server, or a browser's
// one step).
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// wantErrorPage checks that resp is Kilt's error page with status, and no redirect.
func wantErrorPage(t *testing.T, what string, resp *http.Response, status int) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || resp.Header.Get("Location") != "" || !strings.Contains(string(body), "<html") {
		t.Errorf("%s: %d, Location %q; want Kilt's error page (%d) and no redirect", what, resp.StatusCode, resp.Header.Get("Location"), status)
	}
}

// signedInAs reports the subject a prompt=none authorization in b answers for ("" when none).
func signedInAs(t *testing.T, b *http.Client, r *rp) string {
	t.Helper()
	f := newFlow()
	q := answer(t, authorize(t, b, r.authURL(f, oauth2.SetAuthURLParam("prompt", "none"))))
	if q.Get("code") == "" {
		return ""
	}
	tok, err := r.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	return idt.Subject
}

// TestAuthorizeRepeatedParameter: RFC 6749 3.1 — request parameters "MUST NOT be included
// more than once". Kilt checked the first redirect_uri while op used the last, so for a public
// client (whose loopback matching in op ignores host and scheme) an error went to an
// unregistered address. A repeated parameter — in the query, or in the query and a POST body
// — now gets Kilt's error page, never a redirect.
func TestAuthorizeRepeatedParameter(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	pub := newRP(t, k, oidc.NewClient{FirstParty: true, Public: true})
	conf := newRP(t, k, oidc.NewClient{FirstParty: true})
	f := newFlow()
	for _, c := range []struct{ name, url string }{
		{"redirect_uri twice, the second unregistered", pub.authURL(f, oauth2.SetAuthURLParam("prompt", "none login")) +
			"&redirect_uri=" + url.QueryEscape("https://localhost:8443/cb")},
		{"redirect_uri twice, both registered", pub.authURL(f) + "&redirect_uri=" + url.QueryEscape(rpRedirect)},
		{"state twice", conf.authURL(f) + "&state=other"},
		{"client_id twice", conf.authURL(f) + "&client_id=" + url.QueryEscape(pub.conf.ClientID)},
	} {
		resp, err := noFollow.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		wantErrorPage(t, c.name, resp, http.StatusBadRequest)
	}
	// The same parameter in the query and in a POST body.
	u, _ := url.Parse(conf.authURL(f))
	req, _ := http.NewRequest("POST", k.url+"/oauth/authorize?"+url.Values{"redirect_uri": {rpRedirect}}.Encode(), strings.NewReader(u.RawQuery))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantErrorPage(t, "redirect_uri in the query and the body", resp, http.StatusBadRequest)
	// Once each: the sign-in page.
	if resp := authorize(t, browser(t), pub.authURL(f)); resp.StatusCode != 200 || resp.Request.URL.Path != "/login" {
		t.Errorf("a well-formed request: %d at %s, want the sign-in page", resp.StatusCode, resp.Request.URL)
	}
}

// TestAuthorizeResponseMode: Kilt answers in the query only (discovery says so), with iss
// (RFC 9207). op put its error for response_mode=fragment in the fragment, without iss. A
// response mode other than query gets Kilt's error page before op runs: an application that
// asked for the fragment or a form post would not read a query answer, and the mistake is
// its developer's to see.
func TestAuthorizeResponseMode(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	f := newFlow()
	for _, mode := range []string{"fragment", "form_post", "query.jwt", "jwt", "Query", " "} {
		resp, err := noFollow.Get(r.authURL(f, oauth2.SetAuthURLParam("response_mode", mode)))
		if err != nil {
			t.Fatal(err)
		}
		wantErrorPage(t, "response_mode="+mode, resp, http.StatusBadRequest)
	}
	for _, mode := range []string{"query", ""} {
		if resp := authorize(t, browser(t), r.authURL(f, oauth2.SetAuthURLParam("response_mode", mode))); resp.StatusCode != 200 || resp.Request.URL.Path != "/login" {
			t.Errorf("response_mode=%q: %d at %s, want the sign-in page", mode, resp.StatusCode, resp.Request.URL)
		}
	}
}

// crossSitePOST posts form to Kilt's path as a browser does from an application's page on
// another site: with Origin and Sec-Fetch-Site, and without Kilt's session cookie (SameSite=Lax
// keeps it off a cross-site POST). It follows no redirect.
func crossSitePOST(t *testing.T, k *kilt, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", k.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://127.0.0.1:9")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestCrossSitePOST: OpenID Connect Core 3.1.2.1 — the authorization endpoint MUST support
// GET and POST; RP-Initiated Logout 1.0 §2 — so MUST the logout endpoint. An application's
// form posts there from its own site, and the mux's cross-origin protection answered 403.
// Neither POST makes anything CSRF-able that a GET did not: an authorization creates a
// pending request only; a logout ends a session only with an id_token_hint of that very
// session, and without one shows Kilt's confirmation page. A cross-site POST carries no
// session cookie (SameSite=Lax), so the logout endpoint answers it with a 303 to itself as a
// GET, which the browser sends with the cookie. Kilt's own sign-out stays same-origin only.
func TestCrossSitePOST(t *testing.T) {
	ctx := context.Background()
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r, b, tok := signedIn(t, k, "a@mail.kz")
	sub := signedInAs(t, b, r)

	// The authorization endpoint: a pending request and the way to the sign-in.
	u, _ := url.Parse(r.authURL(newFlow()))
	resp := crossSitePOST(t, k, "/oauth/authorize", u.Query())
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, k.url+"/oauth/login?id=") {
		t.Errorf("POST /oauth/authorize from the application's page: %d, Location %q; want the way to the sign-in", resp.StatusCode, loc)
	}

	// The logout endpoint without a hint: a GET of itself, then the confirmation page; the
	// session stays.
	form := url.Values{"client_id": {r.conf.ClientID}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}}
	resp = crossSitePOST(t, k, "/oauth/end_session", form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/oauth/end_session?") {
		t.Fatalf("POST /oauth/end_session from the application's page: %d, Location %q; want a 303 to its GET", resp.StatusCode, loc)
	}
	if resp = authorize(t, b, k.url+loc); resp.StatusCode != 200 || resp.Request.URL.Path != "/logout" {
		t.Errorf("logout without a hint: %d at %s, want the confirmation page", resp.StatusCode, resp.Request.URL)
	}
	if signedInAs(t, b, r) != sub {
		t.Fatal("a cross-site POST to end_session without a hint signed the browser out")
	}

	// With the session's hint: the GET it leads to ends the session, back to the application.
	form.Set("id_token_hint", tok.Extra("id_token").(string))
	form.Set("state", "s1")
	resp = crossSitePOST(t, k, "/oauth/end_session", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /oauth/end_session with a hint: %d", resp.StatusCode)
	}
	resp, err := b.Get(k.url + resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:9/bye?state=s1" {
		t.Errorf("logout with the session's hint: %d, Location %q", resp.StatusCode, loc)
	}
	if signedInAs(t, b, r) != "" {
		t.Error("logout with the session's hint by POST: still signed in")
	}

	// A same-site application (a sibling host of the portal) posts with the cookie: the
	// logout happens at once.
	f := newFlow()
	tok, err = r.conf.Exchange(ctx, login(t, k, r, b, "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", k.url+"/oauth/end_session", strings.NewReader(url.Values{
		"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://127.0.0.1:9")
	req.Header.Set("Sec-Fetch-Site", "same-site")
	if resp, err = b.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:9/bye" || signedInAs(t, b, r) != "" {
		t.Errorf("same-site POST logout with the session's hint: %d, Location %q", resp.StatusCode, loc)
	}

	// Kilt's own sign-out is not an endpoint of the protocol: refused cross-site.
	if resp := crossSitePOST(t, k, "/logout", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST /logout: %d, want 403", resp.StatusCode)
	}
}

// TestTokenResponsesNotCached: RFC 6749 5.1 and OpenID Connect Core 3.1.3.3 — a response
// with tokens MUST carry "Cache-Control: no-store" and "Pragma: no-cache". op sent neither.
// The token endpoint (code, refresh, and its errors), introspection and userinfo (which
// answer what a token holds) all send both now.
func TestTokenResponsesNotCached(t *testing.T) {
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	f := newFlow()
	code := login(t, k, r, browser(t), "a@mail.kz", f)
	post := func(path string, v url.Values) *http.Response {
		req, _ := http.NewRequest("POST", k.url+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(r.conf.ClientID), url.QueryEscape(r.conf.ClientSecret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	check := func(what string, resp *http.Response, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("%s: %d, want %d", what, resp.StatusCode, status)
		}
		if cc, pragma := resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"); cc != "no-store" || pragma != "no-cache" {
			t.Errorf("%s: Cache-Control %q, Pragma %q; want no-store and no-cache", what, cc, pragma)
		}
	}
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.conf.RedirectURL}, "code_verifier": {f.verifier}}
	check("token (code)", post("/oauth/token", v), 200)
	check("token (the code again)", post("/oauth/token", v), 400)
	f = newFlow()
	t2, err := r.conf.Exchange(context.Background(), login(t, k, r, browser(t), "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	check("token (refresh)", post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t2.RefreshToken}}), 200)
	check("introspection", post("/oauth/introspect", url.Values{"token": {t2.AccessToken}}), 200)
	req, _ := http.NewRequest("GET", k.url+"/oauth/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+t2.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	check("userinfo", resp, 200)
}

// TestLogoutHintOfAnotherSession: RP-Initiated Logout 1.0 §2 — the OP "MUST ask the End-User"
// whether to log out "if the supplied ID Token does not belong to the current OP session with
// the RP". Kilt compared only the account (sub): an ID token of an earlier, ended session of
// the same account (kept in an application's logs, say) ended the current session on a plain
// cross-site GET, without asking. The hint's sid must now be the current session's; any other
// gets the confirmation page and the session stays.
func TestLogoutHintOfAnotherSession(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clock := &movedClock{}
		k := startKiltWith(t, dbURL, clock.now, nil)
		addAccount(t, k, "a@mail.kz")
		r, b, tok := signedIn(t, k, "a@mail.kz")
		oldHint := tok.Extra("id_token").(string)
		// A new sign-in of the same account: the old session ends, a new one starts.
		clock.advance(2 * time.Second)
		if resp := authorize(t, b, r.authURL(newFlow(), oauth2.SetAuthURLParam("prompt", "login"))); resp.Request.URL.Path != "/login" {
			t.Fatalf("prompt=login: at %s", resp.Request.URL)
		}
		answer(t, signIn(t, b, k, "a@mail.kz"))
		sub := signedInAs(t, b, r)

		resp, err := b.Get(k.url + "/oauth/end_session?" + url.Values{"id_token_hint": {oldHint},
			"post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Request.URL.Path != "/logout" {
			t.Errorf("a hint of an ended session: %d at %s, want the confirmation page", resp.StatusCode, resp.Request.URL)
		}
		if got := signedInAs(t, b, r); got != sub {
			t.Fatal("an id_token_hint of an ended session signed the current session out without asking")
		}
		// The current session's own hint ends it.
		f := newFlow()
		q := answer(t, authorize(t, b, r.authURL(f)))
		tok, err = r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		resp, err = b.Get(k.url + "/oauth/end_session?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
			"post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:9/bye" || signedInAs(t, b, r) != "" {
			t.Errorf("the current session's hint: %d, Location %q; want signed out and back to the application", resp.StatusCode, loc)
		}
	})
}

// TestPostLogoutPublicClient: SPEC §8 — a post-logout redirect only to a registered URI,
// byte for byte but for a public client's loopback port (RFC 8252). op's check, which Kilt
// relied on, ignored the scheme and the host among a native client's loopback URIs:
// https://localhost:4444/bye passed for a registered http://127.0.0.1:9/bye. Kilt's own rule
// (oidc.Client.PostLogoutAllowed) now decides, for the client named by client_id or by the
// hint's azp; anything else gets the error page, never a redirect, and nobody is signed out.
func TestPostLogoutPublicClient(t *testing.T) {
	ctx := context.Background()
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true, Public: true})
	b := browser(t)
	f := newFlow()
	tok, err := r.conf.Exchange(ctx, login(t, k, r, b, "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint := tok.Extra("id_token").(string)
	sub := signedInAs(t, b, r)
	step := &http.Client{Jar: b.Jar, CheckRedirect: noFollow.CheckRedirect}
	get := func(v url.Values) *http.Response {
		resp, err := step.Get(k.url + "/oauth/end_session?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, bad := range []string{"https://localhost:4444/bye", "http://localhost:9/bye", "https://127.0.0.1:9/bye",
		"http://127.0.0.2:9/bye", "http://127.0.0.1:9/bye/", "http://127.0.0.1:9/Bye"} {
		wantErrorPage(t, "hint, "+bad, get(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {bad}}), http.StatusBadRequest)
		wantErrorPage(t, "client_id, "+bad, get(url.Values{"client_id": {r.conf.ClientID}, "post_logout_redirect_uri": {bad}}), http.StatusBadRequest)
		if signedInAs(t, b, r) != sub {
			t.Fatalf("%s: signed out", bad)
		}
	}
	wantErrorPage(t, "unknown client", get(url.Values{"client_id": {"nobody"}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}}), http.StatusBadRequest)
	// Another loopback port of the registered URI: allowed (RFC 8252).
	resp := get(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"http://127.0.0.1:5555/bye"}})
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:5555/bye" {
		t.Errorf("another loopback port: %d, Location %q", resp.StatusCode, loc)
	}
}

// TestAuthorizeHintOfAnotherAccount: OpenID Connect Core 3.1.2.1 id_token_hint — "If the
// End-User identified by the ID Token is logged in or is logged in by the request, then the
// Authorization Server returns a positive response; otherwise, it SHOULD return an error,
// such as login_required." Kilt ignored the hint: a prompt=none check for account A answered
// a code for account B, whose session the browser had. The hint's subject is now kept with
// the pending authorization: another account's session answers prompt=none with
// login_required, and otherwise the sign-in form is shown; whoever then signs in answers
// (the citizen chose the account on the form).
func TestAuthorizeHintOfAnotherAccount(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clock := &movedClock{}
		k := startKiltWith(t, dbURL, clock.now, nil)
		addAccount(t, k, "a@mail.kz")
		if _, err := k.app.Accounts.Add(ctx, account.NewAccount{Email: "b@mail.kz", EmailVerified: true,
			Password: password, Confirm: password}); err != nil {
			t.Fatal(err)
		}
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		b := browser(t)
		f := newFlow()
		tokA, err := r.conf.Exchange(ctx, login(t, k, r, b, "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		hintA := tokA.Extra("id_token").(string)
		subA := signedInAs(t, b, r)
		// The same browser signs in as B.
		clock.advance(2 * time.Second)
		if resp := authorize(t, b, r.authURL(newFlow(), oauth2.SetAuthURLParam("prompt", "login"))); resp.Request.URL.Path != "/login" {
			t.Fatalf("prompt=login: at %s", resp.Request.URL)
		}
		answer(t, signIn(t, b, k, "b@mail.kz"))
		f = newFlow()
		q := answer(t, authorize(t, b, r.authURL(f, oauth2.SetAuthURLParam("prompt", "none"))))
		tokB, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		hintB := tokB.Extra("id_token").(string)
		clock.advance(time.Second)

		// A's hint while B is signed in: login_required without UI, the form with it.
		f = newFlow()
		q = answer(t, authorize(t, b, r.authURL(f, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hintA))))
		if q.Get("error") != "login_required" || q.Get("code") != "" || q.Get("state") != f.state || q.Get("iss") != k.url {
			t.Errorf("prompt=none with A's hint while B is signed in: %v; want login_required with state and iss", q)
		}
		f = newFlow()
		resp := authorize(t, b, r.authURL(f, oauth2.SetAuthURLParam("id_token_hint", hintA)))
		if resp.StatusCode != 200 || resp.Request.URL.Path != "/login" {
			t.Fatalf("A's hint while B is signed in: %d at %s; want the sign-in form", resp.StatusCode, resp.Request.URL)
		}
		q = answer(t, signIn(t, b, k, "a@mail.kz"))
		tok, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if idt, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil || idt.Subject != subA {
			t.Errorf("signed in as A on the form: sub %v (%v), want A's %s", idt, err, subA)
		}
		// The signed-in account's own hint answers at once; B's hint now that A is in does not.
		clock.advance(time.Second)
		if q := answer(t, authorize(t, b, r.authURL(newFlow(), oauth2.SetAuthURLParam("prompt", "none"),
			oauth2.SetAuthURLParam("id_token_hint", hintA)))); q.Get("code") == "" {
			t.Errorf("prompt=none with the signed-in account's hint: %v", q)
		}
		if q := answer(t, authorize(t, b, r.authURL(newFlow(), oauth2.SetAuthURLParam("prompt", "none"),
			oauth2.SetAuthURLParam("id_token_hint", hintB)))); q.Get("error") != "login_required" {
			t.Errorf("prompt=none with B's hint while A is signed in: %v", q)
		}
	})
}

// TestUserinfoBearerErrors: RFC 6750 3.1 and OpenID Connect Core 5.3.3 — a request without a
// token gets 401 with "WWW-Authenticate: Bearer", an invalid, revoked or expired one 401 with
// error="invalid_token". op answered a token no longer active with 403 access_denied and a
// missing one with 401, neither with WWW-Authenticate.
func TestUserinfoBearerErrors(t *testing.T) {
	ctx := context.Background()
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	f := newFlow()
	tok, err := r.conf.Exchange(ctx, login(t, k, r, browser(t), "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	userinfo := func(auth string, form url.Values) *http.Response {
		t.Helper()
		method, body := "GET", io.Reader(nil)
		if form != nil {
			method, body = "POST", strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, k.url+"/oauth/userinfo", body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := userinfo("Bearer "+tok.AccessToken, nil); resp.StatusCode != 200 {
		t.Fatalf("a live token: %d", resp.StatusCode)
	}
	if resp := userinfo("", url.Values{"access_token": {tok.AccessToken}}); resp.StatusCode != 200 {
		t.Fatalf("a live token in the body: %d", resp.StatusCode)
	}
	if resp := userinfo("", nil); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("no token: %d, WWW-Authenticate %q; want 401 and Bearer", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	revoke(t, k, r, tok.AccessToken)
	for name, auth := range map[string]string{"revoked": "Bearer " + tok.AccessToken, "malformed": "Bearer not-a-token",
		"a JWT": "Bearer " + tok.Extra("id_token").(string)} {
		resp := userinfo(auth, nil)
		if wa := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_token"`) {
			t.Errorf("%s token: %d, WWW-Authenticate %q; want 401 and Bearer error=\"invalid_token\"", name, resp.StatusCode, wa)
		}
	}
}

// TestSignOutForgetsPendingAuthorization: on a shared computer, a citizen who left an
// application's sign-in half done (at the consent page, say) and signed out left the pending
// authorization's cookie behind: the next person to sign in there within its 30 minutes was
// taken on into that application, and could grant it. Signing out (and out everywhere) now
// forgets the pending authorization.
func TestSignOutForgetsPendingAuthorization(t *testing.T) {
	ctx := context.Background()
	k := startKilt(t, kilttest.DatabaseURL(t, "sqlite"))
	addAccount(t, k, "a@mail.kz")
	if _, err := k.app.Accounts.Add(ctx, account.NewAccount{Email: "b@mail.kz", EmailVerified: true,
		Password: password, Confirm: password}); err != nil {
		t.Fatal(err)
	}
	r := newRP(t, k, oidc.NewClient{}) // third-party: the consent page
	for _, out := range []string{"/logout", "/logout/everywhere"} {
		b := browser(t)
		if resp := authorize(t, b, r.authURL(newFlow())); resp.Request.URL.Path != "/login" {
			t.Fatalf("authorize: at %s", resp.Request.URL)
		}
		if resp := signIn(t, b, k, "a@mail.kz"); resp.StatusCode != 200 || resp.Request.URL.Path != "/oauth/consent" {
			t.Fatalf("A signed in: %d at %s, want the consent page", resp.StatusCode, resp.Request.URL)
		}
		resp, err := b.PostForm(k.url+out, nil) // A leaves without deciding
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp = signIn(t, b, k, "b@mail.kz"); resp.StatusCode != 200 || resp.Request.URL.Path != "/account" {
			t.Errorf("after POST %s, the next person signed in: %d at %s, want their account page", out, resp.StatusCode, resp.Request.URL)
		}
	}
}
