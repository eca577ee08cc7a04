package oidcop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"kilt/internal/kilttest"
	"kilt/internal/oidc"
)

// TestLogoutHintAfterKeyRotation: after `kilt keys rotate`, an application's id_token_hint
// signed with the retired key still ends the citizen's live session and redirects to its
// post-logout URI once that key has left the JWKS (RP-Initiated Logout 1.0 §2: the OP SHOULD
// accept ID tokens of current or recent sessions even when expired): hints are verified with
// the keys retired within a session's lifetime, while the JWKS publishes a retired key only
// for KeyGrace. (Before: 400 "id_token_hint invalid" after KeyGrace, the session not ended.)
func TestLogoutHintAfterKeyRotation(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clock := &movedClock{}
		k := startKiltWith(t, dbURL, clock.now, nil)
		addAccount(t, k, "a@mail.kz")
		r, b, tok := signedIn(t, k, "a@mail.kz")
		hint := tok.Extra("id_token").(string)
		old, err := k.app.OIDC.SigningKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.app.OIDC.RotateKeys(ctx, ""); err != nil {
			t.Fatal(err)
		}
		// The citizen keeps using Kilt (the session stays live) past KeyGrace.
		for passed := time.Duration(0); passed <= oidc.KeyGrace; passed += 13 * time.Minute {
			clock.advance(13 * time.Minute)
			if q := answer(t, authorize(t, b, r.authURL(newFlow()))); q.Get("code") == "" {
				t.Fatalf("session not live: %v", q)
			}
		}
		if published(t, k)[old.ID] {
			t.Errorf("the retired key %s is still in the JWKS after KeyGrace", old.ID)
		}
		nf := *b
		nf.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := nf.Get(k.url + "/oauth/end_session?" + url.Values{"id_token_hint": {hint},
			"post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"s1"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "http://127.0.0.1:9/bye?state=s1" {
			t.Errorf("RP-initiated logout with a hint signed before the rotation: %d, Location %q", resp.StatusCode, loc)
		}
		if resp := authorize(t, b, r.authURL(newFlow())); resp.StatusCode != 200 || !strings.HasSuffix(resp.Request.URL.Path, "/login") {
			t.Errorf("after the logout: %d at %s, want the sign-in form", resp.StatusCode, resp.Request.URL)
		}
	})
}

// published is the set of key ids of Kilt's JWKS.
func published(t *testing.T, k *kilt) map[string]bool {
	t.Helper()
	resp, err := http.Get(k.url + "/oauth/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, key := range jwks.Keys {
		out[key.KID] = true
	}
	return out
}

// TestLogoutTokenOnKiltsClock: a logout token's iat and exp are Kilt's clock's (the one every
// other time of Kilt comes from), its lifetime oidc.LogoutTokenLifetime — short, since each
// delivery attempt signs a new one — and no longer than its key stays published after a
// rotation. (Before: iat and exp came from the machine's clock, and the token lived 24 hours
// while its key left the JWKS 25 minutes after a rotation.)
func TestLogoutTokenOnKiltsClock(t *testing.T) {
	ctx := context.Background()
	clock := &movedClock{}
	clock.advance(3 * time.Hour)
	k := startKiltWith(t, kilttest.DatabaseURL(t, "sqlite"), clock.now, nil)
	sink := newLogoutSink(t)
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true, BackchannelLogoutURI: sink.srv.URL + "/backchannel"})
	b := browser(t)
	f := newFlow()
	if _, err := r.conf.Exchange(ctx, login(t, k, r, b, "a@mail.kz", f), oauth2.VerifierOption(f.verifier)); err != nil {
		t.Fatal(err)
	}
	resp, err := b.PostForm(k.url+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := k.app.Dispatcher.Step(ctx); err != nil {
		t.Fatal(err)
	}
	tokens := sink.take()
	if len(tokens) != 1 {
		t.Fatalf("%d logout tokens, want 1", len(tokens))
	}
	parts := strings.Split(tokens[0], ".")
	if len(parts) != 3 {
		t.Fatalf("logout token %q is not a JWS", tokens[0])
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		IAT int64 `json:"iat"`
		EXP int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	now := clock.now()
	if iat := time.Unix(c.IAT, 0); iat.Before(now.Add(-time.Minute)) || iat.After(now.Add(time.Second)) {
		t.Errorf("logout token iat %v, want Kilt's clock's %v", iat, now)
	}
	if got := time.Duration(c.EXP-c.IAT) * time.Second; got != oidc.LogoutTokenLifetime {
		t.Errorf("logout token lives %v, want %v", got, oidc.LogoutTokenLifetime)
	}
	if oidc.KeyCacheTTL+oidc.LogoutTokenLifetime >= oidc.KeyGrace {
		t.Error("a logout token signed with a retired key could outlive the key's publication")
	}
}
