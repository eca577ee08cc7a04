package browser

import (
	"context"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"kilt/internal/config"
	"kilt/internal/kilttest"
	"kilt/internal/mail/smtptest"
	"kilt/internal/oidc"
	"kilt/internal/server"
)

// TestSingleSignOn is the manual's path through an application of the portal, in Chromium
// with JavaScript on and off: the application sends the citizen to Kilt's sign-in page (in
// Kazakh, naming the application), «Құпия сөзді ұмыттыңыз ба?», the SMS code, «Сақтау»,
// signing in with the new password, and the citizen is back in the application, signed in.
// The browser enforces the pages' Content-Security-Policy (form-action included) all along.
func TestSingleSignOn(t *testing.T) {
	bctx := startBrowser(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := startSSOKilt(t)
			rp := startRP(t, e)
			addAccount(t, e, "", "+77011234567", goodPassword)
			b := newTab(t, bctx, e, m.js)

			status := b.load("opening the application", chromedp.Navigate(rp+"/login"))
			b.expect("the application's sign-in", status, 200, "/login?lang=kk")
			b.contains("main", kk("sso_continue_to", "name", "Portal app"))
			b.expect("«"+kk("link_forgot")+"»", b.follow(kk("link_forgot")), 200, "/recovery")
			b.expect("the phone tab", b.clickTo(`nav.tabs a[href="/recovery?by=phone"]`), 200, "/recovery?by=phone")
			b.fill("phone", "8 701 123 45 67")
			b.expect("«Кодты жіберу»", b.press("Кодты жіберу"), 200, "/recovery/phone")
			b.fill("code", e.LatestCode(t, "+77011234567"))
			b.expect("«Жіберу»", b.press("Жіберу"), 200, "/recovery/reset")
			b.fill("password", newPassword)
			b.fill("password_confirm", newPassword)
			b.expect("«Сақтау»", b.press("Сақтау"), 200, "/login")
			b.contains("main", kk("sso_continue_to", "name", "Portal app"))
			b.fill("identifier", "+7 701 123 45 67")
			b.fill("password", newPassword)
			status = b.press(kk("button_login"))
			href := evaluate[string](b, `location.href`)
			if status != 200 || !strings.HasPrefix(href, rp+"/callback") {
				t.Fatalf("after signing in: %d at %s, want the application", status, href)
			}
			if got := b.text("#status"); got != "signed in" {
				t.Fatalf("the application shows %q, want signed in", got)
			}
		})
	}
}

// startSSOKilt runs a Kilt whose base URL is its own test server's (the issuer the
// application discovers), with the real clock, a real SMTP server and SMS gateway.
func startSSOKilt(t *testing.T) *kilttest.Env {
	t.Helper()
	e := &kilttest.Env{DatabaseURL: kilttest.DatabaseURL(t, "sqlite"), Log: &kilttest.Log{},
		Mail: smtptest.Start(t, smtptest.Options{Security: smtptest.Plain}), SMS: kilttest.StartSMSGateway(t)}
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	e.URL = "http://" + srv.Listener.Addr().String()
	vars := map[string]string{"KILT_BASE_URL": e.URL, "KILT_DATABASE_URL": e.DatabaseURL, "KILT_ARGON2_MEMORY": "8192",
		"KILT_ARGON2_TIME": "1", "KILT_SMTP_URL": "smtp://" + e.Mail.Addr() + "?starttls=false",
		"KILT_SMS_PROVIDER": "webhook", "KILT_SMS_WEBHOOK_URL": e.SMS.URL}
	fs := flag.NewFlagSet("sso", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := config.Load(fs, nil, func(k string) string { return vars[k] }, config.Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	app, err := server.Open(context.Background(), cfg, slog.New(slog.NewJSONHandler(e.Log, nil)), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e.App, h = app, app.Handler(nil)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	return e
}

// startRP runs a relying party on coreos/go-oidc and x/oauth2, registered first-party.
func startRP(t *testing.T, e *kilttest.Env) string {
	t.Helper()
	var mu sync.Mutex
	pending := map[string][2]string{} // state → verifier, nonce
	var conf oauth2.Config
	var verifier *gooidc.IDTokenVerifier
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		v, n, s := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		mu.Lock()
		pending[s] = [2]string{v, n}
		mu.Unlock()
		http.Redirect(w, r, conf.AuthCodeURL(s, oauth2.S256ChallengeOption(v), gooidc.Nonce(n),
			oauth2.SetAuthURLParam("ui_locales", "kk")), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		p, ok := pending[q.Get("state")]
		delete(pending, q.Get("state"))
		mu.Unlock()
		status := "failed"
		if ok && q.Get("iss") == e.URL {
			if tok, err := conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p[0])); err == nil {
				raw, _ := tok.Extra("id_token").(string)
				if idt, err := verifier.Verify(r.Context(), raw); err == nil && idt.Nonce == p[1] {
					status = "signed in"
				}
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Portal app</title><main><p id="status">%s</p></main></html>`, html.EscapeString(status))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, secret, err := e.App.OIDC.AddClient(context.Background(), oidc.NewClient{Name: "Portal app",
		RedirectURIs: []string{srv.URL + "/callback"}, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := gooidc.NewProvider(context.Background(), e.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf = oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: srv.URL + "/callback",
		Scopes: []string{gooidc.ScopeOpenID, "phone"}}
	verifier = p.Verifier(&gooidc.Config{ClientID: c.ID})
	return srv.URL
}
