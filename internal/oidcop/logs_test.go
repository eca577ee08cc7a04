package oidcop_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"kilt/internal/kilttest"
	"kilt/internal/oidc"
	"kilt/internal/server"
)

// lockedBuffer is a log destination written by concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLibraryLogsNoSecret: the provider library logs through slog's default, made Kilt's
// logger by the serving process (server.DefaultLogger: with the request id), and neither it
// nor Kilt logs a code, token, verifier, client secret or password — captured at debug level
// during a whole code flow with refresh, userinfo, introspection, revocation and the
// refusals that make the library log (a code used twice, a rotated refresh token, a wrong
// verifier).
func TestLibraryLogsNoSecret(t *testing.T) {
	var out lockedBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	old := slog.Default()
	slog.SetDefault(server.DefaultLogger(log))
	t.Cleanup(func() { slog.SetDefault(old) })

	ctx := context.Background()
	dbURL := kilttest.DatabaseURL(t, "sqlite")
	k := startKilt(t, dbURL)
	k.handler.Store(openAppLog(t, dbURL, k.url, k.env, log).Handler(nil))
	addAccount(t, k, "a@mail.kz")
	r := newRP(t, k, oidc.NewClient{FirstParty: true})
	secrets := []string{password, r.conf.ClientSecret}

	f := newFlow()
	code := login(t, k, r, browser(t), "a@mail.kz", f)
	tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, code, f.verifier, tok.AccessToken, tok.RefreshToken, tok.Extra("id_token").(string))
	if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatal(err)
	}
	introspect(t, k, r, tok.AccessToken)
	next := refresh(t, r, tok.RefreshToken)
	if next == nil {
		t.Fatal("refresh refused")
	}
	secrets = append(secrets, next.AccessToken, next.RefreshToken)
	if refresh(t, r, tok.RefreshToken) != nil { // rotated: refused, the family revoked
		t.Fatal("a rotated refresh token refreshed")
	}
	revoke(t, k, r, next.AccessToken)
	if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); err == nil {
		t.Fatal("a code redeemed twice")
	}
	f2 := newFlow()
	code2 := login(t, k, r, browser(t), "a@mail.kz", f2)
	secrets = append(secrets, code2, f2.verifier)
	if _, err := r.conf.Exchange(ctx, code2, oauth2.VerifierOption(f.verifier)); err == nil {
		t.Fatal("a wrong verifier was accepted")
	}
	// An unregistered redirect URI: the library logs the authorization request it refuses.
	resp, err := http.Get(k.url + "/oauth/authorize?" + url.Values{"client_id": {r.conf.ClientID}, "response_type": {"code"},
		"redirect_uri": {"http://127.0.0.1:9/elsewhere"}, "scope": {"openid"}, "code_challenge": {"x"},
		"code_challenge_method": {"S256"}, "state": {"st"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	logged := out.String()
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret to look for")
		}
		// The whole value, and a prefix long enough to be a leak of it.
		if strings.Contains(logged, s) || strings.Contains(logged, s[:min(len(s), 12)]) {
			t.Errorf("the log holds a secret (%d characters starting %q)", len(s), s[:4])
		}
	}
	// The library's lines went through Kilt's logger, with the request id.
	var library int
	for _, line := range strings.Split(logged, "\n") {
		if strings.Contains(line, "oidc_error") {
			library++
			if !strings.Contains(line, "request_id=") {
				t.Errorf("a library line without the request id: %s", line)
			}
		}
	}
	if library == 0 {
		t.Errorf("no line of the provider library in Kilt's log:\n%s", logged)
	}
}
