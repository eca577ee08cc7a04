package browser

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

// kk is a Kazakh catalog text.
func kk(key string, args ...any) string { return i18n.T("kk", key, args...) }

// TestFlows goes through every flow of the pages in Kazakh, as a person does in Chromium:
// once with JavaScript on and once with it off. Mails come from a real SMTP server and SMS
// from a real webhook gateway, both in the test.
func TestFlows(t *testing.T) {
	bctx := startBrowser(t)
	flows := []struct {
		name string
		run  func(t *testing.T, b *tab)
	}{
		{"registration by e-mail", registrationByEmail},
		{"registration by phone", registrationByPhone},
		{"recovery by e-mail", recoveryByEmail},
		{"recovery by phone", recoveryByPhone},
		{"eye toggle", eyeToggle},
		{"language switch", languageSwitch},
		{"policy violation", policyViolation},
	}
	for _, m := range modes {
		for _, f := range flows {
			t.Run(m.name+"/"+f.name, func(t *testing.T) {
				e := kilttest.Start(t, "sqlite", nil)
				b := newTab(t, bctx, e, m.js)
				f.run(t, b)
				b.checkScript()
			})
		}
	}
}

// fillRegistration fills the registration form the tab shows, e-mail or phone tab alike:
// the identifier (into whichever of the two fields the tab has), the password and its
// repeat. Every test that registers through the form does it here, so a field the form
// gains is filled in one place.
func (b *tab) fillRegistration(identifier, password, confirm string) {
	b.t.Helper()
	field := "email"
	if b.has("#phone") {
		field = "phone"
	}
	b.fill(field, identifier)
	b.fill("password", password)
	b.fill("password_confirm", confirm)
}

// checkScript fails the test unless the page's script ran exactly when JavaScript is on:
// it shows the eye toggles and only it, so a page with a password field tells.
func (b *tab) checkScript() {
	b.t.Helper()
	if !b.has("button.eye") {
		return
	}
	if got := b.shown("button.eye"); got != b.js {
		b.t.Errorf("%s: eye toggle shown %v with JavaScript on %v", b.path(), got, b.js)
	}
}

// registrationByEmail: the form, the link from the mail the SMTP server received (which
// leaves no token in the address bar), the password chosen at registration and «Растау»,
// then signing in.
func registrationByEmail(t *testing.T, b *tab) {
	b.expect("the registration page", b.open("/register"), 200, "/register")
	if got, want := b.text("h1"), kk("title_register"); got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if got, _ := b.attr(`nav.tabs a[aria-current="page"]`, "href"); got != "/register?by=email" && got != "/register" {
		t.Errorf("the current tab links to %q, want the e-mail tab", got)
	}
	b.fillRegistration("Dana@Mail.kz", goodPassword, goodPassword)
	b.checkScript()
	b.expect("«"+kk("button_register")+"»", b.press(kk("button_register")), 200, "/register/sent")
	b.contains("main", kk("register_email_sent"))

	link := b.e.LatestLink(t, "Dana@mail.kz", "/register/confirm?token=")
	b.expect("opening the mail's link", b.openLink(link), 200, "/register/confirm")
	b.checkNoToken(link)
	b.contains("main", kk("register_confirm_intro"))
	b.fill("password", goodPassword)
	b.expect("«"+kk("button_confirm")+"»", b.press(kk("button_confirm")), 200, "/login")
	b.contains("#messages", kk("flash_registered"))

	b.signIn("dana@mail.kz", goodPassword)
	b.contains("main", "Dana@mail.kz", kk("verified"))
}

// registrationByPhone: the phone tab, the code from the SMS the gateway received, then
// signing in with the number spelt another way.
func registrationByPhone(t *testing.T, b *tab) {
	b.expect("the registration page", b.open("/register"), 200, "/register")
	b.expect("the phone tab", b.follow(kk("register_by_phone")), 200, "/register?by=phone")
	if got, _ := b.attr(`nav.tabs a[aria-current="page"]`, "href"); got != "/register?by=phone" {
		t.Errorf("the current tab links to %q, want the phone tab", got)
	}
	b.fillRegistration("8 747 123 45 67", goodPassword, goodPassword)
	status := b.press(kk("button_register"))
	if u, err := url.Parse(b.path()); status != 200 || err != nil || u.Path != "/register/confirm" || u.Query().Get("id") == "" {
		t.Fatalf("«%s»: got %d at %s, want 200 at /register/confirm?id=…", kk("button_register"), status, b.path())
	}
	b.contains("main", kk("register_code_sent"))
	b.contains(`label[for="code"]`, "Растау коды")

	code := b.e.LatestCode(t, "+77471234567")
	b.fill("code", code)
	b.expect("«Жіберу»", b.press("Жіберу"), 200, "/login")
	b.contains("#messages", kk("flash_registered"))
	b.signIn("87471234567", goodPassword)
	// The account page writes the number in groups.
	if got := strings.ReplaceAll(b.text("dl.details"), " ", ""); !strings.Contains(got, "+77471234567"+kk("verified")) {
		t.Errorf("the account page shows %q, want the number, verified", b.text("dl.details"))
	}
}

// recoveryByEmail: from «Құпия сөзді ұмыттыңыз ба?» to «Жіберу», the neutral message, the
// mail's link (no token left in the address bar or history), «Сақтау», then the old password
// refused and the new one signing in.
func recoveryByEmail(t *testing.T, b *tab) {
	addAccount(t, b.e, "aigerim@mail.kz", "+77011234567", goodPassword)
	b.expect("the sign-in page", b.open("/login"), 200, "/login")
	// The manual's «Құпия сөзді ұмыттыңыз ба?» opens the e-mail form itself.
	b.expect("«Құпия сөзді ұмыттыңыз ба?»", b.follow("Құпия сөзді ұмыттыңыз ба?"), 200, "/recovery")
	b.fill("email", "Aigerim@MAIL.kz")
	b.expect("«Жіберу»", b.press("Жіберу"), 200, "/recovery/email/sent")
	b.contains("#messages", "Сіз көрсеткен e-mail-ге құпия сөзді қалпына келтіруге арналған қосымша нұсқаулық жіберілді")

	link := b.e.LatestLink(t, "aigerim@mail.kz", "/recovery/reset?token=")
	b.expect("opening the mail's link", b.openLink(link), 200, "/recovery/reset")
	b.checkNoToken(link)
	b.checkResetPage()
	b.fill("password", newPassword)
	b.fill("password_confirm", newPassword)
	b.expect("«Сақтау»", b.press("Сақтау"), 200, "/login")
	b.contains("#messages", kk("flash_password_reset"))

	b.checkOldPasswordRefused("aigerim@mail.kz")
	b.signIn("aigerim@mail.kz", newPassword)
}

// recoveryByPhone: «Кодты жіберу» shows the code field on the same screen, the SMS's code,
// «Жіберу», «Сақтау», then the old password refused and the new one signing in.
func recoveryByPhone(t *testing.T, b *tab) {
	addAccount(t, b.e, "", "+77011234567", goodPassword)
	b.expect("the recovery page", b.open("/recovery"), 200, "/recovery")
	b.expect("the phone tab", b.follow(kk("recovery_by_phone")), 200, "/recovery?by=phone")
	title := b.text("h1")
	b.fill("phone", "8 701 123 45 67")
	// The code field appears on the same screen, with the same title.
	b.expect("«Кодты жіберу»", b.press("Кодты жіберу"), 200, "/recovery/phone")
	if got := b.text("h1"); got != title {
		t.Errorf("title after «Кодты жіберу» %q, want %q", got, title)
	}
	b.contains("#messages", "Сіздің телефон нөміріңізге коды бар СМС жіберілді")
	b.contains(`label[for="code"]`, "Растау коды")
	if got, _ := b.attr("#code", "autocomplete"); got != "one-time-code" {
		t.Errorf("code field autocomplete %q, want one-time-code", got)
	}
	resend := `form.resend button[type="submit"]`
	if got := evaluate[bool](b, `document.querySelector(`+jsString(resend)+`).disabled`); got != b.js {
		t.Errorf("«%s» disabled during the cool-down: %v, want %v (the script counts down)", kk("button_resend"), got, b.js)
	}

	code := b.e.LatestCode(t, "+77011234567")
	b.fill("code", code)
	b.expect("«Жіберу»", b.press("Жіберу"), 200, "/recovery/reset")
	b.checkResetPage()
	b.fill("password", newPassword)
	b.fill("password_confirm", newPassword)
	b.expect("«Сақтау»", b.press("Сақтау"), 200, "/login")
	b.contains("#messages", kk("flash_password_reset"))

	b.checkOldPasswordRefused("87011234567")
	b.signIn("+7 701 123 45 67", newPassword)
}

// checkNoToken fails the test if the link's token shows in the address bar or in the tab's
// history after the link's page loaded.
func (b *tab) checkNoToken(link string) {
	b.t.Helper()
	u, err := url.Parse(link)
	tok := ""
	if err == nil {
		tok = u.Query().Get("token")
	}
	if tok == "" {
		b.t.Fatalf("link %q carries no token", link)
	}
	if strings.Contains(b.path(), tok) || strings.Contains(b.path(), "token") {
		b.t.Errorf("the address bar shows the token: %s", b.path())
	}
	h := run(b, "reading the tab's history", chromedp.NavigationEntries())
	for _, entry := range h.Entries {
		if strings.Contains(entry.URL, tok) {
			b.t.Errorf("the tab's history keeps the token: %s", entry.URL)
		}
	}
}

// checkResetPage fails the test unless the page is the manual's reset screen: «Құпия сөз»
// and «Құпия сөзді қайталау», each with its eye toggle (shown when JavaScript can run it),
// and «Сақтау».
func (b *tab) checkResetPage() {
	b.t.Helper()
	for id, label := range map[string]string{"password": "Құпия сөз", "password_confirm": "Құпия сөзді қайталау"} {
		if got := b.text(`label[for="` + id + `"]`); got != label {
			b.t.Errorf("the label of #%s says %q, want «%s»", id, got, label)
		}
		eye := `button.eye[aria-controls="` + id + `"]`
		if !b.has(eye) {
			b.t.Errorf("no eye toggle for #%s", id)
		} else if got := b.shown(eye); got != b.js {
			b.t.Errorf("the eye toggle of #%s shown %v with JavaScript on %v", id, got, b.js)
		}
	}
	if got := b.text("form.form button.primary"); got != "Сақтау" {
		b.t.Errorf("the form's button says %q, want «Сақтау»", got)
	}
}

// checkOldPasswordRefused fails the test unless signing in with goodPassword is refused.
func (b *tab) checkOldPasswordRefused(identifier string) {
	b.t.Helper()
	b.expect("the sign-in page", b.open("/login"), 200, "/login")
	b.fill("identifier", identifier)
	b.fill("password", goodPassword)
	b.expect("signing in with the old password", b.press("Кіру"), 401, "/login")
	b.contains("#messages", kk("invalid_credentials"))
}

// eyeToggle: with JavaScript, each password field's eye is a real button that shows and
// hides the password by mouse and by keyboard and says so with aria-pressed; without
// JavaScript it stays hidden and the field stays masked.
func eyeToggle(t *testing.T, b *tab) {
	b.expect("the registration page", b.open("/register"), 200, "/register")
	eye := `button.eye[aria-controls="password"]`
	b.fill("password", "Altyn-Orda-1465")
	state := func() (string, string) {
		typ, _ := b.attr("#password", "type")
		pressed, _ := b.attr(eye, "aria-pressed")
		return typ, pressed
	}
	check := func(what, wantType, wantPressed string) {
		t.Helper()
		if typ, pressed := state(); typ != wantType || pressed != wantPressed {
			t.Errorf("%s: type %q, aria-pressed %q; want %q and %q", what, typ, pressed, wantType, wantPressed)
		}
	}
	if !b.js {
		if b.shown(eye) {
			t.Fatal("the eye toggle shows without JavaScript, where it cannot work")
		}
		check("without JavaScript", "password", "false")
		return
	}
	if !b.shown(eye) {
		t.Fatal("the eye toggle is not shown")
	}
	if got, _ := b.attr(eye, "type"); got != "button" {
		t.Errorf("the eye toggle's type %q, want button (it must not submit the form)", got)
	}
	if got := b.text(eye + " .visually-hidden"); got != kk("show_label_password") {
		t.Errorf("the eye toggle's name %q, want %q", got, kk("show_label_password"))
	}
	check("at first", "password", "false")
	b.do("clicking the eye", chromedp.Click(chromedp.CSS(eye)))
	check("after a click", "text", "true")
	if got := evaluate[string](b, `document.getElementById("password").value`); got != "Altyn-Orda-1465" {
		t.Errorf("the shown field holds %q, want what was typed", got)
	}
	b.do("clicking the eye again", chromedp.Click(chromedp.CSS(eye)))
	check("after a second click", "password", "false")

	// Keyboard: Tab from the field reaches the eye; Space and Enter press it.
	b.do("focusing the field", chromedp.Focus(chromedp.ID("password")))
	b.do("pressing Tab", chromedp.KeyEvent(kb.Tab))
	if !evaluate[bool](b, `document.activeElement === document.querySelector(`+jsString(eye)+`)`) {
		t.Fatalf("Tab from the password field focuses %s, not the eye toggle",
			evaluate[string](b, `document.activeElement.outerHTML.slice(0, 120)`))
	}
	b.do("pressing Space", chromedp.KeyEvent(" "))
	check("after Space", "text", "true")
	b.do("pressing Enter", chromedp.KeyEvent(kb.Enter))
	check("after Enter", "password", "false")
	if got := b.path(); got != "/register" {
		t.Errorf("pressing the eye left the page for %s", got)
	}
}

// languageSwitch: kk → ru → en, each choice changing the labels and staying on the next
// pages, including one opened from the address bar.
func languageSwitch(t *testing.T, b *tab) {
	lang := func(want string, keys map[string]string) {
		t.Helper()
		if got, _ := b.attr("html", "lang"); got != want {
			t.Errorf("%s: <html lang=%q>, want %q", b.path(), got, want)
		}
		if got, _ := b.attr(`nav.langs [lang="`+want+`"]`, "aria-current"); got != "true" {
			t.Errorf("%s: the switch does not mark %s as current", b.path(), want)
		}
		for sel, key := range keys {
			if got, want := b.text(sel), i18n.T(want, key); got != want {
				t.Errorf("%s %s: got %q, want %q", b.path(), sel, got, want)
			}
		}
	}
	login := map[string]string{"h1": "title_login", `label[for="identifier"]`: "label_identifier", `label[for="password"]`: "label_password"}

	b.expect("the sign-in page", b.open("/login"), 200, "/login")
	lang("kk", login)
	b.expect("choosing Русский", b.clickTo(`nav.langs a[lang="ru"]`), 200, "/login?lang=ru")
	lang("ru", login)
	b.expect("the link to recovery", b.follow(i18n.T("ru", "link_forgot")), 200, "/recovery")
	lang("ru", map[string]string{"h1": "title_recovery"})
	b.expect("choosing English", b.clickTo(`nav.langs a[lang="en"]`), 200, "/recovery?lang=en")
	lang("en", map[string]string{"h1": "title_recovery", `label[for="email"]`: "label_email", "form.form button.primary": "button_send"})
	b.expect("the phone tab", b.clickTo(`nav.tabs a[href="/recovery?by=phone"]`), 200, "/recovery?by=phone")
	lang("en", map[string]string{"h1": "title_recovery", `label[for="phone"]`: "label_phone", "form.form button.primary": "button_send_code"})
	b.expect("the sign-in page from the address bar", b.open("/login"), 200, "/login")
	lang("en", login)
	b.expect("choosing Қазақша", b.clickTo(`nav.langs a[lang="kk"]`), 200, "/login?lang=kk")
	lang("kk", login)
	b.expect("the registration page", b.open("/register"), 200, "/register")
	lang("kk", map[string]string{"h1": "title_register"})
}

// policyViolation: a password the policy refuses is answered next to its field, tied to it
// for screen readers; the address stays and no password is written back.
func policyViolation(t *testing.T, b *tab) {
	b.expect("the registration page", b.open("/register"), 200, "/register")
	b.fillRegistration("zhanna@mail.kz", "Qw1!", "Qw1!")
	b.expect("«"+kk("button_register")+"» with a short password", b.press(kk("button_register")), 422, "/register")
	b.contains("#password-errors", kk("password_too_short", "min", 8))
	next := evaluate[bool](b, `document.getElementById("password-errors").closest(".field") === document.getElementById("password").closest(".field")`)
	if !next {
		t.Error("the message is not in the password field's box")
	}
	if got, _ := b.attr("#password", "aria-invalid"); got != "true" {
		t.Errorf("password aria-invalid %q, want true", got)
	}
	if got, _ := b.attr("#password", "aria-describedby"); !strings.Contains(" "+got+" ", " password-errors ") {
		t.Errorf("password aria-describedby %q does not name the messages", got)
	}
	b.contains("#error-summary", kk("password_too_short", "min", 8))
	// Without the script the checklist marks what the refused password met and did not, in
	// words; with it, the list follows the (now empty) field.
	state := func(rule string) string {
		v, _ := b.attr(`#password-rules li[data-rule="`+rule+`"]`, "data-state")
		return v
	}
	if b.js {
		if got := state("password_too_short"); got != "unchecked" {
			t.Errorf("with the script and an empty field, the length rule is %q", got)
		}
	} else {
		if got := state("password_too_short"); got != "unmet" {
			t.Errorf("the length rule is %q after a short password, want unmet", got)
		}
		if got := state("password_no_upper"); got != "met" {
			t.Errorf("the capital-letter rule is %q after «Qw1!», want met", got)
		}
		b.contains(`#password-rules li[data-rule="password_too_short"] .state`, kk("rule_unmet"))
	}
	if got, _ := b.attr(`#error-summary a[href="#password"]`, "href"); got != "#password" {
		t.Error("the error summary does not link to the field")
	}
	if got := evaluate[string](b, `document.getElementById("email").value`); got != "zhanna@mail.kz" {
		t.Errorf("the e-mail field holds %q, want it kept", got)
	}
	for _, id := range []string{"password", "password_confirm"} {
		if got := evaluate[string](b, `document.getElementById("`+id+`").value`); got != "" {
			t.Errorf("#%s holds %q: a password was written back", id, got)
		}
	}
	if b.js && !evaluate[bool](b, `document.activeElement === document.getElementById("error-summary")`) {
		t.Error("the focus is not on the error summary")
	}
}
