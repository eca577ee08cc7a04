// Command portal-app is a small relying party of Kilt: a portal application that signs
// citizens in through Kilt with OpenID Connect (the authorization code flow with PKCE),
// built on maintained client libraries only (coreos/go-oidc and golang.org/x/oauth2).
//
// Beside `go run ./cmd/kilt serve --dev` (which registers this app as the first-party
// client "portal-app"), run `go run ./examples/portal-app` and open http://localhost:8090.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	issuer := flag.String("issuer", env("PORTAL_ISSUER", "http://localhost:8080"), "Kilt's base URL (the OpenID issuer)")
	listen := flag.String("listen", env("PORTAL_LISTEN", "localhost:8090"), "address to listen on")
	self := flag.String("url", env("PORTAL_URL", "http://localhost:8090"), "this app's public URL")
	clientID := flag.String("client-id", env("PORTAL_CLIENT_ID", "portal-app"), "client_id registered in Kilt")
	secret := flag.String("client-secret", env("PORTAL_CLIENT_SECRET", "portal-app-dev-secret-not-for-production"), "client_secret")
	flag.Parse()

	h, err := newApp(context.Background(), settings{issuer: *issuer, self: *self, clientID: *clientID, secret: *secret}, http.DefaultClient, 30)
	if err != nil {
		log.Fatalf("portal-app: %v (is `go run ./cmd/kilt serve --dev` running?)", err)
	}
	log.Printf("portal-app on %s, signing in through %s", *self, *issuer)
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

type settings struct{ issuer, self, clientID, secret string }

// newApp discovers the issuer (trying up to tries seconds: Kilt may still be starting) and
// returns the app's handler; client makes its requests to Kilt.
func newApp(ctx context.Context, cfg settings, client *http.Client, tries int) (http.Handler, error) {
	ctx = oidc.ClientContext(ctx, client)
	var provider *oidc.Provider
	var err error
	for i := 0; ; i++ {
		if provider, err = oidc.NewProvider(ctx, cfg.issuer); err == nil || i >= tries {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, err
	}
	app := &app{
		provider: provider, client: client,
		verifier: provider.Verifier(&oidc.Config{ClientID: cfg.clientID}),
		conf: oauth2.Config{ClientID: cfg.clientID, ClientSecret: cfg.secret, Endpoint: provider.Endpoint(),
			RedirectURL: cfg.self + "/callback", Scopes: []string{oidc.ScopeOpenID, "email", "phone"}},
		issuer: cfg.issuer, self: cfg.self,
		pending: map[string]pending{}, sessions: map[string]*user{},
	}
	if err := provider.Claims(&app.meta); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", app.home)
	mux.HandleFunc("GET /login", app.login)
	mux.HandleFunc("GET /callback", app.callback)
	mux.HandleFunc("POST /logout", app.logout)
	return mux, nil
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type app struct {
	provider *oidc.Provider
	client   *http.Client
	verifier *oidc.IDTokenVerifier
	conf     oauth2.Config
	issuer   string
	self     string
	meta     struct {
		EndSession string `json:"end_session_endpoint"`
	}

	mu       sync.Mutex
	pending  map[string]pending // by the state
	sessions map[string]*user   // by the session cookie
}

// pending is an authorization this app started: what it must find again in the answer.
type pending struct {
	verifier, nonce string
	at              time.Time
}

type user struct {
	Subject, Email, Phone string
	IDToken               string
	AuthTime              time.Time
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

const cookieName = "portal_session"

func (a *app) current(r *http.Request) *user {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[c.Value]
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portal app</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}button,a.button{font-size:1rem;padding:.5rem 1rem}</style></head>
<body><h1>Portal app</h1>
{{if .User}}
<p>Signed in through Kilt.</p>
<dl><dt>Subject (sub)</dt><dd><code>{{.User.Subject}}</code></dd>
{{with .User.Email}}<dt>E-mail</dt><dd>{{.}}</dd>{{end}}
{{with .User.Phone}}<dt>Phone</dt><dd>{{.}}</dd>{{end}}
<dt>Signed in at</dt><dd>{{.User.AuthTime.Format "2006-01-02 15:04:05"}}</dd></dl>
<form method="post" action="/logout"><button>Sign out</button></form>
{{else}}
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<p><a class="button" href="/login">Sign in with Kilt</a></p>
{{end}}
</body></html>`))

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	_ = page.Execute(w, map[string]any{"User": a.current(r), "Error": r.URL.Query().Get("error")})
}

// login starts the code flow: a fresh state, nonce and PKCE verifier, kept here.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	p := pending{verifier: oauth2.GenerateVerifier(), nonce: random(), at: time.Now()}
	state := random()
	a.mu.Lock()
	a.pending[state] = p
	a.mu.Unlock()
	http.Redirect(w, r, a.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(p.verifier), oidc.Nonce(p.nonce),
		oauth2.SetAuthURLParam("ui_locales", "kk ru en")), http.StatusFound)
}

// callback checks the answer (state, iss), redeems the code with the verifier, verifies
// the ID token (signature, issuer, audience, expiry, nonce) and reads userinfo.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.mu.Lock()
	p, ok := a.pending[q.Get("state")]
	delete(a.pending, q.Get("state"))
	a.mu.Unlock()
	fail := func(msg string) { http.Redirect(w, r, "/?error="+url.QueryEscape(msg), http.StatusFound) }
	switch {
	case !ok || time.Since(p.at) > 30*time.Minute:
		fail("unknown or expired state")
		return
	case q.Get("iss") != a.issuer: // RFC 9207: the answer comes from our issuer
		fail("wrong issuer in the answer")
		return
	case q.Get("error") != "":
		fail("Kilt answered: " + q.Get("error"))
		return
	}
	ctx := oidc.ClientContext(r.Context(), a.client)
	tok, err := a.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		fail("code exchange failed")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != p.nonce {
		fail("the ID token did not verify")
		return
	}
	ui, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		fail("userinfo failed")
		return
	}
	var claims struct {
		Phone    string `json:"phone_number"`
		AuthTime int64  `json:"auth_time"`
	}
	_ = ui.Claims(&claims)
	var idc struct {
		AuthTime int64 `json:"auth_time"`
	}
	_ = idt.Claims(&idc)
	u := &user{Subject: idt.Subject, Email: ui.Email, Phone: claims.Phone, IDToken: raw, AuthTime: time.Unix(idc.AuthTime, 0)}
	sid := random()
	a.mu.Lock()
	a.sessions[sid] = u
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusFound)
}

// logout ends this app's session and Kilt's (RP-initiated logout), back to this app.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	u := a.current(r)
	if c, err := r.Cookie(cookieName); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
	if u == nil || a.meta.EndSession == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v := url.Values{"id_token_hint": {u.IDToken}, "post_logout_redirect_uri": {a.self + "/"}}
	http.Redirect(w, r, a.meta.EndSession+"?"+v.Encode(), http.StatusSeeOther)
}
