// Package web is Kilt's server-rendered HTML pages: sign-in, registration, the portal
// manual's two ways of password recovery, the account page and sign-out, in Kazakh (the
// default), Russian and English. The pages call the same services as the JSON API.
//
// Every page works without JavaScript: plain forms, POST → 303 → GET on success, and on
// failure the form again with the status of the error (400, 401, 403, 410, 422, 429, 503),
// the entered identifier — never a password — and each message next to its field. One small
// script only improves: the eye toggles, the live password checklist (fed by
// GET /api/v1/password-policy) and the resend countdown. The Content-Security-Policy of the
// server forbids inline script and style, so the markup has neither.
//
// State changes are POSTs, checked for cross-origin requests at the mux
// (http.CrossOriginProtection); the forms carry no CSRF tokens.
//
// Secret links. A GET of a link that carries a token (/recovery/reset?token=…,
// /register/confirm?token=…) changes nothing on the server — mail scanners prefetch links —
// and answers 303 to the same path without the token, which travels in a short-lived
// HttpOnly cookie scoped to that path. The clean page moves the token into a hidden form
// field and clears the cookie, so the token leaves the address bar, the history and the
// Referer at once, and does not stay in the browser after the page is shown (a shared
// computer). These responses send Referrer-Policy: no-referrer and Cache-Control: no-store.
// The server logs paths only, never queries nor form fields.
//
// Language: ?lang= (the switch on every page), then the lang cookie it sets (a year, shared
// with the API), then Accept-Language, then the configured default. On the pages whose
// state lives only in the form — the new-password form and the e-mail confirmation (their
// token), recovery's SMS code step (its flow) — the switch posts that state back instead of
// linking, since a link would lose it; other pages keep theirs in the address (?by=phone,
// a phone registration's ?id=) or in a path-scoped cookie (where a link went).
//
// Flash messages (a success notice after a redirect) travel in a short-lived cookie whose
// value is a name from a fixed table; the text shown is the catalog text for that name, so
// nothing from a URL or a cookie is ever shown as text.
package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/brand"
	"kilt/internal/desk"
	"kilt/internal/httpx"
	"kilt/internal/i18n"
	"kilt/internal/password"
	"kilt/internal/recovery"
	"kilt/internal/session"
)

// Config is what the pages need to know beyond their services. The session cookie is the
// API's: the same name and attributes, so one sign-in serves both.
type Config struct {
	// CookieName is __Host-kilt when served over TLS, kilt otherwise (plain http in --dev).
	CookieName   string
	SecureCookie bool
	DefaultLang  string
	// Clock is the services' clock (the resend countdown is computed with it); nil: time.Now.
	Clock kilt.Clock
	// Location is the time zone times are shown in; nil: the process's local zone.
	Location *time.Location
	// Brand is the portal's identity: name, logo, colour, support contact; nil:
	// brand.Default().
	Brand *brand.Brand
}

// Site serves the HTML pages.
type Site struct {
	accounts      *account.Service
	sessions      *session.Service
	recovery      *recovery.Service
	registrations *account.Registrations
	desk          *desk.Service     // nil: /recovery/desk answers 404
	channels      *account.Channels // nil: the channel pages answer 404
	cfg           Config
	templates     map[string]*templateSet
	assets        *assets
	sso           SSO
	brand         *brand.Brand
	errors        *httpx.Renderer
}

// New returns the pages. It panics if the embedded templates do not parse (a build error).
func New(accounts *account.Service, sessions *session.Service, rec *recovery.Service, reg *account.Registrations, cfg Config) *Site {
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = "kk"
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "kilt"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Brand == nil {
		cfg.Brand = brand.Default()
	}
	a := mustLoadAssets()
	a.addBrand(cfg.Brand)
	s := &Site{accounts: accounts, sessions: sessions, recovery: rec, registrations: reg, cfg: cfg,
		assets: a, templates: mustParseTemplates(a), brand: cfg.Brand}
	s.errors = &httpx.Renderer{DefaultLang: cfg.DefaultLang, Policy: accounts.Policy(), Page: s.errorPage, LoginPath: "/login"}
	return s
}

// handlerFunc is a page handler: it writes its response itself, or returns an error for the
// adapter to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc to http.Handler: it parses a posted form (bounded), remembers
// an explicitly chosen language, finds who is signed in, and renders the error the handler
// returns.
func (s *Site) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Pages show personal data or carry form state (a flow id, a reset token): never
		// kept by a cache, the browser's included.
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
			if err := r.ParseForm(); err != nil {
				code := httpx.CodeMalformed
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					code = httpx.CodeTooLarge
				}
				s.renderError(w, r, kilt.E(kilt.KindInvalid, code))
				return
			}
		}
		if l := explicitLang(r); l != "" {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
		}
		v, err := s.viewer(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, v))
		if err := fn(w, r); err != nil {
			s.renderError(w, r, err)
		}
	})
}

// viewer is who is signed in: the live session and its account, or why its session is
// refused (a locked account).
type viewer struct {
	session *session.Session
	account *account.Account
	refused error
}

type viewerKey struct{}

// viewerFrom returns the request's viewer, nil when no one is signed in (or the session is
// refused): public pages then show as to anyone.
func viewerFrom(r *http.Request) *viewer {
	v, _ := r.Context().Value(viewerKey{}).(*viewer)
	if v == nil || v.refused != nil {
		return nil
	}
	return v
}

// viewer finds the request's live session and account (session.Service.Current): nil when
// there is none; a viewer whose refused holds 403 account_locked when the account is locked.
func (s *Site) viewer(r *http.Request) (*viewer, error) {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil {
		return nil, nil
	}
	sess, acct, err := s.sessions.Current(r.Context(), c.Value)
	switch kilt.ErrorKind(err) {
	case kilt.KindUnauthorized:
		return nil, nil
	case kilt.KindForbidden:
		return &viewer{refused: err}, nil
	}
	if err != nil {
		return nil, err
	}
	return &viewer{session: sess, account: acct}, nil
}

// signedIn returns the viewer; 401 (which the adapter turns into the sign-in page) when no
// one is signed in, and the refusal (403 account_locked) when the session is refused.
func signedIn(r *http.Request) (*viewer, error) {
	v, _ := r.Context().Value(viewerKey{}).(*viewer)
	if v == nil {
		return nil, kilt.E(kilt.KindUnauthorized, session.CodeUnauthorized)
	}
	if v.refused != nil {
		return nil, v.refused
	}
	return v, nil
}

// renderError renders err as a page (httpx.Renderer): 401 sends the browser to sign in; an
// expected error shows its message with its status; anything else is logged once with the
// request id and shown as a generic failure that names the request id.
func (s *Site) renderError(w http.ResponseWriter, r *http.Request, err error) {
	s.errors.Error(w, r, err)
}

// errorPage draws the error page of v.
func (s *Site) errorPage(w http.ResponseWriter, r *http.Request, v httpx.ErrorView) error {
	title, ok := errorTitles[v.Status]
	if !ok {
		title = "title_error"
	}
	p := &ErrorPage{Base: s.base(w, r, title), Status: v.Status, Message: v.Message, RequestID: v.RequestID,
		NotFound: v.Status == http.StatusNotFound}
	return s.render(w, v.Status, "error", p)
}

// errorTitles are the headings of error pages by status: what happened, not only «Қате».
var errorTitles = map[int]string{
	http.StatusForbidden:          "title_forbidden",
	http.StatusNotFound:           "title_not_found",
	http.StatusGone:               "title_link_invalid",
	http.StatusTooManyRequests:    "title_too_many",
	http.StatusServiceUnavailable: "title_unavailable",
}

// RenderErrorStatus renders err as an HTML error page with the given status, for callers
// outside the pages' handlers (middleware answering a page request: cross-origin refusals,
// panics, unknown paths and methods).
func (s *Site) RenderErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	w.Header().Set("Cache-Control", "no-store")
	s.errors.ErrorStatus(w, r, status, err)
}

// render executes the page's template into a buffer (so a failing template never sends half
// a page) and writes it with status.
func (s *Site) render(w http.ResponseWriter, status int, name string, p page) error {
	t, ok := s.templates[name]
	if !ok {
		return errors.New("web: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.execute(&buf, p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// fail shows a user-facing error on the form page p and renders it with the error's status:
// the message at the top, and next to its field when it concerns one (fields maps error
// codes to this form's field names, on top of the usual ones). Unexpected errors are
// returned for the adapter to render as a failure.
func (s *Site) fail(w http.ResponseWriter, name string, p page, err error, fields map[string]string) error {
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal || e.Kind == kilt.KindUnauthorized && e.Code == session.CodeUnauthorized {
		return err
	}
	s.explain(p.base(), e, fields)
	httpx.SetRetryAfter(w, e)
	return s.render(w, httpx.Status(e), name, p)
}

// fieldOf is the form field an error code concerns, on every form that has that field.
var fieldOf = map[string]string{
	account.CodeInvalidEmail:      "email",
	account.CodeInvalidPhone:      "phone",
	account.CodePhoneNotSupported: "phone",
	account.CodeInvalidIdentifier: "identifier",
	session.CodePasswordRequired:  "password",
	account.CodeWrongPassword:     "current_password",
	account.CodeCodeInvalid:       "code",
	account.CodeCodeFormat:        "code",
	account.CodePasswordIncorrect: "password",
	string(password.Mismatch):     "password_confirm",
}

// explain puts e on b: a password policy refusal as each violation's message next to its
// field, other errors next to their field or as the form's message.
func (s *Site) explain(b *Base, e *kilt.Error, fields map[string]string) {
	field := func(code string) string {
		if f, ok := fields[code]; ok {
			return f
		}
		return fieldOf[code]
	}
	if codes, ok := e.Details["violations"].([]string); ok && len(codes) > 0 {
		b.violated = map[string]bool{}
		for _, c := range codes {
			b.violated[c] = true
			f := field(c)
			if f == "" {
				f = "password"
			}
			b.addFieldError(f, s.message(b.Lang, c))
		}
		b.Error = b.T("form_errors")
		return
	}
	msg := s.message(b.Lang, e.Code)
	if n, ok := e.Details["attempts_left"].(int); ok {
		msg += " " + i18n.N(b.Lang, "code_attempts_left", n)
	}
	if f := field(e.Code); f != "" {
		b.addFieldError(f, msg)
		b.Error = b.T("form_errors")
		return
	}
	b.Error = msg
}

// message is the catalog text of code, with the policy's numbers filled in.
func (s *Site) message(lang, code string) string { return s.errors.Message(lang, code) }

// langCookie remembers the language chosen with the switch; the API reads it too.
const langCookie = httpx.LangCookie

// explicitLang is a language chosen on this request (?lang=, or the lang field of a posted
// form: the switch on pages that carry form state), "" for none.
func explicitLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); i18n.Supported(l) {
		return l
	}
	if l := r.PostForm.Get("lang"); i18n.Supported(l) {
		return l
	}
	return ""
}

// lang is the request's language (httpx.Renderer.Lang).
func (s *Site) lang(r *http.Request) string { return s.errors.Lang(r) }

// accountClient describes the request's client for the account services.
func (s *Site) accountClient(r *http.Request) account.Client {
	c := s.errors.Client(r)
	return account.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}
}

// sessionClient describes the request's client for the session service.
func (s *Site) sessionClient(r *http.Request) session.Client {
	c := s.accountClient(r)
	return session.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}
}

// recoveryClient describes the request's client for the recovery service.
func (s *Site) recoveryClient(r *http.Request) recovery.Client {
	c := s.accountClient(r)
	return recovery.Client{IP: c.IP, UserAgent: c.UserAgent, Lang: c.Lang}
}

// redirect answers 303 to path: after a POST the browser GETs the result, so a reload never
// posts again.
func redirect(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// withQuery is path with the query q ("" values left out).
func withQuery(path string, q url.Values) string {
	if enc := q.Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

// secretPage sets the headers of a response that carries or takes a secret link's token:
// no Referer to anywhere (the page's address might still hold it in an old browser), no
// copy in any cache.
func secretPage(w http.ResponseWriter) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
}
