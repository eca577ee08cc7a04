// Package api is Kilt's JSON API under /api/v1: JSON in and out, errors as
// {"error":{"code","message","details"}} with the message in the request's language, the
// status from the error's kind. Handlers return an error; one adapter renders it.
//
// Clients authenticate with the session cookie that POST /sessions sets, or with the same
// token as "Authorization: Bearer". State changes are POST or DELETE, checked for cross-origin
// requests at the mux (http.CrossOriginProtection), so no CSRF tokens are needed.
package api

import (
	"net/http"
	"strings"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/desk"
	"kilt/internal/httpx"
	"kilt/internal/password"
	"kilt/internal/recovery"
	"kilt/internal/session"
)

// Config is what the API needs to know beyond its services.
type Config struct {
	// CookieName is __Host-kilt when served over TLS, kilt otherwise (plain http in --dev).
	CookieName   string
	SecureCookie bool
	DefaultLang  string
}

// API serves /api/v1.
type API struct {
	accounts *account.Service
	sessions *session.Service
	recovery *recovery.Service
	// registrations registers new accounts.
	registrations *account.Registrations
	desk          *desk.Service // nil: POST /recovery/desk answers 404
	channels      *account.Channels
	cfg           Config
	errors        *httpx.Renderer
}

// New returns the API.
func New(accounts *account.Service, sessions *session.Service, rec *recovery.Service, reg *account.Registrations, cfg Config) *API {
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = "kk"
	}
	return &API{accounts: accounts, sessions: sessions, recovery: rec, registrations: reg, cfg: cfg,
		errors: &httpx.Renderer{DefaultLang: cfg.DefaultLang, Policy: accounts.Policy()}}
}

// handlerFunc is an API handler: it writes a success response itself, or returns an error
// for the adapter to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc to http.Handler, rendering its error.
func (a *API) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := fn(w, r); err != nil {
			a.renderError(w, r, err)
		}
	})
}

// renderError writes err as the JSON error of its kind (httpx.Renderer). Unexpected errors
// are logged once with the request id and shown generically.
func (a *API) renderError(w http.ResponseWriter, r *http.Request, err error) {
	a.errors.Error(w, r, err)
}

// message is the catalog text of code, with the policy's numbers filled in.
func (a *API) message(lang, code string) string { return a.errors.Message(lang, code) }

// lang is the request's language: ?lang=, then the language cookie, then Accept-Language.
func (a *API) lang(r *http.Request) string { return a.errors.Lang(r) }

func writeJSON(w http.ResponseWriter, status int, v any) { httpx.WriteJSON(w, status, v) }

// NotFound renders the API's 404 for unknown /api paths.
func (a *API) NotFound() http.Handler {
	return a.handle(func(w http.ResponseWriter, r *http.Request) error {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	})
}

// RenderErrorStatus renders err as the API's JSON error with the given status, for callers
// outside the API's handlers (middleware answering an /api request: panics, cross-origin
// refusals, unknown paths and methods).
func (a *API) RenderErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	w.Header().Set("Cache-Control", "no-store")
	a.errors.ErrorStatus(w, r, status, err)
}

// token returns the session token of the request: the bearer token, else the cookie.
func (a *API) token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(a.cfg.CookieName); err == nil {
		return c.Value
	}
	return ""
}

// current returns the request's live session and its account (session.Service.Current):
// 401 when there is none, 403 account_locked when the account is locked.
func (a *API) current(r *http.Request) (*session.Session, *account.Account, error) {
	return a.sessions.Current(r.Context(), a.token(r))
}

// policyJSON is the password policy as GET /password-policy shows it: the rules each with
// its message in the request's language, so a page can show them as a live checklist.
type policyJSON struct {
	password.Description
	Lang  string     `json:"lang"`
	Rules []ruleJSON `json:"rules"`
}

type ruleJSON struct {
	password.Rule
	Message string `json:"message"`
}

// passwordPolicy serves GET /password-policy.
func (a *API) passwordPolicy(w http.ResponseWriter, r *http.Request) error {
	lang := a.lang(r)
	d := a.accounts.Policy().Describe()
	out := policyJSON{Description: d, Lang: lang, Rules: make([]ruleJSON, len(d.Rules))}
	for i, rule := range d.Rules {
		out.Rules[i] = ruleJSON{Rule: rule, Message: a.message(lang, rule.Code)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// client describes the request's client for the services: its IP (as the middleware
// found it), user agent and language.
func (a *API) client(r *http.Request) account.Client {
	c := a.errors.Client(r)
	return account.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}
}

// sessionClient describes the request's client for the session service.
func (a *API) sessionClient(r *http.Request) session.Client {
	c := a.client(r)
	return session.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}
}
