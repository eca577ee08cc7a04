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

	"golang.org/x/oauth2"

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
