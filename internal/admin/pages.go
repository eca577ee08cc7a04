package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"kilt"
	"kilt/internal/desk"
	"kilt/internal/httpx"
	"kilt/internal/i18n"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed admin.css
var adminCSS []byte

// cssPath is admin.css under a name that carries its hash, so it can be cached for good.
var cssPath = func() string {
	sum := sha256.Sum256(adminCSS)
	return "/admin/static/admin.css?v=" + hex.EncodeToString(sum[:4])
}()

func serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(adminCSS)
}

// Base is what every console page shows.
type Base struct {
	Lang  string
	Title string
	Flash string
	Error string
	Langs []LangLink
	// Operator is who is signed in (nil: nobody).
	Operator *OperatorInfo
	CSS      []string

	fieldErrors map[string][]string
}

func (b *Base) base() *Base { return b }

// T returns the catalog text of key in the page's language.
func (b *Base) T(key string, args ...any) string { return i18n.T(b.Lang, key, args...) }

// FieldErrors are the messages next to the field name.
func (b *Base) FieldErrors(name string) []string { return b.fieldErrors[name] }

// LangLink is one language of the switch.
type LangLink struct {
	Code, Name, URL string
	Current         bool
}

// OperatorInfo is the signed-in operator as the header shows it.
type OperatorInfo struct {
	ID    int64
	Role  string
	Admin bool
}

type page interface{ base() *Base }

type templateSet struct{ t *template.Template }

var pageNames = []string{"login", "enrol", "backup", "home", "account", "slip", "audit", "error"}

func (c *Console) mustParseTemplates() map[string]*templateSet {
	out := map[string]*templateSet{}
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			panic(fmt.Sprintf("admin: template %s: %v", name, err))
		}
		out[name] = &templateSet{t: t}
	}
	return out
}

// handlePage adapts a page handler: bounded form parsing, no caching, errors as pages.
func (c *Console) handlePage(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
			if err := r.ParseForm(); err != nil {
				c.renderErrorPage(w, r, http.StatusBadRequest, kilt.E(kilt.KindInvalid, httpx.CodeMalformed))
				return
			}
		}
		if l := r.URL.Query().Get("lang"); i18n.Supported(l) {
			http.SetCookie(w, &http.Cookie{Name: "lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: c.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
		}
		if err := fn(w, r); err != nil {
			c.renderErrorPage(w, r, httpx.Status(err), err)
		}
	})
}

// pageAuthed wraps a page handler that needs a signed-in operator; without one, the
// sign-in page.
func (c *Console) pageAuthed(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		r2, err := c.authenticate(r)
		if kilt.ErrorKind(err) == kilt.KindUnauthorized {
			return redirect(w, r, "/admin/login")
		}
		if err != nil {
			return err
		}
		return fn(w, r2)
	}
}

func redirect(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

func (c *Console) newBase(r *http.Request, title string) Base {
	lang := c.lang(r)
	b := Base{Lang: lang, Title: i18n.T(lang, title)}
	path := r.URL.Path
	if r.Method != http.MethodGet {
		path = "/admin"
	}
	for _, l := range i18n.Langs {
		b.Langs = append(b.Langs, LangLink{Code: l, Name: i18n.T(l, "lang_name"), URL: path + "?lang=" + l, Current: l == lang})
	}
	if p := principalOf(r); p != nil {
		b.Operator = &OperatorInfo{ID: p.Operator.AccountID, Role: string(p.Operator.Role), Admin: p.IsAdmin()}
	}
	if app, err := c.cfg.StaticPath("app.css"); err == nil {
		b.CSS = append(b.CSS, app)
	}
	b.CSS = append(b.CSS, cssPath)
	return b
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) error {
	var buf bytes.Buffer
	if err := c.templates[name].t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// fail shows a user-facing error on page p with its status; unexpected errors go to the
// error page. field, when set, is the form field the error is shown next to.
func (c *Console) fail(w http.ResponseWriter, name string, p page, err error, field string) error {
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal {
		return err
	}
	b := p.base()
	b.Error = i18n.T(b.Lang, e.Code)
	if field != "" {
		if b.fieldErrors == nil {
			b.fieldErrors = map[string][]string{}
		}
		b.fieldErrors[field] = append(b.fieldErrors[field], b.Error)
	}
	httpx.SetRetryAfter(w, e)
	return c.render(w, httpx.Status(e), name, p)
}

// ErrorPage is the page of an error no form shows.
type ErrorPage struct {
	Base
	RequestID string
}

func (c *Console) renderErrorPage(w http.ResponseWriter, r *http.Request, status int, err error) {
	p := &ErrorPage{Base: c.newBase(r, "title_error")}
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal {
		httpx.InfoFrom(r.Context()).Logger.Error("request failed", "err", err)
		e, status = kilt.E(kilt.KindInternal, kilt.CodeInternal), http.StatusInternalServerError
		p.RequestID = httpx.InfoFrom(r.Context()).RequestID
	}
	httpx.SetRetryAfter(w, e)
	p.Error = i18n.T(p.Lang, e.Code)
	_ = c.render(w, status, "error", p)
}

// LoginPage is /admin/login: identifier, password and the second factor.
type LoginPage struct {
	Base
	Identifier string
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) error {
	r2, err := c.authenticate(r)
	if kilt.ErrorKind(err) == kilt.KindUnauthorized {
		return redirect(w, r, "/admin/login")
	}
	if err != nil {
		return err
	}
	return c.render(w, http.StatusOK, "home", &HomePage{Base: c.newBase(r2, "admin_title_home")})
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) error {
	return c.render(w, http.StatusOK, "login", &LoginPage{Base: c.newBase(r, "admin_title_login")})
}

// EnrolPage shows a new TOTP secret as a QR code and as text, and asks for a code of it.
type EnrolPage struct {
	Base
	Ticket string
	Secret string
	QR     template.HTML
}

func (c *Console) enrolPage(r *http.Request, e *desk.Enrolment) (*EnrolPage, error) {
	p := &EnrolPage{Base: c.newBase(r, "admin_title_enrol"), Ticket: e.Ticket, Secret: e.Secret}
	qr, err := qrSVG(e.URI, p.T("admin_enrol_qr"))
	if err != nil {
		return nil, err
	}
	p.QR = qr
	return p, nil
}

// secret marks a response that carries a secret: never cached, never sent on as a Referer.
func secret(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// login serves POST /admin/login: a session, or the enrolment of the first sign-in.
func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	p := &LoginPage{Base: c.newBase(r, "admin_title_login"), Identifier: r.PostForm.Get("identifier")}
	res, err := c.desk.SignIn(r.Context(), c.client(r), p.Identifier, r.PostForm.Get("password"), r.PostForm.Get("totp"))
	if err != nil {
		return c.fail(w, "login", p, err, "")
	}
	if res.Enrolment != nil {
		secret(w)
		ep, err := c.enrolPage(r, res.Enrolment)
		if err != nil {
			return err
		}
		return c.render(w, http.StatusOK, "enrol", ep)
	}
	c.setSession(w, res.Token)
	return redirect(w, r, "/admin")
}

func (c *Console) setSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: c.cfg.CookieName, Value: token, Path: "/", MaxAge: int((8 * time.Hour).Seconds()),
		HttpOnly: true, Secure: c.cfg.SecureCookie, SameSite: http.SameSiteStrictMode})
}

// BackupPage shows the ten backup codes, once.
type BackupPage struct {
	Base
	Codes []string
}

// enrol serves POST /admin/enrol: the code confirming a new secret.
func (c *Console) enrol(w http.ResponseWriter, r *http.Request) error {
	secret(w)
	ticket := r.PostForm.Get("ticket")
	out, err := c.desk.ConfirmEnrolment(r.Context(), c.client(r), ticket, r.PostForm.Get("code"))
	if err != nil {
		if kilt.ErrorKind(err) == kilt.KindGone {
			return c.fail(w, "login", &LoginPage{Base: c.newBase(r, "admin_title_login")}, err, "")
		}
		e, perr := c.desk.PendingEnrolment(r.Context(), ticket)
		if perr != nil {
			return c.fail(w, "login", &LoginPage{Base: c.newBase(r, "admin_title_login")}, err, "")
		}
		ep, perr := c.enrolPage(r, e)
		if perr != nil {
			return perr
		}
		return c.fail(w, "enrol", ep, err, "code")
	}
	c.setSession(w, out.Token)
	return c.render(w, http.StatusOK, "backup", &BackupPage{Base: c.newBase(r, "admin_title_backup"), Codes: out.BackupCodes})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	if err := c.desk.SignOut(r.Context(), principalOf(r)); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: c.cfg.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.cfg.SecureCookie, SameSite: http.SameSiteStrictMode})
	return redirect(w, r, "/admin/login")
}

// HomePage is the look-up form.
type HomePage struct {
	Base
	Identifier string
}

// AccountPage is an account as a look-up or an action shows it, with the action forms.
type AccountPage struct {
	Base
	Account *desk.AccountView
	Events  []EventView
}

// EventView is an audit event as the account page lists it.
type EventView struct {
	At, Type, By, Detail string
}

func (c *Console) accountPage(r *http.Request, v *desk.AccountView) *AccountPage {
	p := &AccountPage{Base: c.newBase(r, "admin_title_account"), Account: v}
	for _, e := range v.Recent {
		ev := EventView{At: c.when(e.At), Type: e.Type, Detail: e.Detail}
		if i18n.Has(p.Lang, "event_"+e.Type) {
			ev.Type = p.T("event_" + e.Type)
		}
		if e.OperatorID != 0 {
			ev.By = p.T("admin_event_operator", "id", e.OperatorID)
		}
		p.Events = append(p.Events, ev)
	}
	return p
}

// When shows a time in the console's zone.
func (c *Console) when(t time.Time) string { return t.In(c.cfg.Location).Format("02.01.2006 15:04") }

// Time shows an optional time; "" for none.
func (p *AccountPage) Time(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("02.01.2006 15:04 UTC")
}

// Created is the account's creation time.
func (p *AccountPage) Created() string {
	return p.Account.CreatedAt.UTC().Format("02.01.2006 15:04 UTC")
}

// ActionForm is one action's form on the account page.
type ActionForm struct{ Path, Label string }

// ActionList is the account page's actions.
func (p *AccountPage) ActionList() []ActionForm {
	lock := ActionForm{desk.ActionLock, "admin_button_lock"}
	if p.Account.Locked {
		lock = ActionForm{desk.ActionUnlock, "admin_button_unlock"}
	}
	return []ActionForm{lock, {desk.ActionRevokeSessions, "admin_button_revoke"}}
}

// ChannelForm is the form that sets a channel.
type ChannelForm struct{ Kind, Type, Label, Button string }

// ChannelList is the account page's channel forms.
func (p *AccountPage) ChannelList() []ChannelForm {
	return []ChannelForm{
		{desk.ChannelEmail, "email", "admin_label_new_email", "admin_button_set_email"},
		{desk.ChannelPhone, "tel", "admin_label_new_phone", "admin_button_set_phone"},
	}
}

// lookup serves POST /admin/lookup.
func (c *Console) lookup(w http.ResponseWriter, r *http.Request) error {
	id := r.PostForm.Get("identifier")
	v, err := c.desk.Lookup(r.Context(), principalOf(r), c.client(r), id)
	if err != nil {
		return c.fail(w, "home", &HomePage{Base: c.newBase(r, "admin_title_home"), Identifier: id}, err, "identifier")
	}
	return c.render(w, http.StatusOK, "account", c.accountPage(r, v))
}

// act serves POST /admin/accounts/{id}/lock|unlock|revoke-sessions|recovery-code.
func (c *Console) act(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	p := principalOf(r)
	reason := r.PostForm.Get("reason")
	if action == "recovery-code" {
		iss, err := c.desk.IssueSlip(r.Context(), p, c.client(r), id, reason, r.PostForm.Get("identity_checked") == "yes")
		if err != nil {
			return c.failOnAccount(w, r, id, err)
		}
		secret(w)
		return c.render(w, http.StatusCreated, "slip", c.slipPage(r, iss))
	}
	switch action {
	case desk.ActionLock, desk.ActionUnlock, desk.ActionRevokeSessions:
	default:
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	if err := c.desk.Act(r.Context(), p, c.client(r), id, action, reason); err != nil {
		return c.failOnAccount(w, r, id, err)
	}
	v, err := c.desk.Account(r.Context(), p, id)
	if err != nil {
		return err
	}
	ap := c.accountPage(r, v)
	ap.Flash = ap.T("admin_done_" + action)
	return c.render(w, http.StatusOK, "account", ap)
}

// failOnAccount shows err on the account's page.
func (c *Console) failOnAccount(w http.ResponseWriter, r *http.Request, id int64, err error) error {
	v, verr := c.desk.Account(r.Context(), principalOf(r), id)
	if errors.Is(verr, kilt.ErrNotFound) {
		return kilt.E(kilt.KindNotFound, kilt.CodeNotFound)
	}
	if verr != nil {
		return verr
	}
	return c.fail(w, "account", c.accountPage(r, v), err, "")
}

// setChannel serves POST /admin/accounts/{id}/channels/email|phone.
func (c *Console) setChannel(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	v, err := c.desk.SetChannel(r.Context(), principalOf(r), c.client(r), id, r.PathValue("kind"), r.PostForm.Get("value"),
		r.PostForm.Get("reason"), r.PostForm.Get("identity_checked") == "yes")
	if err != nil {
		return c.failOnAccount(w, r, id, err)
	}
	ap := c.accountPage(r, v)
	ap.Flash = ap.T("admin_done_channel")
	return c.render(w, http.StatusOK, "account", ap)
}

// SlipPage is the printable slip: the code, its expiry and the steps, in Kazakh, Russian
// and English on one sheet (the code cannot be shown twice).
type SlipPage struct {
	Base
	Code  string
	Parts []SlipPart
}

// SlipPart is the slip's text in one language.
type SlipPart struct {
	Lang    string
	Expires string
	URL     string
}

// T returns the catalog text of key in the part's language.
func (s SlipPart) T(key string, args ...any) string { return i18n.T(s.Lang, key, args...) }

func (c *Console) slipPage(r *http.Request, iss *desk.Issued) *SlipPage {
	p := &SlipPage{Base: c.newBase(r, "admin_title_slip"), Code: iss.Code}
	for _, l := range i18n.Langs {
		p.Parts = append(p.Parts, SlipPart{Lang: l, URL: c.cfg.RecoveryDeskURL,
			Expires: iss.ExpiresAt.In(c.cfg.Location).Format("02.01.2006 15:04") + " (" + zone(iss.ExpiresAt.In(c.cfg.Location)) + ")"})
	}
	return p
}

func zone(t time.Time) string {
	_, off := t.Zone()
	if off == 0 {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	s := "UTC" + sign + strconv.Itoa(off/3600)
	if m := off % 3600 / 60; m != 0 {
		s += fmt.Sprintf(":%02d", m)
	}
	return s
}

// AuditPage is the admins' page: every operator's actions of the last week, and the
// export form.
type AuditPage struct {
	Base
	From, To string
	Actions  []ActionView
}

// ActionView is an operator's action as the audit page lists it.
type ActionView struct {
	At, Type, Detail    string
	Operator, AccountID int64
}

// auditPage serves GET /admin/audit: admins only.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) error {
	if err := desk.RequireAdmin(principalOf(r)); err != nil {
		return err
	}
	now := c.cfg.Clock().UTC()
	p := &AuditPage{Base: c.newBase(r, "admin_title_audit"),
		From: now.Add(-7 * 24 * time.Hour).Format("2006-01-02T15:04"), To: now.Add(time.Minute).Format("2006-01-02T15:04")}
	evs, err := c.desk.OperatorActions(r.Context(), principalOf(r))
	if err != nil {
		return err
	}
	for _, e := range evs {
		typ := e.Type
		if i18n.Has(p.Lang, "event_"+e.Type) {
			typ = p.T("event_" + e.Type)
		}
		p.Actions = append(p.Actions, ActionView{At: c.when(e.At), Type: typ, Detail: e.Detail, Operator: e.OperatorID, AccountID: e.AccountID})
	}
	return c.render(w, http.StatusOK, "audit", p)
}
