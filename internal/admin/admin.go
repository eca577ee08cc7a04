// Package admin is the service-centre console: pages under /admin and a JSON
// API under /admin/api/v1, served only on their own listener (KILT_ADMIN_LISTEN), never on
// the citizens'. Both call the desk service (internal/desk) and nothing else.
//
// Operators sign in with a password and a TOTP code; the first sign-in enrols the second
// factor (a QR code this package draws itself as inline SVG, and the base32 key) and shows
// ten backup codes once. Pages hold the console session in an HttpOnly, SameSite=Strict
// cookie; API clients send the token of POST /admin/api/v1/sessions as a bearer token.
// Every state change is a POST (or PUT), checked for cross-origin requests at the mux
// (http.CrossOriginProtection), as on the citizens' listener.
//
// Look-ups are by exact identifier, limited per operator, and an account's page is only
// ever the answer to a look-up or to an action on it (a POST): there is no GET by id that
// would get round the limit. Secrets — passwords, TOTP and backup codes, slip codes — are
// never written back into a form, and the logs hold paths only.
package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kilt"
	"kilt/internal/desk"
	"kilt/internal/httpx"
	"kilt/internal/i18n"
)

// Config is what the console needs to know beyond the desk.
type Config struct {
	// CookieName is the console session's cookie: __Host-kilt-console over TLS, else
	// kilt-console (never the citizens' cookie name).
	CookieName   string
	SecureCookie bool
	DefaultLang  string
	// StaticPath is the content-hashed path of the citizen pages' static files (app.css),
	// which the console's pages share; the server mounts them on the console's listener.
	StaticPath func(name string) (string, error)
	// RecoveryDeskURL is where the citizen enters a slip code (BASE_URL/recovery/desk),
	// printed on the slip.
	RecoveryDeskURL string
	// Location is the time zone times are shown in; nil: UTC.
	Location *time.Location
	// Clock is the desk's clock; nil: time.Now.
	Clock kilt.Clock
}

// Console serves the console.
type Console struct {
	desk      *desk.Service
	cfg       Config
	templates map[string]*templateSet
}

// New returns the console. It panics if its embedded templates do not parse.
func New(d *desk.Service, cfg Config) *Console {
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = "kk"
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "kilt-console"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.StaticPath == nil {
		cfg.StaticPath = func(string) (string, error) { return "", errors.New("admin: no static files") }
	}
	c := &Console{desk: d, cfg: cfg}
	c.templates = c.mustParseTemplates()
	return c
}

// handlerFunc writes its response, or returns an error for the surface to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Routes registers the console on mux.
func (c *Console) Routes(mux *http.ServeMux) {
	api := c.handleAPI
	mux.Handle("POST /admin/api/v1/sessions", api(c.apiSignIn))
	mux.Handle("GET /admin/api/v1/accounts", api(c.authed(c.apiLookup)))
	mux.Handle("POST /admin/api/v1/accounts/{id}/lock", api(c.authed(c.apiAct(desk.ActionLock))))
	mux.Handle("POST /admin/api/v1/accounts/{id}/unlock", api(c.authed(c.apiAct(desk.ActionUnlock))))
	mux.Handle("POST /admin/api/v1/accounts/{id}/revoke-sessions", api(c.authed(c.apiAct(desk.ActionRevokeSessions))))
	mux.Handle("POST /admin/api/v1/accounts/{id}/recovery-code", api(c.authed(c.apiRecoveryCode)))
	mux.Handle("PUT /admin/api/v1/accounts/{id}/channels/{kind}", api(c.authed(c.apiSetChannel)))
	mux.Handle("GET /admin/api/v1/audit", api(c.authed(c.apiAudit)))
	mux.Handle("/admin/api/", api(func(w http.ResponseWriter, r *http.Request) error {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}))

	page := c.handlePage
	mux.Handle("GET /admin", page(c.home))
	mux.Handle("GET /admin/{$}", page(c.home))
	mux.Handle("GET /admin/login", page(c.loginForm))
	mux.Handle("POST /admin/login", page(c.login))
	mux.Handle("POST /admin/enrol", page(c.enrol))
	mux.Handle("POST /admin/logout", page(c.pageAuthed(c.logout)))
	mux.Handle("POST /admin/lookup", page(c.pageAuthed(c.lookup)))
	mux.Handle("POST /admin/accounts/{id}/{action}", page(c.pageAuthed(c.act)))
	mux.Handle("POST /admin/accounts/{id}/channels/{kind}", page(c.pageAuthed(c.setChannel)))
	mux.Handle("GET /admin/audit", page(c.pageAuthed(c.auditPage)))
	mux.Handle("GET /admin/static/admin.css", http.HandlerFunc(serveCSS))
}

// principalKey carries the signed-in operator in a request's context.
type principalKey struct{}

func principalOf(r *http.Request) *desk.Principal {
	p, _ := r.Context().Value(principalKey{}).(*desk.Principal)
	return p
}

// token is the request's console token: the bearer token, else the cookie.
func (c *Console) token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if ck, err := r.Cookie(c.cfg.CookieName); err == nil {
		return ck.Value
	}
	return ""
}

// authenticate finds the operator of the request, or 401.
func (c *Console) authenticate(r *http.Request) (*http.Request, error) {
	p, err := c.desk.Authenticate(r.Context(), c.token(r))
	if err != nil {
		return nil, err
	}
	return r.WithContext(contextWith(r, p)), nil
}

// authed wraps a JSON handler that needs a signed-in operator.
func (c *Console) authed(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		r2, err := c.authenticate(r)
		if err != nil {
			return err
		}
		return fn(w, r2)
	}
}

// client describes the request's client for the desk.
func (c *Console) client(r *http.Request) desk.Client {
	return desk.Client{IP: httpx.InfoFrom(r.Context()).ClientIP, UserAgent: r.UserAgent(), Lang: c.lang(r)}
}

// lang is the request's language: ?lang= or the posted lang, then the lang cookie, then
// Accept-Language, then the default.
func (c *Console) lang(r *http.Request) string {
	explicit := []string{r.URL.Query().Get("lang")}
	if r.PostForm != nil {
		explicit = append(explicit, r.PostForm.Get("lang"))
	}
	if ck, err := r.Cookie("lang"); err == nil {
		explicit = append(explicit, ck.Value)
	}
	return i18n.Negotiate(explicit, r.Header.Get("Accept-Language"), c.cfg.DefaultLang)
}

// accountID is the {id} of the path, or 404.
func accountID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	return id, nil
}

// handleAPI adapts a JSON handler: no caching, errors as {"error":{"code","message"}}.
func (c *Console) handleAPI(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := fn(w, r); err != nil {
			c.renderJSONError(w, r, httpx.Status(err), err)
		}
	})
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (c *Console) renderJSONError(w http.ResponseWriter, r *http.Request, status int, err error) {
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal {
		httpx.InfoFrom(r.Context()).Logger.Error("request failed", "err", err)
		e, status = kilt.E(kilt.KindInternal, kilt.CodeInternal), http.StatusInternalServerError
	}
	httpx.SetRetryAfter(w, e)
	writeJSON(w, status, errorBody{Error: errorDetail{Code: e.Code, Message: i18n.T(c.lang(r), e.Code)}})
}

// RenderErrorStatus renders err for the console's middleware (cross-origin refusals,
// panics, unknown paths): JSON under /admin/api/, a page elsewhere.
func (c *Console) RenderErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, "/admin/api/") {
		c.renderJSONError(w, r, status, err)
		return
	}
	c.renderErrorPage(w, r, status, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
