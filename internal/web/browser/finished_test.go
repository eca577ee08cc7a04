package browser

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

// TestFinishedPages proves issue 16's fixes as a citizen meets them, in Chromium with
// JavaScript on and off, in Kazakh and — through the language switch, which must keep each
// page's state — in Russian and English, with axe-core on every new state.
func TestFinishedPages(t *testing.T) {
	axePath, err := Axe()
	if err != nil {
		unavailable(t, err)
	}
	src, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatal(err)
	}
	axe := string(src)
	bctx := startBrowser(t)
	tests := []struct {
		name string
		run  func(t *testing.T, b *tab, axe string)
	}{
		{"recovery: the fifth wrong code", recoveryCodeSpent},
		{"registration by phone: the code step", registrationCodeStep},
		{"password rules", passwordRules},
		{"language switch keeps every page's state", languageKeepsState},
		{"language switch keeps what was typed", languageKeepsTyped},
		{"sent pages", sentPages},
		{"numbers that never get an SMS", smsNumbers},
		{"sign-in errors", signInErrors},
		{"account page", accountPage},
		{"error pages", errorPages},
		{"320 px at 200 % text", narrowScreen},
	}
	for _, m := range modes {
		for _, tt := range tests {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				e := kilttest.Start(t, "sqlite", nil)
				b := newTab(t, bctx, e, m.js)
				tt.run(t, b, axe)
				b.checkScript()
			})
		}
	}
}

// tr is a catalog text in lang.
func tr(lang, key string, args ...any) string { return i18n.T(lang, key, args...) }

// switchLang chooses lang with the switch in the header (a link, or a button where the
// page's state lives in its form) and fails the test unless the page comes back in it.
func (b *tab) switchLang(lang string) int64 {
	b.t.Helper()
	status := b.clickTo(`nav.langs [lang="` + lang + `"]`)
	if got, _ := b.attr("html", "lang"); got != lang {
		b.t.Fatalf("%s: after choosing %s the page is in %q", b.path(), lang, got)
	}
	return status
}

// wrong is a code that is not code.
func wrong(code string) string {
	d := (int(code[0]-'0') + 1) % 10
	return strconv.Itoa(d) + code[1:]
}

// disabled reports whether the element sel is a disabled control.
func (b *tab) disabled(sel string) bool {
	b.t.Helper()
	return evaluate[bool](b, `document.querySelector(`+jsString(sel)+`).disabled`)
}

const resendButton = `form.resend button[type="submit"]`

// recoveryCodeSpent: four wrong codes say how many are left; the fifth replaces the field by
// «Код енді жарамсыз» and an enabled «Кодты қайта жіберу» — in every language the switch
// shows — and a new code works.
func recoveryCodeSpent(t *testing.T, b *tab, axe string) {
	addAccount(t, b.e, "", "+77011234567", goodPassword)
	b.expect("the phone tab", b.open("/recovery?by=phone"), 200, "/recovery?by=phone")
	b.fill("phone", "8 701 123 45 67")
	b.expect("«Кодты жіберу»", b.press("Кодты жіберу"), 200, "/recovery/phone")
	// Where the code went and for how long.
	b.contains("p.sent", "+7 701 ••• •• 67", kk("link_change_phone"))
	if got, _ := b.attr("p.sent a", "href"); got != "/recovery?by=phone" {
		t.Errorf("the change link goes to %q", got)
	}
	b.contains("p.lifetime", kk("code_lifetime", "time", "5 минут"))
	b.contains("form.resend", kk("text_no_code"), kk("sms_help"), kk("button_resend"))
	checkAxe(b, axe)

	code := b.e.LatestCode(t, "+77011234567")
	for i := 1; i <= 4; i++ {
		b.fill("code", wrong(code))
		b.expect("a wrong code", b.press("Жіберу"), 422, "/recovery/phone/verify")
		b.contains("#code-errors", kk("code_invalid"), i18n.N("kk", "code_attempts_left", 5-i))
	}
	b.e.Clock.Advance(61 * time.Second)
	b.fill("code", wrong(code))
	b.expect("the fifth wrong code", b.press("Жіберу"), 422, "/recovery/phone/verify")
	checkSpent(t, b, "kk", false)
	checkAxe(b, axe)
	for _, lang := range []string{"ru", "en", "kk"} {
		b.expect("choosing "+lang, b.switchLang(lang), 200, "/recovery/phone/verify")
		checkSpent(t, b, lang, false)
	}
	b.expect("«Кодты қайта жіберу»", b.press(kk("button_resend")), 200, "/recovery/phone/resend")
	b.contains("#messages", kk("recovery_phone_sent"))
	fresh := b.e.LatestCode(t, "+77011234567")
	b.fill("code", fresh)
	b.expect("the new code", b.press("Жіберу"), 200, "/recovery/reset")
}

// checkSpent fails the test unless the code step says, in lang, that the code no longer
// works, without a field for a sixth try and without "0 attempts left", and offers a new code:
// with the seconds to wait while the cool-down lasts (the button disabled when the script
// can count them down), else at once.
func checkSpent(t *testing.T, b *tab, lang string, waiting bool) {
	t.Helper()
	if b.has("#code") {
		t.Errorf("%s: the code field is still there after the fifth wrong code", lang)
	}
	b.contains("main", tr(lang, "code_spent"))
	if got := b.text("main"); strings.Contains(got, i18n.N(lang, "code_attempts_left", 0)) {
		t.Errorf("%s: the page still says %q", lang, i18n.N(lang, "code_attempts_left", 0))
	}
	b.contains(resendButton, tr(lang, "button_resend"))
	if b.has("#resend-wait") != waiting {
		t.Errorf("%s: countdown shown %v, want %v", lang, b.has("#resend-wait"), waiting)
	}
	if waiting {
		n, err := strconv.Atoi(b.text("#resend-wait .seconds"))
		if err != nil || n <= 0 || n > 60 {
			t.Errorf("%s: the countdown shows %q seconds", lang, b.text("#resend-wait .seconds"))
		} else {
			b.contains("#resend-wait", i18n.N(lang, "resend_wait", n))
		}
	}
	if got, want := b.disabled(resendButton), waiting && b.js; got != want {
		t.Errorf("%s: «%s» disabled %v, want %v", lang, tr(lang, "button_resend"), got, want)
	}
}

// registrationCodeStep: registering by phone leads to a code step that is no dead end: the
// masked number with "wrong number?", the code's 10 minutes, «Кодты қайта жіберу» with its
// countdown, the way back; the fifth wrong code gives way to a new code, with the seconds
// to wait; after the cool-down a new code completes the registration.
func registrationCodeStep(t *testing.T, b *tab, axe string) {
	b.expect("registration by phone", b.open("/register?by=phone"), 200, "/register?by=phone")
	b.fillRegistration("8 747 123 45 67", goodPassword, goodPassword)
	status := b.press(kk("button_register"))
	step := b.path()
	if u, err := url.Parse(step); status != 200 || err != nil || u.Path != "/register/confirm" || u.Query().Get("id") == "" {
		t.Fatalf("registering: got %d at %s, want 200 at /register/confirm?id=…", status, step)
	}
	b.contains("#messages", kk("register_code_sent"))
	b.contains("p.sent", kk("sent_to"), "+7 747 ••• •• 67", kk("link_change_phone"))
	if got, _ := b.attr("p.sent a", "href"); got != "/register?by=phone" {
		t.Errorf("the change link goes to %q, want the phone tab", got)
	}
	b.contains("p.lifetime", kk("code_lifetime", "time", "10 минут"))
	b.contains("#resend-wait", i18n.N("kk", "resend_wait", 60))
	if got := b.disabled(resendButton); got != b.js {
		t.Errorf("«%s» disabled during the cool-down %v, want %v", kk("button_resend"), got, b.js)
	}
	if got, _ := b.attr(`main a[href="/register?by=phone"]:not(p.sent a)`, "href"); got == "" {
		t.Error("no way back to the registration form")
	}
	b.contains("main", kk("link_back_register"))
	checkAxe(b, axe)
	if !b.js {
		// Without the script the button is live: the server says how long to wait.
		b.expect("«Кодты қайта жіберу» too soon", b.press(kk("button_resend")), 429, "/register/resend")
		b.contains("#resend-wait", i18n.N("kk", "resend_wait", 60))
		if !b.has("#code") {
			t.Error("the code field went away with a resend asked too soon")
		}
	}

	code := b.e.LatestCode(t, "+77471234567")
	for i := 1; i <= 5; i++ {
		b.fill("code", wrong(code))
		b.expect("a wrong code", b.press("Жіберу"), 422, "/register/verify")
		if i < 5 {
			b.contains("#code-errors", kk("code_invalid"), i18n.N("kk", "code_attempts_left", 5-i))
		}
	}
	checkSpent(t, b, "kk", true)
	checkAxe(b, axe)

	b.e.Clock.Advance(61 * time.Second)
	b.expect("the code step again", b.open(step), 200, step)
	checkSpent(t, b, "kk", false)
	for _, lang := range []string{"ru", "en", "kk"} {
		b.switchLang(lang)
		if u, _ := url.Parse(b.path()); u.Query().Get("id") == "" {
			t.Fatalf("choosing %s lost the registration: %s", lang, b.path())
		}
		checkSpent(t, b, lang, false)
	}
	b.expect("«Кодты қайта жіберу»", b.press(kk("button_resend")), 200, step)
	if !b.has("#code") {
		t.Fatal("no code field after a new code")
	}
	b.fill("code", b.e.LatestCode(t, "+77471234567"))
	b.expect("the new code", b.press("Жіберу"), 200, "/login")
	b.contains("#messages", kk("flash_registered"))
}

// ruleTexts are the texts of the checklist under the new password, in order.
func (b *tab) ruleTexts() []string {
	b.t.Helper()
	return evaluate[[]string](b, `Array.from(document.querySelectorAll('#password-rules li .rule-text')).map(n => n.innerText.trim())`)
}

// passwordRules: the checklist says what a good password has, never an error; no history
// rule at registration (there is none) but one where there is; the match is told at the
// repeat field only; nothing is said "not met" before typing, and a screen reader is
// pointed at one summary, not nine rules; met, not met and "checked on saving" differ by
// more than colour.
func passwordRules(t *testing.T, b *tab, axe string) {
	for _, lang := range []string{"kk", "ru", "en"} {
		b.expect("registration", b.open("/register?lang="+lang), 200, "/register?lang="+lang)
		want := []string{tr(lang, "rule_password_too_short", "min", 8), tr(lang, "rule_password_no_upper"),
			tr(lang, "rule_password_no_lower"), tr(lang, "rule_password_no_digit"), tr(lang, "rule_password_no_special"),
			tr(lang, "rule_password_common"), tr(lang, "rule_password_contains_identifier")}
		if got := b.ruleTexts(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: the rules read\n%q\nwant\n%q", lang, got, want)
		}
	}
	b.expect("registration in Kazakh", b.open("/register?lang=kk"), 200, "/register?lang=kk")
	if got, _ := b.attr("#password", "aria-describedby"); got != "password-rules-status" {
		t.Errorf("the new password is described by %q, want the one-line summary", got)
	}
	if got := b.text("#password-rules"); strings.Contains(got, kk("rule_unmet")) || strings.Contains(got, kk("rule_met")) {
		t.Errorf("before typing the rules say %q", got)
	}
	if n := evaluate[int](b, `document.querySelectorAll('#password-rules li:not([data-state="unchecked"])').length`); n != 0 {
		t.Errorf("%d rules are marked before anything is typed", n)
	}
	if b.has(`#password-rules li[data-rule="password_mismatch"]`) || b.has(`#password-rules li[data-rule="password_reused"]`) {
		t.Error("the registration checklist holds the match or the history rule")
	}
	if b.text("#password-rules-status") != "" || b.text("#password_confirm-match") != "" {
		t.Error("the summary or the match speaks before anything is typed")
	}
	if b.js {
		b.fill("password", "abc")
		check := func(rule, state, word string) {
			t.Helper()
			li := `#password-rules li[data-rule="` + rule + `"]`
			if got, _ := b.attr(li, "data-state"); got != state {
				t.Errorf("%s: state %q, want %q", rule, got, state)
			}
			b.contains(li+" .state", word)
		}
		check("password_no_lower", "met", kk("rule_met"))
		check("password_too_short", "unmet", kk("rule_unmet"))
		check("password_common", "later", kk("rule_later"))
		marks := evaluate[[]string](b, `["met", "unmet", "later"].map(s => getComputedStyle(document.querySelector('#password-rules li[data-state="' + s + '"] .mark'), '::before').content)`)
		if marks[0] == marks[1] || marks[1] == marks[2] || marks[0] == marks[2] {
			t.Errorf("met, not met and later share a mark: %q", marks)
		}
		b.contains("#password-rules-status", kk("rules_summary", "met", 1, "total", 5))
		if got, _ := b.attr("#password-rules-status", "aria-live"); got != "polite" {
			t.Errorf("the summary is aria-live %q, want polite", got)
		}
		if b.text("#password_confirm-match") != "" {
			t.Error("the match is told before the repeat is typed")
		}
		b.fill("password_confirm", "ab")
		b.contains("#password_confirm-match", kk("passwords_differ"))
		b.fill("password_confirm", "c")
		b.contains("#password_confirm-match", kk("passwords_match"))
		checkAxe(b, axe)
	}
	// Where there is a history, the rule is there.
	addAccount(t, b.e, "rules@mail.kz", "", goodPassword)
	b.signIn("rules@mail.kz", goodPassword)
	if got := strings.Join(b.ruleTexts(), "|"); !strings.Contains(got, kk("rule_password_reused", "history", 6)) {
		t.Errorf("the change-password checklist %q lacks the history rule", got)
	}
}

// languageKeepsState: on every page that carries state — a token, a flow, a registration,
// where a link went — choosing another language shows the same page with the same state.
func languageKeepsState(t *testing.T, b *tab, axe string) {
	addAccount(t, b.e, "keep@mail.kz", "+77011234567", goodPassword)

	// The e-mail confirmation page: the token left the address bar; the switch posts it.
	b.expect("registration", b.open("/register"), 200, "/register")
	b.fillRegistration("aigul@mail.kz", goodPassword, goodPassword)
	b.expect("registering", b.press(kk("button_register")), 200, "/register/sent")
	b.expect("choosing Русский", b.switchLang("ru"), 200, "/register/sent?lang=ru")
	b.contains("p.sent", "a•••@mail.kz")
	b.expect("the confirmation link", b.openLink(b.e.LatestLink(t, "aigul@mail.kz", "/register/confirm?token=")), 200, "/register/confirm")
	for _, lang := range []string{"en", "kk", "ru"} {
		b.expect("choosing "+lang, b.switchLang(lang), 200, "/register/confirm")
		if v, _ := b.attr(`input[name="token"]`, "value"); v == "" || b.has("#error-summary") {
			t.Fatalf("%s: the confirmation page lost its token: %s", lang, b.text("main"))
		}
		b.contains("main", tr(lang, "register_confirm_intro"))
	}
	checkAxe(b, axe)
	b.fill("password", goodPassword)
	b.expect("«Подтвердить»", b.press(tr("ru", "button_confirm")), 200, "/login")
	b.contains("#messages", tr("ru", "flash_registered"))

	// The registration's code step: its id is in the address, and stays.
	b.expect("registration by phone", b.open("/register?by=phone&lang=kk"), 200, "/register?by=phone&lang=kk")
	b.expect("choosing English", b.switchLang("en"), 200, "/register?by=phone&lang=en")
	b.fillRegistration("8 747 123 45 67", goodPassword, goodPassword)
	b.press(tr("en", "button_register"))
	b.switchLang("kk")
	if u, _ := url.Parse(b.path()); u.Query().Get("id") == "" || !b.has("#code") {
		t.Fatalf("the code step lost its registration: %s", b.path())
	}

	// Recovery: where the link went; the code step's flow.
	b.expect("recovery", b.open("/recovery"), 200, "/recovery")
	b.fill("email", "keep@mail.kz")
	b.expect("«Жіберу»", b.press("Жіберу"), 200, "/recovery/email/sent")
	b.expect("choosing English", b.switchLang("en"), 200, "/recovery/email/sent?lang=en")
	b.contains("p.sent", "k•••@mail.kz")
	b.contains("#messages", tr("en", "recovery_email_sent"))
	reset := b.e.LatestLink(t, "keep@mail.kz", "/recovery/reset?token=")
	b.expect("the phone tab", b.open("/recovery?by=phone"), 200, "/recovery?by=phone")
	b.expect("choosing Русский", b.switchLang("ru"), 200, "/recovery?by=phone&lang=ru")
	b.fill("phone", "8 701 123 45 67")
	b.expect("«Отправить код»", b.press(tr("ru", "button_send_code")), 200, "/recovery/phone")
	flow, _ := b.attr(`input[name="flow_id"]`, "value")
	b.expect("choosing Қазақша", b.switchLang("kk"), 200, "/recovery/phone/verify")
	if got, _ := b.attr(`main input[name="flow_id"]`, "value"); got == "" || got != flow || !b.has("#code") {
		t.Fatalf("the code step lost its flow")
	}
	b.contains("p.sent", "+7 701 ••• •• 67")

	// The new password: its token.
	b.expect("the reset link", b.openLink(reset), 200, "/recovery/reset")
	b.expect("choosing Русский", b.switchLang("ru"), 200, "/recovery/reset")
	if v, _ := b.attr(`main input[name="token"]`, "value"); v == "" || !b.has("#password") {
		t.Fatal("the reset page lost its token")
	}
}

// sentPages: every "sent" page says where the link or code went (masked), with a way to
// change it, how long it lasts in natural units, and what to do when nothing comes.
func sentPages(t *testing.T, b *tab, axe string) {
	addAccount(t, b.e, "aigerim@mail.kz", "", goodPassword)
	b.expect("registration", b.open("/register"), 200, "/register")
	b.fillRegistration("nurlan@mail.kz", goodPassword, goodPassword)
	b.expect("registering", b.press(kk("button_register")), 200, "/register/sent")
	checkSent := func(lang, to, change, lifetime string) {
		t.Helper()
		b.contains("p.sent", tr(lang, "sent_to"), to, tr(lang, "link_change_email"))
		if got, _ := b.attr("p.sent a", "href"); got != change {
			t.Errorf("%s: the change link goes to %q, want %s", lang, got, change)
		}
		b.contains("p.lifetime", tr(lang, "link_lifetime", "time", lifetime))
		b.contains("div.help", tr(lang, "text_no_mail"), tr(lang, "mail_help"))
	}
	checkSent("kk", "n•••@mail.kz", "/register", "24 сағат")
	checkAxe(b, axe)
	b.switchLang("ru")
	checkSent("ru", "n•••@mail.kz", "/register", "24 часа")
	b.switchLang("en")
	checkSent("en", "n•••@mail.kz", "/register", "24 hours")

	b.expect("recovery", b.open("/recovery?lang=kk"), 200, "/recovery?lang=kk")
	b.fill("email", "aigerim@mail.kz")
	b.expect("«Жіберу»", b.press("Жіберу"), 200, "/recovery/email/sent")
	checkSent("kk", "a•••@mail.kz", "/recovery", "30 минут")
	checkAxe(b, axe)
	b.switchLang("ru")
	checkSent("ru", "a•••@mail.kz", "/recovery", "30 минут")
	b.switchLang("en")
	checkSent("en", "a•••@mail.kz", "/recovery", "30 minutes")
	b.contains("#messages", "sent to the e-mail address you entered")
	b.contains("div.help", "Didn't get the e-mail?")
}

// smsNumbers: a toll-free number is refused by recovery exactly as by registration — the
// same message next to the same field — instead of «an SMS was sent».
func smsNumbers(t *testing.T, b *tab, axe string) {
	const tollFree = "8 800 080 08 08"
	b.expect("the phone tab", b.open("/recovery?by=phone"), 200, "/recovery?by=phone")
	b.fill("phone", tollFree)
	b.expect("«Кодты жіберу» for a toll-free number", b.press("Кодты жіберу"), 400, "/recovery/phone")
	b.contains("#phone-errors", kk("phone_not_supported"))
	if got, _ := b.attr("#phone", "aria-invalid"); got != "true" {
		t.Errorf("the number field is aria-invalid %q", got)
	}
	if b.has("#code") || strings.Contains(b.text("main"), kk("recovery_phone_sent")) {
		t.Error("recovery says a code was sent to a toll-free number")
	}
	recovery := b.text("#phone-errors")
	checkAxe(b, axe)

	b.expect("registration by phone", b.open("/register?by=phone"), 200, "/register?by=phone")
	b.fillRegistration(tollFree, goodPassword, goodPassword)
	b.expect("registering a toll-free number", b.press(kk("button_register")), 400, "/register")
	if got := b.text("#phone-errors"); got != recovery {
		t.Errorf("registration says %q, recovery %q", got, recovery)
	}
}

// signInErrors: a malformed identifier is flagged on the one field /login has, with
// aria-invalid, and an empty password beside it; every link of the summary reaches a field;
// a slowed-down sign-in says the seconds and points to «Құпия сөзді ұмыттыңыз ба?».
func signInErrors(t *testing.T, b *tab, axe string) {
	addAccount(t, b.e, "slow@mail.kz", "", goodPassword)
	for _, lang := range []string{"ru", "en", "kk"} {
		b.expect("the sign-in page", b.open("/login?lang="+lang), 200, "/login?lang="+lang)
		b.fill("identifier", "slow@@mail")
		b.expect("signing in with a malformed identifier", b.press(tr(lang, "button_login")), 400, "/login")
		for _, id := range []string{"identifier", "password"} {
			if got, _ := b.attr("#"+id, "aria-invalid"); got != "true" {
				t.Errorf("%s: #%s aria-invalid %q, want true", lang, id, got)
			}
			if !b.has(`#error-summary a[href="#` + id + `"]`) {
				t.Errorf("%s: the summary does not link to #%s", lang, id)
			}
		}
		b.contains("#identifier-errors", tr(lang, "invalid_email"))
		b.contains("#password-errors", tr(lang, "password_required"))
		if dead := evaluate[[]string](b, `Array.from(document.querySelectorAll('#error-summary a[href^="#"]')).map(a => a.getAttribute('href')).filter(h => !document.getElementById(h.slice(1)))`); len(dead) > 0 {
			t.Errorf("%s: the summary links to fields that are not there: %q", lang, dead)
		}
	}
	checkAxe(b, axe)

	var status int64
	for range 7 {
		b.expect("the sign-in page", b.open("/login"), 200, "/login")
		b.fill("identifier", "slow@mail.kz")
		b.fill("password", "Wrong-Password-1")
		status = b.press("Кіру")
	}
	if status != 429 {
		t.Fatalf("after many failures: got %d, want 429", status)
	}
	m := regexp.MustCompile(`\d+`).FindString(b.text("#error-summary"))
	n, err := strconv.Atoi(m)
	if err != nil || n <= 0 {
		t.Fatalf("the slow-down says no seconds: %q", b.text("#error-summary"))
	}
	b.contains("#error-summary", i18n.N("kk", "login_throttled_wait", n))
	checkAxe(b, axe)
	b.expect("«Құпия сөзді ұмыттыңыз ба?» from the message", b.clickTo(`#error-summary a[href="/recovery"]`), 200, "/recovery")
}

// accountPage: someone else's attempt to register the account's e-mail is named so; times
// read without a UTC offset; the number is spelt as the hints spell it; the eye toggles
// have distinct names; the session buttons are one width on a phone and a desktop.
func accountPage(t *testing.T, b *tab, axe string) {
	addAccount(t, b.e, "owner@mail.kz", "+77011234567", goodPassword)
	b.expect("registration", b.open("/register"), 200, "/register")
	b.fillRegistration("owner@mail.kz", newPassword, newPassword)
	b.expect("someone registering the owner's e-mail", b.press(kk("button_register")), 200, "/register/sent")

	b.signIn("owner@mail.kz", goodPassword)
	b.contains("ol.activity", kk("event_registration_attempt"))
	if got := b.text("ol.activity"); strings.Contains(got, "UTC") || strings.Contains(got, kk("event_registration_requested")) {
		t.Errorf("the activity reads %q", got)
	}
	b.contains("ol.activity time", "2026 жылғы 25 қараша")
	b.switchLang("ru")
	b.contains("ol.activity", tr("ru", "event_registration_attempt"), "25 ноября 2026")
	b.switchLang("en")
	b.contains("ol.activity", tr("en", "event_registration_attempt"), "25 November 2026")
	b.switchLang("kk")
	b.contains("dl.details", "+7 701 123 45 67")
	// textContent: the channel forms' toggles sit in closed <details>, whose innerText is "".
	names := evaluate[[]string](b, `Array.from(document.querySelectorAll('button.eye .visually-hidden')).map(n => n.textContent)`)
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("two eye toggles are named %q", n)
		}
		seen[n] = true
	}
	// The change of password's three, the current password of each channel form (adding or
	// replacing the e-mail and the phone, removing either: both are verified), and the
	// deletion's.
	if len(names) != 8 {
		t.Errorf("%d eye toggles, want 8", len(names))
	}
	checkAxe(b, axe)
	for _, w := range []int64{360, 1280} {
		b.do("sizing the window", chromedp.EmulateViewport(w, 800))
		widths := evaluate[[]float64](b, `Array.from(document.querySelectorAll('.actions button')).map(b => b.getBoundingClientRect().width)`)
		// End the other sessions, sign out, sign out everywhere: one width.
		if len(widths) != 3 || slices.Max(widths)-slices.Min(widths) > 1 {
			t.Errorf("%d px: the session buttons are %v px wide", w, widths)
		}
	}
}

// errorPages: a dead link and an unknown address get headings of their own and ways on.
func errorPages(t *testing.T, b *tab, axe string) {
	for _, lang := range []string{"kk", "ru", "en"} {
		b.expect("an unknown address", b.open("/no-such-page?lang="+lang), 404, "/no-such-page?lang="+lang)
		b.contains("h1", tr(lang, "title_not_found"))
		b.contains("main", tr(lang, "not_found_text"))
		for _, href := range []string{"/login", "/register", "/recovery"} {
			if !b.has(`main a[href="` + href + `"]`) {
				t.Errorf("%s: the 404 page has no link to %s", lang, href)
			}
		}
	}
	checkAxe(b, axe)
	b.expect("the reset page without a link", b.open("/recovery/reset"), 410, "/recovery/reset")
	b.contains("h1", kk("title_link_invalid"))
	if strings.Contains(b.text("h1"), kk("title_reset")) {
		t.Errorf("the dead link's heading is %q", b.text("h1"))
	}
	checkAxe(b, axe)
	b.expect("the confirmation page without a link", b.open("/register/confirm"), 410, "/register/confirm")
	b.contains("h1", kk("title_registration_gone"))
	b.expect("a registration that is not there", b.open("/register/confirm?id=AAAAAAAAAAAAAAAAAAAAAA"), 410, "/register/confirm?id=AAAAAAAAAAAAAAAAAAAAAA")
	b.contains("h1", kk("title_registration_gone"))
	if !b.has(`main a[href="/register"]`) {
		t.Error("no way to register again")
	}
	checkAxe(b, axe)
}

// narrowScreen: at 320 CSS pixels with text at 200 %, the skip link covers nothing (and,
// focused, pushes the header down instead of covering the brand), tabs stay on one line,
// «e-mail» and «(A–Z)» are never split, and nothing scrolls sideways.
func narrowScreen(t *testing.T, b *tab, axe string) {
	b.do("sizing the window", chromedp.EmulateViewport(320, 640))
	big := func() {
		b.do("text at 200 %", chromedp.Evaluate[chromedp.Void](`document.documentElement.style.fontSize = "200%"`))
	}
	for _, path := range []string{"/register", "/register?by=phone", "/recovery", "/recovery?by=phone", "/login"} {
		for _, lang := range []string{"kk", "ru", "en"} {
			p := path + "?lang=" + lang
			if strings.Contains(path, "?") {
				p = path + "&lang=" + lang
			}
			b.expect("opening "+p, b.open(p), 200, p)
			big()
			overlap := `((a, b) => { const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
				return Math.min(r.right, s.right) - Math.max(r.left, s.left) > 1 && Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top) > 1; })
				(document.querySelector('.skip'), document.querySelector('.brand'))`
			if evaluate[bool](b, overlap) {
				t.Errorf("%s: the skip link covers the brand", p)
			}
			if b.has("nav.tabs") {
				if tops := evaluate[[]float64](b, `Array.from(document.querySelectorAll('nav.tabs li')).map(li => li.getBoundingClientRect().top)`); len(tops) != 2 || tops[0] != tops[1] {
					t.Errorf("%s: the tabs wrap: tops %v", p, tops)
				}
			}
			if split := evaluate[[]string](b, `Array.from(document.querySelectorAll('.nowrap')).filter(n => n.getClientRects().length > 1).map(n => n.innerText)`); len(split) > 0 {
				t.Errorf("%s: split across lines: %q", p, split)
			}
			if n := evaluate[int](b, `document.querySelectorAll('.nowrap').length`); n == 0 && lang != "ru" {
				t.Errorf("%s: no word is kept whole", p)
			}
			if w := evaluate[float64](b, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
				wide := evaluate[[]string](b, `Array.from(document.querySelectorAll('body *')).filter(n => n.getBoundingClientRect().right > window.innerWidth + 0.5 && n.children.length === 0).map(n => n.tagName + '.' + n.className + ': ' + (n.innerText || '').slice(0, 40))`)
				t.Errorf("%s: the page scrolls sideways by %v px: %q", p, w, wide)
			}
		}
	}
	b.expect("the sign-in page", b.open("/login"), 200, "/login")
	big()
	b.do("focusing the skip link", chromedp.Focus(chromedp.CSS(".skip")))
	if !evaluate[bool](b, `document.activeElement === document.querySelector('.skip')`) {
		t.Fatal("the skip link takes no focus")
	}
	if evaluate[bool](b, `((a, b) => { const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
		return Math.min(r.right, s.right) - Math.max(r.left, s.left) > 1 && Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top) > 1; })
		(document.querySelector('.skip'), document.querySelector('.brand'))`) {
		t.Error("the focused skip link covers the brand")
	}
	checkAxe(b, axe)
}
