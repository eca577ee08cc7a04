package oidcop_test

// What keeps a code and the tokens issued from it alive: judged by when each was issued and
// by its session, never by the session's sign-in time (auth_time).

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"kilt/internal/account"
	"kilt/internal/oidc"
)

// TestKeptSessionSignsInAfterPasswordChange: a password change keeps the session that made
// it (docs/security.md). That session signs in to applications afterwards as before — the
// code it answers is redeemed, the tokens issued from it answer userinfo and refresh, and
// the ID token's auth_time is still the session's sign-in — while a code it answered before
// the change dies with the account's tokens. (Before: every code the kept session answered
// was refused with invalid_grant, since the code's liveness was judged by its auth_time, the
// session's creation, which is earlier than the change.)
func TestKeptSessionSignsInAfterPasswordChange(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clock := &movedClock{}
		k := startKiltWith(t, dbURL, clock.now, nil)
		acct := addAccount(t, k, "a@mail.kz")
		r, b, tok := signedIn(t, k, "a@mail.kz")
		signedIn := authTime(t, r, tok)
		sess := tokenSessions(t, k, tok)
		clock.advance(time.Second)
		before := newFlow()
		codeBefore := answer(t, authorize(t, b, r.authURL(before))).Get("code")
		if codeBefore == "" {
			t.Fatal("no code before the change")
		}
		clock.advance(time.Second)
		if err := k.app.Accounts.ChangePassword(ctx, acct.ID, sess, password, "Zhana-Kupiya-2026!", "Zhana-Kupiya-2026!",
			account.Client{Lang: "en"}); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Second)
		if _, err := r.conf.Exchange(ctx, codeBefore, oauth2.VerifierOption(before.verifier)); err == nil {
			t.Error("a code answered before the password change was redeemed after it")
		}
		for _, prompt := range []string{"", "none"} {
			f := newFlow()
			var opts []oauth2.AuthCodeOption
			if prompt != "" {
				opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt))
			}
			q := answer(t, authorize(t, b, r.authURL(f, opts...)))
			if q.Get("code") == "" {
				t.Fatalf("prompt=%q: the kept session did not answer with a code: %v", prompt, q)
			}
			tok, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
			if err != nil {
				t.Errorf("prompt=%q: a code the kept session answered after the change is refused: %v", prompt, err)
				continue
			}
			if got := authTime(t, r, tok); !got.Equal(signedIn) {
				t.Errorf("prompt=%q: auth_time %v, want the session's sign-in %v", prompt, got, signedIn)
			}
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
				t.Errorf("prompt=%q: userinfo refused the access token issued after the change: %v", prompt, err)
			}
			clock.advance(time.Second)
			next := refresh(t, r, tok.RefreshToken)
			if next == nil {
				t.Errorf("prompt=%q: the refresh token issued after the change is refused", prompt)
				continue
			}
			if !introspect(t, k, r, next.AccessToken) {
				t.Errorf("prompt=%q: the refreshed access token is not active", prompt)
			}
			if got := authTime(t, r, next); !got.Equal(signedIn) {
				t.Errorf("prompt=%q: refreshed auth_time %v, want the session's sign-in %v", prompt, got, signedIn)
			}
		}
	})
}

// authTime is the auth_time of tok's ID token.
func authTime(t *testing.T, r *rp, tok *oauth2.Token) time.Time {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&c); err != nil || c.AuthTime == 0 {
		t.Fatalf("auth_time: %d, %v", c.AuthTime, err)
	}
	return time.Unix(c.AuthTime, 0).UTC()
}

// TestCodeDiesWithTheLock: an operator's lock ends every token of the account for good, and
// so every code answered before it: a code answered just before a lock is refused after an
// unlock within its 60 seconds. (Before: the code was redeemed after the unlock, its tokens live; nothing ended
// codes, only the tokens already issued.)
func TestCodeDiesWithTheLock(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clock := &movedClock{}
		k := startKiltWith(t, dbURL, clock.now, nil)
		acct := addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		b := browser(t)
		f := newFlow()
		if _, err := r.conf.Exchange(ctx, login(t, k, r, b, "a@mail.kz", f), oauth2.VerifierOption(f.verifier)); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Second)
		before := newFlow()
		code := answer(t, authorize(t, b, r.authURL(before))).Get("code")
		if code == "" {
			t.Fatal("no code before the lock")
		}
		clock.advance(time.Second)
		if err := k.app.Sessions.SetLocked(ctx, acct.ID, true, "test"); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Second)
		if err := k.app.Sessions.SetLocked(ctx, acct.ID, false, "test"); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Second)
		if tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(before.verifier)); err == nil {
			t.Errorf("a code answered before the lock was redeemed after the unlock (access token active: %v)",
				introspect(t, k, r, tok.AccessToken))
		}
	})
}
