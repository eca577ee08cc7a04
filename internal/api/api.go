// Package api is Kilt's JSON API under /api/v1: JSON in and out, errors as
// {"error":{"code","message","details"}} with the message in the request's language, the
// status from the error's kind. Handlers return an error; one adapter renders it.
//
// Clients authenticate with the session cookie that POST /sessions sets, or with the same
// token as "Authorization: Bearer". State changes are POST or DELETE, checked for cross-origin
// requests at the mux (http.CrossOriginProtection), so no CSRF tokens are needed.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/desk"
	"kilt/internal/httpx"
	"kilt/internal/i18n"
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
	cfg           Config
}

// New returns the API.
func New(accounts *account.Service, sessions *session.Service, rec *recovery.Service, reg *account.Registrations, cfg Config) *API {
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = "kk"
	}
	return &API{accounts: accounts, sessions: sessions, recovery: rec, registrations: reg, cfg: cfg}
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

// errorBody is the JSON shape of every error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// violation is one broken password rule in details.violations.
type violation struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// renderError writes err as the JSON error of its kind. Unexpected errors are logged once
// with the request id and shown generically.
func (a *API) renderError(w http.ResponseWriter, r *http.Request, err error) {
	a.renderErrorStatus(w, r, httpx.Status(err), err)
}

// renderErrorStatus is renderError with the status chosen by the caller.
func (a *API) renderErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	lang := a.lang(r)
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal {
		httpx.InfoFrom(r.Context()).Logger.Error("request failed", "err", err)
		e = kilt.E(kilt.KindInternal, kilt.CodeInternal)
		status = http.StatusInternalServerError
	}
	httpx.SetRetryAfter(w, e)
	body := errorBody{Error: errorDetail{Code: e.Code, Message: a.message(lang, e.Code)}}
	if len(e.Details) > 0 {
		body.Error.Details = make(map[string]any, len(e.Details))
		for k, v := range e.Details {
			if codes, ok := v.([]string); ok && k == "violations" {
				vs := make([]violation, len(codes))
				for i, c := range codes {
					vs[i] = violation{Code: c, Message: a.message(lang, c)}
				}
				v = vs
			}
			body.Error.Details[k] = v
		}
	}
	writeJSON(w, status, body)
}

// message is the catalog text of code, with the policy's numbers filled in.
func (a *API) message(lang, code string) string {
	p := a.accounts.Policy()
	return i18n.T(lang, code, "min", p.MinLength, "max", p.MaxLength, "history", p.HistorySize)
}

// lang is the request's language: ?lang=, then the language cookie, then Accept-Language.
func (a *API) lang(r *http.Request) string {
	explicit := []string{r.URL.Query().Get("lang")}
	if c, err := r.Cookie("lang"); err == nil {
		explicit = append(explicit, c.Value)
	}
	return i18n.Negotiate(explicit, r.Header.Get("Accept-Language"), a.cfg.DefaultLang)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

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
	a.renderErrorStatus(w, r, status, err)
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

// current returns the request's live session and its account, or 401.
func (a *API) current(r *http.Request) (*session.Session, *account.Account, error) {
	sess, err := a.sessions.Authenticate(r.Context(), a.token(r))
	if err != nil {
		return nil, nil, err
	}
	acct, err := a.accounts.ByID(r.Context(), sess.AccountID)
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, nil, kilt.E(kilt.KindUnauthorized, session.CodeUnauthorized)
	}
	if err != nil {
		return nil, nil, err
	}
	if acct.Locked {
		// An operator's lock takes effect on sessions already open, too.
		return nil, nil, kilt.E(kilt.KindForbidden, account.CodeAccountLocked)
	}
	return sess, acct, nil
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
	return account.Client{IP: httpx.InfoFrom(r.Context()).ClientIP, UserAgent: r.UserAgent(), Lang: a.lang(r)}
}

// record adds an event about the account to the audit trail, with the request's client.
func (a *API) record(r *http.Request, typ string, accountID int64, detail string) error {
	c := a.client(r)
	return a.accounts.Record(r.Context(), audit.Event{Type: typ, AccountID: accountID, IP: c.IP, UserAgent: c.UserAgent, Detail: detail})
}
