package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

func TestRegistrationByEmail(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	b := newBrowserIn(t, e, "en")
	r := b.post("/register", url.Values{"by": {"email"}, "email": {"Dana@Mail.kz"}, "password": {goodPassword}, "password_confirm": {goodPassword}, "consent_version": {kilttest.ConsentVersion}})
	if r.Status != http.StatusSeeOther || r.Location != "/register/sent" {
		t.Fatalf("register: got %d to %q, want 303 to /register/sent; body:\n%s", r.Status, r.Location, r.Body)
	}
	contains(t, "sent page", b.follow(r).Body, text(i18n.T("en", "register_email_sent")))
	link := e.LatestLink(t, "Dana@mail.kz", "/register/confirm?token=")
	tok := tokenOf(t, link)

	// Opening the link (a mail scanner does it too) changes nothing: it only moves the token
	// out of the address bar.
	scanner := newBrowser(t, e)
	for _, br := range []*browser{scanner, b} {
		r = br.open(link)
		if r.Status != http.StatusSeeOther || r.Location != "/register/confirm" {
			t.Fatalf("opening the link: got %d to %q, want 303 to /register/confirm", r.Status, r.Location)
		}
		checkSecretHeaders(t, r)
		if c := r.cookie("kilt_confirm"); c == nil || c.Value != tok || c.Path != "/register/confirm" || !c.HttpOnly {
			t.Errorf("token cookie: %+v", c)
		}
	}
	if r := newBrowser(t, e).post("/login", url.Values{"identifier": {"dana@mail.kz"}, "password": {goodPassword}}); r.Status != http.StatusUnauthorized {
		t.Errorf("signed in before confirming: got %d, want 401", r.Status)
	}
	page := b.get("/register/confirm")
	if page.Status != http.StatusOK || hidden(page.Body, "token") != tok {
		t.Fatalf("confirm page: got %d, token field %q", page.Status, hidden(page.Body, "token"))
	}
	checkSecretHeaders(t, page)
	contains(t, "confirm page", page.Body, text(i18n.T("en", "button_confirm")))
	if c := page.cookie("kilt_confirm"); c == nil || c.MaxAge >= 0 {
		t.Errorf("the token cookie was not cleared: %+v", c)
	}

	// A wrong password confirms nothing; the form comes back with the token, never the password.
	r = b.post("/register/confirm", url.Values{"token": {tok}, "password": {"Not-The-One-42"}})
	if r.Status != http.StatusUnprocessableEntity || hidden(r.Body, "token") != tok || strings.Contains(r.Body, "Not-The-One-42") {
		t.Fatalf("a wrong password: got %d, token field %q; body:\n%s", r.Status, hidden(r.Body, "token"), r.Body)
	}
	contains(t, "a wrong password", r.Body, text(i18n.T("en", "password_incorrect")))
	r = b.post("/register/confirm", url.Values{"token": {tok}, "password": {goodPassword}})
	if r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("confirm: got %d to %q, want 303 to /login; body:\n%s", r.Status, r.Location, r.Body)
	}
	contains(t, "login after confirming", b.follow(r).Body, text(i18n.T("en", "flash_registered")))
	b.signIn("dana@mail.kz", goodPassword)
	contains(t, "account", b.get("/account").Body, "Dana@mail.kz", text(i18n.T("en", "verified")))

	r = b.post("/register/confirm", url.Values{"token": {tok}})
	if r.Status != http.StatusGone {
		t.Errorf("confirming again: got %d, want 410", r.Status)
	}
	contains(t, "confirming again", r.Body, text(i18n.T("en", "registration_invalid")), `href="/register"`)
	if strings.Contains(e.Log.String(), tok) {
		t.Error("the registration token is in the log")
	}
}

func TestRegistrationByPhone(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	b := newBrowserIn(t, e, "ru")
	r := b.post("/register", url.Values{"by": {"phone"}, "phone": {"8 747 123 45 67"}, "password": {goodPassword}, "password_confirm": {goodPassword}, "consent_version": {kilttest.ConsentVersion}})
	u, err := url.Parse(r.Location)
	if r.Status != http.StatusSeeOther || err != nil || u.Path != "/register/confirm" || u.Query().Get("id") == "" {
		t.Fatalf("register: got %d to %q, want 303 to /register/confirm?id=…; body:\n%s", r.Status, r.Location, r.Body)
	}
	id := u.Query().Get("id")
	page := b.follow(r)
	contains(t, "code page", page.Body, text(i18n.T("ru", "register_code_sent")), `<label for="code">`+text(i18n.T("ru", "label_code")))
	code := e.LatestCode(t, "+77471234567")

	r = b.post("/register/verify", url.Values{"id": {id}, "code": {wrongCode(code)}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong code: got %d, want 422", r.Status)
	}
	contains(t, "wrong code", r.Body, text(i18n.T("ru", "code_invalid")), text(i18n.N("ru", "code_attempts_left", 4)),
		`id="code-errors"`, `aria-invalid="true"`)
	if hidden(r.Body, "id") != id {
		t.Errorf("the registration id is not kept in the form")
	}
	// The code may be typed with spaces.
	r = b.post("/register/verify", url.Values{"id": {id}, "code": {code[:3] + " " + code[3:]}})
	if r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("right code: got %d to %q; body:\n%s", r.Status, r.Location, r.Body)
	}
	contains(t, "login", b.follow(r).Body, text(i18n.T("ru", "flash_registered")))
	b.signIn("87471234567", goodPassword)
}

// TestPolicyViolationShownByField: each broken rule is shown next to its field and tied to
// it, the identifier is kept, and no password is written back.
func TestPolicyViolationShownByField(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	b := newBrowserIn(t, e, "en")
	pw, confirm := "zhanna-secret", "zhanna-secreT"
	r := b.post("/register", url.Values{"by": {"email"}, "email": {"zhanna@mail.kz"}, "password": {pw}, "password_confirm": {confirm}, "consent_version": {kilttest.ConsentVersion}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("got %d, want 422", r.Status)
	}
	errorsOf := func(field string) string {
		m := regexp.MustCompile(`<ul class="field-errors" id="` + field + `-errors">(.*?)</ul>`).FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatalf("no messages next to %s", field)
		}
		return m[1]
	}
	contains(t, "password messages", errorsOf("password"), text(i18n.T("en", "password_no_upper")), text(i18n.T("en", "password_no_digit")))
	contains(t, "repeat messages", errorsOf("password_confirm"), text(i18n.T("en", "password_mismatch")))
	contains(t, "page", r.Body, `value="zhanna@mail.kz"`, `role="alert"`, `<a href="#password">`,
		`aria-invalid="true" aria-describedby="password-errors password-rules-status"`,
		`aria-invalid="true" aria-describedby="password_confirm-errors password_confirm-match"`)
	for _, secret := range []string{pw, confirm} {
		if strings.Contains(r.Body, secret) {
			t.Errorf("the page writes a password back")
		}
	}

	r = b.post("/register", url.Values{"by": {"email"}, "email": {"not an address"}, "password": {goodPassword}, "password_confirm": {goodPassword}, "consent_version": {kilttest.ConsentVersion}})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("bad address: got %d, want 400", r.Status)
	}
	contains(t, "bad address", r.Body, `id="email-errors"`, text(i18n.T("en", "invalid_email")), `value="not an address"`)
	if strings.Contains(r.Body, goodPassword) {
		t.Errorf("the page writes a password back")
	}
}

func TestLogin(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "known@mail.kz", "", goodPassword)
	b := newBrowserIn(t, e, "kk")
	wrong := b.post("/login", url.Values{"identifier": {"known@mail.kz"}, "password": {"Wrong-Password-1"}})
	unknown := b.post("/login", url.Values{"identifier": {"nobody@mail.kz"}, "password": {"Wrong-Password-1"}})
	if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
		t.Fatalf("got %d and %d, want 401 for both", wrong.Status, unknown.Status)
	}
	contains(t, "wrong password", wrong.Body, text(i18n.T("kk", "invalid_credentials")), `value="known@mail.kz"`)
	if got, want := strings.ReplaceAll(unknown.Body, "nobody@mail.kz", "known@mail.kz"), wrong.Body; got != want {
		t.Errorf("an unknown identifier and a wrong password answer differently:\n%s\n---\n%s", got, want)
	}
	if strings.Contains(wrong.Body, "Wrong-Password-1") {
		t.Error("the page writes the password back")
	}

	r := b.post("/login", url.Values{"identifier": {" KNOWN@mail.kz "}, "password": {goodPassword}})
	if r.Status != http.StatusSeeOther || r.Location != "/account" {
		t.Fatalf("sign in: got %d to %q", r.Status, r.Location)
	}
	c := r.cookie("kilt")
	if c == nil || len(c.Value) != 43 || c.Path != "/" || !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 0 {
		t.Fatalf("session cookie: %+v, want the API's: kilt, Path=/, HttpOnly, SameSite=Lax, not Secure on http, a browser session", c)
	}
	if api := e.Do(t, "GET", "/api/v1/sessions/current", nil, "Cookie", "kilt="+c.Value); api.Status != http.StatusOK {
		t.Errorf("the API does not know the page's session: %d", api.Status)
	}
	if r := b.get("/login"); r.Status != http.StatusSeeOther || r.Location != "/account" {
		t.Errorf("the sign-in page when signed in: got %d to %q, want 303 to /account", r.Status, r.Location)
	}
	if r := b.get("/"); r.Location != "/account" {
		t.Errorf("/ when signed in: to %q, want /account", r.Location)
	}
	// Signing in again renews the session: the old token is worth nothing.
	b.signIn("known@mail.kz", goodPassword)
	if api := e.Do(t, "GET", "/api/v1/sessions/current", nil, "Cookie", "kilt="+c.Value); api.Status != http.StatusUnauthorized {
		t.Errorf("the session from before signing in again: got %d, want 401", api.Status)
	}
	if r := newBrowser(t, e).get("/"); r.Location != "/login" {
		t.Errorf("/ when signed out: to %q, want /login", r.Location)
	}

	// Failures slow the identifier down: 429 with its message and Retry-After.
	var last *response
	for range 7 {
		last = b.post("/login", url.Values{"identifier": {"known@mail.kz"}, "password": {"Wrong-Password-1"}})
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after many failures: got %d, Retry-After %q, want 429 with Retry-After", last.Status, last.Header.Get("Retry-After"))
	}
	// It says how long, in seconds, and points to recovery.
	contains(t, "throttled", last.Body, text(i18n.N("kk", "login_throttled_wait", atoi(t, last.Header.Get("Retry-After")))),
		`<a href="/recovery">`+text(i18n.T("kk", "link_forgot"))+`</a>`)
}

func TestRecoveryByEmail(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
	before := newBrowser(t, e)
	before.signIn("aigerim@mail.kz", goodPassword)

	b := newBrowserIn(t, e, "kk")
	contains(t, "the form with two tabs", b.get("/recovery").Body, `<form method="post" action="/recovery/email"`,
		`href="/recovery" aria-current="page"`, `href="/recovery?by=phone"`)
	r := b.post("/recovery/email", url.Values{"email": {"Aigerim@MAIL.kz"}})
	if r.Status != http.StatusSeeOther || r.Location != "/recovery/email/sent" {
		t.Fatalf("request: got %d to %q; body:\n%s", r.Status, r.Location, r.Body)
	}
	sent := b.follow(r)
	contains(t, "sent", sent.Body, "Сіз көрсеткен e-mail-ге құпия сөзді қалпына келтіруге арналған қосымша нұсқаулық жіберілді")
	// An address without an account gets the same answer.
	o := newBrowserIn(t, e, "kk")
	r = o.post("/recovery/email", url.Values{"email": {"nobody@mail.kz"}})
	if r.Status != http.StatusSeeOther || r.Location != "/recovery/email/sent" || destless(o.follow(r).Body) != destless(sent.Body) {
		t.Errorf("an unknown address is answered differently: %d to %q", r.Status, r.Location)
	}

	link := e.LatestLink(t, "aigerim@mail.kz", "/recovery/reset?token=")
	tok := tokenOf(t, link)
	// Opening the link changes nothing on the server: it moves the token into a cookie and
	// sends the browser to the clean address.
	r = b.open(link)
	if r.Status != http.StatusSeeOther || r.Location != "/recovery/reset" {
		t.Fatalf("opening the link: got %d to %q, want 303 to /recovery/reset", r.Status, r.Location)
	}
	checkSecretHeaders(t, r)
	c := r.cookie("kilt_reset")
	if c == nil || c.Value != tok || c.Path != "/recovery/reset" || !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 1800 {
		t.Fatalf("token cookie: %+v, want the token, Path=/recovery/reset, HttpOnly, SameSite=Lax, 30 min", c)
	}
	page := b.get("/recovery/reset")
	if page.Status != http.StatusOK || hidden(page.Body, "token") != tok {
		t.Fatalf("reset page: got %d, token field %q", page.Status, hidden(page.Body, "token"))
	}
	checkSecretHeaders(t, page)
	if c := page.cookie("kilt_reset"); c == nil || c.MaxAge >= 0 {
		t.Errorf("the token cookie was not cleared: %+v", c)
	}
	// Without the cookie (a reload), the page has no token: the one message, and the way back.
	again := b.get("/recovery/reset")
	if again.Status != http.StatusGone {
		t.Errorf("reload: got %d, want 410", again.Status)
	}
	contains(t, "reload", again.Body, text(i18n.T("kk", "link_invalid")), `href="/recovery"`)

	// The language switch posts the form, keeping the token.
	r = b.post("/recovery/reset", url.Values{"token": {tok}, "lang": {"ru"}})
	if r.Status != http.StatusOK || hidden(r.Body, "token") != tok || !strings.Contains(r.Body, `<html lang="ru">`) {
		t.Errorf("language switch: got %d, lang ru %v, token kept %v", r.Status, strings.Contains(r.Body, `<html lang="ru">`), hidden(r.Body, "token") == tok)
	}
	b.get("/login?lang=kk")

	// A password the policy refuses keeps the link usable; the password is not written back.
	r = b.post("/recovery/reset", url.Values{"token": {tok}, "password": {"weakpass"}, "password_confirm": {"weakpass"}})
	if r.Status != http.StatusUnprocessableEntity || hidden(r.Body, "token") != tok {
		t.Fatalf("weak password: got %d, want 422 with the token kept", r.Status)
	}
	contains(t, "weak password", r.Body, `id="password-errors"`, text(i18n.T("kk", "password_no_upper")))
	if strings.Contains(r.Body, "weakpass") {
		t.Error("the page writes the password back")
	}
	checkSecretHeaders(t, r)
	r = b.post("/recovery/reset", url.Values{"token": {tok}, "password": {goodPassword}, "password_confirm": {goodPassword}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, text(i18n.T("kk", "password_reused", "history", 6))) {
		t.Errorf("the current password: got %d, want 422 password_reused", r.Status)
	}

	r = b.post("/recovery/reset", url.Values{"token": {tok}, "password": {newPassword}, "password_confirm": {newPassword}})
	if r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("Сақтау: got %d to %q; body:\n%s", r.Status, r.Location, r.Body)
	}
	contains(t, "login after the reset", b.follow(r).Body, text(i18n.T("kk", "flash_password_reset")))
	if r := b.post("/login", url.Values{"identifier": {"aigerim@mail.kz"}, "password": {goodPassword}}); r.Status != http.StatusUnauthorized {
		t.Errorf("the old password: got %d, want 401", r.Status)
	}
	b.signIn("aigerim@mail.kz", newPassword)
	if before.signedIn() {
		t.Error("a session from before the reset survived")
	}
	// The used link: the same one message.
	r = b.follow(b.open(link))
	if r.Status != http.StatusGone {
		t.Errorf("the used link: got %d, want 410", r.Status)
	}
	contains(t, "used link", r.Body, text(i18n.T("kk", "link_invalid")))
	if strings.Contains(e.Log.String(), tok) {
		t.Error("the token is in the log")
	}
}

// TestResetLinkGETChangesNothing: opening the link, and the clean page, any number of
// times leave the token usable.
func TestResetLinkGETChangesNothing(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
	newBrowser(t, e).post("/recovery/email", url.Values{"email": {"aigerim@mail.kz"}})
	link := e.LatestLink(t, "aigerim@mail.kz", "/recovery/reset?token=")
	tok := tokenOf(t, link)
	for range 3 {
		b := newBrowser(t, e)
		if r := b.follow(b.open(link)); r.Status != http.StatusOK {
			t.Fatalf("the page of the link: got %d, want 200", r.Status)
		}
		req, err := http.NewRequest("HEAD", e.URL+"/recovery/reset?token="+tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := b.do(req); r.Status != http.StatusSeeOther {
			t.Fatalf("HEAD of the link: got %d, want 303", r.Status)
		}
	}
	r := e.Do(t, "POST", "/api/v1/recovery/reset", map[string]string{"token": tok, "password": newPassword, "password_confirm": newPassword})
	if r.Status != http.StatusNoContent {
		t.Fatalf("the token after the GETs: got %d %s, want 204", r.Status, r.Body)
	}
	if strings.Contains(e.Log.String(), tok) {
		t.Error("the token is in the log")
	}
}

func TestRecoveryByPhone(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "", "+77011234567", goodPassword)
	before := newBrowser(t, e)
	before.signIn("+77011234567", goodPassword)

	b := newBrowserIn(t, e, "ru")
	r := b.post("/recovery/phone", url.Values{"phone": {"8 701 123 45 67"}})
	if r.Status != http.StatusOK {
		t.Fatalf("«Кодты жіберу»: got %d; body:\n%s", r.Status, r.Body)
	}
	contains(t, "code step", r.Body, text(i18n.T("ru", "recovery_phone_sent")), `<label for="code">`+text(i18n.T("ru", "label_code")),
		`autocomplete="one-time-code"`, `data-countdown="60"`, `<span class="seconds">60</span>`)
	flow := hidden(r.Body, "flow_id")
	if flow == "" {
		t.Fatal("no flow id in the form")
	}
	// A number without an account gets the same screen.
	o := newBrowserIn(t, e, "ru").post("/recovery/phone", url.Values{"phone": {"8 701 999 88 77"}})
	if o.Status != http.StatusOK || flowless(o.Body) != flowless(r.Body) {
		t.Errorf("an unknown number is answered differently:\n%s\n---\n%s", flowless(o.Body), flowless(r.Body))
	}
	form := func(code string) url.Values {
		v := url.Values{"flow_id": {flow}, "phone": {"8 701 123 45 67"}, "resend_at": {hidden(r.Body, "resend_at")}}
		if code != "" {
			v.Set("code", code)
		}
		return v
	}

	// "Send again" honours the cool-down and says how long is left.
	e.Clock.Advance(20 * time.Second)
	r2 := b.post("/recovery/phone/resend", form(""))
	if r2.Status != http.StatusTooManyRequests || r2.Header.Get("Retry-After") != "40" {
		t.Fatalf("resend too soon: got %d, Retry-After %q, want 429 and 40", r2.Status, r2.Header.Get("Retry-After"))
	}
	contains(t, "resend too soon", r2.Body, text(i18n.T("ru", "resend_too_soon")), `data-countdown="40"`, `<span class="seconds">40</span>`)
	// After a wrong code the countdown still shows what is left.
	e.Clock.Advance(5 * time.Second)
	code := e.LatestCode(t, "+77011234567")
	r2 = b.post("/recovery/phone/verify", form(wrongCode(code)))
	if r2.Status != http.StatusUnprocessableEntity || hidden(r2.Body, "flow_id") != flow {
		t.Fatalf("wrong code: got %d, want 422 with the flow kept", r2.Status)
	}
	contains(t, "wrong code", r2.Body, text(i18n.T("ru", "code_invalid")), text(i18n.N("ru", "code_attempts_left", 4)),
		`id="code-errors"`, `data-countdown="35"`)
	// The language switch of the code step keeps the flow.
	r2 = b.post("/recovery/phone/verify", url.Values{"flow_id": {flow}, "phone": {"8 701 123 45 67"}, "lang": {"kk"}})
	if r2.Status != http.StatusOK || hidden(r2.Body, "flow_id") != flow || !strings.Contains(r2.Body, `<html lang="kk">`) {
		t.Errorf("language switch: got %d, flow kept %v", r2.Status, hidden(r2.Body, "flow_id") == flow)
	}
	contains(t, "code step in kk", r2.Body, `>Растау коды</label>`)
	b.get("/login?lang=ru")

	e.Clock.Advance(36 * time.Second)
	r2 = b.post("/recovery/phone/resend", form(""))
	if r2.Status != http.StatusOK {
		t.Fatalf("resend after the cool-down: got %d; body:\n%s", r2.Status, r2.Body)
	}
	contains(t, "resent", r2.Body, text(i18n.T("ru", "recovery_phone_sent")), `data-countdown="60"`)
	code = e.LatestCode(t, "+77011234567")

	r2 = b.post("/recovery/phone/verify", form(code))
	if r2.Status != http.StatusSeeOther || r2.Location != "/recovery/reset" {
		t.Fatalf("right code: got %d to %q, want 303 to /recovery/reset; body:\n%s", r2.Status, r2.Location, r2.Body)
	}
	checkSecretHeaders(t, r2)
	c := r2.cookie("kilt_reset")
	if c == nil || c.Path != "/recovery/reset" || !c.HttpOnly || c.MaxAge != 900 {
		t.Fatalf("reset token cookie: %+v, want Path=/recovery/reset, HttpOnly, 15 min", c)
	}
	page := b.follow(r2)
	if page.Status != http.StatusOK || hidden(page.Body, "token") != c.Value {
		t.Fatalf("reset page: got %d", page.Status)
	}
	contains(t, "reset page", page.Body, `<label for="password">`+text(i18n.T("ru", "label_password")),
		`<label for="password_confirm">`+text(i18n.T("ru", "label_password_confirm")))
	r2 = b.post("/recovery/reset", url.Values{"token": {c.Value}, "password": {newPassword}, "password_confirm": {newPassword}})
	if r2.Status != http.StatusSeeOther || r2.Location != "/login" {
		t.Fatalf("Сақтау: got %d to %q; body:\n%s", r2.Status, r2.Location, r2.Body)
	}
	newBrowser(t, e).signIn("7011234567", newPassword)
	if before.signedIn() {
		t.Error("a session from before the reset survived")
	}
	// The flow is over: the code step sends back to the number.
	r2 = b.post("/recovery/phone/verify", form(code))
	if r2.Status != http.StatusGone || hidden(r2.Body, "flow_id") != "" {
		t.Errorf("the used flow: got %d, flow %q, want 410 and the number field", r2.Status, hidden(r2.Body, "flow_id"))
	}
	if strings.Contains(e.Log.String(), c.Value) || strings.Contains(e.Log.String(), code) {
		t.Error("the reset token or the code is in the log")
	}
}

var flowPattern = regexp.MustCompile(`name="(flow_id|resend_at|phone)" value="[^"]*"`)

// flowless is a page with its flow id, resend time and number taken out.
func flowless(body string) string {
	return destless(flowPattern.ReplaceAllString(body, `name="$1" value=""`))
}

var destPattern = regexp.MustCompile(`<strong class="destination">[^<]*</strong>`)

// destless is a page with where its link or code went taken out: the masked address or
// number the person typed, the same whether or not it has an account.
func destless(body string) string {
	return destPattern.ReplaceAllString(body, `<strong class="destination"></strong>`)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

func TestChangePassword(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
	b, other := newBrowserIn(t, e, "en"), newBrowser(t, e)
	b.signIn("aigerim@mail.kz", goodPassword)
	other.signIn("aigerim@mail.kz", goodPassword)

	r := b.post("/account/password", url.Values{"current_password": {"Not-The-One-9"}, "password": {newPassword}, "password_confirm": {newPassword}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("wrong current password: got %d, want 403", r.Status)
	}
	contains(t, "wrong current password", r.Body, `id="current_password-errors"`, text(i18n.T("en", "current_password_incorrect")))
	r = b.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {goodPassword}, "password_confirm": {goodPassword}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("the current password again: got %d, want 422", r.Status)
	}
	contains(t, "reused", r.Body, `id="password-errors"`, text(i18n.T("en", "password_reused", "history", 6)))
	for _, secret := range []string{"Not-The-One-9", goodPassword, newPassword} {
		if strings.Contains(r.Body, secret) {
			t.Error("the page writes a password back")
		}
	}

	r = b.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {newPassword}, "password_confirm": {newPassword}})
	if r.Status != http.StatusSeeOther || r.Location != "/account" {
		t.Fatalf("change: got %d to %q; body:\n%s", r.Status, r.Location, r.Body)
	}
	page := b.follow(r)
	contains(t, "account after the change", page.Body, text(i18n.T("en", "flash_password_changed")), text(i18n.T("en", "event_password_changed")))
	if other.signedIn() {
		t.Error("another session survived the change")
	}
	if !b.signedIn() {
		t.Error("the session that changed the password was ended")
	}
	newBrowser(t, e).signIn("aigerim@mail.kz", newPassword)
}

func TestSignOut(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
	a, c := newBrowserIn(t, e, "en"), newBrowserIn(t, e, "en")
	a.signIn("aigerim@mail.kz", goodPassword)
	c.signIn("aigerim@mail.kz", goodPassword)

	if r := a.get("/logout"); r.Status != http.StatusOK || !strings.Contains(r.Body, `action="/logout"`) {
		t.Fatalf("GET /logout: got %d", r.Status)
	}
	if !a.signedIn() {
		t.Fatal("GET /logout signed out")
	}
	r := a.post("/logout", nil)
	if r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("sign out: got %d to %q", r.Status, r.Location)
	}
	contains(t, "after signing out", a.follow(r).Body, text(i18n.T("en", "flash_signed_out")))
	if a.signedIn() {
		t.Error("still signed in after signing out")
	}
	if !c.signedIn() {
		t.Error("signing out ended another session")
	}

	a.signIn("aigerim@mail.kz", goodPassword)
	r = c.post("/logout/everywhere", nil)
	if r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("sign out everywhere: got %d to %q", r.Status, r.Location)
	}
	contains(t, "after signing out everywhere", c.follow(r).Body, text(i18n.T("en", "flash_signed_out_everywhere")))
	if a.signedIn() || c.signedIn() {
		t.Error("a session survived signing out everywhere")
	}
	a.signIn("aigerim@mail.kz", goodPassword)
	contains(t, "activity", a.get("/account").Body, text(i18n.T("en", "event_session_revoked")), text(i18n.T("en", "event_sessions_revoked_all")))
	if r := newBrowser(t, e).post("/logout/everywhere", nil); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Errorf("signing out everywhere when signed out: got %d to %q, want 303 to /login", r.Status, r.Location)
	}
}

// checkSecretHeaders fails the test unless r is sent with no Referer and kept by no cache.
func checkSecretHeaders(t *testing.T, r *response) {
	t.Helper()
	if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
}

// TestCookiesOverHTTPS: behind an https base URL every cookie is Secure, the session and
// flash cookies are __Host- and the token cookie __Secure- (it is scoped to one path).
func TestCookiesOverHTTPS(t *testing.T) {
	e := kilttest.Start(t, "sqlite", map[string]string{"KILT_BASE_URL": "https://kilt.test"})
	addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
	b := newBrowser(t, e)
	r := b.post("/login", url.Values{"identifier": {"aigerim@mail.kz"}, "password": {goodPassword}})
	if c := r.cookie("__Host-kilt"); r.Status != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" {
		t.Errorf("session cookie over https: %d %+v", r.Status, c)
	}
	b.post("/recovery/email", url.Values{"email": {"aigerim@mail.kz"}})
	e.Deliver(t)
	mails := e.MailTo(t, "aigerim@mail.kz")
	if len(mails) != 1 {
		t.Fatalf("got %d mails, want 1", len(mails))
	}
	u, err := url.Parse(mails[0].Link("/recovery/reset?token="))
	if err != nil || u.Host != "kilt.test" {
		t.Fatalf("link %v", u)
	}
	r = b.get(u.RequestURI())
	if c := r.cookie("__Secure-kilt_reset"); c == nil || !c.Secure || !c.HttpOnly || c.Path != "/recovery/reset" {
		t.Errorf("token cookie over https: %+v", c)
	}
	r = b.post("/logout/everywhere", nil)
	if c := r.cookie("__Host-kilt_flash"); c == nil || !c.Secure || c.Path != "/" {
		t.Errorf("flash cookie over https: %+v", c)
	}
}

// TestSpentRegistrationCode: after the fifth wrong code the step offers a new code, not a
// sixth try; a code posted again anyway (a second tab, the back button) gets the same step,
// not "register again", and a new code after the cool-down completes the registration.
func TestSpentRegistrationCode(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	b := newBrowserIn(t, e, "en")
	r := b.post("/register", url.Values{"by": {"phone"}, "phone": {"8 747 123 45 67"}, "password": {goodPassword}, "password_confirm": {goodPassword}, "consent_version": {kilttest.ConsentVersion}})
	u, err := url.Parse(r.Location)
	if err != nil || u.Query().Get("id") == "" {
		t.Fatalf("register: got %d to %q", r.Status, r.Location)
	}
	id := u.Query().Get("id")
	code := e.LatestCode(t, "+77471234567")
	for range 5 {
		r = b.post("/register/verify", url.Values{"id": {id}, "code": {wrongCode(code)}})
	}
	if r.Status != http.StatusUnprocessableEntity || strings.Contains(r.Body, `id="code"`) {
		t.Fatalf("the fifth wrong code: got %d, field shown %v", r.Status, strings.Contains(r.Body, `id="code"`))
	}
	contains(t, "spent", r.Body, text(i18n.T("en", "code_spent")), `action="/register/resend"`)
	r = b.post("/register/verify", url.Values{"id": {id}, "code": {code}})
	if r.Status == http.StatusGone || strings.Contains(r.Body, `id="code"`) {
		t.Errorf("a sixth code: got %d, field shown %v, want the spent step", r.Status, strings.Contains(r.Body, `id="code"`))
	}
	contains(t, "a sixth code", r.Body, text(i18n.T("en", "code_spent")), `action="/register/resend"`)
	e.Clock.Advance(61 * time.Second)
	r = b.post("/register/resend", url.Values{"id": {id}})
	if r.Status != http.StatusSeeOther || r.Location != "/register/confirm?id="+id {
		t.Fatalf("a new code: got %d to %q", r.Status, r.Location)
	}
	r = b.post("/register/verify", url.Values{"id": {id}, "code": {e.LatestCode(t, "+77471234567")}})
	if r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("the new code: got %d to %q", r.Status, r.Location)
	}
}

// TestPausedRegistrationNumber: the pages call the one service, so ten wrong codes for a
// number across a resend pause it there too: the right code, a resend and a new
// registration of the number get the step or form again with the message, in the page's
// language, 429 with Retry-After, and no SMS goes out.
func TestPausedRegistrationNumber(t *testing.T) {
	for _, lang := range []string{"kk", "ru", "en"} {
		t.Run(lang, func(t *testing.T) {
			e := kilttest.Start(t, "sqlite", nil)
			b := newBrowserIn(t, e, lang)
			form := url.Values{"by": {"phone"}, "phone": {"8 747 123 45 67"}, "password": {goodPassword},
				"password_confirm": {goodPassword}, "consent_version": {kilttest.ConsentVersion}}
			r := b.post("/register", form)
			u, err := url.Parse(r.Location)
			if err != nil || u.Query().Get("id") == "" {
				t.Fatalf("register: got %d to %q", r.Status, r.Location)
			}
			id := u.Query().Get("id")
			for round := range 2 {
				code := e.LatestCode(t, "+77471234567")
				for range 5 {
					b.post("/register/verify", url.Values{"id": {id}, "code": {wrongCode(code)}})
				}
				if round == 0 {
					e.Clock.Advance(61 * time.Second)
					if r = b.post("/register/resend", url.Values{"id": {id}}); r.Status != http.StatusSeeOther {
						t.Fatalf("a new code: got %d", r.Status)
					}
				}
			}
			e.Deliver(t)
			sent := len(e.SMSTo("+77471234567"))
			paused := text(i18n.T(lang, "codes_paused"))
			r = b.post("/register/verify", url.Values{"id": {id}, "code": {e.LatestCode(t, "+77471234567")}})
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Errorf("the right code after ten wrong ones: got %d, Retry-After %q, want 429", r.Status, r.Header.Get("Retry-After"))
			}
			contains(t, "the right code while paused", r.Body, paused)
			e.Clock.Advance(61 * time.Second)
			r = b.post("/register/resend", url.Values{"id": {id}})
			if r.Status != http.StatusTooManyRequests {
				t.Errorf("a resend while paused: got %d to %q, want 429", r.Status, r.Location)
			}
			contains(t, "a resend while paused", r.Body, paused)
			r = b.post("/register", form)
			if r.Status != http.StatusTooManyRequests {
				t.Errorf("a new registration while paused: got %d to %q, want 429", r.Status, r.Location)
			}
			contains(t, "a new registration while paused", r.Body, paused)
			e.Deliver(t)
			if n := len(e.SMSTo("+77471234567")); n != sent {
				t.Errorf("%d SMS sent while paused", n-sent)
			}
		})
	}
}
