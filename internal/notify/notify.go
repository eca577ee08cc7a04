package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	_ "time/tzdata" // Asia/Almaty must load on hosts without a zoneinfo database.
	"unicode"

	"kilt"
	"kilt/internal/i18n"
	"kilt/internal/outbox"
)

//go:embed templates
var templateFS embed.FS

// defaultAccent is the e-mails' button and link colour when none is configured: 6.6:1 with
// white.
const defaultAccent = "#0b5cad"

// hexColour is the only form an accent may take: it goes into a style attribute as it is.
var hexColour = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// DefaultLang is the language of a message whose language is not supported.
const DefaultLang = "kk"

// langs are the languages every template exists in.
var langs = []string{"kk", "ru", "en"}

// Config is what operators may change about the messages.
type Config struct {
	// ProductName is shown in every message ("Kilt: …"); default "Kilt". Operators set
	// their portal's name. It must not contain control characters.
	ProductName string
	// Names, by language, win over ProductName: the portal's name in each language
	// (brand.Brand.Names).
	Names map[string]string
	// Support is the support contact added to every e-mail and SMS ("": none). It must not
	// contain control characters.
	Support string
	// Accent is the colour of the e-mails' buttons and links, #rrggbb with at least 4.5:1
	// against white (brand.Palette.Accent); "": #0b5cad.
	Accent string
	// Location is the time zone times are shown in; default Asia/Almaty.
	Location *time.Location
}

// KindChannel is one kind of message on one channel.
type KindChannel struct {
	Kind    outbox.Kind
	Channel outbox.Channel
}

func (kc KindChannel) String() string { return string(kc.Kind) + "." + string(kc.Channel) }

// Data keys: outbox's, where the payloads write them.
const (
	keyLink        = outbox.KeyLink
	keyCode        = outbox.KeyCode
	keyMinutes     = outbox.KeyMinutes
	keyRecoveryURL = outbox.KeyRecoveryURL
	keyTime        = outbox.KeyTime
	keyFreezeURL   = outbox.KeyFreezeURL
	keyChange      = outbox.KeyChange
)

// changes are the values of keyChange.
var changes = []string{outbox.ChangeEmailAdded, outbox.ChangeEmailReplaced, outbox.ChangeEmailRemoved,
	outbox.ChangePhoneAdded, outbox.ChangePhoneReplaced, outbox.ChangePhoneRemoved}

// catalog lists every message Kilt sends with the data keys it needs, all required.
// A template sees only these keys (see view), whatever else the caller passes.
var catalog = []struct {
	KindChannel
	keys []string
}{
	{KindChannel{outbox.RegistrationLink, outbox.Email}, []string{keyLink, keyMinutes}},
	{KindChannel{outbox.RegistrationCode, outbox.SMS}, []string{keyCode, keyMinutes}},
	{KindChannel{outbox.AlreadyRegistered, outbox.Email}, []string{keyRecoveryURL}},
	{KindChannel{outbox.AlreadyRegistered, outbox.SMS}, []string{keyRecoveryURL}},
	{KindChannel{outbox.RecoveryLink, outbox.Email}, []string{keyLink, keyMinutes}},
	{KindChannel{outbox.RecoveryCode, outbox.SMS}, []string{keyCode, keyMinutes}},
	// A security notice's one link is its freeze link (SPEC §1, §9).
	{KindChannel{outbox.PasswordChanged, outbox.Email}, []string{keyTime, keyFreezeURL}},
	{KindChannel{outbox.PasswordChanged, outbox.SMS}, []string{keyTime, keyFreezeURL}},
	{KindChannel{outbox.ChannelChanged, outbox.Email}, []string{keyTime, keyFreezeURL}},
	{KindChannel{outbox.ChannelChanged, outbox.SMS}, []string{keyTime, keyFreezeURL}},
	{KindChannel{outbox.ChannelUpdated, outbox.Email}, []string{keyTime, keyChange, keyFreezeURL}},
	{KindChannel{outbox.ChannelUpdated, outbox.SMS}, []string{keyTime, keyChange, keyFreezeURL}},
	{KindChannel{outbox.ChannelLink, outbox.Email}, []string{keyLink, keyMinutes}},
	{KindChannel{outbox.ChannelCode, outbox.SMS}, []string{keyCode, keyMinutes}},
	{KindChannel{outbox.ChannelTaken, outbox.Email}, []string{keyTime}},
	{KindChannel{outbox.ChannelTaken, outbox.SMS}, []string{keyTime}},
	{KindChannel{outbox.AccountFrozen, outbox.Email}, []string{keyTime, keyRecoveryURL}},
	{KindChannel{outbox.AccountFrozen, outbox.SMS}, []string{keyTime, keyRecoveryURL}},
	// The deletion notice also carries the link that cancels the deletion (SPEC §9).
	{KindChannel{outbox.DeletionScheduled, outbox.Email}, []string{keyTime, keyLink, keyFreezeURL}},
	{KindChannel{outbox.DeletionScheduled, outbox.SMS}, []string{keyTime, keyLink, keyFreezeURL}},
}

// view is what templates see. Fields a kind does not declare stay empty.
type view struct {
	Lang    string
	Product string
	// Support is the sentence naming the support contact ("Support: …"), or "".
	Support string
	// Subject is the rendered subject, for the HTML <title>.
	Subject string
	Link    string
	Code    string
	Minutes int
	// Hours is Minutes in whole hours, 0 when it is not a whole number of hours: a link's
	// lifetime reads «24 сағат», not «1440 минут».
	Hours       int
	RecoveryURL string
	// FreezeURL is a security notice's "this wasn't me" link.
	FreezeURL string
	// Change is which channel change a ChannelUpdated notice tells of (outbox.Change…).
	Change string
	// Time is the local date and time ("25.11.2026 14:05"); Zone its UTC offset ("UTC+5").
	Time string
	Zone string
}

// action is a link with its button label, for the layout's "button" template.
type action struct {
	URL   string
	Label string
}

type compiled struct {
	keys    []string
	subject *texttemplate.Template // e-mail only
	text    *texttemplate.Template // e-mail plain text, or the SMS
	html    *htmltemplate.Template // e-mail only
}

type key struct {
	lang string
	kc   KindChannel
}

// Renderer renders messages. It is safe for concurrent use.
type Renderer struct {
	product string
	names   map[string]string
	support string
	loc     *time.Location
	tmpl    map[key]*compiled
}

// New returns a Renderer with every template parsed and tried once with sample data. It
// panics if a template is missing, does not parse or fails to execute (a defect of the
// binary, caught by this package's tests) or if cfg.ProductName contains a control
// character.
func New(cfg Config) *Renderer {
	r, err := build(cfg, templateFS)
	if err != nil {
		panic(err.Error())
	}
	return r
}

// build is New with the templates read from fsys.
func build(cfg Config, fsys fs.FS) (*Renderer, error) {
	r := &Renderer{product: strings.TrimSpace(cfg.ProductName), loc: cfg.Location, tmpl: map[key]*compiled{},
		names: map[string]string{}, support: strings.TrimSpace(cfg.Support)}
	if r.product == "" {
		r.product = "Kilt"
	}
	if hasControl(r.product) {
		return nil, errors.New("notify: ProductName contains a control character")
	}
	for l, n := range cfg.Names {
		if n = strings.TrimSpace(n); n != "" {
			if hasControl(n) {
				return nil, errors.New("notify: a name in Names contains a control character")
			}
			r.names[l] = n
		}
	}
	if hasControl(r.support) {
		return nil, errors.New("notify: Support contains a control character")
	}
	if r.loc == nil {
		r.loc = defaultLocation()
	}
	accent := cfg.Accent
	if accent == "" {
		accent = defaultAccent
	}
	if !hexColour.MatchString(accent) {
		return nil, errors.New("notify: Accent is not a #rrggbb colour")
	}
	for _, lang := range langs {
		for _, m := range catalog {
			c, err := parse(fsys, lang, m.KindChannel, accent)
			if err != nil {
				return nil, fmt.Errorf("notify: templates %s/%s: %w", lang, m.KindChannel, err)
			}
			c.keys = m.keys
			r.tmpl[key{lang, m.KindChannel}] = c
		}
	}
	// A template naming a field that does not exist fails only when executed, and
	// html/template checks its escaping contexts at the first execution: try each once
	// now rather than fail on a real message.
	for _, lang := range langs {
		for _, m := range catalog {
			sample := map[string]string{}
			for _, k := range m.keys {
				sample[k] = sampleData[k]
			}
			if _, err := r.Render(m.Kind, m.Channel, lang, sample); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// sampleData is a valid value of each data key, for the trial render in build.
var sampleData = map[string]string{
	keyLink:        "https://example.com/confirm/sample",
	keyCode:        "000000",
	keyMinutes:     "1",
	keyRecoveryURL: "https://example.com/recovery",
	keyTime:        "2000-01-01T00:00:00Z",
	keyFreezeURL:   "https://example.com/freeze?token=sample",
	keyChange:      outbox.ChangeEmailAdded,
}

// defaultLocation returns Asia/Almaty. With time/tzdata embedded it always loads; the fixed
// zone is a last resort that keeps the name and today's offset.
func defaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Asia/Almaty"); err == nil {
		return loc
	}
	return time.FixedZone("Asia/Almaty", 5*60*60)
}

func parse(fsys fs.FS, lang string, kc KindChannel, accent string) (*compiled, error) {
	base := lang + "/" + string(kc.Kind)
	funcs := funcMap(lang, accent)
	c := &compiled{}
	if kc.Channel == outbox.SMS {
		t, err := parseText(fsys, funcs, "sms", base+".sms.tmpl")
		c.text = t
		return c, err
	}
	var err error
	if c.subject, err = parseText(fsys, funcs, "subject", base+".subject.tmpl"); err != nil {
		return nil, err
	}
	if c.text, err = parseText(fsys, funcs, "layout", "layout.txt.tmpl", lang+"/common.txt.tmpl", base+".txt.tmpl"); err != nil {
		return nil, err
	}
	if c.html, err = parseHTML(fsys, funcs, lang+"/common.html.tmpl", base+".html.tmpl"); err != nil {
		return nil, err
	}
	return c, nil
}

// parseText parses files into one set: the first under name, the last under "content"
// (the body a layout includes), any between as they are (they define named templates).
func parseText(fsys fs.FS, funcs map[string]any, name string, files ...string) (*texttemplate.Template, error) {
	t := texttemplate.New(name).Funcs(funcs)
	for i, f := range files {
		b, err := fs.ReadFile(fsys, "templates/"+f)
		if err != nil {
			return nil, err
		}
		tt := t.New(f)
		switch {
		case i == 0:
			tt = t
		case i == len(files)-1:
			tt = t.New("content")
		}
		if _, err := tt.Parse(string(b)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func parseHTML(fsys fs.FS, funcs map[string]any, common, content string) (*htmltemplate.Template, error) {
	t := htmltemplate.New("layout").Funcs(funcs)
	for _, f := range []struct {
		t    *htmltemplate.Template
		file string
	}{
		{t, "layout.html.tmpl"}, {t.New("common"), common}, {t.New("content"), content},
	} {
		b, err := fs.ReadFile(fsys, "templates/"+f.file)
		if err != nil {
			return nil, err
		}
		if _, err := f.t.Parse(string(b)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// funcMap returns the template functions of lang:
//
//	plural N FORMS… — the form of a word for the number N: Russian one, few, many; English
//	    one, other; Kazakh does not inflect a noun after a number, so one form.
//	action URL LABEL — a link and its button label, for {{template "button" …}}.
//	accent — the colour of buttons and links.
func funcMap(lang, accent string) map[string]any {
	return map[string]any{
		"plural": func(n int, forms ...string) (string, error) {
			order := map[string]int{"one": 0, "few": 1, "many": 2}
			if lang != "ru" {
				order = map[string]int{"one": 0, "other": 1}
			}
			if len(forms) == 1 {
				return forms[0], nil
			}
			if len(forms) != len(order) {
				return "", fmt.Errorf("plural: %d forms for %s, want 1 or %d", len(forms), lang, len(order))
			}
			return forms[order[i18n.PluralForm(lang, n)]], nil
		},
		"action": func(url, label string) action { return action{URL: url, Label: label} },
		"accent": func() htmltemplate.CSS { return htmltemplate.CSS(accent) },
	}
}

// Kinds returns every kind and channel the Renderer can render, in a fixed order.
func (r *Renderer) Kinds() []KindChannel {
	out := make([]KindChannel, len(catalog))
	for i, m := range catalog {
		out[i] = m.KindChannel
	}
	return out
}

// Render renders the message kind for channel ch in lang with data. It fills Channel, Lang,
// and Subject, Text and HTML for e-mail or Text for SMS; To and ID are the caller's.
// An unsupported lang renders in DefaultLang. It returns an error, and no message, for an
// unknown kind/channel pair or bad data (see the package doc); the error never contains a
// data value.
func (r *Renderer) Render(kind outbox.Kind, ch outbox.Channel, lang string, data map[string]string) (outbox.Rendered, error) {
	kc := KindChannel{kind, ch}
	lang = normalizeLang(lang)
	c, ok := r.tmpl[key{lang, kc}]
	if !ok {
		return outbox.Rendered{}, kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "notify: no message %s", kc)
	}
	// Every value is checked, used or not: a caller that lets CR/LF into one has a bug.
	for k, v := range data {
		if hasControl(v) {
			return outbox.Rendered{}, kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "notify: %s: data %q contains a control character", kc, k)
		}
	}
	v, err := r.view(kc, c.keys, lang, data)
	if err != nil {
		return outbox.Rendered{}, err
	}
	out := outbox.Rendered{Channel: ch, Lang: lang}
	if ch == outbox.SMS {
		if out.Text, err = execText(c.text, v); err != nil {
			return outbox.Rendered{}, r.execError(kc, lang, err)
		}
		out.Text = withSupport(strings.TrimSpace(out.Text), v.Support)
		// A long product name must not make an SMS cost one more segment: the name is the
		// one part the message can do without. The support contact stays: it is how a
		// citizen who did not ask for the message reaches a person.
		if n := Segments(out.Text); n > 1 && v.Product != "" {
			v.Product = ""
			if short, err := execText(c.text, v); err == nil && Segments(withSupport(strings.TrimSpace(short), v.Support)) < n {
				out.Text = withSupport(strings.TrimSpace(short), v.Support)
			}
		}
		return out, nil
	}
	if out.Subject, err = execText(c.subject, v); err != nil {
		return outbox.Rendered{}, r.execError(kc, lang, err)
	}
	out.Subject = strings.TrimSpace(out.Subject)
	if strings.ContainsAny(out.Subject, "\r\n") {
		return outbox.Rendered{}, kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "notify: %s/%s: subject has a line break", lang, kc)
	}
	v.Subject = out.Subject
	if out.Text, err = execText(c.text, v); err != nil {
		return outbox.Rendered{}, r.execError(kc, lang, err)
	}
	out.Text = tidyText(out.Text)
	var b bytes.Buffer
	if err := c.html.Execute(&b, v); err != nil {
		return outbox.Rendered{}, r.execError(kc, lang, err)
	}
	out.HTML = b.String()
	return out, nil
}

// withSupport ends an SMS with the support contact, on a line of its own.
func withSupport(text, support string) string {
	if support == "" {
		return text
	}
	return text + "\n" + support
}

// tidyText trims the text and keeps at most one blank line between paragraphs, so that
// templates may end with a newline or not.
func tidyText(s string) string {
	s = strings.TrimSpace(s)
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return s + "\n"
}

func execText(t *texttemplate.Template, v view) (string, error) {
	var b strings.Builder
	err := t.Execute(&b, v)
	return b.String(), err
}

// execError wraps a template execution error. Such errors name templates and fields, not
// values, so they cannot carry a secret.
func (r *Renderer) execError(kc KindChannel, lang string, err error) error {
	return kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "notify: %s/%s: %w", lang, kc, err)
}

// view checks the keys kc needs and copies only those into the view.
func (r *Renderer) view(kc KindChannel, keys []string, lang string, data map[string]string) (view, error) {
	v := view{Lang: lang, Product: r.product}
	if n := r.names[lang]; n != "" {
		v.Product = n
	}
	if r.support != "" {
		v.Support = i18n.T(lang, "support_contact", "contact", r.support)
	}
	for _, k := range keys {
		val := data[k]
		if strings.TrimSpace(val) == "" {
			return view{}, kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "notify: %s: data %q missing", kc, k)
		}
		bad := func(why string) error {
			return kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "notify: %s: data %q %s", kc, k, why)
		}
		switch k {
		case keyLink, keyRecoveryURL, keyFreezeURL:
			if !isWebURL(val) {
				return view{}, bad("is not an absolute http(s) URL")
			}
			switch k {
			case keyLink:
				v.Link = val
			case keyFreezeURL:
				v.FreezeURL = val
			default:
				v.RecoveryURL = val
			}
		case keyChange:
			if !slices.Contains(changes, val) {
				return view{}, bad("is not a known change")
			}
			v.Change = val
		case keyCode:
			v.Code = val
		case keyMinutes:
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 || strconv.Itoa(n) != val {
				return view{}, bad("is not a positive number of minutes")
			}
			v.Minutes = n
			if n%60 == 0 {
				v.Hours = n / 60
			}
		case keyTime:
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				return view{}, bad("is not an RFC 3339 time")
			}
			v.Time, v.Zone = formatTime(t.In(r.loc), lang)
		}
	}
	return v, nil
}

// formatTime returns t's date and time in lang's usual form and its UTC offset.
func formatTime(t time.Time, lang string) (local, zone string) {
	layout := "02.01.2006 15:04"
	if lang == "en" {
		layout = "2 Jan 2006 15:04"
	}
	_, off := t.Zone()
	zone = "UTC"
	if off != 0 {
		sign := "+"
		if off < 0 {
			sign, off = "-", -off
		}
		zone += sign + strconv.Itoa(off/3600)
		if m := off % 3600 / 60; m != 0 {
			zone += fmt.Sprintf(":%02d", m)
		}
	}
	return t.Format(layout), zone
}

func normalizeLang(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	for _, l := range langs {
		if l == lang {
			return l
		}
	}
	return DefaultLang
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// hasControl reports whether s has a control character (CR, LF, tab, …) or a Unicode line
// or paragraph separator: any of them could break a header line or an SMS.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	})
}
