package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"kilt/internal/account"
	"kilt/internal/config"
	"kilt/internal/server"
)

// TestPortalApp runs the README's demo in-process: Kilt as `kilt serve --dev` (which
// registers this app), the app, and a browser that signs in on Kilt's Kazakh page, lands
// back in the app signed in, and signs out of both.
func TestPortalApp(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"KILT_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "kilt.db"),
		"KILT_ARGON2_MEMORY": "8192", "KILT_ARGON2_TIME": "1"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg, err := config.Load(fs, []string{"--dev"}, func(k string) string { return env[k] }, config.Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL.String() != "http://localhost:8080" {
		t.Fatalf("--dev base URL %s; the demo client is registered for http://localhost:8080", cfg.BaseURL)
	}
	kilt, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer kilt.Close()
	const pw = "Tulpar-Sunkar-77"
	if _, err := kilt.Accounts.Add(ctx, account.NewAccount{Email: "aigerim@example.kz", EmailVerified: true, Password: pw, Confirm: pw}); err != nil {
		t.Fatal(err)
	}
	kiltSrv := httptest.NewServer(kilt.Handler(nil))
	defer kiltSrv.Close()
	var portal http.Handler
	portalSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { portal.ServeHTTP(w, r) }))
	defer portalSrv.Close()

	// localhost:8080 and localhost:8090 reach the two test servers.
	hosts := map[string]string{"localhost:8080": kiltSrv.Listener.Addr().String(), "localhost:8090": portalSrv.Listener.Addr().String()}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := hosts[addr]; ok {
			addr = to
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	portal, err = newApp(ctx, settings{issuer: "http://localhost:8080", self: "http://localhost:8090", clientID: "portal-app",
		secret: "portal-app-dev-secret-not-for-production"}, &http.Client{Transport: tr}, 0)
	if err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: tr, Jar: jar}
	read := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := read(browser.Get("http://localhost:8090/login"))
	if resp.Request.URL.Host != "localhost:8080" || resp.Request.URL.Path != "/login" ||
		!strings.Contains(body, "«Portal demo app» қолданбасына өту үшін кіріңіз") || !strings.Contains(body, "Құпия сөзді ұмыттыңыз ба?") {
		t.Fatalf("sign-in page at %s does not name the app in Kazakh:\n%s", resp.Request.URL, body)
	}
	resp, body = read(browser.PostForm("http://localhost:8080/login", url.Values{"identifier": {"aigerim@example.kz"}, "password": {pw}}))
	if resp.Request.URL.String() != "http://localhost:8090/" || !strings.Contains(body, "Signed in through Kilt") ||
		!strings.Contains(body, "aigerim@example.kz") {
		t.Fatalf("after signing in: %s\n%s", resp.Request.URL, body)
	}
	resp, body = read(browser.PostForm("http://localhost:8090/logout", nil))
	if resp.Request.URL.String() != "http://localhost:8090/" || !strings.Contains(body, "Sign in with Kilt") {
		t.Fatalf("after signing out: %s\n%s", resp.Request.URL, body)
	}
	// Kilt's session ended too: signing in again asks for the password.
	resp, _ = read(browser.Get("http://localhost:8090/login"))
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Host != "localhost:8080" {
		t.Errorf("after logout the sign-in went to %s, want Kilt's form", resp.Request.URL)
	}
}
