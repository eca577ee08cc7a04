package main

import (
	"regexp"
	"strings"
	"testing"

	"kilt/internal/kilttest"
)

// TestClientCommands is the operator's path for applications: add (the secret shown once),
// list, show (never the secret), rotate-secret, remove; bad input is refused with exit 2 or
// a clear error and changes nothing; keys rotate.
func TestClientCommands(t *testing.T) {
	env := []string{"KILT_DATABASE_URL=" + kilttest.DatabaseURL(t, "sqlite"), "KILT_LOG_LEVEL=error"}
	out, errOut, code := runKilt(t, env, "", "client", "add", "--name", "Tax office", "--redirect-uri", "https://tax.example.kz/cb",
		"--post-logout-redirect-uri", "https://tax.example.kz/", "--scope", "openid", "--scope", "email")
	if code != 0 {
		t.Fatalf("client add: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`(?m)^client_id: (\S+)\nclient_secret: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("client add printed %q, want client_id and client_secret", out)
	}
	id, secret := m[1], m[2]

	out, _, code = runKilt(t, env, "", "client", "show", id)
	if code != 0 || !strings.Contains(out, "https://tax.example.kz/cb") || !strings.Contains(out, "openid email") ||
		strings.Contains(out, secret) {
		t.Errorf("client show: exit %d, %q (want the URIs and scopes, never the secret)", code, out)
	}
	out, _, code = runKilt(t, env, "", "client", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "Tax office") {
		t.Errorf("client list: exit %d, %q", code, out)
	}
	out, _, code = runKilt(t, env, "", "client", "rotate-secret", id)
	if code != 0 || !strings.HasPrefix(out, "client_secret: ") || strings.Contains(out, secret) {
		t.Errorf("rotate-secret: exit %d, %q (want a new secret)", code, out)
	}

	// Public clients get no secret; bad redirect URIs and unknown scopes are refused.
	out, _, code = runKilt(t, env, "", "client", "add", "--public", "--name", "Phone app", "--redirect-uri", "http://127.0.0.1/cb")
	if code != 0 || strings.Contains(out, "client_secret") || !strings.HasPrefix(out, "client_id: ") {
		t.Errorf("public client add: exit %d, %q", code, out)
	}
	for _, bad := range [][]string{
		{"--name", "X", "--redirect-uri", "http://evil.example/cb"},                   // plain http off loopback
		{"--name", "X", "--redirect-uri", "https://a.example/cb#frag"},                // a fragment
		{"--name", "X", "--redirect-uri", "/relative"},                                // not absolute
		{"--name", "X", "--redirect-uri", "https://a.example/cb", "--scope", "admin"}, // unknown scope
	} {
		_, errOut, code := runKilt(t, env, "", append([]string{"client", "add"}, bad...)...)
		if code != 1 || errOut == "" {
			t.Errorf("client add %v: exit %d, %q; want 1 and a message", bad, code, errOut)
		}
	}
	if _, _, code := runKilt(t, env, "", "client", "add", "--name", "X"); code != 2 {
		t.Errorf("client add without a redirect URI: exit %d, want 2", code)
	}
	out, _, _ = runKilt(t, env, "", "client", "list")
	if got := strings.Count(out, "\n"); got != 3 { // the header and two clients
		t.Errorf("after refused adds, list has %d lines:\n%s", got, out)
	}

	if _, _, code := runKilt(t, env, "", "client", "remove", id); code != 0 {
		t.Errorf("client remove: exit %d", code)
	}
	if _, errOut, code := runKilt(t, env, "", "client", "show", id); code != 1 || !strings.Contains(errOut, "no such client") {
		t.Errorf("show a removed client: exit %d, %q", code, errOut)
	}
	out, errOut, code = runKilt(t, env, "", "keys", "rotate", "--alg", "ES256")
	if code != 0 || !strings.Contains(out, "ES256") {
		t.Errorf("keys rotate: exit %d, %q %q", code, out, errOut)
	}
}
