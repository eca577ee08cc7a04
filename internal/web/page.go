package web

import (
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	// ErrorLink, when set, is the way on the message points to (a slowed-down sign-in:
	// «Құпия сөзді ұмыттыңыз ба?»).
	ErrorLink *Link
	// Langs is the language switch; LangForm, when set, makes it post the form state the
	// page carries (a reset token, a phone flow) instead of linking, which would lose it.
	Langs    []LangLink
	LangForm *LangForm
	// Viewer is the signed-in account, nil for none.
	Viewer *AccountView
	// Rules are the password policy's rules, shown as the checklist under a new password.
	Rules []Rule
	// Brand is the portal's identity in the header and footer.
	Brand BrandView
	// NoHistory leaves the history rule out of the checklist: a registration has no
	// earlier passwords.
	NoHistory bool

	fieldErrors map[string][]string
	// violated, once a password was refused, are the rules it broke: the checklist then
	// marks each rule met or not, without the script.
	violated map[string]bool
}

func (b *Base) base() *Base { return b }

// T returns the catalog text of key in the page's language.
func (b *Base) T(key string, args ...any) string { return i18n.T(b.Lang, key, args...) }

// Wait is the countdown's text for n seconds, the number in the element the script counts
// down: «Кодты <span class="seconds">57</span> секундтан кейін қайта сұрай аласыз.»
func (b *Base) Wait(n int) template.HTML { return b.WaitFor("resend_wait", n) }

// WaitFor is Wait with the sentence of the plural key (resend_wait, channel_link_wait).
func (b *Base) WaitFor(key string, n int) template.HTML {
	const mark = "\x00"
	before, after, _ := strings.Cut(b.T(key+"."+i18n.PluralForm(b.Lang, n), "n", mark), mark)
	return template.HTML(template.HTMLEscapeString(before) + `<span class="seconds">` + strconv.Itoa(n) + `</span>` +
		template.HTMLEscapeString(after))
}

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

// BrandView is the portal's identity as a page shows it.
type BrandView struct {
	Name string
	// Logo is the served path of the operator's logo ("": the built-in key icon).
	Logo string
	// Support is the support contact ("": none configured), as the footer's sentence: the
	// text before and after the contact, and the contact in parts, each a link where it is a
	// web address, an e-mail address or a phone number.
	Support       string
	SupportBefore string
	SupportAfter  string
	SupportParts  []ContactPart
}

// ContactPart is a piece of the support contact: its text and, for a web address, e-mail
// address or phone number, the link (https:…, mailto:…, tel:…) that opens it.
type ContactPart struct {
	Text string
	Href template.URL
}

// phonePattern is a phone number as people write it: digits with spaces, dashes, dots or
// parentheses, maybe a leading +, at least three digits (1414 is a short help number).
var phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ()\-.]*[0-9]$`)

// contactParts splits a support contact at commas and semicolons, keeping the separators, and
// links each piece that is a web address, an e-mail address or a phone number.
func contactParts(contact string) []ContactPart {
	var out []ContactPart
	for contact != "" {
		i := strings.IndexAny(contact, ",;")
		piece, sep := contact, ""
		if i >= 0 {
			piece, sep, contact = contact[:i], contact[i:i+1], contact[i+1:]
		} else {
			contact = ""
		}
		lead := piece[:len(piece)-len(strings.TrimLeft(piece, " "))]
		word := strings.TrimSpace(piece)
		trail := piece[len(lead)+len(word):]
		if lead != "" {
			out = append(out, ContactPart{Text: lead})
		}
		out = append(out, ContactPart{Text: word, Href: contactHref(word)})
		if trail+sep != "" {
			out = append(out, ContactPart{Text: trail + sep})
		}
	}
	return out
}

// contactHref is the link of one piece of a support contact, or "".
func contactHref(s string) template.URL {
	switch {
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			return template.URL(u.String())
		}
	case strings.Count(s, "@") == 1 && !strings.ContainsAny(s, ` <>"'`):
		if a, err := mail.ParseAddress(s); err == nil && a.Address == s {
			return template.URL("mailto:" + url.PathEscape(s))
		}
	case phonePattern.MatchString(s):
		digits := strings.Map(func(r rune) rune {
			if r == '+' || (r >= '0' && r <= '9') {
				return r
			}
			return -1
		}, s)
		if len(strings.TrimPrefix(digits, "+")) >= 3 {
			return template.URL("tel:" + digits)
		}
	}
	return ""
}

// Consent is the personal-data consent of the registration form.
type Consent struct {
	Version string
	Text    string
	// Checked: the form came back (another field was wrong) with the consent given.
	Checked bool
}

// Notice is a message shown at the top of a page.
type Notice struct {
	Kind string // success or info
	Text string
}

// Link is a link of a page: where, and its text.
type Link struct {
	URL, Text string
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

// Rule is one rule of the password policy, for the checklist: what a good password has,
// said positively ("at least 8 characters"), not the error a bad one gets.
type Rule struct {
	Code string
	Text string
	// State is "unchecked" until a refused password marks the rule "met", "unmet" or
	// "later" (checked only once the others hold: the history); StateText says it in words.
	State, StateText string
}

// AccountView is an account as the pages show it: never its password hash.
type AccountView struct {
	Email         string
	EmailVerified bool
	Phone         string // for reading: +7 701 123 45 67
	PhoneVerified bool
}

func newAccountView(a *account.Account) *AccountView {
	return &AccountView{Email: a.Email, EmailVerified: a.EmailVerified, Phone: displayPhone(a.Phone), PhoneVerified: a.PhoneVerified}
}

// unlisted are the rules the checklist under a new password leaves out: nobody breaks the
// malformed-input and maximum-length rules by accident (the server still checks them), and
// whether the two passwords match is told at the repeat field, not in the list.
var unlisted = map[string]bool{
	string(password.Invalid):  true,
	string(password.TooLong):  true,
	string(password.Mismatch): true,
}

// base builds the Base of a page titled by the catalog key title: the language, the notice
// carried by the flash cookie (which it clears), the language switch back to this page,
// who is signed in and the password rules.
func (s *Site) base(w http.ResponseWriter, r *http.Request, title string) Base {
	lang := s.lang(r)
	b := Base{Lang: lang, Title: i18n.T(lang, title), Flash: s.takeFlash(w, r, lang)}
	b.Langs = langLinks(r, lang)
	b.Brand = BrandView{Name: s.brand.Name(lang), Logo: s.assets.paths[logoAsset], Support: s.brand.Support}
	if s.brand.Support != "" {
		// The catalog's sentence around the contact, so that the contact's pieces can be
		// links: {contact} stands once in every language's sentence (the catalog test and
		// package brand check the placeholders).
		const mark = "\x00"
		b.Brand.SupportBefore, b.Brand.SupportAfter, _ = strings.Cut(i18n.T(lang, "support_contact", "contact", mark), mark)
		b.Brand.SupportParts = contactParts(s.brand.Support)
	}
	if v := viewerFrom(r); v != nil {
		b.Viewer = newAccountView(v.account)
	}
	for _, rule := range s.accounts.Policy().Describe().Rules {
		if unlisted[rule.Code] {
			continue
		}
		b.Rules = append(b.Rules, Rule{Code: rule.Code, Text: s.message(lang, "rule_"+rule.Code)})
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
	case strings.HasPrefix(path, "/recovery/phone"), path == "/recovery/email":
		return "/recovery"
	case path == "/register/verify", path == "/register/resend":
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
	// Match, under the repeat of a new password, is where the script says whether the two
	// match.
	Match bool

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
		// The summary, not the list: a screen reader reads one short line on focus, not
		// every rule; the list is there to read like any text.
		ids = append(ids, f.ID+"-rules-status")
	}
	if f.Match {
		ids = append(ids, f.ID+"-match")
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
		Errors: b.fieldErrors[name], Eye: b.T("show_" + label), lang: b.Lang}
	if name == "password" && autocomplete == "new-password" {
		for _, r := range b.Rules {
			if b.NoHistory && r.Code == string(password.Reused) {
				continue
			}
			r.State = "unchecked"
			if b.violated != nil {
				switch {
				case b.violated[r.Code]:
					r.State, r.StateText = "unmet", b.T("rule_unmet")
				case r.Code == string(password.Reused):
					r.State, r.StateText = "later", b.T("rule_later")
				default:
					r.State, r.StateText = "met", b.T("rule_met")
				}
			}
			f.Rules = append(f.Rules, r)
		}
	}
	f.Match = name == "password_confirm" && autocomplete == "new-password"
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
	// Consent is the personal-data consent the form asks for.
	Consent      Consent
	ByPhone      bool
	Email, Phone string
	EmailURL     string // the e-mail tab
	PhoneURL     string // the phone tab
}

// ConsentErrors are the messages of the consent checkbox.
func (p *RegisterPage) ConsentErrors() []string { return p.fieldErrors[consentField] }

// RegisterSentPage is /register/sent: the confirmation link is on its way.
type RegisterSentPage struct {
	Base
	Sent Sent
}

// Sent is what a "sent" page says of a link or code: where it went (masked), how to change
// that, how long it lasts.
type Sent struct {
	To        string // masked: «a•••@mail.kz», «+7 701 ••• •• 67»; "" when not known
	ChangeURL string
	ChangeKey string // the change link's text
	Lifetime  string // in words: «24 сағат»
	// LifetimeKey says Lifetime of a link or of a code.
	LifetimeKey string

	lang string
}

// sentLink is what a page says of a link sent to the masked address to.
func sentLink(lang, to, changeURL string, lifetime time.Duration) Sent {
	return Sent{To: to, ChangeURL: changeURL, ChangeKey: "link_change_email", Lifetime: duration(lang, lifetime),
		LifetimeKey: "link_lifetime", lang: lang}
}

// sentCode is what a page says of a code sent to the masked number to.
func sentCode(lang, to, changeURL string, lifetime time.Duration) Sent {
	return Sent{To: to, ChangeURL: changeURL, ChangeKey: "link_change_phone", Lifetime: duration(lang, lifetime),
		LifetimeKey: "code_lifetime", lang: lang}
}

// T returns the catalog text of key in the page's language.
func (s Sent) T(key string, args ...any) string { return i18n.T(s.lang, key, args...) }

// RegisterConfirmPage is /register/confirm: the button that confirms an e-mail link's
// token, or the code step of a phone registration (ID), or the message that the link or
// registration is no longer valid (Gone).
type RegisterConfirmPage struct {
	Base
	Token string
	ID    string
	Gone  bool
	Code  CodeStep
}

// CodeStep is the step where an SMS code is entered, in recovery and in registration: where
// the code went, how long it lasts, the field (or, once the wrong codes used it up, the
// message that it no longer works), and the resend button with its countdown.
type CodeStep struct {
	Sent Sent
	// Spent: the code no longer works; the field gives way to "send a new code".
	Spent bool
	// ResendIn is the seconds left before a new code may be asked for; ResendAt the Unix
	// time when, carried in the recovery form to show the countdown again after a wrong code.
	ResendIn int
	ResendAt int64
	// Verify and Resend are the forms' actions, Hidden the state both carry.
	Verify, Resend string
	Hidden         []Hidden
}

// RecoveryPage is /recovery: the manual's two ways as two tabs, the e-mail form (and
// /recovery/email/sent with Sent) or the phone form, then on the same screen its code.
type RecoveryPage struct {
	Base
	ByPhone            bool
	EmailURL, PhoneURL string
	Email              string
	Sent               *Sent // the e-mail is on its way
	Phone              string
	// FlowID is set once a code was asked for: the page then shows the code step.
	FlowID string
	Code   CodeStep
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
	// AccountLifecycle: sessions, export and deletion (sessions.go).
	AccountLifecycle
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
	// NotFound: an address with no page (404), which gets its own heading and ways on.
	NotFound bool
}
