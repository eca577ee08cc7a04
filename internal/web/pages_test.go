package web_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"kilt/internal/account"
	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

// pageCase is a page and what it must show.
type pageCase struct {
	name string
	// open brings the browser to the page and returns it.
	open func(b *browser) *response
	// keys are catalog keys whose text the page shows.
	keys []string
}

// pageFixture is one Kilt with the state every page needs: an account, a recovery link, an
// e-mail registration's link and a phone registration.
type pageFixture struct {
	e            *kilttest.Env
	resetLink    string
	confirmLink  string
	registration string
	freezeLink   string
	// deletionLink is the cancel link of a pending deletion (another account's).
	deletionLink string
}

func newPageFixture(t *testing.T) *pageFixture {
	t.Helper()
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "page@mail.kz", "+77011234567", goodPassword)
	f := &pageFixture{e: e}
	b := newBrowser(t, e)
	if r := b.post("/recovery/email", url.Values{"email": {"page@mail.kz"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("recovery request: %d", r.Status)
	}
	f.resetLink = e.LatestLink(t, "page@mail.kz", "/recovery/reset?token=")
	r := b.post("/register", url.Values{"by": {"email"}, "email": {"fresh@mail.kz"}, "password": {goodPassword}, "password_confirm": {goodPassword}, "consent_version": {kilttest.ConsentVersion}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("registration by e-mail: %d\n%s", r.Status, r.Body)
	}
	f.confirmLink = e.LatestLink(t, "fresh@mail.kz", "/register/confirm?token=")
	r = b.post("/register", url.Values{"by": {"phone"}, "phone": {"+7 747 123 45 67"}, "password": {goodPassword}, "password_confirm": {goodPassword}, "consent_version": {kilttest.ConsentVersion}})
	u, err := url.Parse(r.Location)
	if r.Status != http.StatusSeeOther || err != nil || u.Query().Get("id") == "" {
		t.Fatalf("registration by phone: %d to %q", r.Status, r.Location)
	}
	f.registration = u.Query().Get("id")
	// A security notice's freeze link (a change of password of an account of its own).
	addAccount(t, e, "freeze@mail.kz", "", goodPassword)
	fb := newBrowser(t, e)
	fb.signIn("freeze@mail.kz", goodPassword)
	fb.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {newPassword}, "password_confirm": {newPassword}})
	f.freezeLink = e.LatestLink(t, "freeze@mail.kz", "/freeze?token=")
	gone := addAccount(t, e, "gone@mail.kz", "", goodPassword)
	if _, err := e.App.Accounts.RequestDeletion(t.Context(), gone.ID, goodPassword, account.Client{Lang: "kk"}); err != nil {
		t.Fatal(err)
	}
	f.deletionLink = e.LatestLink(t, "gone@mail.kz", "/deletion/cancel?token=")
	return f
}

func (f *pageFixture) cases() []pageCase {
	get := func(path string) func(b *browser) *response {
		return func(b *browser) *response { return b.get(path) }
	}
	return []pageCase{
		{"login", get("/login"), []string{"title_login", "label_identifier", "label_password", "link_forgot", "button_login", "link_register", "show_label_password"}},
		{"register by e-mail", get("/register"), []string{"title_register", "register_by_email", "register_by_phone", "label_email",
			"label_password", "label_password_confirm", "button_register", "password_rules_title", "rule_password_no_digit", "show_label_password", "show_label_password_confirm"}},
		{"register by phone", get("/register?by=phone"), []string{"title_register", "label_phone", "hint_phone", "label_password", "button_register"}},
		{"register sent", get("/register/sent"), []string{"title_register_sent", "register_email_sent", "register_email_check"}},
		{"register confirm link", func(b *browser) *response { return b.follow(b.open(f.confirmLink)) },
			[]string{"title_register_confirm", "register_confirm_intro", "button_confirm"}},
		{"register confirm code", get("/register/confirm?id=" + f.registration),
			[]string{"title_register_confirm", "register_code_sent", "label_code", "hint_code", "button_send", "button_resend",
				"text_no_code", "link_change_phone", "link_back_register"}},
		{"recovery", get("/recovery"), []string{"title_recovery", "recovery_by_email", "recovery_by_phone", "recovery_email_intro",
			"label_email", "button_send"}},
		{"recovery e-mail sent", get("/recovery/email/sent"), []string{"recovery_email_sent", "recovery_email_check", "text_no_mail",
			"mail_help", "link_change_email"}},
		{"recovery desk", get("/recovery/desk"), []string{"title_recovery_desk", "recovery_desk_intro", "label_desk_code", "hint_desk_code", "button_continue"}},
		{"recovery phone", get("/recovery?by=phone"), []string{"title_recovery", "recovery_by_phone", "recovery_phone_intro", "label_phone",
			"button_send_code"}},
		{"recovery phone code", func(b *browser) *response {
			return b.post("/recovery/phone", url.Values{"phone": {"+7 701 123 45 67"}})
		}, []string{"title_recovery", "recovery_phone_sent", "label_code", "button_send", "button_resend", "text_no_code", "sms_help", "link_change_phone"}},
		{"reset", func(b *browser) *response { return b.follow(b.open(f.resetLink)) },
			[]string{"title_reset", "reset_intro", "label_password", "label_password_confirm", "button_save", "show_label_password", "show_label_password_confirm", "password_rules_title"}},
		{"account", func(b *browser) *response {
			b.signIn("page@mail.kz", goodPassword)
			return b.get("/account")
		}, []string{"title_account", "account_details", "verified", "account_change_password", "label_current_password",
			"label_new_password", "button_save", "button_logout", "button_logout_everywhere", "account_activity", "event_login_succeeded"}},
		{"account channels", func(b *browser) *response {
			b.signIn("page@mail.kz", goodPassword)
			return b.get("/account")
		}, []string{"account_channels", "account_channels_text", "channel_replace_email", "channel_replace_phone", "label_new_email",
			"label_new_phone", "button_send_link", "button_send_code", "channel_remove_email_text", "button_remove_email"}},
		{"channel code", func(b *browser) *response {
			b.signIn("page@mail.kz", goodPassword)
			return b.follow(b.post("/account/channels", url.Values{"kind": {"phone"}, "new_channel": {"+7 708 123 45 67"},
				"current_password": {goodPassword}}))
		}, []string{"title_channel", "channel_code_intro", "label_code", "button_send", "button_resend", "link_back_to_account"}},
		{"channel link", func(b *browser) *response {
			b.signIn("page@mail.kz", goodPassword)
			return b.follow(b.post("/account/channels", url.Values{"kind": {"email"}, "new_channel": {"other@mail.kz"},
				"current_password": {goodPassword}}))
		}, []string{"title_channel", "channel_link_intro", "button_resend_link"}},
		{"channel confirm", func(b *browser) *response {
			b.signIn("page@mail.kz", goodPassword)
			b.post("/account/channels", url.Values{"kind": {"email"}, "new_channel": {"other@mail.kz"}, "current_password": {goodPassword}})
			return b.follow(b.open(f.e.LatestLink(b.t, "other@mail.kz", "/account/channels/confirm?token=")))
		}, []string{"title_channel_confirm", "channel_confirm_intro", "button_confirm_address"}},
		{"freeze", func(b *browser) *response { return b.follow(b.open(f.freezeLink)) },
			[]string{"title_freeze", "freeze_intro", "freeze_effect_sessions", "freeze_effect_links", "freeze_effect_revert",
				"freeze_effect_signin", "button_freeze", "freeze_cancel"}},
		{"account sessions and deletion", func(b *browser) *response {
			b.signIn("page@mail.kz", goodPassword)
			return b.get("/account")
		}, []string{"account_sessions", "session_this_device", "account_data", "link_download_data", "account_delete",
			"label_delete_confirm", "button_delete_account", "label_current_password"}},
		{"deletion cancel link", func(b *browser) *response { return b.follow(b.open(f.deletionLink)) },
			[]string{"title_deletion_cancel", "deletion_cancel_question", "button_cancel_deletion"}},
		{"account with a pending deletion", func(b *browser) *response {
			b.signIn("gone@mail.kz", goodPassword)
			return b.get("/account")
		}, []string{"button_cancel_deletion", "account_sessions", "session_this_device", "button_end_other_sessions",
			"account_data", "link_download_data", "account_delete"}},
		{"logout", func(b *browser) *response {
			b.signIn("page@mail.kz", goodPassword)
			return b.get("/logout")
		}, []string{"title_logout", "logout_question", "button_logout"}},
	}
}

// TestPagesRender renders every page in every language: 200, <html lang>, the page's
// labels in that language, and markup the CSP allows and assistive technology can use.
func TestPagesRender(t *testing.T) {
	f := newPageFixture(t)
	for _, lang := range i18n.Langs {
		for _, c := range f.cases() {
			t.Run(lang+"/"+c.name, func(t *testing.T) {
				b := newBrowserIn(t, f.e, lang)
				r := c.open(b)
				if r.Status != http.StatusOK {
					t.Fatalf("got %d, want 200; body:\n%s", r.Status, r.Body)
				}
				if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				contains(t, "page", r.Body, `<html lang="`+lang+`">`)
				for _, k := range append(c.keys, "skip_to_content", "nav_language") {
					contains(t, "page", r.Body, text(i18n.T(lang, k)))
				}
				for _, l := range i18n.Langs {
					contains(t, "language switch", r.Body, i18n.T(l, "lang_name"))
				}
				checkMarkup(t, r.Body)
			})
		}
	}
}

// TestManualLabels: the Kazakh pages use the manual's labels verbatim, where the manual
// puts them.
func TestManualLabels(t *testing.T) {
	f := newPageFixture(t)
	b := newBrowserIn(t, f.e, "kk")
	contains(t, "login", b.get("/login").Body, `<a href="/recovery">Құпия сөзді ұмыттыңыз ба?</a>`)
	contains(t, "recovery by e-mail", b.get("/recovery").Body, `>Жіберу</button>`)
	r := b.follow(b.post("/recovery/email", url.Values{"email": {"page@mail.kz"}}))
	contains(t, "after «Жіберу»", r.Body, "Сіз көрсеткен e-mail-ге құпия сөзді қалпына келтіруге арналған қосымша нұсқаулық жіберілді")
	contains(t, "recovery by phone", b.get("/recovery?by=phone").Body, `>Кодты жіберу</button>`)
	r = b.post("/recovery/phone", url.Values{"phone": {"87011234567"}})
	contains(t, "after «Кодты жіберу»", r.Body, "Сіздің телефон нөміріңізге коды бар СМС жіберілді", `>Растау коды</label>`, `>Жіберу</button>`)
	r = b.follow(b.open(f.resetLink))
	contains(t, "reset", r.Body, `>Құпия сөз</label>`, `>Құпия сөзді қайталау</label>`, `>Сақтау</button>`)
	for _, page := range []string{"/login", "/recovery", "/recovery?by=phone"} {
		if body := b.get(page).Body; strings.Contains(body, "құпия сзді") {
			t.Errorf("%s copies the manual's typo", page)
		}
	}
}

var (
	idPattern       = regexp.MustCompile(`\sid="([^"]+)"`)
	inputPattern    = regexp.MustCompile(`<input [^>]*>`)
	attrPattern     = regexp.MustCompile(`\s([a-z-]+)="([^"]*)"`)
	scriptPattern   = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	handlerPattern  = regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	styleAttr       = regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	describedByAttr = regexp.MustCompile(`aria-describedby="([^"]+)"`)
)

// checkMarkup fails the test for markup the CSP would block (inline script, style elements
// or attributes, event-handler attributes, javascript: URLs) and for markup assistive
// technology cannot use: a field without its label, a duplicated id, an aria-describedby
// naming nothing, a password field with a value or a maxlength under 128.
func checkMarkup(t *testing.T, body string) {
	t.Helper()
	lower := strings.ToLower(body)
	if strings.Contains(lower, "<style") {
		t.Error("page has a <style> element")
	}
	if styleAttr.MatchString(body) {
		t.Error("page has a style attribute")
	}
	if handlerPattern.MatchString(body) {
		t.Error("page has an event-handler attribute")
	}
	if strings.Contains(lower, "javascript:") {
		t.Error("page has a javascript: URL")
	}
	scripts := scriptPattern.FindAllStringSubmatch(body, -1)
	if len(scripts) != 1 {
		t.Errorf("got %d script elements, want the one static script", len(scripts))
	}
	for _, s := range scripts {
		if !strings.Contains(s[1], ` src="/static/app.`) || strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script: %q", s[0])
		}
	}
	ids := map[string]bool{}
	for _, m := range idPattern.FindAllStringSubmatch(body, -1) {
		if ids[m[1]] {
			t.Errorf("id %q appears twice", m[1])
		}
		ids[m[1]] = true
	}
	for _, m := range describedByAttr.FindAllStringSubmatch(body, -1) {
		for _, id := range strings.Fields(m[1]) {
			if !ids[id] {
				t.Errorf("aria-describedby names %q, which is not on the page", id)
			}
		}
	}
	for _, in := range inputPattern.FindAllString(body, -1) {
		attrs := map[string]string{}
		for _, a := range attrPattern.FindAllStringSubmatch(in, -1) {
			attrs[a[1]] = a[2]
		}
		if attrs["type"] == "hidden" {
			continue
		}
		if id := attrs["id"]; id == "" || !strings.Contains(body, `<label for="`+id+`">`) {
			t.Errorf("input without a label: %s", in)
		}
		// A checkbox (the registration's consent) has nothing for a browser to fill in.
		if attrs["autocomplete"] == "" && attrs["type"] != "checkbox" {
			t.Errorf("input without autocomplete: %s", in)
		}
		if attrs["type"] == "password" {
			if _, ok := attrs["value"]; ok {
				t.Errorf("password field with a value: %s", in)
			}
			if _, ok := attrs["maxlength"]; ok {
				t.Errorf("password field with a maxlength: %s", in)
			}
		}
	}
}

// TestStaticFiles: the stylesheet, script and icon are served under content-hashed names,
// cached for good; other names are not found.
func TestStaticFiles(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	b := newBrowser(t, e)
	body := b.get("/login").Body
	for _, c := range []struct{ name, pattern, ctype string }{
		{"stylesheet", `href="(/static/app\.([0-9a-f]{8})\.css)"`, "text/css; charset=utf-8"},
		{"script", `src="(/static/app\.([0-9a-f]{8})\.js)"`, "text/javascript; charset=utf-8"},
		{"icon", `href="(/static/icon\.([0-9a-f]{8})\.svg)"`, "image/svg+xml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := regexp.MustCompile(c.pattern).FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("the page does not refer to the %s by a hashed name", c.name)
			}
			r := b.get(m[1])
			if r.Status != http.StatusOK || r.Body == "" {
				t.Fatalf("GET %s: %d", m[1], r.Status)
			}
			if got, want := r.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
				t.Errorf("Cache-Control %q, want %q", got, want)
			}
			if got := r.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			sum := sha256.Sum256([]byte(r.Body))
			if got := hex.EncodeToString(sum[:4]); got != m[2] {
				t.Errorf("name hash %s, content hash %s", m[2], got)
			}
		})
	}
	for _, p := range []string{"/static/app.css", "/static/app.00000000.css", "/static/nope.js"} {
		if r := b.get(p); r.Status != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", p, r.Status)
		}
	}
}

// TestLanguage: ?lang= wins and is remembered in a cookie; then the cookie; then
// Accept-Language; then the default, Kazakh.
func TestLanguage(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	htmlLang := regexp.MustCompile(`<html lang="([a-z]+)">`)
	langOf := func(r *response) string {
		t.Helper()
		m := htmlLang.FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatalf("no <html lang> in %d response", r.Status)
		}
		return m[1]
	}
	b := newBrowser(t, e)
	if got := langOf(b.get("/login")); got != "kk" {
		t.Errorf("default: got %s, want kk", got)
	}
	if got := langOf(b.get("/login", "Accept-Language", "ru-RU,ru;q=0.9")); got != "ru" {
		t.Errorf("Accept-Language ru: got %s, want ru", got)
	}
	r := b.get("/recovery?lang=en", "Accept-Language", "ru")
	if got := langOf(r); got != "en" {
		t.Errorf("?lang=en: got %s, want en", got)
	}
	c := r.cookie("lang")
	if c == nil || c.Value != "en" || c.Path != "/" || c.MaxAge != 365*24*3600 || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("lang cookie: %+v, want en, Path=/, a year, SameSite=Lax", c)
	}
	for _, p := range []string{"/login", "/register", "/recovery?by=phone"} {
		if got := langOf(b.get(p, "Accept-Language", "ru")); got != "en" {
			t.Errorf("%s after choosing en: got %s", p, got)
		}
	}
	// The switch links keep the page and its query.
	contains(t, "switch", b.get("/register?by=phone").Body, `href="/register?by=phone&amp;lang=ru"`)
	if got := langOf(b.get("/login?lang=xx")); got != "en" {
		t.Errorf("unsupported ?lang=: got %s, want the remembered en", got)
	}
}

// TestFlashOnlyFromTable: a flash cookie shows a catalog text only for a known name; any
// other value shows nothing (no text from a cookie reaches a page).
func TestFlashOnlyFromTable(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	b := newBrowserIn(t, e, "en")
	u, _ := url.Parse(e.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "kilt_flash", Value: "signed_out", Path: "/"}})
	r := b.get("/login")
	contains(t, "login", r.Body, text(i18n.T("en", "flash_signed_out")))
	if c := r.cookie("kilt_flash"); c == nil || c.MaxAge >= 0 {
		t.Errorf("the flash cookie was not cleared: %+v", c)
	}
	if strings.Contains(b.get("/login").Body, text(i18n.T("en", "flash_signed_out"))) {
		t.Error("the flash was shown twice")
	}
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "kilt_flash", Value: "Pay_here_evil.example", Path: "/"}})
	if r := b.get("/login"); strings.Contains(r.Body, "evil") || strings.Contains(r.Body, "notice-") {
		t.Errorf("an unknown flash was shown:\n%s", r.Body)
	}
}

// TestErrorPage: an error with no form to show it on is a page of its own, in the
// request's language, with the error's status.
func TestErrorPage(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	for _, lang := range i18n.Langs {
		t.Run(lang, func(t *testing.T) {
			b := newBrowserIn(t, e, lang)
			r := b.post("/recovery/email", url.Values{"email": {strings.Repeat("a", 70<<10)}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("a form larger than allowed: got %d, want 400", r.Status)
			}
			contains(t, "error page", r.Body, `<html lang="`+lang+`">`, text(i18n.T(lang, "request_too_large")),
				text(i18n.T(lang, "title_error")), `href="/"`)
			checkMarkup(t, r.Body)
		})
	}
}
