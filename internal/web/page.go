package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"kilt/internal/account"
	"kilt/internal/i18n"
	"kilt/internal/password"
)

// page is a typed page struct: one per template, each embedding Base.
type page interface{ base() *Base }

// Base is what every page shows: its language, title, one-time notice, form errors, the
// language switch and who is signed in.
type Base struct {
	Lang  string
	Title string
	// Flash is a one-time notice: carried over a redirect, or set by the handler.
	Flash *Notice
	// Error is the form's error message (role=alert); ErrorList links each field error to
	// its field.
	Error     string
	ErrorList []FieldError
	// Langs is the language switch; LangForm, when set, makes it post the form state the
	// page carries (a reset token, a phone flow) instead of linking, which would lose it.
	Langs    []LangLink
	LangForm *LangForm
	// Viewer is the signed-in account, nil for none.
	Viewer *AccountView
	// Rules are the password policy's rules, shown as the checklist under a new password.
	Rules []Rule

	fieldErrors map[string][]string
}

func (b *Base) base() *Base { return b }

// T returns the catalog text of key in the page's language.
func (b *Base) T(key string, args ...any) string { return i18n.T(b.Lang, key, args...) }

// N returns the plural form of key for n in the page's language.
func (b *Base) N(key string, n int, args ...any) string { return i18n.N(b.Lang, key, n, args...) }

// addFieldError puts msg next to the field name.
func (b *Base) addFieldError(name, msg string) {
	if b.fieldErrors == nil {
		b.fieldErrors = map[string][]string{}
	}
	if len(b.fieldErrors[name]) == 0 {
		b.ErrorList = append(b.ErrorList, FieldError{ID: name, Text: msg})
	}
	b.fieldErrors[name] = append(b.fieldErrors[name], msg)
}

// Notice is a message shown at the top of a page.
type Notice struct {
	Kind string // success or info
	Text string
}

// FieldError is a field's first message, for the list at the top of a form.
type FieldError struct {
	ID   string
	Text string
}

// LangLink is one language of the switch.
type LangLink struct {
	Code    string
	Name    string // the language's own name
	URL     string
	Current bool
}

// LangForm is a language switch that posts: to Action, with the form state in Hidden.
type LangForm struct {
	Action string
	Hidden []Hidden
}

// Hidden is a hidden form field.
type Hidden struct {
	Name, Value string
}

// Rule is one rule of the password policy, for the checklist.
type Rule struct {
	Code string
	Text string
}

// AccountView is an account as the pages show it: never its password hash.
type AccountView struct {
	Email         string
	EmailVerified bool
	Phone         string // for reading: +7 701 123 4567
	PhoneVerified bool
}

func newAccountView(a *account.Account) *AccountView {
	return &AccountView{Email: a.Email, EmailVerified: a.EmailVerified, Phone: displayPhone(a.Phone), PhoneVerified: a.PhoneVerified}
}

// displayPhone spells an E.164 number the international way, grouped for reading.
func displayPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// unlisted are the rules the checklist under a new password leaves out: nobody breaks the
// malformed-input and maximum-length rules by accident (the server still checks them).
var unlisted = map[string]bool{
	string(password.Invalid): true,
	string(password.TooLong): true,
}

// base builds the Base of a page titled by the catalog key title: the language, the notice
// carried by the flash cookie (which it clears), the language switch back to this page,
// who is signed in and the password rules.
func (s *Site) base(w http.ResponseWriter, r *http.Request, title string) Base {
	lang := s.lang(r)
	b := Base{Lang: lang, Title: i18n.T(lang, title), Flash: s.takeFlash(w, r, lang)}
	b.Langs = langLinks(r, lang)
	if v := viewerFrom(r); v != nil {
		b.Viewer = newAccountView(v.account)
	}
	for _, rule := range s.accounts.Policy().Describe().Rules {
		if unlisted[rule.Code] {
			continue
		}
		b.Rules = append(b.Rules, Rule{Code: rule.Code, Text: s.message(lang, rule.Code)})
	}
	return b
}

// langLinks are the language switch's links: this page (a GET of its path, with its query
// but the language, or the path alone after a POST) in each language.
func langLinks(r *http.Request, current string) []LangLink {
	q := url.Values{}
	path := r.URL.Path
	if r.Method == http.MethodPost {
		path = getPath(path)
	} else {
		for k, v := range r.URL.Query() {
			if k != "lang" && k != "token" {
				q[k] = v
			}
		}
	}
	return links(path, q, current)
}

func links(path string, q url.Values, current string) []LangLink {
	out := make([]LangLink, len(i18n.Langs))
	for i, l := range i18n.Langs {
		lq := url.Values{"lang": {l}}
		for k, v := range q {
			lq[k] = v
		}
		out[i] = LangLink{Code: l, Name: i18n.T(l, "lang_name"), URL: withQuery(path, lq), Current: l == current}
	}
	return out
}

// relink points the language switch at the page path with query q (a page rendered by a
// POST whose GET needs a parameter).
func (b *Base) relink(path string, q url.Values) { b.Langs = links(path, q, b.Lang) }

// getPath is the page a POST to path is a form of: where the language switch of a page
// rendered by the POST leads.
func getPath(path string) string {
	switch {
	case strings.HasPrefix(path, "/recovery/phone/"):
		return "/recovery/phone"
	case path == "/register/verify":
		return "/register/confirm"
	case strings.HasPrefix(path, "/account/"), strings.HasPrefix(path, "/logout/"):
		return "/account"
	}
	return path
}

// Field is a form field as the field templates draw it: a label above, its messages, the
// input wired to them with aria-describedby.
type Field struct {
	ID, Name, Type string
	Label, Hint    string
	Autocomplete   string
	Inputmode      string
	// Value is what the person typed. Password fields never have one.
	Value  string
	Errors []string
	// Eye is the accessible name of a password field's eye toggle.
	Eye string
	// Rules, under a new password, are the policy's checklist.
	Rules []Rule

	lang string
}

// T returns the catalog text of key in the field's language.
func (f Field) T(key string) string { return i18n.T(f.lang, key) }

// DescribedBy is the ids of the field's hint, messages and checklist.
func (f Field) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if len(f.Errors) > 0 {
		ids = append(ids, f.ID+"-errors")
	}
	if len(f.Rules) > 0 {
		ids = append(ids, f.ID+"-rules", f.ID+"-strength")
	}
	return strings.Join(ids, " ")
}

// Input is a text field named name, labelled by the catalog key label, holding value.
func (b *Base) Input(name, label, typ, autocomplete, value string) Field {
	f := Field{ID: name, Name: name, Type: typ, Label: b.T(label), Autocomplete: autocomplete, Value: value,
		Errors: b.fieldErrors[name], lang: b.Lang}
	switch name {
	case "phone":
		f.Hint = b.T("hint_phone")
	case "identifier":
		f.Hint = b.T("hint_identifier")
	case "code":
		f.Hint, f.Inputmode = b.T("hint_code"), "numeric"
	}
	return f
}

// Password is a password field named name, labelled by the catalog key label. A new
// password (autocomplete new-password) named "password" carries the policy's checklist.
func (b *Base) Password(name, label, autocomplete string) Field {
	f := Field{ID: name, Name: name, Type: "password", Label: b.T(label), Autocomplete: autocomplete,
		Errors: b.fieldErrors[name], Eye: b.T("show_password"), lang: b.Lang}
	if name == "password" && autocomplete == "new-password" {
		f.Rules = b.Rules
	}
	return f
}

// The pages, one struct per template.

// LoginPage is /login.
type LoginPage struct {
	Base
	Identifier string
	// ContinueTo is the name of the application whose sign-in this is, "" for none.
	ContinueTo string
}

// RegisterPage is /register: by e-mail or by phone.
type RegisterPage struct {
	Base
	ByPhone      bool
	Email, Phone string
	EmailURL     string // the e-mail tab
	PhoneURL     string // the phone tab
}

// RegisterSentPage is /register/sent: the confirmation link is on its way.
type RegisterSentPage struct {
	Base
}

// RegisterConfirmPage is /register/confirm: the button that confirms an e-mail link's
// token, or the field for a phone registration's code (ID), or the message that the link
// or registration is no longer valid (Gone).
type RegisterConfirmPage struct {
	Base
	Token string
	ID    string
	Gone  bool
}

// RecoveryPage is /recovery: the choice of the manual's two ways.
type RecoveryPage struct {
	Base
}

// RecoveryEmailPage is /recovery/email, and /recovery/email/sent with Sent.
type RecoveryEmailPage struct {
	Base
	Email string
	Sent  bool
}

// RecoveryPhonePage is /recovery/phone: the phone number, then on the same screen the code.
type RecoveryPhonePage struct {
	Base
	Phone string
	// FlowID is set once a code was asked for: the page then shows the code field.
	FlowID string
	// ResendIn is the seconds left before a new code may be asked for; ResendAt the Unix
	// time when, carried in the form to show the countdown again after a wrong code.
	ResendIn int
	ResendAt int64
}

// ResetPage is /recovery/reset: the new password, or the message that the link is not
// valid (Gone).
type ResetPage struct {
	Base
	Token string
	Gone  bool
}

// AccountPage is /account.
type AccountPage struct {
	Base
	Account AccountView
	Events  []EventView
	// Apps are the applications the account has granted (single sign-on).
	Apps []ConnectedApp
	// ChannelKind and NewChannel are a failed add-or-replace form's kind and value, shown
	// again; RemoveKind a failed removal's kind (channels.go).
	ChannelKind, NewChannel, RemoveKind string
	// Pending is the change waiting for its code or link, "" for none: the page leads back
	// to /account/channels/{Pending}.
	Pending string
}

// EventView is one entry of the recent activity.
type EventView struct {
	What     string
	When     string // for reading, in the page's language
	Datetime string // RFC 3339, for <time datetime>
	IP       string
	Browser  string
	Failed   bool
}

// LogoutPage is GET /logout: the sign-out button.
type LogoutPage struct {
	Base
}

// ErrorPage is an error that has no form to show it on.
type ErrorPage struct {
	Base
	Status    int
	Message   string
	RequestID string
}
